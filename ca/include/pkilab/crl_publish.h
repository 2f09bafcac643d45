/*
 * CRL numbering and publication, on top of the CA database.
 *
 * Publishing a CRL reads the revoked rows of one CA, signs a v2 CRL with
 * pkl_crl_sign and stages it into publish/crl/<ca>.crl through a pkl_txn, so
 * the file and the `cas` row (number, thisUpdate, nextUpdate) change
 * together or not at all. Every CRL passes pkl_crl_selfcheck, the check
 * pkilab-cdpd applies, before it is committed.
 *
 * CRL numbers are strictly increasing per CA and never reused, even after the
 * database is restored from an older backup: the next number is the largest
 * of (stored counter + 1), (number of the CRL currently in publish/ + 1) and
 * the current wall-clock time in milliseconds (RFC 5280 §5.2.3: "monotonically
 * increasing"; docs/crl-publication.md).
 */
#ifndef PKILAB_CRL_PUBLISH_H
#define PKILAB_CRL_PUBLISH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "crl.h"
#include "db.h"
#include "pki.h"

/* The result of publishing (or skipping) one CA's CRL. */
struct pkl_crl_info {
	char ca[PKL_NAME_MAX];
	int signed_now;  /* 0: skipped because not due (--due) */
	char number[64]; /* decimal CRLNumber of the CRL now in publish/ */
	pkl_time this_update, next_update;
	size_t n_entries;
	size_t der_len;
	char path[PATH_MAX]; /* publish/crl/<ca>.crl */
};

/* pkl_crl_publish flags. */
#define PKL_PUBLISH_DUE 1 /* only when due (below) */
/* Sign even when the clock is behind the thisUpdate of the CRL in force. */
#define PKL_PUBLISH_ALLOW_CLOCK_BEHIND 2

/* Signs and publishes the CRL of ca. With PKL_PUBLISH_DUE only when the CRL
 * in publish/ is not up to date (pkl_crl_state_judge, pkilab/crl_state.h:
 * missing, unreadable, not signed by the CA's current key, dated in the
 * future, expired, missing a recorded revocation, or past half its
 * lifetime, docs/crl-publication.md). Refused (PKL_EINPUT, naming both times) when the new thisUpdate
 * would be earlier than the current CRL's, unless
 * PKL_PUBLISH_ALLOW_CLOCK_BEHIND. The CA certificate is checked first
 * (pkl_pki_load_ca_cert) and the signed CRL passes pkl_crl_selfcheck before
 * it is committed. */
enum pkl_rc pkl_crl_publish(struct pkl_pki *pki, const char *ca, int flags, struct pkl_crl_info *info,
			    struct pkl_err *err);

/* pkl_crl_publish inside a transaction the caller holds, at `now`: the CRL
 * and the CA's row are staged in txn, which the caller commits together with
 * whatever else it changed (build --apply re-issues certificates, revokes
 * the ones they replace and re-signs their CAs' CRLs at once). When the CRL
 * is not due (info->signed_now 0) nothing is staged. */
enum pkl_rc pkl_crl_publish_in(struct pkl_txn *txn, struct pkl_pki *pki, const char *ca, int flags,
			       pkl_time now, struct pkl_crl_info *info, struct pkl_err *err);

/* Calls pkl_crl_publish for every CA (in issue order); fn receives each
 * result. Stops at the first failure. */
typedef void (*pkl_crl_publish_fn)(const struct pkl_crl_info *info, void *cls);
enum pkl_rc pkl_crl_publish_all(struct pkl_pki *pki, int flags, pkl_crl_publish_fn fn, void *cls,
				struct pkl_err *err);

/* The first CRL of a CA being issued: empty, numbered from `now`
 * (pkl_crl_number_from_time), thisUpdate back-dated 5 minutes, nextUpdate
 * lifetime later, and self-checked. Appends the DER to der and fills the
 * crl_number, crl_this_update and crl_next_update of st; the caller stages
 * both (issue.c does, in the issuing transaction). */
enum pkl_rc pkl_crl_publish_first(X509 *ca, EVP_PKEY *ca_key, pkl_time now, int64_t lifetime,
				  const char *where, struct pkl_buf *der, struct pkl_ca_state *st,
				  struct pkl_err *err);

/* The check pkilab-cdpd applies to a CRL before serving it
 * (pkl_crlcheck_verify against ca, then pkl_crlcheck_fresh at now, no skew):
 * PKL_ERUNTIME "the CRL just signed fails ..." when it does not pass. */
enum pkl_rc pkl_crl_selfcheck(const struct pkl_buf *der, X509 *ca, const char *where, pkl_time now,
			      struct pkl_err *err);

/* The next CRL number from the three sources (decimal strings, "" = none;
 * published may be NULL). Writes the decimal result to out. */
enum pkl_rc pkl_crl_next_number(const char *stored, const unsigned char *published, size_t published_len,
				uint64_t now_ms, char *out, size_t outlen, struct pkl_err *err);

/* A CRL number for `now`: milliseconds since the epoch (the sub-second part
 * from the real clock), 8 octets big-endian, so numbers grow with time even
 * across database restores. */
void pkl_crl_number_from_time(pkl_time now_s, unsigned char out[8]);

#endif
