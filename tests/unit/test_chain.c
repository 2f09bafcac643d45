/*
 * Unit tests of path building and link checks (ca/lib/chain.c): a good
 * root -> CA -> leaf path, then one broken link at a time, each reported
 * under its stable code; and the input loaders (PEM, DER, garbage).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "pkilab/chain.h"
#include "pkilab/lint.h"
#include "fixture.h"

struct world {
	struct fx_chain c;
	char dir[64];
};
static struct world W;

static int setup(void **state)
{
	(void)state;
	snprintf(W.dir, sizeof(W.dir), "/tmp/pkl-chain-XXXXXX");
	return fx_chain_new(&W.c, "Chain") == 0 ? fx_mkdtemp(W.dir) : -1;
}

static int teardown(void **state)
{
	(void)state;
	fx_chain_free(&W.c);
	return fx_rmtree(W.dir);
}

static STACK_OF(X509) * sk_of(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	if (a)
		sk_X509_push(sk, a);
	if (b)
		sk_X509_push(sk, b);
	return sk;
}

/* Builds and checks leaf with pool/anchors at now+off; returns the report. */
static struct pkl_report judge(X509 *leaf, X509 *pool1, X509 *anchor, long off, struct pkl_chain *out)
{
	STACK_OF(X509) *pool = sk_of(pool1, NULL), *anchors = sk_of(anchor, NULL);
	struct pkl_chain_opts o = { .pool = pool, .anchors = anchors };
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_chain c;

	assert_int_equal(pkl_chain_build(leaf, &o, &c, &r, NULL), PKL_OK);
	pkl_chain_check(&c, (pkl_time)time(NULL) + off, 1, &r);
	if (out)
		*out = c;
	else
		pkl_chain_free(&c);
	sk_X509_free(pool);
	sk_X509_free(anchors);
	return r;
}

static int fails(const struct pkl_report *r, const char *code)
{
	return pkl_report_find(r, code, PKL_SEV_FAIL) != NULL;
}

static void good_path(void **state)
{
	(void)state;
	struct pkl_chain c;
	struct pkl_report r = judge(W.c.leaf, W.c.ca, W.c.root, 0, &c);

	assert_int_equal(c.n, 3);
	assert_true(c.complete);
	assert_true(c.anchored);
	assert_ptr_equal(c.certs[1], W.c.ca);
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	assert_false(pkl_chain_failed(&r));
	assert_non_null(pkl_report_find(&r, "chain.trust", PKL_SEV_OK));
	assert_non_null(pkl_report_find(&r, "chain.signatures", PKL_SEV_OK));
	pkl_chain_free(&c);
	pkl_report_free(&r);
}

static void missing_intermediate(void **state)
{
	(void)state;
	struct pkl_report r = judge(W.c.leaf, NULL, W.c.root, 0, NULL);
	assert_true(fails(&r, "chain.issuer_missing"));
	assert_non_null(strstr(pkl_report_find(&r, "chain.issuer_missing", PKL_SEV_FAIL)->msg, "Chain CA"));
	assert_true(pkl_chain_failed(&r));
	pkl_report_free(&r);
}

static void untrusted_root(void **state)
{
	(void)state;
	STACK_OF(X509) *pool = sk_of(W.c.ca, W.c.root);
	struct pkl_chain_opts o = { .pool = pool };
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_chain c;

	assert_int_equal(pkl_chain_build(W.c.leaf, &o, &c, &r, NULL), PKL_OK);
	pkl_chain_check(&c, (pkl_time)time(NULL), 0, &r);
	assert_true(c.complete);
	assert_false(c.anchored);
	assert_true(fails(&r, "chain.root_untrusted"));
	assert_false(fails(&r, "chain.issuer_missing"));
	pkl_chain_free(&c);
	pkl_report_free(&r);
	sk_X509_free(pool);
}

static void expired_root_named_as_such(void **state)
{
	(void)state;
	X509 *old = fx_cert("Chain Root", W.c.rk, NULL, W.c.rk, -3 * 365 * FX_DAY, -FX_DAY, FX_ROOT, 0);
	struct pkl_report r = judge(W.c.leaf, W.c.ca, old, 0, NULL);

	assert_true(fails(&r, "chain.root_expired"));
	assert_false(fails(&r, "time.expired")); /* the leaf and CA are valid */
	pkl_report_free(&r);
	X509_free(old);
}

