/*
 * pkilab doctor CERT|NAME — diagnose a chain end to end, the way an expert
 * would with `certutil -verify -urlfetch`, `openssl verify` and a packet
 * capture, in one run: the path (signatures, names, key identifiers, CA
 * flags, validity of every link), time (clock drift, skew against the CDP
 * servers' Date headers), revocation for every CDP URI of every certificate
 * in the path, the platform rules (EKU, SAN vs identity, key types, Apple's
 * 825 days) and the lints of docs/lint.md. Each finding has a stable code;
 * failures carry the cause and the fix. Exit 0 all pass, 1 any failure,
 * 2 bad input.
 *
 * This file parses the options, loads the certificate, the intermediates,
 * the anchors and the PKCS#12 password (the only secret, read once here),
 * calls pkl_doctor_run (ca/lib/doctor.c: every check) and prints the report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../cli/cli.h"
#include "pkilab/chain.h"
#include "pkilab/doctor.h"
#include "pkilab/fetch.h"
#include "pkilab/file.h"
#include "pkilab/lint.h"
#include "pkilab/report.h"
#include "pkilab/secret.h"

struct doctor {
	/* options */
	struct cli_list chain_files, trust, resolve;
	const char *password_file, *password_env, *id, *platform, *role, *at_str;
	long timeout_s, win_budget_ms, sws_budget_ms;
	int no_fetch, no_aia, ascii, utf8;
	/* state */
	unsigned platforms;
	enum pkl_lint_role leaf_role;
	pkl_time at;
	struct pkl_fetch_opts fo;
	char resolve_env[2048];
	STACK_OF(X509) * pool, *anchors;
	X509 *leaf;
	int is_p12;
	struct pkl_buf p12; /* the PKCS#12 input's bytes, for lint.X9 */
	char p12_label[4096];
	struct pkl_report rep;
};

/* --password-file, else --password-env VAR (pkilab/secret.h); no prompt. */
static char *read_password(struct doctor *d, struct pkl_err *err)
{
	struct pkl_secret_src src = { .file = d->password_file, .file_max = 4096 };
	char *p = NULL;

	if (!d->password_file && d->password_env) {
		/* VAR is named on the command line, so it is read here, at the edge. */
		src.value = getenv(d->password_env);
		if (!src.value) {
			pkl_err_set(err, PKL_EINPUT, NULL, "environment variable '%s' is not set",
				    d->password_env);
			return NULL;
		}
		if (!*src.value)
			return strdup("");
	}
	if (pkl_secret_read(&src, &p, NULL, err) != PKL_OK)
		return NULL;
	return p;
}

static enum pkl_rc load_inputs(struct doctor *d, const char *arg, struct pkl_cli *cli, struct pkl_err *err)
{
	char *pw = NULL;
	enum pkl_rc rc;
	struct stat st;
	const char *pki = cli->pki_dir;
	char path[4096];
	int from_lab = 0;

	if (stat(arg, &st) == 0 && !S_ISDIR(st.st_mode)) {
		pw = read_password(d, err);
		if (!pw && (d->password_file || d->password_env))
			return err->rc;
		rc = pkl_chain_load_input(arg, pw, &d->leaf, d->pool, &d->is_p12, err);
		pkl_secret_free(pw);
		if (rc != PKL_OK)
			return rc;
		/* X9 judges the bag's protection profile (pkl_doctor_run); unreadable: not judged */
		if (d->is_p12 && pkl_file_read(arg, (size_t)4 << 20, &d->p12, NULL) == PKL_OK)
			snprintf(d->p12_label, sizeof(d->p12_label), "%s", arg);
	} else if (pki) {
		/* NAME in a lab PKI: the certificate with its intermediates */
		rc = pkl_path_join(path, sizeof(path), err, "%s/certs/%s-chain.pem", pki, arg);
		if (rc != PKL_OK)
			return rc;
		if (!pkl_file_exists(path) &&
		    (rc = pkl_path_join(path, sizeof(path), err, "%s/certs/%s.pem", pki, arg)) != PKL_OK)
			return rc;
		if (!pkl_file_exists(path))
			return pkl_err_set(err, PKL_EINPUT, arg,
					   "no such file, and no certificate '%s' in the PKI '%s'", arg, pki);
		rc = pkl_chain_load_input(path, NULL, &d->leaf, d->pool, &d->is_p12, err);
		if (rc != PKL_OK)
			return rc;
		from_lab = 1;
	} else {
		return pkl_err_set(err, PKL_EINPUT, arg, "no such file (or give --pki DIR NAME)");
	}
	for (size_t i = 0; i < d->chain_files.n; i++)
		if ((rc = pkl_chain_load_certs(d->chain_files.v[i], d->pool, err)) != PKL_OK)
			return rc;
	for (size_t i = 0; i < d->trust.n; i++)
		if ((rc = pkl_chain_load_certs(d->trust.v[i], d->anchors, err)) != PKL_OK)
			return rc;
	/* Anchors from the lab when none were named: the lab's roots. */
	if (!d->trust.n && pki) {
		rc = pkl_doctor_lab_anchors(pki, d->anchors, err);
		if (rc != PKL_OK && from_lab)
			return rc;
	}
	return PKL_OK;
}

