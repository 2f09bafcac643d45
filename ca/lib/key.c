/*
 * Private keys: the small vocabulary of key specs lab files use
 * ("rsa:2048", "ec:P-256", "ed25519"), generation through the EVP
 * one-shot API, and PKCS#8 PEM in and out. Encrypted keys are PKCS#8
 * EncryptedPrivateKeyInfo with PBES2: PBKDF2-HMAC-SHA256 with a random 16-byte
 * salt and PKL_KEY_KDF_ITERATIONS iterations, then AES-256-CBC. They are built
 * by hand (PKCS5_pbe2_set_iv_ex + PKCS8_set0_pbe_ex) because
 * PEM_write_bio_PrivateKey and the OSSL_ENCODER of OpenSSL 3.0 take no
 * iteration count and use 2,048 iterations with an 8-byte salt, far too cheap
 * to guess against for a CA key kept on disk. Reading takes whatever count
 * and PRF the file names, so keys written by earlier versions (2,048) and by
 * `openssl genpkey -aes256` still load. Loading always passes a password callback
 * so that OpenSSL never prompts on the terminal, and the callback tells us
 * whether the key was encrypted: that is how a wrong passphrase and a
 * missing one get their own clear one-line messages.
 */
#define _GNU_SOURCE /* memmem() */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "pkilab/file.h"
#include "pkilab/key.h"
#include "pkilab/secret.h"
#include "pkilab/lab.h"

struct key_name {
	const char *name;
	enum pkl_key_type type;
	int bits;
	int nid;
};

/* Canonical names first: pkl_key_spec_str returns the first match. */
static const struct key_name key_names[] = {
	{ "rsa:2048", PKL_KEY_RSA, 2048, 0 },
	{ "rsa:3072", PKL_KEY_RSA, 3072, 0 },
	{ "rsa:4096", PKL_KEY_RSA, 4096, 0 },
	{ "ec:P-256", PKL_KEY_EC, 256, NID_X9_62_prime256v1 },
	{ "ec:P-384", PKL_KEY_EC, 384, NID_secp384r1 },
	{ "ec:P-521", PKL_KEY_EC, 521, NID_secp521r1 },
	{ "ed25519", PKL_KEY_ED25519, 256, NID_ED25519 },
	{ "ecdsa:P-256", PKL_KEY_EC, 256, NID_X9_62_prime256v1 },
	{ "ecdsa:P-384", PKL_KEY_EC, 384, NID_secp384r1 },
	{ "ecdsa:P-521", PKL_KEY_EC, 521, NID_secp521r1 },
	{ "rsa", PKL_KEY_RSA, 2048, 0 },
	{ "ec", PKL_KEY_EC, 256, NID_X9_62_prime256v1 },
	{ "ecdsa", PKL_KEY_EC, 256, NID_X9_62_prime256v1 },
};

static const char *const key_canonical[] = { "rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256",
					     "ec:P-384", "ec:P-521", "ed25519",  NULL };

enum pkl_rc pkl_key_spec_parse(const char *s, struct pkl_key_spec *out, struct pkl_err *err)
{
	const char *hint;

	for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
		if (strcasecmp(s, key_names[i].name) == 0) {
			out->type = key_names[i].type;
			out->bits = key_names[i].bits;
			out->curve_nid = key_names[i].nid;
			return PKL_OK;
		}
	}
	hint = pkl_suggest(s, key_canonical);
	if (hint)
		return pkl_err_set(err, PKL_EINPUT, NULL, "unknown key type '%s' (did you mean '%s'?)", s,
				   hint);
	return pkl_err_set(err, PKL_EINPUT, NULL,
			   "unknown key type '%s' (expected rsa:2048, rsa:3072, rsa:4096, "
			   "ec:P-256, ec:P-384, ec:P-521 or ed25519)",
			   s);
}

const char *pkl_key_spec_str(const struct pkl_key_spec *spec, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
		if (key_names[i].type == spec->type && key_names[i].bits == spec->bits) {
			snprintf(buf, len, "%s", key_names[i].name);
			return buf;
		}
	}
	snprintf(buf, len, "%s:%d",
		 spec->type == PKL_KEY_RSA ? "rsa" :
		 spec->type == PKL_KEY_EC  ? "ec" :
					     "unknown",
		 spec->bits);
	return buf;
}

/* The NID of an EC key's named curve, or NID_undef. */
static int key_curve_nid(EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;
	int nid;

	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen))
		return NID_undef;
	nid = OBJ_sn2nid(group);
	if (nid == NID_undef)
		nid = OBJ_ln2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid;
}

