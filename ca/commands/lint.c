/*
 * pkilab lint FILE... — the RFC 5280 profile checks L1-L20 (docs/lint.md) and
 * the IPsec checks X1-X9 over certificates, CRLs and PKCS#12 files, offline.
 * A PEM bundle is linted certificate by certificate, each next certificate
 * taken as the issuer of the one before (chain lints L12/L13); `--issuer`
 * names the CA for a single certificate or a CRL (X7). Every check prints a
 * line; exit 1 when any fails, 2 for unreadable input.
 */
#include <stdio.h>

#include "../cli/cli.h"
#include "pkilab/lint_file.h"
#include "pkilab/report.h"

int cmd_lint(int argc, char **argv, struct pkl_cli *cli)
{
	const char *platform = NULL, *role = NULL, *at_str = NULL;
	int ascii = 0;
	struct pkl_lint_file_opts lo = { 0 };
	struct pkl_report rep = { 0 };
	const struct cli_opt opts[] = {
		{ "issuer", 0, CLI_STR, &lo.issuer_file, "FILE",
		  "the issuing CA certificate (chain lints L12/L13, CRL X7)" },
		{ "id", 0, CLI_STR, &lo.id, "IDENTITY", "IKE identity to find in the SAN (X3)" },
		{ "platform", 0, CLI_STR, &platform, "LIST",
		  "windows, strongswan, apple or all (default all)" },
		{ "role", 0, CLI_STR, &role, "ROLE", "gateway or client (default: from the EKU)" },
		{ "at", 0, CLI_STR, &at_str, "TIME", "judge CRL freshness (X8) as of TIME" },
		{ "ascii", 0, CLI_FLAG, &ascii, NULL, "[ok]/[FAIL]/[warn] marks instead of symbols" },
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
	if (platform && pkl_lint_platforms_parse(platform, &lo.platforms, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (role && pkl_lint_role_parse(role, &lo.role, &err) != PKL_OK)
		return cli_fail(cli, &err);
	lo.at = pkl_time_now();
	if (at_str && pkl_time_parse(at_str, lo.at, &lo.at, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (pkl_lint_files((const char *const *)argv + 1, (size_t)npos, &lo, &rep, &err) != PKL_OK) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (cli->json) {
		const char *meta[] = { "command", "lint", NULL };
		rc = pkl_report_json(&rep, meta, &out, &err);
	} else {
		rc = pkl_report_text(&rep, !ascii && pkl_report_locale_utf8(), &out, &err);
	}
	if (rc != PKL_OK) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	rc = pkl_report_worst(&rep) == PKL_SEV_FAIL ? PKL_FOUND : PKL_OK;
out:
	pkl_buf_free(&out);
	pkl_report_free(&rep);
	return rc;
}
