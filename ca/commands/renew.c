/*
 * pkilab renew NAME [--reuse-key] [--revoke-old] [--validity D]
 *
 * A new certificate for the same name, subject, SANs, template and issuer:
 * the subject and SANs are read back from the current certificate, the
 * profile from its template, the CDP/AIA bases from the PKI. A new key by
 * default (--reuse-key keeps it); the old certificate stays in the database
 * as superseded history and, with --revoke-old, is revoked as superseded.
 * Everything — retire, revoke, new row, key, certificate and chain files —
 * is one transaction.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509v3.h>

#include "../cli/cli.h"
#include "pkilab/cert.h"
#include "pkilab/issue.h"
#include "pkilab/revoke.h"

/* SANs of the old certificate, in order. With ip_as_dns the issuer writes an
 * IP SAN also as a dNSName: those copies are skipped so they are not doubled. */
static enum pkl_rc sans_of(X509 *x, int ip_as_dns, struct pkl_entity *e, struct pkl_err *err)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	enum pkl_rc rc = PKL_OK;
	char buf[300];

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && rc == PKL_OK; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		unsigned char tmp[16];
		buf[0] = '\0';
		if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
			const ASN1_IA5STRING *s = g->d.ia5;
			snprintf(buf, sizeof(buf), "%s:%.*s",
				 g->type == GEN_DNS ? "DNS" : g->type == GEN_EMAIL ? "email" : "URI",
				 ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
			if (g->type == GEN_DNS && ip_as_dns &&
			    (inet_pton(AF_INET, buf + 4, tmp) == 1 || inet_pton(AF_INET6, buf + 4, tmp) == 1))
				continue;
		} else if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);
			char ip[64];
			if ((l != 4 && l != 16) ||
			    !inet_ntop(l == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), ip,
				       sizeof(ip)))
				continue;
			snprintf(buf, sizeof(buf), "IP:%s", ip);
		} else {
			continue;
		}
		if (e->n_sans >= PKL_MAX_SANS) {
			rc = pkl_err_set(err, PKL_EINPUT, NULL, "more than %d SANs", PKL_MAX_SANS);
			break;
		}
		rc = pkl_san_parse(buf, &e->sans[e->n_sans], err);
		if (rc == PKL_OK)
			e->n_sans++;
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

