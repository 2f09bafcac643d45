/*
 * The catalog: the current snapshot, swapped atomically, and how new ones
 * are built: the reload (trust set, then every publish directory's crl/),
 * CRLs and CA certificates offered by peers, notes about peers.
 *
 * Every candidate CRL, read from a publish directory or pulled from a peer,
 * goes through cdp_judge_crl() (judge.c). The last good CRL stays in service
 * otherwise.
 *
 * With state_dir, the rollback rule also holds across restarts: a CRL below
 * the highest number ever accepted for its CA and key (state.c) is refused
 * even when nothing is served yet, and a rising mark is written to disk
 * before the snapshot that serves it is published.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "pkilab/buf.h"

/* ---- the current snapshot ---- */

struct pin {
	struct cdp_snapshot *s;
};

static void pin_free(void *p)
{
	struct pin *pin = p;

	cdp_snapshot_release(pin->s);
	free(pin);
}

/* Publishes a new snapshot made of entries (blob references taken over)
 * and problems (copied). Called with build_lock held. */
void cdp_catalog_publish(struct cdp_catalog *cat, struct cdp_entry *entries, size_t n,
			 const struct cdp_problems *fatal)
{
	struct cdp_snapshot *s = calloc(1, sizeof(*s)), *old;
	size_t np = (fatal ? fatal->n : 0) + cat->notes.n, i;

	if (!s || (np && !(s->problems = calloc(np, sizeof(*s->problems))))) {
		/* Out of memory: keep serving the old snapshot. */
		for (i = 0; i < n; i++)
			cdp_blob_unref(entries[i].body);
		free(entries);
		free(s);
		pkl_log(PKL_LOG_ERROR, "out of memory building the catalog: keeping the previous one");
		return;
	}
	atomic_init(&s->refs, 1);
	s->generation = ++cat->generation;
	s->built_at = pkl_time_now();
	qsort(entries, n, sizeof(*entries), cdp_entry_cmp);
	for (i = 0; i < n; i++) {
		atomic_init(&entries[i].cached[0], NULL); /* copies must not share responses */
		atomic_init(&entries[i].cached[1], NULL);
	}
	s->entries = entries;
	s->n_entries = n;
	if (fatal && fatal->n)
		memcpy(s->problems, fatal->v, fatal->n * sizeof(*s->problems));
	if (cat->notes.n)
		memcpy(s->problems + (fatal ? fatal->n : 0), cat->notes.v,
		       cat->notes.n * sizeof(*s->problems));
	for (i = fatal ? fatal->n : 0; i < np; i++)
		s->problems[i].note = 1;
	s->n_problems = np;
	s->awaiting_pull = cat->awaiting_pull;
	pthread_mutex_lock(&cat->cur_lock);
	old = cat->cur;
	cat->cur = s;
	atomic_store_explicit(&cat->published, s->generation, memory_order_release);
	pthread_mutex_unlock(&cat->cur_lock);
	cdp_snapshot_release(old);
}

const struct cdp_snapshot *cdp_catalog_pin(struct cdp_catalog *cat)
{
	struct pin *pin = pthread_getspecific(cat->pin_key);
	unsigned long long g = atomic_load_explicit(&cat->published, memory_order_acquire);

	if (pin && pin->s->generation == g)
		return pin->s;
	if (!pin) {
		pin = calloc(1, sizeof(*pin));
		if (!pin || pthread_setspecific(cat->pin_key, pin) != 0) {
			free(pin);
			return NULL; /* out of memory: the caller answers 503 */
		}
	}
	cdp_snapshot_release(pin->s);
	pin->s = cdp_catalog_acquire(cat);
	return pin->s;
}

struct cdp_snapshot *cdp_catalog_acquire(struct cdp_catalog *cat)
{
	struct cdp_snapshot *s;

	pthread_mutex_lock(&cat->cur_lock);
	s = cdp_snapshot_ref(cat->cur);
	pthread_mutex_unlock(&cat->cur_lock);
	return s;
}

/* ---- rollback marks across restarts (state.c) ---- */

