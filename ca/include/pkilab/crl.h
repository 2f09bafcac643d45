/*
 * CRL signing. Output is DER so that large CRLs can be encoded in one pass
 * without an OpenSSL object per entry.
 */
#ifndef PKILAB_CRL_H
#define PKILAB_CRL_H

#include <openssl/x509.h>
#include "ptime.h"
#include "buf.h"

/* A CRL's thisUpdate lies this many seconds before the moment it is signed,
 * so a relying party whose clock is a little behind still takes it. A
 * revocation is dated back by the same amount when it is recorded: every
 * CRL signed afterwards has thisUpdate >= that date (RFC 5280 §5.1.2.4,
 * §5.1.2.6), so the date never needs clamping and stays the same in every
 * CRL, in `show` and in `list` (docs/crl-publication.md). */
#define PKL_CRL_BACKDATE 300

/* RFC 5280 §5.3.1 CRLReason values; -1 = no reasonCode extension. */
enum pkl_reason {
	PKL_REASON_NONE = -1,
	PKL_REASON_KEY_COMPROMISE = 1,
	PKL_REASON_CA_COMPROMISE = 2,
	PKL_REASON_AFFILIATION_CHANGED = 3,
	PKL_REASON_SUPERSEDED = 4,
	PKL_REASON_CESSATION_OF_OPERATION = 5,
	PKL_REASON_CERTIFICATE_HOLD = 6,
	PKL_REASON_PRIVILEGE_WITHDRAWN = 9,
	PKL_REASON_AA_COMPROMISE = 10,
};

struct pkl_crl_entry {
	unsigned char serial[20]; /* big-endian magnitude */
	size_t serial_len;
	pkl_time revoked_at;
	int reason;          /* enum pkl_reason */
	pkl_time invalidity; /* 0: no invalidityDate */
};

struct pkl_crl_req {
	pkl_time this_update;
	pkl_time next_update;
	unsigned char number[20]; /* CRLNumber, big-endian, positive */
	size_t number_len;
	const struct pkl_crl_entry *entries;
	size_t n_entries;
	const EVP_MD *md; /* NULL: the CA key's default */
};

/* Signs a v2 CRL: issuer = CA subject (byte-equal), AKI = CA SKI, CRLNumber,
 * nextUpdate always; revokedCertificates absent when empty. */
enum pkl_rc pkl_crl_sign(const struct pkl_crl_req *req, X509 *ca, EVP_PKEY *ca_key, struct pkl_buf *der_out,
			 struct pkl_err *err);

/* Name <-> code: "keyCompromise" etc. (RFC 5280 §5.3.1); "unspecified" and
 * "none" give PKL_REASON_NONE; returns -2 for unknown names. */
int pkl_reason_from_name(const char *name);
/* The RFC 5280 name; "unspecified" for PKL_REASON_NONE and 0, "unknown"
 * for codes outside the table. */
const char *pkl_reason_name(int reason);
/* As pkl_reason_name, but "none" for PKL_REASON_NONE: the label listings
 * and messages print for a revocation recorded without a reason. */
const char *pkl_reason_label(int reason);
/* NULL-terminated list of the reasons a revocation may record, in code
 * order (help text, suggestions). */
const char *const *pkl_reason_names(void);

#endif
