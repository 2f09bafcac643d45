/*
 * The catalog: what the server answers from.
 *
 * A snapshot is immutable once published: entries (CRLs and CA certificates
 * with their precomputed validators), and the problems found while building
 * it. Readers take a reference under a short mutex and never block a
 * rebuild; a response keeps its reference until MHD has sent the last byte,
 * so a swap never frees bytes in flight. Bodies are refcounted blobs shared
 * between consecutive snapshots, so a reload does not copy a 4 MB CRL.
 *
 * Every candidate CRL, read from a publish directory or pulled from a peer,
 * goes through cdp_judge_crl(): parse, verify against the trusted CA
 * certificate, refuse a lower CRL number (rollback), refuse an expired one
 * while a fresh one is served. The last good CRL stays in service otherwise.
 *
 * The CA certificates come from the configured trust set, plus (in mirror
 * mode) CAs learned from peers: each issued by a configured CA
 * (cdp_judge_ca), kept in the catalog for the process lifetime and merged
 * into every rebuilt snapshot.
 *
 * With state_dir, the rollback rule also holds across restarts: a CRL below
 * the highest number ever accepted for its CA and key (state.c) is refused
 * even when nothing is served yet, and a rising mark is written to disk
 * before the snapshot that serves it is published.
 */
#include <dirent.h>
#include <limits.h>
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <microhttpd.h>

#include "cdpd.h"
#include "pkilab/buf.h"
#include "pkilab/file.h"

/* ---- snapshots ---- */

static int entry_cmp(const void *a, const void *b)
{
	const struct cdp_entry *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct entry_key {
	enum cdp_kind kind;
	const char *name;
};

static int key_cmp(const void *k, const void *e)
{
	const struct entry_key *x = k;
	const struct cdp_entry *y = e;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

const struct cdp_entry *cdp_snapshot_find(const struct cdp_snapshot *s, enum cdp_kind kind,
					  const char *name)
{
	struct entry_key key = { kind, name };

	if (!s || !s->n_entries)
		return NULL;
	return bsearch(&key, s->entries, s->n_entries, sizeof(*s->entries), key_cmp);
}

struct cdp_snapshot *cdp_snapshot_ref(struct cdp_snapshot *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void cdp_snapshot_release(struct cdp_snapshot *s)
{
	size_t i;

	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < s->n_entries; i++) {
		int k;

		/* Responses still queued on connections keep their own references. */
		for (k = 0; k < 2; k++)
			if (atomic_load(&s->entries[i].cached[k]))
				MHD_destroy_response(atomic_load(&s->entries[i].cached[k]));
		cdp_blob_unref(s->entries[i].body);
	}
	free(s->entries);
	free(s->problems);
	free(s);
}

/* ---- building ---- */

struct trust_ca;
static int trust_put(struct trust_ca **v, size_t *n, const struct trust_ca *t);

struct trust_ca {
	char name[CDP_NAME_MAX + 1];
	X509 *cert;
	struct cdp_blob *der;
	char source[CDP_SOURCE_MAX];
	int learned; /* from a peer, not configured */
	pkl_time learned_at;
};

struct problems {
	struct cdp_problem *v;
	size_t n, cap;
};

struct cdp_catalog {
	const struct cdp_config *cfg;
	pthread_mutex_t cur_lock;   /* guards `cur` only: held for a pointer copy and an increment */
	struct cdp_snapshot *cur;
	pthread_mutex_t build_lock; /* serialises rebuilds (main thread, mirror thread) */
	struct trust_ca *cas;       /* the configured trust set, then the learned CAs */
	size_t n_cas;
	struct trust_ca *learned;   /* CAs learned from peers: survive reloads */
	size_t n_learned;
	struct problems notes;      /* warnings about peers, kept across reloads */
	uint64_t generation;
	atomic_ulong reloads;
	atomic_ullong published;    /* generation of `cur`, readable without the lock */
	pthread_key_t pin_key;      /* each worker thread's pinned snapshot */
	struct cdp_state *state;    /* high-water marks (state_dir), or NULL; under build_lock */
};

struct pin {
	struct cdp_snapshot *s;
};

static void pin_free(void *p)
{
	struct pin *pin = p;

	cdp_snapshot_release(pin->s);
	free(pin);
}

static void problem_add(struct problems *p, const char *ca, const char *source, const char *msg,
			int fatal)
{
	struct cdp_problem *x;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct cdp_problem *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return;
		p->v = v;
		p->cap = cap;
	}
	x = &p->v[p->n++];
	snprintf(x->ca, sizeof(x->ca), "%s", ca ? ca : "");
	snprintf(x->source, sizeof(x->source), "%s", source ? source : "");
	snprintf(x->msg, sizeof(x->msg), "%s", msg);
	x->fatal = fatal;
	x->note = 0;
}

static void problem_remove(struct problems *p, const char *source)
{
	size_t i = 0;

	while (i < p->n) {
		if (strcmp(p->v[i].source, source) == 0) {
			p->v[i] = p->v[p->n - 1];
			p->n--;
		} else {
			i++;
		}
	}
}

static void entry_init(struct cdp_entry *e, enum cdp_kind kind, const char *name,
		       struct cdp_blob *body, const char *source)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->body = body;
	cdp_etag_sha256(body->data, body->len, e->etag);
	snprintf(e->source, sizeof(e->source), "%s", source);
	e->loaded_at = pkl_time_now();
}

