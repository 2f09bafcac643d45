/*
 * pkilab: global options, the command table, exit codes (README, "Commands"):
 * 0 success, 1 a check found problems, 2 usage/input error, 3 runtime failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pkilab/lab.h"
#include "pkilab/log.h"

/* Sorted by name; `pkilab help` prints it in this order. */
static const struct cli_cmd commands[] = {
	{ "build", cmd_build, "create or converge the PKI a lab file describes" },
	{ "crl", cmd_crl, "sign fresh CRLs into publish/" },
	{ "doctor", cmd_doctor, "diagnose a chain end to end: trust, time, revocation, platform rules" },
	{ "expiring", cmd_expiring, "certificates and CRLs expiring within N days (exit 1 when any)" },
	{ "export", cmd_export, "bundles: pem, der, p12, windows, strongswan, openssl-index" },
	{ "graph", cmd_graph, "the hierarchy as Graphviz DOT (SVG when dot is installed)" },
	{ "issue", cmd_issue, "issue one certificate from a template (or sign a CSR)" },
	{ "lint", cmd_lint, "standards and platform checks of a certificate or CRL, offline" },
	{ "list", cmd_list, "inventory of the PKI" },
	{ "renew", cmd_renew, "a new certificate for the same subject and SANs" },
	{ "revoke", cmd_revoke, "record a revocation" },
	{ "show", cmd_show, "details of one certificate" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pkilab [--pki DIR] [--json] [-v|-q] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'pkilab COMMAND --help' describes a command. Exit status: 0 ok, 1 problems "
		   "found, 2 usage or input error, 3 runtime failure.\n");
}

int main(int argc, char **argv)
{
	struct pkl_cli cli = { .prog = "pkilab" };
	const char *names[sizeof(commands) / sizeof(commands[0]) + 1];
	int i;

	/* The environment is read once, here; a malformed value is refused
	 * before any command runs (pkilab/env.h). */
	struct pkl_err err = { 0 };
	if (pkl_env_read(&cli.env, getenv, &err) != PKL_OK)
		return cli_fail(&cli, &err);
	pkl_env_apply(&cli.env);
	cli.pki_dir = cli.env.pki_dir;
	/* Global options may precede the command; commands accept them too. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--pki") && i + 1 < argc)
			cli.pki_dir = argv[++i];
		else if (!strncmp(argv[i], "--pki=", 6))
			cli.pki_dir = argv[i] + 6;
		else if (!strcmp(argv[i], "--json"))
			cli.json = 1;
		else if (!strcmp(argv[i], "-v"))
			cli.verbose++;
		else if (!strcmp(argv[i], "-q"))
			cli.verbose = -1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("pkilab %s\n", PKL_VERSION);
			return 0;
		} else {
			fprintf(stderr, "pkilab: error: unknown option '%s'\n", argv[i]);
			return PKL_EINPUT;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return PKL_EINPUT;
	}
	if (!strcmp(argv[i], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		names[c] = commands[c].name;
		if (strcmp(argv[i], commands[c].name) == 0) {
			cli.command = commands[c].name;
			int rc = commands[c].fn(argc - i, argv + i, &cli);
			/* Results go to stdout: a full disk or a closed pipe must not
			 * pass for success (3: runtime failure). */
			if (cli.output_failed)
				return PKL_ERUNTIME;
			if (fflush(stdout) != 0 || ferror(stdout)) {
				fprintf(stderr, "pkilab: error: cannot write to standard output: %s\n",
					strerror(errno));
				return PKL_ERUNTIME;
			}
			return rc;
		}
	}
	names[sizeof(commands) / sizeof(commands[0])] = NULL;
	char hint[160];

	fprintf(stderr, "pkilab: error: unknown command '%s'%s\n", argv[i],
		pkl_suggest_hint(argv[i], names, hint, sizeof(hint)));
	return PKL_EINPUT;
}
