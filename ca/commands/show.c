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
#include <arpa/inet.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "../cli/cli.h"
#include "pkilab/cert.h"
#include "pkilab/crl_read.h"
#include "pkilab/name.h"
#include "pkilab/revoke.h"

static json_t *gen_names(const GENERAL_NAMES *gens, int uris_only)
{
	json_t *a = json_array();
	char buf[512];

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *pfx = NULL;
		buf[0] = '\0';
		if (g->type == GEN_URI) {
			pfx = uris_only ? "" : "URI:";
		} else if (uris_only) {
			continue;
		} else if (g->type == GEN_DNS) {
			pfx = "DNS:";
		} else if (g->type == GEN_EMAIL) {
			pfx = "email:";
		} else if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);
			char ip[64] = "?";
			if (l == 4 || l == 16)
				inet_ntop(l == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress),
					  ip, sizeof(ip));
			snprintf(buf, sizeof(buf), "IP:%s", ip);
		}
		if (pfx) {
			const ASN1_IA5STRING *s = g->d.ia5;
			snprintf(buf, sizeof(buf), "%s%.*s", pfx, ASN1_STRING_length(s),
				 (const char *)ASN1_STRING_get0_data(s));
		}
		if (buf[0])
			json_array_append_new(a, json_string(buf));
	}
	return a;
}

static void hexstr(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o + 4 < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%02X", i ? ":" : "", p[i]);
}

static void cert_details(json_t *o, X509 *x)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} kus[] = {
		{ KU_DIGITAL_SIGNATURE, "digitalSignature" }, { KU_NON_REPUDIATION, "nonRepudiation" },
		{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },   { KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ KU_KEY_AGREEMENT, "keyAgreement" },	      { KU_KEY_CERT_SIGN, "keyCertSign" },
		{ KU_CRL_SIGN, "cRLSign" },		      { KU_ENCIPHER_ONLY, "encipherOnly" },
		{ KU_DECIPHER_ONLY, "decipherOnly" },
	};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char buf[256];
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	STACK_OF(DIST_POINT) *cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	json_t *a;
	char *issuer = pkl_name_str(X509_get_issuer_name(x));
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
	EVP_PKEY *pk = X509_get0_pubkey(x);

	json_object_set_new(o, "issuer_dn", json_string(issuer ? issuer : ""));
	free(issuer);
	json_object_set_new(o, "san", gen_names(san, 0));
	a = json_array();
	if (X509_get_extension_flags(x) & EXFLAG_KUSAGE)
		for (size_t i = 0; i < sizeof(kus) / sizeof(kus[0]); i++)
			if (X509_get_key_usage(x) & kus[i].bit)
				json_array_append_new(a, json_string(kus[i].name));
	json_object_set_new(o, "key_usage", a);
	a = json_array();
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
		OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 1);
		json_array_append_new(a, json_string(pkl_eku_name(buf)));
	}
	json_object_set_new(o, "extended_key_usage", a);
	a = json_array();
	for (int i = 0; cdp && i < sk_DIST_POINT_num(cdp); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
		if (dp->distpoint && dp->distpoint->type == 0) {
			json_t *u = gen_names(dp->distpoint->name.fullname, 1);
			json_array_extend(a, u); /* copies the items: u stays ours */
			json_decref(u);
		}
	}
	json_object_set_new(o, "crl_distribution_points", a);
	a = json_array();
	for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) == NID_ad_ca_issuers && ad->location->type == GEN_URI)
			json_array_append_new(a, json_stringn((const char *)ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier),
							     (size_t)ASN1_STRING_length(ad->location->d.uniformResourceIdentifier)));
	}
	json_object_set_new(o, "ca_issuers", a);
	if (ski) {
		hexstr(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski), buf, sizeof(buf));
		json_object_set_new(o, "subject_key_id", json_string(buf));
	}
	if (pk) {
		snprintf(buf, sizeof(buf), "%s %d bits", EVP_PKEY_get0_type_name(pk), EVP_PKEY_get_bits(pk));
		json_object_set_new(o, "public_key", json_string(buf));
	}
	if (X509_digest(x, EVP_sha256(), md, &mdlen)) {
		hexstr(md, mdlen, buf, sizeof(buf));
		json_object_set_new(o, "sha256", json_string(buf));
	}
	if (X509_digest(x, EVP_sha1(), md, &mdlen)) { /* Windows shows the SHA-1 thumbprint */
		hexstr(md, mdlen, buf, sizeof(buf));
		json_object_set_new(o, "sha1", json_string(buf));
	}
	GENERAL_NAMES_free(san);
	EXTENDED_KEY_USAGE_free(eku);
	CRL_DIST_POINTS_free(cdp);
	AUTHORITY_INFO_ACCESS_free(aia);
}

