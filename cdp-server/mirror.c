/*
 * Mirror mode: pull CA certificates and CRLs from peers and offer them to
 * the catalog, which judges them exactly like files from disk (signature by
 * a trusted CA, no rollback).
 *
 * Each round, per peer: /crl/<name>.crl for every CA the mirror trusts
 * (configured or learned); then the CA names the peer serves, read from its
 * /healthz ("cas"[].name), each /aia/<name>.crt fetched and offered to the
 * catalog, which learns it only if a configured trusted CA issued it and no
 * configured CA has that name (cdp_catalog_offer_ca): a peer can add an
 * intermediate below a trusted root, never a root or a CA of its own; then
 * the CRL of a CA learned just now. Each pull is a conditional GET (If-None-Match with the served
 * ETag), bounded in connection time, total time and size, over plain HTTP
 * without redirects or proxies. A mirror keeps serving what it has when
 * every peer is down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cdpd.h"
#include "pkilab/buf.h"

const char *const cdp_pull_outcomes[5] = { "accepted", "not_modified", "unchanged", "rejected", "error" };

struct cdp_mirror {
	const struct cdp_config *cfg;
	struct cdp_catalog *cat;
	pthread_t thread;
	pthread_mutex_t lock; /* guards peers, stop, wake */
	pthread_cond_t cond;
	atomic_int stop; /* also read by libcurl's progress callback, without the lock */
	int wake;
	struct cdp_peer_state peers[CDP_LIST_MAX];
	size_t n_peers;
	size_t ca_cursor[CDP_LIST_MAX]; /* mirror thread only: where CA discovery resumes */
};

struct sink {
	struct pkl_buf buf;
	size_t max;
	int too_big;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *cls)
{
	struct sink *s = cls;
	size_t n = sz * nm;

	if (s->buf.len + n > s->max) {
		s->too_big = 1;
		return 0; /* aborts the transfer */
	}
	if (pkl_buf_append(&s->buf, p, n) != PKL_OK)
		return 0;
	return n;
}

/* Aborts a transfer in progress when the server is stopping, so SIGTERM
 * never waits for a slow peer's mirror_timeout. */
static int on_progress(void *cls, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct cdp_mirror *m = cls;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(&m->stop) ? 1 : 0;
}

/* Bounds of CA discovery: the /healthz document, one CA certificate, and
 * the number of names taken from one peer per round. */
#define HEALTH_MAX (1L << 20)
#define CERT_MAX   (1L << 20)
#define NAMES_MAX  256

/* One conditional GET of at most max bytes. Returns the HTTP status, or -1
 * with err filled. */
static long fetch(struct cdp_mirror *m, CURL *h, const char *url, const char *etag, long max,
		  struct sink *out, char *err, size_t errlen)
{
	const struct cdp_config *cfg = m->cfg;
	struct curl_slist *hdrs = NULL;
	char ebuf[CURL_ERROR_SIZE] = "", inm[128];
	long status = -1;
	CURLcode rc;

	curl_easy_reset(h);
	out->buf.len = 0;
	out->too_big = 0;
	out->max = (size_t)max;
	if (etag && *etag) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
		hdrs = curl_slist_append(hdrs, inm);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(cfg->mirror_timeout * 1000 < 3000 ? cfg->mirror_timeout * 1000 : 3000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->mirror_timeout * 1000);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pkilab-cdpd-mirror/" PKL_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, (char *)NULL); /* DER, byte for byte */
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, m);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	} else if (out->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		if (max == cfg->mirror_max_size)
			snprintf(err, errlen, "larger than mirror_max_size (%ld bytes)", max);
		else
			snprintf(err, errlen, "larger than %ld bytes", max);
	} else {
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdrs);
	return status;
}

static void peer_update(struct cdp_mirror *m, size_t i, int outcome, int reached, const char *msg)
{
	struct cdp_peer_state *p = &m->peers[i];

	pthread_mutex_lock(&m->lock);
	p->pulls[outcome]++;
	p->last_try = pkl_time_now();
	p->up = reached;
	if (reached)
		p->last_ok = p->last_try;
	if (outcome <= CDP_PULL_UNCHANGED)
		p->last_error[0] = '\0'; /* the peer is fine again: old trouble is in the log */
	if (msg) {
		size_t n = strlen(msg);

		if (n >= sizeof(p->last_error))
			n = sizeof(p->last_error) - 1;
		memcpy(p->last_error, msg, n);
		p->last_error[n] = '\0';
	}
	pthread_mutex_unlock(&m->lock);
}

