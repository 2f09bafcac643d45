/*
 * The hierarchy as Graphviz DOT (see graph.h).
 *
 * Everything is read first (certificate rows, then each CA's published CRL)
 * into small per-node records, then printed in one pass: the states that
 * colour the nodes are decided in one place (judge_cert, and crl_state.c's
 * judgement every command shares for CRLs) so the
 * picture, its legend and the JSON form cannot disagree. Node ids are numeric ("c12",
 * "crl12") so no user text ever needs escaping outside a quoted label.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include "pkilab/cert.h"
#include "pkilab/crl.h"
#include "pkilab/crl_read.h"
#include "pkilab/crl_state.h"
#include "pkilab/db.h"
#include "pkilab/file.h"
#include "pkilab/graph.h"

#define DAY 86400

struct g_crl {
	int present; /* publish/crl/<ca>.crl exists */
	int parsed;  /* and decodes */
	struct pkl_crlinfo info;
	X509_CRL *crl; /* for serial look-ups; NULL unless parsed */
	enum pkl_graph_state state;
	enum pkl_crl_state judged; /* crl_state.c's state, named in the JSON */
	char text[512];            /* one line: why the state */
};

struct g_node {
	struct pkl_cert_row row;
	int extra;                  /* not current, pulled in as an issuer of a current one */
	struct g_crl crl;           /* CAs only */
	enum pkl_graph_state state; /* judged by judge_cert() */
	char text[512];             /* why, one or two lines ('\n') */
	int listed;                 /* the issuer's published CRL lists the serial */
};

struct g_ctx {
	struct g_node *v;
	size_t n, cap;
	struct pkl_err *err;
	char bases[PKL_MAX_CDP][PKL_URI_MAX]; /* the lab's CDP bases, priority order */
	size_t n_bases;
};

static const struct {
	const char *name, *fill, *border, *font;
} colours[] = {
	[PKL_GRAPH_OK] = { "ok", "#d9f2d9", "#2e7d32", "#000000" },
	[PKL_GRAPH_WARN] = { "warn", "#fff3cd", "#b8860b", "#000000" },
	[PKL_GRAPH_BAD] = { "bad", "#f8d7da", "#c62828", "#000000" },
	[PKL_GRAPH_RETIRED] = { "retired", "#eeeeee", "#9e9e9e", "#757575" },
};

enum pkl_rc pkl_graph_escape(struct pkl_buf *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		enum pkl_rc rc;

		if (c == '"' || c == '\\')
			rc = pkl_buf_printf(out, "\\%c", c);
		else if (c == '\n')
			rc = pkl_buf_append(out, "\\n", 2);
		else if (c < 0x20 || c == 0x7f)
			continue; /* a DOT string has no use for other control characters */
		else
			rc = pkl_buf_append(out, s, 1);
		if (rc != PKL_OK)
			return rc;
	}
	return PKL_OK;
}

static int collect(const struct pkl_cert_row *row, void *cls)
{
	struct g_ctx *c = cls;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct g_node *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			pkl_err_set(c->err, PKL_ERUNTIME, "graph", "out of memory");
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	c->v[c->n].row = *row;
	c->n++;
	return 0;
}

static struct g_node *find(struct g_ctx *c, int64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].row.id == id)
			return &c->v[i];
	return NULL;
}

/* A certificate whose issuer is not drawn (its CA was renewed since, and
 * only current certificates were asked for) still needs its parent: pull
 * the issuer rows in, marked as extra. */
static enum pkl_rc add_missing_issuers(struct pkl_db *db, struct g_ctx *c, struct pkl_err *err)
{
	for (size_t i = 0; i < c->n; i++) {
		struct pkl_cert_row row;
		int64_t issuer = c->v[i].row.issuer_id;

		if (issuer == c->v[i].row.id || find(c, issuer))
			continue;
		if (pkl_db_cert_get(db, issuer, &row, err) != PKL_OK)
			return err->rc;
		if (collect(&row, c))
			return err->rc;
		c->v[c->n - 1].extra = 1;
	}
	return PKL_OK;
}