/* Last-Modified is the CRL's thisUpdate (a certificate's notBefore), moved
 * forward when that would not be later than the date of the bytes it
 * replaces: two CRLs signed in the same second, or a newer one with an
 * earlier thisUpdate, must not share a date, or If-Modified-Since would get
 * a 304 for bytes the client does not have (RFC 9110 §8.8.2, §13.1.3; HTTP
 * dates have one-second resolution). floor is the least acceptable date:
 * the replaced entry's date + 1, or, with nothing known before (at start, or
 * a name served anew), the next second: a previous process may have sent
 * any date up to now, and none later (h_crl.c never sends a date later than
 * its clock), so a restart never reuses a date for other bytes. */
static pkl_time lm_floor(const struct cdp_entry *pred)
{
	return pred && pred->last_modified ? pred->last_modified + 1 : pkl_time_now() + 1;
}

static void entry_set_times(struct cdp_entry *e, pkl_time lm, pkl_time exp)
{
	e->last_modified = lm;
	e->expires = exp;
	cdp_http_date(lm, e->last_modified_http);
	if (exp)
		cdp_http_date(exp, e->expires_http);
}

/* Publishes a new snapshot made of entries (blob references taken over)
 * and problems (copied). Called with build_lock held. */
static void publish(struct cdp_catalog *cat, struct cdp_entry *entries, size_t n,
		    const struct problems *fatal)
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
	qsort(entries, n, sizeof(*entries), entry_cmp);
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

