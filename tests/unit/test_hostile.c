/*
 * Regression tests from the review of the library against hostile input
 * (lint, doctor and crlcheck read files and HTTP answers nobody vouches for):
 *   - report texts: control characters and invalid or truncated UTF-8 become
 *     '?', valid UTF-8 stays, and the JSON report keeps every message;
 *   - a CRL entry with thousands of extensions is linted in bounded time and
 *     its duplicate extensions are still found (L20);
 *   - a certificate with many caIssuers URLs gets at most 8 of them fetched;
 *   - pkl_name_der_equal compares encodings, not canonical forms;
 *   - a report keeps at most PKL_REPORT_MAX findings and still judges the
 *     dropped ones; L17 names 8 bad SANs and counts the rest.
 * CRLs and certificates are built here with OpenSSL directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pkilab/chain.h"
#include "pkilab/fetch.h"
#include "pkilab/lint.h"
#include "pkilab/name.h"
#include "pkilab/report.h"

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

static X509_NAME *dn(const char *cn, int type)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", type, (const unsigned char *)cn, -1, -1, 0), 1);
	return n;
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, const char *aia)
{
	X509 *x = X509_new();
	X509_NAME *n = dn(cn, MBSTRING_UTF8);
	X509V3_CTX ctx;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_issuer_name(x, n);
	X509_set_subject_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L);
	X509_set_pubkey(x, key);
	if (aia) {
		X509_EXTENSION *e;
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_info_access, aia);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* ------------------------------------------------------------ report text */

static const struct pkl_finding *only(const struct pkl_report *r)
{
	assert_int_equal(r->n, 1);
	return &r->v[0];
}

static void report_controls_become_marks(void **state)
{
	(void)state;
	struct pkl_report r = PKL_REPORT_INIT;

	/* what a hostile CDP could put into a Content-Type header */
	pkl_report_add(&r, PKL_SEV_WARN, "crl.content_type", "http://x/\x1b[2J", "Content-Type '%s'",
		       "text/html\x1b]0;owned\x07\x7f");
	assert_string_equal(only(&r)->subject, "http://x/?[2J");
	assert_string_equal(only(&r)->msg, "Content-Type 'text/html?]0;owned?"
					   "?'");
	pkl_report_free(&r);
}

static void report_utf8_kept_invalid_marked(void **state)
{
	(void)state;
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_buf out = PKL_BUF_INIT;

	/* é (2 bytes), € (3), U+1F512 (4) stay; a lone continuation byte, an
	 * overlong '/' (C0 AF), a surrogate (ED A0 80) and a cut 3-byte
	 * sequence do not. */
	pkl_report_add(&r, PKL_SEV_FAIL, "x", "s", "%s",
		       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
	assert_string_equal(only(&r)->msg, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92|?|??|???|??");
	pkl_finding_cause(&r.v[0], "cause \x01");
	pkl_finding_fix(&r.v[0], "fix \xff");
	assert_string_equal(r.v[0].cause, "cause ?");
	assert_string_equal(r.v[0].fix, "fix ?");
	/* the JSON report keeps the message (json_string() refuses invalid UTF-8) */
	assert_int_equal(pkl_report_json(&r, NULL, &out, NULL), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&out), "\"message\": \"\xc3\xa9"));
	assert_non_null(strstr(pkl_buf_cstr(&out), "\"fix\": \"fix ?\""));
	pkl_buf_free(&out);
	pkl_report_free(&r);
}

static void report_truncation_never_splits_utf8(void **state)
{
	(void)state;
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_buf out = PKL_BUF_INIT;
	char big[2000];
	size_t n = 0;

	/* 'a' then euros: whatever byte msg[] ends on, the JSON must keep it */
	big[n++] = 'a';
	while (n + 3 < sizeof(big)) {
		memcpy(big + n, "\xe2\x82\xac", 3);
		n += 3;
	}
	big[n] = '\0';
	pkl_report_add(&r, PKL_SEV_FAIL, "x", big, "%s", big);
	assert_int_equal(pkl_report_json(&r, NULL, &out, NULL), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&out), "\"message\": \"a\xe2\x82\xac"));
	assert_non_null(strstr(pkl_buf_cstr(&out), "\"subject\": \"a\xe2\x82\xac"));
	pkl_buf_free(&out);
	pkl_report_free(&r);
}

/* ------------------------------------------------------------ CRL lint */

