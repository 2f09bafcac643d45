/* Unit tests: key specs, generation, PKCS#8 PEM (plain and PBES2 with
 * PBKDF2-HMAC-SHA256 and AES-256; earlier 2,048-iteration keys still load),
 * passphrase errors and the passphrase sources (ca/lib/key.c).
 * Independent check: the openssl CLI reads what we write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pkilab/file.h"
#include "pkilab/key.h"
#include "fixture.h"

static const char *const dir = fx_dir; /* fx_dir_setup makes it */

static void spec_parse_canonical_and_aliases(void **state)
{
	static const char *const names[] = { "rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256",
					     "ec:P-384", "ec:P-521", "ed25519" };
	struct pkl_key_spec s;
	struct pkl_err err = { 0 };
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(pkl_key_spec_parse(names[i], &s, &err), PKL_OK);
		assert_string_equal(pkl_key_spec_str(&s, buf, sizeof(buf)), names[i]);
	}
	assert_int_equal(pkl_key_spec_parse("ecdsa:P-384", &s, &err), PKL_OK);
	assert_int_equal(s.type, PKL_KEY_EC);
	assert_int_equal(s.curve_nid, NID_secp384r1);
	assert_string_equal(pkl_key_spec_str(&s, buf, sizeof(buf)), "ec:P-384");
	assert_int_equal(pkl_key_spec_parse("rsa", &s, &err), PKL_OK);
	assert_int_equal(s.bits, 2048);
	assert_int_equal(pkl_key_spec_parse("ec", &s, &err), PKL_OK);
	assert_int_equal(s.curve_nid, NID_X9_62_prime256v1);
}

static void spec_parse_unknown_suggests(void **state)
{
	struct pkl_key_spec s;
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_key_spec_parse("rsa:2049", &s, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "unknown key type 'rsa:2049'"));
	assert_non_null(strstr(err.msg, "did you mean 'rsa:2048'"));
	assert_int_equal(pkl_key_spec_parse("dsa:1024", &s, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "expected rsa:2048"));
}

/* Generation yields the requested algorithm, and pkl_key_spec_of reads it back. */
static void generate_and_spec_of(void **state)
{
	static const char *const names[] = { "ec:P-256", "ec:P-384", "ec:P-521", "ed25519", "rsa:2048" };
	struct pkl_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct pkl_key_spec s, back;
		EVP_PKEY *k;
		assert_int_equal(pkl_key_spec_parse(names[i], &s, &err), PKL_OK);
		k = pkl_key_generate(&s, &err);
		assert_non_null(k);
		assert_int_equal(pkl_key_spec_of(k, &back, &err), PKL_OK);
		assert_int_equal(back.type, s.type);
		assert_int_equal(back.bits, s.bits);
		if (s.type == PKL_KEY_EC)
			assert_int_equal(back.curve_nid, s.curve_nid);
		EVP_PKEY_free(k);
	}
}

/* Digest per key: NIST SP 800-57 pairs P-384 with SHA-384, P-521 with SHA-512,
 * pure EdDSA has none. */
static void default_md(void **state)
{
	struct {
		const char *spec;
		int md_nid;
	} cases[] = { { "ec:P-256", NID_sha256 },
		      { "ec:P-384", NID_sha384 },
		      { "ec:P-521", NID_sha512 },
		      { "ed25519", NID_undef },
		      { "rsa:2048", NID_sha256 } };
	struct pkl_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkl_key_spec s;
		EVP_PKEY *k;
		const EVP_MD *md;
		assert_int_equal(pkl_key_spec_parse(cases[i].spec, &s, &err), PKL_OK);
		k = pkl_key_generate(&s, &err);
		assert_non_null(k);
		md = pkl_key_default_md(k);
		if (cases[i].md_nid == NID_undef)
			assert_null(md);
		else
			assert_int_equal(EVP_MD_get_type(md), cases[i].md_nid);
		EVP_PKEY_free(k);
	}
}

static EVP_PKEY *gen(const char *spec)
{
	struct pkl_key_spec s;
	struct pkl_err err = { 0 };

	assert_int_equal(pkl_key_spec_parse(spec, &s, &err), PKL_OK);
	return pkl_key_generate(&s, &err);
}

