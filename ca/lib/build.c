/*
 * Building a lab's PKI (build.h): the plan (kept or to issue, differences
 * noted), then its application: keys from the keygen pool, the staging
 * directory of a new PKI, one issuing transaction, the final rename.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkilab/build.h"
#include "pkilab/file.h"
#include "pkilab/fileset.h"
#include "pkilab/issue.h"
#include "pkilab/keygen.h"

struct build_slot {
	struct pkl_build_item pub;
	EVP_PKEY *key;    /* pre-generated key for a new one */
	X509 *cert;       /* issued (new) or loaded (kept CA) */
	EVP_PKEY *ca_key; /* a kept CA's key, loaded when it signs something new */
};

struct pkl_build_plan {
	const struct pkl_lab *lab;
	char lab_path[PATH_MAX]; /* the lab file's absolute path (recorded, for messages) */
	char pki_dir[PATH_MAX];
	int fresh;
	int applied;
	size_t keygen_threads;
	struct pkl_pki *pki; /* the existing PKI (not fresh), open from plan to apply */
	struct build_slot *slots;
	size_t n;
};

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
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

/* One PKI, one lab (README, "One PKI, one lab"): the database records the
 * name of the lab that built it, and that lab file's absolute path for the
 * message, in the transaction of every build (pkl_build_apply). A lab of
 * another name would merge a second hierarchy under the first one's root,
 * so it is refused; the same lab moved or copied to another path is the
 * same lab. A PKI built before the record existed has none: the next build
 * adopts it. Checked when planning, before anything is written, and again
 * inside the transaction that records it. */
static enum pkl_rc check_lab(const struct pkl_build_plan *plan, struct pkl_db *db, struct pkl_err *err)
{
	char name[PKL_NAME_MAX * 4], path[PATH_MAX];
	enum pkl_rc rc;

	if ((rc = pkl_db_meta_get(db, PKL_BUILD_META_LAB_NAME, name, sizeof(name), err)) != PKL_OK ||
	    (rc = pkl_db_meta_get(db, PKL_BUILD_META_LAB_PATH, path, sizeof(path), err)) != PKL_OK)
		return rc;
	if (!name[0] || !strcmp(name, plan->lab->name))
		return PKL_OK;
	return pkl_err_set(err, PKL_EINPUT, plan->pki_dir,
			   "built from lab '%s' (%s); refusing to build lab '%s' (%s) into it: "
			   "give that lab its own PKI directory (--pki DIR)",
			   name, path[0] ? path : "path not recorded", plan->lab->name, plan->lab_path);
}

static enum pkl_rc record_lab(const struct pkl_build_plan *plan, struct pkl_db *db, struct pkl_err *err)
{
	enum pkl_rc rc = pkl_db_meta_put(db, PKL_BUILD_META_LAB_NAME, plan->lab->name, err);

	return rc == PKL_OK ? pkl_db_meta_put(db, PKL_BUILD_META_LAB_PATH, plan->lab_path, err) : rc;
}

/* A kept certificate whose lab entry changed is reported, not re-issued:
 * `pkilab renew` is the explicit way to replace a certificate. */
static void note_differences(struct pkl_build_item *it)
{
	const struct pkl_entity *e = it->e;
	size_t n = 0;

	it->differs[0] = '\0';
	if (strcmp(it->row.subject, e->subject) != 0)
		n += (size_t)snprintf(it->differs + n, sizeof(it->differs) - n, "subject ");
	if (strcmp(it->row.template_name, e->prof.template_name) != 0 && n < sizeof(it->differs))
		n += (size_t)snprintf(it->differs + n, sizeof(it->differs) - n, "template ");
	if (strcmp(it->row.issuer_name, e->issuer[0] ? e->issuer : e->name) != 0 && n < sizeof(it->differs))
		snprintf(it->differs + n, sizeof(it->differs) - n, "issuer ");
}

struct pkl_build_plan *pkl_build_plan_new(const struct pkl_lab *lab, const struct pkl_build_opts *opts,
					  struct pkl_err *err)
{
	struct pkl_build_plan *plan = calloc(1, sizeof(*plan));
	char dbpath[PATH_MAX + 16];