/* A signed CRL with one entry carrying n_ext extensions of distinct private
 * OIDs, plus with dup one more that repeats the last of them: the worst case
 * for an all-pairs search, which finds that pair last. */
static unsigned char *crl_with_exts(EVP_PKEY *key, X509 *ca, int n_ext, int dup, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL) - 600, 0, 0);
	ASN1_TIME *nu = ASN1_TIME_adj(NULL, time(NULL) + 86400, 0, 0);
	ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	int l;

	assert_int_equal(ASN1_OCTET_STRING_set(val, (const unsigned char *)"\x05\x00", 2), 1);
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_CRL_set1_lastUpdate(crl, t);
	X509_CRL_set1_nextUpdate(crl, nu);
	ASN1_INTEGER_set(serial, 42);
	X509_REVOKED_set_serialNumber(rev, serial);
	X509_REVOKED_set_revocationDate(rev, t);
	for (int i = 0; i < n_ext + (dup ? 1 : 0); i++) {
		char oid[64];
		ASN1_OBJECT *obj;
		X509_EXTENSION *e;
		snprintf(oid, sizeof(oid), "1.3.6.1.4.1.99999.%d", i < n_ext ? i : n_ext - 1);
		obj = OBJ_txt2obj(oid, 1);
		assert_non_null(obj);
		e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, val);
		assert_non_null(e);
		assert_int_equal(X509_REVOKED_add_ext(rev, e, -1), 1);
		X509_EXTENSION_free(e);
		ASN1_OBJECT_free(obj);
	}
	X509_CRL_add0_revoked(crl, rev);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	l = i2d_X509_CRL(crl, &der);
	assert_true(l > 0);
	*len = (size_t)l;
	ASN1_OCTET_STRING_free(val);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(t);
	ASN1_TIME_free(nu);
	X509_CRL_free(crl);
	return der;
}

static int has_msg(const struct pkl_report *r, const char *code, const char *part)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].code, code) && strstr(r->v[i].msg, part))
			return 1;
	return 0;
}

static void crl_many_extensions_bounded(void **state)
{
	(void)state;
	EVP_PKEY *key = new_key();
	X509 *ca = new_cert(key, "ca", NULL);
	struct pkl_lint_crl_opts o = { .now = 0 };
	struct pkl_report r = PKL_REPORT_INIT;
	struct timespec a, b;
	size_t len;
	/* 40,000 distinct extensions, the duplicate last: all pairs would be 8e8
	 * OID comparisons (many seconds) */
	unsigned char *der = crl_with_exts(key, ca, 40000, 1, &len);

	/* CPU time, not wall-clock time: the bound tells linear from
	 * quadratic, whatever else runs on the machine */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	assert_int_equal(pkl_lint_crl(der, len, "big.crl", &o, &r, NULL), PKL_OK);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	assert_true(has_msg(&r, "lint.L20", "duplicate extensions"));
	assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 3000);
	pkl_report_free(&r);
	OPENSSL_free(der);

	/* distinct extensions only: no duplicate reported */
	der = crl_with_exts(key, ca, 3, 0, &len);
	assert_int_equal(pkl_lint_crl(der, len, "three.crl", &o, &r, NULL), PKL_OK);
	assert_false(has_msg(&r, "lint.L20", "duplicate extensions"));
	pkl_report_free(&r);
	OPENSSL_free(der);
	X509_free(ca);
	EVP_PKEY_free(key);
}

/* ------------------------------------------------------------ AIA bound */

static void aia_tries_bounded(void **state)
{
	(void)state;
	EVP_PKEY *key = new_key(), *ikey = new_key();
	char aia[4096] = "";
	size_t n = 0, tried = 0;
	X509 *leaf;
	struct pkl_fetch_opts fo;
	struct pkl_chain c;
	struct pkl_report r = PKL_REPORT_INIT;

	/* 20 caIssuers URLs on a closed port: each fails fast */
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(aia + n, sizeof(aia) - n, "%scaIssuers;URI:http://127.0.0.1:1/%d.crt",
				      i ? "," : "", i);
	leaf = new_cert(key, "leaf", aia);
	/* not self-signed: issuer name differs */
	{
		X509_NAME *in = dn("some issuer", MBSTRING_UTF8);
		X509_set_issuer_name(leaf, in);
		X509_NAME_free(in);
		assert_true(X509_sign(leaf, ikey, EVP_sha256()) > 0);
	}
	pkl_fetch_opts_init(&fo, NULL, 0);
	fo.timeout_ms = 2000;
	struct pkl_chain_opts co = { .fetch_aia = 1, .fetch = &fo };
	assert_int_equal(pkl_chain_build(leaf, &co, &c, &r, NULL), PKL_OK);
	for (size_t i = 0; i < r.n; i++)
		tried += !strcmp(r.v[i].code, "chain.aia_unreachable") &&
			 strstr(r.v[i].msg, "not available from AIA") != NULL;
	assert_int_equal(tried, 8);
	assert_true(has_msg(&r, "chain.aia_unreachable", "the rest are not tried"));
	pkl_chain_free(&c);
	pkl_report_free(&r);
	X509_free(leaf);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ikey);
}