static void date(pkl_time t, char *buf, size_t len)
{
	char full[32];

	pkl_time_fmt(t, full, sizeof(full));
	snprintf(buf, len, "%.10s", full);
}

/* Judges publish/crl/<ca>.crl as every command does (pkilab/crl_state.h)
 * and keeps the decoded CRL for the serial look-ups of on_crl. Past half its
 * lifetime or missing a recorded revocation is a warning (amber): relying
 * parties still accept it, but a new CRL must reach every CDP (and every
 * client's cache) before the old one expires (docs/crl-publication.md);
 * every other state is one relying parties refuse (red). */
static enum pkl_rc crl_state(struct pkl_pki *pki, struct g_node *ca, pkl_time now, struct pkl_err *err)
{
	struct g_crl *g = &ca->crl;
	struct pkl_crl_status st;
	char line[sizeof(g->text) - 32];
	enum pkl_rc rc = pkl_crl_state_judge(pki, ca->row.name, now, &st, &g->crl, err);

	if (rc != PKL_OK)
		return rc;
	g->judged = st.state;
	g->present = st.state != PKL_CRL_MISSING;
	g->parsed = st.parsed;
	g->info = st.info;
	g->state = st.state == PKL_CRL_UP_TO_DATE                             ? PKL_GRAPH_OK :
		   st.state == PKL_CRL_RESIGN || st.state == PKL_CRL_UNLISTED ? PKL_GRAPH_WARN :
										PKL_GRAPH_BAD;
	pkl_crl_state_describe(&st, now, line, sizeof(line));
	snprintf(g->text, sizeof(g->text), "%s%s", line,
		 pkl_crl_state_due(st.state) ? " (run pkilab crl)" : "");
	return PKL_OK;
}

/* Whether the issuer's published CRL lists this serial: a revocation only
 * reaches relying parties once it is on a CRL they can fetch. */
static int on_crl(const struct g_node *issuer, const char *serial_hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	X509_REVOKED *rev = NULL;
	int found = 0;

	if (!issuer || !issuer->crl.crl || !BN_hex2bn(&bn, serial_hex))
		goto out;
	if (!(ai = BN_to_ASN1_INTEGER(bn, NULL)))
		goto out;
	found = X509_CRL_get0_by_serial(issuer->crl.crl, &rev, ai) == 1;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return found;
}

/* Decides a certificate's state and the text that explains it. */
static void judge_cert(struct g_node *n, const struct g_node *issuer, const struct pkl_graph_opts *o)
{
	const struct pkl_cert_row *r = &n->row;
	char d[16];

	n->listed = on_crl(issuer, r->serial);
	if (r->status == PKL_STATUS_REVOKED) {
		const char *reason = r->reason >= 0 ? pkl_reason_name(r->reason) : NULL;

		date(r->revoked_at, d, sizeof(d));
		snprintf(n->text, sizeof(n->text), "REVOKED %s%s%s%s\n%s", d, reason ? " (" : "",
			 reason ? reason : "", reason ? ")" : "",
			 n->listed ? "listed on the published CRL" :
				     "NOT on the published CRL yet (run pkilab crl)");
		n->state = PKL_GRAPH_BAD;
	} else if (!r->current || n->extra) {
		snprintf(n->text, sizeof(n->text), "superseded");
		n->state = PKL_GRAPH_RETIRED;
	} else if (r->not_after <= o->now) {
		date(r->not_after, d, sizeof(d));
		snprintf(n->text, sizeof(n->text), "EXPIRED %s", d);
		n->state = PKL_GRAPH_BAD;
	} else if (r->not_before > o->now) {
		date(r->not_before, d, sizeof(d));
		snprintf(n->text, sizeof(n->text), "NOT YET VALID (from %s)", d);
		n->state = PKL_GRAPH_BAD;
	} else if (n->listed) {
		snprintf(n->text, sizeof(n->text), "listed on the CRL but valid in the database");
		n->state = PKL_GRAPH_BAD;
	} else if (r->not_after - o->now < o->margin) {
		snprintf(n->text, sizeof(n->text), "expires in %lld d",
			 (long long)((r->not_after - o->now) / DAY));
		n->state = PKL_GRAPH_WARN;
	} else {
		snprintf(n->text, sizeof(n->text), "valid, %lld d left",
			 (long long)((r->not_after - o->now) / DAY));
		n->state = PKL_GRAPH_OK;
	}
}

