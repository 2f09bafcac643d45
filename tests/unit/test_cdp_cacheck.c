/*
 * Unit tests for cdp_judge_ca (judge.c) and the catalog's learned CAs: which
 * CA certificates a mirror may learn from a peer (README, "Mirror mode":
 * a peer can never inject a new CA). Accepted: an intermediate a configured CA issued.
 * Refused: a root (even the trusted one renamed), an impostor with the
 * issuer's name but another key, a wrong AKI, a non-CA, an expired CA, a CA
 * below a pathLen-0 root, trailing bytes, garbage; at catalog level a
 * different certificate under a configured name (conflict), an older one
 * under a learned name, and a learned CA survives a reload.
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
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cdpd.h"
#include "fixture.h"

static EVP_PKEY *root_key, *sub_key, *other_key;
static X509 *root, *root0;

static void ext(X509 *x, X509 *iss, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, iss ? iss : x, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, val);
	assert_non_null(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/* A certificate for key named cn, issued by iss (self-issued when NULL) and
 * signed with signer; bc/ku NULL leave the extension out. */
static X509 *mk(const char *cn, EVP_PKEY *key, X509 *iss, EVP_PKEY *signer, const char *bc, const char *ku,
		long nb, long na, int serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, iss ? X509_get_subject_name(iss) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), nb);
	X509_gmtime_adj(X509_getm_notAfter(x), na);
	X509_set_pubkey(x, key);
	if (bc)
		ext(x, iss, NID_basic_constraints, bc);
	if (ku)
		ext(x, iss, NID_key_usage, ku);
	ext(x, iss, NID_subject_key_identifier, "hash");
	ext(x, iss, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static size_t der_of(X509 *x, unsigned char **d)
{
	int n;

	*d = NULL;
	n = i2d_X509(x, d);
	assert_true(n > 0);
	return (size_t)n;
}

/* Judges x (freed) against the configured issuers; returns the verdict. */
static enum cdp_verdict judge(X509 *x, X509 *iss, const char *expect_msg)
{
	unsigned char *d;
	size_t n = der_of(x, &d);
	X509 *out = NULL, *issv[1] = { iss };
	const char *names[1] = { "root" };
	struct pkl_err err = { 0 };
	enum cdp_verdict v;

	v = cdp_judge_ca(d, n, issv, names, 1, pkl_time_now(), "peer", &out, &err);
	if (expect_msg && !strstr(err.msg, expect_msg))
		fail_msg("message '%s' lacks '%s'", err.msg, expect_msg);
	assert_true((v == CDP_ACCEPT) == (out != NULL));
	X509_free(out);
	OPENSSL_free(d);
	X509_free(x);
	return v;
}

static int setup(void **state)
{
	(void)state;
	pkl_log_set_sink(fx_log_silent, NULL);
	root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	sub_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	root = mk("unit root", root_key, NULL, root_key, "critical,CA:TRUE", "critical,keyCertSign,cRLSign",
		  -3600, 86400L * 365, 1);
	root0 = mk("unit root", root_key, NULL, root_key, "critical,CA:TRUE,pathlen:0",
		   "critical,keyCertSign,cRLSign", -3600, 86400L * 365, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(root);
	X509_free(root0);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(sub_key);
	EVP_PKEY_free(other_key);
	return 0;
}

static X509 *sub(long nb, long na, int serial)
{
	return mk("unit sub", sub_key, root, root_key, "critical,CA:TRUE,pathlen:0",
		  "critical,keyCertSign,cRLSign", nb, na, serial);
}

static void test_judge_ca(void **state)
{
	X509 *imp_root;
	unsigned char *d, *d2;
	size_t n;
	X509 *out = NULL, *issv[1] = { root };
	const char *names[1] = { "root" };
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(judge(sub(-60, 86400, 10), root, NULL), CDP_ACCEPT);
	/* Roots: a new one, and the trusted one itself (signed by the trusted key). */
	assert_int_equal(judge(mk("evil root", other_key, NULL, other_key, "critical,CA:TRUE", "keyCertSign",
				  -60, 86400, 3),
			       root, "self-issued"),
			 CDP_UNTRUSTED);
	assert_int_equal(judge(X509_dup(root), root, "self-issued"), CDP_UNTRUSTED);
	/* An impostor issuer: same name, another key (AKI differs, then signature). */
	imp_root =
		mk("unit root", other_key, NULL, other_key, "critical,CA:TRUE", "keyCertSign", -60, 86400, 4);
	assert_int_equal(judge(mk("unit sub", sub_key, imp_root, other_key, "critical,CA:TRUE", "keyCertSign",
				  -60, 86400, 11),
			       root, "authorityKeyIdentifier"),
			 CDP_UNTRUSTED);
	X509_free(imp_root);
	/* The right name and AKI, signed by another key. */
	assert_int_equal(judge(mk("unit sub", sub_key, root, other_key, "critical,CA:TRUE", "keyCertSign",
				  -60, 86400, 12),
			       root, "bad signature"),
			 CDP_UNTRUSTED);
	/* Some other issuer altogether. */
	{
		X509 *stranger =
			mk("stranger", other_key, NULL, other_key, "CA:TRUE", "keyCertSign", -60, 86400, 5);

		assert_int_equal(judge(mk("unit sub", sub_key, stranger, other_key, "CA:TRUE", "keyCertSign",
					  -60, 86400, 13),
				       root, "is not a trusted CA"),
				 CDP_UNTRUSTED);
		X509_free(stranger);
	}
	/* Not a CA. */
	assert_int_equal(judge(mk("leaf", sub_key, root, root_key, "critical,CA:FALSE", "digitalSignature",
				  -60, 86400, 14),
			       root, "not a CA"),
			 CDP_INVALID);
	assert_int_equal(judge(mk("nobc", sub_key, root, root_key, NULL, "keyCertSign", -60, 86400, 15), root,
			       "not a CA"),
			 CDP_INVALID);
	assert_int_equal(
		judge(mk("noku", sub_key, root, root_key, "CA:TRUE", NULL, -60, 86400, 16), root, "not a CA"),
		CDP_INVALID);
	assert_int_equal(
		judge(mk("nocertsign", sub_key, root, root_key, "CA:TRUE", "cRLSign", -60, 86400, 17), root,
		      "not a CA"),
		CDP_INVALID);
	/* Validity. */
	assert_int_equal(judge(sub(-86400 * 2, -86400, 18), root, "not valid now"), CDP_INVALID);
	assert_int_equal(judge(sub(86400, 86400L * 2, 19), root, "not valid now"), CDP_INVALID);
	/* The issuer allows no CA below it. */
	assert_int_equal(judge(sub(-60, 86400, 20), root0, "pathLenConstraint"), CDP_UNTRUSTED);

	/* Encoding: trailing bytes, garbage, nothing. */
	{
		X509 *x = sub(-60, 86400, 21);

		n = der_of(x, &d);
		X509_free(x);
	}
	d2 = malloc(n + 1);
	assert_non_null(d2);
	memcpy(d2, d, n);
	d2[n] = 0;
	assert_int_equal(cdp_judge_ca(d2, n + 1, issv, names, 1, pkl_time_now(), "p", &out, &err),
			 CDP_INVALID);
	assert_non_null(strstr(err.msg, "trailing"));
	assert_int_equal(cdp_judge_ca(d2, n - 1, issv, names, 1, pkl_time_now(), "p", &out, &err),
			 CDP_INVALID);
	assert_int_equal(cdp_judge_ca((const unsigned char *)"garbage", 7, issv, names, 1, pkl_time_now(),
				      "p", &out, &err),
			 CDP_INVALID);
	assert_int_equal(cdp_judge_ca(d2, 0, issv, names, 1, pkl_time_now(), "p", &out, &err), CDP_INVALID);
	/* No configured issuer at all. */
	assert_int_equal(cdp_judge_ca(d, n, issv, names, 0, pkl_time_now(), "p", &out, &err), CDP_UNTRUSTED);
	assert_null(out);
	free(d2);
	OPENSSL_free(d);
}

static void write_der(const char *path, X509 *x)
{
	unsigned char *d;
	size_t n = der_of(x, &d);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	fclose(f);
	OPENSSL_free(d);
}

static void test_catalog_learns(void **state)
{
	char dir[64], p[128];
	struct cdp_config cfg;
	struct cdp_catalog *cat;
	struct cdp_snapshot *s;
	struct pkl_err err = { 0 };
	unsigned char *d1, *d2, *d3;
	size_t n1, n2, n3;
	X509 *s1 = sub(-7200, 86400L * 30, 30), *s2 = sub(-60, 86400L * 30, 31),
	     *other_root =
		     mk("unit root", other_key, NULL, other_key, "CA:TRUE", "keyCertSign", -60, 86400, 32);
	const struct cdp_entry *e;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pkl-unit-cacheck.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/root.crt", dir);
	write_der(p, root);
	memset(&cfg, 0, sizeof(cfg));
	cfg.trust[0] = p;
	cfg.n_trust = 1;
	cfg.max_crl_size = 1 << 20;
	cat = cdp_catalog_new(&cfg);
	assert_non_null(cat);
	cdp_catalog_reload(cat, "test");

	n1 = der_of(s1, &d1);
	n2 = der_of(s2, &d2);
	n3 = der_of(other_root, &d3);
	/* A configured name is never replaced; the same bytes are "unchanged". */
	assert_int_equal(cdp_catalog_offer_ca(cat, "root", d3, n3, "http://p/aia/root.crt", &err),
			 CDP_CONFLICT);
	{
		unsigned char *dr;
		size_t nr = der_of(root, &dr);

		assert_int_equal(cdp_catalog_offer_ca(cat, "root", dr, nr, "http://p/aia/root.crt", &err),
				 CDP_SAME);
		OPENSSL_free(dr);
	}
	assert_int_equal(cdp_catalog_offer_ca(cat, "../x", d1, n1, "http://p", &err), CDP_INVALID);
	/* Learned, served, and kept across a reload. */
	assert_int_equal(cdp_catalog_offer_ca(cat, "sub", d1, n1, "http://p/aia/sub.crt", &err), CDP_ACCEPT);
	cdp_catalog_reload(cat, "test");
	s = cdp_catalog_acquire(cat);
	e = cdp_snapshot_find(s, CDP_AIA, "sub");
	assert_non_null(e);
	assert_int_equal(e->body->len, n1);
	assert_memory_equal(e->body->data, d1, n1);
	assert_string_equal(e->source, "http://p/aia/sub.crt");
	cdp_snapshot_release(s);
	/* A newer one replaces it; then the older one is refused. */
	assert_int_equal(cdp_catalog_offer_ca(cat, "sub", d2, n2, "http://q/aia/sub.crt", &err), CDP_ACCEPT);
	assert_int_equal(cdp_catalog_offer_ca(cat, "sub", d1, n1, "http://p/aia/sub.crt", &err), CDP_OLDER);
	/* A root under a new name is never learned. */
	assert_int_equal(cdp_catalog_offer_ca(cat, "r2", d3, n3, "http://p/aia/r2.crt", &err), CDP_UNTRUSTED);
	s = cdp_catalog_acquire(cat);
	assert_null(cdp_snapshot_find(s, CDP_AIA, "r2"));
	e = cdp_snapshot_find(s, CDP_AIA, "sub");
	assert_non_null(e);
	assert_memory_equal(e->body->data, d2, n2);
	cdp_snapshot_release(s);

	/* A deleted trust file keeps its last good CA certificate until a
	 * restart (a glitch must not take a CA offline), so the learned CA
	 * stays too. */
	unlink(p);
	cdp_catalog_reload(cat, "test");
	s = cdp_catalog_acquire(cat);
	assert_non_null(cdp_snapshot_find(s, CDP_AIA, "root"));
	assert_non_null(cdp_snapshot_find(s, CDP_AIA, "sub"));
	cdp_snapshot_release(s);
	/* Another root takes the name: the learned CA loses its issuer and goes. */
	write_der(p, other_root);
	cdp_catalog_reload(cat, "test");
	s = cdp_catalog_acquire(cat);
	e = cdp_snapshot_find(s, CDP_AIA, "root");
	assert_non_null(e);
	assert_memory_equal(e->body->data, d3, n3);
	assert_null(cdp_snapshot_find(s, CDP_AIA, "sub"));
	cdp_snapshot_release(s);
	unlink(p);

	cdp_catalog_free(cat);
	rmdir(dir);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	OPENSSL_free(d3);
	X509_free(s1);
	X509_free(s2);
	X509_free(other_root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge_ca),
		cmocka_unit_test(test_catalog_learns),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