enum pkl_rc pkl_key_spec_of(EVP_PKEY *key, struct pkl_key_spec *out, struct pkl_err *err)
{
	struct pkl_key_spec s = { 0, 0, 0 };

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		s.type = PKL_KEY_RSA;
		s.bits = EVP_PKEY_get_bits(key);
		break;
	case EVP_PKEY_EC:
		s.type = PKL_KEY_EC;
		s.curve_nid = key_curve_nid(key);
		switch (s.curve_nid) {
		case NID_X9_62_prime256v1: s.bits = 256; break;
		case NID_secp384r1: s.bits = 384; break;
		case NID_secp521r1: s.bits = 521; break;
		default:
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "unsupported elliptic curve (expected P-256, P-384 or P-521)");
		}
		break;
	case EVP_PKEY_ED25519:
		s.type = PKL_KEY_ED25519;
		s.bits = 256;
		s.curve_nid = NID_ED25519;
		break;
	default:
		return pkl_err_set(err, PKL_EINPUT, NULL, "unsupported key algorithm '%s'",
				   OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
	}
	*out = s;
	return PKL_OK;
}

#define KEY_RSA_MIN_BITS 2048
#define KEY_RSA_MAX_BITS 8192

enum pkl_rc pkl_key_policy_check(EVP_PKEY *key, struct pkl_key_spec *out, struct pkl_err *err)
{
	struct pkl_key_spec s = { 0, 0, 0 };
	EVP_PKEY_CTX *ctx;
	int ok;

	if (pkl_key_spec_of(key, &s, err) != PKL_OK)
		return PKL_EINPUT;
	if (s.type == PKL_KEY_RSA && (s.bits < KEY_RSA_MIN_BITS || s.bits > KEY_RSA_MAX_BITS))
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "RSA key of %d bits: the key policy asks for %d to %d bits "
				   "(rsa:2048, rsa:3072, rsa:4096), ec:P-256/P-384/P-521 or ed25519",
				   s.bits, KEY_RSA_MIN_BITS, KEY_RSA_MAX_BITS);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	ok = ctx && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return pkl_err_ssl(err, PKL_EINPUT, NULL, "the public key fails validation");
	if (out)
		*out = s;
	return PKL_OK;
}

EVP_PKEY *pkl_key_generate(const struct pkl_key_spec *spec, struct pkl_err *err)
{
	EVP_PKEY *key = NULL;

	switch (spec->type) {
	case PKL_KEY_RSA:
		if (spec->bits < 2048 || spec->bits > 16384) {
			pkl_err_set(err, PKL_EINPUT, NULL, "refusing RSA key size %d", spec->bits);
			return NULL;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)spec->bits);
		break;
	case PKL_KEY_EC: {
		int nid = spec->curve_nid;
		if (nid == NID_undef)
			nid = spec->bits == 384 ? NID_secp384r1 :
			      spec->bits == 521 ? NID_secp521r1 :
						  NID_X9_62_prime256v1;
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nid));
		break;
	}
	case PKL_KEY_ED25519: key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
	default: pkl_err_set(err, PKL_EINPUT, NULL, "unknown key type %d", (int)spec->type); return NULL;
	}
	if (!key)
		pkl_err_ssl(err, PKL_ERUNTIME, NULL, "key generation failed");
	return key;
}

/* Writes `key` to `bio` as an encrypted PKCS#8 PEM (see the top of the file
 * for the parameters and why they are set by hand). */
static int key_write_encrypted(BIO *bio, EVP_PKEY *key, const char *passphrase)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL; /* the plain key: its free wipes it */
	X509_ALGOR *pbe = NULL;
	X509_SIG *enc = NULL;
	size_t len = strlen(passphrase);
	int ok = 0;

	if (len > INT_MAX)
		goto out;
	p8 = EVP_PKEY2PKCS8(key);
	if (!p8)
		goto out;
	/* salt NULL with a length: OpenSSL draws that many random bytes. */
	pbe = PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), PKL_KEY_KDF_ITERATIONS, NULL, PKL_KEY_KDF_SALT_LEN,
				   NULL, NID_hmacWithSHA256, NULL);
	if (!pbe)
		goto out;
	enc = PKCS8_set0_pbe_ex(passphrase, (int)len, p8, pbe, NULL, NULL);
	if (!enc)
		goto out;
	pbe = NULL; /* now owned by enc */
	ok = PEM_write_bio_PKCS8(bio, enc);