static const char *kind_of(const struct pkl_cert_row *r)
{
	if (!r->is_ca)
		return "leaf";
	return r->issuer_id == r->id ? "root" : "intermediate";
}

/* Appends `name="escaped value"`. */
static enum pkl_rc attr(struct pkl_buf *out, const char *name, const char *value)
{
	enum pkl_rc rc = pkl_buf_printf(out, " %s=\"", name);

	if (rc == PKL_OK)
		rc = pkl_graph_escape(out, value);
	if (rc == PKL_OK)
		rc = pkl_buf_append(out, "\"", 1);
	return rc;
}

/* The colours of a state, plus pkl_state="..." for scripts reading the DOT. */
static enum pkl_rc style(struct pkl_buf *out, enum pkl_graph_state s)
{
	return pkl_buf_printf(out, " fillcolor=\"%s\" color=\"%s\" fontcolor=\"%s\" pkl_state=\"%s\"",
			      colours[s].fill, colours[s].border, colours[s].font, colours[s].name);
}

static enum pkl_rc cert_node(struct pkl_buf *out, const struct g_node *n)
{
	const struct pkl_cert_row *r = &n->row;
	char nb[16], na[16];
	const char *kind = kind_of(r);
	struct pkl_buf label = PKL_BUF_INIT;
	enum pkl_rc rc;

	date(r->not_before, nb, sizeof(nb));
	date(r->not_after, na, sizeof(na));
	/* The label is built escaped piece by piece: user text (names,
	 * subjects) through pkl_graph_escape, our own line breaks as \n. */
	rc = pkl_graph_escape(&label, r->name);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(&label, " (%s%s)\\n", kind, r->is_ca ? " CA" : "");
	if (rc == PKL_OK)
		rc = pkl_graph_escape(&label, r->subject);
	if (rc == PKL_OK)
		rc = pkl_buf_append(&label, "\\n", 2);
	if (rc == PKL_OK)
		rc = pkl_graph_escape(&label, r->template_name);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(&label, " | ");
	if (rc == PKL_OK)
		rc = pkl_graph_escape(&label, r->key_spec);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(&label, "\\n%s .. %s\\n", nb, na);
	if (rc == PKL_OK)
		rc = pkl_graph_escape(&label, n->text);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(&label, "\\nserial %.16s%s", r->serial,
				    strlen(r->serial) > 16 ? "..." : "");
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, "  c%lld [label=\"%s\"", (long long)r->id, pkl_buf_cstr(&label));
	if (rc == PKL_OK && r->is_ca)
		rc = pkl_buf_printf(out, " shape=box peripheries=%d", !strcmp(kind, "root") ? 2 : 1);
	if (rc == PKL_OK)
		rc = style(out, n->state);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, " pkl_kind=\"%s\"", kind);
	if (rc == PKL_OK)
		rc = attr(out, "pkl_name", r->name);
	if (rc == PKL_OK)
		rc = attr(out, "tooltip", r->subject);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, "];\n");
	pkl_buf_free(&label);
	return rc;
}

