/*
 * pkl_lint_files: the file-reading half of `pkilab lint`. It decides what
 * each file holds (CRL, PKCS#12, certificate or bundle) and hands the parsed
 * objects to the lints of lint.c, so the command only parses options and
 * prints the report.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "pkilab/chain.h"
#include "pkilab/file.h"
#include "pkilab/lint_file.h"

#define LINT_INPUT_MAX ((size_t)64 << 20)

/* b as a CRL, PEM (found among other PEM blocks, as before) or DER: 0 when
 * b holds no CRL, 1 when it was linted, -1 when linting failed (err set).
 * The lints read DER, so a PEM CRL is re-encoded. */
static int lint_crl(const char *path, const struct pkl_buf *b, X509 *issuer, pkl_time at,
		    struct pkl_report *r, struct pkl_err *err)
{
	BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
	X509_CRL *crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int len = 0, ok;

	BIO_free(bio);
	if (crl) {
		len = i2d_X509_CRL(crl, &der);
	} else {
		const unsigned char *p = b->data;
		crl = d2i_X509_CRL(NULL, &p, (long)b->len);
	}
	ERR_clear_error();
	if (!crl)
		return 0;
	struct pkl_lint_crl_opts o = { .issuer = issuer, .now = at, .show_ok = 1 };
	ok = pkl_lint_crl(der ? der : b->data, der ? (size_t)len : b->len, path, &o, r, err) == PKL_OK;
	OPENSSL_free(der);
	X509_CRL_free(crl);
	return ok ? 1 : -1;
}

static enum pkl_rc lint_one(const char *path, const struct pkl_lint_file_opts *o, X509 *issuer,
			    struct pkl_report *r, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *leaf = NULL;
	int is_p12 = 0, c;
	unsigned platforms = o->platforms ? o->platforms : PKL_PLAT_ALL;
	enum pkl_rc rc = pkl_file_read(path, LINT_INPUT_MAX, &b, err);

	if (rc != PKL_OK)
		goto out;
	if (!extra) { /* not a silent "ok": nothing would have been linted */
		rc = pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
		goto out;
	}
	c = lint_crl(path, &b, issuer, o->at, r, err);
	if (c != 0) {
		rc = c > 0 ? PKL_OK : PKL_ERUNTIME;
		goto out;
	}
	/* A PKCS#12 file: X9 needs no password; the certificates inside do. */
	{
		const unsigned char *p = b.data;
		PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)b.len);
		ERR_clear_error();
		if (p12) {
			PKCS12_free(p12);
			pkl_lint_p12(b.data, b.len, path, platforms, 1, r);
			rc = PKL_OK;
			goto out;
		}
	}
	rc = pkl_chain_load_input(path, NULL, &leaf, extra, &is_p12, err);
	if (rc != PKL_OK)
		goto out;
	/* leaf, then each further certificate; each one's issuer is the next one */
	for (int i = -1; i < sk_X509_num(extra); i++) {
		X509 *x = i < 0 ? leaf : sk_X509_value(extra, i);
		X509 *iss = i + 1 < sk_X509_num(extra) ? sk_X509_value(extra, i + 1) : issuer;
		struct pkl_lint_opts lo = { .platforms = platforms,
					    .role = i < 0 ? o->role : PKL_ROLE_AUTO,
					    .issuer = pkl_lint_self_signed(x) ? NULL : iss,
					    .id = i < 0 ? o->id : NULL,
					    .show_ok = 1 };
		if ((rc = pkl_lint_cert(x, &lo, r, err)) != PKL_OK)
			goto out;
	}
	if (sk_X509_num(extra) > 0) {
		X509 *certs[PKL_CHAIN_MAX];
		size_t n = 0;
		certs[n++] = leaf;
		for (int i = 0; i < sk_X509_num(extra) && n < PKL_CHAIN_MAX; i++)
			certs[n++] = sk_X509_value(extra, i);
		pkl_lint_chain(certs, n, 1, r);
	}
out:
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	pkl_buf_free(&b);
	return rc;
}

enum pkl_rc pkl_lint_files(const char *const *paths, size_t n, const struct pkl_lint_file_opts *o,
			   struct pkl_report *r, struct pkl_err *err)
{
	X509 *issuer = NULL;
	enum pkl_rc rc = PKL_OK;

	if (o->issuer_file) {
		STACK_OF(X509) *sk = sk_X509_new_null();
		if (!sk)
			return pkl_err_set(err, PKL_ERUNTIME, o->issuer_file, "out of memory");
		rc = pkl_chain_load_certs(o->issuer_file, sk, err);
		if (rc == PKL_OK)
			issuer = sk_X509_shift(sk);
		sk_X509_pop_free(sk, X509_free);
		if (rc != PKL_OK)
			return rc;
	}
	for (size_t i = 0; i < n && rc == PKL_OK; i++)
		rc = lint_one(paths[i], o, issuer, r, err);
	X509_free(issuer);
	return rc;
}
