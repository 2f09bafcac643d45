/*
 * Certification path building and checking for `pkilab doctor`.
 *
 * Building goes from the leaf up: the issuer of each certificate is looked up
 * among the trust anchors first, then the intermediates supplied, then - when
 * allowed and nothing else fits - fetched from the certificate's AIA
 * caIssuers URLs, as Windows does (CryptoAPI retrieves a missing issuer
 * from AIA, RFC 5280 4.2.2.1). Fetching is reported,
 * because strongSwan and Apple do not do it: a chain that only completes
 * through AIA works on Windows alone.
 *
 * Checking then judges every link at a given moment and reports each problem
 * under its stable code: chain.issuer_missing, chain.root_untrusted,
 * chain.root_expired, chain.bad_signature, chain.dn_mismatch,
 * chain.aki_mismatch, chain.not_ca, chain.path_len (self-issued certificates
 * not counted, RFC 5280 6.1.4(l)), chain.unknown_critical (RFC 5280 4.2),
 * chain.name_constraints (RFC 5280 4.2.1.10, 6.1.3(b)(c); pkilab/nameconstraints.h),
 * time.not_yet_valid (with the skew, and "probable clock drift" when it is
 * small), time.expired.
 */
#ifndef PKILAB_CHAIN_H
#define PKILAB_CHAIN_H

#include <openssl/x509.h>
#include "fetch.h"
#include "ptime.h"
#include "report.h"

#define PKL_CHAIN_MAX     8
#define PKL_CHAIN_URI_MAX 256
/* A certificate that starts within this much of the judged moment is most
 * likely a clock problem, not a certificate problem. */
#define PKL_CHAIN_DRIFT 3600

struct pkl_chain_opts {
	STACK_OF(X509) * pool;    /* intermediates offered (borrowed; may be NULL) */
	STACK_OF(X509) * anchors; /* trust anchors (borrowed; may be NULL) */
	int fetch_aia;            /* fetch a missing issuer from AIA caIssuers */
	const struct pkl_fetch_opts *fetch;
};

struct pkl_chain {
	X509 *certs[PKL_CHAIN_MAX];                          /* leaf first; each holds a reference */
	int fetched[PKL_CHAIN_MAX];                          /* certs[i] came from an AIA URL ... */
	char fetched_from[PKL_CHAIN_MAX][PKL_CHAIN_URI_MAX]; /* ... this one */
	size_t n;
	int complete; /* the last certificate is self-signed */
	int anchored; /* the last certificate is a trust anchor */
	int loop;     /* building stopped at PKL_CHAIN_MAX or a repeat */
};

/* Builds the path of leaf. Adds findings about AIA fetches (chain.issuer_fetched,
 * chain.aia_unreachable) to r. PKL_OK unless out of memory; an incomplete
 * path is not an error (pkl_chain_check reports it). Free with pkl_chain_free. */
enum pkl_rc pkl_chain_build(X509 *leaf, const struct pkl_chain_opts *o, struct pkl_chain *c,
			    struct pkl_report *r, struct pkl_err *err);
void pkl_chain_free(struct pkl_chain *c);

/* Checks every link of c at moment `at` (see the codes above). show_ok adds a
 * line for each check that passed. */
void pkl_chain_check(const struct pkl_chain *c, pkl_time at, int show_ok, struct pkl_report *r);

/* Whether a chain check failed (any chain.* or time.* failure in r). */
int pkl_chain_failed(const struct pkl_report *r);

/* Parses an AIA body: a DER certificate, a PEM certificate, or a certs-only
 * PKCS#7 (the first certificate). NULL if none. */
X509 *pkl_chain_parse_issuer(const unsigned char *data, size_t len);

/* Loads the certificate to diagnose from a PEM, DER or PKCS#12 file. The
 * first certificate is *leaf; any further ones (PEM bundle, PKCS#12 CA
 * certificates) are pushed onto extra (which must exist). password is used
 * for PKCS#12 only (NULL: try the empty password). *is_p12 tells which.
 * PKL_EINPUT with a one-line reason for garbage, a PEM without a certificate,
 * a PKCS#12 with a wrong or missing password. */
enum pkl_rc pkl_chain_load_input(const char *path, const char *password, X509 **leaf, STACK_OF(X509) * extra,
				 int *is_p12, struct pkl_err *err);

/* Appends every certificate of a PEM/DER file, or of every *.pem *.crt *.cer
 * *.der file of a directory, to out. PKL_EINPUT if none is found. */
enum pkl_rc pkl_chain_load_certs(const char *path, STACK_OF(X509) * out, struct pkl_err *err);

#endif
