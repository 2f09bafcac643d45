/*
 * Unit tests for ca/lib/crl_read.c: the TBSCertList walker and the entry
 * reader (good CRLs from both signers, truncated, wrong tags, entries with
 * and without a reason), every reason a CRL can be refused gets its own
 * specific message, the CRL number survives 20 octets, and number
 * comparison is numeric at any length. CRLs and CA certificates are built
 * here with OpenSSL directly, independent of pkilab's own CRL signer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pkilab/buf.h"
#include "pkilab/crl.h"
#include "pkilab/crl_read.h"

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

static X509_NAME *dn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"pkilab unit", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	return n;
}

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

/* A self-signed CA; ku NULL: no keyUsage extension; ski 0: no SKI. */
static X509 *new_ca(EVP_PKEY *key, const char *cn, const char *ku, int ski)
{
	X509 *x = X509_new();
	X509_NAME *n = dn(cn);

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_issuer_name(x, n);
	X509_set_subject_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, key);
	add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	if (ku)
		add_ext(x, NID_key_usage, ku);
	if (ski)
		add_ext(x, NID_subject_key_identifier, "hash");
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

struct crl_opts {
	const char *issuer_cn;  /* default "ca" */
	const char *number_hex; /* NULL: no CRL number */
	int no_aki;
	X509 *aki_from;          /* SKI source for the AKI (default: the signing CA) */
	long this_off, next_off; /* seconds from now */
	int no_next;
	int revoked;
};

static size_t make_crl(X509 *ca, EVP_PKEY *signer, const struct crl_opts *o, unsigned char **der)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *n = dn(o->issuer_cn ? o->issuer_cn : "ca");
	ASN1_TIME *t = ASN1_TIME_new();
	int i, len;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, n);
	X509_gmtime_adj(t, o->this_off);
	X509_CRL_set1_lastUpdate(crl, t);
	if (!o->no_next) {
		X509_gmtime_adj(t, o->next_off ? o->next_off : 7 * 86400L);
		X509_CRL_set1_nextUpdate(crl, t);
	}
	for (i = 0; i < o->revoked; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();

		ASN1_INTEGER_set(s, 1000 + i);
		X509_REVOKED_set_serialNumber(r, s);
		X509_gmtime_adj(t, -60);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
	}
	if (o->number_hex) {
		BIGNUM *bn = NULL;
		ASN1_INTEGER *num;

		BN_hex2bn(&bn, o->number_hex);
		num = BN_to_ASN1_INTEGER(bn, NULL);
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
		ASN1_INTEGER_free(num);
		BN_free(bn);
	}
	if (!o->no_aki) {
		X509 *src = o->aki_from ? o->aki_from : ca;
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(src);
		AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();

		assert_non_null(ski);
		akid->keyid = ASN1_OCTET_STRING_dup(ski);
		X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0);
		AUTHORITY_KEYID_free(akid);
	}
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, signer, EVP_sha256()) > 0);
	*der = NULL;
	len = i2d_X509_CRL(crl, der);
	assert_true(len > 0);
	ASN1_TIME_free(t);
	X509_NAME_free(n);
	X509_CRL_free(crl);
	return (size_t)len;
}

struct fix {
	EVP_PKEY *key, *other;
	X509 *ca;
};

static int setup(void **state)
{
	static struct fix f;

	f.key = new_key();
	f.other = new_key();
	f.ca = new_ca(f.key, "ca", "critical,keyCertSign,cRLSign", 1);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	X509_free(f->ca);
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->other);
	return 0;
}

/* Verifies der against ca and expects failure with a message containing want. */
static void expect_refused(const unsigned char *der, size_t len, X509 *ca, const char *want)
{
	struct pkl_err err = { 0 };
	struct pkl_crlinfo info;

	assert_int_equal(pkl_crlcheck_verify(der, len, "t.crl", ca, &info, &err), PKL_EINPUT);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' lacks '%s'", err.msg, want);
	assert_string_equal(err.where, "t.crl");
}