static X509 *load_cert(const unsigned char *d, size_t n)
{
	const unsigned char *p = d;
	X509 *x = NULL;
	BIO *bio;

	if (n > 10 && memcmp(d, "-----BEGIN", 10) == 0) {
		bio = BIO_new_mem_buf(d, (int)n);
		if (bio)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else if (n < 0x7fffffff) {
		x = d2i_X509(NULL, &p, (long)n);
		if (x && p != d + n) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	return x;
}

static void trust_free(struct trust_ca *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		X509_free(v[i].cert);
		cdp_blob_unref(v[i].der);
	}
	free(v);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a > b && strcmp(s + a - b, suf) == 0;
}

/* Adds one trusted CA certificate file (PEM or DER) named after its file;
 * dir: the directory it was found in (see cdp_file_read), NULL for a file
 * configured by path. */
static void trust_add_file(struct trust_ca **v, size_t *n, const char *path, const char *dir,
			   struct problems *pr)
{
	struct pkl_buf b = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	const char *base = strrchr(path, '/');
	char name[CDP_NAME_MAX + 1], msg[600], eb[1600];
	unsigned char *der = NULL;
	size_t nl, i;
	int dlen;
	X509 *x = NULL;
	struct trust_ca *nv;

	base = base ? base + 1 : path;
	/* "root.crt": the name is what precedes the last suffix (names may contain dots). */
	nl = strrchr(base, '.') ? (size_t)(strrchr(base, '.') - base) : strlen(base);
	if (!cdp_name_valid(base, nl)) {
		snprintf(msg, sizeof(msg), "file name is not a valid CA name ([A-Za-z0-9._-]{1,64})");
		problem_add(pr, "", path, msg, 0);
		return;
	}
	memcpy(name, base, nl);
	name[nl] = '\0';
	if (cdp_file_read(path, dir, 1 << 20, &b, NULL, &err) != PKL_OK) {
		problem_add(pr, name, path, pkl_err_str(&err, eb, sizeof(eb)), 1);
		return;
	}
	x = load_cert(b.data, b.len);
	if (!x) {
		problem_add(pr, name, path, "not a certificate (PEM or DER)", 1);
		goto out;
	}
	dlen = i2d_X509(x, &der);
	if (dlen <= 0) {
		problem_add(pr, name, path, "cannot encode the certificate", 1);
		goto out;
	}
	for (i = 0; i < *n; i++) {
		if (strcmp((*v)[i].name, name) != 0)
			continue;
		if ((*v)[i].der->len != (size_t)dlen || memcmp((*v)[i].der->data, der, (size_t)dlen) != 0)
			problem_add(pr, name, path,
				    "a different certificate for this CA name is already trusted (kept the first)",
				    1);
		goto out;
	}
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		goto out;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	snprintf(nv[*n].name, sizeof(nv[*n].name), "%s", name);
	snprintf(nv[*n].source, sizeof(nv[*n].source), "%s", path);
	nv[*n].der = cdp_blob_new(der, (size_t)dlen);
	if (!nv[*n].der)
		goto out;
	nv[*n].cert = x;
	x = NULL;
	(*n)++;
out:
	OPENSSL_free(der);
	X509_free(x);
	pkl_buf_free(&b);
}

static int name_sort(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void trust_add_dir(struct trust_ca **v, size_t *n, const char *dir, const char *base,
			  struct problems *pr, int missing_ok)
{
	struct dirent **list = NULL;
	char path[4096], eb[300];
	int k, i;

	k = scandir(dir, &list, NULL, name_sort);
	if (k < 0) {
		if (!(missing_ok && errno == ENOENT)) {
			snprintf(eb, sizeof(eb), "cannot read the directory: %s", strerror(errno));
			problem_add(pr, "", dir, eb, 1);
		}
		return;
	}
	for (i = 0; i < k; i++) {
		const char *d = list[i]->d_name;

		if (d[0] != '.' && (has_suffix(d, ".crt") || has_suffix(d, ".pem") ||
				    has_suffix(d, ".der") || has_suffix(d, ".cer")) &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, d) < sizeof(path))
			trust_add_file(v, n, path, base, pr);
		free(list[i]);
	}
	free(list);
}

static void trust_load(const struct cdp_config *cfg, struct trust_ca **v, size_t *n,
		       struct problems *pr)
{
	char path[4096];
	struct stat st;
	size_t i;

	*v = NULL;
	*n = 0;
	if (cfg->n_trust) {
		for (i = 0; i < cfg->n_trust; i++) {
			if (stat(cfg->trust[i], &st) == 0 && S_ISDIR(st.st_mode))
				trust_add_dir(v, n, cfg->trust[i], cfg->trust[i], pr, 0);
			else
				trust_add_file(v, n, cfg->trust[i], NULL, pr);
		}
		return;
	}
	for (i = 0; i < cfg->n_publish; i++)
		if ((size_t)snprintf(path, sizeof(path), "%s/aia", cfg->publish[i]) < sizeof(path))
			trust_add_dir(v, n, path, cfg->publish[i], pr, 1);
}

static const struct trust_ca *trust_find(const struct trust_ca *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* The CA certificate itself, served at /aia/<name>.crt (Last-Modified:
 * notBefore, at least floor; see lm_floor). */
static void make_aia_entry(struct cdp_entry *e, const struct trust_ca *ca, pkl_time floor)
{
	pkl_time nb = 0;

	entry_init(e, CDP_AIA, ca->name, cdp_blob_ref(ca->der), ca->source);
	e->learned = ca->learned;
	if (ca->learned)
		e->loaded_at = ca->learned_at;
	if (pkl_time_from_asn1(X509_get0_notBefore(ca->cert), &nb) != PKL_OK)
		nb = 0;
	entry_set_times(e, nb > floor ? nb : floor, 0);
}

/* The configured (not learned) CAs of v: the only issuers a learned CA may
 * have. Arrays the caller frees; 0 with both NULL when out of memory. */
static size_t configured_issuers(const struct trust_ca *v, size_t n, X509 ***iss,
				 const char ***names)
{
	size_t i, k = 0;

	*iss = calloc(n + 1, sizeof(X509 *));
	*names = calloc(n + 1, sizeof(const char *));
	if (!*iss || !*names) {
		free(*iss);
		free(*names);
		*iss = NULL;
		*names = NULL;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!v[i].learned) {
			(*iss)[k] = v[i].cert;
			(*names)[k++] = v[i].name;
		}
	return k;
}

/* Appends the learned CAs to the freshly loaded configured set v, judging
 * each again: one whose name a configured CA now has, or whose issuer is no
 * longer trusted (or which expired), is forgotten. Called with build_lock. */
static void merge_learned(struct cdp_catalog *cat, struct trust_ca **v, size_t *n)
{
	X509 **iss = NULL;
	const char **names = NULL;
	size_t n_conf = configured_issuers(*v, *n, &iss, &names), i, k = 0;

	for (i = 0; i < cat->n_learned; i++) {
		struct trust_ca *l = &cat->learned[i], *nv;
		struct pkl_err err = { 0 };
		X509 *x = NULL;
		int keep = 0;

		if (trust_find(*v, *n, l->name))
			pkl_log(PKL_LOG_WARN,
				"aia '%s': a configured CA certificate now has this name: the one learned from %s is dropped",
				l->name, l->source);
		else if (cdp_judge_ca(l->der->data, l->der->len, iss, names, n_conf, pkl_time_now(),
				      l->source, &x, &err) != CDP_ACCEPT)
			pkl_log(PKL_LOG_WARN, "aia '%s': the CA certificate learned from %s is dropped: %s",
				l->name, l->source, err.msg);
		else
			keep = 1;
		X509_free(x);
		if (!keep) {
			X509_free(l->cert);
			cdp_blob_unref(l->der);
			continue;
		}
		cat->learned[k++] = *l;
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv)
			continue;
		*v = nv;
		nv[*n] = *l;
		X509_up_ref(nv[*n].cert);
		cdp_blob_ref(nv[*n].der);
		(*n)++;
	}
	cat->n_learned = k;
	free(iss);
	free(names);
}

/* floor: see lm_floor(), computed before e is overwritten. */
static void make_crl_entry(struct cdp_entry *e, const char *name, struct cdp_blob *b,
			   const struct pkl_crlinfo *info, const char *source, pkl_time floor)
{
	entry_init(e, CDP_CRL, name, b, source);
	e->info = *info;
	entry_set_times(e, info->this_update > floor ? info->this_update : floor,
			info->next_update);
}

/* The persisted half of the rollback rule (state_dir): a CRL that passed
 * cdp_judge_crl() is still refused when its number is below the highest this
 * server ever accepted for that CA name and key, even when nothing is served
 * (after a restart). Otherwise the mark rises in memory; save_marks() writes
 * it before the snapshot serving the CRL is published. Under build_lock. */
static enum cdp_verdict check_mark(struct cdp_catalog *cat, const struct trust_ca *ca,
				   const struct pkl_crlinfo *info, const char *where,
				   struct pkl_err *err)
{
	char keyid[CDP_KEYID_MAX + 1];
	const char *mark;

	if (!cat->state)
		return CDP_ACCEPT;
	if (!cdp_state_keyid(ca->cert, keyid)) {
		/* Fail closed: without the key identity there is no mark to honour. */
		pkl_err_set(err, PKL_ERUNTIME, where, "cannot compute the key identity of CA '%s'",
			    ca->name);
		return CDP_INVALID;
	}
	mark = cdp_state_get(cat->state, ca->name, keyid);
	if (mark && pkl_crlcheck_number_cmp(info->number, mark) < 0) {
		pkl_err_set(err, PKL_EINPUT, where,
			    "CRL number %s is lower than %s, the highest accepted before for this CA key (%s): rollback refused",
			    info->number, mark, cat->state->path);
		return CDP_OLDER;
	}
	if (cdp_state_raise(cat->state, ca->name, keyid, info->number) > 0)
		pkl_log(PKL_LOG_DEBUG, "crl '%s': high-water mark %s for key %s", ca->name,
			info->number, keyid);
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
		problem_remove(&cat->notes, cat->state->path);
		return;
	}
	snprintf(msg, sizeof(msg),
		 "cannot record the CRL number high-water marks (rollback protection after a restart): %s",
		 pkl_err_str(&err, eb, sizeof(eb)));
	for (i = 0; i < cat->notes.n; i++)
		if (strcmp(cat->notes.v[i].source, cat->state->path) == 0)
			known = strcmp(cat->notes.v[i].msg, msg) == 0;
	pkl_log(known ? PKL_LOG_DEBUG : PKL_LOG_ERROR, "%s (retried at the next rebuild)", msg);
	problem_remove(&cat->notes, cat->state->path);
	problem_add(&cat->notes, "", cat->state->path, msg, 0);
}