static void expired_leaf_and_judging_later(void **state)
{
	(void)state;
	struct pkl_report r = judge(W.c.leaf, W.c.ca, W.c.root, 400 * FX_DAY, NULL);
	assert_true(fails(&r, "time.expired"));
	assert_false(fails(&r, "chain.root_expired"));
	pkl_report_free(&r);
}

static void clock_drift(void **state)
{
	(void)state;
	X509 *soon = fx_cert("vpn.unit.test", W.c.lk, W.c.ca, W.c.ck, 600, 397 * FX_DAY, FX_GATEWAY, 0);
	X509 *later =
		fx_cert("vpn.unit.test", W.c.lk, W.c.ca, W.c.ck, 2 * FX_DAY, 397 * FX_DAY, FX_GATEWAY, 0);
	struct pkl_report r = judge(soon, W.c.ca, W.c.root, 0, NULL);
	const struct pkl_finding *f = pkl_report_find(&r, "time.not_yet_valid", PKL_SEV_FAIL);

	assert_non_null(f);
	assert_non_null(strstr(f->msg, "probable clock drift"));
	assert_non_null(strstr(f->msg, "skew"));
	assert_non_null(strstr(f->fix, "NTP"));
	pkl_report_free(&r);
	r = judge(later, W.c.ca, W.c.root, 0, NULL);
	f = pkl_report_find(&r, "time.not_yet_valid", PKL_SEV_FAIL);
	assert_non_null(f);
	assert_null(strstr(f->msg, "clock drift")); /* two days is not drift */
	pkl_report_free(&r);
	X509_free(soon);
	X509_free(later);
}

static void wrong_key(void **state)
{
	(void)state;
	/* the same CA name, another key: the leaf was signed by the impostor */
	X509 *imp = fx_cert("Chain CA", W.c.other, W.c.root, W.c.rk, -FX_DAY, 1800 * FX_DAY, FX_SUBCA, 0);
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, imp, W.c.other, -3600, 397 * FX_DAY, FX_GATEWAY, 0);
	struct pkl_report r = judge(leaf, W.c.ca, W.c.root, 0, NULL);

	assert_true(fails(&r, "chain.bad_signature"));
	assert_true(fails(&r, "chain.aki_mismatch"));
	pkl_report_free(&r);
	X509_free(imp);
	X509_free(leaf);
}

static void issuer_not_a_ca_and_path_len(void **state)
{
	(void)state;
	static const struct fx_ext not_ca[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ 0, NULL },
	};
	X509 *fake = fx_cert("Fake CA", W.c.other, W.c.root, W.c.rk, -FX_DAY, 100 * FX_DAY, not_ca, 0);
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, fake, W.c.other, -3600, 30 * FX_DAY, FX_GATEWAY, 0);
	struct pkl_report r = judge(leaf, fake, W.c.root, 0, NULL);
	assert_true(fails(&r, "chain.not_ca"));
	pkl_report_free(&r);
	X509_free(fake);
	X509_free(leaf);

	/* W.c.ca has pathlen 0; a CA below it violates it */
	EVP_PKEY *k = fx_key("P-256");
	X509 *sub = fx_cert("Sub Sub CA", k, W.c.ca, W.c.ck, -FX_DAY, 100 * FX_DAY, FX_SUBCA, 0);
	leaf = fx_cert("vpn.unit.test", W.c.lk, sub, k, -3600, 30 * FX_DAY, FX_GATEWAY, 0);
	STACK_OF(X509) *pool = sk_of(sub, W.c.ca), *anchors = sk_of(W.c.root, NULL);
	struct pkl_chain_opts o = { .pool = pool, .anchors = anchors };
	struct pkl_chain c;
	r = (struct pkl_report)PKL_REPORT_INIT;
	assert_int_equal(pkl_chain_build(leaf, &o, &c, &r, NULL), PKL_OK);
	assert_int_equal(c.n, 4);
	pkl_chain_check(&c, (pkl_time)time(NULL), 0, &r);
	assert_true(fails(&r, "chain.path_len"));
	pkl_chain_free(&c);
	pkl_report_free(&r);
	sk_X509_free(pool);
	sk_X509_free(anchors);
	X509_free(sub);
	X509_free(leaf);
	EVP_PKEY_free(k);
}

