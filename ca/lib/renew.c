/*
 * `pkilab renew` (see pkilab/issue.h): a new certificate for the same name,
 * subject, SANs, template and issuer. The subject and SANs are read back
 * from the current certificate, the profile from its template, the CDP/AIA
 * bases from the PKI; it passes the same policy as every issue
 * (pkl_issue_check_policy) and is issued by the same engine
 * (pkl_issue_entity). Retiring the old row, revoking it, the new row, key,
 * certificate and chain files are one transaction.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "pkilab/build.h"
#include "pkilab/cert.h"
#include "pkilab/certread.h"
#include "pkilab/crl.h"
#include "pkilab/issue.h"
#include "pkilab/revoke.h"

/* SANs of the old certificate, in order. With ip_as_dns the issuer writes an
 * IP SAN also as a dNSName: those copies are skipped so they are not doubled. */
static enum pkl_rc sans_of(X509 *x, int ip_as_dns, struct pkl_entity *e, struct pkl_err *err)
{
	struct pkl_certread_names san;
	enum pkl_rc rc = pkl_certread_san(x, &san, err);
	char buf[300];

	for (size_t i = 0; rc == PKL_OK && i < san.n; i++) {
		const struct pkl_certread_name *g = &san.v[i];
		unsigned char tmp[16];
		if (!pkl_certread_name_text(g, 1, buf, sizeof(buf)))
			continue;
		if (g->type == PKL_SAN_DNS && ip_as_dns &&
		    (inet_pton(AF_INET, buf + 4, tmp) == 1 || inet_pton(AF_INET6, buf + 4, tmp) == 1))
			continue;
		if (e->n_sans >= PKL_MAX_SANS) {
			rc = pkl_err_set(err, PKL_EINPUT, NULL, "more than %d SANs", PKL_MAX_SANS);
			break;
		}
		rc = pkl_san_parse(buf, &e->sans[e->n_sans], err);
		if (rc == PKL_OK)
			e->n_sans++;
	}
	pkl_certread_names_free(&san);
	return rc;
}

static const struct pkl_issue_words renew_words = {
	.where = NULL,
	.validity_where = "--validity",
	.label = NULL, /* the name: set per call */
	.san_fix = "issue a new one with 'pkilab issue --san'",
	.outlive_fix = "pass a shorter --validity",
};

/* The code of the error a function returning NULL recorded. */
static enum pkl_rc failed(const struct pkl_err *err)
{
	return err && err->rc ? err->rc : PKL_ERUNTIME;
}

/* The current certificate o->ref names, if it may be renewed as asked. */
static enum pkl_rc renewable(struct pkl_pki *pki, const struct pkl_renew_opts *o, struct pkl_cert_row *old,
			     struct pkl_err *err)
{
	enum pkl_rc rc;

	if ((rc = pkl_db_cert_find(pki->db, o->ref, old, err)) != PKL_OK)
		return rc;
	if (!old->current)
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "serial %s is a superseded certificate of '%s': renew '%s'", old->serial,
				   old->name, old->name);
	if (old->is_ca)
		return pkl_err_set(
			err, PKL_EINPUT, NULL,
			"'%s' is a CA: renewing CAs is not supported (its CRL and everything it signed "
			"depend on it); add a new CA generation to the lab instead",
			old->name);
	if (o->reuse_key && old->status == PKL_STATUS_REVOKED && old->reason == PKL_REASON_KEY_COMPROMISE)
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "'%s' was revoked for keyCompromise: its key must not be reused",
				   old->name);
	return PKL_OK;
}

/* The entity to issue: the old one's name, issuer, subject and SANs, its
 * template's profile with the key type the old certificate recorded (the lab
 * may have overridden the template's). */
static enum pkl_rc entity_of(struct pkl_pki *pki, const struct pkl_cert_row *old, const char *templates_dir,
			     struct pkl_entity *e, struct pkl_err *err)
{
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_key_spec spec;
	X509 *oldx = NULL;
	enum pkl_rc rc;

