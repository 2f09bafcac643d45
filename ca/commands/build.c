/*
 * pkilab build LAB.cfg [--pki DIR] [--dry-run] [--json]
 *
 * Creates the PKI a lab file describes, or converges an existing one: what
 * the lab adds is issued, what exists is never re-issued or overwritten.
 * A PKI belongs to the lab that built it: another lab is refused (build.h).
 * All-or-nothing: a new PKI is built in a temporary sibling directory and
 * renamed into place; an existing one changes in a single transaction.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <limits.h>

#include "../cli/cli.h"
#include "pkilab/build.h"
#include "pkilab/key.h"

/* The plan, before (dry run) or after it was applied. */
static void report(struct pkl_cli *cli, const struct pkl_lab *lab, const struct pkl_build_plan *plan,
		   int dry_run)
{
	const char *pki_dir = pkl_build_plan_pki_dir(plan);
	size_t n = pkl_build_plan_count(plan);
	char until[32];

	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:b, s:[], s:[]}", "lab", lab->name, "pki", pki_dir,
				      "dry_run", dry_run, "issued", "kept");
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
			if (it->differs[0])
				json_object_set_new(c, "lab_differs", json_string(it->differs));
			json_array_append_new(json_object_get(o, kept ? "kept" : "issued"), c);
		}
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
		printf("  %-7s %-16s %-12s %-9s until %s  %s%s%s\n",
		       kept    ? "kept" :
		       dry_run ? "would" :
				 "issued",
		       it->e->name,
		       it->e->is_ca ? (it->e->issuer[0] ? "intermediate" : "root") :
				      it->e->prof.template_name,
		       kept ? it->row.key_spec : spec,
		       pkl_time_fmt(kept ? it->row.not_after : it->e->not_after, until, sizeof(until)),
		       kept ? it->row.subject : it->e->subject,
		       it->differs[0] ? "  (lab entry differs: " : "", it->differs[0] ? it->differs : "");
		if (it->differs[0])
			printf("%*s use 'pkilab renew %s' to re-issue)\n", 0, "", it->e->name);
	}
	if (lab->n_cdp) {
		printf("  CRLs: publish/crl/<ca>.crl, served at");
		for (size_t i = 0; i < lab->n_cdp; i++)
			printf(" %s/crl/", lab->cdp[i]);
		printf("\n");
	}
	printf("build: %zu issued, %zu kept\n", dry_run ? 0 : pkl_build_plan_n(plan, PKL_BUILD_ISSUE),
	       pkl_build_plan_n(plan, PKL_BUILD_KEEP));
}

int cmd_build(int argc, char **argv, struct pkl_cli *cli)
{
	int dry_run = 0, npos, status;
	const struct cli_opt opts[] = {
		{ "dry-run", 'n', CLI_FLAG, &dry_run, NULL, "show what would be issued, write nothing" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_lab *lab = NULL;
	struct pkl_build_plan *plan = NULL;
	struct pkl_build_opts bopts = { 0 };

	/* build's default is not ./pki: the lab file names its PKI (lab.c). */
	cli->pki_help = "the PKI directory (default $PKILAB_DIR, else the lab's 'pki' setting, "
			"else pki/ beside LAB.cfg)";
	status = cli_parse(argc, argv, opts, cli, "build LAB.cfg [--pki DIR] [--dry-run] [--json]", &npos);
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
	if (plan && (dry_run || pkl_build_apply(plan, &err) == PKL_OK))
		report(cli, lab, plan, dry_run);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
	return err.rc ? cli_fail(cli, &err) : 0;
}