/* A configured CA certificate that was served and is missing from the set
 * just loaded (its file truncated, half rewritten, unreadable, replaced by
 * something that is not a certificate, or deleted) stays in service, as the
 * last good CRL does when its file goes bad: a glitch of one file must not
 * take /aia/<ca>.crt and /crl/<ca>.crl offline. A bad file is a fatal
 * problem (it needs fixing); a deleted one is a warning, and the CA is
 * retired at the next restart. A CA whose file now holds another valid
 * certificate is not missing: that certificate replaces it. Called with
 * build_lock, before merge_learned(). */
static void keep_last_good_cas(struct cdp_catalog *cat, struct trust_ca **v, size_t *n,
			       struct problems *pr)
{
	const char *kept = ": the last good CA certificate stays in service";
	size_t i, k;

	for (i = 0; i < cat->n_cas; i++) {
		const struct trust_ca *o = &cat->cas[i];
		struct stat st;
		int found = 0;

		if (o->learned || trust_find(*v, *n, o->name))
			continue;
		if (!trust_put(v, n, o))
			continue;
		for (k = 0; k < pr->n; k++)
			if (strcmp(pr->v[k].source, o->source) == 0 && pr->v[k].fatal) {
				size_t l = strlen(pr->v[k].msg);

				snprintf(pr->v[k].msg + l, sizeof(pr->v[k].msg) - l, "%s", kept);
				found = 1;
			}
		if (found)
			continue;
		if (lstat(o->source, &st) != 0 && errno == ENOENT) {
			problem_add(pr, o->name, o->source,
				    "the CA certificate file is gone: the last good CA certificate stays in service until a restart",
				    0);
		} else {
			char msg[512];

			/* E.g. its directory could not be listed (reported on its own). */
			snprintf(msg, sizeof(msg), "the CA certificate file was not loaded%s", kept);
			problem_add(pr, o->name, o->source, msg, 1);
		}
	}
}