static void pem_plain_round_trip(void **state)
{
	EVP_PKEY *k = gen("ec:P-256"), *back;
	struct pkl_buf pem = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	char path[PATH_MAX], cmd[PATH_MAX + 64];

	(void)state;
	assert_int_equal(pkl_key_to_pem(k, NULL, &pem, &err), PKL_OK);
	/* PKCS#8, not the traditional "EC PRIVATE KEY" form */
	assert_memory_equal(pem.data, "-----BEGIN PRIVATE KEY-----", 27);
	back = pkl_key_from_pem(pem.data, pem.len, NULL, "k", &err);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);
	/* a passphrase given for a plain key is harmless */
	EVP_PKEY_free(back);
	back = pkl_key_from_pem(pem.data, pem.len, "unused", "k", &err);
	assert_non_null(back);

	snprintf(path, sizeof(path), "%s/plain.key", dir);
	fx_write(path, pem.data, pem.len);
	snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -noout 2>/dev/null", path);
	assert_int_equal(system(cmd), 0);
	EVP_PKEY_free(back);
	back = pkl_key_load(path, NULL, &err);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);

	EVP_PKEY_free(back);
	EVP_PKEY_free(k);
	pkl_buf_wipe(&pem);
}

/* The PBKDF2 parameters of an encrypted PKCS#8 PEM: iteration count, salt
 * length and PRF; the salt itself is copied to `salt` (at least 64 bytes). */
static void pbkdf2_params(const struct pkl_buf *pem, long *iter, int *salt_len, unsigned char *salt,
			  int *prf_nid, int *cipher_nid)
{
	X509_SIG *p8;
	const X509_ALGOR *alg;
	const ASN1_OCTET_STRING *digest;
	PBE2PARAM *pbe2;
	PBKDF2PARAM *kdf;
	BIO *bio;

	bio = BIO_new_mem_buf(pem->data, (int)pem->len);
	p8 = PEM_read_bio_PKCS8(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(p8);
	X509_SIG_get0(p8, &alg, &digest);
	assert_int_equal(OBJ_obj2nid(alg->algorithm), NID_pbes2);
	pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
	assert_non_null(pbe2);
	assert_int_equal(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_pbkdf2);
	*cipher_nid = OBJ_obj2nid(pbe2->encryption->algorithm);
	kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
	assert_non_null(kdf);
	assert_int_equal(kdf->salt->type, V_ASN1_OCTET_STRING);
	*salt_len = kdf->salt->value.octet_string->length;
	assert_true(*salt_len <= 64);
	memcpy(salt, kdf->salt->value.octet_string->data, (size_t)*salt_len);
	*iter = ASN1_INTEGER_get(kdf->iter);
	/* an absent PRF means the RFC 8018 default, hmacWithSHA1 */
	*prf_nid = kdf->prf ? OBJ_obj2nid(kdf->prf->algorithm) : NID_hmacWithSHA1;
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(pbe2);
	X509_SIG_free(p8);
}

/* Encrypted keys are PKCS#8 EncryptedPrivateKeyInfo with PBES2: PBKDF2 with
 * HMAC-SHA256, PKL_KEY_KDF_ITERATIONS iterations and a fresh 16-byte salt for
 * every write, then AES-256-CBC; readable by openssl with the passphrase and
 * not without. */
static void pem_encrypted_pbes2_aes256(void **state)
{
	EVP_PKEY *k = gen("ed25519"), *back;
	struct pkl_buf pem = PKL_BUF_INIT, pem2 = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	unsigned char salt[64], salt2[64];
	int salt_len, salt2_len, prf, cipher;
	long iter;
	char path[PATH_MAX], cmd[PATH_MAX + 128];

	(void)state;
	assert_non_null(k);
	assert_int_equal(pkl_key_to_pem(k, "correct horse", &pem, &err), PKL_OK);
	assert_memory_equal(pem.data, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37);

	pbkdf2_params(&pem, &iter, &salt_len, salt, &prf, &cipher);
	assert_int_equal(cipher, NID_aes_256_cbc);
	assert_int_equal(prf, NID_hmacWithSHA256);
	assert_int_equal(iter, PKL_KEY_KDF_ITERATIONS);
	assert_true(iter >= 600000); /* OWASP 2023 for PBKDF2-HMAC-SHA256 */
	assert_int_equal(salt_len, 16);
	/* the same key and passphrase again: a new salt, so another ciphertext */
	assert_int_equal(pkl_key_to_pem(k, "correct horse", &pem2, &err), PKL_OK);
	pbkdf2_params(&pem2, &iter, &salt2_len, salt2, &prf, &cipher);
	assert_int_equal(salt2_len, 16);
	assert_memory_not_equal(salt, salt2, 16);
	assert_true(pem.len != pem2.len || memcmp(pem.data, pem2.data, pem.len) != 0);
	pkl_buf_wipe(&pem2);

	back = pkl_key_from_pem(pem.data, pem.len, "correct horse", "k", &err);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);
	EVP_PKEY_free(back);

	snprintf(path, sizeof(path), "%s/enc.key", dir);
	fx_write(path, pem.data, pem.len);
	snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -passin 'pass:correct horse' -noout 2>/dev/null",
		 path);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -passin pass:wrong -noout 2>/dev/null", path);
	assert_int_not_equal(system(cmd), 0);

	EVP_PKEY_free(k);
	pkl_buf_wipe(&pem);
}

