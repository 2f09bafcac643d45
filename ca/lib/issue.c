/*
 * Issuance (see pkilab/issue.h): the policy every certificate passes, one
 * entity into a PKI (builds the issuance request from the resolved profile,
 * signs, records and stages files, all inside the caller's transaction so
 * that nothing is visible unless everything is), and the `pkilab issue` verb.
 * Renewing is lib/renew.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "pkilab/crl.h"
#include "pkilab/crl_publish.h"
#include "pkilab/file.h"
#include "pkilab/issue.h"
#include "pkilab/key.h"
#include "pkilab/lint.h"
#include "pkilab/name.h"

enum pkl_rc pkl_issue_ctx_save(struct pkl_pki *pki, const struct pkl_issue_ctx *ctx, struct pkl_err *err)
{
	char list[PKL_MAX_CDP * (PKL_URI_MAX + 1)] = "";
	size_t n = 0;
	enum pkl_rc rc;

	/* Space-separated: a URL never contains a space (the lab loader refuses it). */
	for (size_t i = 0; i < ctx->n_cdp; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? " " : "", ctx->cdp[i]);
	rc = pkl_db_meta_put(pki->db, "cdp", list, err);
	if (rc == PKL_OK)
		rc = pkl_db_meta_put(pki->db, "cdp_layout",
				     ctx->cdp_point_per_uri ? "point-per-uri" : "one-point", err);
	return rc;
}

enum pkl_rc pkl_issue_ctx_load(struct pkl_pki *pki, struct pkl_issue_ctx *ctx, struct pkl_err *err)
{
	char list[PKL_MAX_CDP * (PKL_URI_MAX + 1)], layout[32];
	char *save = NULL;
	enum pkl_rc rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->now = pkl_time_now();
	if ((rc = pkl_db_meta_get(pki->db, "cdp", list, sizeof(list), err)) != PKL_OK ||
	    (rc = pkl_db_meta_get(pki->db, "cdp_layout", layout, sizeof(layout), err)) != PKL_OK)
		return rc;
	for (char *t = strtok_r(list, " ", &save); t && ctx->n_cdp < PKL_MAX_CDP;
	     t = strtok_r(NULL, " ", &save))
		snprintf(ctx->cdp[ctx->n_cdp++], PKL_URI_MAX, "%s", t);
	ctx->cdp_point_per_uri = !strcmp(layout, "point-per-uri");
	return PKL_OK;
}

#define ISSUE_CACHE_MAX 16

struct issuer_entry {
	char name[PKL_NAME_MAX];
	int64_t id;
	int is_root;
	struct pkl_buf chain; /* the issuer's PEM and the intermediates above it, no root */
};

struct pkl_issue_cache {
	struct issuer_entry e[ISSUE_CACHE_MAX];
	size_t n;
};

struct pkl_issue_cache *pkl_issue_cache_new(void)
{
	return calloc(1, sizeof(struct pkl_issue_cache));
}

void pkl_issue_cache_free(struct pkl_issue_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->n; i++)
		pkl_buf_free(&cache->e[i].chain);
	free(cache);
}

/* The issuer's row id and the chain a certificate it signs continues with
 * (issuer + intermediates, no root). *out is borrowed: from the cache, or
 * from *scratch, whose chain the caller frees. Without a cache this is
 * rebuilt from the database per call: a 1,000-leaf build spent half its
 * time here. */
static enum pkl_rc issuer_info(struct pkl_pki *pki, const struct pkl_issue_ctx *ctx, const char *name,
			       struct issuer_entry *scratch, const struct issuer_entry **out,
			       struct pkl_err *err)
{
	struct pkl_issue_cache *c = ctx->cache;
	struct issuer_entry *e = scratch;
	struct pkl_cert_row row;
	enum pkl_rc rc;

	for (size_t i = 0; c && i < c->n; i++)
		if (!strcmp(c->e[i].name, name)) {
			*out = &c->e[i];
			return PKL_OK;
		}
	if (c && c->n < ISSUE_CACHE_MAX)
		e = &c->e[c->n];
	memset(e, 0, sizeof(*e));
	if ((rc = pkl_db_cert_find(pki->db, name, &row, err)) != PKL_OK)
		return rc;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->id = row.id;
	e->is_root = row.issuer_id == row.id;
	if (!e->is_root && (rc = pkl_pki_chain_pem(pki, name, 1, 0, &e->chain, err)) != PKL_OK) {
		pkl_buf_free(&e->chain);
		return rc;
	}
	if (e != scratch)
		c->n++;
	*out = e;
	return PKL_OK;
}