/* Judges one CRL file for a CA; cur is updated in place when accepted. */
static void consider_file(struct cdp_catalog *cat, const struct trust_ca *ca, const char *path,
			  const char *base, struct cdp_entry *cur, int *have, pkl_time floor,
			  struct problems *pr)
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
		problem_add(pr, ca->name, path, pkl_err_str(&err, eb, sizeof(eb)), 1);
		return;
	}
	v = cdp_judge_crl(*have ? cur : NULL, b.data, b.len, ca->cert, pkl_time_now(), path, &info,
			  &err);
	if (v == CDP_SAME)
		goto out;
	if (v == CDP_ACCEPT)
		v = check_mark(cat, ca, &info, path, &err);
	if (v != CDP_ACCEPT) {
		problem_add(pr, ca->name, path, err.msg, 1);
		goto out;
	}
	blob = cdp_blob_new(b.data, b.len);
	if (!blob)
		goto out;
	if (*have)
		floor = lm_floor(cur);
	if (*have) {
		pkl_log(PKL_LOG_INFO, "crl '%s': CRL number %s replaces %s (%s, %zu bytes, %zu revoked)",
			ca->name, info.number, cur->info.number, path, b.len, info.revoked);
		cdp_blob_unref(cur->body);
	} else {
		pkl_log(PKL_LOG_INFO, "crl '%s': serving CRL number %s (%s, %zu bytes, %zu revoked)",
			ca->name, info.number, path, b.len, info.revoked);
	}
	make_crl_entry(cur, ca->name, blob, &info, path, floor);
	*have = 1;
out:
	pkl_buf_free(&b);
}

/* CRL files nobody can verify are reported, not served; so is a crl/ that
 * exists but cannot be listed. */
static void report_orphans(const struct cdp_config *cfg, const struct trust_ca *v, size_t n,
			   struct problems *pr)
{
	char dir[4096], path[4600];
	struct dirent **list = NULL;
	size_t i;
	int k, j;

	for (i = 0; i < cfg->n_publish; i++) {
		if ((size_t)snprintf(dir, sizeof(dir), "%s/crl", cfg->publish[i]) >= sizeof(dir))
			continue;
		k = scandir(dir, &list, NULL, name_sort);
		if (k < 0 && errno != ENOENT) {
			char eb[300];

			snprintf(eb, sizeof(eb), "cannot read the directory: %s: new CRLs cannot be seen",
				 strerror(errno));
			problem_add(pr, "", dir, eb, 1);
		}
		for (j = 0; j < k; j++) {
			const char *d = list[j]->d_name;
			size_t nl = strlen(d);
			char name[CDP_NAME_MAX + 1];

			if (d[0] != '.' && has_suffix(d, ".crl") && nl - 4 <= CDP_NAME_MAX) {
				memcpy(name, d, nl - 4);
				name[nl - 4] = '\0';
				snprintf(path, sizeof(path), "%s/%s", dir, d);
				if (!cdp_name_valid(name, nl - 4))
					problem_add(pr, "", path,
						    "file name is not a valid CA name: not served", 0);
				else if (!trust_find(v, n, name))
					problem_add(pr, name, path,
						    "no trusted CA certificate for this CRL: not served", 1);
			}
			free(list[j]);
		}
		free(list);
		list = NULL;
	}
}

/* A served CRL that clients are about to reject, or already do, is a
 * warning (in the log once, and in /healthz, which also answers 503 for it):
 * "soon" is health_margin, the same bound /healthz fails at, so the log says
 * why the health check went red. The messages name the date, not the time
 * left, so a rescan does not turn one warning into a new one every time. */