static void wrong_and_missing_passphrase_messages(void **state)
{
	EVP_PKEY *k = gen("ec:P-256"), *back;
	struct pkl_buf pem = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	char path[PATH_MAX], want[PATH_MAX + 128];

	(void)state;
	assert_int_equal(pkl_key_to_pem(k, "s3cret", &pem, &err), PKL_OK);
	back = pkl_key_from_pem(pem.data, pem.len, "wrong", "ca.key", &err);
	assert_null(back);
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_string_equal(err.msg, "cannot decrypt key 'ca.key': wrong passphrase");

	pkl_err_clear(&err);
	back = pkl_key_from_pem(pem.data, pem.len, NULL, "ca.key", &err);
	assert_null(back);
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_string_equal(err.msg, "key 'ca.key' is encrypted: set PKILAB_KEY_PASSPHRASE_FILE "
				     "or PKILAB_KEY_PASSPHRASE");

	/* through a file, the path names the key */
	snprintf(path, sizeof(path), "%s/wrong.key", dir);
	fx_write(path, pem.data, pem.len);
	pkl_err_clear(&err);
	assert_null(pkl_key_load(path, "nope", &err));
	snprintf(want, sizeof(want), "cannot decrypt key '%s': wrong passphrase", path);
	assert_string_equal(err.msg, want);

	/* not a key at all: an input error, not a passphrase one */
	pkl_err_clear(&err);
	assert_null(pkl_key_from_pem("garbage", 7, NULL, "x", &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_non_null(strstr(err.msg, "cannot read private key 'x'"));

	/* a missing file */
	pkl_err_clear(&err);
	snprintf(path, sizeof(path), "%s/missing.key", dir);
	assert_null(pkl_key_load(path, NULL, &err));
	assert_int_equal(err.rc, PKL_EINPUT);

	EVP_PKEY_free(k);
	pkl_buf_wipe(&pem);
}

/* Every key type survives the encrypted round trip (a wrong passphrase is
 * checked once, in wrong_and_missing_passphrase_messages: each attempt costs
 * two derivations, 0.2 s, 1 s under ASan). */
static void pem_encrypted_round_trip_all_types(void **state)
{
	static const char *const specs[] = { "rsa:2048", "ec:P-384" }; /* ed25519: above */
	struct pkl_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		EVP_PKEY *k = gen(specs[i]), *back;
		struct pkl_buf pem = PKL_BUF_INIT;

		assert_non_null(k);
		assert_int_equal(pkl_key_to_pem(k, "pa55 phrase \xc3\xa9", &pem, &err), PKL_OK);
		back = pkl_key_from_pem(pem.data, pem.len, "pa55 phrase \xc3\xa9", specs[i], &err);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(k, back), 1);
		EVP_PKEY_free(back);
		EVP_PKEY_free(k);
		pkl_buf_wipe(&pem);
	}
}

