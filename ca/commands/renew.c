/*
 * pkilab renew NAME [--reuse-key] [--revoke-old] [--validity D]
 *
 * A new certificate for the same name, subject, SANs, template and issuer:
 * a new key by default (--reuse-key keeps it); the old certificate stays in
 * the database as superseded history and, with --revoke-old, is revoked as
 * superseded. The work, one transaction, is pkl_renew (lib/renew.c); this
 * file parses and prints.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/issue.h"

int cmd_renew(int argc, char **argv, struct pkl_cli *cli)
{
	struct pkl_renew_opts o = { 0 };
	int npos, status;
	const struct cli_opt opts[] = {
		{ "reuse-key", 0, CLI_FLAG, &o.reuse_key, NULL,
		  "keep the current private key (default: a new one)" },
		{ "revoke-old", 0, CLI_FLAG, &o.revoke_old, NULL,
		  "revoke the old certificate as superseded" },
		{ "validity", 0, CLI_STR, &o.validity, "D", "override the template's validity, e.g. 90d" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_renew_result r;
	char t[32];

	status = cli_parse(argc, argv, opts, cli, "renew NAME [--reuse-key] [--revoke-old] [--validity D]",
			   &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, "which certificate? (one NAME)");
	o.ref = argv[1];
	o.templates_dir = cli->env.templates;

	if (pkl_renew(cli_pki_dir(cli), &o, &r, &err) != PKL_OK)
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
