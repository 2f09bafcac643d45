/*
 * The catalog's parts, shared by snapshot.c (the immutable snapshot and its
 * entries), trust.c (the trust set and learned CAs) and catalog.c (the
 * catalog, its reload and the rollback marks); nothing else includes this.
 * The server's view of the catalog is in cdpd.h.
 */
#ifndef CDP_CATALOG_H
#define CDP_CATALOG_H

#include "cdpd.h"

/* A CA certificate the catalog serves and judges CRLs with. */
struct cdp_trust_ca {
	char name[CDP_NAME_MAX + 1];
	X509 *cert;
	struct cdp_blob *der;
	char source[CDP_SOURCE_MAX];
	int learned; /* from a peer, not configured */
	pkl_time learned_at;
};

/* A growing list of problems (cdp_problem_add). */
struct cdp_problems {
	struct cdp_problem *v;
	size_t n, cap;
};

/* The catalog (catalog.c): the current snapshot, the trust set it was
 * built from, and what survives a rebuild (learned CAs, notes, marks). */
struct cdp_catalog {
	const struct cdp_config *cfg;
	pthread_mutex_t cur_lock; /* guards `cur` only: held for a pointer copy and an increment */
	struct cdp_snapshot *cur;
	pthread_mutex_t build_lock; /* serialises rebuilds (main thread, mirror thread) */
	struct cdp_trust_ca *cas;   /* the configured trust set, then the learned CAs */
	size_t n_cas;
	struct cdp_trust_ca *learned; /* CAs learned from peers: survive reloads */
	size_t n_learned;
	struct cdp_problems notes; /* warnings about peers, kept across reloads */
	uint64_t generation;
	atomic_ulong reloads;
	atomic_ullong published; /* generation of `cur`, readable without the lock */
	pthread_key_t pin_key;   /* each worker thread's pinned snapshot */
	struct cdp_state *state; /* high-water marks (state_dir), or NULL; under build_lock */
	int awaiting_pull;       /* a mirror before its first pull reached a peer; under build_lock */
};

/* ---- snapshots and entries (snapshot.c) ---- */

/* The order of a snapshot's entries: by (kind, name), as cdp_snapshot_find expects. */
int cdp_entry_cmp(const void *a, const void *b);
/* Appends a problem (copied, cut to fit); dropped when out of memory. */
void cdp_problem_add(struct cdp_problems *p, const char *ca, const char *source, const char *msg, int fatal);
/* Removes every problem recorded under source. */
void cdp_problem_remove(struct cdp_problems *p, const char *source);
/* The least Last-Modified for bytes replacing pred (NULL: none known). */
pkl_time cdp_lm_floor(const struct cdp_entry *pred);
/* Sets Last-Modified and Expires (0: none), with their HTTP-dates. */
void cdp_entry_set_times(struct cdp_entry *e, pkl_time lm, pkl_time exp);
/* The entry serving ca's certificate at /aia/ (takes a blob reference). */
void cdp_make_aia_entry(struct cdp_entry *e, const struct cdp_trust_ca *ca, pkl_time floor);
/* The entry serving a CRL at /crl/ (takes over b's reference). */
void cdp_make_crl_entry(struct cdp_entry *e, const char *name, struct cdp_blob *b,
			const struct pkl_crlinfo *info, const char *source, pkl_time floor);
/* The slot of (kind, name) in entries (its bytes released), or a new one
 * at the end (*n grows). */
size_t cdp_entry_slot(struct cdp_entry *entries, size_t *n, enum cdp_kind kind, const char *name);
/* s's entries, with blob references and room for extra more; its problems
 * found on disk are added to fatal. NULL when out of memory. */
struct cdp_entry *cdp_copy_entries(const struct cdp_snapshot *s, size_t extra, struct cdp_problems *fatal);

/* ---- the trust set and learned CAs (trust.c) ---- */

/* Loads the configured trust set (or every publish dir's aia/) into *v, *n. */
void cdp_trust_load(const struct cdp_config *cfg, struct cdp_trust_ca **v, size_t *n,
		    struct cdp_problems *pr);
void cdp_trust_free(struct cdp_trust_ca *v, size_t n);
/* The CA named name in v, or NULL. */
const struct cdp_trust_ca *cdp_trust_find(const struct cdp_trust_ca *v, size_t n, const char *name);
/* Keeps in *v the configured CAs served before and missing now (build_lock held). */
void cdp_keep_last_good_cas(struct cdp_catalog *cat, struct cdp_trust_ca **v, size_t *n,
			    struct cdp_problems *pr);
/* Appends the learned CAs still issued by a configured CA of *v (build_lock held). */
void cdp_merge_learned(struct cdp_catalog *cat, struct cdp_trust_ca **v, size_t *n);

/* ---- the catalog (catalog.c) ---- */

/* Publishes a snapshot of entries (blob references taken over) and problems
 * (copied), with the catalog's notes; build_lock held. */
void cdp_catalog_publish(struct cdp_catalog *cat, struct cdp_entry *entries, size_t n,
			 const struct cdp_problems *fatal);
/* Why a trusted CA has no CRL in service: "no valid CRL to serve", or, on a
 * mirror whose first pull has not reached a peer yet, CDP_AWAITING_PULL
 * (not an error yet: the CRL is expected from the peers). build_lock held. */
#define CDP_AWAITING_PULL "no CRL yet: waiting for the first pull"
const char *cdp_catalog_no_crl_msg(const struct cdp_catalog *cat);

#endif
