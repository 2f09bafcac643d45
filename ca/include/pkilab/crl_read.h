/*
 * Reading CRLs: one DER walker of TBSCertList (RFC 5280 §5.1) and, on top
 * of OpenSSL's decoder, the checks a relying party applies.
 *
 * pkl_crl_walk() reads the fields of a TBSCertList straight from the DER
 * without decoding revokedCertificates, so the number and dates of a CRL
 * with a million entries cost microseconds; pkl_crl_read_entry() then reads
 * one entry at a time from the span it found. `pkilab crl` and the CRL
 * lints read the structure through these two; whether a published CRL is up
 * to date is crl_state.c's, on pkl_crlcheck_parse and _verify_parsed.
 *
 * CRL inspection: everything a relying party (or our own CDP server, or
 * `pkilab doctor`) wants to know about a DER CRL before trusting it.
 *
 * pkl_crlcheck_parse() only decodes; pkl_crlcheck_verify() also checks the
 * CRL against the certificate of the CA that should have issued it (issuer
 * DN byte-equal to the CA subject, AKI == CA SKI, signature, cRLSign, a CRL
 * number present and in range). Freshness against a clock is separate
 * (pkl_crlcheck_fresh) so that callers decide what "now" means and whether
 * an expired CRL is still worth reporting on. Every failure is a PKL_EINPUT
 * with a one-line reason (`bad signature`, `truncated DER: ...`, `wrong
 * issuer: ...`) so servers can log it and tools can print it.
 */
#ifndef PKILAB_CRL_READ_H
#define PKILAB_CRL_READ_H

#include <stddef.h>
#include <openssl/x509.h>
#include "crl.h"
#include "err.h"
#include "ptime.h"

/* What pkl_crl_walk found in a TBSCertList. The spans point into the DER
 * that was walked (NULL after pkl_crl_walk_file, which unmaps the file). */
struct pkl_crl_tbs {
	int has_version; /* the optional version INTEGER is present */
	long version;    /* its value (1 for v2); 0 when absent */
	pkl_time this_update;
	pkl_time next_update;      /* 0 if absent */
	int has_list;              /* revokedCertificates present (maybe empty) */
	int has_entries;           /* ... and not empty */
	const unsigned char *list; /* contents of revokedCertificates */
	size_t list_len;
	const unsigned char *exts; /* contents of crlExtensions [0] */
	size_t exts_len;
	unsigned char number[20]; /* CRLNumber, big-endian; number_len 0 if absent */
	size_t number_len;
};

/* Walks the TBSCertList of a DER CRL: version, thisUpdate, nextUpdate, the
 * span of revokedCertificates (skipped, not decoded) and the CRLNumber.
 * Does not check the signature. PKL_EINPUT "malformed CRL (N bytes)" when
 * the DER is not a CertificateList. */
enum pkl_rc pkl_crl_walk(const unsigned char *der, size_t len, struct pkl_crl_tbs *out, struct pkl_err *err);
/* The same for a file (memory-mapped). PKL_EINPUT when absent or malformed. */
enum pkl_rc pkl_crl_walk_file(const char *path, struct pkl_crl_tbs *out, struct pkl_err *err);

/* Reads the revokedCertificates entry at *p (before end): serial,
 * revocationDate, reasonCode (PKL_REASON_NONE when absent) and
 * invalidityDate (0 when absent); *p moves past it. PKL_EINPUT when the
 * entry is malformed or its serial longer than 20 octets. */
enum pkl_rc pkl_crl_read_entry(const unsigned char **p, const unsigned char *end, struct pkl_crl_entry *e,
			       struct pkl_err *err);

/* RFC 5280 §5.2.3: CRLNumber is at most 20 octets: < 2^159, 49 decimal digits. */
#define PKL_CRL_NUMBER_MAX 52

struct pkl_crlinfo {
	pkl_time this_update;
	pkl_time next_update;            /* 0: the CRL has none */
	char number[PKL_CRL_NUMBER_MAX]; /* decimal CRLNumber; "" when absent */
	long version;                    /* 1 for v2 (the encoded value) */
	size_t revoked;                  /* entries in revokedCertificates */
	size_t size;                     /* DER bytes */
	int has_aki;                     /* authorityKeyIdentifier with keyIdentifier */
	unsigned char aki[64];
	size_t aki_len;
	char issuer[512]; /* issuer DN, one line, for messages */
	int sig_nid;      /* signature algorithm */
};

/* Decodes a DER CRL (exactly len bytes: trailing data is an error) and fills
 * info. On success and when out is not NULL, *out receives the parsed CRL
 * (caller frees with X509_CRL_free). `where` names the source in errors. */
enum pkl_rc pkl_crlcheck_parse(const unsigned char *der, size_t len, const char *where,
			       struct pkl_crlinfo *info, X509_CRL **out, struct pkl_err *err);

/* Parses, then checks the CRL against the CA certificate: issuer DN
 * byte-equal to the CA's subject, AKI keyIdentifier == CA SKI (when the CA
 * has an SKI), the CA may sign CRLs (keyUsage cRLSign when keyUsage is
 * present), the signature verifies with the CA's public key, and a CRL
 * number is present. info is filled whenever parsing succeeded, even if a
 * later check failed, so a caller can still report on what it saw. */
enum pkl_rc pkl_crlcheck_verify(const unsigned char *der, size_t len, const char *where, X509 *ca,
				struct pkl_crlinfo *info, struct pkl_err *err);
/* The checks of pkl_crlcheck_verify on a CRL pkl_crlcheck_parse already
 * decoded (crl and its info), so a caller that keeps the CRL to look
 * serials up in decodes it once. */
enum pkl_rc pkl_crlcheck_verify_parsed(X509_CRL *crl, const struct pkl_crlinfo *info, const char *where,
				       X509 *ca, struct pkl_err *err);

/* Time checks: PKL_EINPUT "expired ..." when nextUpdate <= now, "no
 * nextUpdate" when absent, "not yet valid ..." when thisUpdate > now + skew. */
enum pkl_rc pkl_crlcheck_fresh(const struct pkl_crlinfo *info, pkl_time now, int64_t skew, const char *where,
			       struct pkl_err *err);

/* Compares two decimal CRL numbers of any length (leading zeros ignored):
 * <0, 0, >0 like strcmp. An empty or non-decimal string sorts below every
 * number, so a CRL without a number never wins against one with. */
int pkl_crlcheck_number_cmp(const char *a, const char *b);

#endif
