/*
 * The health verdict, shared by /healthz, /metrics and the status page:
 * healthy when at least one CA is served, every trusted CA has a valid CRL
 * in service that is more than health_margin away from its nextUpdate, and
 * nothing on disk was refused. The JSON document gives the reasons either way, so a monitor can
 * page with the exact cause ("publish/crl/root.crl: bad signature"). Peer
 * trouble (down, behind) is reported as warnings: a mirror that still
 * serves good CRLs is healthy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdpd.h"
#include "pkilab/buf.h"

int cdp_health_json(struct cdp_ctx *ctx, const struct cdp_snapshot *s, pkl_time now, struct pkl_buf *out)
{
	json_t *root = json_object(), *cas = json_array(), *probs = json_array(), *warns = json_array(),
	       *peers = json_array();
	char t1[32], t2[32], msg[700];
	size_t i, n_cas = 0;
	int healthy = 1;
	char *text;

	for (i = 0; i < s->n_entries; i++) {
		const struct cdp_entry *a = &s->entries[i], *c;
		json_t *o;

		if (a->kind != CDP_AIA)
			continue;
		n_cas++;
		c = cdp_snapshot_find(s, CDP_CRL, a->name);
		o = json_object();
		json_object_set_new(o, "name", json_string(a->name));
		if (a->learned) {
			json_object_set_new(o, "learned_from", json_string(a->source));
			json_object_set_new(o, "learned_at",
					    json_string(pkl_time_fmt(a->loaded_at, t1, sizeof(t1))));
		}
		if (!c) {
			healthy = 0;
			json_object_set_new(o, "ok", json_false());
			json_object_set_new(o, "reason",
					    json_string(s->awaiting_pull ? "waiting for the first pull" :
									   "no valid CRL in service"));
			json_array_append_new(cas, o);
			continue;
		}
		json_object_set_new(o, "crl_number", json_string(c->info.number));
		json_object_set_new(o, "this_update",
				    json_string(pkl_time_fmt(c->info.this_update, t1, sizeof(t1))));
		json_object_set_new(o, "next_update",
				    json_string(pkl_time_fmt(c->info.next_update, t2, sizeof(t2))));
		json_object_set_new(o, "seconds_left", json_integer(c->info.next_update - now));
		json_object_set_new(o, "revoked", json_integer((json_int_t)c->info.revoked));
		json_object_set_new(o, "bytes", json_integer((json_int_t)c->body->len));
		json_object_set_new(o, "etag", json_string(c->etag));
		json_object_set_new(o, "source", json_string(c->source));
		msg[0] = '\0';
		if (c->info.next_update <= now)
			snprintf(msg, sizeof(msg), "CRL expired at %s", t2);
		else if (c->info.next_update - now <= ctx->cfg->health_margin) {
			char d1[32], d2[32];

			snprintf(msg, sizeof(msg), "CRL expires in %s, within the health margin of %s",
				 pkl_duration_fmt(c->info.next_update - now, d1, sizeof(d1)),
				 pkl_duration_fmt(ctx->cfg->health_margin, d2, sizeof(d2)));
		}
		json_object_set_new(o, "ok", json_boolean(!msg[0]));
		if (msg[0]) {
			healthy = 0;
			json_object_set_new(o, "reason", json_string(msg));
		}
		json_array_append_new(cas, o);
	}
	for (i = 0; i < s->n_problems; i++) {
		const struct cdp_problem *p = &s->problems[i];
		json_t *o = json_object();

		json_object_set_new(o, "ca", json_string(p->ca));
		json_object_set_new(o, "source", json_string(p->source));
		json_object_set_new(o, "message", json_string(p->msg));
		json_array_append_new(p->fatal ? probs : warns, o);
		if (p->fatal)
			healthy = 0;
	}
	/* Serving no CA at all is never healthy: a wrong --publish path (the PKI
	 * directory instead of its publish/) or an empty trust set. */
	if (!n_cas) {
		json_t *o = json_object();

		healthy = 0;
		json_object_set_new(o, "ca", json_string(""));
		json_object_set_new(o, "source", json_string(""));
		json_object_set_new(o, "message",
				    json_string(s->awaiting_pull ?
							"no CA is served yet: waiting for the first pull" :
							"no CA is served: no CA certificate in the trust "
							"set (--trust) or in a publish directory's aia/"));
		json_array_append_new(probs, o);
	}
	if (ctx->mirror) {
		struct cdp_peer_state ps[CDP_LIST_MAX];
		size_t n = cdp_mirror_peers(ctx->mirror, ps, CDP_LIST_MAX);

		for (i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "url", json_string(ps[i].url));
			json_object_set_new(o, "up", json_boolean(ps[i].up));
			if (ps[i].last_ok)
				json_object_set_new(o, "last_ok",
						    json_string(pkl_time_fmt(ps[i].last_ok, t1, sizeof(t1))));
			if (ps[i].last_error[0])
				json_object_set_new(o, "last_error", json_string(ps[i].last_error));
			json_array_append_new(peers, o);
		}
	}
	json_object_set_new(root, "status", json_string(healthy ? "ok" : "fail"));
	json_object_set_new(root, "generation", json_integer((json_int_t)s->generation));
	json_object_set_new(root, "cas", cas);
	json_object_set_new(root, "problems", probs);
	json_object_set_new(root, "warnings", warns);
	json_object_set_new(root, "peers", peers);
	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (text) {
		pkl_buf_append(out, text, strlen(text));
		pkl_buf_append(out, "\n", 1);
		free(text);
	}
	json_decref(root);
	return healthy;
}
