/*
 * pkilab renew NAME [--reuse-key] [--revoke-old] [--validity D] [--lab LAB.cfg]
 *
 * A new certificate for the same name, subject, SANs, template and issuer:
 * a new key by default (--reuse-key keeps it); the old certificate stays in
 * the database as superseded history and, with --revoke-old, is revoked as
 * superseded. With --lab, what the certificate says comes from the lab's
 * entry instead (as `build --apply` issues it). The work, one transaction,
 * is pkl_renew (lib/renew.c); this
 * file parses and prints.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/issue.h"
#include "pkilab/lab.h"

int cmd_renew(int argc, char **argv, struct pkl_cli *cli)
{
	struct pkl_renew_opts o = { 0 };
	const char *lab_path = NULL;
	struct pkl_lab *lab = NULL;
	int npos, status, rc;
	const struct cli_opt opts[] = {
		{ "reuse-key", 0, CLI_FLAG, &o.reuse_key, NULL,
		  "keep the current private key (default: a new one)" },
		{ "revoke-old", 0, CLI_FLAG, &o.revoke_old, NULL,
		  "revoke the old certificate as superseded" },
		{ "validity", 0, CLI_STR, &o.validity, "D", "override the template's validity, e.g. 90d" },
		{ "lab", 0, CLI_STR, &lab_path, "LAB.cfg",
		  "take subject, SANs, key type, template and issuer from this lab's entry (default: "
		  "the current certificate's)" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_renew_result r;
	char t[32];

	cli->pki_help = "the PKI directory (default $PKILAB_DIR, else the --lab's PKI, else ./pki)";
	status = cli_parse(argc, argv, opts, cli,
			   "renew NAME [--reuse-key] [--revoke-old] [--validity D] [--lab LAB.cfg]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, "which certificate? (one NAME)");
	o.ref = argv[1];
	o.templates_dir = cli->env.templates;

	if (lab_path && !(lab = pkl_lab_load(lab_path, pkl_time_now(), cli->env.templates, &err)))
		return cli_fail(cli, &err);
	o.lab = lab;
	/* With --lab, the lab names its PKI, as for build. */
	rc = pkl_renew(cli->pki_dir ? cli->pki_dir : lab ? lab->pki_dir : cli_pki_dir(cli), &o, &r, &err);
	pkl_lab_free(lab);
	if (rc != PKL_OK)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "name", r.name, "serial",
				      r.serial, "old_serial", r.old_serial, "issuer", r.issuer, "new_key",
				      r.new_key, "old_revoked", r.old_revoked, "not_after",
				      pkl_time_fmt(r.not_after, t, sizeof(t)));
		cli_print_json(cli, j);
		json_decref(j);
	} else if (cli->verbose >= 0) {
		printf("renewed %s: serial %s (was %s), %s, valid until %s%s\n", r.name, r.serial,
		       r.old_serial, r.new_key ? "new key" : "same key",
		       pkl_time_fmt(r.not_after, t, sizeof(t)),
		       r.old_revoked ? "; old one revoked as superseded: run 'pkilab crl'" : "");
	}
	return 0;
}
