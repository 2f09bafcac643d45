/*
 * Reading names and URIs out of a certificate (see pkilab/certread.h).
 *
 * The decoded extensions are copied into plain lists of octets so that no
 * caller walks OpenSSL's GENERAL_NAME structures itself.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "pkilab/certread.h"
#include "pkilab/name.h"

static enum pkl_san_type type_of(int gen_type)
{
	switch (gen_type) {
	case GEN_DNS: return PKL_SAN_DNS;
	case GEN_EMAIL: return PKL_SAN_EMAIL;
	case GEN_URI: return PKL_SAN_URI;
	case GEN_IPADD: return PKL_SAN_IP;
	default: return 0;
	}
}

/* Appends g to out (only URIs when uris_only). 0 when out of memory. */
static int push(struct pkl_certread_names *out, const GENERAL_NAME *g, int uris_only)
{
	int gen_type;
	const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &gen_type);
	enum pkl_san_type t = type_of(gen_type);
	struct pkl_certread_name *v;
	size_t len = 0;

	if (uris_only && t != PKL_SAN_URI)
		return 1;
	if (t && s)
		len = (size_t)ASN1_STRING_length(s);
	v = realloc(out->v, (out->n + 1) * sizeof(*v));
	if (!v)
		return 0;
	out->v = v;
	v = &out->v[out->n];
	v->type = t;
	v->len = len;
	v->data = malloc(len + 1);
	if (!v->data)
		return 0;
	if (len)
		memcpy(v->data, ASN1_STRING_get0_data(s), len);
	v->data[len] = '\0';
	out->n++;
	return 1;
}

static enum pkl_rc oom(struct pkl_certread_names *out, struct pkl_err *err)
{
	pkl_certread_names_free(out);
	return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
}

enum pkl_rc pkl_certread_san(const X509 *x, struct pkl_certread_names *out, struct pkl_err *err)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int ok = 1;

	out->n = 0;
	out->v = NULL;
	for (int i = 0; gens && ok && i < sk_GENERAL_NAME_num(gens); i++)
		ok = push(out, sk_GENERAL_NAME_value(gens, i), 0);
	GENERAL_NAMES_free(gens);
	return ok ? PKL_OK : oom(out, err);
}

enum pkl_rc pkl_certread_cdp(const X509 *x, struct pkl_certread_names *out, struct pkl_err *err)
{
	STACK_OF(DIST_POINT) *cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	int ok = 1;

	out->n = 0;
	out->v = NULL;
	for (int i = 0; cdp && ok && i < sk_DIST_POINT_num(cdp); i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
		if (!dp->distpoint || dp->distpoint->type != 0) /* 0: fullName */
			continue;
		for (int j = 0; ok && j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++)
			ok = push(out, sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j), 1);
	}
	CRL_DIST_POINTS_free(cdp);
	return ok ? PKL_OK : oom(out, err);
}

enum pkl_rc pkl_certread_aia(const X509 *x, enum pkl_certread_aia method, struct pkl_certread_names *out,
			     struct pkl_err *err)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	int want = method == PKL_AIA_OCSP ? NID_ad_OCSP : NID_ad_ca_issuers;
	int ok = 1;

	out->n = 0;
	out->v = NULL;
	for (int i = 0; aia && ok && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) == want)
			ok = push(out, ad->location, 1);
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	return ok ? PKL_OK : oom(out, err);
}

void pkl_certread_names_free(struct pkl_certread_names *names)
{
	if (!names)
		return;
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i].data);
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

int pkl_certread_name_text(const struct pkl_certread_name *g, int prefix, char *buf, size_t len)
{
	const char *pfx = "";
	char ip[INET6_ADDRSTRLEN];

	if (len)
		buf[0] = '\0';
	switch (g->type) {
	case PKL_SAN_DNS: pfx = "DNS:"; break;
	case PKL_SAN_EMAIL: pfx = "email:"; break;
	case PKL_SAN_URI: pfx = "URI:"; break;
	case PKL_SAN_IP:
		if ((g->len != 4 && g->len != 16) ||
		    !inet_ntop(g->len == 4 ? AF_INET : AF_INET6, g->data, ip, sizeof(ip))) {
			snprintf(buf, len, "%s?", prefix ? "IP:" : "");
			return 0;
		}
		snprintf(buf, len, "%s%s", prefix ? "IP:" : "", ip);
		return 1;
	default: return 0;
	}
	snprintf(buf, len, "%s%.*s", prefix ? pfx : "", (int)g->len, (const char *)g->data);
	return 1;
}

void pkl_certread_ike_id(const X509 *x, char *out, size_t len)
{
	struct pkl_certread_names san;
	char *dn;

	out[0] = '\0';
	if (pkl_certread_san(x, &san, NULL) == PKL_OK) {
		for (size_t i = 0; i < san.n && !out[0]; i++) {
			char text[INET6_ADDRSTRLEN];
			const struct pkl_certread_name *g = &san.v[i];
			if (g->type == PKL_SAN_DNS || g->type == PKL_SAN_EMAIL)
				snprintf(out, len, "%.*s", (int)g->len, (const char *)g->data);
			else if (g->type == PKL_SAN_IP && pkl_certread_name_text(g, 0, text, sizeof(text)) &&
				 strlen(text) < len)
				snprintf(out, len, "%s", text);
		}
		pkl_certread_names_free(&san);
	}
	if (!out[0] && (dn = pkl_name_str(X509_get_subject_name(x)))) {
		snprintf(out, len, "\"%s\"", dn);
		free(dn);
	}
}