static enum pkl_rc crl_node(struct pkl_buf *out, const struct g_node *ca, char bases[][PKL_URI_MAX],
			    size_t n_bases)
{
	const struct g_crl *g = &ca->crl;
	struct pkl_buf label = PKL_BUF_INIT;
	char tu[16], nu[16];
	enum pkl_rc rc;

	rc = pkl_buf_printf(&label, "CRL of ");
	if (rc == PKL_OK)
		rc = pkl_graph_escape(&label, ca->row.name);
	if (rc == PKL_OK && g->parsed) {
		date(g->info.this_update, tu, sizeof(tu));
		date(g->info.next_update, nu, sizeof(nu));
		rc = pkl_buf_printf(&label, "\\nnumber %s | %zu revoked | %zu bytes\\n%s .. %s",
				    g->info.number[0] ? g->info.number : "none", g->info.revoked,
				    g->info.size, tu, g->info.next_update ? nu : "(no nextUpdate)");
	}
	if (rc == PKL_OK)
		rc = pkl_buf_append(&label, "\\n", 2);
	if (rc == PKL_OK)
		rc = pkl_graph_escape(&label, g->text);
	for (size_t i = 0; rc == PKL_OK && i < n_bases; i++) {
		rc = pkl_buf_append(&label, "\\n", 2);
		if (rc == PKL_OK)
			rc = pkl_graph_escape(&label, bases[i]);
		if (rc == PKL_OK)
			rc = pkl_buf_printf(&label, "/crl/");
		if (rc == PKL_OK)
			rc = pkl_graph_escape(&label, ca->row.name);
		if (rc == PKL_OK)
			rc = pkl_buf_printf(&label, ".crl");
	}
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, "  crl%lld [shape=note label=\"%s\"", (long long)ca->row.id,
				    pkl_buf_cstr(&label));
	if (rc == PKL_OK)
		rc = style(out, g->state);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, " pkl_kind=\"crl\"");
	if (rc == PKL_OK)
		rc = attr(out, "pkl_name", ca->row.name);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(
			out,
			"];\n  c%lld -> crl%lld [style=dashed arrowhead=none label=\"publishes\"];\n"
			"  { rank=same; c%lld; crl%lld; }\n",
			(long long)ca->row.id, (long long)ca->row.id, (long long)ca->row.id,
			(long long)ca->row.id);
	pkl_buf_free(&label);
	return rc;
}

static enum pkl_rc legend(struct pkl_buf *out)
{
	static const char *const text[] = {
		[PKL_GRAPH_OK] = "valid / CRL fresh",
		[PKL_GRAPH_WARN] = "expires soon / CRL past half its lifetime or missing a revocation",
		[PKL_GRAPH_BAD] =
			"expired, not yet valid, revoked / CRL refused (missing, bad, future, expired)",
		[PKL_GRAPH_RETIRED] = "superseded by a renewal",
	};
	enum pkl_rc rc = pkl_buf_printf(out, "  subgraph cluster_legend {\n    label=\"legend\" style=dashed "
					     "color=\"#9e9e9e\" fontsize=9;\n");

	for (int s = PKL_GRAPH_OK; rc == PKL_OK && s <= PKL_GRAPH_RETIRED; s++) {
		rc = pkl_buf_printf(out, "    legend_%s [label=\"%s\" fontsize=9", colours[s].name, text[s]);
		if (rc == PKL_OK)
			rc = style(out, (enum pkl_graph_state)s);
		if (rc == PKL_OK)
			rc = pkl_buf_printf(out, " pkl_kind=\"legend\"];\n");
	}
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, "    legend_ok -> legend_warn -> legend_bad -> legend_retired "
					 "[style=invis];\n  }\n");
	return rc;
}

/* Reads everything the picture needs and judges every node. */
static enum pkl_rc load_model(struct pkl_pki *pki, const struct pkl_graph_opts *opts, struct g_ctx *c,
			      struct pkl_err *err)
{
	char list[PKL_MAX_CDP * (PKL_URI_MAX + 1)];
	char *save = NULL;
	enum pkl_rc rc;