static void test_valid(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "2A", .revoked = 3 };
	struct pkl_err err = { 0 };
	struct pkl_crlinfo info;
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);
	time_t now = time(NULL);

	assert_int_equal(pkl_crlcheck_verify(der, len, "t.crl", f->ca, &info, &err), PKL_OK);
	assert_string_equal(info.number, "42");
	assert_int_equal(info.revoked, 3);
	assert_int_equal(info.size, len);
	assert_int_equal(info.version, 1);
	assert_true(info.has_aki);
	assert_true(info.this_update <= now && info.this_update >= now - 5);
	assert_true(info.next_update >= now + 7 * 86400 - 5);
	assert_non_null(strstr(info.issuer, "CN=ca"));
	assert_int_equal(pkl_crlcheck_fresh(&info, now, 0, "t.crl", &err), PKL_OK);
	OPENSSL_free(der);
}

static void test_bad_signature(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1" };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->other, &o, &der); /* right name and AKI, wrong key */

	expect_refused(der, len, f->ca, "bad signature");
	OPENSSL_free(der);
}

static void test_flipped_byte(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1" };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);
	struct pkl_err err = { 0 };
	struct pkl_crlinfo info;

	/* A flip inside the signed part (the issuer CN's last letter) is caught. */
	der[len / 3] ^= 0x01;
	assert_int_equal(pkl_crlcheck_verify(der, len, "t.crl", f->ca, &info, &err), PKL_EINPUT);
	OPENSSL_free(der);
}

static void test_wrong_issuer(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1", .issuer_cn = "someone else" };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	expect_refused(der, len, f->ca, "wrong issuer: CRL issuer");
	OPENSSL_free(der);
}

static void test_wrong_aki(void **state)
{
	struct fix *f = *state;
	X509 *other_ca = new_ca(f->other, "ca", "critical,keyCertSign,cRLSign", 1);
	struct crl_opts o = { .number_hex = "1", .aki_from = other_ca };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	expect_refused(der, len, f->ca, "wrong issuer key");
	OPENSSL_free(der);
	X509_free(other_ca);
}

static void test_no_aki(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1", .no_aki = 1 };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	expect_refused(der, len, f->ca, "no authority key identifier");
	OPENSSL_free(der);
}

static void test_no_number(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { 0 };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	expect_refused(der, len, f->ca, "no CRL number");
	OPENSSL_free(der);
}

static void test_no_crlsign(void **state)
{
	struct fix *f = *state;
	X509 *ca = new_ca(f->key, "ca", "critical,keyCertSign", 1);
	struct crl_opts o = { .number_hex = "1" };
	unsigned char *der;
	size_t len = make_crl(ca, f->key, &o, &der);

	expect_refused(der, len, ca, "lacks cRLSign");
	OPENSSL_free(der);
	X509_free(ca);
}

static void test_no_ca(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1" };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	expect_refused(der, len, NULL, "no CA certificate");
	OPENSSL_free(der);
}

static void test_truncated(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1", .revoked = 5 };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der), cut;

	for (cut = 1; cut < len; cut += 7) {
		struct pkl_err err = { 0 };
		struct pkl_crlinfo info;

		assert_int_equal(pkl_crlcheck_verify(der, cut, "t.crl", f->ca, &info, &err), PKL_EINPUT);
	}
	expect_refused(der, len / 2, f->ca, "truncated DER: the CRL claims");
	expect_refused(der, 1, f->ca, "truncated DER");
	OPENSSL_free(der);
}

static void test_trailing_and_garbage(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1" };
	unsigned char *der, buf[4096];
	size_t len = make_crl(f->ca, f->key, &o, &der);
	static const char pem[] = "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n";

	memcpy(buf, der, len);
	buf[len] = 0;
	expect_refused(buf, len + 1, f->ca, "1 bytes of trailing data");
	expect_refused((const unsigned char *)pem, sizeof(pem) - 1, f->ca, "PEM, expected a DER CRL");
	expect_refused((const unsigned char *)"hello", 5, f->ca, "not an ASN.1 SEQUENCE (first byte 0x68)");
	expect_refused(buf, 0, f->ca, "empty file");
	OPENSSL_free(der);
}

