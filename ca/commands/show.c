/*
 * pkilab show NAME|SERIAL [--json] [--pem]
 *
 * Everything about one certificate: the database row (status, revocation,
 * template) and what the certificate itself says (SANs, key usage, EKU,
 * CDP/AIA URLs, fingerprints); for a CA also its CRL state. The details are
 * gathered once as JSON and printed either as JSON or as "key: value" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/crl_state.h"
#include "pkilab/name.h"
#include "pkilab/revoke.h"
#include "pkilab/show.h"

/* Names as pkilab prints them (pkl_certread_name_text); a name with no
 * text is left out. */
static json_t *name_list(const struct pkl_certread_names *names, int prefix)
{
	json_t *a = json_array();
	char buf[512];

	for (size_t i = 0; i < names->n; i++) {
		pkl_certread_name_text(&names->v[i], prefix, buf, sizeof(buf));
		if (buf[0])
			json_array_append_new(a, json_string(buf));
	}
	return a;
}

static void cert_details(json_t *o, const struct pkl_show_cert *c)
{
	json_t *a;

	json_object_set_new(o, "issuer_dn", json_string(c->issuer_dn));
	json_object_set_new(o, "san", name_list(&c->san, 1));
	a = json_array();
	for (size_t i = 0; i < c->n_key_usage; i++)
		json_array_append_new(a, json_string(c->key_usage[i]));
	json_object_set_new(o, "key_usage", a);
	a = json_array();
	for (size_t i = 0; i < c->n_eku; i++)
		json_array_append_new(a, json_string(c->eku[i]));
	json_object_set_new(o, "extended_key_usage", a);
	json_object_set_new(o, "crl_distribution_points", name_list(&c->cdp, 0));
	a = json_array();
	for (size_t i = 0; i < c->ca_issuers.n; i++)
		json_array_append_new(
			a, json_stringn((const char *)c->ca_issuers.v[i].data, c->ca_issuers.v[i].len));
	json_object_set_new(o, "ca_issuers", a);
	if (c->has_subject_key_id)
		json_object_set_new(o, "subject_key_id", json_string(c->subject_key_id));
	if (c->public_key[0])
		json_object_set_new(o, "public_key", json_string(c->public_key));
	if (c->sha256[0])
		json_object_set_new(o, "sha256", json_string(c->sha256));
	if (c->sha1[0])
		json_object_set_new(o, "sha1", json_string(c->sha1));
}

static void print_text(json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		if (json_is_array(v)) {
			printf("%-24s", k);
			for (size_t i = 0; i < json_array_size(v); i++)
				printf("%s%s", i ? ", " : "", json_string_value(json_array_get(v, i)));
			printf("\n");
		} else if (json_is_object(v)) {
			const char *k2;
			json_t *v2;
			json_object_foreach(v, k2, v2)
			{
				char key[64];
				snprintf(key, sizeof(key), "%s.%s", k, k2);
				if (json_is_string(v2))
					printf("%-24s%s\n", key, json_string_value(v2));
				else if (json_is_integer(v2))
					printf("%-24s%lld\n", key, (long long)json_integer_value(v2));
			}
		} else if (json_is_string(v)) {
			printf("%-24s%s\n", k, json_string_value(v));
		} else if (json_is_integer(v)) {
			printf("%-24s%lld\n", k, (long long)json_integer_value(v));
		} else if (json_is_boolean(v)) {
			printf("%-24s%s\n", k, json_is_true(v) ? "yes" : "no");
		}
	}
}