/* Keys written before the work factor was raised - OpenSSL's PEM default of
 * 2,048 PBKDF2 iterations with an 8-byte salt, as PEM_write_bio_PrivateKey
 * made them - and keys from `openssl genpkey -aes256` still load, and a wrong
 * passphrase on them keeps its message. */
static void pem_encrypted_earlier_formats_load(void **state)
{
	EVP_PKEY *k = gen("ec:P-256"), *back;
	struct pkl_buf pem = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	unsigned char salt[64];
	int salt_len, prf, cipher;
	long iter;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	char path[PATH_MAX], cmd[PATH_MAX + 128];

	(void)state;
	assert_non_null(k);
	assert_non_null(bio);
	/* exactly what pkl_key_to_pem wrote before */
	assert_int_equal(PEM_write_bio_PrivateKey(bio, k, EVP_aes_256_cbc(), (const unsigned char *)"old", 3,
						  NULL, NULL),
			 1);
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	assert_int_equal(pkl_buf_append(&pem, data, (size_t)n), PKL_OK);
	BIO_free(bio);
	pbkdf2_params(&pem, &iter, &salt_len, salt, &prf, &cipher);
	assert_int_equal(iter, 2048);
	assert_int_equal(salt_len, 8);
	back = pkl_key_from_pem(pem.data, pem.len, "old", "old.key", &err);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);
	EVP_PKEY_free(back);
	assert_null(pkl_key_from_pem(pem.data, pem.len, "new", "old.key", &err));
	assert_string_equal(err.msg, "cannot decrypt key 'old.key': wrong passphrase");
	pkl_err_clear(&err);

	/* made by the openssl CLI */
	snprintf(path, sizeof(path), "%s/genpkey.key", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 "
		 "-pass pass:cli -out %s 2>/dev/null",
		 path);
	assert_int_equal(system(cmd), 0);
	back = pkl_key_load(path, "cli", &err);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_get_base_id(back), EVP_PKEY_EC);
	EVP_PKEY_free(back);
	assert_null(pkl_key_load(path, "nope", &err));
	assert_non_null(strstr(err.msg, "wrong passphrase"));

	pkl_buf_wipe(&pem);
	EVP_PKEY_free(k);
}

static void passphrase_sources(void **state)
{
	struct pkl_err err = { 0 };
	char path[PATH_MAX];
	char *p;

	(void)state;
	pkl_key_passphrase_set_source(NULL, NULL);
	p = pkl_key_passphrase_get(&err);
	assert_null(p);
	assert_int_equal(err.rc, PKL_OK);

	pkl_key_passphrase_set_source("from env", NULL);
	p = pkl_key_passphrase_get(&err);
	assert_non_null(p);
	assert_string_equal(p, "from env");
	pkl_key_passphrase_free(p);

	/* the file wins over the variable; only its first line counts */
	snprintf(path, sizeof(path), "%s/pass", dir);
	fx_write(path, "first line\r\nsecond\n", 19);
	pkl_key_passphrase_set_source("from env", path);
	p = pkl_key_passphrase_get(&err);
	assert_non_null(p);
	assert_string_equal(p, "first line");
	pkl_key_passphrase_free(p);

	fx_write(path, "\nsecond\n", 8);
	p = pkl_key_passphrase_get(&err);
	assert_null(p);
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_non_null(strstr(err.msg, "empty first line"));

	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	pkl_key_passphrase_set_source("from env", path);
	p = pkl_key_passphrase_get(&err);
	assert_null(p);
	assert_int_equal(err.rc, PKL_EINPUT);

	pkl_key_passphrase_set_source(NULL, NULL);
	pkl_key_passphrase_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spec_parse_canonical_and_aliases),
		cmocka_unit_test(spec_parse_unknown_suggests),
		cmocka_unit_test(generate_and_spec_of),
		cmocka_unit_test(default_md),
		cmocka_unit_test(pem_plain_round_trip),
		cmocka_unit_test(pem_encrypted_pbes2_aes256),
		cmocka_unit_test(pem_encrypted_round_trip_all_types),
		cmocka_unit_test(pem_encrypted_earlier_formats_load),
		cmocka_unit_test(wrong_and_missing_passphrase_messages),
		cmocka_unit_test(passphrase_sources),
	};
	return cmocka_run_group_tests(tests, fx_dir_setup, fx_dir_teardown);
}
