/*
 * pkilab list [--all] [--json]
 *
 * The inventory: every current certificate (with --all also the superseded
 * ones renew left behind), with issuer, serial, status and expiry; in JSON a
 * current CA also has the state of its published CRL ("crl").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/crl.h"
#include "pkilab/crl_state.h"
#include "pkilab/db.h"
#include "pkilab/pki.h"

struct list_ctx {
	json_t *arr;
	pkl_time now;
	size_t n;
	struct pkl_pki *pki;
	struct pkl_err *err;
};

static const char *status_of(const struct pkl_cert_row *r, pkl_time now)
{
	if (r->status == PKL_STATUS_REVOKED)
		return "revoked";
	if (r->not_after <= now)
		return "expired";
	if (r->not_before > now)
		return "not-yet-valid";
	if (!r->current)
		return "superseded";
	return "valid";
}

static int one(const struct pkl_cert_row *r, void *cls)
{
	struct list_ctx *c = cls;
	char na[32];
	const char *kind = !r->is_ca ? "leaf" : r->issuer_id == r->id ? "root" : "intermediate";

	pkl_time_fmt(r->not_after, na, sizeof(na));
	if (c->arr) {
		char nb[32], ra[32];
		json_t *o = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", r->name, "kind", kind,
			"issuer", r->issuer_name, "serial", r->serial, "subject", r->subject, "template",
			r->template_name, "status", status_of(r, c->now), "not_before",
			pkl_time_fmt(r->not_before, nb, sizeof(nb)), "not_after", na, "current", r->current);

		/* The recorded date, the one every CRL carries (pkilab/crl.h). */
		if (o && r->status == PKL_STATUS_REVOKED) {
			json_object_set_new(o, "revoked_at",
					    json_string(pkl_time_fmt(r->revoked_at, ra, sizeof(ra))));
			json_object_set_new(o, "reason", json_string(pkl_reason_label(r->reason)));
		}
		/* A current CA's published CRL, judged as every command judges it
		 * (pkilab/crl_state.h). */
		if (o && r->is_ca && r->current) {
			struct pkl_crl_status st;
			char line[1024];

			if (pkl_crl_state_judge(c->pki, r->name, c->now, &st, NULL, c->err) != PKL_OK) {
				json_decref(o);
				return 1;
			}
			json_object_set_new(
				o, "crl",
				json_pack("{s:s, s:s, s:s}", "path", st.path, "state",
					  pkl_crl_state_name(st.state), "detail",
					  pkl_crl_state_describe(&st, c->now, line, sizeof(line))));
		}
		if (o)
			json_array_append_new(c->arr, o);
	} else {
		if (c->n == 0)
			printf("%-20s %-12s %-14s %-13s %-20s %s\n", "NAME", "KIND", "ISSUER", "STATUS",
			       "NOT AFTER", "SERIAL");
		printf("%-20s %-12s %-14s %-13s %-20s %s\n", r->name, kind, r->issuer_name,
		       status_of(r, c->now), na, r->serial);
	}
	c->n++;
	return 0;
}

int cmd_list(int argc, char **argv, struct pkl_cli *cli)
{
	int all = 0, npos, status;
	const struct cli_opt opts[] = {
		{ "all", 'a', CLI_FLAG, &all, NULL, "also superseded certificates (renewal history)" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct list_ctx c = { NULL, pkl_time_now(), 0, NULL, &err };
	struct pkl_pki *pki;

	status = cli_parse(argc, argv, opts, cli, "list [--all] [--json]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki)
		return cli_fail(cli, &err);
	c.pki = pki;
	if (cli->json)
		c.arr = json_array();
	if (pkl_db_cert_each(pki->db, all, one, &c, &err) == PKL_OK && !err.rc && c.arr) {
		cli_print_json(cli, c.arr);
	}
	json_decref(c.arr);
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