static enum pkl_rc stage_ca_files(struct pkl_txn *txn, struct pkl_pki *pki, const struct pkl_issue_ctx *ctx,
				  const struct pkl_entity *e, int64_t cert_id, X509 *cert, EVP_PKEY *key,
				  struct pkl_err *err)
{
	struct pkl_buf der = PKL_BUF_INIT, crl = PKL_BUF_INIT;
	struct pkl_ca_state st = { 0 };
	enum pkl_rc rc;

	rc = pkl_cert_to_der(cert, &der, err);
	if (rc == PKL_OK)
		rc = pkl_txn_put(txn, PKL_FILE_AIA, e->name, der.data, der.len, err);
	/* An initial, empty, signed CRL (crl_publish.c numbers and checks it). */
	if (rc == PKL_OK)
		rc = pkl_crl_publish_first(cert, key, ctx->now, e->prof.crl_lifetime, e->name, &crl, &st,
					   err);
	if (rc == PKL_OK)
		rc = pkl_txn_put(txn, PKL_FILE_CRL, e->name, crl.data, crl.len, err);
	if (rc == PKL_OK) {
		snprintf(st.name, sizeof(st.name), "%s", e->name);
		st.cert_id = cert_id;
		st.crl_lifetime = e->prof.crl_lifetime;
		rc = pkl_db_ca_put(pki->db, &st, err);
	}
	pkl_buf_free(&der);
	pkl_buf_free(&crl);
	return rc;
}

/* Whether a lint failure stops an issue: the RFC 5280 profile checks (L1-L18,
 * chain.* with the issuer) and key.too_small. The platform checks (a P-521
 * key for Windows, an EKU a platform wants) stay the lab author's choice:
 * examples/broken/ issues such certificates on purpose, and `pkilab lint`
 * and `pkilab doctor` report them. */
static int lint_blocks(const struct pkl_finding *f)
{
	return f->sev == PKL_SEV_FAIL && (!strncmp(f->code, "lint.", 5) || !strncmp(f->code, "chain.", 6) ||
					  !strcmp(f->code, "key.too_small"));
}

/* Every certificate is linted before it is recorded (build, issue, renew):
 * pkilab must not hand out what its own `pkilab lint` fails. The DER is
 * parsed back, so the lint sees what a relying party will (and a decoded
 * public key, which the fast end-entity path in cert.c does not keep). */
static enum pkl_rc lint_before_commit(const struct pkl_buf *der, X509 *issuer, const struct pkl_entity *e,
				      struct pkl_err *err)
{
	struct pkl_lint_opts o = { 0 };
	struct pkl_report r = PKL_REPORT_INIT;
	X509 *cert = pkl_cert_from_der(der->data, der->len, e->name, err);
	enum pkl_rc rc;

	if (!cert)
		return err && err->rc ? err->rc : PKL_ERUNTIME;

	o.platforms = PKL_PLAT_ALL;
	o.role = PKL_ROLE_AUTO;
	o.issuer = issuer;
	rc = pkl_lint_cert(cert, &o, &r, err);
	if (rc == PKL_OK && r.oom)
		rc = pkl_err_set(err, PKL_ERUNTIME, e->where, "out of memory while linting");
	for (size_t i = 0; i < r.n && rc == PKL_OK; i++)
		if (lint_blocks(&r.v[i]))
			rc = pkl_err_set(err, PKL_EINPUT, e->where,
					 "the certificate of '%s' would fail %s (%s): not issued", e->name,
					 r.v[i].code, r.v[i].msg);
	pkl_report_free(&r);
	X509_free(cert);
	return rc;
}

void pkl_issue_url(char *buf, size_t len, const char *base, int aia, const char *issuer)
{
	snprintf(buf, len, aia ? "%s/aia/%s.crt" : "%s/crl/%s.crl", base, issuer);
}