	if ((rc = pkl_db_cert_each(pki->db, opts->all, collect, c, err)) != PKL_OK || err->rc)
		return err->rc ? err->rc : rc;
	if ((rc = add_missing_issuers(pki->db, c, err)) != PKL_OK)
		return rc;
	if ((rc = pkl_db_meta_get(pki->db, "cdp", list, sizeof(list), err)) != PKL_OK)
		return rc;
	for (char *t = strtok_r(list, " ", &save); t && c->n_bases < PKL_MAX_CDP;
	     t = strtok_r(NULL, " ", &save))
		snprintf(c->bases[c->n_bases++], PKL_URI_MAX, "%s", t);
	/* CRLs first: a certificate's state depends on its issuer's CRL. */
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].row.is_ca && c->v[i].row.current &&
		    (rc = crl_state(pki, &c->v[i], opts->now, err)) != PKL_OK)
			return rc;
	for (size_t i = 0; i < c->n; i++) {
		struct g_node *n = &c->v[i];

		judge_cert(n, n->row.issuer_id == n->row.id ? NULL : find(c, n->row.issuer_id), opts);
	}
	return PKL_OK;
}

static void free_model(struct g_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		X509_CRL_free(c->v[i].crl.crl);
	free(c->v);
}

static enum pkl_rc write_dot(struct pkl_pki *pki, const struct pkl_graph_opts *opts, struct g_ctx *c,
			     struct pkl_buf *out)
{
	char at[32];
	const char *dir = strrchr(pki->dir, '/');
	enum pkl_rc rc;

	dir = dir && dir[1] ? dir + 1 : pki->dir;
	rc = pkl_buf_printf(out, "digraph pkilab {\n  graph [rankdir=TB labelloc=t fontname=\"Helvetica\" "
				 "fontsize=12 label=\"pkilab: ");
	if (rc == PKL_OK)
		rc = pkl_graph_escape(out, dir);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out,
				    " at %s\"];\n  node [shape=box style=\"rounded,filled\" "
				    "fontname=\"Helvetica\" fontsize=10];\n  edge [color=\"#555555\" "
				    "fontname=\"Helvetica\" fontsize=9];\n",
				    pkl_time_fmt(opts->now, at, sizeof(at)));
	for (size_t i = 0; rc == PKL_OK && i < c->n; i++) {
		const struct g_node *n = &c->v[i];

		rc = cert_node(out, n);
		if (rc == PKL_OK && n->row.is_ca && n->row.current)
			rc = crl_node(out, n, c->bases, c->n_bases);
	}
	for (size_t i = 0; rc == PKL_OK && i < c->n; i++) {
		const struct pkl_cert_row *r = &c->v[i].row;
		const struct g_node *issuer = find(c, r->issuer_id);
		int bad = r->status == PKL_STATUS_REVOKED ||
			  (issuer && issuer->row.status == PKL_STATUS_REVOKED);

		if (r->issuer_id == r->id)
			continue;
		/* A red edge: this link of the chain is broken by a revocation. */
		rc = pkl_buf_printf(out, "  c%lld -> c%lld%s;\n", (long long)r->issuer_id, (long long)r->id,
				    bad ? " [color=\"#c62828\" penwidth=2]" : "");
	}
	if (rc == PKL_OK && opts->legend)
		rc = legend(out);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, "}\n");
	return rc;
}

enum pkl_rc pkl_graph_dot(struct pkl_pki *pki, const struct pkl_graph_opts *opts, struct pkl_buf *out,
			  struct pkl_err *err)
{
	struct g_ctx c = { .err = err };
	enum pkl_rc rc = load_model(pki, opts, &c, err);

	if (rc == PKL_OK && (rc = write_dot(pki, opts, &c, out)) != PKL_OK)
		pkl_err_set(err, rc, "graph", "out of memory");
	free_model(&c);
	return rc;
}

/* A state's text on one line, for JSON ("a; b"). */
static json_t *one_line(const char *text)
{
	char buf[512];
	size_t j = 0;

	for (size_t i = 0; text[i] && j + 3 < sizeof(buf); i++) {
		if (text[i] == '\n') {
			buf[j++] = ';';
			buf[j++] = ' ';
		} else {
			buf[j++] = text[i];
		}
	}
	buf[j] = '\0';
	return json_string(buf);
}

