/*
 * pkilab issue --ca CA --template T --name N --subject DN [--san S]...
 *              [--csr FILE] [--validity D] [--not-before T] [--not-after T]
 *
 * Issues one certificate from a template into an existing PKI, with a key
 * generated here or for the public key of an external CSR (whose signature
 * is checked; its requested extensions are ignored: the template decides).
 * The work is pkl_issue (lib/issue.c); this file parses and prints.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/issue.h"

int cmd_issue(int argc, char **argv, struct pkl_cli *cli)
{
	struct pkl_issue_opts o = { 0 };
	int npos, status;
	struct cli_list sans = { 0 };
	const struct cli_opt opts[] = {
		{ "ca", 0, CLI_STR, &o.ca, "CA", "the issuing CA (a name in the PKI)" },
		{ "template", 't', CLI_STR, &o.template_name, "T", "template name (templates/T.cfg)" },
		{ "name", 'n', CLI_STR, &o.name, "N", "name of the new certificate in the PKI" },
		{ "subject", 's', CLI_STR, &o.subject, "DN",
		  "subject, e.g. \"CN=vpn.example.com\" (default: the CSR's)" },
		{ "san", 0, CLI_LIST, &sans, "S",
		  "subjectAltName: DNS:x, IP:x, email:x, URI:x or bare (repeatable)" },
		{ "csr", 0, CLI_STR, &o.csr_path, "FILE",
		  "sign this PKCS#10 request instead of generating a key" },
		{ "validity", 0, CLI_STR, &o.validity, "D", "override the template's validity, e.g. 90d" },
		{ "not-before", 0, CLI_STR, &o.not_before, "T", "absolute or relative notBefore" },
		{ "not-after", 0, CLI_STR, &o.not_after, "T", "absolute or relative notAfter" },
		{ "outlive-issuer", 0, CLI_FLAG, &o.outlive_issuer, NULL,
		  "allow notAfter beyond the issuer's" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_issue_result r;
	char buf[64];

	status = cli_parse(argc, argv, opts, cli,
			   "issue --ca CA --template T --name N [--subject DN] [--san S]... [--csr FILE]",
			   &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (!o.ca || !o.template_name || !o.name)
		return cli_usage_error(cli, "--ca, --template and --name are required");
	if (!o.subject && !o.csr_path)
		return cli_usage_error(cli, "--subject is required (or --csr to take the request's)");
	o.sans = sans.v;
	o.n_sans = sans.n;
	o.templates_dir = cli->env.templates;

	if (pkl_issue(cli_pki_dir(cli), &o, &r, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", r.name, "issuer", r.issuer,
				      "serial", r.serial, "subject", r.subject, "not_after",
				      pkl_time_fmt(r.not_after, buf, sizeof(buf)));
		cli_print_json(cli, j);
		json_decref(j);
	} else if (cli->verbose >= 0) {
		printf("issued %s (serial %s) by %s, valid until %s\n", r.name, r.serial, r.issuer,
		       pkl_time_fmt(r.not_after, buf, sizeof(buf)));
	}
	return 0;
}