enum pkl_rc pkl_issue_entity(struct pkl_txn *txn, struct pkl_pki *pki, const struct pkl_issue_ctx *ctx,
			     const struct pkl_entity *e, X509 *issuer, EVP_PKEY *issuer_key,
			     EVP_PKEY *subject_key, int store_key, X509 **out_cert, EVP_PKEY **out_key,
			     struct pkl_err *err)
{
	struct pkl_cert_req req = { 0 };
	struct pkl_cert_row row = { 0 };
	struct pkl_buf pem = PKL_BUF_INIT, der = PKL_BUF_INIT, keypem = PKL_BUF_INIT;
	struct pkl_key_spec spec = e->prof.key;
	const char *eku[PKL_MAX_EKU];
	char cdp[PKL_MAX_CDP][PKL_URI_MAX + PKL_NAME_MAX + 16],
		aia[PKL_MAX_CDP][PKL_URI_MAX + PKL_NAME_MAX + 16];
	const char *cdp_p[PKL_MAX_CDP], *aia_p[PKL_MAX_CDP];
	X509_NAME *subject = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char *pass = NULL;
	struct issuer_entry iss_scratch = { 0 };
	const struct issuer_entry *iss = NULL;
	enum pkl_rc rc = PKL_ERUNTIME;

	subject = pkl_name_parse(e->subject, err);
	if (!subject) {
		pkl_err_where(err, e->where);
		return PKL_EINPUT;
	}
	if (subject_key) {
		key = subject_key;
		EVP_PKEY_up_ref(key);
		if ((rc = pkl_key_spec_of(key, &spec, err)) != PKL_OK)
			goto out;
		/* An external key (a CSR's): the key policy, and never a CA's own key. */
		if (!store_key && ((rc = pkl_key_policy_check(key, &spec, err)) != PKL_OK ||
				   (rc = pkl_pki_check_not_ca_key(pki, key, err)) != PKL_OK)) {
			pkl_err_where(err, e->where);
			goto out;
		}
	} else if (!(key = pkl_key_generate(&spec, err))) {
		goto out;
	} else {
		store_key = 1;
	}

	req.subject = subject;
	req.pubkey = key;
	req.sans = e->sans;
	req.n_sans = e->n_sans;
	req.not_before = e->not_before;
	req.not_after = e->not_after;
	pkl_profile_apply(&e->prof, &spec, &req, eku);
	/* Leaves point at their issuer's CRL and certificate, intermediates at the
	 * root's: the URL names the issuing CA. Relying parties check revocation of
	 * every certificate below the anchor (RFC 5280 section 6.1.3 (a)(3);
	 * strongSwan does for intermediates too), and Windows fetches a missing issuer through AIA
	 * caIssuers (RFC 5280 section 4.2.2.1; Microsoft, "How Certificate
	 * Revocation Works"). */
	if (issuer) {
		for (size_t i = 0; i < ctx->n_cdp; i++) {
			pkl_issue_url(cdp[i], sizeof(cdp[i]), ctx->cdp[i], 0, e->issuer);
			pkl_issue_url(aia[i], sizeof(aia[i]), ctx->cdp[i], 1, e->issuer);
			cdp_p[i] = cdp[i];
			aia_p[i] = aia[i];
		}
		if (e->prof.cdp) {
			req.cdp_uris = cdp_p;
			req.n_cdp = ctx->n_cdp;
		}
		if (e->prof.aia) {
			req.aia_uris = aia_p;
			req.n_aia = ctx->n_cdp;
		}
		req.cdp_point_per_uri = ctx->cdp_point_per_uri;
	}
	cert = pkl_cert_issue(&req, issuer, issuer ? issuer_key : key, err);
	if (!cert) {
		rc = err ? err->rc : PKL_ERUNTIME;
		pkl_err_where(err, e->where);
		goto out;
	}

	/* Record: the database enforces unique (issuer, serial) and one current
	 * certificate per name. */
	snprintf(row.name, sizeof(row.name), "%s", e->name);
	if (issuer) {
		if ((rc = issuer_info(pki, ctx, e->issuer, &iss_scratch, &iss, err)) != PKL_OK)
			goto out;
		row.issuer_id = iss->id;
	}
	pkl_serial_hex(cert, row.serial, sizeof(row.serial));
	row.is_ca = req.is_ca;
	snprintf(row.template_name, sizeof(row.template_name), "%s", e->prof.template_name);
	snprintf(row.subject, sizeof(row.subject), "%s", e->subject);
	pkl_key_spec_str(&spec, row.key_spec, sizeof(row.key_spec));
	row.key_encrypted = e->prof.encrypt_key && store_key;
	row.not_before = e->not_before;
	row.not_after = e->not_after;
	row.issued_at = ctx->now;
	snprintf(row.origin, sizeof(row.origin), "%s", ctx->origin ? ctx->origin : "");
	if ((rc = pkl_cert_to_der(cert, &der, err)) != PKL_OK ||
	    (rc = lint_before_commit(&der, issuer, e, err)) != PKL_OK ||
	    (rc = pkl_db_cert_insert(pki->db, &row, der.data, der.len, err)) != PKL_OK)
		goto out;