/* The skew against a CDP's Date header is measured on the real clock, not on
 * $PKILAB_NOW (pkl_time_now) nor on --at: it is about this machine's clock. */
static pkl_time wall_clock(void)
{
	return (pkl_time)time(NULL);
}

static int output(struct doctor *d, struct pkl_cli *cli)
{
	struct pkl_buf out = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	char label[256], at[32], plat[64];
	enum pkl_rc rc;

	pkl_lint_label(d->leaf, label, sizeof(label));
	pkl_time_fmt(d->at, at, sizeof(at));
	snprintf(plat, sizeof(plat), "%s%s%s", d->platforms & PKL_PLAT_WINDOWS ? "windows " : "",
		 d->platforms & PKL_PLAT_STRONGSWAN ? "strongswan " : "",
		 d->platforms & PKL_PLAT_APPLE ? "apple " : "");
	if (plat[0])
		plat[strlen(plat) - 1] = '\0';
	if (cli->json) {
		const char *meta[] = { "command", "doctor",    "certificate", label, "at",
				       at,        "platforms", plat,          NULL };
		rc = pkl_report_json(&d->rep, meta, &out, &err);
	} else {
		rc = pkl_buf_printf(&out, "pkilab doctor: %s (%s), judged at %s, platforms: %s\n", label,
				    pkl_lint_role_name(d->leaf_role), at, plat);
		if (rc == PKL_OK)
			rc = pkl_report_text(&d->rep, d->utf8, &out, &err);
	}
	if (rc != PKL_OK) {
		pkl_buf_free(&out);
		return cli_fail(cli, &err);
	}
	fwrite(out.data, 1, out.len, stdout);
	pkl_buf_free(&out);
	return pkl_report_worst(&d->rep) == PKL_SEV_FAIL ? PKL_FOUND : PKL_OK;
}

