/*
 * pkilab lint FILE... — the standards checks of standards.md §8 (L1-L20) and
 * the IPsec checks X1-X9 over certificates, CRLs and PKCS#12 files, offline.
 * A PEM bundle is linted certificate by certificate, each next certificate
 * taken as the issuer of the one before (chain lints L12/L13); `--issuer`
 * names the CA for a single certificate or a CRL (X7). Every check prints a
 * line; exit 1 when any fails, 2 for unreadable input.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "../cli/cli.h"
#include "pkilab/chain.h"
#include "pkilab/file.h"
#include "pkilab/lint.h"
#include "pkilab/report.h"

#define LINT_INPUT_MAX ((size_t)64 << 20)

struct lint {
	const char *issuer_file, *id, *platform, *role, *at_str;
	int ascii;
	unsigned platforms;
	enum pkl_lint_role role_v;
	pkl_time at;
	X509 *issuer;
	struct pkl_report rep;
};

static int is_pem_crl(const struct pkl_buf *b)
{
	const char *tag = "-----BEGIN X509 CRL-----";
	size_t tl = strlen(tag);

	for (size_t i = 0; i + tl <= b->len; i++)
		if (!memcmp(b->data + i, tag, tl))
			return 1;
	return 0;
}

/* A CRL as DER (PEM CRLs are converted). 1 when b held a CRL. */
static int lint_crl(struct lint *l, const char *path, struct pkl_buf *b, struct pkl_err *err)
{
	unsigned char *der = NULL;
	int len = 0, ok = 0;
	X509_CRL *crl = NULL;

	if (is_pem_crl(b)) {
		BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
		crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (crl)
			len = i2d_X509_CRL(crl, &der);
	} else {
		const unsigned char *p = b->data;
		crl = d2i_X509_CRL(NULL, &p, (long)b->len);
	}
	ERR_clear_error();
	if (!crl)
		return 0;
	struct pkl_lint_crl_opts o = { .issuer = l->issuer, .now = l->at, .show_ok = 1 };
	if (der)
		ok = pkl_lint_crl(der, (size_t)len, path, &o, &l->rep, err) == PKL_OK;
	else
		ok = pkl_lint_crl(b->data, b->len, path, &o, &l->rep, err) == PKL_OK;
	OPENSSL_free(der);
	X509_CRL_free(crl);
	return ok ? 1 : -1;
}

static enum pkl_rc lint_file(struct lint *l, const char *path, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *leaf = NULL;
	int is_p12 = 0, c;
	enum pkl_rc rc = pkl_file_read(path, LINT_INPUT_MAX, &b, err);

	if (rc != PKL_OK)
		goto out;
	if (!extra) { /* not a silent "ok": nothing would have been linted */
		rc = pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
		goto out;
	}
	c = lint_crl(l, path, &b, err);
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
			pkl_lint_p12(b.data, b.len, path, l->platforms, 1, &l->rep);
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
		X509 *iss = i + 1 < sk_X509_num(extra) ? sk_X509_value(extra, i + 1) : l->issuer;
		struct pkl_lint_opts o = { .platforms = l->platforms,
					   .role = i < 0 ? l->role_v : PKL_ROLE_AUTO,
					   .issuer = pkl_lint_self_signed(x) ? NULL : iss,
					   .id = i < 0 ? l->id : NULL,
					   .show_ok = 1 };
		if ((rc = pkl_lint_cert(x, &o, &l->rep, err)) != PKL_OK)
			goto out;
	}
	if (sk_X509_num(extra) > 0) {
		X509 *certs[PKL_CHAIN_MAX];
		size_t n = 0;
		certs[n++] = leaf;
		for (int i = 0; i < sk_X509_num(extra) && n < PKL_CHAIN_MAX; i++)
			certs[n++] = sk_X509_value(extra, i);
		pkl_lint_chain(certs, n, 1, &l->rep);
	}
out:
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	pkl_buf_free(&b);
	return rc;
}

int cmd_lint(int argc, char **argv, struct pkl_cli *cli)
{
	struct lint l = { 0 };
	const struct cli_opt opts[] = {
		{ "issuer", 0, CLI_STR, &l.issuer_file, "FILE", "the issuing CA certificate (chain lints L12/L13, CRL X7)" },
		{ "id", 0, CLI_STR, &l.id, "IDENTITY", "IKE identity to find in the SAN (X3)" },
		{ "platform", 0, CLI_STR, &l.platform, "LIST", "windows, strongswan, apple or all (default all)" },
		{ "role", 0, CLI_STR, &l.role, "ROLE", "gateway or client (default: from the EKU)" },
		{ "at", 0, CLI_STR, &l.at_str, "TIME", "judge CRL freshness (X8) as of TIME" },
		{ "ascii", 0, CLI_FLAG, &l.ascii, NULL, "[ok]/[FAIL]/[warn] marks instead of symbols" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_buf out = PKL_BUF_INIT;
	int npos = 0, rc;

	rc = cli_parse(argc, argv, opts, cli, "lint [OPTIONS] CERT|CRL|P12...", &npos);
	if (rc != PKL_OK)
		return rc < 0 ? 0 : rc;
	if (npos < 1)
		return cli_usage_error(cli, "expected a certificate, CRL or PKCS#12 file");
	l.platforms = PKL_PLAT_ALL;
	if (l.platform && pkl_lint_platforms_parse(l.platform, &l.platforms, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (l.role && pkl_lint_role_parse(l.role, &l.role_v, &err) != PKL_OK)
		return cli_fail(cli, &err);
	l.at = pkl_time_now();
	if (l.at_str && pkl_time_parse(l.at_str, pkl_time_now(), &l.at, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (l.issuer_file) {
		STACK_OF(X509) *sk = sk_X509_new_null();
		if (!sk || pkl_chain_load_certs(l.issuer_file, sk, &err) != PKL_OK) {
			sk_X509_pop_free(sk, X509_free);
			return cli_fail(cli, &err);
		}
		l.issuer = sk_X509_shift(sk);
		sk_X509_pop_free(sk, X509_free);
	}
	for (int i = 1; i <= npos; i++)
		if (lint_file(&l, argv[i], &err) != PKL_OK) {
			rc = cli_fail(cli, &err);
			goto out;
		}
	if (cli->json) {
		const char *meta[] = { "command", "lint", NULL };
		rc = pkl_report_json(&l.rep, meta, &out, &err);
	} else {
		rc = pkl_report_text(&l.rep, !l.ascii && pkl_report_locale_utf8(), &out, &err);
	}
	if (rc != PKL_OK) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	rc = pkl_report_worst(&l.rep) == PKL_SEV_FAIL ? PKL_FOUND : PKL_OK;
out:
	pkl_buf_free(&out);
	pkl_report_free(&l.rep);
	X509_free(l.issuer);
	return rc;
}