	if (store_key) {
		if (e->prof.encrypt_key) {
			pass = pkl_key_passphrase_get(err);
			if (!pass) {
				rc = pkl_err_set(
					err, PKL_EINPUT, e->where,
					"%s asks for an encrypted key (encrypt_key = true) but no passphrase "
					"is set: set PKILAB_KEY_PASSPHRASE_FILE or PKILAB_KEY_PASSPHRASE",
					e->name);
				goto out;
			}
		}
		if ((rc = pkl_key_to_pem(key, pass, &keypem, err)) != PKL_OK ||
		    (rc = pkl_txn_put(txn, PKL_FILE_KEY, e->name, keypem.data, keypem.len, err)) != PKL_OK)
			goto out;
	}
	if ((rc = pkl_cert_to_pem(cert, &pem, err)) != PKL_OK ||
	    (rc = pkl_txn_put(txn, PKL_FILE_CERT, e->name, pem.data, pem.len, err)) != PKL_OK)
		goto out;
	/* Chain file: the certificate and the intermediates above it, no root. */
	if (iss && iss->chain.len && pkl_buf_append(&pem, iss->chain.data, iss->chain.len) != PKL_OK) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto out;
	}
	if ((rc = pkl_txn_put(txn, PKL_FILE_CHAIN, e->name, pem.data, pem.len, err)) != PKL_OK)
		goto out;
	if (req.is_ca && (rc = stage_ca_files(txn, pki, ctx, e, row.id, cert, key, err)) != PKL_OK)
		goto out;
	{
		char detail[256];
		snprintf(detail, sizeof(detail), "serial %s template %s", row.serial, row.template_name);
		if ((rc = pkl_db_event(pki->db, "issue", e->name, detail, err)) != PKL_OK)
			goto out;
	}
	*out_cert = cert;
	cert = NULL;
	if (out_key) {
		*out_key = key;
		key = NULL;
	}
	rc = PKL_OK;
out:
	pkl_buf_free(&iss_scratch.chain);
	pkl_key_passphrase_free(pass);
	pkl_buf_wipe(&keypem);
	pkl_buf_free(&pem);
	pkl_buf_free(&der);
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_NAME_free(subject);
	return rc;
}

enum pkl_rc pkl_issue_check_policy(const struct pkl_entity *e, pkl_time issuer_not_after,
				   const struct pkl_issue_words *w, struct pkl_err *err)
{
	char a[32], b[32];

	if (e->prof.role == PKL_ROLE_LEAF && e->prof.san_required && e->n_sans == 0)
		return pkl_err_set(
			err, PKL_EINPUT, w->where,
			"%s has no 'san' but template '%s' requires one (IKE peers match the identity "
			"against the SAN): %s",
			w->label, e->prof.template_name, w->san_fix);
	if (e->prof.max_validity && e->not_after - e->not_before > e->prof.max_validity)
		return pkl_err_set(err, PKL_EINPUT, w->validity_where,
				   "validity of %s is %s, more than the template's max_validity %s", w->label,
				   pkl_duration_fmt(e->not_after - e->not_before, a, sizeof(a)),
				   pkl_duration_fmt(e->prof.max_validity, b, sizeof(b)));
	if (e->issuer[0] && e->not_after > issuer_not_after && !e->prof.outlive_issuer)
		return pkl_err_set(err, PKL_EINPUT, w->where,
				   "%s would outlive its issuer '%s' (notAfter %s > %s): %s", e->name,
				   e->issuer, pkl_time_fmt(e->not_after, a, sizeof(a)),
				   pkl_time_fmt(issuer_not_after, b, sizeof(b)), w->outlive_fix);
	return PKL_OK;
}

/* The code of the error a function returning NULL recorded. */
static enum pkl_rc failed(const struct pkl_err *err)
{
	return err && err->rc ? err->rc : PKL_ERUNTIME;
}