/* The persisted half of the rollback rule (state_dir): a CRL that passed
 * cdp_judge_crl() is still refused when its number is below the highest this
 * server ever accepted for that CA name and key, even when nothing is served
 * (after a restart). Otherwise the mark rises in memory; save_marks() writes
 * it before the snapshot serving the CRL is published. Under build_lock. */
static enum cdp_verdict check_mark(struct cdp_catalog *cat, const struct cdp_trust_ca *ca,
				   const struct pkl_crlinfo *info, const char *where, struct pkl_err *err)
{
	char keyid[CDP_KEYID_MAX + 1];
	const char *mark;

	if (!cat->state)
		return CDP_ACCEPT;
	if (!cdp_state_keyid(ca->cert, keyid)) {
		/* Fail closed: without the key identity there is no mark to honour. */
		pkl_err_set(err, PKL_ERUNTIME, where, "cannot compute the key identity of CA '%s'", ca->name);
		return CDP_INVALID;
	}
	mark = cdp_state_get(cat->state, ca->name, keyid);
	if (mark && pkl_crlcheck_number_cmp(info->number, mark) < 0) {
		pkl_err_set(err, PKL_EINPUT, where,
			    "CRL number %s is lower than %s, the highest accepted before for this CA key "
			    "(%s): rollback refused",
			    info->number, mark, cat->state->path);
		return CDP_OLDER;
	}
	if (cdp_state_raise(cat->state, ca->name, keyid, info->number) > 0)
		pkl_log(PKL_LOG_DEBUG, "crl '%s': high-water mark %s for key %s", ca->name, info->number,
			keyid);
	return CDP_ACCEPT;
}

/* Writes risen marks, before the snapshot that serves them is published: a
 * crash in between must not leave a served number unrecorded. A failed write
 * (disk full, directory made read-only) does not stop a newer CRL from being
 * served, which is never a rollback: it is an error in the log and a warning
 * in /healthz, retried at every rebuild until it succeeds. Under build_lock. */
static void save_marks(struct cdp_catalog *cat)
{
	struct pkl_err err = { 0 };
	char eb[1600], msg[1700];
	size_t i;
	int known = 0;

	if (!cat->state || !cat->state->dirty)
		return;
	if (cdp_state_save(cat->state, &err) == PKL_OK) {
		cdp_problem_remove(&cat->notes, cat->state->path);
		return;
	}
	snprintf(msg, sizeof(msg),
		 "cannot record the CRL number high-water marks (rollback protection after a restart): %s",
		 pkl_err_str(&err, eb, sizeof(eb)));
	for (i = 0; i < cat->notes.n; i++)
		if (strcmp(cat->notes.v[i].source, cat->state->path) == 0)
			known = strcmp(cat->notes.v[i].msg, msg) == 0;
	pkl_log(known ? PKL_LOG_DEBUG : PKL_LOG_ERROR, "%s (retried at the next rebuild)", msg);
	cdp_problem_remove(&cat->notes, cat->state->path);
	cdp_problem_add(&cat->notes, "", cat->state->path, msg, 0);
}

/* ---- the reload ---- */

/* Judges one CRL file for a CA; cur is updated in place when accepted. */
static void consider_file(struct cdp_catalog *cat, const struct cdp_trust_ca *ca, const char *path,
			  const char *base, struct cdp_entry *cur, int *have, pkl_time floor,
			  struct cdp_problems *pr)
{
	const struct cdp_config *cfg = cat->cfg;
	struct pkl_buf b = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	struct pkl_crlinfo info;
	struct cdp_blob *blob;
	enum cdp_verdict v;
	char eb[1600];
	int absent = 0;

