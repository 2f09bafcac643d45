/*
 * pkilab build LAB.cfg [--pki DIR] [--dry-run] [--json]
 *
 * Creates the PKI a lab file describes, or converges an existing one: what
 * the lab adds is issued, what exists is never re-issued or overwritten.
 * All-or-nothing: a new PKI is built in a temporary sibling directory and
 * renamed into place; an existing one changes in a single transaction.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <limits.h>

#include "../cli/cli.h"
#include "pkilab/file.h"
#include "pkilab/issue.h"
#include "pkilab/key.h"
#include "pkilab/log.h"

struct plan_item {
	const struct pkl_entity *e;
	int exists;          /* already in the PKI: kept */
	char differs[128];   /* what the lab says differently about a kept one */
	EVP_PKEY *key;       /* pre-generated key for a new one */
	X509 *cert;          /* issued (new) or loaded (kept CA) */
	EVP_PKEY *ca_key;    /* a kept CA's key, loaded when it signs something new */
	struct pkl_cert_row row;
	struct pkl_err err;  /* key generation failure */
};

struct keygen {
	struct plan_item *items;
	size_t n;
	size_t next;
	pthread_mutex_t lock;
};

/* Key generation dominates RSA issuance; spread it over the cores. */
static void *keygen_worker(void *arg)
{
	struct keygen *kg = arg;

	for (;;) {
		pthread_mutex_lock(&kg->lock);
		size_t i = kg->next++;
		pthread_mutex_unlock(&kg->lock);
		if (i >= kg->n)
			return NULL;
		struct plan_item *it = &kg->items[i];
		if (!it->exists)
			it->key = pkl_key_generate(&it->e->prof.key, &it->err);
	}
}

static enum pkl_rc generate_keys(struct plan_item *items, size_t n, struct pkl_err *err)
{
	struct keygen kg = { .items = items, .n = n };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = ncpu > 1 ? (size_t)(ncpu > 8 ? 8 : ncpu) : 1;
	pthread_t th[8];
	size_t started = 0;

	pthread_mutex_init(&kg.lock, NULL);
	for (size_t t = 1; t < nthreads; t++)
		if (pthread_create(&th[started], NULL, keygen_worker, &kg) == 0)
			started++;
	keygen_worker(&kg);
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&kg.lock);
	for (size_t i = 0; i < n; i++)
		if (!items[i].exists && !items[i].key) {
			*err = items[i].err;
			pkl_err_where(err, items[i].e->where);
			return err->rc ? err->rc : PKL_ERUNTIME;
		}
	return PKL_OK;
}

static struct plan_item *find_item(struct plan_item *items, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(items[i].e->name, name))
			return &items[i];
	return NULL;
}

/* A kept certificate whose lab entry changed is reported, not re-issued:
 * `pkilab renew` is the explicit way to replace a certificate. */
static void note_differences(struct plan_item *it)
{
	const struct pkl_entity *e = it->e;
	size_t n = 0;

	it->differs[0] = '\0';
	if (strcmp(it->row.subject, e->subject))
		n += (size_t)snprintf(it->differs + n, sizeof(it->differs) - n, "subject ");
	if (strcmp(it->row.template_name, e->prof.template_name) && n < sizeof(it->differs))
		n += (size_t)snprintf(it->differs + n, sizeof(it->differs) - n, "template ");
	if (strcmp(it->row.issuer_name, e->issuer[0] ? e->issuer : e->name) && n < sizeof(it->differs))
		snprintf(it->differs + n, sizeof(it->differs) - n, "issuer ");
}

static enum pkl_rc issue_all(struct pkl_pki *pki, const struct pkl_lab *lab, struct plan_item *items,
			     size_t n, struct pkl_err *err)
{
	struct pkl_issue_ctx ctx = { .n_cdp = lab->n_cdp, .cdp_point_per_uri = lab->cdp_point_per_uri,
				     .now = lab->now };
	struct pkl_txn *txn;
	enum pkl_rc rc;

	memcpy(ctx.cdp, lab->cdp, sizeof(ctx.cdp));
	txn = pkl_txn_begin(pki, err);
	if (!txn)
		return err->rc;
	ctx.cache = pkl_issue_cache_new(); /* NULL only costs speed */
	/* The lab's current publication settings apply to what is issued later. */
	rc = pkl_issue_ctx_save(pki, &ctx, err);
	for (size_t i = 0; i < n && rc == PKL_OK; i++) {
		struct plan_item *it = &items[i], *iss = NULL;
		if (it->exists)
			continue;
		if (it->e->issuer[0]) {
			iss = find_item(items, n, it->e->issuer);
			if (!iss->cert && !(iss->cert = pkl_pki_load_ca_cert(pki, iss->e->name, err))) {
				rc = err->rc;
				break;
			}
			if (!iss->ca_key && !(iss->ca_key = pkl_pki_load_key(pki, iss->e->name, err))) {
				rc = err->rc;
				break;
			}
		}
		rc = pkl_issue_entity(txn, pki, &ctx, it->e, iss ? iss->cert : NULL, iss ? iss->ca_key : NULL,
				      it->key, 1, &it->cert, it->e->is_ca ? &it->ca_key : NULL, err);
		if (rc == PKL_OK)
			rc = pkl_db_cert_find(pki->db, it->e->name, &it->row, err);
	}
	pkl_issue_cache_free(ctx.cache);
	if (rc != PKL_OK) {
		pkl_txn_abort(txn);
		return rc;
	}
	return pkl_txn_commit(txn, err);
}

