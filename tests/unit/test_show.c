/* Unit tests: what `pkilab show` reads from a certificate (ca/lib/show.c):
 * names, usages, URIs, key and fingerprints, from DER built here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "pkilab/show.h"

static void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A self-signed P-256 certificate as DER; with_ext adds every extension
 * show prints. */
static size_t make_der(int with_ext, unsigned char **der)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int len;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"show.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	if (with_ext) {
		add_ext(x, NID_subject_alt_name, "DNS:show.test,IP:192.0.2.5,email:a@show.test");
		add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign");
		add_ext(x, NID_ext_key_usage, "serverAuth,1.3.6.1.5.5.8.2.2,1.2.3.4");
		add_ext(x, NID_crl_distribution_points, "URI:http://c.test/1.crl,URI:http://c.test/2.crl");
		add_ext(x, NID_info_access, "caIssuers;URI:http://c.test/ca.crt,OCSP;URI:http://o.test/");
		add_ext(x, NID_subject_key_identifier, "hash");
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	*der = NULL;
	len = i2d_X509(x, der);
	assert_true(len > 0);
	X509_free(x);
	EVP_PKEY_free(k);
	return (size_t)len;
}

static void every_field(void **state)
{
	unsigned char *der;
	size_t len = make_der(1, &der);
	struct pkl_show_cert c;
	char buf[128];

	(void)state;
	assert_int_equal(pkl_show_cert_read(der, len, "t", &c, NULL), PKL_OK);
	assert_string_equal(c.issuer_dn, "CN=show.test");
	assert_int_equal(c.san.n, 3);
	pkl_certread_name_text(&c.san.v[1], 1, buf, sizeof(buf));
	assert_string_equal(buf, "IP:192.0.2.5");
	assert_int_equal(c.n_key_usage, 2);
	assert_string_equal(c.key_usage[0], "digitalSignature");
	assert_string_equal(c.key_usage[1], "keyCertSign");
	assert_int_equal(c.n_eku, 3);
	assert_string_equal(c.eku[0], "serverAuth");
	assert_string_equal(c.eku[1], "ikeIntermediate");
	assert_string_equal(c.eku[2], "1.2.3.4");
	assert_int_equal(c.cdp.n, 2);
	assert_string_equal((char *)c.cdp.v[1].data, "http://c.test/2.crl");
	assert_int_equal(c.ca_issuers.n, 1);
	assert_string_equal((char *)c.ca_issuers.v[0].data, "http://c.test/ca.crt");
	assert_true(c.has_subject_key_id);
	assert_int_equal(strlen(c.subject_key_id), 20 * 3 - 1);
	assert_string_equal(c.public_key, "EC 256 bits");
	assert_int_equal(strlen(c.sha256), 32 * 3 - 1);
	assert_int_equal(strlen(c.sha1), 20 * 3 - 1);
	pkl_show_cert_free(&c);
	pkl_show_cert_free(&c); /* emptied: a second free is a no-op */
	OPENSSL_free(der);
}

static void no_extensions_and_pem(void **state)
{
	unsigned char *der;
	size_t len = make_der(0, &der);
	struct pkl_show_cert c;
	struct pkl_buf pem = PKL_BUF_INIT;

	(void)state;
	assert_int_equal(pkl_show_cert_read(der, len, "t", &c, NULL), PKL_OK);
	assert_int_equal(c.san.n + c.cdp.n + c.ca_issuers.n + c.n_key_usage + c.n_eku, 0);
	assert_false(c.has_subject_key_id);
	assert_string_not_equal(c.sha256, "");
	pkl_show_cert_free(&c);
	assert_int_equal(pkl_show_cert_pem(der, len, "t", &pem, NULL), PKL_OK);
	assert_true(pem.len > 27);
	assert_memory_equal(pem.data, "-----BEGIN CERTIFICATE-----", 27);
	pkl_buf_free(&pem);
	OPENSSL_free(der);
}

static void not_a_certificate(void **state)
{
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct pkl_show_cert c;
	struct pkl_err err = { 0 };
	struct pkl_buf pem = PKL_BUF_INIT;

	(void)state;
	assert_int_not_equal(pkl_show_cert_read(junk, sizeof(junk), "junk", &c, &err), PKL_OK);
	assert_int_not_equal(err.rc, PKL_OK);
	assert_null(c.issuer_dn);
	assert_int_equal(c.san.n, 0);
	assert_int_not_equal(pkl_show_cert_pem(junk, sizeof(junk), "junk", &pem, NULL), PKL_OK);
	pkl_buf_free(&pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_field),
		cmocka_unit_test(no_extensions_and_pem),
		cmocka_unit_test(not_a_certificate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