	if (!plan) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		return NULL;
	}
	plan->lab = lab;
	if (!realpath(lab->path, plan->lab_path))
		snprintf(plan->lab_path, sizeof(plan->lab_path), "%s", lab->path);
	plan->keygen_threads = opts ? opts->keygen_threads : 0;
	snprintf(plan->pki_dir, sizeof(plan->pki_dir), "%s",
		 opts && opts->pki_dir ? opts->pki_dir : lab->pki_dir);
	snprintf(dbpath, sizeof(dbpath), "%s/pkilab.db", plan->pki_dir);
	plan->fresh = !pkl_file_exists(dbpath);
	if (plan->fresh && pkl_file_exists(plan->pki_dir) && !dir_is_empty(plan->pki_dir)) {
		/* Only an empty directory may be built into: rename() replaces it
		 * atomically, and leaves it untouched when the build fails. */
		pkl_err_set(err, PKL_EINPUT, plan->pki_dir,
			    "exists, is not empty and holds no pkilab.db: refusing to build into it");
		goto fail;
	}
	plan->n = lab->n_ents;
	plan->slots = calloc(plan->n ? plan->n : 1, sizeof(*plan->slots));
	if (!plan->slots) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < plan->n; i++) {
		plan->slots[i].pub.e = &lab->ents[i];
		plan->slots[i].pub.action = PKL_BUILD_ISSUE;
	}
	if (plan->fresh)
		return plan;
	plan->pki = pkl_pki_open(plan->pki_dir, 0, err);
	if (!plan->pki || check_lab(plan, plan->pki->db, err) != PKL_OK)
		goto fail;
	for (size_t i = 0; i < plan->n; i++) {
		struct pkl_build_item *it = &plan->slots[i].pub;
		struct pkl_err none;
		if (pkl_db_cert_find(plan->pki->db, it->e->name, &it->row, &none) == PKL_OK) {
			it->action = PKL_BUILD_KEEP;
			note_differences(it);
		} else if (pkl_pki_check_unrecorded(plan->pki, it->e->name, err) != PKL_OK) {
			/* Files without records: never overwritten (CA keys above all). */
			goto fail;
		}
	}
	return plan;
fail:
	pkl_build_plan_free(plan);
	return NULL;
}

void pkl_build_plan_free(struct pkl_build_plan *plan)
{
	if (!plan)
		return;
	pkl_pki_close(plan->pki);
	for (size_t i = 0; plan->slots && i < plan->n; i++) {
		EVP_PKEY_free(plan->slots[i].key);
		EVP_PKEY_free(plan->slots[i].ca_key);
		X509_free(plan->slots[i].cert);
	}
	free(plan->slots);
	free(plan);
}

const char *pkl_build_plan_pki_dir(const struct pkl_build_plan *plan)
{
	return plan->pki_dir;
}

int pkl_build_plan_fresh(const struct pkl_build_plan *plan)
{
	return plan->fresh;
}

size_t pkl_build_plan_count(const struct pkl_build_plan *plan)
{
	return plan->n;
}

const struct pkl_build_item *pkl_build_plan_item(const struct pkl_build_plan *plan, size_t i)
{
	return i < plan->n ? &plan->slots[i].pub : NULL;
}

size_t pkl_build_plan_n(const struct pkl_build_plan *plan, enum pkl_build_action action)
{
	size_t k = 0;

	for (size_t i = 0; i < plan->n; i++)
		if (plan->slots[i].pub.action == action)
			k++;
	return k;
}

/* Key generation dominates RSA issuance: every new key comes from the pool
 * before the transaction begins. */
static enum pkl_rc generate_keys(struct pkl_build_plan *plan, struct pkl_err *err)
{
	struct pkl_keygen_job *jobs = calloc(plan->n ? plan->n : 1, sizeof(*jobs));
	size_t failed = 0;
	enum pkl_rc rc;

	if (!jobs)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	for (size_t i = 0; i < plan->n; i++)
		if (plan->slots[i].pub.action == PKL_BUILD_ISSUE)
			jobs[i].spec = &plan->slots[i].pub.e->prof.key;
	rc = pkl_keygen_run(jobs, plan->n, plan->keygen_threads, &failed);
	for (size_t i = 0; i < plan->n; i++)
		plan->slots[i].key = jobs[i].key;
	if (rc != PKL_OK) {
		*err = jobs[failed].err;
		pkl_err_where(err, plan->slots[failed].pub.e->where);
		err->rc = rc;
	}
	free(jobs);
	return rc;
}

