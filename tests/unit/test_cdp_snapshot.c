/*
 * Unit tests for cdp_judge_crl (judge.c) and the catalog (catalog.c,
 * snapshot.c): the judging rules every candidate CRL goes through (accept, unchanged, rollback, conflict, stale, invalid),
 * the catalog built from a publish directory, peers' offers, and snapshot
 * lifetime: a snapshot taken before a swap keeps its bytes until released
 * (run under ASan by `make check`, which would flag a premature free).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "catalog.h"
#include "cdpd.h"
#include "fixture.h"
#include "pkilab/buf.h"

static EVP_PKEY *ca_key, *other_key;
static X509 *ca;
static char dir[256];

static X509 *make_ca(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"unit ca", -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_issuer_name(x, n);
	X509_set_subject_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* A CRL of `ca` with the given number, signed by signer, valid [now+a, now+b]. */
static size_t make_crl(EVP_PKEY *signer, long number, long a, long b, unsigned char **der)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	int len;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_gmtime_adj(t, a);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, b);
	X509_CRL_set1_nextUpdate(crl, t);
	ASN1_INTEGER_set(num, number);
	X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	akid->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(ca));
	X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0);
	assert_true(X509_CRL_sign(crl, signer, EVP_sha256()) > 0);
	*der = NULL;
	len = i2d_X509_CRL(crl, der);
	assert_true(len > 0);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return (size_t)len;
}

static void write_file(const char *rel, const void *d, size_t n)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static int setup(void **state)
{
	char p[300];
	unsigned char *der = NULL;
	int len;

	(void)state;
	pkl_log_set_sink(fx_log_silent, NULL);
	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ca = make_ca(ca_key);
	snprintf(dir, sizeof(dir), "/tmp/pkl-unit-cdp.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/crl", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/aia", dir);
	mkdir(p, 0755);
	len = i2d_X509(ca, &der);
	write_file("aia/unit.crt", der, (size_t)len);
	OPENSSL_free(der);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(fx_rmtree(dir), 0);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	return 0;
}

/* A served entry made from der, as the catalog would. */
static void entry_from(struct cdp_entry *e, const unsigned char *der, size_t len)
{
	struct pkl_err err = { 0 };

	memset(e, 0, sizeof(*e));
	e->body = cdp_blob_new(der, len);
	assert_int_equal(pkl_crlcheck_verify(der, len, "x", ca, &e->info, &err), PKL_OK);
}

static void test_judge(void **state)
{
	unsigned char *d1, *d2, *d2b, *bad, *stale, *stale_old;
	size_t l1 = make_crl(ca_key, 1, -60, 86400, &d1);
	size_t l2 = make_crl(ca_key, 2, -60, 86400, &d2);
	size_t l2b = make_crl(ca_key, 2, -30, 86400, &d2b);
	size_t lb = make_crl(other_key, 3, -60, 86400, &bad);
	size_t ls = make_crl(ca_key, 4, -7200, -3600, &stale);
	size_t lso = make_crl(ca_key, 1, -9000, -8000, &stale_old);
	struct cdp_entry cur;
	struct pkl_crlinfo info;
	struct pkl_err err = { 0 };
	pkl_time now = time(NULL);

	(void)state;
	assert_int_equal(cdp_judge_crl(NULL, d1, l1, ca, now, "f", &info, &err), CDP_ACCEPT);
	entry_from(&cur, d1, l1);
	assert_int_equal(cdp_judge_crl(&cur, d1, l1, ca, now, "f", &info, &err), CDP_SAME);
	assert_int_equal(cdp_judge_crl(&cur, d2, l2, ca, now, "f", &info, &err), CDP_ACCEPT);
	assert_string_equal(info.number, "2");
	assert_int_equal(cdp_judge_crl(&cur, bad, lb, ca, now, "f", &info, &err), CDP_INVALID);
	assert_non_null(strstr(err.msg, "bad signature"));
	assert_int_equal(cdp_judge_crl(&cur, d1, l1 - 10, ca, now, "f", &info, &err), CDP_INVALID);
	assert_int_equal(cdp_judge_crl(&cur, stale, ls, ca, now, "f", &info, &err), CDP_STALE);
	assert_non_null(strstr(err.msg, "expired"));
	cdp_blob_unref(cur.body);

	entry_from(&cur, d2, l2);
	assert_int_equal(cdp_judge_crl(&cur, d1, l1, ca, now, "f", &info, &err), CDP_OLDER);
	assert_non_null(strstr(err.msg, "CRL number 1 is lower than the served 2: rollback refused"));
	assert_int_equal(cdp_judge_crl(&cur, d2b, l2b, ca, now, "f", &info, &err), CDP_CONFLICT);
	assert_int_equal(cdp_judge_crl(&cur, d2, l2, NULL, now, "f", &info, &err), CDP_SAME);
	cdp_blob_unref(cur.body);

	/* When the served CRL is itself expired, a newer expired one is still progress. */
	entry_from(&cur, stale_old, lso);
	assert_int_equal(cdp_judge_crl(&cur, stale, ls, ca, now, "f", &info, &err), CDP_ACCEPT);
	cdp_blob_unref(cur.body);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	OPENSSL_free(d2b);
	OPENSSL_free(bad);
	OPENSSL_free(stale);
	OPENSSL_free(stale_old);
}

static struct cdp_config cfg_for_dir(void)
{
	struct cdp_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.publish[0] = dir;
	cfg.n_publish = 1;
	cfg.max_crl_size = 1 << 20;
	return cfg;
}

static size_t count_fatal(const struct cdp_snapshot *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_problems; i++)
		n += s->problems[i].fatal != 0;
	return n;
}