/* pkl_err_where, returning rc. */
static enum pkl_rc located(struct pkl_err *err, enum pkl_rc rc, const char *where)
{
	pkl_err_where(err, where);
	return rc;
}

void pkl_issue_window(struct pkl_entity *e, pkl_time now, const pkl_time *not_before,
		      const pkl_time *not_after)
{
	/* validity is the whole window, from the back-dated notBefore, so that a
	 * template's validity can equal its max_validity (Apple's 825 days). */
	e->not_before = not_before ? *not_before : now - e->prof.backdate;
	e->not_after = not_after ? *not_after : e->not_before + e->prof.validity;
}

enum pkl_rc pkl_issue_times(struct pkl_entity *e, pkl_time now, const char *validity, const char *not_before,
			    const char *not_after, struct pkl_err *err)
{
	enum pkl_rc rc;
	int64_t v;
	pkl_time nb = 0, na = 0;

	if (validity) {
		if (pkl_duration_parse(validity, 0, &v, err) != PKL_OK || v <= 0)
			return pkl_err_set(err, PKL_EINPUT, "--validity", "bad validity '%s'", validity);
		e->prof.validity = v;
	}
	if (not_before && (rc = pkl_time_parse(not_before, now, &nb, err)) != PKL_OK)
		return located(err, rc, "--not-before");
	if (not_after && (rc = pkl_time_parse(not_after, now, &na, err)) != PKL_OK)
		return located(err, rc, "--not-after");
	pkl_issue_window(e, now, not_before ? &nb : NULL, not_after ? &na : NULL);
	if (e->not_after <= e->not_before)
		return pkl_err_set(err, PKL_EINPUT, NULL, "notAfter must be after notBefore");
	return PKL_OK;
}

/* A PKCS#10 request (PEM or DER) whose signature verifies with the key it
 * carries: proof of possession (RFC 2986 section 3). */
static enum pkl_rc load_csr(const char *path, X509_REQ **out, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	X509_REQ *req = NULL;
	enum pkl_rc rc;
	BIO *bio;

	if ((rc = pkl_file_read(path, 1u << 20, &b, err)) != PKL_OK)
		return rc;
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	if (bio)
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	if (!req) {
		const unsigned char *p = b.data;
		req = d2i_X509_REQ(NULL, &p, (long)b.len);
	}
	BIO_free(bio);
	pkl_buf_free(&b);
	if (!req)
		return pkl_err_ssl(err, PKL_EINPUT, path, "not a PKCS#10 certificate request (PEM or DER)");
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	if (!pub || X509_REQ_verify(req, pub) != 1) {
		X509_REQ_free(req);
		return pkl_err_ssl(err, PKL_EINPUT, path, "certificate request signature does not verify");
	}
	*out = req;
	return PKL_OK;
}

static const struct pkl_issue_words issue_words_cli = {
	.where = NULL,
	.validity_where = "--validity",
	.label = NULL, /* the name: set per call */
	.san_fix = "add --san",
	.outlive_fix = "shorten --validity or pass --outlive-issuer",
};

/* The entity `pkilab issue` asks for, before the PKI is opened: template,
 * name, SANs and, with a request, its key (checked) and subject. */
static enum pkl_rc issue_entity_of(const struct pkl_issue_opts *o, struct pkl_entity *e, X509_REQ **csr,
				   EVP_PKEY **key, struct pkl_err *err)
{
	enum pkl_rc rc;

	memset(e, 0, sizeof(*e));
	snprintf(e->where, sizeof(e->where), "--template %s", o->template_name);
	if ((rc = pkl_template_load(o->template_name, NULL, o->templates_dir, &e->prof, err)) != PKL_OK)
		return rc;
	if (e->prof.role == PKL_ROLE_ROOT)
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "template '%s' is a root: roots come from 'pkilab build'",
				   o->template_name);
	if (!pkl_lab_name_valid(o->name))
		return pkl_err_set(
			err, PKL_EINPUT, "--name",
			"bad name '%s': use letters, digits, '.', '-', '_' (max %d); it becomes a file name",
			o->name, PKL_NAME_MAX - 1);
	snprintf(e->name, sizeof(e->name), "%s", o->name);
	snprintf(e->issuer, sizeof(e->issuer), "%s", o->ca);
	snprintf(e->where, sizeof(e->where), "%s", o->name);
	e->is_ca = e->prof.role != PKL_ROLE_LEAF;
	e->prof.outlive_issuer |= o->outlive_issuer;
	for (size_t i = 0; i < o->n_sans; i++) {
		if (i >= PKL_MAX_SANS)
			return pkl_err_set(err, PKL_EINPUT, "--san", "at most %d SAN entries", PKL_MAX_SANS);
		if ((rc = pkl_san_parse(o->sans[i], &e->sans[e->n_sans++], err)) != PKL_OK)
			return located(err, rc, "--san");
	}
	if (o->csr_path) {
		if ((rc = load_csr(o->csr_path, csr, err)) != PKL_OK)
			return rc;
		*key = X509_REQ_get_pubkey(*csr);
		if (!o->subject) {
			char *dn = pkl_name_str(X509_REQ_get_subject_name(*csr));
			snprintf(e->subject, sizeof(e->subject), "%s", dn ? dn : "");
			free(dn);
		}
		/* The template's key rules hold for a request's key too (checked again,
		 * with "not a CA's key", where every issue passes: pkl_issue_entity). */
		if ((rc = pkl_key_policy_check(*key, NULL, err)) != PKL_OK)
			return located(err, rc, o->csr_path);
	}
	if (o->subject)
		snprintf(e->subject, sizeof(e->subject), "%s", o->subject);
	return PKL_OK;
}