/* RFC 5280 4.2.1.9, 6.1.4(l): a self-issued CA certificate (the CA's key
 * rollover: same DN, signed with the old key) does not count against the
 * pathLenConstraint of the CAs above it. */
static void self_issued_not_counted(void **state)
{
	(void)state;
	EVP_PKEY *k = fx_key("P-256"), *k3 = fx_key("P-256");
	/* no pathLenConstraint of its own: only W.c.ca's (0) is in play */
	X509 *rollover = fx_cert("Chain CA", k, W.c.ca, W.c.ck, -FX_DAY, 100 * FX_DAY, FX_ROOT, 0);
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, rollover, k, -3600, 30 * FX_DAY, FX_GATEWAY, 0);
	STACK_OF(X509) *pool = sk_of(rollover, W.c.ca), *anchors = sk_of(W.c.root, NULL);
	struct pkl_chain_opts o = { .pool = pool, .anchors = anchors };
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_chain c;

	assert_int_equal(pkl_chain_build(leaf, &o, &c, &r, NULL), PKL_OK);
	assert_int_equal(c.n, 4);
	assert_ptr_equal(c.certs[1], rollover);
	pkl_chain_check(&c, (pkl_time)time(NULL), 1, &r);
	assert_false(fails(&r, "chain.path_len"));
	assert_non_null(pkl_report_find(&r, "chain.ca_flags", PKL_SEV_OK));
	pkl_chain_free(&c);
	pkl_report_free(&r);

	/* a CA below the rollover is one too many for W.c.ca's pathlen 0 */
	X509 *sub = fx_cert("Sub CA", k3, rollover, k, -FX_DAY, 100 * FX_DAY, FX_ROOT, 0);
	X509 *leaf2 = fx_cert("vpn.unit.test", W.c.lk, sub, k3, -3600, 30 * FX_DAY, FX_GATEWAY, 0);
	sk_X509_push(pool, sub);
	r = (struct pkl_report)PKL_REPORT_INIT;
	assert_int_equal(pkl_chain_build(leaf2, &o, &c, &r, NULL), PKL_OK);
	assert_int_equal(c.n, 5);
	pkl_chain_check(&c, (pkl_time)time(NULL), 0, &r);
	const struct pkl_finding *f = pkl_report_find(&r, "chain.path_len", PKL_SEV_FAIL);
	assert_non_null(f);
	assert_string_equal(f->subject, "CN=Chain CA");
	assert_non_null(strstr(f->msg, "pathLenConstraint 0 but 1 CA certificate(s) follow it (self-issued "
				       "ones not counted: 1)"));
	pkl_chain_free(&c);
	pkl_report_free(&r);
	sk_X509_free(pool);
	sk_X509_free(anchors);
	X509_free(leaf2);
	X509_free(sub);
	X509_free(leaf);
	X509_free(rollover);
	EVP_PKEY_free(k3);
	EVP_PKEY_free(k);
}

/* x with an extension OID (critical or not), re-signed with ikey. */
static void add_ext(X509 *x, const char *oid, int critical, EVP_PKEY *ikey)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
	static const unsigned char null_der[2] = { 0x05, 0x00 };
	X509_EXTENSION *e;

	assert_non_null(obj);
	assert_true(ASN1_OCTET_STRING_set(val, null_der, 2));
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, val);
	assert_non_null(e);
	assert_true(X509_add_ext(x, e, -1));
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(val);
	ASN1_OBJECT_free(obj);
}

/* RFC 5280 4.2: a critical extension doctor does not recognise fails the
 * certificate; a recognised one or a non-critical unknown one does not. */