static void test_number_20_octets(void **state)
{
	struct fix *f = *state;
	/* 2^159 - 1: the largest positive 20-octet number. */
	struct crl_opts o = { .number_hex = "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" };
	struct pkl_err err = { 0 };
	struct pkl_crlinfo info;
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	assert_int_equal(pkl_crlcheck_verify(der, len, "t.crl", f->ca, &info, &err), PKL_OK);
	assert_string_equal(info.number, "730750818665451459101842416358141509827966271487");
	OPENSSL_free(der);

	o.number_hex = "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"; /* 21 octets */
	len = make_crl(f->ca, f->key, &o, &der);
	expect_refused(der, len, f->ca, "longer than 20 octets");
	OPENSSL_free(der);
}

static void test_fresh(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1", .this_off = -7200, .next_off = -3600 };
	struct pkl_err err = { 0 };
	struct pkl_crlinfo info;
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);
	time_t now = time(NULL);

	/* An expired CRL still verifies; freshness is its own question. */
	assert_int_equal(pkl_crlcheck_verify(der, len, "t.crl", f->ca, &info, &err), PKL_OK);
	assert_int_equal(pkl_crlcheck_fresh(&info, now, 0, "t.crl", &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "expired: nextUpdate"));
	assert_int_equal(pkl_crlcheck_fresh(&info, now - 7000, 0, "t.crl", &err), PKL_OK);
	assert_int_equal(pkl_crlcheck_fresh(&info, now - 7300, 0, "t.crl", &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "not yet valid"));
	assert_int_equal(pkl_crlcheck_fresh(&info, now - 7300, 200, "t.crl", &err), PKL_OK);
	OPENSSL_free(der);

	o = (struct crl_opts){ .number_hex = "1", .no_next = 1 };
	len = make_crl(f->ca, f->key, &o, &der);
	assert_int_equal(pkl_crlcheck_parse(der, len, "t.crl", &info, NULL, &err), PKL_OK);
	assert_int_equal(info.next_update, 0);
	assert_int_equal(pkl_crlcheck_fresh(&info, now, 0, "t.crl", &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "no nextUpdate"));
	OPENSSL_free(der);
}

static void test_parse_returns_object(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "1", .revoked = 2 };
	struct pkl_err err = { 0 };
	struct pkl_crlinfo info;
	X509_CRL *crl = NULL;
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	assert_int_equal(pkl_crlcheck_parse(der, len, "t.crl", &info, &crl, &err), PKL_OK);
	assert_non_null(crl);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	X509_CRL_free(crl);
	OPENSSL_free(der);
}

static void test_number_cmp(void **state)
{
	(void)state;
	assert_true(pkl_crlcheck_number_cmp("10", "9") > 0);
	assert_true(pkl_crlcheck_number_cmp("9", "10") < 0);
	assert_int_equal(pkl_crlcheck_number_cmp("007", "7"), 0);
	assert_int_equal(pkl_crlcheck_number_cmp("0", "000"), 0);
	assert_true(pkl_crlcheck_number_cmp("730750818665451459101842416358141509827966271487",
					    "730750818665451459101842416358141509827966271486") > 0);
	assert_true(pkl_crlcheck_number_cmp("18446744073709551616", "18446744073709551615") > 0);
	assert_true(pkl_crlcheck_number_cmp("", "0") < 0);
	assert_true(pkl_crlcheck_number_cmp("1", "") > 0);
	assert_int_equal(pkl_crlcheck_number_cmp("", ""), 0);
	assert_true(pkl_crlcheck_number_cmp("x1", "1") < 0);
	assert_true(pkl_crlcheck_number_cmp("-5", "1") < 0);
	assert_true(pkl_crlcheck_number_cmp(NULL, "1") < 0);
}

