/*
 * pkilab issue --ca CA --template T --name N --subject DN [--san S]...
 *              [--csr FILE] [--validity D] [--not-before T] [--not-after T]
 *
 * Issues one certificate from a template into an existing PKI, with a key
 * generated here or for the public key of an external CSR (whose signature
 * is checked; its requested extensions are ignored: the template decides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/file.h"
#include "pkilab/issue.h"
#include "pkilab/key.h"
#include "pkilab/name.h"

static X509_REQ *load_csr(const char *path, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	X509_REQ *req = NULL;
	BIO *bio;

	if (pkl_file_read(path, 1u << 20, &b, err) != PKL_OK)
		return NULL;
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	if (bio)
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	if (!req) {
		const unsigned char *p = b.data;
		req = d2i_X509_REQ(NULL, &p, (long)b.len);
	}
	BIO_free(bio);
	pkl_buf_free(&b);
	if (!req) {
		pkl_err_ssl(err, PKL_EINPUT, path, "not a PKCS#10 certificate request (PEM or DER)");
		return NULL;
	}
	/* Proof of possession: the request must be signed by the key it carries. */
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	if (!pub || X509_REQ_verify(req, pub) != 1) {
		pkl_err_ssl(err, PKL_EINPUT, path, "certificate request signature does not verify");
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

int cmd_issue(int argc, char **argv, struct pkl_cli *cli)
{
	const char *ca = NULL, *tmpl = NULL, *name = NULL, *subject = NULL, *csr_path = NULL;
	const char *validity = NULL, *not_before = NULL, *not_after = NULL;
	int outlive = 0, npos, status;
	struct cli_list sans = { 0 };
	const struct cli_opt opts[] = {
		{ "ca", 0, CLI_STR, &ca, "CA", "the issuing CA (a name in the PKI)" },
		{ "template", 't', CLI_STR, &tmpl, "T", "template name (templates/T.cfg)" },
		{ "name", 'n', CLI_STR, &name, "N", "name of the new certificate in the PKI" },
		{ "subject", 's', CLI_STR, &subject, "DN", "subject, e.g. \"CN=vpn.example.com\" (default: the CSR's)" },
		{ "san", 0, CLI_LIST, &sans, "S", "subjectAltName: DNS:x, IP:x, email:x, URI:x or bare (repeatable)" },
		{ "csr", 0, CLI_STR, &csr_path, "FILE", "sign this PKCS#10 request instead of generating a key" },
		{ "validity", 0, CLI_STR, &validity, "D", "override the template's validity, e.g. 90d" },
		{ "not-before", 0, CLI_STR, &not_before, "T", "absolute or relative notBefore" },
		{ "not-after", 0, CLI_STR, &not_after, "T", "absolute or relative notAfter" },
		{ "outlive-issuer", 0, CLI_FLAG, &outlive, NULL, "allow notAfter beyond the issuer's" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;
	struct pkl_txn *txn = NULL;
	struct pkl_entity e;
	struct pkl_issue_ctx ctx;
	struct pkl_cert_row ca_row, row;
	X509_REQ *csr = NULL;
	X509 *ca_cert = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	char serial[41], buf[64];

	status = cli_parse(argc, argv, opts, cli,
			   "issue --ca CA --template T --name N [--subject DN] [--san S]... [--csr FILE]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (!ca || !tmpl || !name)
		return cli_usage_error(cli, "--ca, --template and --name are required");
	if (!subject && !csr_path)
		return cli_usage_error(cli, "--subject is required (or --csr to take the request's)");

	memset(&e, 0, sizeof(e));
	snprintf(e.where, sizeof(e.where), "--template %s", tmpl);
	if (pkl_template_load(tmpl, NULL, &e.prof, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (e.prof.role == PKL_ROLE_ROOT) {
		pkl_err_set(&err, PKL_EINPUT, NULL, "template '%s' is a root: roots come from 'pkilab build'", tmpl);
		return cli_fail(cli, &err);
	}
	if (!pkl_lab_name_valid(name)) {
		pkl_err_set(&err, PKL_EINPUT, "--name",
			    "bad name '%s': use letters, digits, '.', '-', '_' (max %d); it becomes a file name",
			    name, PKL_NAME_MAX - 1);
		return cli_fail(cli, &err);
	}
	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.issuer, sizeof(e.issuer), "%s", ca);
	snprintf(e.where, sizeof(e.where), "%s", name);
	e.is_ca = e.prof.role != PKL_ROLE_LEAF;
	e.prof.outlive_issuer |= outlive;
	for (size_t i = 0; i < sans.n; i++) {
		if (i >= PKL_MAX_SANS) {
			pkl_err_set(&err, PKL_EINPUT, "--san", "at most %d SAN entries", PKL_MAX_SANS);
			goto out;
		}
		if (pkl_san_parse(sans.v[i], &e.sans[e.n_sans++], &err) != PKL_OK) {
			pkl_err_where(&err, "--san");
			goto out;
		}
	}
	if (e.prof.san_required && !e.n_sans) {
		pkl_err_set(&err, PKL_EINPUT, NULL,
			    "template '%s' requires a SAN (IKE peers match the identity against it): add --san", tmpl);
		goto out;
	}
	if (csr_path) {
		csr = load_csr(csr_path, &err);
		if (!csr)
			goto out;
		key = X509_REQ_get_pubkey(csr);
		if (!subject) {
			char *dn = pkl_name_str(X509_REQ_get_subject_name(csr));
			snprintf(e.subject, sizeof(e.subject), "%s", dn ? dn : "");
			free(dn);
		}
		/* The template's key rules hold for a CSR's key too (checked again,
		 * with "not a CA's key", where every issue passes: pkl_issue_entity). */
		if (pkl_key_policy_check(key, NULL, &err) != PKL_OK) {
			pkl_err_where(&err, csr_path);
			goto out;
		}
	}
	if (subject)
		snprintf(e.subject, sizeof(e.subject), "%s", subject);

	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki || pkl_issue_ctx_load(pki, &ctx, &err) != PKL_OK)
		goto out;
	if (pkl_db_cert_find(pki->db, ca, &ca_row, &err) != PKL_OK)
		goto out;
	if (!ca_row.is_ca) {
		pkl_err_set(&err, PKL_EINPUT, "--ca", "'%s' is not a CA", ca);
		goto out;
	}
	if (pkl_db_cert_find(pki->db, name, &row, NULL) == PKL_OK) {
		pkl_err_set(&err, PKL_EINPUT, "--name",
			    "'%s' already exists (serial %s): use 'pkilab renew %s' to replace it", name, row.serial, name);
		goto out;
	}
	if (pkl_pki_check_unrecorded(pki, name, &err) != PKL_OK)
		goto out;
	/* Times: like a lab entry, relative to now. */
	{
		int64_t v;
		pkl_time t;
		if (validity) {
			if (pkl_duration_parse(validity, 0, &v, &err) != PKL_OK || v <= 0) {
				pkl_err_set(&err, PKL_EINPUT, "--validity", "bad validity '%s'", validity);
				goto out;
			}
			e.prof.validity = v;
		}
		e.not_before = ctx.now - e.prof.backdate;
		e.not_after = e.not_before + e.prof.validity;
		if (not_before) {
			if (pkl_time_parse(not_before, ctx.now, &t, &err) != PKL_OK) {
				pkl_err_where(&err, "--not-before");
				goto out;
			}
			e.not_before = t;
			e.not_after = t + e.prof.validity;
		}
		if (not_after) {
			if (pkl_time_parse(not_after, ctx.now, &t, &err) != PKL_OK) {
				pkl_err_where(&err, "--not-after");
				goto out;
			}
			e.not_after = t;
		}
		if (e.not_after <= e.not_before) {
			pkl_err_set(&err, PKL_EINPUT, NULL, "notAfter must be after notBefore");
			goto out;
		}
		if (e.prof.max_validity && e.not_after - e.not_before > e.prof.max_validity) {
			char mx[32];
			pkl_err_set(&err, PKL_EINPUT, "--validity", "%s is longer than the template's max_validity %s",
				    pkl_duration_fmt(e.not_after - e.not_before, buf, sizeof(buf)),
				    pkl_duration_fmt(e.prof.max_validity, mx, sizeof(mx)));
			goto out;
		}
		if (e.not_after > ca_row.not_after && !e.prof.outlive_issuer) {
			char a[32], b[32];
			pkl_err_set(&err, PKL_EINPUT, NULL,
				    "%s would outlive its issuer '%s' (notAfter %s > %s): shorten --validity or pass --outlive-issuer",
				    name, ca, pkl_time_fmt(e.not_after, a, sizeof(a)), pkl_time_fmt(ca_row.not_after, b, sizeof(b)));
			goto out;
		}
	}
	if (!csr && !(key = pkl_key_generate(&e.prof.key, &err)))
		goto out;
	if (!(ca_cert = pkl_pki_load_ca_cert(pki, ca, &err)) || !(ca_key = pkl_pki_load_key(pki, ca, &err)))
		goto out;
	if (!(txn = pkl_txn_begin(pki, &err)))
		goto out;
	if (pkl_issue_entity(txn, pki, &ctx, &e, ca_cert, ca_key, key, csr ? 0 : 1, &cert, NULL, &err) != PKL_OK) {
		pkl_txn_abort(txn);
		goto out;
	}
	if (pkl_txn_commit(txn, &err) != PKL_OK)
		goto out;
	pkl_serial_hex(cert, serial, sizeof(serial));
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "issuer", ca, "serial", serial,
				      "subject", e.subject, "not_after", pkl_time_fmt(e.not_after, buf, sizeof(buf)));
		cli_print_json(cli, o);
		json_decref(o);
	} else if (cli->verbose >= 0) {
		printf("issued %s (serial %s) by %s, valid until %s\n", name, serial, ca,
		       pkl_time_fmt(e.not_after, buf, sizeof(buf)));
	}
out:
	X509_REQ_free(csr);
	X509_free(ca_cert);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
