/*
 * The hierarchy as Graphviz DOT (see graph.h).
 *
 * Everything is read first (certificate rows, then each CA's published CRL)
 * into small per-node records, then printed in one pass: the states that
 * colour the nodes are decided in one place (cert_state, crl_state) so the
 * picture and its legend cannot disagree. Node ids are numeric ("c12",
 * "crl12") so no user text ever needs escaping outside a quoted label.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "pkilab/cert.h"
#include "pkilab/crl.h"
#include "pkilab/crlcheck.h"
#include "pkilab/db.h"
#include "pkilab/file.h"
#include "pkilab/graph.h"

#define DAY 86400

struct g_crl {
	int present;                 /* publish/crl/<ca>.crl exists */
	int parsed;                  /* and decodes */
	struct pkl_crlinfo info;
	X509_CRL *crl;               /* for serial look-ups; NULL unless parsed */
	enum pkl_graph_state state;
	char text[512];              /* one line: why the state */
};

struct g_node {
	struct pkl_cert_row row;
	int extra;                   /* not current, pulled in as an issuer of a current one */
	struct g_crl crl;            /* CAs only */
};

struct g_ctx {
	struct g_node *v;
	size_t n, cap;
	struct pkl_err *err;
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

/* Reads and judges publish/crl/<ca>.crl: present, valid for this CA, fresh.
 * Past half its lifetime is a warning: a new CRL must reach every CDP (and
 * every client's cache) before the old one expires (standards.md #117). */
static void crl_state(struct pkl_pki *pki, struct g_node *ca, pkl_time now)
{
	struct g_crl *g = &ca->crl;
	struct pkl_buf der = PKL_BUF_INIT, cder = PKL_BUF_INIT;
	struct pkl_err e = { 0 };
	char path[PATH_MAX], d1[16];
	X509 *cert = NULL;

	g->state = PKL_GRAPH_BAD;
	if (pkl_pki_path(pki, PKL_FILE_CRL, ca->row.name, path, sizeof(path), &e) != PKL_OK ||
	    !pkl_file_exists(path)) {
		snprintf(g->text, sizeof(g->text), "not published (run pkilab crl)");
		return;
	}
	g->present = 1;
	if (pkl_file_read(path, 0, &der, &e) != PKL_OK ||
	    pkl_crlcheck_parse(der.data, der.len, "crl", &g->info, &g->crl, &e) != PKL_OK) {
		snprintf(g->text, sizeof(g->text), "unreadable: %s", e.msg);
		goto out;
	}
	g->parsed = 1;
	if (pkl_db_cert_der(pki->db, ca->row.id, &cder, &e) != PKL_OK ||
	    !(cert = pkl_cert_from_der(cder.data, cder.len, ca->row.name, &e)) ||
	    pkl_crlcheck_verify(der.data, der.len, "crl", cert, &g->info, &e) != PKL_OK) {
		snprintf(g->text, sizeof(g->text), "invalid: %s", e.msg);
		goto out;
	}
	if (!g->info.next_update) {
		snprintf(g->text, sizeof(g->text), "no nextUpdate");
	} else if (g->info.next_update <= now) {
		date(g->info.next_update, d1, sizeof(d1));
		snprintf(g->text, sizeof(g->text), "EXPIRED %s: clients fail (run pkilab crl)", d1);
	} else if (g->info.this_update > now) {
		date(g->info.this_update, d1, sizeof(d1));
		snprintf(g->text, sizeof(g->text), "not valid before %s", d1);
	} else if (now - g->info.this_update >= (g->info.next_update - g->info.this_update) / 2) {
		g->state = PKL_GRAPH_WARN;
		snprintf(g->text, sizeof(g->text), "past half its lifetime: re-sign (pkilab crl)");
	} else {
		g->state = PKL_GRAPH_OK;
		snprintf(g->text, sizeof(g->text), "healthy, %lld d %lld h left",
			 (long long)((g->info.next_update - now) / DAY),
			 (long long)((g->info.next_update - now) % DAY / 3600));
	}
out:
	X509_free(cert);
	pkl_buf_free(&der);
	pkl_buf_free(&cder);
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

static enum pkl_graph_state cert_state(const struct g_node *n, const struct g_node *issuer,
				       const struct pkl_graph_opts *o, char *text, size_t len)
{
	const struct pkl_cert_row *r = &n->row;
	char d[16];

	if (r->status == PKL_STATUS_REVOKED) {
		const char *reason = r->reason >= 0 ? pkl_reason_name(r->reason) : NULL;

		date(r->revoked_at, d, sizeof(d));
		snprintf(text, len, "REVOKED %s%s%s%s\\n%s", d, reason ? " (" : "", reason ? reason : "",
			 reason ? ")" : "",
			 on_crl(issuer, r->serial) ? "listed on the published CRL"
						    : "NOT on the published CRL yet (run pkilab crl)");
		return PKL_GRAPH_BAD;
	}
	if (!r->current || n->extra) {
		snprintf(text, len, "superseded");
		return PKL_GRAPH_RETIRED;
	}
	if (r->not_after <= o->now) {
		date(r->not_after, d, sizeof(d));
		snprintf(text, len, "EXPIRED %s", d);
		return PKL_GRAPH_BAD;
	}
	if (r->not_before > o->now) {
		date(r->not_before, d, sizeof(d));
		snprintf(text, len, "NOT YET VALID (from %s)", d);
		return PKL_GRAPH_BAD;
	}
	if (on_crl(issuer, r->serial)) {
		snprintf(text, len, "listed on the CRL but valid in the database");
		return PKL_GRAPH_BAD;
	}
	if (r->not_after - o->now < o->margin) {
		snprintf(text, len, "expires in %lld d", (long long)((r->not_after - o->now) / DAY));
		return PKL_GRAPH_WARN;
	}
	snprintf(text, len, "valid, %lld d left", (long long)((r->not_after - o->now) / DAY));
	return PKL_GRAPH_OK;
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

static enum pkl_rc cert_node(struct pkl_buf *out, const struct g_node *n, const struct g_node *issuer,
			     const struct pkl_graph_opts *o)
{
	const struct pkl_cert_row *r = &n->row;
	char nb[16], na[16], state[512];
	const char *kind = kind_of(r);
	enum pkl_graph_state s = cert_state(n, issuer, o, state, sizeof(state));
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
		rc = pkl_buf_printf(&label, "\\n%s .. %s\\n%s\\nserial %.16s%s", nb, na, state, r->serial,
				    strlen(r->serial) > 16 ? "..." : "");
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, "  c%lld [label=\"%s\"", (long long)r->id, pkl_buf_cstr(&label));
	if (rc == PKL_OK && r->is_ca)
		rc = pkl_buf_printf(out, " shape=box peripheries=%d", !strcmp(kind, "root") ? 2 : 1);
	if (rc == PKL_OK)
		rc = style(out, s);
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
		rc = pkl_buf_printf(out, "];\n  c%lld -> crl%lld [style=dashed arrowhead=none label=\"publishes\"];\n"
				    "  { rank=same; c%lld; crl%lld; }\n",
				    (long long)ca->row.id, (long long)ca->row.id, (long long)ca->row.id,
				    (long long)ca->row.id);
	pkl_buf_free(&label);
	return rc;
}

static enum pkl_rc legend(struct pkl_buf *out)
{
	static const char *const text[] = {
		[PKL_GRAPH_OK] = "valid / CRL healthy",
		[PKL_GRAPH_WARN] = "expires soon / CRL past half its lifetime",
		[PKL_GRAPH_BAD] = "expired, not yet valid, revoked / CRL missing, invalid, expired",
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

enum pkl_rc pkl_graph_dot(struct pkl_pki *pki, const struct pkl_graph_opts *opts,
			  struct pkl_buf *out, struct pkl_err *err)
{
	struct g_ctx c = { NULL, 0, 0, err };
	char list[PKL_MAX_CDP * (PKL_URI_MAX + 1)], bases[PKL_MAX_CDP][PKL_URI_MAX], at[32];
	char *save = NULL, *dir;
	size_t n_bases = 0;
	enum pkl_rc rc;

	if ((rc = pkl_db_cert_each(pki->db, opts->all, collect, &c, err)) != PKL_OK || err->rc)
		goto out;
	if ((rc = add_missing_issuers(pki->db, &c, err)) != PKL_OK)
		goto out;
	if ((rc = pkl_db_meta_get(pki->db, "cdp", list, sizeof(list), err)) != PKL_OK)
		goto out;
	for (char *t = strtok_r(list, " ", &save); t && n_bases < PKL_MAX_CDP; t = strtok_r(NULL, " ", &save))
		snprintf(bases[n_bases++], PKL_URI_MAX, "%s", t);
	for (size_t i = 0; i < c.n; i++)
		if (c.v[i].row.is_ca && c.v[i].row.current)
			crl_state(pki, &c.v[i], opts->now);

	dir = strrchr(pki->dir, '/');
	dir = dir && dir[1] ? dir + 1 : pki->dir;
	rc = pkl_buf_printf(out, "digraph pkilab {\n  graph [rankdir=TB labelloc=t fontname=\"Helvetica\" "
				 "fontsize=12 label=\"pkilab: ");
	if (rc == PKL_OK)
		rc = pkl_graph_escape(out, dir);
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, " at %s\"];\n  node [shape=box style=\"rounded,filled\" "
					 "fontname=\"Helvetica\" fontsize=10];\n  edge [color=\"#555555\" fontname=\"Helvetica\" fontsize=9];\n",
				    pkl_time_fmt(opts->now, at, sizeof(at)));
	for (size_t i = 0; rc == PKL_OK && i < c.n; i++) {
		const struct g_node *n = &c.v[i];
		const struct g_node *issuer = n->row.issuer_id == n->row.id ? NULL : find(&c, n->row.issuer_id);

		rc = cert_node(out, n, issuer, opts);
		if (rc == PKL_OK && n->row.is_ca && n->row.current)
			rc = crl_node(out, n, bases, n_bases);
	}
	for (size_t i = 0; rc == PKL_OK && i < c.n; i++) {
		const struct pkl_cert_row *r = &c.v[i].row;
		const struct g_node *issuer = find(&c, r->issuer_id);
		int bad = r->status == PKL_STATUS_REVOKED || (issuer && issuer->row.status == PKL_STATUS_REVOKED);

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
	if (rc != PKL_OK && !err->rc)
		pkl_err_set(err, rc, "graph", "out of memory");
out:
	for (size_t i = 0; i < c.n; i++)
		X509_CRL_free(c.v[i].crl.crl);
	free(c.v);
	return err->rc ? err->rc : rc;
}