static void test_catalog_and_lifetime(void **state)
{
	struct cdp_config cfg = cfg_for_dir();
	struct cdp_catalog *cat = cdp_catalog_new(&cfg);
	struct cdp_snapshot *s0, *s1, *s2, *s3;
	const struct cdp_entry *e;
	unsigned char *d1, *d2, *bad;
	size_t l1 = make_crl(ca_key, 1, -60, 86400, &d1);
	size_t l2 = make_crl(ca_key, 2, -60, 86400, &d2);
	size_t lb = make_crl(other_key, 5, -60, 86400, &bad);

	(void)state;
	assert_non_null(cat);
	s0 = cdp_catalog_acquire(cat);
	assert_int_equal(s0->n_entries, 0);

	/* No CRL yet: the CA certificate is served, the missing CRL is a problem. */
	cdp_catalog_reload(cat, "test");
	s1 = cdp_catalog_acquire(cat);
	assert_non_null(cdp_snapshot_find(s1, CDP_AIA, "unit"));
	assert_null(cdp_snapshot_find(s1, CDP_CRL, "unit"));
	assert_int_equal(count_fatal(s1), 1);
	assert_non_null(strstr(s1->problems[0].msg, "no valid CRL"));

	write_file("crl/unit.crl", d1, l1);
	cdp_catalog_reload(cat, "test");
	s2 = cdp_catalog_acquire(cat);
	e = cdp_snapshot_find(s2, CDP_CRL, "unit");
	assert_non_null(e);
	assert_int_equal(e->body->len, l1);
	assert_memory_equal(e->body->data, d1, l1);
	assert_string_equal(e->info.number, "1");
	assert_int_equal(e->etag[0], '"');
	assert_int_equal(strlen(e->etag), 66);
	assert_int_equal(count_fatal(s2), 0);
	assert_true(s2->generation > s1->generation);

	/* A bad replacement: the good one stays, the reason is recorded. */
	write_file("crl/unit.crl", bad, lb);
	cdp_catalog_reload(cat, "test");
	s3 = cdp_catalog_acquire(cat);
	e = cdp_snapshot_find(s3, CDP_CRL, "unit");
	assert_non_null(e);
	assert_memory_equal(e->body->data, d1, l1);
	assert_int_equal(count_fatal(s3), 1);
	assert_non_null(strstr(s3->problems[0].msg, "bad signature"));
	/* Same bytes are shared between snapshots, not copied. */
	assert_ptr_equal(cdp_snapshot_find(s2, CDP_CRL, "unit")->body, e->body);
	cdp_snapshot_release(s3);

	/* A peer offers CRL 2: accepted; an unknown CA and a rollback are refused. */
	{
		struct pkl_err err = { 0 };

		assert_int_equal(cdp_catalog_offer_crl(cat, "nope", d2, l2, "http://p/crl/nope.crl", &err),
				 CDP_UNKNOWN_CA);
		assert_int_equal(cdp_catalog_offer_crl(cat, "unit", d2, l2, "http://p/crl/unit.crl", &err),
				 CDP_ACCEPT);
		assert_int_equal(cdp_catalog_offer_crl(cat, "unit", d1, l1, "http://q/crl/unit.crl", &err),
				 CDP_OLDER);
		cdp_catalog_note(cat, "unit", "http://q/crl/unit.crl", "refused (older)");
	}
	s3 = cdp_catalog_acquire(cat);
	e = cdp_snapshot_find(s3, CDP_CRL, "unit");
	assert_memory_equal(e->body->data, d2, l2);
	assert_string_equal(e->source, "http://p/crl/unit.crl");
	assert_true(s3->n_problems >= 2); /* the disk problem (fatal) and the peer warning */
	cdp_snapshot_release(s3);

	/* Snapshots taken before the swaps still hold their bytes. */
	e = cdp_snapshot_find(s2, CDP_CRL, "unit");
	assert_memory_equal(e->body->data, d1, l1);
	cdp_snapshot_release(s2);
	cdp_snapshot_release(s1);
	cdp_snapshot_release(s0);

	/* Restoring the good file clears the disk problem; the served CRL 2
	 * is newer than the file's 1, so the file is now a refused rollback. */
	write_file("crl/unit.crl", d1, l1);
	cdp_catalog_reload(cat, "test");
	s3 = cdp_catalog_acquire(cat);
	e = cdp_snapshot_find(s3, CDP_CRL, "unit");
	assert_memory_equal(e->body->data, d2, l2);
	assert_int_equal(count_fatal(s3), 1);
	assert_non_null(strstr(s3->problems[0].msg, "rollback refused"));
	cdp_snapshot_release(s3);

	assert_true(cdp_catalog_reloads(cat) >= 4);
	cdp_catalog_free(cat);
	{
		char p[300];

		snprintf(p, sizeof(p), "%s/crl/unit.crl", dir);
		unlink(p);
	}
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	OPENSSL_free(bad);
}