int cmd_doctor(int argc, char **argv, struct pkl_cli *cli)
{
	struct doctor d = { .timeout_s = 10,
			    .win_budget_ms = PKL_DOCTOR_WINDOWS_BUDGET_MS,
			    .sws_budget_ms = PKL_DOCTOR_STRONGSWAN_BUDGET_MS };
	const struct cli_opt opts[] = {
		{ "chain", 'c', CLI_LIST, &d.chain_files, "FILE",
		  "intermediate certificates (PEM/DER), repeatable" },
		{ "trust", 't', CLI_LIST, &d.trust, "FILE|DIR",
		  "trust anchors (default with --pki: the lab's roots)" },
		{ "id", 0, CLI_STR, &d.id, "IDENTITY",
		  "the IKE identity the peer presents or dials (FQDN, IP, email, DN)" },
		{ "platform", 0, CLI_STR, &d.platform, "LIST",
		  "windows, strongswan, apple or all (default all)" },
		{ "role", 0, CLI_STR, &d.role, "ROLE", "gateway or client (default: from the EKU)" },
		{ "at", 0, CLI_STR, &d.at_str, "TIME", "judge as of this time (absolute or relative: +1d)" },
		{ "resolve", 0, CLI_LIST, &d.resolve, "HOST:PORT:ADDR[:PORT]",
		  "fetch HOST:PORT from ADDR (also $PKILAB_RESOLVE)" },
		{ "password-file", 0, CLI_STR, &d.password_file, "FILE",
		  "PKCS#12 password: first line of FILE" },
		{ "password-env", 0, CLI_STR, &d.password_env, "VAR",
		  "PKCS#12 password from environment variable VAR" },
		{ "timeout", 0, CLI_INT, &d.timeout_s, "SECONDS", "per-fetch deadline (default 10)" },
		{ "windows-budget", 0, CLI_INT, &d.win_budget_ms, "MS",
		  "Windows cumulative revocation budget (default 20000)" },
		{ "strongswan-budget", 0, CLI_INT, &d.sws_budget_ms, "MS",
		  "strongSwan per-URI budget (default 10000)" },
		{ "no-fetch", 0, CLI_FLAG, &d.no_fetch, NULL, "offline: no CRL or AIA fetches" },
		{ "no-aia", 0, CLI_FLAG, &d.no_aia, NULL, "do not fetch missing issuers from AIA URLs" },
		{ "ascii", 0, CLI_FLAG, &d.ascii, NULL, "[ok]/[FAIL]/[warn] marks instead of symbols" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	int npos = 0, rc;

	rc = cli_parse(argc, argv, opts, cli, "doctor [OPTIONS] CERT|NAME", &npos);
	if (rc != PKL_OK)
		return rc < 0 ? 0 : rc;
	if (npos != 1)
		return cli_usage_error(cli, "expected one certificate file (or --pki DIR NAME)");
	d.utf8 = !d.ascii && pkl_report_locale_utf8();
	d.platforms = PKL_PLAT_ALL;
	if (d.platform && pkl_lint_platforms_parse(d.platform, &d.platforms, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (d.role && pkl_lint_role_parse(d.role, &d.leaf_role, &err) != PKL_OK)
		return cli_fail(cli, &err);
	d.at = pkl_time_now();
	if (d.at_str && pkl_time_parse(d.at_str, pkl_time_now(), &d.at, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (d.timeout_s < 1 || d.timeout_s > 120)
		return cli_usage_error(cli, "--timeout must be 1..120 seconds");
	if (d.win_budget_ms < 1 || d.win_budget_ms > 3600000 || d.sws_budget_ms < 1 ||
	    d.sws_budget_ms > 3600000)
		return cli_usage_error(cli, "--windows-budget and --strongswan-budget must be 1..3600000 ms");
	pkl_fetch_opts_init(&d.fo, d.resolve_env, sizeof(d.resolve_env));
	d.fo.timeout_ms = d.timeout_s * 1000;
	d.fo.connect_timeout_ms = d.timeout_s * 1000 < 5000 ? d.timeout_s * 1000 : 5000;
	d.fo.max_size = (size_t)16 << 20;
	for (size_t i = 0; i < d.resolve.n; i++)
		if (pkl_fetch_opts_resolve(&d.fo, d.resolve.v[i], &err) != PKL_OK)
			return cli_fail(cli, &err);

	d.pool = sk_X509_new_null();
	d.anchors = sk_X509_new_null();
	if (!d.pool || !d.anchors) {
		pkl_err_set(&err, PKL_ERUNTIME, NULL, "out of memory");
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (load_inputs(&d, argv[1], cli, &err) != PKL_OK) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (d.leaf_role == PKL_ROLE_AUTO)
		d.leaf_role = pkl_lint_role_of(d.leaf);

	struct pkl_doctor_opts o = {
		.leaf = d.leaf,
		.pool = d.pool,
		.anchors = d.anchors,
		.platforms = d.platforms,
		.leaf_role = d.leaf_role,
		.id = d.id,
		.at = d.at,
		.clock = wall_clock,
		.no_fetch = d.no_fetch,
		.no_aia = d.no_aia,
		.fetch = &d.fo,
		.windows_budget_ms = d.win_budget_ms,
		.strongswan_budget_ms = d.sws_budget_ms,
		.p12 = d.p12.data,
		.p12_len = d.p12.len,
		.p12_label = d.p12_label,
		.pki_dir = cli->pki_dir,
	};
	if (pkl_doctor_run(&o, &d.rep, &err) != PKL_OK) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	rc = output(&d, cli);
out:
	pkl_report_free(&d.rep);
	pkl_buf_free(&d.p12);
	X509_free(d.leaf);
	sk_X509_pop_free(d.pool, X509_free);
	sk_X509_pop_free(d.anchors, X509_free);
	return rc;
}
