/*
 * Revocation records and CRL publication, on top of the CA database.
 *
 * A revocation is one row update in `certs` (status, revoked_at, reason,
 * invalidity) and one audit event, in one transaction. Publishing a CRL reads
 * the revoked rows of one CA, signs a v2 CRL with pkl_crl_sign and stages it
 * into publish/crl/<ca>.crl through a pkl_txn, so the file and the `cas` row
 * (number, thisUpdate, nextUpdate) change together or not at all.
 *
 * CRL numbers are strictly increasing per CA and never reused, even after the
 * database is restored from an older backup: the next number is the largest
 * of (stored counter + 1), (number of the CRL currently in publish/ + 1) and
 * the current wall-clock time in milliseconds (standards #56).
 */
#ifndef PKILAB_REVOKE_H
#define PKILAB_REVOKE_H

#include <stddef.h>
#include "crl.h"
#include "db.h"
#include "pki.h"

/* Parses a reason by its RFC 5280 name ("keyCompromise", ...). Refuses
 * "unspecified" (omit the reason instead, standards #58) and "removeFromCRL"
 * (delta CRLs only) and value 7. *warn is set for certificateHold, which
 * strongSwan treats as revoked (standards #58, #97). PKL_EINPUT otherwise. */
enum pkl_rc pkl_revoke_reason_parse(const char *s, int *out, int *warn, struct pkl_err *err);
/* NULL-terminated list of the accepted names (help text, suggestions). */
const char *const *pkl_revoke_reason_names(void);

/* Checks that a NAME|SERIAL argument is either a plausible certificate name
 * or a serial in hex syntax ("0x..", colons allowed); PKL_EINPUT otherwise. */
enum pkl_rc pkl_revoke_check_ref(const char *ref, struct pkl_err *err);

struct pkl_revoke_req {
	const char *ref;     /* NAME or SERIAL */
	int reason;          /* enum pkl_reason; PKL_REASON_NONE: no reasonCode */
	pkl_time at;         /* revocation time; 0: now */
	pkl_time invalidity; /* 0: none */
	int allow_ca;        /* revoking an intermediate CA needs this explicitly */
};

/* Records one revocation in one transaction. Revoking twice, an unknown
 * reference, a root, or a CA without allow_ca are PKL_EINPUT and change
 * nothing. On success *row (may be NULL) receives the revoked row. */
enum pkl_rc pkl_revoke_cert(struct pkl_pki *pki, const struct pkl_revoke_req *req,
			    struct pkl_cert_row *row, struct pkl_err *err);

/* What the scan of a DER CRL found (pkl_revoke_crl_scan). */
struct pkl_crl_scan {
	unsigned char number[20]; /* CRLNumber, big-endian; number_len 0 if absent */
	size_t number_len;
	pkl_time this_update, next_update; /* next_update 0 if absent */
	int has_entries;          /* revokedCertificates present */
};

/* Reads CRLNumber, thisUpdate and nextUpdate from a DER CRL without decoding
 * its entries, so a CRL with a million entries costs microseconds. Does not
 * check the signature. PKL_EINPUT when the DER is malformed. */
enum pkl_rc pkl_revoke_crl_scan(const unsigned char *der, size_t len, struct pkl_crl_scan *out,
				struct pkl_err *err);
/* The same for a file (memory-mapped). PKL_EINPUT when absent or malformed. */
enum pkl_rc pkl_revoke_crl_scan_file(const char *path, struct pkl_crl_scan *out,
				     struct pkl_err *err);

/* The result of publishing (or skipping) one CA's CRL. */
struct pkl_crl_info {
	char ca[PKL_NAME_MAX];
	int signed_now;        /* 0: skipped because not due (--due) */
	char number[64];       /* decimal CRLNumber of the CRL now in publish/ */
	pkl_time this_update, next_update;
	size_t n_entries;
	size_t der_len;
	char path[PATH_MAX];   /* publish/crl/<ca>.crl */
};

/* pkl_revoke_publish flags. */
#define PKL_PUBLISH_DUE 1                /* only when due (below) */
#define PKL_PUBLISH_ALLOW_CLOCK_BEHIND 2 /* sign even when the clock is behind
					    the thisUpdate of the CRL in force */

/* Signs and publishes the CRL of ca. With PKL_PUBLISH_DUE: a CRL is due when
 * it is missing or unreadable, when more than half of its lifetime has passed
 * (standards #62), or when revocations were recorded since it was signed.
 * Refused (PKL_EINPUT, naming both times) when the new thisUpdate would be
 * earlier than the current CRL's, unless PKL_PUBLISH_ALLOW_CLOCK_BEHIND.
 * The CA certificate is checked first (pkl_pki_load_ca_cert) and the signed
 * CRL passes pkl_revoke_crl_selfcheck before it is committed. */
enum pkl_rc pkl_revoke_publish(struct pkl_pki *pki, const char *ca, int flags,
			       struct pkl_crl_info *info, struct pkl_err *err);

/* The check pkilab-cdpd applies to a CRL before serving it
 * (pkl_crlcheck_verify against ca, then pkl_crlcheck_fresh at now, no skew):
 * PKL_ERUNTIME "the CRL just signed fails ..." when it does not pass. */
enum pkl_rc pkl_revoke_crl_selfcheck(const struct pkl_buf *der, X509 *ca, const char *where,
				     pkl_time now, struct pkl_err *err);

/* Calls pkl_revoke_publish for every CA (in issue order); fn receives each
 * result. Stops at the first failure. */
typedef void (*pkl_revoke_publish_fn)(const struct pkl_crl_info *info, void *cls);
enum pkl_rc pkl_revoke_publish_all(struct pkl_pki *pki, int flags, pkl_revoke_publish_fn fn,
				   void *cls, struct pkl_err *err);

/* The next CRL number from the three sources (decimal strings, "" = none;
 * published may be NULL). Writes the decimal result to out. */
enum pkl_rc pkl_revoke_next_number(const char *stored, const unsigned char *published,
				   size_t published_len, uint64_t now_ms, char *out, size_t outlen,
				   struct pkl_err *err);

#endif