#define EXPIRY_TAIL ": publish a new one"
static void expiry_problems(const struct cdp_config *cfg, const struct cdp_entry *e, size_t n,
			    pkl_time now, struct problems *pr)
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
		problem_add(pr, e[i].name, e[i].source, msg, 0);
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
	struct problems pr = { 0 };
	struct trust_ca *cas = NULL;
	struct cdp_snapshot *old;
	struct cdp_entry *entries;
	size_t n_cas = 0, n = 0, i, j;
	char path[4096];

	pthread_mutex_lock(&cat->build_lock);
	atomic_fetch_add(&cat->reloads, 1);
	old = cdp_catalog_acquire(cat);
	trust_load(cfg, &cas, &n_cas, &pr);
	keep_last_good_cas(cat, &cas, &n_cas, &pr);
	merge_learned(cat, &cas, &n_cas);
	entries = calloc(2 * n_cas + 1, sizeof(*entries));
	if (!entries)
		goto out;
	for (i = 0; i < n_cas; i++) {
		const struct trust_ca *ca = &cas[i];
		const struct cdp_entry *oc = cdp_snapshot_find(old, CDP_CRL, ca->name);
		const struct cdp_entry *oa = cdp_snapshot_find(old, CDP_AIA, ca->name);
		struct cdp_entry crl;
		int have = 0, same_ca;

		memset(&crl, 0, sizeof(crl));
		same_ca = oa && oa->body->len == ca->der->len &&
			  memcmp(oa->body->data, ca->der->data, ca->der->len) == 0;

		make_aia_entry(&entries[n], ca, same_ca ? 0 : lm_floor(oa));
		if (same_ca) {
			entries[n].loaded_at = oa->loaded_at;
			entry_set_times(&entries[n], oa->last_modified, 0);
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
					"crl '%s': the served CRL does not verify with the new CA certificate: dropped",
					ca->name);
			}
		}
		for (j = 0; j < cfg->n_publish; j++)
			if ((size_t)snprintf(path, sizeof(path), "%s/crl/%s.crl", cfg->publish[j],
					     ca->name) < sizeof(path))
				consider_file(cat, ca, path, cfg->publish[j], &crl, &have,
					      lm_floor(oc), &pr);
		if (have)
			entries[n++] = crl;
		else
			problem_add(&pr, ca->name, "", "no valid CRL to serve", 1);
	}
	report_orphans(cfg, cas, n_cas, &pr);
	expiry_problems(cfg, entries, n, pkl_time_now(), &pr);
	for (i = 0; i < pr.n; i++) {
		int serving = 0;

		/* Say "stays in service" only of a CRL the new snapshot serves. */
		for (j = 0; j < n && pr.v[i].ca[0]; j++)
			serving |= entries[j].kind == CDP_CRL && strcmp(entries[j].name, pr.v[i].ca) == 0;
		pkl_log(!was_reported(old, &pr.v[i]) ? pr.v[i].fatal ? PKL_LOG_ERROR : PKL_LOG_WARN
						     : PKL_LOG_DEBUG,
			"%s%s%s%s%s%s", pr.v[i].ca,
			pr.v[i].ca[0] ? ": " : "", pr.v[i].source, pr.v[i].source[0] ? ": " : "",
			pr.v[i].msg,
			!pr.v[i].fatal || !serving ? "" :
			strstr(pr.v[i].msg, "last good CA certificate") ? ", and so does its last good CRL" :
									  " (the last good CRL stays in service)");
	}
	trust_free(cat->cas, cat->n_cas);
	cat->cas = cas;
	cat->n_cas = n_cas;
	cas = NULL;
	n_cas = 0;
	save_marks(cat);
	publish(cat, entries, n, &pr);
	pkl_log(PKL_LOG_DEBUG, "catalog generation %llu built (%s): %zu entries, %zu problems",
		(unsigned long long)cat->generation, why, n, pr.n);
out:
	trust_free(cas, n_cas);
	free(pr.v);
	cdp_snapshot_release(old);
	pthread_mutex_unlock(&cat->build_lock);
	/* Parsing a big CRL allocates an object per entry (~60 MB for 160,000
	 * entries) and frees them all; hand that memory back to the system. */
	malloc_trim(0);
}

/* The slot for (kind, name) in a copy of n entries made with room for one
 * more: the existing entry, its bytes released for the caller to replace,
 * or a new one at the end (*n grows). */
static size_t entry_slot(struct cdp_entry *entries, size_t *n, enum cdp_kind kind,
			 const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (entries[i].kind == kind && strcmp(entries[i].name, name) == 0) {
			cdp_blob_unref(entries[i].body);
			return i;
		}
	return (*n)++;
}

/* Copies the current snapshot's entries (with blob references) and its
 * problems found on disk (the catalog's notes are added again by publish). */
static struct cdp_entry *copy_entries(const struct cdp_snapshot *s, size_t extra,
				      struct problems *fatal)
{
	struct cdp_entry *e = calloc(s->n_entries + extra + 1, sizeof(*e));
	size_t i;

	if (!e)
		return NULL;
	for (i = 0; i < s->n_entries; i++) {
		e[i] = s->entries[i];
		cdp_blob_ref(e[i].body);
	}
	for (i = 0; i < s->n_problems; i++)
		if (!s->problems[i].note)
			problem_add(fatal, s->problems[i].ca, s->problems[i].source,
				    s->problems[i].msg, s->problems[i].fatal);
	return e;
}