static json_t *time_json(pkl_time t)
{
	char b[32];

	return t ? json_string(pkl_time_fmt(t, b, sizeof(b))) : json_null();
}

enum pkl_rc pkl_graph_json(struct pkl_pki *pki, const struct pkl_graph_opts *opts, struct pkl_buf *out,
			   struct pkl_err *err)
{
	struct g_ctx c = { .err = err };
	json_t *root = NULL, *certs, *crls, *bases;
	char *text = NULL;
	enum pkl_rc rc = load_model(pki, opts, &c, err);

	if (rc != PKL_OK)
		goto out;
	root = json_object();
	certs = json_array();
	crls = json_array();
	bases = json_array();
	json_object_set_new(root, "at", time_json(opts->now));
	json_object_set_new(root, "cdp", bases);
	json_object_set_new(root, "certificates", certs);
	json_object_set_new(root, "crls", crls);
	for (size_t i = 0; i < c.n_bases; i++)
		json_array_append_new(bases, json_string(c.bases[i]));
	for (size_t i = 0; i < c.n; i++) {
		const struct g_node *n = &c.v[i];
		const struct pkl_cert_row *r = &n->row;
		const struct g_node *issuer = find(&c, r->issuer_id);
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(r->name));
		json_object_set_new(o, "kind", json_string(kind_of(r)));
		json_object_set_new(o, "issuer", json_string(issuer ? issuer->row.name : r->issuer_name));
		json_object_set_new(o, "subject", json_string(r->subject));
		json_object_set_new(o, "template", json_string(r->template_name));
		json_object_set_new(o, "key", json_string(r->key_spec));
		json_object_set_new(o, "serial", json_string(r->serial));
		json_object_set_new(o, "not_before", time_json(r->not_before));
		json_object_set_new(o, "not_after", time_json(r->not_after));
		json_object_set_new(o, "revoked", json_boolean(r->status == PKL_STATUS_REVOKED));
		json_object_set_new(o, "on_published_crl", json_boolean(n->listed));
		json_object_set_new(o, "current", json_boolean(r->current && !n->extra));
		json_object_set_new(o, "state", json_string(colours[n->state].name));
		json_object_set_new(o, "detail", one_line(n->text));
		json_array_append_new(certs, o);
		if (r->is_ca && r->current) {
			const struct g_crl *g = &n->crl;
			json_t *k = json_object(), *urls = json_array();

			json_object_set_new(k, "ca", json_string(r->name));
			json_object_set_new(k, "state", json_string(colours[g->state].name));
			json_object_set_new(k, "crl_state", json_string(pkl_crl_state_name(g->judged)));
			json_object_set_new(k, "detail", one_line(g->text));
			json_object_set_new(k, "published", json_boolean(g->present));
			json_object_set_new(k, "number",
					    g->parsed && g->info.number[0] ? json_string(g->info.number) :
									     json_null());
			json_object_set_new(k, "revoked",
					    g->parsed ? json_integer((json_int_t)g->info.revoked) :
							json_null());
			json_object_set_new(k, "this_update",
					    g->parsed ? time_json(g->info.this_update) : json_null());
			json_object_set_new(k, "next_update",
					    g->parsed ? time_json(g->info.next_update) : json_null());
			for (size_t b = 0; b < c.n_bases; b++) {
				char u[PKL_URI_MAX + PKL_NAME_MAX + 16];

				snprintf(u, sizeof(u), "%s/crl/%s.crl", c.bases[b], r->name);
				json_array_append_new(urls, json_string(u));
			}
			json_object_set_new(k, "urls", urls);
			json_array_append_new(crls, k);
		}
	}
	if (!(text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ||
	    pkl_buf_printf(out, "%s\n", text) != PKL_OK)
		rc = pkl_err_set(err, PKL_ERUNTIME, "graph", "out of memory");
out:
	free(text);
	json_decref(root);
	free_model(&c);
	return rc;
}