/* Peer pi could not be reached at url: its state, a note the status page
 * and /healthz show, and a warning. */
static void peer_down(struct cdp_mirror *m, size_t pi, const char *url, const char *msg)
{
	peer_update(m, pi, CDP_PULL_ERROR, 0, msg);
	cdp_catalog_note(m->cat, "", m->cfg->mirror[pi], msg);
	pkl_log(PKL_LOG_WARN, "mirror: %s: %s", url, msg);
}

/* The peer's CA names from its /healthz JSON into names (at most max).
 * Returns the count, or -1 when the peer could not be reached (msg set). */
static int discover(struct cdp_mirror *m, CURL *h, size_t pi, struct sink *sk, char names[][CDP_NAME_MAX + 1],
		    int max, char *msg, size_t msglen)
{
	const char *base = m->cfg->mirror[pi];
	char url[512], err[CURL_ERROR_SIZE + 64];
	json_error_t je;
	json_t *doc, *cas, *o;
	size_t i;
	long st;
	int n = 0;

	snprintf(url, sizeof(url), "%s/healthz", base);
	err[0] = '\0';
	st = fetch(m, h, url, NULL, HEALTH_MAX, sk, err, sizeof(err));
	if (st < 0) {
		snprintf(msg, msglen, "peer unreachable: %s", err);
		return -1;
	}
	/* 503 is a peer with a problem, and still a list of what it serves. */
	if (st != 200 && st != 503) {
		pkl_log(PKL_LOG_DEBUG, "mirror: %s: HTTP %ld: no CA discovery", url, st);
		return 0;
	}
	doc = json_loadb((const char *)sk->buf.data, sk->buf.len, JSON_REJECT_DUPLICATES, &je);
	cas = doc ? json_object_get(doc, "cas") : NULL;
	if (!json_is_array(cas)) {
		snprintf(msg, msglen, "no CA list in its /healthz (%s)", doc ? "no \"cas\" array" : je.text);
		cdp_catalog_note(m->cat, "", url, msg);
		msg[0] = '\0';
		json_decref(doc);
		return 0;
	}
	cdp_catalog_note(m->cat, "", url, NULL);
	json_array_foreach(cas, i, o)
	{
		const char *nm = json_string_value(json_object_get(o, "name"));

		if (n >= max)
			break;
		/* An invalid name is never asked for: it could not be a URL path of ours. */
		if (!nm || !cdp_name_valid(nm, strlen(nm)))
			continue;
		snprintf(names[n++], CDP_NAME_MAX + 1, "%s", nm);
	}
	json_decref(doc);
	return n;
}

/* Fetches the CA certificates a peer serves and offers each to the catalog.
 * Returns how many were learned, or -1 when the peer could not be reached. */
