/*
 * pkilab expiring [--days N] [--crl-days M] [--json]
 *
 * The 30-days-ahead warning for cron or CI: every current, unrevoked
 * certificate that expires (or expired) within N days, every CRL that is
 * not up to date (pkilab/crl_state.h: missing, unreadable, wrong signer,
 * dated in the future, expired, missing a revocation, past its re-sign
 * point) and every fresh one whose nextUpdate falls within M days (default
 * N), and
 * every CA that expires before a certificate it signed (that certificate
 * silently dies with it). Exit status 1 when anything is listed, 0 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/crl_state.h"
#include "pkilab/revoke.h"

struct rows {
	struct pkl_cert_row *v;
	size_t n, cap;
};

static int collect(const struct pkl_cert_row *r, void *cls)
{
	struct rows *rs = cls;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		void *nv = realloc(rs->v, cap * sizeof(*rs->v));
		if (!nv)
			return 1;
		rs->v = nv;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *r;
	return 0;
}

struct out {
	json_t *arr;
	pkl_time now;
	size_t n;
	int quiet;
};

static void item(struct out *o, const char *kind, const char *name, pkl_time when, const char *detail)
{
	char t[32], d[32];
	int64_t left = when - o->now;

	pkl_time_fmt(when, t, sizeof(t));
	if (o->arr) {
		json_array_append_new(o->arr, json_pack("{s:s, s:s, s:s, s:I, s:s}", "kind", kind, "name",
							name, "expires", when ? t : "", "seconds_left",
							(json_int_t)(when ? left : 0), "detail", detail));
	} else if (!o->quiet) {
		if (!when)
			printf("%-12s %-20s %s\n", kind, name, detail);
		else if (left <= 0)
			printf("%-12s %-20s expired %s ago (%s)%s%s\n", kind, name,
			       pkl_duration_fmt(-left, d, sizeof(d)), t, *detail ? ": " : "", detail);
		else
			printf("%-12s %-20s expires in %s (%s)%s%s\n", kind, name,
			       pkl_duration_fmt(left, d, sizeof(d)), t, *detail ? ": " : "", detail);
	}
	o->n++;
}

int cmd_expiring(int argc, char **argv, struct pkl_cli *cli)
{
	long days = 30, crl_days = -1;
	int npos, status;
	const struct cli_opt opts[] = {
		{ "days", 'd', CLI_INT, &days, "N", "look N days ahead (default 30)" },
		{ "crl-days", 0, CLI_INT, &crl_days, "M",
		  "look M days ahead for CRLs (default: N; a 7-day CRL is always within 30 days)" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;
	struct rows rs = { NULL, 0, 0 };
	struct out o = { NULL, pkl_time_now(), 0, cli->verbose < 0 };
	pkl_time horizon, crl_horizon;
	char detail[PATH_MAX + 256], t1[32];

	status = cli_parse(argc, argv, opts, cli, "expiring [--days N] [--crl-days M] [--json]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (days < 0 || days > 36500)
		return cli_usage_error(cli, "--days must be between 0 and 36500");
	if (crl_days < 0)
		crl_days = days;
	if (crl_days > 36500)
		return cli_usage_error(cli, "--crl-days must be between 0 and 36500");
	o.quiet = cli->verbose < 0;
	horizon = o.now + (pkl_time)days * 86400;
	crl_horizon = o.now + (pkl_time)crl_days * 86400;
	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki)
		return cli_fail(cli, &err);
	if (pkl_db_cert_each(pki->db, 0, collect, &rs, &err) != PKL_OK)
		goto out;
	if (cli->json)
		o.arr = json_array();
	for (size_t i = 0; i < rs.n; i++) {
		const struct pkl_cert_row *r = &rs.v[i];
		if (r->status == PKL_STATUS_REVOKED)
			continue;
		if (r->not_after <= horizon) {
			snprintf(detail, sizeof(detail), "%s, serial %s",
				 r->is_ca ? "CA certificate" : "certificate", r->serial);
			item(&o, "certificate", r->name, r->not_after, detail);
		}
	}
	/* CAs that die before what they signed: the chain of every such
	 * certificate breaks on the CA's notAfter, not on its own. */
	for (size_t i = 0; i < rs.n; i++) {
		const struct pkl_cert_row *r = &rs.v[i];
		struct pkl_cert_row is;
		if (r->status == PKL_STATUS_REVOKED || r->issuer_id == r->id)
			continue;
		if (pkl_db_cert_get(pki->db, r->issuer_id, &is, NULL) != PKL_OK)
			continue;
		if (is.not_after < r->not_after) {
			snprintf(detail, sizeof(detail),
				 "expires before '%s' it signed (%s), which stops validating then", r->name,
				 pkl_time_fmt(r->not_after, t1, sizeof(t1)));
			item(&o, "ca-outlived", is.name, is.not_after, detail);
		}
	}
	/* Every CRL that is not up to date (pkilab/crl_state.h), whatever the
	 * horizon, and a fresh one whose nextUpdate falls within it. */
	for (size_t i = 0; i < rs.n; i++) {
		const struct pkl_cert_row *r = &rs.v[i];
		struct pkl_crl_status st;
		char line[1024];
		pkl_time when;

		if (!r->is_ca || r->status == PKL_STATUS_REVOKED)
			continue;
		if (pkl_crl_state_judge(pki, r->name, o.now, &st, NULL, &err) != PKL_OK)
			goto out;
		when = st.parsed ? st.info.next_update : 0;
		pkl_crl_state_describe(&st, o.now, line, sizeof(line));
		switch (st.state) {
		case PKL_CRL_UP_TO_DATE:
			if (when && when <= crl_horizon)
				item(&o, "crl", r->name, when,
				     "CRL nextUpdate; 'pkilab crl --due' re-signs it");
			continue;
		case PKL_CRL_EXPIRED:
		case PKL_CRL_RESIGN: break; /* listed by nextUpdate: "expired 2d ago", "expires in 3d" */
		default:
			when = 0; /* listed by what is wrong, not by a date */
			break;
		}
		snprintf(detail, sizeof(detail), "CRL %s; 'pkilab crl --due' re-signs it", line);
		item(&o, "crl", r->name, when, detail);
	}
	if (o.arr) {
		cli_print_json(cli, o.arr);
	}
out:
	json_decref(o.arr);
	free(rs.v);
	pkl_pki_close(pki);
	if (err.rc)
		return cli_fail(cli, &err);
	return o.n ? PKL_FOUND : PKL_OK;
}
