/*
 * Unit tests for ca/lib/crl_publish.c's numbering: the next CRL number from
 * the three sources (RFC 5280 §5.2.3: increasing, at most 20 octets), the
 * number from the clock, and the first CRL of a new CA. Publishing on a real
 * PKI is in test_revoke.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pkilab/crl_publish.h"
#include "pkilab/crl_read.h"

static EVP_PKEY *key;
static X509 *ca;

static void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

static int setup(void **state)
{
	X509_NAME *n = X509_NAME_new();

	(void)state;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ca = X509_new();
	if (!key || !ca || !n)
		return -1;
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"root", -1, -1, 0);
	X509_set_version(ca, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
	X509_set_issuer_name(ca, n);
	X509_set_subject_name(ca, n);
	X509_gmtime_adj(X509_getm_notBefore(ca), -3600);
	X509_gmtime_adj(X509_getm_notAfter(ca), 86400L * 365);
	X509_set_pubkey(ca, key);
	add_ext(ca, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(ca, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(ca, NID_subject_key_identifier, "hash");
	X509_NAME_free(n);
	return X509_sign(ca, key, EVP_sha256()) > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca);
	EVP_PKEY_free(key);
	return 0;
}

static void next_number(void **state)
{
	struct pkl_err err = { 0 };
	char out[64];
	const unsigned char pub[] = { 0x27, 0x10 }; /* 10000 */
	unsigned char huge[20];

	(void)state;
	/* Nothing stored, nothing published: the clock in milliseconds. */
	assert_int_equal(pkl_crl_next_number("", NULL, 0, 1000, out, sizeof(out), &err), PKL_OK);
	assert_string_equal(out, "1000");
	/* The stored counter wins when ahead of the clock. */
	assert_int_equal(pkl_crl_next_number("5000", NULL, 0, 1000, out, sizeof(out), &err), PKL_OK);
	assert_string_equal(out, "5001");
	/* The published CRL wins over an older (restored) counter. */
	assert_int_equal(pkl_crl_next_number("5000", pub, sizeof(pub), 1000, out, sizeof(out), &err), PKL_OK);
	assert_string_equal(out, "10001");
	/* And the clock over both. */
	assert_int_equal(pkl_crl_next_number("5000", pub, sizeof(pub), 99999, out, sizeof(out), &err),
			 PKL_OK);
	assert_string_equal(out, "99999");
	/* Beyond uint64: big numbers keep working. */
	assert_int_equal(pkl_crl_next_number("18446744073709551615", NULL, 0, 1, out, sizeof(out), &err),
			 PKL_OK);
	assert_string_equal(out, "18446744073709551616");
	assert_int_equal(pkl_crl_next_number("12x", NULL, 0, 1, out, sizeof(out), &err), PKL_ERUNTIME);
	/* 2^159 - 1 published: the next would need 21 octets (RFC 5280 5.2.3). */
	memset(huge, 0xff, sizeof(huge));
	huge[0] = 0x7f;
	assert_int_equal(pkl_crl_next_number("", huge, sizeof(huge), 1, out, sizeof(out), &err),
			 PKL_ERUNTIME);
	assert_non_null(strstr(err.msg, "20 octets"));
}

static uint64_t be64(const unsigned char b[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/* Milliseconds of `now`, the sub-second part from the real clock, positive. */
static void number_from_time(void **state)
{
	unsigned char a[8], b[8];
	uint64_t v;

	(void)state;
	pkl_crl_number_from_time(1800000000, a);
	v = be64(a);
	assert_true(v >= 1800000000ull * 1000 && v < 1800000001ull * 1000);
	assert_int_equal(a[0] & 0x80, 0);
	pkl_crl_number_from_time(1800000001, b);
	assert_true(be64(b) > v);
}

/* The first CRL of a CA: empty, back-dated 5 minutes, numbered from the
 * clock, passing the check cdpd applies; st receives what the `cas` row
 * stores. */
static void publish_first(void **state)
{
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_ca_state st;
	struct pkl_crl_tbs t;
	struct pkl_crlinfo info;
	struct pkl_err err = { 0 };
	pkl_time now = pkl_time_now();
	EVP_PKEY *other;

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_int_equal(pkl_crl_publish_first(ca, key, now, 86400, "root", &der, &st, &err), PKL_OK);
	assert_int_equal(st.crl_this_update, now - 300);
	assert_int_equal(st.crl_next_update, now - 300 + 86400);
	assert_int_equal(pkl_crl_walk(der.data, der.len, &t, &err), PKL_OK);
	assert_false(t.has_list);
	assert_int_equal(t.this_update, st.crl_this_update);
	assert_int_equal(t.next_update, st.crl_next_update);
	assert_true(t.number_len >= 6 && t.number_len <= 8); /* 8 octets, leading zeros dropped */
	assert_int_equal(pkl_crlcheck_verify(der.data, der.len, "root", ca, &info, &err), PKL_OK);
	assert_string_equal(info.number, st.crl_number);
	assert_true(pkl_crlcheck_number_cmp(st.crl_number, "1000") > 0);
	/* The self-check refuses a CRL already expired at `now`. */
	der.len = 0;
	memset(&st, 0, sizeof(st));
	assert_int_equal(pkl_crl_publish_first(ca, key, now, 300, "root", &der, &st, &err), PKL_ERUNTIME);
	assert_non_null(strstr(err.msg, "fails the check relying parties apply"));
	assert_string_equal(st.crl_number, "");
	/* Another key than the CA's. */
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(other);
	der.len = 0;
	assert_int_equal(pkl_crl_publish_first(ca, other, now, 86400, "root", &der, &st, &err), PKL_EINPUT);
	EVP_PKEY_free(other);
	pkl_buf_free(&der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(next_number),
		cmocka_unit_test(number_from_time),
		cmocka_unit_test(publish_first),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