/* pkilab's own signer through the walker: the fields come back, and every
 * truncation is refused without reading past the end. */
static void test_walk_signed(void **state)
{
	struct fix *f = *state;
	struct pkl_crl_entry ents[2];
	struct pkl_crl_req req;
	struct pkl_crl_tbs sc;
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_err err = { 0 };

	memset(&req, 0, sizeof(req));
	memset(ents, 0, sizeof(ents));
	req.this_update = 1800000000;
	req.next_update = 1800000000 + 7 * 86400;
	req.number[0] = 0x01;
	req.number[1] = 0xa2;
	req.number[2] = 0x33;
	req.number_len = 3;
	ents[0].serial[0] = 0x7f;
	ents[0].serial_len = 1;
	ents[0].revoked_at = 1799999000;
	ents[0].reason = PKL_REASON_KEY_COMPROMISE;
	ents[1].serial[0] = 0x01;
	ents[1].serial[1] = 0x02;
	ents[1].serial_len = 2;
	ents[1].revoked_at = 1799999000;
	ents[1].reason = PKL_REASON_NONE;
	req.entries = ents;
	req.n_entries = 2;
	assert_int_equal(pkl_crl_sign(&req, f->ca, f->key, &der, &err), PKL_OK);
	assert_int_equal(pkl_crl_walk(der.data, der.len, &sc, &err), PKL_OK);
	assert_int_equal(sc.this_update, req.this_update);
	assert_int_equal(sc.next_update, req.next_update);
	assert_int_equal(sc.number_len, 3);
	assert_memory_equal(sc.number, req.number, 3);
	assert_true(sc.has_entries);
	assert_true(sc.has_list);
	assert_true(sc.has_version);
	assert_int_equal(sc.version, 1);
	/* Every truncation is refused, never read past the end. */
	for (size_t l = 0; l < der.len; l++)
		assert_int_equal(pkl_crl_walk(der.data, l, &sc, NULL), PKL_EINPUT);
	/* Empty CRL: no revokedCertificates. */
	der.len = 0;
	req.n_entries = 0;
	assert_int_equal(pkl_crl_sign(&req, f->ca, f->key, &der, &err), PKL_OK);
	assert_int_equal(pkl_crl_walk(der.data, der.len, &sc, &err), PKL_OK);
	assert_false(sc.has_entries);
	assert_false(sc.has_list);
	assert_null(sc.list);
	/* Garbage */
	der.data[0] = 0x31;
	assert_int_equal(pkl_crl_walk(der.data, der.len, &sc, &err), PKL_EINPUT);
	pkl_buf_free(&der);
}

/* Reads every entry of the list span with pkl_crl_read_entry. */
static size_t read_all(const struct pkl_crl_tbs *t, struct pkl_crl_entry *out, size_t max)
{
	const unsigned char *p = t->list, *end = t->list + t->list_len;
	struct pkl_err err = { 0 };
	size_t n = 0;

	while (p < end) {
		assert_true(n < max);
		assert_int_equal(pkl_crl_read_entry(&p, end, &out[n], &err), PKL_OK);
		n++;
	}
	assert_ptr_equal(p, end);
	return n;
}

/* Entries with and without a reason (and an invalidity date) read back as
 * they were signed; each truncation of an entry is refused. */
