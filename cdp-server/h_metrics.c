/*
 * GET /metrics: Prometheus text exposition format 0.0.4. Per CA: CRL
 * number, thisUpdate, nextUpdate, seconds left, revoked count, bytes, and
 * whether the CA certificate was learned from a peer; per route and status:
 * requests; per peer and outcome: mirror pulls; per worker thread: open
 * connections; plus health and catalog state, so an alert can fire before a
 * CRL goes stale.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "cdpd.h"
#include "pkilab/buf.h"

/* Label values: escape backslash, quote and newline (the format's rules). */
static const char *label(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static void crl_gauge(struct pkl_buf *b, const struct cdp_snapshot *s, const char *metric, const char *help,
		      int which, pkl_time now)
{
	size_t i;

	pkl_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
	for (i = 0; i < s->n_entries; i++) {
		const struct cdp_entry *e = &s->entries[i];
		char v[64];

		if (e->kind != CDP_CRL)
			continue;
		switch (which) {
		case 0: /* the number may exceed a double's precision; the text stays exact */
			snprintf(v, sizeof(v), "%s", e->info.number[0] ? e->info.number : "0");
			if (strlen(v) > 15)
				snprintf(v, sizeof(v), "%.6e", strtod(e->info.number, NULL));
			break;
		case 1: snprintf(v, sizeof(v), "%lld", (long long)e->info.this_update); break;
		case 2: snprintf(v, sizeof(v), "%lld", (long long)e->info.next_update); break;
		case 3: snprintf(v, sizeof(v), "%lld", (long long)(e->info.next_update - now)); break;
		case 4: snprintf(v, sizeof(v), "%zu", e->info.revoked); break;
		default: snprintf(v, sizeof(v), "%zu", e->body->len); break;
		}
		pkl_buf_printf(b, "%s{ca=\"%s\"} %s\n", metric, e->name, v);
	}
}

int cdp_h_metrics(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, const char *name,
		  int head)
{
	struct cdp_snapshot *s = cdp_catalog_acquire(ctx->cat);
	struct pkl_buf b = PKL_BUF_INIT, h = PKL_BUF_INIT;
	pkl_time now = pkl_time_now();
	size_t i, r, k;
	int healthy, ret;
	char l1[600];

	(void)name;
	(void)head;
	healthy = cdp_health_json(ctx, s, now, &h);
	pkl_buf_free(&h);
	crl_gauge(&b, s, "pkilab_cdpd_crl_number", "CRL number of the CRL in service", 0, now);
	crl_gauge(&b, s, "pkilab_cdpd_crl_this_update_seconds", "thisUpdate (Unix time)", 1, now);
	crl_gauge(&b, s, "pkilab_cdpd_crl_next_update_seconds", "nextUpdate (Unix time)", 2, now);
	crl_gauge(&b, s, "pkilab_cdpd_crl_seconds_left", "seconds until nextUpdate", 3, now);
	crl_gauge(&b, s, "pkilab_cdpd_crl_revoked", "revoked certificates listed", 4, now);
	crl_gauge(&b, s, "pkilab_cdpd_crl_bytes", "DER size of the CRL", 5, now);
	/* A separate gauge, so the labels of the CRL metrics stay what they were. */
	pkl_buf_printf(&b, "# HELP pkilab_cdpd_ca_learned 1 when the CA certificate was learned from a peer, "
			   "0 when configured\n"
			   "# TYPE pkilab_cdpd_ca_learned gauge\n");
	for (i = 0; i < s->n_entries; i++)
		if (s->entries[i].kind == CDP_AIA)
			pkl_buf_printf(&b, "pkilab_cdpd_ca_learned{ca=\"%s\"} %d\n", s->entries[i].name,
				       s->entries[i].learned ? 1 : 0);
	pkl_buf_printf(&b, "# HELP pkilab_cdpd_requests_total HTTP requests by route and status\n"
			   "# TYPE pkilab_cdpd_requests_total counter\n");
	for (r = 0; r < CDP_R_COUNT; r++)
		for (k = 0; k < 8; k++) {
			unsigned long n = atomic_load_explicit(&ctx->stats.req[r][k], memory_order_relaxed);
			char st[16];

			if (!n && !(k == 0 && r < CDP_R_NONE))
				continue;
			if (k < 7)
				snprintf(st, sizeof(st), "%d", cdp_status_codes[k]);
			else
				snprintf(st, sizeof(st), "other");
			pkl_buf_printf(&b, "pkilab_cdpd_requests_total{route=\"%s\",status=\"%s\"} %lu\n",
				       r == CDP_R_NONE ? "none" : cdp_route_label((enum cdp_route_id)r), st,
				       n);
		}
	if (ctx->mirror) {
		struct cdp_peer_state ps[CDP_LIST_MAX];
		size_t n = cdp_mirror_peers(ctx->mirror, ps, CDP_LIST_MAX);

		pkl_buf_printf(&b, "# HELP pkilab_cdpd_mirror_pulls_total pulls from peers by outcome\n"
				   "# TYPE pkilab_cdpd_mirror_pulls_total counter\n");
		for (i = 0; i < n; i++)
			for (k = 0; k < 5; k++)
				pkl_buf_printf(
					&b,
					"pkilab_cdpd_mirror_pulls_total{peer=\"%s\",outcome=\"%s\"} %lu\n",
					label(ps[i].url, l1, sizeof(l1)), cdp_pull_outcomes[k],
					ps[i].pulls[k]);
		pkl_buf_printf(&b, "# HELP pkilab_cdpd_peer_up 1 when the last pull reached the peer\n"
				   "# TYPE pkilab_cdpd_peer_up gauge\n");
		for (i = 0; i < n; i++)
			pkl_buf_printf(&b, "pkilab_cdpd_peer_up{peer=\"%s\"} %d\n",
				       label(ps[i].url, l1, sizeof(l1)), ps[i].up);
	}
	{
		size_t fatal = 0, warn = 0;

		for (i = 0; i < s->n_problems; i++)
			s->problems[i].fatal ? fatal++ : warn++;
		pkl_buf_printf(&b,
			       "# HELP pkilab_cdpd_healthy 1 when /healthz answers 200\n"
			       "# TYPE pkilab_cdpd_healthy gauge\npkilab_cdpd_healthy %d\n"
			       "# HELP pkilab_cdpd_problems refused files and other failures\n"
			       "# TYPE pkilab_cdpd_problems gauge\npkilab_cdpd_problems %zu\n"
			       "# HELP pkilab_cdpd_warnings peer trouble and other warnings\n"
			       "# TYPE pkilab_cdpd_warnings gauge\npkilab_cdpd_warnings %zu\n"
			       "# HELP pkilab_cdpd_catalog_generation snapshots built since start\n"
			       "# TYPE pkilab_cdpd_catalog_generation counter\n"
			       "pkilab_cdpd_catalog_generation %llu\n"
			       "# HELP pkilab_cdpd_reloads_total catalog reloads from disk\n"
			       "# TYPE pkilab_cdpd_reloads_total counter\npkilab_cdpd_reloads_total %lu\n"
			       "# HELP pkilab_cdpd_start_time_seconds process start (Unix time)\n"
			       "# TYPE pkilab_cdpd_start_time_seconds gauge\n"
			       "pkilab_cdpd_start_time_seconds %lld\n",
			       healthy, fatal, warn, (unsigned long long)s->generation,
			       cdp_catalog_reloads(ctx->cat), (long long)ctx->started);
	}
	if (ctx->server) {
		long conns[256];
		size_t w, nw = cdp_server_worker_conns(ctx->server, conns, 256);

		pkl_buf_printf(&b,
			       "# HELP pkilab_cdpd_worker_connections open connections per worker thread\n"
			       "# TYPE pkilab_cdpd_worker_connections gauge\n");
		for (w = 0; w < nw; w++)
			pkl_buf_printf(&b, "pkilab_cdpd_worker_connections{worker=\"%zu\"} %ld\n", w,
				       conns[w]);
	}
	cdp_snapshot_release(s);
	ret = cdp_reply_text(conn, req, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			     b.data ? (const char *)b.data : "", b.len);
	pkl_buf_free(&b);
	return ret;
}
