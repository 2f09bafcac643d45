/*
 * Certificates and CRLs built in-process for the lint/chain unit tests: each
 * test states exactly the defect it wants (an extension value, a time, a key)
 * instead of depending on the CA engine it is meant to judge independently.
 * Extensions are given in openssl's config syntax ("critical,CA:TRUE").
 */
#ifndef DOCTOR_FIXTURES_H
#define DOCTOR_FIXTURES_H

#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct fx_ext {
	int nid;
	const char *value;
};

static inline EVP_PKEY *fx_key(const char *spec)
{
	if (!strcmp(spec, "rsa1024"))
		return EVP_RSA_gen(1024);
	if (!strcmp(spec, "rsa2048"))
		return EVP_RSA_gen(2048);
	if (!strcmp(spec, "ed25519"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return EVP_EC_gen(spec); /* "P-256", "P-384", "P-521" */
}

/* A certificate for cn with key, signed by (issuer, ikey) or self-signed when
 * issuer is NULL (ikey then signs too). Validity from now+nb to now+na seconds.
 * exts end with {0, NULL}. serial 0 means a 16-byte random-looking one. */
static inline X509 *fx_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long nb, long na,
		     const struct fx_ext *exts, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;

	X509_set_version(x, 2);
	if (serial) {
		ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	} else {
		unsigned char s[16];
		BIGNUM *bn;
		for (int i = 0; i < 16; i++)
			s[i] = (unsigned char)(0x11 * (i + 1) + (unsigned)strlen(cn));
		s[0] &= 0x7f;
		bn = BN_bin2bn(s, 16, NULL);
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"pkilab Unit", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), nb);
	X509_gmtime_adj(X509_getm_notAfter(x), na);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; exts && exts[i].value; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
		if (e) {
			X509_add_ext(x, e, -1);
			X509_EXTENSION_free(e);
		}
	}
	X509_sign(x, ikey, EVP_PKEY_get_base_id(ikey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256());
	return x;
}

static const struct fx_ext FX_ROOT[] __attribute__((unused)) = {
	{ NID_basic_constraints, "critical,CA:TRUE" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ 0, NULL },
};
static const struct fx_ext FX_SUBCA[] __attribute__((unused)) = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_crl_distribution_points, "URI:http://127.0.0.1:8081/crl/root.crl" },
	{ NID_info_access, "caIssuers;URI:http://127.0.0.1:8081/aia/root.crt" },
	{ 0, NULL },
};
static const struct fx_ext FX_GATEWAY[] __attribute__((unused)) = {
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth,1.3.6.1.5.5.8.2.2,1.3.6.1.5.5.7.3.17" },
	{ NID_subject_alt_name, "DNS:vpn.unit.test,IP:192.0.2.10,DNS:192.0.2.10" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_crl_distribution_points, "URI:http://127.0.0.1:8081/crl/ca.crl" },
	{ NID_info_access, "caIssuers;URI:http://127.0.0.1:8081/aia/ca.crt" },
	{ 0, NULL },
};

#define FX_DAY 86400L

#endif