out:
	X509_SIG_free(enc);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return ok;
}

enum pkl_rc pkl_key_to_pem(EVP_PKEY *key, const char *passphrase, struct pkl_buf *out, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	enum pkl_rc rc = PKL_ERUNTIME;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok;

	if (!bio)
		return pkl_err_ssl(err, PKL_ERUNTIME, NULL, "out of memory");
	if (passphrase)
		ok = key_write_encrypted(bio, key, passphrase);
	else
		ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	if (!ok) {
		pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot encode private key");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || pkl_buf_reserve(&b, (size_t)n) != PKL_OK ||
	    pkl_buf_append(&b, data, (size_t)n) != PKL_OK) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		pkl_buf_wipe(&b);
		goto out;
	}
	*out = b;
	rc = PKL_OK;
out:
	BIO_free(bio); /* the memory BIO clears its buffer when freed */
	return rc;
}

struct pw_ctx {
	const char *passphrase;
	int asked; /* the decoder needed a passphrase: the key is encrypted */
};

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
	struct pw_ctx *c = u;
	size_t n;

	(void)rwflag;
	c->asked = 1;
	if (!c->passphrase)
		return -1;
	n = strlen(c->passphrase);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, c->passphrase, n);
	return (int)n;
}

EVP_PKEY *pkl_key_from_pem(const void *pem, size_t len, const char *passphrase, const char *where,
			   struct pkl_err *err)
{
	struct pw_ctx c = { passphrase, 0 };
	EVP_PKEY *key = NULL;
	BIO *bio;

	if (!where)
		where = "key";
	if (len > 0x7fffffff) {
		pkl_err_set(err, PKL_EINPUT, NULL, "key '%s' is too large", where);
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		pkl_err_ssl(err, PKL_ERUNTIME, NULL, "out of memory");
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, pw_cb, &c);
	BIO_free(bio);
	if (key) {
		ERR_clear_error();
		return key;
	}
	/* An encrypted PEM may also be recognised from its header when the
	 * decoder gave up before asking for the passphrase. */
	if (!c.asked && memmem(pem, len, "ENCRYPTED", 9) != NULL)
		c.asked = 1;
	if (c.asked && !passphrase) {
		ERR_clear_error();
		pkl_err_set(err, PKL_EINPUT, NULL,
			    "key '%s' is encrypted: set PKILAB_KEY_PASSPHRASE_FILE or "
			    "PKILAB_KEY_PASSPHRASE",
			    where);
	} else if (c.asked) {
		ERR_clear_error();
		pkl_err_set(err, PKL_EINPUT, NULL, "cannot decrypt key '%s': wrong passphrase", where);
	} else {
		pkl_err_ssl(err, PKL_EINPUT, NULL, "cannot read private key '%s'", where);
	}
	return NULL;
}

EVP_PKEY *pkl_key_load(const char *path, const char *passphrase, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	EVP_PKEY *key;

	if (pkl_file_read(path, 1u << 20, &b, err) != PKL_OK)
		return NULL;
	key = pkl_key_from_pem(b.data, b.len, passphrase, path, err);
	pkl_buf_wipe(&b);
	return key;
}

const EVP_MD *pkl_key_default_md(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448: return NULL;
	case EVP_PKEY_EC: {
		int bits = EVP_PKEY_get_bits(key);
		if (bits > 384)
			return EVP_sha512();
		if (bits > 256)
			return EVP_sha384();
		return EVP_sha256();
	}
	default: return EVP_sha256();
	}
}

/* Set once at start (pkl_env_apply); borrowed. */
static const char *passphrase_value, *passphrase_file;

void pkl_key_passphrase_set_source(const char *value, const char *file)
{
	passphrase_value = value;
	passphrase_file = file;
}

char *pkl_key_passphrase_get(struct pkl_err *err)
{
	struct pkl_secret_src src = { .file = passphrase_file, .value = passphrase_value };
	enum pkl_secret_from from;
	char *p = NULL;

	pkl_err_clear(err);
	if (pkl_secret_read(&src, &p, &from, err) != PKL_OK)
		return NULL;
	if (p && from == PKL_SECRET_FILE && !*p) {
		pkl_secret_free(p);
		pkl_err_set(err, PKL_EINPUT, passphrase_file, "passphrase file has an empty first line");
		return NULL;
	}
	return p;
}

void pkl_key_passphrase_free(char *p)
{
	pkl_secret_free(p);
}
