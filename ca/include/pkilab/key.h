/*
 * Private keys: generation from a spec ("rsa:2048", "ec:P-256", "ed25519"),
 * PKCS#8 PEM encoding (optionally AES-256 encrypted), loading.
 */
#ifndef PKILAB_KEY_H
#define PKILAB_KEY_H

#include <openssl/evp.h>
#include "buf.h"

enum pkl_key_type {
	PKL_KEY_RSA = 1,
	PKL_KEY_EC,
	PKL_KEY_ED25519
};

struct pkl_key_spec {
	enum pkl_key_type type;
	int bits;      /* RSA: 2048, 3072, 4096; EC: 256, 384, 521; Ed25519: 256 */
	int curve_nid; /* EC only */
};

/* "rsa:2048" "rsa:3072" "rsa:4096" "ec:P-256" "ec:P-384" "ec:P-521" "ed25519"
 * (also "ecdsa:P-256", "rsa" = rsa:2048, "ec" = ec:P-256). */
enum pkl_rc pkl_key_spec_parse(const char *s, struct pkl_key_spec *out, struct pkl_err *err);
/* Canonical text form, e.g. "ec:P-256". */
const char *pkl_key_spec_str(const struct pkl_key_spec *spec, char *buf, size_t len);
/* The spec a key has (to check an external CSR's key against policy). */
enum pkl_rc pkl_key_spec_of(EVP_PKEY *key, struct pkl_key_spec *out, struct pkl_err *err);

/* The key policy an external key (a CSR's) is held to, the same a template's
 * `key` setting can name: RSA of 2048 to 8192 bits (below 2048 bits is under
 * 112-bit security, disallowed by NIST SP 800-131A Rev. 2 §3, refused by
 * Apple and failed by pkilab's lint key.too_small), ECDSA on P-256, P-384 or
 * P-521, or Ed25519; and the public key must pass OpenSSL's validation (an
 * EC point on its curve, a sane RSA modulus and exponent). On success *out
 * (may be NULL) gets its spec; otherwise PKL_EINPUT saying what is wrong. */
enum pkl_rc pkl_key_policy_check(EVP_PKEY *key, struct pkl_key_spec *out, struct pkl_err *err);

/* A new key; caller frees with EVP_PKEY_free. */
EVP_PKEY *pkl_key_generate(const struct pkl_key_spec *spec, struct pkl_err *err);

/* Work factor of encrypted keys. OWASP's Password Storage Cheat Sheet (2023)
 * asks for at least 600,000 iterations of PBKDF2-HMAC-SHA256. Measured with
 * OpenSSL 3.0.19 on the lab machine (AMD EPYC): 0.11 s per derivation with the
 * CPU's SHA extensions, 0.21 s without them (OPENSSL_ia32cap masking them) -
 * paid once per write and once per load of an encrypted key (a wrong
 * passphrase costs two: OpenSSL's decoder, then its legacy reader), never per
 * certificate signed. There is no override, so tests prove what ships: the
 * existing tests with encrypted keys take about 3 s longer in all (about 14 s
 * under ASan, whose malloc interception makes one derivation 0.5 s). NIST
 * SP 800-132 asks for a salt of at least 128 bits. */
#define PKL_KEY_KDF_ITERATIONS 600000
#define PKL_KEY_KDF_SALT_LEN   16

/* PKCS#8 PEM; with a passphrase, EncryptedPrivateKeyInfo: PBES2 with
 * PBKDF2-HMAC-SHA256 (PKL_KEY_KDF_ITERATIONS, random PKL_KEY_KDF_SALT_LEN-byte
 * salt) and AES-256-CBC. */
enum pkl_rc pkl_key_to_pem(EVP_PKEY *key, const char *passphrase, struct pkl_buf *out, struct pkl_err *err);
/* Decodes PEM (PKCS#8, encrypted or not; any PBES2 iteration count and PRF,
 * so keys from earlier versions and `openssl genpkey -aes256` load too).
 * `where` names the source in errors.
 * A wrong or missing passphrase is PKL_EINPUT with a clear message. */
EVP_PKEY *pkl_key_from_pem(const void *pem, size_t len, const char *passphrase, const char *where,
			   struct pkl_err *err);
EVP_PKEY *pkl_key_load(const char *path, const char *passphrase, struct pkl_err *err);

/* The signature digest for a key: SHA-384 for P-384, SHA-512 for P-521,
 * NULL for Ed25519 (pure EdDSA), SHA-256 otherwise. */
const EVP_MD *pkl_key_default_md(EVP_PKEY *key);

/* The passphrase source for encrypted keys: a file whose first line is used
 * (PKILAB_KEY_PASSPHRASE_FILE) or a value (PKILAB_KEY_PASSPHRASE), both
 * borrowed, NULL for none; main() sets them through pkl_env_apply. */
void pkl_key_passphrase_set_source(const char *value, const char *file);
/* The passphrase for encrypted keys, from the file if set, else the value.
 * Returns NULL when neither is set. The returned string is owned by the caller and must be
 * released with pkl_key_passphrase_free (wipes it). */
char *pkl_key_passphrase_get(struct pkl_err *err);
void pkl_key_passphrase_free(char *p);

#endif