	if (cdp_file_read(path, base, (size_t)cfg->max_crl_size, &b, &absent, &err) != PKL_OK) {
		/* Only ENOENT is "no candidate" (keep serving the last good one):
		 * EACCES or ENOTDIR would hide every new CRL behind a green /healthz. */
		if (absent)
			return;
		cdp_problem_add(pr, ca->name, path, pkl_err_str(&err, eb, sizeof(eb)), 1);
		return;
	}
	v = cdp_judge_crl(*have ? cur : NULL, b.data, b.len, ca->cert, pkl_time_now(), path, &info, &err);
	if (v == CDP_SAME)
		goto out;
	if (v == CDP_ACCEPT)
		v = check_mark(cat, ca, &info, path, &err);
	if (v != CDP_ACCEPT) {
		cdp_problem_add(pr, ca->name, path, err.msg, 1);
		goto out;
	}
	blob = cdp_blob_new(b.data, b.len);
	if (!blob)
		goto out;
	if (*have)
		floor = cdp_lm_floor(cur);
	if (*have) {
		pkl_log(PKL_LOG_INFO, "crl '%s': CRL number %s replaces %s (%s, %zu bytes, %zu revoked)",
			ca->name, info.number, cur->info.number, path, b.len, info.revoked);
		cdp_blob_unref(cur->body);
	} else {
		pkl_log(PKL_LOG_INFO, "crl '%s': serving CRL number %s (%s, %zu bytes, %zu revoked)",
			ca->name, info.number, path, b.len, info.revoked);
	}
	cdp_make_crl_entry(cur, ca->name, blob, &info, path, floor);
	*have = 1;
out:
	pkl_buf_free(&b);
}

/* CRL files nobody can verify are reported, not served; so is a crl/ that
 * exists but cannot be listed. */
static void report_orphans(const struct cdp_config *cfg, const struct cdp_trust_ca *v, size_t n,
			   struct cdp_problems *pr)
{
	char dir[4096], path[4600];
	struct dirent **list = NULL;
	size_t i;
	int k, j;

	for (i = 0; i < cfg->n_publish; i++) {
		if ((size_t)snprintf(dir, sizeof(dir), "%s/crl", cfg->publish[i]) >= sizeof(dir))
			continue;
		k = scandir(dir, &list, NULL, cdp_name_sort);
		if (k < 0 && errno != ENOENT) {
			char eb[300];

			snprintf(eb, sizeof(eb), "cannot read the directory: %s: new CRLs cannot be seen",
				 strerror(errno));
			cdp_problem_add(pr, "", dir, eb, 1);
		}
		for (j = 0; j < k; j++) {
			const char *d = list[j]->d_name;
			size_t nl = strlen(d);
			char name[CDP_NAME_MAX + 1];

			if (d[0] != '.' && cdp_has_suffix(d, ".crl") && nl - 4 <= CDP_NAME_MAX) {
				memcpy(name, d, nl - 4);
				name[nl - 4] = '\0';
				snprintf(path, sizeof(path), "%s/%s", dir, d);
				if (!cdp_name_valid(name, nl - 4))
					cdp_problem_add(pr, "", path,
							"file name is not a valid CA name: not served", 0);
				else if (!cdp_trust_find(v, n, name))
					cdp_problem_add(pr, name, path,
							"no trusted CA certificate for this CRL: not served",
							1);
			}
			free(list[j]);
		}
		free(list);
		list = NULL;
	}
}

/* Whether dir/sub holds a file the server would read (a name not starting
 * with '.' ending in one of the suffixes): 1 yes, 0 no or no such directory,
 * -1 when it cannot be listed (reported elsewhere as a problem). */
static int dir_has(const char *dir, const char *sub, const char *const *suffixes)
{
	struct dirent **list = NULL;
	char path[4096];
	int k, j, found = 0;
	size_t i;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sub) >= sizeof(path))
		return -1;
	k = scandir(path, &list, NULL, cdp_name_sort);
	if (k < 0)
		return errno == ENOENT ? 0 : -1;
	for (j = 0; j < k; j++) {
		for (i = 0; suffixes[i] && !found && list[j]->d_name[0] != '.'; i++)
			found = cdp_has_suffix(list[j]->d_name, suffixes[i]);
		free(list[j]);
	}
	free(list);
	return found;
}

/* Whether path is a directory. */
static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A publish directory with no CRL in crl/ and no CA certificate in aia/
 * serves nothing, which is almost always a wrong path: the PKI directory
 * given instead of its publish/ (README, "The PKI directory"). A warning
 * (in the log when it appears, and in /healthz) naming the directory, and
 * the likely right one when dir/publish has crl/ or aia/. */