	memset(e, 0, sizeof(*e));
	snprintf(e->where, sizeof(e->where), "%s (template %s)", old->name, old->template_name);
	if ((rc = pkl_template_load(old->template_name, NULL, templates_dir, &e->prof, err)) != PKL_OK)
		return rc;
	snprintf(e->name, sizeof(e->name), "%s", old->name);
	snprintf(e->issuer, sizeof(e->issuer), "%s", old->issuer_name);
	snprintf(e->subject, sizeof(e->subject), "%s", old->subject);
	e->is_ca = 0;
	if (old->key_spec[0] && pkl_key_spec_parse(old->key_spec, &spec, NULL) == PKL_OK)
		e->prof.key = spec;
	if ((rc = pkl_db_cert_der(pki->db, old->id, &der, err)) == PKL_OK) {
		if (!(oldx = pkl_cert_from_der(der.data, der.len, old->name, err)))
			rc = failed(err);
		else
			rc = sans_of(oldx, e->prof.ip_as_dns, e, err);
	}
	X509_free(oldx);
	pkl_buf_free(&der);
	return rc;
}

/* renew --lab: the lab's entry of the same name, as build would issue it.
 * Only the lab that built the PKI (build.h) may say what its certificates
 * are; a PKI without the record (built before it existed) is accepted. */
static enum pkl_rc entity_from_lab(struct pkl_pki *pki, const struct pkl_renew_opts *o,
				   const struct pkl_cert_row *old, struct pkl_entity *e, struct pkl_err *err)
{
	const struct pkl_entity *le = pkl_lab_find(o->lab, old->name);
	char built[PKL_NAME_MAX * 4], spec[32];
	enum pkl_rc rc;

	if ((rc = pkl_db_meta_get(pki->db, PKL_BUILD_META_LAB_NAME, built, sizeof(built), err)) != PKL_OK)
		return rc;
	if (built[0] && strcmp(built, o->lab->name) != 0)
		return pkl_err_set(err, PKL_EINPUT, o->lab->path,
				   "lab '%s' did not build this PKI (lab '%s' did): renew without --lab, or "
				   "with that lab",
				   o->lab->name, built);
	if (!le)
		return pkl_err_set(err, PKL_EINPUT, o->lab->path,
				   "'%s' is not in lab '%s': renew it without --lab, or revoke it", old->name,
				   o->lab->name);
	if (le->is_ca)
		return pkl_err_set(err, PKL_EINPUT, le->where,
				   "'%s' is a CA in the lab: renewing CAs is not supported", le->name);
	pkl_key_spec_str(&le->prof.key, spec, sizeof(spec));
	if (o->reuse_key && strcmp(spec, old->key_spec) != 0)
		return pkl_err_set(err, PKL_EINPUT, le->where,
				   "--reuse-key: the lab gives '%s' a %s key, the current one is %s",
				   le->name, spec, old->key_spec);
	*e = *le;
	return PKL_OK;
}