enum pkl_rc pkl_issue(const char *pki_dir, const struct pkl_issue_opts *o, struct pkl_issue_result *out,
		      struct pkl_err *err)
{
	struct pkl_issue_words words = issue_words_cli;
	struct pkl_pki *pki = NULL;
	struct pkl_txn *txn = NULL;
	struct pkl_entity e;
	struct pkl_issue_ctx ctx;
	struct pkl_cert_row ca_row, row;
	X509_REQ *csr = NULL;
	X509 *ca_cert = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	enum pkl_rc rc;

	if ((rc = issue_entity_of(o, &e, &csr, &key, err)) != PKL_OK)
		goto out;
	if (!(pki = pkl_pki_open(pki_dir, 0, err))) {
		rc = failed(err);
		goto out;
	}
	if ((rc = pkl_issue_ctx_load(pki, &ctx, err)) != PKL_OK ||
	    (rc = pkl_db_cert_find(pki->db, o->ca, &ca_row, err)) != PKL_OK)
		goto out;
	ctx.origin = PKL_ORIGIN_ISSUE;
	if (!ca_row.is_ca) {
		rc = pkl_err_set(err, PKL_EINPUT, "--ca", "'%s' is not a CA", o->ca);
		goto out;
	}
	if (pkl_db_cert_find(pki->db, o->name, &row, NULL) == PKL_OK) {
		rc = pkl_err_set(err, PKL_EINPUT, "--name",
				 "'%s' already exists (serial %s): use 'pkilab renew %s' to replace it",
				 o->name, row.serial, o->name);
		goto out;
	}
	words.label = e.name;
	if ((rc = pkl_pki_check_unrecorded(pki, o->name, err)) != PKL_OK ||
	    (rc = pkl_issue_times(&e, ctx.now, o->validity, o->not_before, o->not_after, err)) != PKL_OK ||
	    (rc = pkl_issue_check_policy(&e, ca_row.not_after, &words, err)) != PKL_OK)
		goto out;
	if ((!csr && !(key = pkl_key_generate(&e.prof.key, err))) ||
	    !(ca_cert = pkl_pki_load_ca_cert(pki, o->ca, err)) ||
	    !(ca_key = pkl_pki_load_key(pki, o->ca, err)) || !(txn = pkl_txn_begin(pki, err))) {
		rc = failed(err);
		goto out;
	}
	if ((rc = pkl_issue_entity(txn, pki, &ctx, &e, ca_cert, ca_key, key, csr ? 0 : 1, &cert, NULL,
				   err)) != PKL_OK) {
		pkl_txn_abort(txn);
		goto out;
	}
	if ((rc = pkl_txn_commit(txn, err)) != PKL_OK)
		goto out;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", e.name);
	snprintf(out->issuer, sizeof(out->issuer), "%s", e.issuer);
	snprintf(out->subject, sizeof(out->subject), "%s", e.subject);
	pkl_serial_hex(cert, out->serial, sizeof(out->serial));
	out->not_after = e.not_after;
out:
	X509_REQ_free(csr);
	X509_free(ca_cert);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	pkl_pki_close(pki);
	return rc;
}
