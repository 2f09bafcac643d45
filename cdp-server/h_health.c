/*
 * GET /healthz: 200 when cdp_health_json() (health.c) finds the server
 * healthy, 503 otherwise; the body is that JSON document either way.
 */
#include <microhttpd.h>

#include "cdpd.h"
#include "pkilab/buf.h"

int cdp_h_health(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, const char *name,
		 int head)
{
	struct cdp_snapshot *s = cdp_catalog_acquire(ctx->cat);
	struct pkl_buf b = PKL_BUF_INIT;
	int ok, ret;

	(void)name;
	(void)head;
	ok = cdp_health_json(ctx, s, pkl_time_now(), &b);
	cdp_snapshot_release(s);
	ret = cdp_reply_text(conn, req, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
			     b.data ? (const char *)b.data : "{}\n", b.data ? b.len : 3);
	pkl_buf_free(&b);
	return ret;
}