/* ------------------------------------------------------------ names */

static void name_der_equal_is_bytewise(void **state)
{
	(void)state;
	X509_NAME *a = dn("same", MBSTRING_UTF8), *b = dn("same", MBSTRING_UTF8);
	X509_NAME *p = dn("same", V_ASN1_PRINTABLESTRING);

	assert_true(pkl_name_der_equal(a, b));
	/* canonically equal, encoded differently: what strict clients refuse */
	assert_int_equal(X509_NAME_cmp(a, p) == 0, 1);
	assert_false(pkl_name_der_equal(a, p));
	assert_false(pkl_name_der_equal(a, NULL));
	X509_NAME_free(a);
	X509_NAME_free(b);
	X509_NAME_free(p);
}

/* ------------------------------------------------------------ report cap */

static void report_cap_keeps_verdict(void **state)
{
	(void)state;
	struct pkl_report r = PKL_REPORT_INIT, dst = PKL_REPORT_INIT;
	struct pkl_buf out = PKL_BUF_INIT;

	for (int i = 0; i < PKL_REPORT_MAX + 4999; i++)
		pkl_report_add(&r, PKL_SEV_OK, "x", "s", "ok %d", i);
	assert_null(pkl_report_add(&r, PKL_SEV_FAIL, "x", "s", "the one failure"));
	assert_int_equal(r.n, PKL_REPORT_MAX);
	assert_int_equal(r.dropped, 5000);
	assert_false(r.oom);
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_FAIL);
	assert_int_equal(pkl_report_text(&r, 0, &out, NULL), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&out), "5000 more findings not shown"));
	pkl_buf_free(&out);
	assert_int_equal(pkl_report_json(&r, NULL, &out, NULL), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&out), "\"dropped\": 5000"));
	assert_non_null(strstr(pkl_buf_cstr(&out), "\"verdict\": \"fail\""));
	pkl_buf_free(&out);
	/* merging carries the count and the verdict */
	pkl_report_merge(&dst, &r, PKL_SEV_OK);
	assert_int_equal(dst.n, PKL_REPORT_MAX);
	assert_int_equal(dst.dropped, 5000);
	assert_int_equal(pkl_report_worst(&dst), PKL_SEV_FAIL);
	pkl_report_free(&dst);
	pkl_report_free(&r);
}

static void lint_bad_sans_counted(void **state)
{
	(void)state;
	EVP_PKEY *key = new_key();
	X509 *x = new_cert(key, "many", NULL);
	char san[2048] = "";
	size_t n = 0, named = 0;
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_lint_opts o = { .platforms = PKL_PLAT_ALL };
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	for (int i = 0; i < 50; i++)
		n += (size_t)snprintf(san + n, sizeof(san) - n, "%sDNS:bad_%d", i ? "," : "", i);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_alt_name, san);
	assert_non_null(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(pkl_lint_cert(x, &o, &r, NULL), PKL_OK);
	for (size_t i = 0; i < r.n; i++)
		named += !strcmp(r.v[i].code, "lint.L17") && strstr(r.v[i].msg, "is not a valid host name");
	assert_int_equal(named, 8);
	assert_true(has_msg(&r, "lint.L17", "42 more malformed subjectAltName entries"));
	pkl_report_free(&r);
	X509_free(x);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(report_controls_become_marks),
		cmocka_unit_test(report_utf8_kept_invalid_marked),
		cmocka_unit_test(report_truncation_never_splits_utf8),
		cmocka_unit_test(crl_many_extensions_bounded),
		cmocka_unit_test(aia_tries_bounded),
		cmocka_unit_test(name_der_equal_is_bytewise),
		cmocka_unit_test(report_cap_keeps_verdict),
		cmocka_unit_test(lint_bad_sans_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