static struct build_slot *find_slot(struct pkl_build_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (!strcmp(plan->slots[i].pub.e->name, name))
			return &plan->slots[i];
	return NULL;
}

/* Everything new in one transaction, issuers (first in lab order) loaded
 * from the PKI when they are kept. */
static enum pkl_rc issue_all(struct pkl_build_plan *plan, struct pkl_pki *pki, struct pkl_err *err)
{
	const struct pkl_lab *lab = plan->lab;
	struct pkl_issue_ctx ctx = { .n_cdp = lab->n_cdp,
				     .cdp_point_per_uri = lab->cdp_point_per_uri,
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
	if (rc == PKL_OK && (rc = check_lab(plan, pki->db, err)) == PKL_OK)
		rc = record_lab(plan, pki->db, err);
	for (size_t i = 0; i < plan->n && rc == PKL_OK; i++) {
		struct build_slot *it = &plan->slots[i], *iss = NULL;
		const struct pkl_entity *e = it->pub.e;
		if (it->pub.action != PKL_BUILD_ISSUE)
			continue;
		if (e->issuer[0]) {
			iss = find_slot(plan, e->issuer);
			if (!iss->cert && !(iss->cert = pkl_pki_load_ca_cert(pki, iss->pub.e->name, err))) {
				rc = err->rc;
				break;
			}
			if (!iss->ca_key && !(iss->ca_key = pkl_pki_load_key(pki, iss->pub.e->name, err))) {
				rc = err->rc;
				break;
			}
		}
		rc = pkl_issue_entity(txn, pki, &ctx, e, iss ? iss->cert : NULL, iss ? iss->ca_key : NULL,
				      it->key, 1, &it->cert, e->is_ca ? &it->ca_key : NULL, err);
		if (rc == PKL_OK)
			rc = pkl_db_cert_find(pki->db, e->name, &it->pub.row, err);
	}
	pkl_issue_cache_free(ctx.cache);
	if (rc != PKL_OK) {
		pkl_txn_abort(txn);
		return rc;
	}
	return pkl_txn_commit(txn, err);
}

/* A new PKI: issued into a staging directory "<dir>.new-<pid>-XXXXXX" beside
 * it (a pkl_fileset entry), which then replaces the (missing or empty) PKI
 * directory in one rename, so that a failure leaves nothing behind and
 * success appears at once. */
static enum pkl_rc apply_fresh(struct pkl_build_plan *plan, struct pkl_err *err)
{
	char staging[PATH_MAX], parent[PATH_MAX], tmp[PATH_MAX];
	struct pkl_fileset *fs = NULL;
	struct pkl_pki *pki = NULL;
	enum pkl_rc rc;

	snprintf(tmp, sizeof(tmp), "%s", plan->pki_dir);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	fs = pkl_fileset_begin(parent, 0, err);
	if (!fs)
		return err->rc;
	rc = pkl_fileset_add_dir(fs, plan->pki_dir, staging, sizeof(staging), err);
	if (rc != PKL_OK)
		goto out;
	pki = pkl_pki_open(staging, 1, err);
	if (!pki) {
		rc = err->rc;
		goto out;
	}
	pki->staging = 1;
	rc = issue_all(plan, pki, err);
	if (rc != PKL_OK)
		goto out;
	pkl_pki_close(pki);
	pki = NULL;
	rc = pkl_fileset_commit(fs, NULL, err);
out:
	pkl_pki_close(pki);
	pkl_fileset_free(fs);
	return rc;
}

enum pkl_rc pkl_build_apply(struct pkl_build_plan *plan, struct pkl_err *err)
{
	enum pkl_rc rc;

	if (plan->applied)
		return pkl_err_set(err, PKL_EINPUT, plan->pki_dir, "this build plan was applied already");
	plan->applied = 1;
	rc = generate_keys(plan, err);
	if (rc != PKL_OK)
		return rc;
	if (plan->fresh)
		return apply_fresh(plan, err);
	return issue_all(plan, plan->pki, err);
}