int cmd_renew(int argc, char **argv, struct pkl_cli *cli)
{
	const char *validity = NULL;
	int reuse = 0, revoke_old = 0, npos, status;
	const struct cli_opt opts[] = {
		{ "reuse-key", 0, CLI_FLAG, &reuse, NULL, "keep the current private key (default: a new one)" },
		{ "revoke-old", 0, CLI_FLAG, &revoke_old, NULL, "revoke the old certificate as superseded" },
		{ "validity", 0, CLI_STR, &validity, "D", "override the template's validity, e.g. 90d" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;
	struct pkl_txn *txn = NULL;
	struct pkl_issue_ctx ctx;
	struct pkl_entity e;
	struct pkl_cert_row old, iss;
	struct pkl_key_spec spec;
	struct pkl_buf der = PKL_BUF_INIT;
	X509 *oldx = NULL, *ca_cert = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	char serial[41], t1[32], t2[32];

	status = cli_parse(argc, argv, opts, cli, "renew NAME [--reuse-key] [--revoke-old] [--validity D]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, "which certificate? (one NAME)");
	if (pkl_revoke_check_ref(argv[1], &err) != PKL_OK)
		return cli_fail(cli, &err);
	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki || pkl_issue_ctx_load(pki, &ctx, &err) != PKL_OK)
		goto out;
	if (pkl_db_cert_find(pki->db, argv[1], &old, &err) != PKL_OK)
		goto out;
	if (!old.current) {
		pkl_err_set(&err, PKL_EINPUT, NULL, "serial %s is a superseded certificate of '%s': renew '%s'",
			    old.serial, old.name, old.name);
		goto out;
	}
	if (old.is_ca) {
		pkl_err_set(&err, PKL_EINPUT, NULL,
			    "'%s' is a CA: renewing CAs is not supported (its CRL and everything it signed "
			    "depend on it); add a new CA generation to the lab instead", old.name);
		goto out;
	}
	if (reuse && old.status == PKL_STATUS_REVOKED && old.reason == PKL_REASON_KEY_COMPROMISE) {
		pkl_err_set(&err, PKL_EINPUT, NULL,
			    "'%s' was revoked for keyCompromise: its key must not be reused", old.name);
		goto out;
	}
	memset(&e, 0, sizeof(e));
	snprintf(e.where, sizeof(e.where), "%s (template %s)", old.name, old.template_name);
	if (pkl_template_load(old.template_name, NULL, &e.prof, &err) != PKL_OK)
		goto out;
	snprintf(e.name, sizeof(e.name), "%s", old.name);
	snprintf(e.issuer, sizeof(e.issuer), "%s", old.issuer_name);
	snprintf(e.subject, sizeof(e.subject), "%s", old.subject);
	e.is_ca = 0;
	/* The key type of the old certificate wins over the template's default:
	 * the lab may have overridden it. */
	if (old.key_spec[0] && pkl_key_spec_parse(old.key_spec, &spec, NULL) == PKL_OK)
		e.prof.key = spec;
	if (pkl_db_cert_der(pki->db, old.id, &der, &err) != PKL_OK ||
	    !(oldx = pkl_cert_from_der(der.data, der.len, old.name, &err)) ||
	    sans_of(oldx, e.prof.ip_as_dns, &e, &err) != PKL_OK)
		goto out;
	if (validity) {
		int64_t v;
		if (pkl_duration_parse(validity, 0, &v, &err) != PKL_OK || v <= 0) {
			pkl_err_set(&err, PKL_EINPUT, "--validity", "bad validity '%s'", validity);
			goto out;
		}
		e.prof.validity = v;
	}
	e.not_before = ctx.now - e.prof.backdate;
	e.not_after = ctx.now + e.prof.validity;
	if (e.prof.max_validity && e.not_after - e.not_before > e.prof.max_validity) {
		pkl_err_set(&err, PKL_EINPUT, "--validity", "%s is longer than the template's max_validity %s",
			    pkl_duration_fmt(e.not_after - e.not_before, t1, sizeof(t1)),
			    pkl_duration_fmt(e.prof.max_validity, t2, sizeof(t2)));
		goto out;
	}
	if (pkl_db_cert_find(pki->db, old.issuer_name, &iss, &err) != PKL_OK)
		goto out;
	if (e.not_after > iss.not_after && !e.prof.outlive_issuer) {
		pkl_err_set(&err, PKL_EINPUT, NULL,
			    "the renewed '%s' would outlive its issuer '%s' (notAfter %s > %s): pass a "
			    "shorter --validity", old.name, iss.name, pkl_time_fmt(e.not_after, t1, sizeof(t1)),
			    pkl_time_fmt(iss.not_after, t2, sizeof(t2)));
		goto out;
	}
	if (reuse && !(key = pkl_pki_load_key(pki, old.name, &err)))
		goto out;
	if (!reuse && !(key = pkl_key_generate(&e.prof.key, &err)))
		goto out;
	if (!(ca_cert = pkl_pki_load_ca_cert(pki, iss.name, &err)) || !(ca_key = pkl_pki_load_key(pki, iss.name, &err)))
		goto out;

	if (!(txn = pkl_txn_begin(pki, &err)))
		goto out;
	{
		/* Re-read under the write lock: another process may have renewed meanwhile. */
		struct pkl_cert_row again;
		if (pkl_db_cert_find(pki->db, old.name, &again, &err) != PKL_OK)
			goto abort;
		if (again.id != old.id) {
			pkl_err_set(&err, PKL_EINPUT, NULL, "'%s' was renewed concurrently (serial %s)",
				    old.name, again.serial);
			goto abort;
		}
	}
	if (pkl_db_cert_retire(pki->db, old.id, &err) != PKL_OK)
		goto abort;
	if (revoke_old && old.status != PKL_STATUS_REVOKED &&
	    pkl_db_cert_revoke(pki->db, old.id, ctx.now, PKL_REASON_SUPERSEDED, 0, NULL, &err) != PKL_OK)
		goto abort;
	if (pkl_issue_entity(txn, pki, &ctx, &e, ca_cert, ca_key, key, 1, &cert, NULL, &err) != PKL_OK)
		goto abort;
	pkl_serial_hex(cert, serial, sizeof(serial));
	{
		char detail[160];
		snprintf(detail, sizeof(detail), "serial %s replaces %s%s%s", serial, old.serial,
			 reuse ? ", same key" : ", new key", revoke_old ? ", old revoked (superseded)" : "");
		if (pkl_db_event(pki->db, "renew", old.name, detail, &err) != PKL_OK)
			goto abort;
	}
	if (pkl_txn_commit(txn, &err) != PKL_OK) {
		txn = NULL;
		goto out;
	}
	txn = NULL;
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "name", old.name, "serial", serial,
				      "old_serial", old.serial, "issuer", iss.name, "new_key", !reuse,
				      "old_revoked", revoke_old, "not_after", pkl_time_fmt(e.not_after, t1, sizeof(t1)));
		cli_print_json(cli, o);
		json_decref(o);
	} else if (cli->verbose >= 0) {
		printf("renewed %s: serial %s (was %s), %s, valid until %s%s\n", old.name, serial, old.serial,
		       reuse ? "same key" : "new key", pkl_time_fmt(e.not_after, t1, sizeof(t1)),
		       revoke_old ? "; old one revoked as superseded: run 'pkilab crl'" : "");
	}
	goto out;
abort:
	pkl_txn_abort(txn);
	txn = NULL;
out:
	pkl_buf_free(&der);
	X509_free(oldx);
	X509_free(ca_cert);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
