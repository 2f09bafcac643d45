/*
 * pkilab build LAB.cfg [--pki DIR] [--dry-run] [--apply] [--revoke-orphans] [--json]
 *
 * Creates the PKI a lab file describes, or converges an existing one: what
 * the lab adds is issued, what exists is not re-issued or overwritten unless
 * asked. What the lab says differently from an issued certificate (README
 * "Drift") is printed field by field, certificates the lab lost as orphans,
 * and the build exits 1; with nothing new to issue a drifted PKI is not
 * written. --apply re-issues the end-entities that differ (the replaced
 * certificates revoked as superseded, their CRLs re-signed, one
 * transaction); --revoke-orphans revokes the orphans.
 * A PKI belongs to the lab that built it: another lab is refused (build.h).
 * All-or-nothing: a new PKI is built in a temporary sibling directory and
 * renamed into place; an existing one changes in a single transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <limits.h>

#include "../cli/cli.h"
#include "pkilab/build.h"
#include "pkilab/key.h"

/* " +a +b" for "a b" (the values of a list change), "" for "". */
struct prefixed_text {
	char s[2048];
};

static struct prefixed_text prefixed(const char *sign, const char *words)
{
	struct prefixed_text p = { "" };
	char copy[1024], *save = NULL;
	size_t n = 0;

	snprintf(copy, sizeof(copy), "%s", words);
	for (char *w = strtok_r(copy, " ", &save); w && n < sizeof(p.s); w = strtok_r(NULL, " ", &save))
		n += (size_t)snprintf(p.s + n, sizeof(p.s) - n, "%s%s", sign, w);
	return p;
}

static json_t *words_json(const char *words)
{
	json_t *a = json_array();
	char copy[1024], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", words);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		json_array_append_new(a, json_string(w));
	return a;
}

/* {"name": .., "changes": [{"field": "san", "added": [..], "removed": [..]},
 * {"field": "key", "was": "ec:P-256", "now": "rsa:2048"}]} */
static json_t *changes_json(const struct pkl_build_item *it)
{
	json_t *a = json_array();

	for (size_t k = 0; k < it->n_changes; k++) {
		const struct pkl_build_change *c = &it->changes[k];
		if (c->list)
			json_array_append_new(a, json_pack("{s:s, s:o, s:o}", "field", c->field, "added",
							   words_json(c->added), "removed",
							   words_json(c->removed)));
		else
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "field", c->field, "was",
							   c->was, "now", c->now));
	}
	return json_pack("{s:s, s:b, s:o}", "name", it->e->name, "ca", it->e->is_ca, "changes", a);
}

/* [{"ca": .., "number": .., "entries": N, "this_update": ..}]: the CRLs the
 * apply re-signed. */
static json_t *crls_json(const struct pkl_build_plan *plan)
{
	json_t *a = json_array();
	char t[32];

	for (size_t i = 0; i < pkl_build_plan_n_crls(plan); i++) {
		const struct pkl_crl_info *c = pkl_build_plan_crl(plan, i);
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s}", "ca", c->ca, "number", c->number,
						   "entries", (json_int_t)c->n_entries, "this_update",
						   pkl_time_fmt(c->this_update, t, sizeof(t))));
	}
	return a;
}

/* What becomes of orphan i. */
static const char *orphan_note(const struct pkl_build_plan *plan, size_t i, int dry_run)
{
	if (pkl_build_plan_orphan_unknown(plan, i))
		return " (origin not recorded: left as it is)";
	if (!pkl_build_plan_revokes_orphans(plan))
		return "";
	return dry_run ? " (to revoke: cessationOfOperation)" : " revoked (cessationOfOperation)";
}

/* The word of an item's line. */
static const char *action_word(const struct pkl_build_item *it, int dry_run)
{
	switch (it->action) {
	case PKL_BUILD_KEEP: return "kept";
	case PKL_BUILD_REISSUE: return "reissue";
	default: return dry_run ? "would" : "issued";
	}
}