static void report_empty_publish(const struct cdp_config *cfg, struct cdp_problems *pr)
{
	static const char *const crls[] = { ".crl", NULL };
	static const char *const certs[] = { ".crt", ".pem", ".der", ".cer", NULL };
	char sub[4200], crl[4300], aia[4300], msg[4400];
	size_t i;

	for (i = 0; i < cfg->n_publish; i++) {
		const char *d = cfg->publish[i];

		if (dir_has(d, "crl", crls) != 0 || dir_has(d, "aia", certs) != 0)
			continue; /* content, or a directory that cannot be read (its own problem) */
		snprintf(sub, sizeof(sub), "%s/publish", d);
		snprintf(crl, sizeof(crl), "%s/crl", sub);
		snprintf(aia, sizeof(aia), "%s/aia", sub);
		if (!is_dir(d))
			snprintf(msg, sizeof(msg), "publish directory does not exist: it serves nothing");
		else if (is_dir(crl) || is_dir(aia))
			snprintf(msg, sizeof(msg),
				 "no CRL in crl/ and no CA certificate in aia/: this publish directory "
				 "serves nothing (did you mean %s?)",
				 sub);
		else
			snprintf(msg, sizeof(msg),
				 "no CRL in crl/ and no CA certificate in aia/: this publish directory "
				 "serves nothing");
		cdp_problem_add(pr, "", d, msg, 0);
	}
}

/* A served CRL that clients are about to reject, or already do, is a
 * warning (in the log once, and in /healthz, which also answers 503 for it):
 * "soon" is health_margin, the same bound /healthz fails at, so the log says
 * why the health check went red. The messages name the date, not the time
 * left, so a rescan does not turn one warning into a new one every time. */
#define EXPIRY_TAIL ": publish a new one"
static void expiry_problems(const struct cdp_config *cfg, const struct cdp_entry *e, size_t n, pkl_time now,
			    struct cdp_problems *pr)
{
	char msg[300], t[32], d[32];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct pkl_crlinfo *c = &e[i].info;

		if (e[i].kind != CDP_CRL || !c->next_update)
			continue;
		pkl_time_fmt(c->next_update, t, sizeof(t));
		if (c->next_update <= now)
			snprintf(msg, sizeof(msg),
				 "CRL number %s expired at %s: clients reject it" EXPIRY_TAIL, c->number, t);
		else if (c->next_update - now <= cfg->health_margin)
			snprintf(msg, sizeof(msg),
				 "CRL number %s expires at %s, within health_margin (%s)" EXPIRY_TAIL,
				 c->number, t, pkl_duration_fmt(cfg->health_margin, d, sizeof(d)));
		else
			continue;
		cdp_problem_add(pr, e[i].name, e[i].source, msg, 0);
	}
}

/* A problem the previous snapshot already had is not news: periodic
 * rescans would otherwise repeat every refusal twice a minute. */
static int was_reported(const struct cdp_snapshot *old, const struct cdp_problem *p)
{
	size_t i;

	for (i = 0; i < old->n_problems; i++)
		if (strcmp(old->problems[i].source, p->source) == 0 &&
		    strcmp(old->problems[i].msg, p->msg) == 0)
			return 1;
	return 0;
}