/* A mirror before its first pull: a CA with no CRL is waiting, not an error
 * (no "no valid CRL"); once a pull reached a peer, it is (README, "Mirror mode"). */
static void test_mirror_first_pull(void **state)
{
	struct cdp_config cfg = cfg_for_dir();
	struct cdp_catalog *cat;
	struct cdp_snapshot *s;
	uint64_t g;

	(void)state;
	cfg.mirror[0] = "http://127.0.0.1:1";
	cfg.n_mirror = 1;
	cat = cdp_catalog_new(&cfg);
	assert_non_null(cat);
	cdp_catalog_reload(cat, "test");
	s = cdp_catalog_acquire(cat);
	assert_true(s->awaiting_pull);
	assert_int_equal(count_fatal(s), 1);
	assert_string_equal(s->problems[0].ca, "unit");
	assert_string_equal(s->problems[0].msg, CDP_AWAITING_PULL);
	g = s->generation;
	cdp_snapshot_release(s);

	cdp_catalog_pulled(cat);
	s = cdp_catalog_acquire(cat);
	assert_false(s->awaiting_pull);
	assert_true(s->generation > g);
	assert_int_equal(count_fatal(s), 1);
	assert_string_equal(s->problems[0].msg, "no valid CRL to serve");
	g = s->generation;
	cdp_snapshot_release(s);

	cdp_catalog_pulled(cat); /* only the first call acts */
	s = cdp_catalog_acquire(cat);
	assert_int_equal(s->generation, g);
	cdp_snapshot_release(s);
	cdp_catalog_free(cat);
}

/* --publish PKI instead of PKI/publish: nothing served, a warning naming the
 * likely right path, and /healthz unhealthy with the reason. */
static void test_publish_serves_nothing(void **state)
{
	struct cdp_config cfg = cfg_for_dir();
	struct cdp_ctx ctx;
	struct cdp_catalog *cat;
	struct cdp_snapshot *s;
	struct pkl_buf b = PKL_BUF_INIT;
	char pki[300], p[400], want[500];

	(void)state;
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	assert_int_equal(mkdir(pki, 0755), 0);
	snprintf(p, sizeof(p), "%s/publish", pki);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/publish/crl", pki);
	assert_int_equal(mkdir(p, 0755), 0);
	cfg.publish[0] = pki;
	cat = cdp_catalog_new(&cfg);
	assert_non_null(cat);
	cdp_catalog_reload(cat, "test");
	s = cdp_catalog_acquire(cat);
	assert_int_equal(s->n_entries, 0);
	assert_int_equal(s->n_problems, 1);
	assert_false(s->problems[0].fatal);
	assert_string_equal(s->problems[0].source, pki);
	snprintf(want, sizeof(want), "serves nothing (did you mean %s/publish?)", pki);
	assert_non_null(strstr(s->problems[0].msg, want));

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.cat = cat;
	assert_int_equal(cdp_health_json(&ctx, s, pkl_time_now(), &b), 0);
	assert_non_null(strstr((const char *)b.data, "no CA is served"));
	pkl_buf_free(&b);
	cdp_snapshot_release(s);
	cdp_catalog_free(cat);
	assert_int_equal(fx_rmtree(pki), 0);
}

static void test_blob_refs(void **state)
{
	struct cdp_blob *b = cdp_blob_new("abc", 3);

	(void)state;
	assert_non_null(b);
	assert_ptr_equal(cdp_blob_ref(b), b);
	cdp_blob_unref(b);
	assert_memory_equal(b->data, "abc", 3); /* still alive: one reference left */
	cdp_blob_unref(b);
	cdp_blob_unref(NULL);
	cdp_snapshot_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blob_refs),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_catalog_and_lifetime),
		cmocka_unit_test(test_mirror_first_pull),
		cmocka_unit_test(test_publish_serves_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