/* The plan, before (dry run) or after it was applied. */
static void report(struct pkl_cli *cli, const struct pkl_lab *lab, const struct pkl_build_plan *plan,
		   int dry_run)
{
	const char *pki_dir = pkl_build_plan_pki_dir(plan);
	size_t n = pkl_build_plan_count(plan);
	char until[32];

	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:b, s:[], s:[], s:[], s:[], s:[]}", "lab", lab->name,
				      "pki", pki_dir, "dry_run", dry_run, "issued", "reissued", "kept",
				      "changed", "orphans");
		for (size_t i = 0; i < n; i++) {
			const struct pkl_build_item *it = pkl_build_plan_item(plan, i);
			int kept = it->action == PKL_BUILD_KEEP;
			json_t *c = json_pack(
				"{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", it->e->name, "role",
				it->e->is_ca ? (it->e->issuer[0] ? "intermediate" : "root") : "end-entity",
				"issuer", it->e->issuer[0] ? it->e->issuer : it->e->name, "subject",
				kept ? it->row.subject : it->e->subject, "serial", it->row.serial,
				"not_after",
				pkl_time_fmt(kept ? it->row.not_after : it->e->not_after, until,
					     sizeof(until)),
				"ca", it->e->is_ca);
			if (it->action == PKL_BUILD_REISSUE)
				json_object_set_new(c, "old_serial", json_string(it->old_serial));
			json_array_append_new(json_object_get(o, kept ? "kept" :
								 it->action == PKL_BUILD_REISSUE ?
									"reissued" :
									"issued"),
					      c);
			if (it->n_changes)
				json_array_append_new(json_object_get(o, "changed"), changes_json(it));
		}
		json_object_set_new(o, "orphans_origin_unknown", json_array());
		for (size_t i = 0; i < pkl_build_plan_n_orphans(plan); i++)
			json_array_append_new(json_object_get(o, pkl_build_plan_orphan_unknown(plan, i) ?
									 "orphans_origin_unknown" :
									 "orphans"),
					      json_string(pkl_build_plan_orphan(plan, i)));
		json_object_set_new(o, "orphans_revoked",
				    json_boolean(!dry_run && pkl_build_plan_revokes_orphans(plan)));
		json_object_set_new(o, "crls", crls_json(plan));
		json_object_set_new(o, "drift", json_boolean(pkl_build_plan_drifted(plan)));
		cli_print_json(cli, o);
		json_decref(o);
		return;
	}
	if (cli->verbose < 0)
		return;
	printf("lab '%s' -> %s%s\n", lab->name, pki_dir, dry_run ? " (dry run: nothing written)" : "");
	for (size_t i = 0; i < n; i++) {
		const struct pkl_build_item *it = pkl_build_plan_item(plan, i);
		int kept = it->action == PKL_BUILD_KEEP;
		char spec[32];
		pkl_key_spec_str(&it->e->prof.key, spec, sizeof(spec));
		printf("  %-7s %-16s %-12s %-9s until %s  %s\n", action_word(it, dry_run), it->e->name,
		       it->e->is_ca ? (it->e->issuer[0] ? "intermediate" : "root") :
				      it->e->prof.template_name,
		       kept ? it->row.key_spec : spec,
		       pkl_time_fmt(kept ? it->row.not_after : it->e->not_after, until, sizeof(until)),
		       kept ? it->row.subject : it->e->subject);
		if (it->action == PKL_BUILD_REISSUE)
			printf("  %-7s %-16s serial %s (superseded)\n", dry_run ? "revoke" : "revoked",
			       it->e->name, it->old_serial);
		for (size_t k = 0; k < it->n_changes; k++) {
			const struct pkl_build_change *c = &it->changes[k];
			if (c->list)
				printf("  changed %-16s %s%s%s\n", it->e->name, c->field,
				       prefixed(" +", c->added).s, prefixed(" -", c->removed).s);
			else
				printf("  changed %-16s %s %s -> %s\n", it->e->name, c->field, c->was,
				       c->now);
		}
	}
	for (size_t i = 0; i < pkl_build_plan_n_orphans(plan); i++)
		printf("  orphan  %s%s\n", pkl_build_plan_orphan(plan, i), orphan_note(plan, i, dry_run));
	for (size_t i = 0; i < pkl_build_plan_n_crls(plan); i++) {
		const struct pkl_crl_info *c = pkl_build_plan_crl(plan, i);
		printf("  crl     %-16s number %s, %zu entries: %s\n", c->ca, c->number, c->n_entries,
		       c->path);
	}
	if (lab->n_cdp) {
		printf("  CRLs: publish/crl/<ca>.crl, served at");
		for (size_t i = 0; i < lab->n_cdp; i++)
			printf(" %s/crl/", lab->cdp[i]);
		printf("\n");
	}
	printf("build: %zu issued, %zu kept", dry_run ? 0 : pkl_build_plan_n(plan, PKL_BUILD_ISSUE),
	       pkl_build_plan_n(plan, PKL_BUILD_KEEP));
	if (pkl_build_plan_n(plan, PKL_BUILD_REISSUE) || pkl_build_plan_revokes_orphans(plan)) {
		size_t reissue = pkl_build_plan_n(plan, PKL_BUILD_REISSUE),
		       revoke = pkl_build_plan_n_revoked_orphans(plan);
		if (dry_run)
			printf(", %zu to re-issue, %zu orphans to revoke", reissue, revoke);
		else
			printf(", %zu re-issued, %zu orphans revoked, %zu CRLs re-signed", reissue, revoke,
			       pkl_build_plan_n_crls(plan));
	}
	if (pkl_build_plan_drifted(plan) ||
	    pkl_build_plan_n_orphans(plan) > pkl_build_plan_n_revoked_orphans(plan)) {
		size_t changed = 0;
		for (size_t i = 0; i < n; i++)
			changed += pkl_build_plan_item(plan, i)->action == PKL_BUILD_KEEP &&
				   pkl_build_plan_item(plan, i)->n_changes > 0;
		printf(", %zu changed, %zu orphans", changed,
		       pkl_build_plan_n_orphans(plan) - pkl_build_plan_n_revoked_orphans(plan));
	}
	printf("\n");
}