void cdp_catalog_reload(struct cdp_catalog *cat, const char *why)
{
	const struct cdp_config *cfg = cat->cfg;
	struct cdp_problems pr = { 0 };
	struct cdp_trust_ca *cas = NULL;
	struct cdp_snapshot *old;
	struct cdp_entry *entries;
	size_t n_cas = 0, n = 0, i, j;
	char path[4096];

	pthread_mutex_lock(&cat->build_lock);
	atomic_fetch_add(&cat->reloads, 1);
	old = cdp_catalog_acquire(cat);
	cdp_trust_load(cfg, &cas, &n_cas, &pr);
	cdp_keep_last_good_cas(cat, &cas, &n_cas, &pr);
	cdp_merge_learned(cat, &cas, &n_cas);
	entries = calloc(2 * n_cas + 1, sizeof(*entries));
	if (!entries)
		goto out;
	for (i = 0; i < n_cas; i++) {
		const struct cdp_trust_ca *ca = &cas[i];
		const struct cdp_entry *oc = cdp_snapshot_find(old, CDP_CRL, ca->name);
		const struct cdp_entry *oa = cdp_snapshot_find(old, CDP_AIA, ca->name);
		struct cdp_entry crl;
		int have = 0, same_ca;

		memset(&crl, 0, sizeof(crl));
		same_ca = oa && oa->body->len == ca->der->len &&
			  memcmp(oa->body->data, ca->der->data, ca->der->len) == 0;

		cdp_make_aia_entry(&entries[n], ca, same_ca ? 0 : cdp_lm_floor(oa));
		if (same_ca) {
			entries[n].loaded_at = oa->loaded_at;
			cdp_entry_set_times(&entries[n], oa->last_modified, 0);
		} else
			pkl_log(PKL_LOG_INFO, "aia '%s': serving CA certificate from %s", ca->name,
				ca->source);
		n++;

		/* Start from the CRL being served; drop it if the CA certificate
		 * changed under it and it no longer verifies. */
		if (oc) {
			struct pkl_crlinfo info;
			struct pkl_err err = { 0 };

			if (same_ca || pkl_crlcheck_verify(oc->body->data, oc->body->len, oc->source,
							   ca->cert, &info, &err) == PKL_OK) {
				crl = *oc;
				cdp_blob_ref(crl.body);
				have = 1;
			} else {
				pkl_log(PKL_LOG_WARN,
					"crl '%s': the served CRL does not verify with the new CA "
					"certificate: dropped",
					ca->name);
			}
		}
		for (j = 0; j < cfg->n_publish; j++)
			if ((size_t)snprintf(path, sizeof(path), "%s/crl/%s.crl", cfg->publish[j], ca->name) <
			    sizeof(path))
				consider_file(cat, ca, path, cfg->publish[j], &crl, &have, cdp_lm_floor(oc),
					      &pr);
		if (have)
			entries[n++] = crl;
		else
			cdp_problem_add(&pr, ca->name, "", cdp_catalog_no_crl_msg(cat), 1);
	}
	report_orphans(cfg, cas, n_cas, &pr);
	report_empty_publish(cfg, &pr);
	expiry_problems(cfg, entries, n, pkl_time_now(), &pr);
	for (i = 0; i < pr.n; i++) {
		int serving = 0;

		/* Say "stays in service" only of a CRL the new snapshot serves. */
		for (j = 0; j < n && pr.v[i].ca[0]; j++)
			serving |= entries[j].kind == CDP_CRL && strcmp(entries[j].name, pr.v[i].ca) == 0;
		pkl_log(was_reported(old, &pr.v[i])                 ? PKL_LOG_DEBUG :
			strcmp(pr.v[i].msg, CDP_AWAITING_PULL) == 0 ? PKL_LOG_INFO :
			pr.v[i].fatal                               ? PKL_LOG_ERROR :
								      PKL_LOG_WARN,
			"%s%s%s%s%s%s", pr.v[i].ca, pr.v[i].ca[0] ? ": " : "", pr.v[i].source,
			pr.v[i].source[0] ? ": " : "", pr.v[i].msg,
			!pr.v[i].fatal || !serving ? "" :
			strstr(pr.v[i].msg, "last good CA certificate") ?
						     ", and so does its last good CRL" :
						     " (the last good CRL stays in service)");
	}
	cdp_trust_free(cat->cas, cat->n_cas);
	cat->cas = cas;
	cat->n_cas = n_cas;
	cas = NULL;
	n_cas = 0;
	save_marks(cat);
	cdp_catalog_publish(cat, entries, n, &pr);
	pkl_log(PKL_LOG_DEBUG, "catalog generation %llu built (%s): %zu entries, %zu problems",
		(unsigned long long)cat->generation, why, n, pr.n);
out:
	cdp_trust_free(cas, n_cas);
	free(pr.v);
	cdp_snapshot_release(old);
	pthread_mutex_unlock(&cat->build_lock);
	/* Parsing a big CRL allocates an object per entry (~60 MB for 160,000
	 * entries) and frees them all; hand that memory back to the system. */
	malloc_trim(0);
}

/* ---- peers: offered CRLs, notes ---- */