static void unknown_critical_extension(void **state)
{
	(void)state;
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, W.c.ca, W.c.ck, -3600, 30 * FX_DAY, FX_GATEWAY, 0);
	struct pkl_report r;

	add_ext(leaf, "1.3.6.1.4.1.55555.1.1", 0, W.c.ck);
	r = judge(leaf, W.c.ca, W.c.root, 0, NULL);
	assert_false(fails(&r, "chain.unknown_critical"));
	assert_non_null(pkl_report_find(&r, "chain.critical_extensions", PKL_SEV_OK));
	pkl_report_free(&r);

	add_ext(leaf, "2.5.29.32", 1, W.c.ck); /* certificatePolicies: recognised (see chain.c) */
	r = judge(leaf, W.c.ca, W.c.root, 0, NULL);
	assert_false(fails(&r, "chain.unknown_critical"));
	pkl_report_free(&r);

	add_ext(leaf, "1.3.6.1.4.1.55555.1.2", 1, W.c.ck);
	r = judge(leaf, W.c.ca, W.c.root, 0, NULL);
	const struct pkl_finding *f = pkl_report_find(&r, "chain.unknown_critical", PKL_SEV_FAIL);
	assert_non_null(f);
	assert_string_equal(f->subject, "CN=vpn.unit.test");
	assert_non_null(strstr(f->msg, "1.3.6.1.4.1.55555.1.2"));
	assert_true(pkl_chain_failed(&r));
	assert_null(pkl_report_find(&r, "chain.critical_extensions", PKL_SEV_OK));
	pkl_report_free(&r);
	X509_free(leaf);
}

static void loaders(void **state)
{
	(void)state;
	char p[128];
	struct pkl_err err = { 0 };
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *leaf = NULL;
	int is_p12 = -1;
	unsigned char *der = NULL;
	int len;

	/* PEM bundle: leaf + CA */
	snprintf(p, sizeof(p), "%s/bundle.pem", W.dir);
	FILE *f = fopen(p, "w");
	PEM_write_X509(f, W.c.leaf);
	PEM_write_X509(f, W.c.ca);
	fclose(f);
	assert_int_equal(pkl_chain_load_input(p, NULL, &leaf, extra, &is_p12, &err), PKL_OK);
	assert_int_equal(X509_cmp(leaf, W.c.leaf), 0);
	assert_int_equal(sk_X509_num(extra), 1);
	assert_int_equal(is_p12, 0);
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	extra = sk_X509_new_null();

	/* DER */
	len = i2d_X509(W.c.leaf, &der);
	snprintf(p, sizeof(p), "%s/leaf.der", W.dir);
	fx_write(p, der, (size_t)len);
	assert_int_equal(pkl_chain_load_input(p, NULL, &leaf, extra, &is_p12, &err), PKL_OK);
	X509_free(leaf);
	/* the AIA body parser takes DER, PEM, not garbage */
	X509 *x = pkl_chain_parse_issuer(der, (size_t)len);
	assert_non_null(x);
	X509_free(x);
	assert_null(pkl_chain_parse_issuer((const unsigned char *)"garbage!", 8));
	OPENSSL_free(der);

	/* garbage and a PEM without certificate: PKL_EINPUT with a clear reason */
	snprintf(p, sizeof(p), "%s/garbage", W.dir);
	fx_write(p, "\x01\x02\x03 not a cert", 15);
	assert_int_equal(pkl_chain_load_input(p, NULL, &leaf, extra, &is_p12, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "PEM, DER or PKCS#12"));
	snprintf(p, sizeof(p), "%s/key.pem", W.dir);
	f = fopen(p, "w");
	PEM_write_PrivateKey(f, W.c.lk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	assert_int_equal(pkl_chain_load_input(p, NULL, &leaf, extra, &is_p12, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "PEM file without a certificate"));

	/* a directory of anchors */
	assert_int_equal(pkl_chain_load_certs(W.dir, extra, &err), PKL_OK);
	assert_true(sk_X509_num(extra) >= 2); /* bundle.pem (2), leaf.der (1) */
	snprintf(p, sizeof(p), "%s/nosuch", W.dir);
	assert_int_equal(pkl_chain_load_certs(p, extra, &err), PKL_EINPUT);
	sk_X509_pop_free(extra, X509_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_path),
		cmocka_unit_test(missing_intermediate),
		cmocka_unit_test(untrusted_root),
		cmocka_unit_test(expired_root_named_as_such),
		cmocka_unit_test(expired_leaf_and_judging_later),
		cmocka_unit_test(clock_drift),
		cmocka_unit_test(wrong_key),
		cmocka_unit_test(issuer_not_a_ca_and_path_len),
		cmocka_unit_test(self_issued_not_counted),
		cmocka_unit_test(unknown_critical_extension),
		cmocka_unit_test(loaders),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