static void print_text(json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		if (json_is_array(v)) {
			printf("%-24s", k);
			for (size_t i = 0; i < json_array_size(v); i++)
				printf("%s%s", i ? ", " : "", json_string_value(json_array_get(v, i)));
			printf("\n");
		} else if (json_is_object(v)) {
			const char *k2;
			json_t *v2;
			json_object_foreach(v, k2, v2) {
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
	X509 *x = NULL;
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
	    pkl_db_cert_der(pki->db, r.id, &der, &err) != PKL_OK ||
	    !(x = pkl_cert_from_der(der.data, der.len, r.name, &err)))
		goto out;
	if (pem) {
		if (pkl_cert_to_pem(x, &out, &err) == PKL_OK)
			fwrite(out.data, 1, out.len, stdout);
		goto out;
	}
	o = json_object();
	json_object_set_new(o, "name", json_string(r.name));
	json_object_set_new(o, "kind", json_string(!r.is_ca ? "leaf" : r.issuer_id == r.id ? "root" : "intermediate"));
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
			    json_string(r.status == PKL_STATUS_REVOKED ? "revoked"
					: r.not_after <= now		    ? "expired"
					: r.not_before > now		    ? "not-yet-valid"
									    : "valid"));
	if (r.status == PKL_STATUS_REVOKED) {
		json_object_set_new(o, "revoked_at", json_string(pkl_time_fmt(r.revoked_at, t, sizeof(t))));
		json_object_set_new(o, "reason", json_string(pkl_reason_label(r.reason)));
		if (r.invalidity)
			json_object_set_new(o, "invalidity_date",
					    json_string(pkl_time_fmt(r.invalidity, t, sizeof(t))));
	}
	cert_details(o, x);
	if (r.is_ca) {
		struct pkl_ca_state cs;
		struct pkl_crl_tbs sc;
		char path[PATH_MAX];
		if (pkl_db_ca_get(pki->db, r.name, &cs, NULL) == PKL_OK && cs.cert_id == r.id) {
			json_t *c = json_object();
			char lt[32];
			json_object_set_new(c, "lifetime", json_string(pkl_duration_fmt(cs.crl_lifetime, lt, sizeof(lt))));
			json_object_set_new(c, "number", json_string(cs.crl_number));
			json_object_set_new(c, "this_update", json_string(pkl_time_fmt(cs.crl_this_update, t, sizeof(t))));
			json_object_set_new(c, "next_update", json_string(pkl_time_fmt(cs.crl_next_update, t, sizeof(t))));
			if (pkl_pki_path(pki, PKL_FILE_CRL, r.name, path, sizeof(path), NULL) == PKL_OK) {
				json_object_set_new(c, "path", json_string(path));
				json_object_set_new(c, "published",
						    json_string(pkl_crl_walk_file(path, &sc, NULL) == PKL_OK
									? (sc.next_update > now ? "fresh" : "expired")
									: "missing or unreadable"));
			}
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
	X509_free(x);
	pkl_buf_free(&der);
	pkl_buf_free(&out);
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