enum cdp_verdict cdp_catalog_offer_crl(struct cdp_catalog *cat, const char *ca_name,
				       const unsigned char *der, size_t len, const char *source,
				       struct pkl_err *err)
{
	struct problems fatal = { 0 };
	struct cdp_snapshot *s;
	const struct trust_ca *ca;
	const struct cdp_entry *cur;
	struct cdp_entry *entries;
	struct pkl_crlinfo info;
	struct cdp_blob *blob;
	enum cdp_verdict v;
	size_t n, i;

	pthread_mutex_lock(&cat->build_lock);
	s = cdp_catalog_acquire(cat);
	ca = trust_find(cat->cas, cat->n_cas, ca_name);
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
			problem_remove(&cat->notes, source);
		goto out;
	}
	problem_remove(&cat->notes, source);
	blob = cdp_blob_new(der, len);
	entries = blob ? copy_entries(s, 1, &fatal) : NULL;
	if (!entries) {
		cdp_blob_unref(blob);
		goto out;
	}
	n = s->n_entries;
	i = entry_slot(entries, &n, CDP_CRL, ca_name);
	make_crl_entry(&entries[i], ca_name, blob, &info, source, lm_floor(cur));
	/* The CA has a CRL now: drop "no valid CRL" for it. */
	for (i = 0; i < fatal.n;)
		if (strcmp(fatal.v[i].ca, ca_name) == 0 && fatal.v[i].source[0] == '\0')
			fatal.v[i] = fatal.v[--fatal.n];
		else
			i++;
	pkl_log(PKL_LOG_INFO, "crl '%s': CRL number %s from %s%s%s (%zu bytes, %zu revoked)", ca_name,
		info.number, source, cur ? " replaces " : "", cur ? cur->info.number : "", len,
		info.revoked);
	{
		struct problems exp = { 0 };

		/* The expiry warnings of the set just built replace the copied ones. */
		for (i = 0; i < fatal.n;)
			if (!fatal.v[i].fatal && has_suffix(fatal.v[i].msg, EXPIRY_TAIL))
				fatal.v[i] = fatal.v[--fatal.n];
			else
				i++;
		expiry_problems(cat->cfg, entries, n, pkl_time_now(), &exp);
		for (i = 0; i < exp.n; i++) {
			if (strcmp(exp.v[i].ca, ca_name) == 0)
				pkl_log(PKL_LOG_WARN, "%s: %s: %s", ca_name, exp.v[i].source,
					exp.v[i].msg);
			problem_add(&fatal, exp.v[i].ca, exp.v[i].source, exp.v[i].msg, 0);
		}
		free(exp.v);
	}
	save_marks(cat);
	publish(cat, entries, n, &fatal);
out:
	free(fatal.v);
	cdp_snapshot_release(s);
	pthread_mutex_unlock(&cat->build_lock);
	if (v != CDP_SAME && len >= CDP_SENDFILE_MIN)
		malloc_trim(0);
	return v;
}

/* Replaces the entry of name in v (owned) with a copy of t holding its own
 * references, or appends one. Returns 0 when out of memory. */
static int trust_put(struct trust_ca **v, size_t *n, const struct trust_ca *t)
{
	struct trust_ca *nv;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, t->name) == 0)
			break;
	if (i == *n) {
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv)
			return 0;
		*v = nv;
		(*n)++;
	} else {
		X509 *old_cert = (*v)[i].cert;
		struct cdp_blob *old_der = (*v)[i].der;

		/* References first: t may share objects with the entry it replaces. */
		X509_up_ref(t->cert);
		cdp_blob_ref(t->der);
		(*v)[i] = *t;
		X509_free(old_cert);
		cdp_blob_unref(old_der);
		return 1;
	}
	X509_up_ref(t->cert);
	cdp_blob_ref(t->der);
	(*v)[i] = *t;
	return 1;
}

enum cdp_verdict cdp_catalog_offer_ca(struct cdp_catalog *cat, const char *name,
				      const unsigned char *der, size_t len, const char *source,
				      struct pkl_err *err)
{
	struct problems fatal = { 0 };
	struct cdp_snapshot *s;
	const struct trust_ca *ca;
	struct trust_ca nt;
	struct cdp_entry *entries = NULL;
	X509 **iss = NULL;
	const char **names = NULL;
	size_t n_conf, n, i;
	enum cdp_verdict v = CDP_INVALID;
	int has_crl = 0;