static void test_walk_entries(void **state)
{
	struct fix *f = *state;
	struct pkl_crl_entry ents[3], got[4];
	struct pkl_crl_req req;
	struct pkl_crl_tbs t;
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_err err = { 0 };

	memset(&req, 0, sizeof(req));
	memset(ents, 0, sizeof(ents));
	req.this_update = 1800000000;
	req.next_update = 1800000000 + 86400;
	req.number[0] = 7;
	req.number_len = 1;
	ents[0].serial[0] = 0x80; /* high bit: encoded with a 0x00 pad */
	ents[0].serial[1] = 0x01;
	ents[0].serial_len = 2;
	ents[0].revoked_at = 1799990000;
	ents[0].reason = PKL_REASON_KEY_COMPROMISE;
	ents[0].invalidity = 1799980000;
	ents[1].serial[0] = 0x05;
	ents[1].serial_len = 1;
	ents[1].revoked_at = 1799991000;
	ents[1].reason = PKL_REASON_NONE;
	memset(ents[2].serial, 0x7a, 20);
	ents[2].serial_len = 20;
	ents[2].revoked_at = 1799992000;
	ents[2].reason = PKL_REASON_AA_COMPROMISE;
	req.entries = ents;
	req.n_entries = 3;
	assert_int_equal(pkl_crl_sign(&req, f->ca, f->key, &der, &err), PKL_OK);
	assert_int_equal(pkl_crl_walk(der.data, der.len, &t, &err), PKL_OK);
	assert_true(t.has_entries);
	assert_non_null(t.exts);
	assert_int_equal(read_all(&t, got, 4), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(got[i].serial_len, ents[i].serial_len);
		assert_memory_equal(got[i].serial, ents[i].serial, ents[i].serial_len);
		assert_int_equal(got[i].revoked_at, ents[i].revoked_at);
		assert_int_equal(got[i].reason, ents[i].reason);
		assert_int_equal(got[i].invalidity, ents[i].invalidity);
	}
	/* The first entry cut short anywhere: refused, the cursor unmoved. */
	{
		const unsigned char *p = t.list;
		struct pkl_crl_entry e;
		size_t first;

		assert_int_equal(pkl_crl_read_entry(&p, t.list + t.list_len, &e, &err), PKL_OK);
		first = (size_t)(p - t.list);
		for (size_t l = 0; l < first; l++) {
			p = t.list;
			assert_int_equal(pkl_crl_read_entry(&p, t.list + l, &e, NULL), PKL_EINPUT);
			assert_ptr_equal(p, t.list);
		}
	}
	pkl_buf_free(&der);
}

/* A CRL built by OpenSSL (not pkilab's signer): version, number and the
 * entries without reasonCode. */
static void test_walk_openssl_crl(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "01F4", .revoked = 2 };
	struct pkl_crl_entry got[3];
	struct pkl_crl_tbs t;
	struct pkl_err err = { 0 };
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	assert_int_equal(pkl_crl_walk(der, len, &t, &err), PKL_OK);
	assert_true(t.has_version);
	assert_int_equal(t.version, 1);
	assert_true(t.next_update > t.this_update);
	assert_int_equal(t.number_len, 2);
	assert_int_equal(t.number[0], 0x01);
	assert_int_equal(t.number[1], 0xf4);
	assert_int_equal(read_all(&t, got, 3), 2);
	assert_int_equal(got[0].serial_len, 2);
	assert_int_equal(got[0].serial[0] * 256 + got[0].serial[1], 1000);
	assert_int_equal(got[0].reason, PKL_REASON_NONE);
	assert_int_equal(got[0].invalidity, 0);
	assert_int_equal(got[1].serial[0] * 256 + got[1].serial[1], 1001);
	/* No nextUpdate, no entries: both absent. */
	OPENSSL_free(der);
	o.no_next = 1;
	o.revoked = 0;
	len = make_crl(f->ca, f->key, &o, &der);
	assert_int_equal(pkl_crl_walk(der, len, &t, &err), PKL_OK);
	assert_int_equal(t.next_update, 0);
	assert_false(t.has_list);
	OPENSSL_free(der);
}

/* Finds the first occurrence of the TLV header (tag, len) at or after from. */
static unsigned char *find_tag(unsigned char *der, size_t len, size_t from, unsigned char tag)
{
	for (size_t i = from; i + 1 < len; i++)
		if (der[i] == tag)
			return der + i;
	fail_msg("tag 0x%02x not found", tag);
	return NULL;
}

