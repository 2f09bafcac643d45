/*
 * GET|HEAD /crl/<ca>.crl, and the entry-serving logic shared with /aia/.
 *
 * Caching headers follow standards.md #114/#115: Last-Modified = thisUpdate,
 * Expires = nextUpdate, Cache-Control: public, no-transform, max-age=N with N
 * no more than the time to nextUpdate and no more than the configured
 * re-publication interval, a strong ETag from a SHA-256 of the bytes (so every
 * mirror emits the same one). The body is the snapshot's own bytes: the
 * response holds a snapshot reference and drops it when MHD is done.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cdpd.h"

static void release_snapshot(void *cls)
{
	cdp_snapshot_release(cls);
}

/* RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only without it. */
static int not_modified(struct MHD_Connection *conn, const struct cdp_entry *e)
{
	const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *ims;
	pkl_time t;

	if (inm)
		return cdp_etag_match(inm, e->etag);
	ims = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	if (!ims || !e->last_modified)
		return 0;
	t = cdp_http_date_parse(ims);
	return t >= 0 && e->last_modified <= t;
}

static void add_cache_headers(struct MHD_Response *r, const struct cdp_ctx *ctx,
			      const struct cdp_entry *e, pkl_time now)
{
	char cc[96];
	int64_t max_age = ctx->cfg->max_age;

	if (e->expires) {
		int64_t left = e->expires - now;

		if (left < max_age)
			max_age = left > 0 ? left : 0;
	}
	snprintf(cc, sizeof(cc), "public, no-transform, max-age=%lld", (long long)max_age);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, e->etag);
	if (e->last_modified)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, e->last_modified_http);
	if (e->expires)
		MHD_add_response_header(r, MHD_HTTP_HEADER_EXPIRES, e->expires_http);
}

int cdp_serve_entry(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req,
		    enum cdp_kind kind, const char *name)
{
	struct cdp_snapshot *s = cdp_catalog_acquire(ctx->cat);
	const struct cdp_entry *e = cdp_snapshot_find(s, kind, name);
	struct MHD_Response *r;
	enum MHD_Result ret;
	pkl_time now = pkl_time_now();
	int status;

	if (!e) {
		cdp_snapshot_release(s);
		return cdp_reply_text(conn, req, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
				      "404 not found\n", 14);
	}
	if (not_modified(conn, e)) {
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_MODIFIED;
		req->bytes = 0;
	} else {
		int fd = e->body->fd >= 0 ? fcntl(e->body->fd, F_DUPFD_CLOEXEC, 3) : -1;

		if (fd >= 0) {
			/* Large bodies: sendfile() from the sealed memfd; MHD closes our
			 * duplicate, which keeps the bytes alive on its own. */
			r = MHD_create_response_from_fd_at_offset64(e->body->len, fd, 0);
			if (!r)
				close(fd);
		} else {
			/* The response owns one reference until MHD destroys it. */
			r = MHD_create_response_from_buffer_with_free_callback_cls(
				e->body->len, e->body->data, release_snapshot, cdp_snapshot_ref(s));
			if (!r)
				cdp_snapshot_release(s);
		}
		status = MHD_HTTP_OK;
		req->bytes = e->body->len;
	}
	if (!r) {
		cdp_snapshot_release(s);
		return MHD_NO;
	}
	if (status == MHD_HTTP_OK)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					kind == CDP_CRL ? "application/pkix-crl" : "application/pkix-cert");
	add_cache_headers(r, ctx, e, now);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	req->status = status;
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	cdp_snapshot_release(s);
	return ret;
}

int cdp_h_crl(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req,
	      const char *name, int head)
{
	(void)head; /* MHD sends headers only for HEAD, with the GET Content-Length */
	return cdp_serve_entry(ctx, conn, req, CDP_CRL, name);
}
