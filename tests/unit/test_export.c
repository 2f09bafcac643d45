/* Unit tests: exports (ca/lib/export.c) — the two PKCS#12 profiles with
 * their algorithms read back from the DER (Microsoft's PFX profiles
 * TripleDES-SHA1 and AES256-SHA256), formats and
 * profiles by name, all-or-nothing writes, and the openssl-ca index. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>

#include "pkilab/cert.h"
#include "pkilab/export.h"
#include "pkilab/file.h"
#include "pkilab/issue.h"
#include "pkilab/key.h"
#include "pkilab/revoke.h"
#include "fixture.h"

static char dir[] = "/tmp/pkl-test-export-XXXXXX";
static char pkidir[PATH_MAX];
static struct pkl_pki *pki;
static X509 *root_cert, *leaf_cert;
static EVP_PKEY *root_key, *leaf_key;

/* A unit entity; the leaf gets a SAN, as an exported gateway would. */
static void entity(struct pkl_entity *e, const char *name, const char *issuer, int ca, pkl_time now)
{
	fx_entity(e, name, issuer, ca, now, "O=pkilab unit, ");
	if (!ca) {
		pkl_san_parse("gw.unit.test", &e->sans[0], NULL);
		e->n_sans = 1;
	}
}

static int setup(void **state)
{
	struct pkl_issue_ctx ctx;
	struct pkl_entity e;
	struct pkl_txn *txn;
	struct pkl_err err = { 0 };

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(pkidir, sizeof(pkidir), "%s/pki", dir);
	if (!(pki = pkl_pki_open(pkidir, 1, &err)))
		return -1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.now = pkl_time_now();
	txn = pkl_txn_begin(pki, &err);
	entity(&e, "root", "", 1, ctx.now);
	if (!txn ||
	    pkl_issue_entity(txn, pki, &ctx, &e, NULL, NULL, NULL, 1, &root_cert, &root_key, &err) != PKL_OK)
		return -1;
	entity(&e, "gw", "root", 0, ctx.now);
	if (pkl_issue_entity(txn, pki, &ctx, &e, root_cert, root_key, NULL, 1, &leaf_cert, &leaf_key, &err) !=
	    PKL_OK)
		return -1;
	if (pkl_txn_commit(txn, &err) != PKL_OK)
		return -1;
	/* Use the certificates as stored (DER), as every export does: the
	 * in-memory objects from issuance are not what a later process sees. */
	{
		struct pkl_buf d = PKL_BUF_INIT;
		X509 *a = NULL, *b = NULL;
		if (pkl_cert_to_der(root_cert, &d, &err) == PKL_OK)
			a = pkl_cert_from_der(d.data, d.len, "root", &err);
		d.len = 0;
		if (pkl_cert_to_der(leaf_cert, &d, &err) == PKL_OK)
			b = pkl_cert_from_der(d.data, d.len, "gw", &err);
		pkl_buf_free(&d);
		if (!a || !b)
			return -1;
		X509_free(root_cert);
		X509_free(leaf_cert);
		root_cert = a;
		leaf_cert = b;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pkl_pki_close(pki);
	X509_free(root_cert);
	X509_free(leaf_cert);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(leaf_key);
	return fx_rmtree(dir);
}

static void names(void **state)
{
	enum pkl_export_format f;
	enum pkl_p12_profile p;
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_export_format_parse("strongswan", &f, &err), PKL_OK);
	assert_int_equal(f, PKL_EXPORT_STRONGSWAN);
	assert_int_equal(pkl_export_format_parse("openssl-index", &f, &err), PKL_OK);
	assert_int_equal(pkl_export_format_parse("pfx", &f, &err), PKL_EINPUT);
	assert_int_equal(pkl_export_format_parse("windws", &f, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "did you mean 'windows'"));
	assert_int_equal(pkl_export_profile_parse("modern", &p, &err), PKL_OK);
	assert_int_equal(p, PKL_P12_MODERN);
	assert_int_equal(pkl_export_profile_parse("legacy", &p, &err), PKL_OK);
	assert_int_equal(p, PKL_P12_LEGACY);
	assert_int_equal(pkl_export_profile_parse("rc2", &p, &err), PKL_EINPUT);
	assert_true(pkl_export_needs_password(PKL_EXPORT_P12));
	assert_true(pkl_export_needs_password(PKL_EXPORT_WINDOWS));
	assert_false(pkl_export_needs_password(PKL_EXPORT_STRONGSWAN));
}