	memset(&nt, 0, sizeof(nt));
	pthread_mutex_lock(&cat->build_lock);
	s = cdp_catalog_acquire(cat);
	if (!cdp_name_valid(name, strlen(name))) {
		pkl_err_set(err, PKL_EINPUT, source, "not a valid CA name ([A-Za-z0-9._-]{1,64})");
		goto out;
	}
	ca = trust_find(cat->cas, cat->n_cas, name);
	if (ca && ca->der->len == len && memcmp(ca->der->data, der, len) == 0) {
		v = CDP_SAME;
		goto out;
	}
	if (ca && !ca->learned) {
		pkl_err_set(err, PKL_EINPUT, source,
			    "a different certificate is configured for '%s' (%s): a peer never replaces a configured CA",
			    name, ca->source);
		v = CDP_CONFLICT;
		goto out;
	}
	n_conf = configured_issuers(cat->cas, cat->n_cas, &iss, &names);
	v = cdp_judge_ca(der, len, iss, names, n_conf, pkl_time_now(), source, &nt.cert, err);
	if (v != CDP_ACCEPT)
		goto out;
	if (ca) {
		/* A learned CA changes only forwards (a renewed intermediate), so
		 * two peers with different certificates cannot make it flap. */
		pkl_time nb_new = 0, nb_old = 0;

		pkl_time_from_asn1(X509_get0_notBefore(nt.cert), &nb_new);
		pkl_time_from_asn1(X509_get0_notBefore(ca->cert), &nb_old);
		if (nb_new <= nb_old) {
			pkl_err_set(err, PKL_EINPUT, source,
				    "%s than the certificate learned for '%s' from %s: keeping that one",
				    nb_new < nb_old ? "older (notBefore)" : "not newer (same notBefore)",
				    name, ca->source);
			v = nb_new < nb_old ? CDP_OLDER : CDP_CONFLICT;
			goto out;
		}
	}
	snprintf(nt.name, sizeof(nt.name), "%s", name);
	snprintf(nt.source, sizeof(nt.source), "%s", source);
	nt.learned = 1;
	nt.learned_at = pkl_time_now();
	nt.der = cdp_blob_new(der, len);
	entries = nt.der ? copy_entries(s, 1, &fatal) : NULL;
	if (!entries || !trust_put(&cat->learned, &cat->n_learned, &nt) ||
	    !trust_put(&cat->cas, &cat->n_cas, &nt)) {
		pkl_err_set(err, PKL_ERUNTIME, source, "out of memory");
		v = CDP_INVALID;
		goto out;
	}
	n = s->n_entries;
	i = entry_slot(entries, &n, CDP_AIA, name);
	make_aia_entry(&entries[i], &nt, lm_floor(cdp_snapshot_find(s, CDP_AIA, name)));
	/* A renewed CA: its served CRL stays only if the new key verifies it. */
	for (i = 0; i < n; i++) {
		struct pkl_crlinfo info;

		if (entries[i].kind != CDP_CRL || strcmp(entries[i].name, name) != 0)
			continue;
		if (pkl_crlcheck_verify(entries[i].body->data, entries[i].body->len,
					entries[i].source, nt.cert, &info, NULL) == PKL_OK) {
			has_crl = 1;
		} else {
			cdp_blob_unref(entries[i].body);
			entries[i] = entries[--n];
		}
		break;
	}
	if (!has_crl)
		problem_add(&fatal, name, "", "no valid CRL to serve", 1);
	pkl_log(PKL_LOG_INFO, "aia '%s': learned CA certificate from %s (issued by a trusted CA)",
		name, source);
	publish(cat, entries, n, &fatal);
	entries = NULL;
out:
	if (entries) {
		for (i = 0; i < s->n_entries; i++)
			cdp_blob_unref(entries[i].body);
		free(entries);
	}
	X509_free(nt.cert);
	cdp_blob_unref(nt.der);
	free(iss);
	free(names);
	free(fatal.v);
	cdp_snapshot_release(s);
	pthread_mutex_unlock(&cat->build_lock);
	return v;
}

int cdp_catalog_note(struct cdp_catalog *cat, const char *ca, const char *source, const char *msg)
{
	struct problems fatal = { 0 };
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
		problem_remove(&cat->notes, source);
	} else if (i == cat->notes.n || strcmp(cat->notes.v[i].msg, msg) != 0) {
		problem_remove(&cat->notes, source);
		problem_add(&cat->notes, ca, source, msg, 0);
		changed = 1;
	}
	if (changed) {
		/* Warnings live in the snapshot too, so readers see one consistent view. */
		s = cdp_catalog_acquire(cat);
		entries = copy_entries(s, 0, &fatal);
		if (entries)
			publish(cat, entries, s->n_entries, &fatal);
		cdp_snapshot_release(s);
	}
	free(fatal.v);
	pthread_mutex_unlock(&cat->build_lock);
	return changed;
}

void cdp_catalog_set_state(struct cdp_catalog *cat, struct cdp_state *st)
{
	pthread_mutex_lock(&cat->build_lock);
	cdp_state_free(cat->state);
	cat->state = st;
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
	trust_free(cat->cas, cat->n_cas);
	trust_free(cat->learned, cat->n_learned);
	cdp_state_free(cat->state);
	free(cat->notes.v);
	pthread_mutex_destroy(&cat->cur_lock);
	pthread_mutex_destroy(&cat->build_lock);
	free(cat);
}