static void report(struct pkl_cli *cli, const struct pkl_lab *lab, const char *pki_dir,
		   struct plan_item *items, size_t n, int dry_run)
{
	size_t issued = 0, kept = 0;
	char until[32];

	for (size_t i = 0; i < n; i++)
		items[i].exists ? kept++ : issued++;
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:b, s:[], s:[]}", "lab", lab->name, "pki", pki_dir,
				      "dry_run", dry_run, "issued", "kept");
		for (size_t i = 0; i < n; i++) {
			const struct plan_item *it = &items[i];
			json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", it->e->name,
					      "role", it->e->is_ca ? (it->e->issuer[0] ? "intermediate" : "root") : "end-entity",
					      "issuer", it->e->issuer[0] ? it->e->issuer : it->e->name,
					      "subject", it->exists ? it->row.subject : it->e->subject,
					      "serial", it->row.serial, "not_after",
					      pkl_time_fmt(it->exists ? it->row.not_after : it->e->not_after, until, sizeof(until)),
					      "ca", it->e->is_ca);
			if (it->differs[0])
				json_object_set_new(c, "lab_differs", json_string(it->differs));
			json_array_append_new(json_object_get(o, it->exists ? "kept" : "issued"), c);
		}
		cli_print_json(cli, o);
		json_decref(o);
		return;
	}
	if (cli->verbose < 0)
		return;
	printf("lab '%s' -> %s%s\n", lab->name, pki_dir, dry_run ? " (dry run: nothing written)" : "");
	for (size_t i = 0; i < n; i++) {
		const struct plan_item *it = &items[i];
		char spec[32];
		pkl_key_spec_str(&it->e->prof.key, spec, sizeof(spec));
		printf("  %-7s %-16s %-12s %-9s until %s  %s%s%s\n",
		       it->exists ? "kept" : dry_run ? "would" : "issued", it->e->name,
		       it->e->is_ca ? (it->e->issuer[0] ? "intermediate" : "root") : it->e->prof.template_name,
		       it->exists ? it->row.key_spec : spec,
		       pkl_time_fmt(it->exists ? it->row.not_after : it->e->not_after, until, sizeof(until)),
		       it->exists ? it->row.subject : it->e->subject,
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
	printf("build: %zu issued, %zu kept\n", dry_run ? 0 : issued, kept);
}

/* 1 for an empty directory (or anything that is not a readable directory:
 * the rename will then fail with the precise reason). */
static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return 1;
	while (empty && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

struct staging_match {
	char prefix[NAME_MAX + 8]; /* "<pki>.new-" */
};

/* "<pki>.new-<pid>-XXXXXX" (mkdtemp's six characters) whose pid is gone. */
static int is_dead_staging(const char *name, void *cls)
{
	const struct staging_match *m = cls;
	size_t plen = strlen(m->prefix);
	const char *p = name + plen, *dash;
	char *end;
	long pid;

	if (strncmp(name, m->prefix, plen) != 0 || *p < '1' || *p > '9')
		return 0;
	pid = strtol(p, &end, 10);
	dash = end;
	if (*dash != '-' || strlen(dash + 1) != 6 || pid <= 0 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Staging directories of builds that were killed are removed, so a kill -9
 * leaves no litter for long. The parent directory may be writable by others
 * (a shared workspace): pkl_file_sweep only removes real directories this
 * user owns and never follows a link, so a planted "<pki>.new-0-x -> victim"
 * costs nothing but its own name. */
static void sweep_dead_staging(const char *pki_dir)
{
	char parent[PATH_MAX], tmp[PATH_MAX];
	struct staging_match m;

	snprintf(tmp, sizeof(tmp), "%s", pki_dir);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s", pki_dir);
	snprintf(m.prefix, sizeof(m.prefix), "%s.new-", basename(tmp));
	(void)pkl_file_sweep(parent, is_dead_staging, &m, NULL, NULL);
}

/* Builds a new PKI in "<dir>.new-<pid>-XXXXXX" beside it, so that a failure leaves
 * nothing behind and success appears at once (rename over an empty or
 * missing directory). */
static enum pkl_rc make_staging_dir(const char *pki_dir, char *out, size_t outlen, struct pkl_err *err)
{
	char parent[PATH_MAX], tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", pki_dir);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	if (pkl_file_mkdirs(parent, 0755, err) != PKL_OK)
		return err->rc;
	sweep_dead_staging(pki_dir);
	if (pkl_path_join(out, outlen, err, "%s.new-%ld-XXXXXX", pki_dir, (long)getpid()) != PKL_OK)
		return PKL_EINPUT;
	if (!mkdtemp(out))
		return pkl_err_sys(err, parent, "cannot create the PKI directory here");
	chmod(out, 0755);
	return PKL_OK;
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
	struct pkl_pki *pki = NULL;
	struct plan_item *items = NULL;
	char pki_dir[PATH_MAX], staging[PATH_MAX] = "", dbpath[PATH_MAX + 16];
	int fresh;

	status = cli_parse(argc, argv, opts, cli, "build LAB.cfg [--pki DIR] [--dry-run] [--json]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, "expected one lab file: pkilab build LAB.cfg");

	lab = pkl_lab_load(argv[1], pkl_time_now(), &err);
	if (!lab)
		return cli_fail(cli, &err);
	snprintf(pki_dir, sizeof(pki_dir), "%s", cli->pki_dir ? cli->pki_dir : lab->pki_dir);
	snprintf(dbpath, sizeof(dbpath), "%s/pkilab.db", pki_dir);
	fresh = !pkl_file_exists(dbpath);
	if (fresh && pkl_file_exists(pki_dir) && !dir_is_empty(pki_dir)) {
		/* Only an empty directory may be built into: rename() replaces it
		 * atomically, and leaves it untouched when the build fails. */
		pkl_err_set(&err, PKL_EINPUT, pki_dir,
			    "exists, is not empty and holds no pkilab.db: refusing to build into it");
		goto out;
	}

	items = calloc(lab->n_ents, sizeof(*items));
	if (!items) {
		pkl_err_set(&err, PKL_ERUNTIME, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < lab->n_ents; i++)
		items[i].e = &lab->ents[i];

	if (!fresh) {
		pki = pkl_pki_open(pki_dir, 0, &err);
		if (!pki)
			goto out;
		for (size_t i = 0; i < lab->n_ents; i++) {
			struct pkl_err none;
			if (pkl_db_cert_find(pki->db, items[i].e->name, &items[i].row, &none) == PKL_OK) {
				items[i].exists = 1;
				note_differences(&items[i]);
			} else if (pkl_pki_check_unrecorded(pki, items[i].e->name, &err) != PKL_OK) {
				/* Files without records: never overwritten (CA keys above all). */
				goto out;
			}
		}
	}
	if (dry_run) {
		report(cli, lab, pki_dir, items, lab->n_ents, 1);
		goto out;
	}
	if (generate_keys(items, lab->n_ents, &err) != PKL_OK)
		goto out;
	if (fresh) {
		if (make_staging_dir(pki_dir, staging, sizeof(staging), &err) != PKL_OK)
			goto out;
		pki = pkl_pki_open(staging, 1, &err);
		if (!pki)
			goto out;
		pki->staging = 1;
	}
	if (issue_all(pki, lab, items, lab->n_ents, &err) != PKL_OK)
		goto out;
	if (fresh) {
		pkl_pki_close(pki);
		pki = NULL;
		if (rename(staging, pki_dir) != 0) {
			pkl_err_sys(&err, pki_dir, "cannot move the new PKI into place");
			goto out;
		}
		staging[0] = '\0';
		char parent[PATH_MAX], tmp[PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s", pki_dir);
		snprintf(parent, sizeof(parent), "%s", dirname(tmp));
		pkl_file_sync_dir(parent, NULL);
	}
	report(cli, lab, pki_dir, items, lab->n_ents, 0);
out:
	pkl_pki_close(pki);
	if (staging[0])
		(void)pkl_file_remove_tree(staging, NULL);
	for (size_t i = 0; items && i < lab->n_ents; i++) {
		EVP_PKEY_free(items[i].key);
		EVP_PKEY_free(items[i].ca_key);
		X509_free(items[i].cert);
	}
	free(items);
	pkl_lab_free(lab);
	return err.rc ? cli_fail(cli, &err) : 0;
}