/* The encryption algorithm of the first (certificate) bag and of the key bag. */
static void bag_algs(PKCS12 *p12, const char *pass, int *cert_alg, int *key_alg)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);

	*cert_alg = *key_alg = NID_undef;
	for (int i = 0; safes && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted) {
			*cert_alg = OBJ_obj2nid(p7->d.encrypted->enc_data->algorithm->algorithm);
		} else if (OBJ_obj2nid(p7->type) == NID_pkcs7_data) {
			STACK_OF(PKCS12_SAFEBAG) *bags = PKCS12_unpack_p7data(p7);
			for (int j = 0; bags && j < sk_PKCS12_SAFEBAG_num(bags); j++) {
				const PKCS12_SAFEBAG *b = sk_PKCS12_SAFEBAG_value(bags, j);
				if (PKCS12_SAFEBAG_get_nid(b) == NID_pkcs8ShroudedKeyBag) {
					const X509_ALGOR *alg;
					X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(b), &alg, NULL);
					*key_alg = OBJ_obj2nid(alg->algorithm);
				}
			}
			sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		}
	}
	(void)pass;
	sk_PKCS7_pop_free(safes, PKCS7_free);
}

static void p12_profile(enum pkl_p12_profile prof, int want_mac, int want_alg)
{
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	STACK_OF(X509) *chain = sk_X509_new_null(), *ca = NULL;
	const unsigned char *p;
	const X509_ALGOR *macalg = NULL;
	const ASN1_OBJECT *macobj = NULL;
	PKCS12 *p12;
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	int cert_alg, key_alg;

	sk_X509_push(chain, root_cert);
	if (pkl_export_p12(leaf_key, leaf_cert, chain, "gw", "pw", prof, &der, &err) != PKL_OK)
		fail_msg("pkl_export_p12: %s", err.msg);
	p = der.data;
	p12 = d2i_PKCS12(NULL, &p, (long)der.len);
	assert_non_null(p12);
	assert_int_equal(PKCS12_verify_mac(p12, "pw", -1), 1);
	assert_int_equal(PKCS12_verify_mac(p12, "wrong", -1), 0);
	PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
	X509_ALGOR_get0(&macobj, NULL, NULL, macalg);
	assert_int_equal(OBJ_obj2nid(macobj), want_mac);
	bag_algs(p12, "pw", &cert_alg, &key_alg);
	assert_int_equal(cert_alg, want_alg);
	assert_int_equal(key_alg, want_alg);
	assert_int_equal(PKCS12_parse(p12, "pw", &k, &c, &ca), 1);
	assert_int_equal(EVP_PKEY_eq(k, leaf_key), 1);
	assert_int_equal(X509_cmp(c, leaf_cert), 0);
	assert_int_equal(sk_X509_num(ca), 1);
	EVP_PKEY_free(k);
	X509_free(c);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	sk_X509_free(chain);
	pkl_buf_free(&der);
}

static void p12_legacy(void **state)
{
	(void)state;
	/* Windows before 1709 and OpenSSL 3 without legacy: 3DES for both bags (never RC2), HMAC-SHA1. */
	p12_profile(PKL_P12_LEGACY, NID_sha1, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
}

static void p12_modern(void **state)
{
	(void)state;
	/* Windows 11 / Server 2019: PBES2 (PBKDF2 + AES-256-CBC), HMAC-SHA256. */
	p12_profile(PKL_P12_MODERN, NID_sha256, NID_pbes2);
}

static void p12_needs_password(void **state)
{
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_export_p12(leaf_key, leaf_cert, NULL, "gw", "", PKL_P12_LEGACY, &der, &err),
			 PKL_EINPUT);
	assert_int_equal(pkl_export_p12(leaf_key, leaf_cert, NULL, "gw", NULL, PKL_P12_LEGACY, &der, &err),
			 PKL_EINPUT);
	assert_int_equal(der.len, 0);
}

/* Does dir/rel exist? */
static int exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return stat(p, &sb) == 0;
}

