/*
 * pkilab export NAME --format pem|der|p12|windows|strongswan|openssl-index --out DIR
 *               [--p12-profile legacy|modern] [--password-file FILE]
 *
 * The PKCS#12 password never comes from the command line (it would show in
 * `ps` and shell history): --password-file, $PKILAB_P12_PASSWORD, or a prompt
 * on /dev/tty, in that order. Each is held to pkl_export_password_check()
 * (PKL_EXPORT_PASSWORD_MIN characters) before anything is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/export.h"
#include "pkilab/file.h"
#include "pkilab/log.h"
#include "pkilab/revoke.h"
#include "pkilab/secret.h"

#define PW_MAX 1024

/* Fills pw from the first source that is set (pkilab/secret.h). */
static enum pkl_rc get_password(const char *file, const char *env, char *pw, size_t len, struct pkl_err *err)
{
	struct pkl_secret_src src = { .file = file,
				      .value = env,
				      .prompt = "PKCS#12 password: ",
				      .confirm = 1,
				      .prompt_max = PW_MAX - 1 };
	enum pkl_secret_from from;
	enum pkl_rc rc;
	char *s = NULL;

	rc = pkl_secret_read(&src, &s, &from, err);
	if (rc != PKL_OK) {
		if (file && err)
			err->rc = PKL_EINPUT;
		return file ? PKL_EINPUT : rc;
	}
	switch (from) {
	case PKL_SECRET_FILE:
		if (!*s || strlen(s) >= len) {
			pkl_secret_free(s);
			return pkl_err_set(err, PKL_EINPUT, file,
					   "the first line of the password file must hold the password "
					   "(1-%zu characters)",
					   len - 1);
		}
		break;
	case PKL_SECRET_VALUE:
		if (strlen(s) >= len) {
			pkl_secret_free(s);
			return pkl_err_set(err, PKL_EINPUT, "PKILAB_P12_PASSWORD", "password too long");
		}
		break;
	case PKL_SECRET_PROMPT:
		if (!*s) {
			pkl_secret_free(s);
			return pkl_err_set(err, PKL_EINPUT, NULL, "an empty PKCS#12 password is not allowed");
		}
		break;
	case PKL_SECRET_NONE:
	default:
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "a PKCS#12 password is needed: use --password-file FILE or set "
				   "PKILAB_P12_PASSWORD (no terminal to prompt on)");
	}
	snprintf(pw, len, "%s", s);
	pkl_secret_free(s);
	return pkl_export_password_check(pw,
					 from == PKL_SECRET_FILE  ? file :
					 from == PKL_SECRET_VALUE ? "PKILAB_P12_PASSWORD" :
								    "the terminal prompt",
					 err);
}

int cmd_export(int argc, char **argv, struct pkl_cli *cli)
{
	const char *format = NULL, *out = NULL, *profile = NULL, *pwfile = NULL;
	int npos, status;
	const struct cli_opt opts[] = {
		{ "format", 'f', CLI_STR, &format, "F",
		  "pem, der, p12, windows, strongswan or openssl-index" },
		{ "out", 'o', CLI_STR, &out, "DIR", "output directory (created when missing)" },
		{ "p12-profile", 0, CLI_STR, &profile, "P",
		  "legacy (default: 3DES/SHA-1, Windows Server 2016, Apple) or modern (AES-256/SHA-256)" },
		{ "password-file", 0, CLI_STR, &pwfile, "FILE",
		  "PKCS#12 password: first line of FILE (else $PKILAB_P12_PASSWORD, else a prompt)" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_export_opts eo = { .profile = PKL_P12_LEGACY };
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;
	struct pkl_buf listing = PKL_BUF_INIT;
	char pw[PW_MAX] = "";

	status = cli_parse(
		argc, argv, opts, cli,
		"export NAME --format F --out DIR [--p12-profile legacy|modern] [--password-file FILE]",
		&npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, "which certificate? (one NAME or SERIAL)");
	if (!format || !out)
		return cli_usage_error(cli, "--format and --out are required");
	if (pkl_revoke_check_ref(argv[1], &err) != PKL_OK ||
	    pkl_export_format_parse(format, &eo.format, &err) != PKL_OK ||
	    (profile && pkl_export_profile_parse(profile, &eo.profile, &err) != PKL_OK))
		return cli_fail(cli, &err);
	eo.out_dir = out;
	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki)
		return cli_fail(cli, &err);
	/* Fail on an unknown name before asking for a password; warn before
	 * installing something that will not validate. */
	{
		struct pkl_cert_row r;
		if (pkl_db_cert_find(pki->db, argv[1], &r, &err) != PKL_OK)
			goto done;
		if (r.status == PKL_STATUS_REVOKED)
			pkl_warn("'%s' (serial %s) is revoked: peers checking the CRL will reject it", r.name,
				 r.serial);
		else if (r.not_after <= pkl_time_now())
			pkl_warn("'%s' (serial %s) has expired", r.name, r.serial);
	}
	if (pkl_export_needs_password(eo.format)) {
		if (get_password(pwfile, cli->env.p12_password, pw, sizeof(pw), &err) != PKL_OK)
			goto done;
		eo.password = pw;
	}
	if (pkl_export(pki, argv[1], &eo, &listing, &err) != PKL_OK)
		goto done;
	if (cli->json) {
		json_t *a = json_array();
		char *save = NULL;
		for (char *l = strtok_r((char *)pkl_buf_cstr(&listing), "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			json_array_append_new(a, json_string(l));
		cli_print_json(cli, a);
		json_decref(a);
	} else if (cli->verbose >= 0 && listing.len) {
		fwrite(listing.data, 1, listing.len, stdout);
	}
done:
	pkl_secret_wipe(pw, sizeof(pw));
	pkl_buf_free(&listing);
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