/* Inside the transaction: retire (and revoke) the old row, issue, log. */
static enum pkl_rc renew_in(struct pkl_txn *txn, struct pkl_pki *pki, const struct pkl_issue_ctx *ctx,
			    const struct pkl_renew_opts *o, const struct pkl_cert_row *old,
			    const struct pkl_entity *e, X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *key,
			    char serial[41], struct pkl_err *err)
{
	struct pkl_cert_row again;
	X509 *cert = NULL;
	char detail[160];
	enum pkl_rc rc;

	/* Re-read under the write lock: another process may have renewed meanwhile. */
	if ((rc = pkl_db_cert_find(pki->db, old->name, &again, err)) != PKL_OK)
		return rc;
	if (again.id != old->id)
		return pkl_err_set(err, PKL_EINPUT, NULL, "'%s' was renewed concurrently (serial %s)",
				   old->name, again.serial);
	if ((rc = pkl_db_cert_retire(pki->db, old->id, err)) != PKL_OK)
		return rc;
	if (o->revoke_old && old->status != PKL_STATUS_REVOKED &&
	    (rc = pkl_db_cert_revoke(pki->db, old->id, ctx->now - PKL_CRL_BACKDATE, PKL_REASON_SUPERSEDED, 0,
				     NULL, err)) != PKL_OK)
		return rc;
	if ((rc = pkl_issue_entity(txn, pki, ctx, e, ca_cert, ca_key, key, 1, &cert, NULL, err)) != PKL_OK)
		return rc;
	pkl_serial_hex(cert, serial, 41);
	X509_free(cert);
	snprintf(detail, sizeof(detail), "serial %s replaces %s%s%s", serial, old->serial,
		 o->reuse_key ? ", same key" : ", new key",
		 o->revoke_old ? ", old revoked (superseded)" : "");
	return pkl_db_event(pki->db, "renew", old->name, detail, err);
}

enum pkl_rc pkl_renew(const char *pki_dir, const struct pkl_renew_opts *o, struct pkl_renew_result *out,
		      struct pkl_err *err)
{
	struct pkl_issue_words words = renew_words;
	struct pkl_pki *pki = NULL;
	struct pkl_txn *txn = NULL;
	struct pkl_issue_ctx ctx;
	struct pkl_entity e;
	struct pkl_cert_row old, iss;
	X509 *ca_cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	char serial[41];
	enum pkl_rc rc;

	if ((rc = pkl_revoke_check_ref(o->ref, err)) != PKL_OK)
		return rc;
	if (!(pki = pkl_pki_open(pki_dir, 0, err)))
		return failed(err);
	if ((rc = pkl_issue_ctx_load(pki, &ctx, err)) != PKL_OK ||
	    (rc = renewable(pki, o, &old, err)) != PKL_OK ||
	    (rc = (o->lab ? entity_from_lab(pki, o, &old, &e, err) :
			    entity_of(pki, &old, o->templates_dir, &e, err))) != PKL_OK ||
	    (rc = pkl_issue_times(&e, ctx.now, o->validity, NULL, NULL, err)) != PKL_OK ||
	    (rc = pkl_db_cert_find(pki->db, old.issuer_name, &iss, err)) != PKL_OK)
		goto out;
	/* The successor is what its predecessor was, or the lab's with --lab. */
	ctx.origin = o->lab ? PKL_ORIGIN_LAB : old.origin;
	words.label = e.name;
	if (o->lab)
		words.where = e.where;
	if ((rc = pkl_issue_check_policy(&e, iss.not_after, &words, err)) != PKL_OK)
		goto out;
	if (!(key = o->reuse_key ? pkl_pki_load_key(pki, old.name, err) :
				   pkl_key_generate(&e.prof.key, err)) ||
	    !(ca_cert = pkl_pki_load_ca_cert(pki, iss.name, err)) ||
	    !(ca_key = pkl_pki_load_key(pki, iss.name, err)) || !(txn = pkl_txn_begin(pki, err))) {
		rc = failed(err);
		goto out;
	}
	if ((rc = renew_in(txn, pki, &ctx, o, &old, &e, ca_cert, ca_key, key, serial, err)) != PKL_OK) {
		pkl_txn_abort(txn);
		goto out;
	}
	if ((rc = pkl_txn_commit(txn, err)) != PKL_OK)
		goto out;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", old.name);
	snprintf(out->issuer, sizeof(out->issuer), "%s", iss.name);
	snprintf(out->serial, sizeof(out->serial), "%s", serial);
	snprintf(out->old_serial, sizeof(out->old_serial), "%s", old.serial);
	out->new_key = !o->reuse_key;
	out->old_revoked = o->revoke_old;
	out->not_after = e.not_after;
out:
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	pkl_pki_close(pki);
	return rc;
}