enum cdp_verdict cdp_catalog_offer_crl(struct cdp_catalog *cat, const char *ca_name, const unsigned char *der,
				       size_t len, const char *source, struct pkl_err *err)
{
	struct cdp_problems fatal = { 0 };
	struct cdp_snapshot *s;
	const struct cdp_trust_ca *ca;
	const struct cdp_entry *cur;
	struct cdp_entry *entries;
	struct pkl_crlinfo info;
	struct cdp_blob *blob;
	enum cdp_verdict v;
	size_t n, i;

	pthread_mutex_lock(&cat->build_lock);
	s = cdp_catalog_acquire(cat);
	ca = cdp_trust_find(cat->cas, cat->n_cas, ca_name);
	if (!ca) {
		pkl_err_set(err, PKL_EINPUT, source, "no trusted CA certificate for '%s'", ca_name);
		v = CDP_UNKNOWN_CA;
		goto out;
	}
	cur = cdp_snapshot_find(s, CDP_CRL, ca_name);
	v = cdp_judge_crl(cur, der, len, ca->cert, pkl_time_now(), source, &info, err);
	if (v == CDP_ACCEPT)
		v = check_mark(cat, ca, &info, source, err);
	if (v != CDP_ACCEPT) {
		if (v == CDP_SAME)
			cdp_problem_remove(&cat->notes, source);
		goto out;
	}
	cdp_problem_remove(&cat->notes, source);
	blob = cdp_blob_new(der, len);
	entries = blob ? cdp_copy_entries(s, 1, &fatal) : NULL;
	if (!entries) {
		cdp_blob_unref(blob);
		goto out;
	}
	n = s->n_entries;
	i = cdp_entry_slot(entries, &n, CDP_CRL, ca_name);
	cdp_make_crl_entry(&entries[i], ca_name, blob, &info, source, cdp_lm_floor(cur));
	/* The CA has a CRL now: drop "no valid CRL" for it. */
	for (i = 0; i < fatal.n;)
		if (strcmp(fatal.v[i].ca, ca_name) == 0 && fatal.v[i].source[0] == '\0')
			fatal.v[i] = fatal.v[--fatal.n];
		else
			i++;
	pkl_log(PKL_LOG_INFO, "crl '%s': CRL number %s from %s%s%s (%zu bytes, %zu revoked)", ca_name,
		info.number, source, cur ? " replaces " : "", cur ? cur->info.number : "", len, info.revoked);
	{
		struct cdp_problems exp = { 0 };

		/* The expiry warnings of the set just built replace the copied ones. */
		for (i = 0; i < fatal.n;)
			if (!fatal.v[i].fatal && cdp_has_suffix(fatal.v[i].msg, EXPIRY_TAIL))
				fatal.v[i] = fatal.v[--fatal.n];
			else
				i++;
		expiry_problems(cat->cfg, entries, n, pkl_time_now(), &exp);
		for (i = 0; i < exp.n; i++) {
			if (strcmp(exp.v[i].ca, ca_name) == 0)
				pkl_log(PKL_LOG_WARN, "%s: %s: %s", ca_name, exp.v[i].source, exp.v[i].msg);
			cdp_problem_add(&fatal, exp.v[i].ca, exp.v[i].source, exp.v[i].msg, 0);
		}
		free(exp.v);
	}
	save_marks(cat);
	cdp_catalog_publish(cat, entries, n, &fatal);
out:
	free(fatal.v);
	cdp_snapshot_release(s);
	pthread_mutex_unlock(&cat->build_lock);
	if (v != CDP_SAME && len >= CDP_SENDFILE_MIN)
		malloc_trim(0);
	return v;
}

int cdp_catalog_note(struct cdp_catalog *cat, const char *ca, const char *source, const char *msg)
{
	struct cdp_problems fatal = { 0 };
	struct cdp_snapshot *s;
	struct cdp_entry *entries;
	size_t i;
	int changed = 0;

	pthread_mutex_lock(&cat->build_lock);
	for (i = 0; i < cat->notes.n; i++)
		if (strcmp(cat->notes.v[i].source, source) == 0)
			break;
	if (!msg) {
		changed = i < cat->notes.n;
		cdp_problem_remove(&cat->notes, source);
	} else if (i == cat->notes.n || strcmp(cat->notes.v[i].msg, msg) != 0) {
		cdp_problem_remove(&cat->notes, source);
		cdp_problem_add(&cat->notes, ca, source, msg, 0);
		changed = 1;
	}
	if (changed) {
		/* Warnings live in the snapshot too, so readers see one consistent view. */
		s = cdp_catalog_acquire(cat);
		entries = cdp_copy_entries(s, 0, &fatal);
		if (entries)
			cdp_catalog_publish(cat, entries, s->n_entries, &fatal);
		cdp_snapshot_release(s);
	}
	free(fatal.v);
	pthread_mutex_unlock(&cat->build_lock);
	return changed;
}