/* Why build exits 1, and what applies the lab today (README "Drift"). */
static void drift_advice(const struct pkl_build_plan *plan)
{
	size_t n = pkl_build_plan_count(plan);

	for (size_t i = 0; i < n; i++) {
		const struct pkl_build_item *it = pkl_build_plan_item(plan, i);
		if (!it->n_changes || it->action != PKL_BUILD_KEEP)
			continue;
		if (it->e->is_ca)
			fprintf(stderr,
				"pkilab: %s: a CA differs from the lab: re-keying or re-issuing a CA is a "
				"rollover (not done by build or renew)\n",
				it->e->name);
		else
			fprintf(stderr,
				"pkilab: %s: differs from the lab: 'pkilab build --apply' re-issues it as "
				"the "
				"lab says and revokes this one (superseded)\n",
				it->e->name);
	}
	for (size_t i = 0; i < pkl_build_plan_n_orphans(plan); i++) {
		const char *name = pkl_build_plan_orphan(plan, i);
		if (pkl_build_plan_orphan_unknown(plan, i))
			fprintf(stderr,
				"pkilab: %s: in the PKI, not in the lab, and recorded before pkilab noted "
				"what issued a certificate (the lab, or 'pkilab issue'): 'pkilab revoke %s' "
				"retires it if it left the lab\n",
				name, name);
		else if (!pkl_build_plan_revokes_orphans(plan))
			fprintf(stderr,
				"pkilab: %s: issued from the lab, no longer in it: 'pkilab build "
				"--revoke-orphans' (or 'pkilab revoke %s') retires it\n",
				name, name);
	}
	if (pkl_build_plan_drifted(plan))
		fprintf(stderr,
			"pkilab: build: the PKI has drifted from the lab (nothing re-issued or revoked)\n");
}

int cmd_build(int argc, char **argv, struct pkl_cli *cli)
{
	int dry_run = 0, dry_run_forced = 0, drifted = 0, npos, status;
	struct pkl_build_opts bopts = { 0 };
	const struct cli_opt opts[] = {
		{ "dry-run", 'n', CLI_FLAG, &dry_run, NULL, "show what would be issued, write nothing" },
		{ "apply", 0, CLI_FLAG, &bopts.apply_changes, NULL,
		  "re-issue end-entities that differ from the lab (new key), revoke the ones they "
		  "replace (superseded) and re-sign their CRLs, in one transaction" },
		{ "revoke-orphans", 0, CLI_FLAG, &bopts.revoke_orphans, NULL,
		  "revoke the certificates the lab no longer has (cessationOfOperation) and re-sign "
		  "their CRLs" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_lab *lab = NULL;
	struct pkl_build_plan *plan = NULL;

	/* build's default is not ./pki: the lab file names its PKI (lab.c). */
	cli->pki_help = "the PKI directory (default $PKILAB_DIR, else the lab's 'pki' setting, "
			"else pki/ beside LAB.cfg)";
	status = cli_parse(argc, argv, opts, cli,
			   "build LAB.cfg [--pki DIR] [--dry-run] [--apply] [--revoke-orphans] [--json]",
			   &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, "expected one lab file: pkilab build LAB.cfg");

	lab = pkl_lab_load(argv[1], pkl_time_now(), cli->env.templates, &err);
	if (!lab)
		return cli_fail(cli, &err);
	bopts.pki_dir = cli->pki_dir; /* --pki; NULL: the lab's */
	/* The plan alone is the dry run; applying it writes the PKI. */
	plan = pkl_build_plan_new(lab, &bopts, &err);
	/* A drifted PKI with nothing new to issue is left untouched, not even
	 * the recorded publication settings change (README "Drift"). */
	if (plan && (pkl_build_plan_drifted(plan) || pkl_build_plan_n_orphans(plan)) &&
	    !pkl_build_plan_n(plan, PKL_BUILD_ISSUE) && !pkl_build_plan_n(plan, PKL_BUILD_REISSUE) &&
	    !pkl_build_plan_revokes_orphans(plan))
		dry_run_forced = 1;
	if (plan && (dry_run || dry_run_forced || pkl_build_apply(plan, &err) == PKL_OK)) {
		report(cli, lab, plan, dry_run);
		drifted = pkl_build_plan_drifted(plan);
		if ((drifted || pkl_build_plan_n_orphans(plan)) && cli->verbose >= 0)
			drift_advice(plan);
	}
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
	return err.rc ? cli_fail(cli, &err) : drifted ? 1 : 0;
}
