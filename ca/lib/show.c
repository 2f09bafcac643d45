/*
 * The certificate half of `pkilab show` (see pkilab/show.h): everything is
 * read from the DER here, so the command needs no OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "pkilab/cert.h"
#include "pkilab/name.h"
#include "pkilab/show.h"

static void hexstr(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o + 4 < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%02X", i ? ":" : "", p[i]);
}

/* keyUsage bit names (RFC 5280 §4.2.1.3), in bit order. */
static const struct {
	uint32_t bit;
	const char *name;
} kus[] = {
	{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
	{ KU_NON_REPUDIATION, "nonRepudiation" },
	{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
	{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
	{ KU_KEY_AGREEMENT, "keyAgreement" },
	{ KU_KEY_CERT_SIGN, "keyCertSign" },
	{ KU_CRL_SIGN, "cRLSign" },
	{ KU_ENCIPHER_ONLY, "encipherOnly" },
	{ KU_DECIPHER_ONLY, "decipherOnly" },
};

static int read_eku(X509 *x, struct pkl_show_cert *c)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	int ok = 1;
	char buf[256];

	for (int i = 0; eku && ok && i < sk_ASN1_OBJECT_num(eku); i++) {
		char **v = realloc(c->eku, (c->n_eku + 1) * sizeof(*v));
		ok = v != NULL;
		if (ok) {
			c->eku = v;
			OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 1);
			ok = (c->eku[c->n_eku] = strdup(pkl_eku_name(buf))) != NULL;
			c->n_eku += (size_t)ok;
		}
	}
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}

enum pkl_rc pkl_show_cert_read(const unsigned char *der, size_t len, const char *label,
			       struct pkl_show_cert *out, struct pkl_err *err)
{
	struct pkl_show_cert c = { 0 };
	X509 *x = pkl_cert_from_der(der, len, label, err);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const ASN1_OCTET_STRING *ski;
	EVP_PKEY *pk;
	enum pkl_rc rc = PKL_OK;

	memset(out, 0, sizeof(*out));
	if (!x)
		return err && err->rc ? err->rc : PKL_ERUNTIME;
	c.issuer_dn = pkl_name_str(X509_get_issuer_name(x));
	if (!c.issuer_dn)
		c.issuer_dn = strdup("");
	if (!c.issuer_dn || !read_eku(x, &c)) {
		rc = pkl_err_set(err, PKL_ERUNTIME, label, "out of memory");
		goto out;
	}
	if ((rc = pkl_certread_san(x, &c.san, err)) != PKL_OK ||
	    (rc = pkl_certread_cdp(x, &c.cdp, err)) != PKL_OK ||
	    (rc = pkl_certread_aia(x, PKL_AIA_CA_ISSUERS, &c.ca_issuers, err)) != PKL_OK)
		goto out;
	if (X509_get_extension_flags(x) & EXFLAG_KUSAGE)
		for (size_t i = 0; i < sizeof(kus) / sizeof(kus[0]); i++)
			if (X509_get_key_usage(x) & kus[i].bit)
				c.key_usage[c.n_key_usage++] = kus[i].name;
	if ((ski = X509_get0_subject_key_id(x))) {
		c.has_subject_key_id = 1;
		hexstr(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski), c.subject_key_id,
		       sizeof(c.subject_key_id));
	}
	if ((pk = X509_get0_pubkey(x)))
		snprintf(c.public_key, sizeof(c.public_key), "%s %d bits", EVP_PKEY_get0_type_name(pk),
			 EVP_PKEY_get_bits(pk));
	if (X509_digest(x, EVP_sha256(), md, &mdlen))
		hexstr(md, mdlen, c.sha256, sizeof(c.sha256));
	if (X509_digest(x, EVP_sha1(), md, &mdlen)) /* Windows shows the SHA-1 thumbprint */
		hexstr(md, mdlen, c.sha1, sizeof(c.sha1));
out:
	X509_free(x);
	if (rc == PKL_OK)
		*out = c;
	else
		pkl_show_cert_free(&c);
	return rc;
}

void pkl_show_cert_free(struct pkl_show_cert *c)
{
	if (!c)
		return;
	free(c->issuer_dn);
	for (size_t i = 0; i < c->n_eku; i++)
		free(c->eku[i]);
	free(c->eku);
	pkl_certread_names_free(&c->san);
	pkl_certread_names_free(&c->cdp);
	pkl_certread_names_free(&c->ca_issuers);
	memset(c, 0, sizeof(*c));
}

enum pkl_rc pkl_show_cert_pem(const unsigned char *der, size_t len, const char *label, struct pkl_buf *out,
			      struct pkl_err *err)
{
	X509 *x = pkl_cert_from_der(der, len, label, err);
	enum pkl_rc rc;

	if (!x)
		return err && err->rc ? err->rc : PKL_ERUNTIME;
	rc = pkl_cert_to_pem(x, out, err);
	X509_free(x);
	return rc;
}
