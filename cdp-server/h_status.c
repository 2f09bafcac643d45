/*
 * GET /: the state of the PKI at a glance, in plain HTML that needs no
 * JavaScript (a text browser or `curl` over SSH is enough): per CA the CRL
 * number, age, time left, size, revoked count and where it came from, and
 * whether the CA certificate is configured or was learned from a peer (from
 * which URL, when); each peer's state; every problem in words.
 */
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "cdpd.h"
#include "pkilab/buf.h"

static const char *esc(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 7 < len; s++) {
		const char *r = *s == '<' ? "&lt;" :
				*s == '>' ? "&gt;" :
				*s == '&' ? "&amp;" :
				*s == '"' ? "&quot;" :
					    NULL;

		if (r) {
			memcpy(out + o, r, strlen(r));
			o += strlen(r);
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

int cdp_h_status(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, const char *name,
		 int head)
{
	struct cdp_snapshot *s = cdp_catalog_acquire(ctx->cat);
	struct pkl_buf b = PKL_BUF_INIT, h = PKL_BUF_INIT;
	pkl_time now = pkl_time_now();
	char t1[32], t2[32], d1[32], d2[32], e1[1400], e2[1400], from[1600];
	size_t i;
	int healthy, ret;

	(void)name;
	(void)head;
	healthy = cdp_health_json(ctx, s, now, &h);
	pkl_buf_free(&h);
	pkl_buf_printf(&b,
		       "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pkilab-cdpd</title>\n"
		       "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
		       "td,th{border:1px solid #999;padding:.3em .6em;text-align:left}"
		       ".ok{color:#060}.bad{color:#a00;font-weight:bold}.learned{font-style:italic}</style></"
		       "head><body>\n"
		       "<h1>pkilab-cdpd</h1>\n<p>Health: <span class=\"%s\">%s</span> &middot; now %s"
		       " &middot; catalog generation %llu &middot; <a href=\"/healthz\">/healthz</a>"
		       " &middot; <a href=\"/metrics\">/metrics</a></p>\n",
		       healthy ? "ok" : "bad", healthy ? "OK" : "FAILING", pkl_time_fmt(now, t1, sizeof(t1)),
		       (unsigned long long)s->generation);
	pkl_buf_printf(&b, "<h2>Certificate authorities</h2>\n<table>\n<tr><th>CA</th><th>CRL</th>"
			   "<th>number</th><th>age</th><th>time left</th><th>size</th>"
			   "<th>revoked</th><th>source</th><th>CA certificate</th><th>CA from</th></tr>\n");
	for (i = 0; i < s->n_entries; i++) {
		const struct cdp_entry *a = &s->entries[i], *c;

		if (a->kind != CDP_AIA)
			continue;
		c = cdp_snapshot_find(s, CDP_CRL, a->name);
		/* Where the CA certificate came from: a learned CA was vouched for
		 * by a configured one, not by the operator, and says so. */
		if (a->learned)
			snprintf(from, sizeof(from), "<span class=\"learned\">learned from %s at %s</span>",
				 esc(a->source, e2, sizeof(e2)), pkl_time_fmt(a->loaded_at, t2, sizeof(t2)));
		else
			snprintf(from, sizeof(from), "configured");
		if (!c) {
			pkl_buf_printf(&b,
				       "<tr><td>%s</td><td class=\"bad\">none</td><td colspan=\"6\">"
				       "%s</td><td><a href=\"/aia/%s.crt\">"
				       "%s.crt</a></td><td>%s</td></tr>\n",
				       a->name,
				       s->awaiting_pull ? "waiting for the first pull" :
							  "no valid CRL in service",
				       a->name, a->name, from);
			continue;
		}
		{
			int64_t left = c->info.next_update - now;
			const char *cls = left <= 0 ? "bad" : left <= ctx->cfg->health_margin ? "bad" : "ok";

			pkl_buf_printf(&b,
				       "<tr><td>%s</td><td><a href=\"/crl/%s.crl\">%s.crl</a></td>"
				       "<td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>%zu B</td>"
				       "<td>%zu</td><td>%s</td><td><a href=\"/aia/%s.crt\">%s.crt</a></td>"
				       "<td>%s</td></tr>\n",
				       a->name, a->name, a->name, c->info.number,
				       pkl_duration_fmt(now - c->info.this_update, d1, sizeof(d1)), cls,
				       left <= 0 ? "EXPIRED" : pkl_duration_fmt(left, d2, sizeof(d2)),
				       c->body->len, c->info.revoked, esc(c->source, e1, sizeof(e1)), a->name,
				       a->name, from);
		}
	}
	pkl_buf_printf(&b, "</table>\n");
	if (ctx->mirror) {
		struct cdp_peer_state ps[CDP_LIST_MAX];
		size_t n = cdp_mirror_peers(ctx->mirror, ps, CDP_LIST_MAX);

		pkl_buf_printf(&b, "<h2>Peers</h2>\n<table>\n<tr><th>peer</th><th>state</th>"
				   "<th>last success</th><th>last error</th></tr>\n");
		for (i = 0; i < n; i++)
			pkl_buf_printf(&b,
				       "<tr><td>%s</td><td class=\"%s\">%s</td><td>%s</td><td>%s</td></tr>\n",
				       esc(ps[i].url, e1, sizeof(e1)), ps[i].up ? "ok" : "bad",
				       ps[i].up       ? "up" :
				       ps[i].last_try ? "DOWN" :
							"not tried yet",
				       ps[i].last_ok ? pkl_time_fmt(ps[i].last_ok, t1, sizeof(t1)) : "never",
				       esc(ps[i].last_error, e2, sizeof(e2)));
		pkl_buf_printf(&b, "</table>\n");
	}
	pkl_buf_printf(&b, "<h2>Problems</h2>\n");
	if (!s->n_problems)
		pkl_buf_printf(&b, "<p class=\"ok\">none</p>\n");
	else
		pkl_buf_printf(&b, "<ul>\n");
	for (i = 0; i < s->n_problems; i++)
		pkl_buf_printf(&b, "<li class=\"%s\">%s%s%s</li>\n", s->problems[i].fatal ? "bad" : "",
			       esc(s->problems[i].source, e1, sizeof(e1)),
			       s->problems[i].source[0] ? ": " : "", esc(s->problems[i].msg, e2, sizeof(e2)));
	if (s->n_problems)
		pkl_buf_printf(&b, "</ul>\n");
	pkl_buf_printf(&b, "</body></html>\n");
	cdp_snapshot_release(s);
	ret = cdp_reply_text(conn, req, MHD_HTTP_OK, "text/html; charset=utf-8",
			     b.data ? (const char *)b.data : "", b.len);
	pkl_buf_free(&b);
	return ret;
}