static int pull_cas(struct cdp_mirror *m, CURL *h, size_t pi, struct sink *sk)
{
	const char *base = m->cfg->mirror[pi];
	char(*names)[CDP_NAME_MAX + 1] = calloc(NAMES_MAX, sizeof(*names));
	char url[512], err[CURL_ERROR_SIZE + 64], msg[1200];
	struct cdp_snapshot *s = NULL;
	struct timespec t0, t1;
	int n, j, k, start, down = 0, learned = 0;

	if (!names)
		return 0;
	msg[0] = '\0';
	n = discover(m, h, pi, sk, names, NAMES_MAX, msg, sizeof(msg));
	if (n < 0) {
		snprintf(url, sizeof(url), "%s/healthz", base);
		peer_down(m, pi, url, msg);
		down = 1;
		goto out;
	}
	cdp_catalog_note(m->cat, "", base, NULL);
	s = cdp_catalog_acquire(m->cat);
	/* A peer listing many names and answering each slowly must not hold
	 * the CRL pulls of every peer back: the CA phase gets about one
	 * mirror_timeout per round, and the next round resumes where it stopped. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	start = n ? (int)(m->ca_cursor[pi] % (size_t)n) : 0;
	for (j = 0; j < n; j++) {
		const struct cdp_entry *a;
		struct pkl_err e = { 0 };
		enum cdp_verdict v;
		long st;

		k = (start + j) % n;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (j > 0 && t1.tv_sec - t0.tv_sec >= m->cfg->mirror_timeout) {
			m->ca_cursor[pi] = (size_t)k;
			pkl_log(PKL_LOG_DEBUG,
				"mirror: %s: CA certificates: %d of %d left for the next round", base, n - j,
				n);
			break;
		}
		a = cdp_snapshot_find(s, CDP_AIA, names[k]);
		snprintf(url, sizeof(url), "%s/aia/%s.crt", base, names[k]);
		err[0] = '\0';
		st = fetch(m, h, url, a ? a->etag : NULL, CERT_MAX, sk, err, sizeof(err));
		if (st < 0) {
			snprintf(msg, sizeof(msg), "peer unreachable: %s", err);
			peer_down(m, pi, url, msg);
			down = 1;
			break;
		}
		if (st == 304) {
			peer_update(m, pi, CDP_PULL_NOT_MODIFIED, 1, NULL);
			cdp_catalog_note(m->cat, names[k], url, NULL);
			continue;
		}
		if (st != 200) {
			snprintf(msg, sizeof(msg), "HTTP %ld", st);
			peer_update(m, pi, CDP_PULL_ERROR, 1, msg);
			if (cdp_catalog_note(m->cat, names[k], url, msg))
				pkl_log(PKL_LOG_WARN, "mirror: %s: %s", url, msg);
			continue;
		}
		v = cdp_catalog_offer_ca(m->cat, names[k], sk->buf.data, sk->buf.len, url, &e);
		if (v == CDP_ACCEPT)
			learned++;
		if (v == CDP_ACCEPT || v == CDP_SAME) {
			peer_update(m, pi, v == CDP_ACCEPT ? CDP_PULL_ACCEPTED : CDP_PULL_UNCHANGED, 1, NULL);
			cdp_catalog_note(m->cat, names[k], url, NULL);
			continue;
		}
		/* Refused again every round while the peer offers it: logged once
		 * (and again when the reason changes), always in /healthz. */
		snprintf(msg, sizeof(msg), "CA certificate refused (%s): %s", cdp_verdict_name(v), e.msg);
		peer_update(m, pi, CDP_PULL_REJECTED, 1, msg);
		pkl_log(cdp_catalog_note(m->cat, names[k], url, msg) ? PKL_LOG_WARN : PKL_LOG_DEBUG,
			"mirror: %s: %s", url, msg);
	}
out:
	cdp_snapshot_release(s);
	free(names);
	return down ? -1 : learned;
}

/* Pulls the CRL of every trusted CA (configured or learned) from one peer;
 * with missing_only, of those that have none in service. Returns 1 when the
 * peer could not be reached at all. */
static int pull_crls(struct cdp_mirror *m, CURL *h, size_t pi, struct sink *sk, int missing_only)
{
	const struct cdp_config *cfg = m->cfg;
	const char *base = cfg->mirror[pi];
	struct cdp_snapshot *s = cdp_catalog_acquire(m->cat);
	char url[512], err[CURL_ERROR_SIZE + 64], msg[1200];
	size_t i;
	int down = 0;

	for (i = 0; i < s->n_entries && !down; i++) {
		const struct cdp_entry *a = &s->entries[i], *c;
		struct pkl_err e = { 0 };
		enum cdp_verdict v;
		long st;

		if (a->kind != CDP_AIA)
			continue;
		c = cdp_snapshot_find(s, CDP_CRL, a->name);
		if (c && missing_only)
			continue;
		snprintf(url, sizeof(url), "%s/crl/%s.crl", base, a->name);
		err[0] = '\0';
		st = fetch(m, h, url, c ? c->etag : NULL, cfg->mirror_max_size, sk, err, sizeof(err));
		if (st < 0) {
			snprintf(msg, sizeof(msg), "peer unreachable: %s", err);
			peer_down(m, pi, url, msg);
			down = 1; /* no point asking a dead peer for the next CA */
			continue;
		}
		cdp_catalog_note(m->cat, "", base, NULL);
		if (st == 304) {
			peer_update(m, pi, CDP_PULL_NOT_MODIFIED, 1, NULL);
			cdp_catalog_note(m->cat, a->name, url, NULL);
			continue;
		}
		if (st != 200) {
			snprintf(msg, sizeof(msg), "HTTP %ld", st);
			peer_update(m, pi, CDP_PULL_ERROR, 1, msg);
			cdp_catalog_note(m->cat, a->name, url, msg);
			pkl_log(PKL_LOG_WARN, "mirror: %s: %s", url, msg);
			continue;
		}
		v = cdp_catalog_offer_crl(m->cat, a->name, sk->buf.data, sk->buf.len, url, &e);
		if (v == CDP_ACCEPT) {
			peer_update(m, pi, CDP_PULL_ACCEPTED, 1, NULL);
		} else if (v == CDP_SAME) {
			peer_update(m, pi, CDP_PULL_UNCHANGED, 1, NULL);
		} else {
			snprintf(msg, sizeof(msg), "refused (%s): %s", cdp_verdict_name(v), e.msg);
			peer_update(m, pi, CDP_PULL_REJECTED, 1, msg);
			cdp_catalog_note(m->cat, a->name, url, msg);
			pkl_log(PKL_LOG_WARN, "mirror: %s: %s", url, msg);
		}
	}
	cdp_snapshot_release(s);
	return down;
}

