/*
 * The immutable snapshot: what a request is answered from. Entries (CRLs
 * and CA certificates with their precomputed validators) sorted for lookup,
 * and the problems found while building it. Readers take a reference and
 * never block a rebuild; a response keeps a reference to the bytes it sends
 * until MHD has sent the last byte, so a swap never frees bytes in flight.
 * Bodies are refcounted blobs (blob.c) shared between consecutive
 * snapshots, so a reload does not copy a 4 MB CRL. Snapshots are built and
 * swapped in by the catalog (catalog.c) from the entries made here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "catalog.h"

/* ---- snapshots ---- */

int cdp_entry_cmp(const void *a, const void *b)
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

const struct cdp_entry *cdp_snapshot_find(const struct cdp_snapshot *s, enum cdp_kind kind, const char *name)
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

/* ---- problems ---- */

void cdp_problem_add(struct cdp_problems *p, const char *ca, const char *source, const char *msg, int fatal)
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

void cdp_problem_remove(struct cdp_problems *p, const char *source)
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

/* ---- entries ---- */

static void entry_init(struct cdp_entry *e, enum cdp_kind kind, const char *name, struct cdp_blob *body,
		       const char *source)
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
 * any date up to now, and none later (serve.c never sends a date later than
 * its clock), so a restart never reuses a date for other bytes. */
pkl_time cdp_lm_floor(const struct cdp_entry *pred)
{
	return pred && pred->last_modified ? pred->last_modified + 1 : pkl_time_now() + 1;
}

void cdp_entry_set_times(struct cdp_entry *e, pkl_time lm, pkl_time exp)
{
	e->last_modified = lm;
	e->expires = exp;
	cdp_http_date(lm, e->last_modified_http);
	if (exp)
		cdp_http_date(exp, e->expires_http);
}

/* The CA certificate itself, served at /aia/<name>.crt (Last-Modified:
 * notBefore, at least floor; see cdp_lm_floor). */
void cdp_make_aia_entry(struct cdp_entry *e, const struct cdp_trust_ca *ca, pkl_time floor)
{
	pkl_time nb = 0;

	entry_init(e, CDP_AIA, ca->name, cdp_blob_ref(ca->der), ca->source);
	e->learned = ca->learned;
	if (ca->learned)
		e->loaded_at = ca->learned_at;
	if (pkl_time_from_asn1(X509_get0_notBefore(ca->cert), &nb) != PKL_OK)
		nb = 0;
	cdp_entry_set_times(e, nb > floor ? nb : floor, 0);
}

/* floor: see cdp_lm_floor(), computed before e is overwritten. */
void cdp_make_crl_entry(struct cdp_entry *e, const char *name, struct cdp_blob *b,
			const struct pkl_crlinfo *info, const char *source, pkl_time floor)
{
	entry_init(e, CDP_CRL, name, b, source);
	e->info = *info;
	cdp_entry_set_times(e, info->this_update > floor ? info->this_update : floor, info->next_update);
}

/* The slot for (kind, name) in a copy of n entries made with room for one
 * more: the existing entry, its bytes released for the caller to replace,
 * or a new one at the end (*n grows). */
size_t cdp_entry_slot(struct cdp_entry *entries, size_t *n, enum cdp_kind kind, const char *name)
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
 * problems found on disk (the catalog's notes are added again by cdp_catalog_publish). */
struct cdp_entry *cdp_copy_entries(const struct cdp_snapshot *s, size_t extra, struct cdp_problems *fatal)
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
			cdp_problem_add(fatal, s->problems[i].ca, s->problems[i].source, s->problems[i].msg,
					s->problems[i].fatal);
	return e;
}
