/*
 * pkilab crl [--ca CA] [--due] [--allow-clock-behind]
 *
 * Signs fresh CRLs into publish/crl/ (all CAs, or one). With --due only the
 * CRLs that passed half of their lifetime or miss a recorded revocation are
 * re-signed, so an hourly timer (examples/systemd/pkilab-crl.timer) keeps
 * every CRL fresh without churning CRL numbers. A clock behind the CRL in
 * force is refused (exit 2) unless --allow-clock-behind says it was the
 * earlier clock that was wrong.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/crl_publish.h"

struct crl_out {
	struct pkl_cli *cli;
	json_t *arr;
};

static void report(const struct pkl_crl_info *i, void *cls)
{
	struct crl_out *o = cls;
	char tu[32], nu[32];

	pkl_time_fmt(i->this_update, tu, sizeof(tu));
	pkl_time_fmt(i->next_update, nu, sizeof(nu));
	if (o->arr) {
		json_array_append_new(o->arr,
				      json_pack("{s:s, s:b, s:s, s:s, s:s, s:I, s:I, s:s}", "ca", i->ca,
						"signed", i->signed_now, "number", i->number, "this_update",
						tu, "next_update", nu, "entries", (json_int_t)i->n_entries,
						"bytes", (json_int_t)i->der_len, "path", i->path));
	} else if (o->cli->verbose >= 0) {
		if (i->signed_now)
			printf("%s: signed CRL number %s, %zu revoked, next update %s -> %s\n", i->ca,
			       i->number, i->n_entries, nu, i->path);
		else
			printf("%s: not due (number %s, next update %s)\n", i->ca, i->number, nu);
	}
}

int cmd_crl(int argc, char **argv, struct pkl_cli *cli)
{
	const char *ca = NULL;
	int due = 0, clock_behind = 0, npos, status;
	const struct cli_opt opts[] = {
		{ "ca", 0, CLI_STR, &ca, "CA", "only this CA (default: every CA)" },
		{ "due", 0, CLI_FLAG, &due, NULL,
		  "only CRLs past half their lifetime or missing a revocation (for timers)" },
		{ "allow-clock-behind", 0, CLI_FLAG, &clock_behind, NULL,
		  "sign even when the clock is behind the current CRL's thisUpdate (refused otherwise)" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct crl_out o = { cli, NULL };
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;
	int flags;

	status = cli_parse(argc, argv, opts, cli, "crl [--ca CA] [--due] [--allow-clock-behind]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos)
		return cli_usage_error(cli, "unexpected argument '%s' (use --ca CA)", argv[1]);
	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki)
		return cli_fail(cli, &err);
	if (cli->json)
		o.arr = json_array();
	flags = (due ? PKL_PUBLISH_DUE : 0) | (clock_behind ? PKL_PUBLISH_ALLOW_CLOCK_BEHIND : 0);
	if (ca) {
		struct pkl_crl_info info;
		if (pkl_crl_publish(pki, ca, flags, &info, &err) == PKL_OK)
			report(&info, &o);
	} else {
		pkl_crl_publish_all(pki, flags, report, &o, &err);
	}
	if (o.arr && !err.rc) {
		cli_print_json(cli, o.arr);
	}
	json_decref(o.arr);
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