/* One round with one peer: the CRLs of the CAs this instance trusts, then
 * the CA certificates the peer serves, then the CRL of any CA just learned
 * (so it is served within the same round). Returns 1 when the peer could
 * not be reached at all. */
static int pull_peer(struct cdp_mirror *m, CURL *h, size_t pi, struct sink *sk)
{
	int learned;

	if (pull_crls(m, h, pi, sk, 0))
		return 1;
	learned = pull_cas(m, h, pi, sk);
	if (learned < 0)
		return 1;
	return learned > 0 ? pull_crls(m, h, pi, sk, 1) : 0;
}

static void *mirror_main(void *arg)
{
	struct cdp_mirror *m = arg;
	struct sink sk = { PKL_BUF_INIT, 0, 0 };
	CURL *h = curl_easy_init();
	struct timespec until;
	size_t i;
	long retry = 1; /* seconds; doubles while a peer stays unreachable */

	if (!h) {
		pkl_log(PKL_LOG_ERROR, "mirror: cannot initialise libcurl: not mirroring");
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->stop)) {
		m->wake = 0;
		pthread_mutex_unlock(&m->lock);
		int unreachable = 0, reached = 0;
		for (i = 0; i < m->n_peers; i++) {
			int down = pull_peer(m, h, i, &sk);

			unreachable |= down;
			reached |= !down;
			if (atomic_load(&m->stop))
				goto out;
		}
		/* Until a pull has reached a peer, a CA without a CRL is waiting
		 * for it, not an error (README, "Mirror mode"). */
		if (reached)
			cdp_catalog_pulled(m->cat);
		/* A peer that is down (or not up yet: a mirror started with its
		 * primary) is asked again after 1, 2, 4 ... s, not a whole interval. */
		long wait = m->cfg->mirror_interval;
		if (unreachable && retry < wait) {
			wait = retry;
			retry *= 2;
		} else if (!unreachable) {
			retry = 1;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait;
		pthread_mutex_lock(&m->lock);
		while (!atomic_load(&m->stop) && !m->wake)
			if (pthread_cond_timedwait(&m->cond, &m->lock, &until) != 0)
				break;
	}
	pthread_mutex_unlock(&m->lock);
out:
	pkl_buf_free(&sk.buf);
	curl_easy_cleanup(h);
	return NULL;
}

struct cdp_mirror *cdp_mirror_start(const struct cdp_config *cfg, struct cdp_catalog *cat,
				    struct pkl_err *err)
{
	struct cdp_mirror *m;
	size_t i;

	if (!cfg->n_mirror)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		pkl_err_set(err, PKL_ERUNTIME, "", "out of memory");
		return NULL;
	}
	m->cfg = cfg;
	m->cat = cat;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	for (i = 0; i < cfg->n_mirror; i++)
		snprintf(m->peers[i].url, sizeof(m->peers[i].url), "%s", cfg->mirror[i]);
	m->n_peers = cfg->n_mirror;
	if (pthread_create(&m->thread, NULL, mirror_main, m) != 0) {
		pkl_err_sys(err, "", "cannot start the mirror thread");
		pthread_mutex_destroy(&m->lock);
		pthread_cond_destroy(&m->cond);
		free(m);
		return NULL;
	}
	pkl_log(PKL_LOG_INFO, "mirroring %zu peer(s) every %llds: waiting for the first pull", m->n_peers,
		(long long)cfg->mirror_interval);
	return m;
}

void cdp_mirror_wake(struct cdp_mirror *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->wake = 1;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

void cdp_mirror_stop(struct cdp_mirror *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	atomic_store(&m->stop, 1);
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

size_t cdp_mirror_peers(struct cdp_mirror *m, struct cdp_peer_state *out, size_t max)
{
	size_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->n_peers < max ? m->n_peers : max;
	memcpy(out, m->peers, n * sizeof(*out));
	pthread_mutex_unlock(&m->lock);
	return n;
}