/* ---- lifetime ---- */

void cdp_catalog_set_state(struct cdp_catalog *cat, struct cdp_state *st)
{
	pthread_mutex_lock(&cat->build_lock);
	cdp_state_free(cat->state);
	cat->state = st;
	pthread_mutex_unlock(&cat->build_lock);
}

const char *cdp_catalog_no_crl_msg(const struct cdp_catalog *cat)
{
	return cat->awaiting_pull ? CDP_AWAITING_PULL : "no valid CRL to serve";
}

void cdp_catalog_pulled(struct cdp_catalog *cat)
{
	struct cdp_problems fatal = { 0 };
	struct cdp_snapshot *s;
	struct cdp_entry *entries;
	size_t i;

	pthread_mutex_lock(&cat->build_lock);
	if (!cat->awaiting_pull) {
		pthread_mutex_unlock(&cat->build_lock);
		return;
	}
	cat->awaiting_pull = 0;
	pkl_log(PKL_LOG_INFO, "mirror: first pull done");
	/* A CA the first pull left without a CRL is an error from now on. */
	s = cdp_catalog_acquire(cat);
	entries = cdp_copy_entries(s, 0, &fatal);
	for (i = 0; i < fatal.n; i++)
		if (strcmp(fatal.v[i].msg, CDP_AWAITING_PULL) == 0) {
			snprintf(fatal.v[i].msg, sizeof(fatal.v[i].msg), "%s", cdp_catalog_no_crl_msg(cat));
			pkl_log(PKL_LOG_ERROR, "%s: %s", fatal.v[i].ca, fatal.v[i].msg);
		}
	if (entries)
		cdp_catalog_publish(cat, entries, s->n_entries, &fatal);
	cdp_snapshot_release(s);
	free(fatal.v);
	pthread_mutex_unlock(&cat->build_lock);
}

unsigned long cdp_catalog_reloads(struct cdp_catalog *cat)
{
	return atomic_load(&cat->reloads);
}

struct cdp_catalog *cdp_catalog_new(const struct cdp_config *cfg)
{
	struct cdp_catalog *cat = calloc(1, sizeof(*cat));

	if (!cat)
		return NULL;
	cat->cfg = cfg;
	cat->awaiting_pull = cfg->n_mirror > 0;
	pthread_mutex_init(&cat->cur_lock, NULL);
	pthread_mutex_init(&cat->build_lock, NULL);
	atomic_init(&cat->reloads, 0);
	atomic_init(&cat->published, 0);
	if (pthread_key_create(&cat->pin_key, pin_free) != 0) {
		free(cat);
		return NULL;
	}
	cat->cur = calloc(1, sizeof(*cat->cur));
	if (!cat->cur) {
		pthread_key_delete(cat->pin_key);
		free(cat);
		return NULL;
	}
	atomic_init(&cat->cur->refs, 1);
	return cat;
}

void cdp_catalog_free(struct cdp_catalog *cat)
{
	if (!cat)
		return;
	/* Threads that pinned a snapshot have exited by now (their destructor
	 * released it); a pin of the calling thread is dropped here. */
	{
		struct pin *pin = pthread_getspecific(cat->pin_key);

		if (pin) {
			pthread_setspecific(cat->pin_key, NULL);
			pin_free(pin);
		}
	}
	pthread_key_delete(cat->pin_key);
	cdp_snapshot_release(cat->cur);
	cdp_trust_free(cat->cas, cat->n_cas);
	cdp_trust_free(cat->learned, cat->n_learned);
	cdp_state_free(cat->state);
	free(cat->notes.v);
	pthread_mutex_destroy(&cat->cur_lock);
	pthread_mutex_destroy(&cat->build_lock);
	free(cat);
}