static void all_or_nothing(void **state)
{
	struct pkl_export_opts o = { .format = PKL_EXPORT_WINDOWS, .password = "pw" };
	struct pkl_buf list = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	char out[PATH_MAX], blocker[PATH_MAX];

	(void)state;
	/* A directory where the last file goes: nothing at all is written. */
	snprintf(out, sizeof(out), "%s/win", dir);
	snprintf(blocker, sizeof(blocker), "%s/win/README.txt", dir);
	assert_int_equal(pkl_file_mkdirs(blocker, 0755, &err), PKL_OK);
	o.out_dir = out;
	assert_int_not_equal(pkl_export(pki, "gw", &o, &list, &err), PKL_OK);
	assert_false(exists("win/gw.pfx"));
	assert_false(exists("win/import.ps1"));
	assert_int_equal(list.len, 0);
	/* Below a regular file: refused, nothing created. */
	snprintf(blocker, sizeof(blocker), "%s/plain", dir);
	assert_int_equal(pkl_file_write_atomic(blocker, "x", 1, 0644, &err), PKL_OK);
	snprintf(out, sizeof(out), "%s/plain/sub/deeper", dir);
	o.format = PKL_EXPORT_PEM;
	assert_int_not_equal(pkl_export(pki, "gw", &o, &list, &err), PKL_OK);
	/* A new tree of folders is removed again when a later step fails. */
	snprintf(out, sizeof(out), "%s/new/a/b", dir);
	o.out_dir = out;
	o.format = PKL_EXPORT_P12;
	o.password = NULL;
	assert_int_equal(pkl_export(pki, "gw", &o, &list, &err), PKL_EINPUT);
	assert_false(exists("new"));
	/* Unknown names. */
	o.password = "pw";
	assert_int_equal(pkl_export(pki, "nosuch", &o, &list, &err), PKL_EINPUT);
	assert_false(exists("new"));
	/* And the success path lists what it wrote. */
	assert_int_equal(pkl_export(pki, "gw", &o, &list, &err), PKL_OK);
	assert_true(exists("new/a/b/gw.p12"));
	assert_non_null(strstr(pkl_buf_cstr(&list), "/new/a/b/gw.p12"));
	pkl_buf_free(&list);
}

static void layouts(void **state)
{
	struct pkl_export_opts o = { .format = PKL_EXPORT_STRONGSWAN };
	struct pkl_buf conf = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	char out[PATH_MAX], p[PATH_MAX + 32];

	(void)state;
	snprintf(out, sizeof(out), "%s/ss", dir);
	o.out_dir = out;
	assert_int_equal(pkl_export(pki, "gw", &o, NULL, &err), PKL_OK);
	assert_true(exists("ss/x509ca/root.pem"));
	assert_true(exists("ss/x509/gw.pem"));
	assert_true(exists("ss/private/gw.pem"));
	snprintf(p, sizeof(p), "%s/swanctl.conf", out);
	assert_int_equal(pkl_file_read(p, 0, &conf, &err), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&conf), "revocation = strict"));
	assert_non_null(strstr(pkl_buf_cstr(&conf), "send_cert = always"));
	assert_non_null(strstr(pkl_buf_cstr(&conf), "id = gw.unit.test"));
	pkl_buf_free(&conf);
}

static void index_txt(void **state)
{
	struct pkl_revoke_req req = { .ref = "gw", .reason = PKL_REASON_KEY_COMPROMISE };
	struct pkl_cert_row root;
	struct pkl_buf idx = PKL_BUF_INIT;
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_db_cert_find(pki->db, "root", &root, &err), PKL_OK);
	assert_int_equal(pkl_export_index(pki, root.id, &idx, &err), PKL_OK);
	assert_int_equal(idx.data[0], 'V');
	assert_non_null(strstr(pkl_buf_cstr(&idx), "\tunknown\t/O=pkilab unit/CN=gw\n"));
	idx.len = 0;
	req.invalidity = pkl_time_now() - 86400;
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_OK);
	assert_int_equal(pkl_export_index(pki, root.id, &idx, &err), PKL_OK);
	assert_int_equal(idx.data[0], 'R');
	/* keyCompromise with an invalidity date is openssl's "keyTime,<GeneralizedTime>". */
	assert_non_null(strstr(pkl_buf_cstr(&idx), "Z,keyTime,"));
	pkl_buf_free(&idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),          cmocka_unit_test(p12_legacy),
		cmocka_unit_test(p12_modern),     cmocka_unit_test(p12_needs_password),
		cmocka_unit_test(all_or_nothing), cmocka_unit_test(layouts),
		cmocka_unit_test(index_txt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