int cmd_show(int argc, char **argv, struct pkl_cli *cli)
{
	int pem = 0, npos, status;
	const struct cli_opt opts[] = {
		{ "pem", 0, CLI_FLAG, &pem, NULL, "print the certificate as PEM instead" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;
	struct pkl_cert_row r;
	struct pkl_buf der = PKL_BUF_INIT, out = PKL_BUF_INIT;
	struct pkl_show_cert sc_cert = { 0 };
	json_t *o = NULL;
	pkl_time now = pkl_time_now();
	char t[32];

	status = cli_parse(argc, argv, opts, cli, "show NAME|SERIAL [--json] [--pem]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, "which certificate? (one NAME or SERIAL)");
	if (pkl_revoke_check_ref(argv[1], &err) != PKL_OK)
		return cli_fail(cli, &err);
	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki)
		return cli_fail(cli, &err);
	if (pkl_db_cert_find(pki->db, argv[1], &r, &err) != PKL_OK ||
	    pkl_db_cert_der(pki->db, r.id, &der, &err) != PKL_OK)
		goto out;
	if (pem) {
		if (pkl_show_cert_pem(der.data, der.len, r.name, &out, &err) == PKL_OK)
			fwrite(out.data, 1, out.len, stdout);
		goto out;
	}
	if (pkl_show_cert_read(der.data, der.len, r.name, &sc_cert, &err) != PKL_OK)
		goto out;
	o = json_object();
	json_object_set_new(o, "name", json_string(r.name));
	json_object_set_new(o, "kind",
			    json_string(!r.is_ca            ? "leaf" :
					r.issuer_id == r.id ? "root" :
							      "intermediate"));
	json_object_set_new(o, "issuer", json_string(r.issuer_name));
	json_object_set_new(o, "serial", json_string(r.serial));
	json_object_set_new(o, "subject", json_string(r.subject));
	json_object_set_new(o, "template", json_string(r.template_name));
	json_object_set_new(o, "key_spec", json_string(r.key_spec));
	json_object_set_new(o, "key_encrypted", json_boolean(r.key_encrypted));
	json_object_set_new(o, "current", json_boolean(r.current));
	json_object_set_new(o, "not_before", json_string(pkl_time_fmt(r.not_before, t, sizeof(t))));
	json_object_set_new(o, "not_after", json_string(pkl_time_fmt(r.not_after, t, sizeof(t))));
	json_object_set_new(o, "issued_at", json_string(pkl_time_fmt(r.issued_at, t, sizeof(t))));
	json_object_set_new(o, "status",
			    json_string(r.status == PKL_STATUS_REVOKED ? "revoked" :
					r.not_after <= now             ? "expired" :
					r.not_before > now             ? "not-yet-valid" :
									 "valid"));
	if (r.status == PKL_STATUS_REVOKED) {
		json_object_set_new(o, "revoked_at", json_string(pkl_time_fmt(r.revoked_at, t, sizeof(t))));
		json_object_set_new(o, "reason", json_string(pkl_reason_label(r.reason)));
		if (r.invalidity)
			json_object_set_new(o, "invalidity_date",
					    json_string(pkl_time_fmt(r.invalidity, t, sizeof(t))));
	}
	cert_details(o, &sc_cert);
	if (r.is_ca) {
		struct pkl_ca_state cs;
		struct pkl_crl_status st;
		char line[1024];
		if (pkl_db_ca_get(pki->db, r.name, &cs, NULL) == PKL_OK && cs.cert_id == r.id) {
			json_t *c = json_object();
			char lt[32];
			json_object_set_new(c, "lifetime",
					    json_string(pkl_duration_fmt(cs.crl_lifetime, lt, sizeof(lt))));
			json_object_set_new(c, "number", json_string(cs.crl_number));
			json_object_set_new(c, "this_update",
					    json_string(pkl_time_fmt(cs.crl_this_update, t, sizeof(t))));
			json_object_set_new(c, "next_update",
					    json_string(pkl_time_fmt(cs.crl_next_update, t, sizeof(t))));
			/* The published CRL judged as every command judges it (pkilab/crl_state.h). */
			if (pkl_crl_state_judge(pki, r.name, now, &st, NULL, &err) != PKL_OK) {
				json_decref(c);
				goto out;
			}
			json_object_set_new(c, "path", json_string(st.path));
			json_object_set_new(c, "published", json_string(pkl_crl_state_name(st.state)));
			json_object_set_new(
				c, "detail",
				json_string(pkl_crl_state_describe(&st, now, line, sizeof(line))));
			json_object_set_new(o, "crl", c);
		}
	}
	if (cli->json) {
		cli_print_json(cli, o);
	} else {
		print_text(o);
	}
out:
	json_decref(o);
	pkl_show_cert_free(&sc_cert);
	pkl_buf_free(&der);
	pkl_buf_free(&out);
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
