/*
 * Serving helpers shared by the handlers: an entry of the snapshot (/crl/,
 * /aia/) with its caching headers and conditional requests, and small text
 * replies.
 *
 * Caching headers (docs/crl-publication.md, "HTTP caching", after the
 * RFC 5019 §6 model for OCSP): Last-Modified = thisUpdate,
 * Expires = nextUpdate, Cache-Control: public, no-transform, max-age=N with N
 * no more than the time to nextUpdate and no more than the configured
 * re-publication interval, a strong ETag from a SHA-256 of the bytes (so every
 * mirror emits the same one). The body is the snapshot's own bytes (or its
 * memfd for sendfile): a response holds a reference to them until MHD is
 * done, so a catalog swap never frees bytes in flight. In the steady state
 * (max-age at its configured cap) the responses are built once per snapshot
 * and shared: a request costs a lookup and MHD_queue_response.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cdpd.h"

/* RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only without it. */
static int not_modified(struct MHD_Connection *conn, const struct cdp_entry *e, pkl_time now)
{
	const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *ims;
	pkl_time t;

	if (inm)
		return cdp_etag_match(inm, e->etag);
	ims = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	if (!ims || !e->last_modified)
		return 0;
	t = cdp_http_date_parse(ims);
	/* A date later than our clock is no Last-Modified we sent (we never
	 * send one later than Date): it proves nothing about the client's
	 * bytes, so it is ignored (RFC 9110 §13.1.3 evaluates against dates the
	 * origin generated; RFC 2616 §14.25 called such a date invalid). */
	return t >= 0 && t <= now && e->last_modified <= t;
}

static void release_blob(void *cls)
{
	cdp_blob_unref(cls);
}

/* A response for entry e with status 200 or 304 and its caching headers.
 * A 200's body is the blob's memfd (sendfile) when it has one, else the
 * blob's bytes, kept alive by a blob reference owned by the response. */
static struct MHD_Response *build(const struct cdp_ctx *ctx, const struct cdp_entry *e, int status,
				  int64_t max_age, pkl_time now)
{
	struct MHD_Response *r = NULL;
	char cc[96];

	if (status == MHD_HTTP_NOT_MODIFIED) {
		/* RFC 9110 §8.6: a 304 carries no Content-Length, or the one the
		 * 200 would have. MHD 0.9.75 always writes the response's size
		 * and never sends a body with a 304, so the 304 is given the 200's
		 * bytes (a blob reference, never read): "Content-Length: 0" was
		 * the length of an empty stand-in. */
		r = MHD_create_response_from_buffer_with_free_callback_cls(
			e->body->len, e->body->data, release_blob, cdp_blob_ref(e->body));
		if (!r)
			cdp_blob_unref(e->body);
	} else {
		int fd = e->body->fd >= 0 ? fcntl(e->body->fd, F_DUPFD_CLOEXEC, 3) : -1;

		if (fd >= 0) {
			/* MHD closes our duplicate, which keeps the bytes alive on its own. */
			r = MHD_create_response_from_fd_at_offset64(e->body->len, fd, 0);
			if (!r)
				close(fd);
		} else {
			r = MHD_create_response_from_buffer_with_free_callback_cls(
				e->body->len, e->body->data, release_blob, cdp_blob_ref(e->body));
			if (!r)
				cdp_blob_unref(e->body);
		}
	}
	if (!r)
		return NULL;
	if (status == MHD_HTTP_OK)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					e->kind == CDP_CRL ? "application/pkix-crl" :
							     "application/pkix-cert");
	snprintf(cc, sizeof(cc), "public, no-transform, max-age=%lld", (long long)max_age);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, e->etag);
	/* RFC 9110 §8.8.2.1: never a Last-Modified later than Date (a date
	 * moved forward past the clock waits for it; see cdp_lm_floor). */
	if (e->last_modified && e->last_modified <= now)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, e->last_modified_http);
	if (e->expires)
		MHD_add_response_header(r, MHD_HTTP_HEADER_EXPIRES, e->expires_http);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	(void)ctx;
	return r;
}