/* Wrong tags where the walker expects a SEQUENCE, a Time, an INTEGER. */
static void test_walk_wrong_tags(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "10", .revoked = 1 };
	struct pkl_crl_tbs t;
	struct pkl_crl_entry e;
	struct pkl_err err = { 0 };
	unsigned char *der, *x, save;
	const unsigned char *p;
	size_t len = make_crl(f->ca, f->key, &o, &der);

	assert_int_equal(pkl_crl_walk(der, len, &t, &err), PKL_OK);
	/* CertificateList not a SEQUENCE */
	der[0] = 0x31;
	assert_int_equal(pkl_crl_walk(der, len, &t, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "malformed CRL"));
	der[0] = 0x30;
	/* thisUpdate as an OCTET STRING: the first UTCTime after the issuer */
	x = find_tag(der, len, 4, 0x17);
	save = *x;
	*x = 0x04;
	assert_int_equal(pkl_crl_walk(der, len, &t, NULL), PKL_EINPUT);
	*x = save;
	/* TBSCertList a context tag */
	save = der[4];
	der[4] = 0xa1;
	assert_int_equal(pkl_crl_walk(der, len, &t, NULL), PKL_EINPUT);
	der[4] = save;
	assert_int_equal(pkl_crl_walk(der, len, &t, &err), PKL_OK);
	/* An entry whose serial is an OCTET STRING, then whose date is an INTEGER. */
	x = (unsigned char *)t.list;
	assert_int_equal(x[0], 0x30);
	assert_int_equal(x[2], 0x02);
	x[2] = 0x04;
	p = t.list;
	assert_int_equal(pkl_crl_read_entry(&p, t.list + t.list_len, &e, &err), PKL_EINPUT);
	assert_ptr_equal(p, t.list);
	x[2] = 0x02;
	x[2 + 2 + x[3]] = 0x02;
	assert_int_equal(pkl_crl_read_entry(&p, t.list + t.list_len, &e, &err), PKL_EINPUT);
	x[2 + 2 + x[3]] = 0x17;
	assert_int_equal(pkl_crl_read_entry(&p, t.list + t.list_len, &e, &err), PKL_OK);
	/* Nothing left to read */
	assert_int_equal(pkl_crl_read_entry(&p, t.list + t.list_len, &e, &err), PKL_EINPUT);
	OPENSSL_free(der);
}

/* The file variant: the spans are not kept (the mapping is gone). */
static void test_walk_file(void **state)
{
	struct fix *f = *state;
	struct crl_opts o = { .number_hex = "2a", .revoked = 1 };
	struct pkl_crl_tbs t;
	struct pkl_err err = { 0 };
	char path[] = "/tmp/pkl-test-crlread-XXXXXX";
	unsigned char *der;
	size_t len = make_crl(f->ca, f->key, &o, &der);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, der, len), (ssize_t)len);
	close(fd);
	assert_int_equal(pkl_crl_walk_file(path, &t, &err), PKL_OK);
	assert_true(t.has_entries);
	assert_null(t.list);
	assert_null(t.exts);
	assert_int_equal(t.number[0], 0x2a);
	unlink(path);
	assert_int_equal(pkl_crl_walk_file(path, &t, &err), PKL_EINPUT);
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_wrong_issuer),
		cmocka_unit_test(test_wrong_aki),
		cmocka_unit_test(test_no_aki),
		cmocka_unit_test(test_no_number),
		cmocka_unit_test(test_no_crlsign),
		cmocka_unit_test(test_no_ca),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_trailing_and_garbage),
		cmocka_unit_test(test_number_20_octets),
		cmocka_unit_test(test_fresh),
		cmocka_unit_test(test_parse_returns_object),
		cmocka_unit_test(test_number_cmp),
		cmocka_unit_test(test_walk_signed),
		cmocka_unit_test(test_walk_entries),
		cmocka_unit_test(test_walk_openssl_crl),
		cmocka_unit_test(test_walk_wrong_tags),
		cmocka_unit_test(test_walk_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
