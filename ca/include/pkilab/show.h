/*
 * What `pkilab show` prints about a certificate itself, read from its DER:
 * the names, usages, URIs, key and fingerprints as text, so the command
 * only arranges them.
 */
#ifndef PKILAB_SHOW_H
#define PKILAB_SHOW_H

#include <stddef.h>
#include "buf.h"
#include "certread.h"
#include "err.h"

struct pkl_show_cert {
	char *issuer_dn;               /* "" when the name cannot be printed */
	struct pkl_certread_names san; /* printed with prefixes ("DNS:x") */
	const char *key_usage[9];      /* RFC 5280 §4.2.1.3 bit names, in bit order */
	size_t n_key_usage;
	char **eku; /* short names or dotted OIDs (RFC 5280 §4.2.1.12) */
	size_t n_eku;
	struct pkl_certread_names cdp;        /* URIs, printed bare */
	struct pkl_certread_names ca_issuers; /* AIA caIssuers URIs, raw */
	int has_subject_key_id;
	char subject_key_id[256];    /* colon hex */
	char public_key[256];        /* "EC 256 bits"; "" when absent */
	char sha256[256], sha1[256]; /* colon hex fingerprints; "" when not computed */
};

/* Reads the certificate in der (label names it in errors) into *out. On
 * failure *out is empty. Release with pkl_show_cert_free(). */
enum pkl_rc pkl_show_cert_read(const unsigned char *der, size_t len, const char *label,
			       struct pkl_show_cert *out, struct pkl_err *err);
void pkl_show_cert_free(struct pkl_show_cert *c);
/* The certificate in der as PEM, into out (as pkl_cert_to_pem). */
enum pkl_rc pkl_show_cert_pem(const unsigned char *der, size_t len, const char *label, struct pkl_buf *out,
			      struct pkl_err *err);

#endif