/* Why the CRL of a CA this server knows (its certificate is served under
 * /aia/) is not served: the fatal problem recorded for it, or NULL. A client
 * then gets 503 and the reason instead of a 404 that reads "publish it at
 * this path" (RFC 9110 15.6.4: the server cannot serve it for now). */
static const char *refused_crl(const struct cdp_snapshot *s, const char *name)
{
	if (!cdp_snapshot_find(s, CDP_AIA, name))
		return NULL;
	for (size_t i = 0; i < s->n_problems; i++)
		if (s->problems[i].fatal && !strcmp(s->problems[i].ca, name))
			return s->problems[i].msg;
	return NULL;
}

int cdp_serve_entry(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, enum cdp_kind kind,
		    const char *name)
{
	/* Pinned, not referenced: the responses hold references to the bytes. */
	const struct cdp_snapshot *s = cdp_catalog_pin(ctx->cat);
	struct cdp_entry *e = (struct cdp_entry *)cdp_snapshot_find(s, kind, name);
	struct MHD_Response *r;
	enum MHD_Result ret;
	int64_t max_age = ctx->cfg->max_age;
	pkl_time now = pkl_time_now();
	int status, slot, cacheable = 1;

	if (!s)
		return cdp_reply_text(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
				      "503 out of memory\n", 18);
	if (!e) {
		char body[600];
		const char *why = kind == CDP_CRL ? refused_crl(s, name) : NULL;
		int n;

		if (!why)
			return cdp_reply_text(conn, req, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
					      "404 not found\n", 14);
		n = snprintf(body, sizeof(body), "503 this CRL is not served: %s\n", why);
		return cdp_reply_text(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
				      body, n > 0 && (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1);
	}
	/* Not yet sendable Last-Modified: no shared response without it. */
	if (e->last_modified > now)
		cacheable = 0;
	if (e->expires) {
		int64_t left = e->expires - now;

		/* Near nextUpdate the max-age shrinks every second: no caching then. */
		if (left < max_age) {
			max_age = left > 0 ? left : 0;
			cacheable = 0;
		}
	}
	status = not_modified(conn, e, now) ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
	slot = status == MHD_HTTP_OK ? 0 : 1;
	req->status = status;
	req->bytes = status == MHD_HTTP_OK ? e->body->len : 0;
	if (cacheable) {
		r = atomic_load_explicit(&e->cached[slot], memory_order_acquire);
		if (!r) {
			void *expected = NULL;

			r = build(ctx, e, status, max_age, now);
			if (!r)
				return MHD_NO;
			/* Two threads may race to fill the slot: the loser uses the winner's. */
			if (!atomic_compare_exchange_strong(&e->cached[slot], &expected, (void *)r)) {
				MHD_destroy_response(r);
				r = expected;
			}
		}
		/* MHD takes its own reference; the snapshot keeps the cached one. */
		ret = MHD_queue_response(conn, (unsigned)status, r);
	} else {
		r = build(ctx, e, status, max_age, now);
		if (!r)
			return MHD_NO;
		ret = MHD_queue_response(conn, (unsigned)status, r);
		MHD_destroy_response(r);
	}
	return ret;
}

int cdp_reply(struct MHD_Connection *conn, struct cdp_req *req, int status, const char *ctype,
	      const char *body, size_t len, int close)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
		char allow[32];

		cdp_route_allow(req->route, allow);
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	}
	/* MHD 0.9.75 closes the connection after a response that says so. */
	if (close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	req->status = status;
	req->bytes = len;
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

int cdp_reply_text(struct MHD_Connection *conn, struct cdp_req *req, int status, const char *ctype,
		   const char *body, size_t len)
{
	return cdp_reply(conn, req, status, ctype, body, len, 0);
}
