/*
 * Certificate and CRL lints (see pkilab/lint.h and docs/lint.md).
 *
 * Each check is a small function that looks at one aspect and adds findings;
 * lint_cert() runs them in L/X order and, with show_ok, adds an ok line for
 * every check that stayed silent. The checks read the certificate through
 * OpenSSL's decoded extensions, except where the encoding itself is the point
 * (time types L3, keyUsage bit-string minimality L9, an empty revoked list
 * L19), which are read from the DER.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "pkilab/certread.h"
#include "pkilab/crl_read.h"
#include "pkilab/lint.h"
#include "pkilab/name.h"

#define APPLE_MAX_DAYS  825
#define IKE_CHAIN_MAX   3
#define URI_HINT        80
#define IKE_CHAIN_BYTES 4096 /* beyond this IKE_AUTH needs fragmentation (RFC 7383) */

/* Everything the checks need about one certificate, decoded once. */
struct cert_view {
	X509 *x;
	const struct pkl_lint_opts *o;
	struct pkl_report *r;
	char label[256];
	enum pkl_lint_role role;
	int is_ca, self_signed;
	int bc_present, bc_crit;
	BASIC_CONSTRAINTS *bc;
	int ku_present, ku_crit;
	uint32_t ku;
	EXTENDED_KEY_USAGE *eku;
	int eku_crit;
	GENERAL_NAMES *san;
	int san_crit;
	unsigned platforms;
};

static int has_oid(const EXTENDED_KEY_USAGE *eku, const char *oid)
{
	char buf[80];

	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
		OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 1);
		if (!strcmp(buf, oid))
			return 1;
	}
	return 0;
}

static int ext_crit(X509 *x, int nid, int *present)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	*present = i >= 0;
	return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

const char *pkl_lint_label(X509 *cert, char *buf, size_t len)
{
	const X509_NAME *n = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	unsigned char *u = NULL;

	buf[0] = '\0';
	if (i >= 0) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
		int l = ASN1_STRING_to_UTF8(&u, s);
		if (l > 0)
			snprintf(buf, len, "CN=%.*s", l, (const char *)u);
		OPENSSL_free(u);
	}
	if (!buf[0]) {
		char *dn = X509_NAME_oneline(n, NULL, 0);
		snprintf(buf, len, "%s", dn && dn[0] ? dn : "(empty subject)");
		OPENSSL_free(dn);
	}
	/* Labels land in JSON and terminals: keep them printable ASCII. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return buf;
}

int pkl_lint_self_signed(X509 *cert)
{
	EVP_PKEY *k = X509_get0_pubkey(cert);
	int ok;

	if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0 || !k)
		return 0;
	ok = X509_verify(cert, k) == 1;
	ERR_clear_error();
	return ok;
}

enum pkl_lint_role pkl_lint_role_of(X509 *cert)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, NULL, NULL);
	EXTENDED_KEY_USAGE *eku;
	enum pkl_lint_role role;
	int ca = bc && bc->ca;

	BASIC_CONSTRAINTS_free(bc);
	if (ca)
		return pkl_lint_self_signed(cert) ? PKL_ROLE_ROOT_CA : PKL_ROLE_SUB_CA;
	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	role = eku && has_oid(eku, PKL_OID_CLIENT_AUTH) && !has_oid(eku, PKL_OID_SERVER_AUTH) &&
			       !has_oid(eku, PKL_OID_IKE_INTERMEDIATE) ?
		       PKL_ROLE_CLIENT :
		       PKL_ROLE_GATEWAY;
	EXTENDED_KEY_USAGE_free(eku);
	return role;
}

const char *pkl_lint_role_name(enum pkl_lint_role role)
{
	switch (role) {
	case PKL_ROLE_ROOT_CA: return "root CA";
	case PKL_ROLE_SUB_CA: return "intermediate CA";
	case PKL_ROLE_GATEWAY: return "gateway";
	case PKL_ROLE_CLIENT: return "client";
	case PKL_ROLE_AUTO: break;
	}
	return "certificate";
}

enum pkl_rc pkl_lint_platforms_parse(const char *s, unsigned *out, struct pkl_err *err)
{
	unsigned p = 0;
	const char *q = s;

	while (*q) {
		size_t n = strcspn(q, ",");
		if (n == 7 && !strncasecmp(q, "windows", n))
			p |= PKL_PLAT_WINDOWS;
		else if (n == 10 && !strncasecmp(q, "strongswan", n))
			p |= PKL_PLAT_STRONGSWAN;
		else if (n == 5 && !strncasecmp(q, "apple", n))
			p |= PKL_PLAT_APPLE;
		else if (n == 3 && !strncasecmp(q, "all", n))
			p |= PKL_PLAT_ALL;
		else
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "unknown platform '%.*s' (windows, strongswan, apple or all)",
					   (int)n, q);
		q += n;
		if (*q == ',')
			q++;
	}
	if (!p)
		return pkl_err_set(err, PKL_EINPUT, NULL, "empty platform list");
	*out = p;
	return PKL_OK;
}

enum pkl_rc pkl_lint_role_parse(const char *s, enum pkl_lint_role *out, struct pkl_err *err)
{
	if (!strcmp(s, "gateway") || !strcmp(s, "server"))
		*out = PKL_ROLE_GATEWAY;
	else if (!strcmp(s, "client"))
		*out = PKL_ROLE_CLIENT;
	else if (!strcmp(s, "ca") || !strcmp(s, "auto"))
		*out = PKL_ROLE_AUTO;
	else
		return pkl_err_set(err, PKL_EINPUT, NULL, "unknown role '%s' (gateway, client or ca)", s);
	return PKL_OK;
}

/* ---------------------------------------------------------------- L checks */

/* Adds a finding about the current certificate; returns it for cause/fix. */
#define ADD(v, sev, code, ...) pkl_report_add((v)->r, (sev), (code), (v)->label, __VA_ARGS__)

static void l1_l2_serial(struct cert_view *v, size_t *n1, size_t *n2)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(v->x);
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s), zero = 1;
	size_t before = v->r->n;

	for (int i = 0; i < len; i++)
		zero &= d[i] == 0;
	if (ASN1_STRING_type(s) == V_ASN1_NEG_INTEGER || zero)
		pkl_finding_fix(
			ADD(v, PKL_SEV_FAIL, "lint.L1", "serial number is %s", zero ? "zero" : "negative"),
			"re-issue with a positive random serial (RFC 5280 4.1.2.2)");
	/* content octets include a 0x00 pad when the top bit is set */
	int octets = len + (len > 0 && (d[0] & 0x80));
	if (octets > 20)
		pkl_finding_fix(
			ADD(v, PKL_SEV_FAIL, "lint.L1", "serial number is %d octets, more than 20", octets),
			"re-issue with a serial of at most 20 octets (RFC 5280 4.1.2.2)");
	*n1 = v->r->n - before;
	before = v->r->n;
	if (octets < 9)
		pkl_finding_fix(ADD(v, PKL_SEV_WARN, "lint.L2",
				    "serial number has %d octets: fewer than 64 random bits", octets),
				"issue serials from 16 CSPRNG bytes (CA/B Forum Baseline Requirements 7.1)");
	*n2 = v->r->n - before;
}

/* RFC 5280 4.1.2.5: UTCTime YYMMDDHHMMSSZ through 2049, GeneralizedTime YYYYMMDDHHMMSSZ after. */
static int time_encoding_ok(const ASN1_TIME *t, char *why, size_t len)
{
	const unsigned char *d = ASN1_STRING_get0_data(t);
	int l = ASN1_STRING_length(t), type = ASN1_STRING_type(t), year;
	int want = type == V_ASN1_UTCTIME ? 13 : 15;

	for (int i = 0; i < l - 1; i++)
		if (!isdigit(d[i])) {
			snprintf(why, len, "time '%.*s' is not YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ", l, d);
			return 0;
		}
	if (l != want || d[l - 1] != 'Z') {
		snprintf(why, len, "time '%.*s' lacks seconds or Zulu, or has fractions", l, d);
		return 0;
	}
	if (type == V_ASN1_UTCTIME) {
		year = (d[0] - '0') * 10 + (d[1] - '0');
		year += year < 50 ? 2000 : 1900;
	} else {
		year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
	}
	if ((year < 2050) != (type == V_ASN1_UTCTIME)) {
		snprintf(why, len, "year %d encoded as %s", year,
			 type == V_ASN1_UTCTIME ? "UTCTime" : "GeneralizedTime");
		return 0;
	}
	return 1;
}

static void l3_l4_validity(struct cert_view *v)
{
	const ASN1_TIME *nb = X509_get0_notBefore(v->x), *na = X509_get0_notAfter(v->x);
	pkl_time tb = 0, ta = 0;
	char why[160];
	size_t before = v->r->n;

	if (!time_encoding_ok(nb, why, sizeof(why)))
		pkl_finding_fix(
			ADD(v, PKL_SEV_FAIL, "lint.L3", "notBefore: %s", why),
			"re-issue: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5)");
	if (!time_encoding_ok(na, why, sizeof(why)))
		pkl_finding_fix(
			ADD(v, PKL_SEV_FAIL, "lint.L3", "notAfter: %s", why),
			"re-issue: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5)");
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L3", "validity times correctly encoded");
	before = v->r->n;
	if (pkl_time_from_asn1(nb, &tb) != PKL_OK || pkl_time_from_asn1(na, &ta) != PKL_OK)
		ADD(v, PKL_SEV_FAIL, "lint.L4", "validity times do not parse");
	else if (ta <= tb)
		pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L4", "notAfter is not after notBefore"),
				"re-issue with a positive validity period");
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L4", "notAfter after notBefore");
}

static void l5_to_l8_ca_flags(struct cert_view *v)
{
	size_t before = v->r->n;
	int kcs = v->ku_present && (v->ku & KU_KEY_CERT_SIGN);

	/* L5 */
	if (v->is_ca && !v->bc_crit)
		pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L5", "CA basicConstraints is not critical"),
				"re-issue the CA with basicConstraints critical, cA=TRUE (RFC 5280 4.2.1.9)");
	if (!v->is_ca && v->bc_present && !v->bc_crit)
		ADD(v, PKL_SEV_WARN, "lint.L5", "end-entity basicConstraints present but not critical");
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L5",
		    v->is_ca ? "basicConstraints critical, cA=TRUE" : "not a CA (cA absent or FALSE)");
	/* L6 */
	before = v->r->n;
	if (v->bc && v->bc->pathlen) {
		if (!v->is_ca || !kcs)
			pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L6",
					    "pathLenConstraint without cA=TRUE and keyCertSign"),
					"re-issue without pathLenConstraint (RFC 5280 4.2.1.9)");
		if (ASN1_STRING_type(v->bc->pathlen) == V_ASN1_NEG_INTEGER)
			ADD(v, PKL_SEV_FAIL, "lint.L6", "pathLenConstraint is negative");
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L6", "pathLenConstraint used correctly");
	/* L7 */
	before = v->r->n;
	if (kcs && !v->is_ca)
		pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L7", "keyCertSign set but cA is not TRUE"),
				"re-issue: only CA certificates may have keyCertSign (RFC 5280 4.2.1.9)");
	if (!v->is_ca && v->ku_present && (v->ku & KU_CRL_SIGN))
		pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L7", "end-entity has cRLSign"),
				"re-issue the end-entity without cRLSign");
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L7", "keyCertSign/cRLSign consistent with cA");
	/* L8 */
	if (!v->is_ca)
		return;
	before = v->r->n;
	if (!v->ku_present)
		pkl_finding_fix(
			ADD(v, PKL_SEV_FAIL, "lint.L8", "CA has no keyUsage extension"),
			"re-issue the CA with keyUsage critical keyCertSign, cRLSign (RFC 5280 4.2.1.3)");
	else {
		if (!(v->ku & KU_KEY_CERT_SIGN))
			pkl_finding_fix(
				ADD(v, PKL_SEV_FAIL, "lint.L8", "CA keyUsage lacks keyCertSign"),
				"re-issue the CA with keyCertSign: without it nothing it signs verifies");
		if (!(v->ku & KU_CRL_SIGN))
			pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L8", "CA keyUsage lacks cRLSign"),
					"re-issue the CA with cRLSign: relying parties refuse its CRLs (RFC "
					"5280 6.3.3 f)");
		if (!v->ku_crit)
			ADD(v, PKL_SEV_WARN, "lint.L8", "CA keyUsage is not critical");
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L8", "CA keyUsage critical with keyCertSign, cRLSign");
}

/* The raw keyUsage BIT STRING: 03 len unused bytes... */
static int ku_der_minimal(X509 *x)
{
	int i = X509_get_ext_by_NID(x, NID_key_usage, -1);
	const ASN1_OCTET_STRING *os;
	const unsigned char *d;
	int l;

	if (i < 0)
		return 1;
	os = X509_EXTENSION_get_data(X509_get_ext(x, i));
	d = ASN1_STRING_get0_data(os);
	l = ASN1_STRING_length(os);
	if (l < 3 || d[0] != 0x03 || d[1] != l - 2)
		return l == 3 && d[0] == 0x03 && d[1] == 1; /* an empty bit string is minimal */
	unsigned unused = d[2];
	unsigned char last = d[l - 1];
	if (unused > 7 || last == 0)
		return 0;
	/* the lowest set bit must be the last used one */
	return (last & (1u << unused)) != 0;
}

static void l9_l10_ku(struct cert_view *v)
{
	size_t before = v->r->n;
	int base;

	if (v->ku_present) {
		if (!v->ku_crit && !v->is_ca)
			ADD(v, PKL_SEV_WARN, "lint.L9", "keyUsage is not critical");
		if ((v->ku & 0xffff) == 0)
			pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L9", "keyUsage has no bit set"),
					"re-issue with the keyUsage bits the role needs");
		if (!ku_der_minimal(v->x))
			ADD(v, PKL_SEV_FAIL, "lint.L9", "keyUsage BIT STRING is not minimally encoded (DER)");
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L9",
		    v->ku_present ? "keyUsage critical, minimal DER" : "no keyUsage extension");
	before = v->r->n;
	/* NULL for a key OpenSSL cannot decode: no key-type rule applies. */
	base = X509_get0_pubkey(v->x) ? EVP_PKEY_get_base_id(X509_get0_pubkey(v->x)) : 0;
	if (v->ku_present) {
		uint32_t ku = v->ku;
		if (base == EVP_PKEY_EC && (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)))
			pkl_finding_fix(
				ADD(v, PKL_SEV_FAIL, "lint.L10",
				    "ECDSA key with keyEncipherment/dataEncipherment"),
				"re-issue without keyEncipherment: EC keys cannot encrypt (RFC 8813)");
		if ((base == EVP_PKEY_ED25519 || base == EVP_PKEY_ED448) &&
		    (ku &
		     ~(uint32_t)(KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
			pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L10",
					    "EdDSA key with a keyUsage other than signing"),
					"re-issue with signing key usages only (RFC 9295)");
		if ((base == EVP_PKEY_RSA || base == EVP_PKEY_RSA_PSS) &&
		    (ku & (KU_KEY_AGREEMENT | KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY)))
			pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L10", "RSA key with keyAgreement"),
					"re-issue without keyAgreement (RFC 3279 2.3.1)");
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L10", "keyUsage bits allowed for the key type");
}

static void l11_l12_l13_ids(struct cert_view *v)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(v->x);
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(v->x);
	int present, crit;
	size_t before = v->r->n;

	crit = ext_crit(v->x, NID_subject_key_identifier, &present);
	if (!ski && v->is_ca)
		pkl_finding_fix(
			ADD(v, PKL_SEV_FAIL, "lint.L11", "CA has no subjectKeyIdentifier"),
			"re-issue the CA with an SKI (RFC 5280 4.2.1.2): clients match issuers by it");
	else if (!ski)
		ADD(v, PKL_SEV_WARN, "lint.L11", "no subjectKeyIdentifier");
	if (present && crit)
		ADD(v, PKL_SEV_FAIL, "lint.L11", "subjectKeyIdentifier is critical");
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L11", "subjectKeyIdentifier present, non-critical");

	before = v->r->n;
	crit = ext_crit(v->x, NID_authority_key_identifier, &present);
	if (!aki && !v->self_signed)
		pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L12", "no authorityKeyIdentifier keyIdentifier"),
				"re-issue with AKI = the issuer's SKI (RFC 5280 4.2.1.1)");
	if (present && crit)
		ADD(v, PKL_SEV_FAIL, "lint.L12", "authorityKeyIdentifier is critical");
	if (aki && v->o->issuer) {
		const ASN1_OCTET_STRING *iski = X509_get0_subject_key_id(v->o->issuer);
		if (iski && ASN1_OCTET_STRING_cmp(aki, iski) != 0) {
			struct pkl_finding *f = pkl_report_add(
				v->r, PKL_SEV_FAIL, "chain.aki_mismatch", v->label,
				"authorityKeyIdentifier differs from the issuer's subjectKeyIdentifier");
			pkl_finding_cause(
				f,
				"the certificate was signed by another key than the one this "
				"issuer certificate holds (a re-keyed or different CA with the same name)");
			pkl_finding_fix(f, "install the issuer certificate whose key signed it, or re-issue "
					   "the certificate from the current CA");
		}
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L12",
		    v->o->issuer ? "AKI present and equal to the issuer's SKI" : "AKI present, non-critical");
	if (!v->o->issuer)
		return;
	before = v->r->n;
	if (!pkl_name_der_equal(X509_get_issuer_name(v->x), X509_get_subject_name(v->o->issuer))) {
		struct pkl_finding *f =
			pkl_report_add(v->r, PKL_SEV_FAIL, "chain.dn_mismatch", v->label,
				       "issuer DN is not byte-identical to the issuer's subject DN");
		pkl_finding_cause(f, "same names with other string types or attribute order: "
				     "strict clients (RFC 5280 6.1) do not chain them");
		pkl_finding_fix(f, "re-issue the certificate from the CA so the issuer DN is copied "
				   "byte for byte");
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L13", "issuer DN byte-identical to the issuer's subject");
}

static int uri_is_http(const GENERAL_NAME *g, const char **uri)
{
	int type;
	const ASN1_IA5STRING *s = GENERAL_NAME_get0_value(g, &type);

	*uri = NULL;
	if (type != GEN_URI)
		return 0;
	*uri = (const char *)ASN1_STRING_get0_data(s);
	return !strncasecmp(*uri, "http://", 7);
}

static void l14_to_l16_urls(struct cert_view *v)
{
	int present, crit;
	size_t before = v->r->n, before15;
	STACK_OF(DIST_POINT) *cdp = X509_get_ext_d2i(v->x, NID_crl_distribution_points, NULL, NULL);
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(v->x, NID_info_access, NULL, NULL);
	int n_ca_issuers = 0;
	char bad[64 + URI_HINT] = "";

	crit = ext_crit(v->x, NID_crl_distribution_points, &present);
	if (present && crit)
		ADD(v, PKL_SEV_WARN, "lint.L14", "cRLDistributionPoints is critical");
	if (present && !cdp)
		ADD(v, PKL_SEV_FAIL, "lint.L14", "cRLDistributionPoints does not decode");
	before15 = 0;
	for (int i = 0; cdp && i < sk_DIST_POINT_num(cdp); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
		int uris = 0;
		if (!dp->distpoint || dp->distpoint->type != 0)
			ADD(v, PKL_SEV_FAIL, "lint.L14",
			    "distribution point %d has no fullName (nameRelativeToCRLIssuer or none)", i + 1);
		else
			for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
				const char *u;
				if (!uri_is_http(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j),
						 &u)) {
					if (u)
						snprintf(bad, sizeof(bad), "%.*s", URI_HINT, u);
					before15++;
				}
				uris += u != NULL;
			}
		if (dp->distpoint && dp->distpoint->type == 0 && !uris)
			ADD(v, PKL_SEV_WARN, "lint.L14", "distribution point %d has no URI", i + 1);
		if (dp->reasons || dp->CRLissuer)
			pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L15", "distribution point %d has %s",
					    i + 1, dp->reasons ? "reasons" : "cRLIssuer"),
					"re-issue without reasons/cRLIssuer: Windows skips such points (RFC "
					"5280 4.2.1.13)");
	}
	if (!present && v->role != PKL_ROLE_ROOT_CA)
		ADD(v, PKL_SEV_WARN, "lint.L14", "no cRLDistributionPoints: clients cannot check revocation");
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L14",
		    present ? "CDP non-critical, every point has a URI" : "no CDP (root)");

	/* L15 (scheme) and L16 (AIA) */
	size_t b15 = v->r->n;
	for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		const char *u;
		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers)
			continue;
		n_ca_issuers++;
		if (!uri_is_http(ad->location, &u)) {
			if (u)
				snprintf(bad, sizeof(bad), "%.*s", URI_HINT, u);
			before15++;
		}
	}
	if (before15)
		pkl_finding_fix(ADD(v, PKL_SEV_FAIL, "lint.L15",
				    "%zu CDP/AIA name(s) are not http:// URIs%s%s", before15,
				    bad[0] ? ", e.g. " : "", bad),
				"use plain http:// URLs: https needs a chain check to fetch the CRL that "
				"checks the chain, LDAP fails off-domain (RFC 5280 4.2.1.13)");
	if (v->o->show_ok && v->r->n == b15)
		ADD(v, PKL_SEV_OK, "lint.L15", "CDP/AIA URLs are http://, no reasons/cRLIssuer");
	before = v->r->n;
	crit = ext_crit(v->x, NID_info_access, &present);
	if (present && crit)
		ADD(v, PKL_SEV_FAIL, "lint.L16", "authorityInfoAccess is critical");
	if (v->role != PKL_ROLE_ROOT_CA && !n_ca_issuers)
		pkl_finding_fix(ADD(v, PKL_SEV_WARN, "lint.L16", "no AIA caIssuers URL"),
				"add AIA caIssuers: Windows fetches a missing intermediate from it (RFC 5280 "
				"4.2.2.1)");
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L16",
		    n_ca_issuers ? "AIA caIssuers present, non-critical" : "no AIA (root)");
	sk_DIST_POINT_pop_free(cdp, DIST_POINT_free);
	AUTHORITY_INFO_ACCESS_free(aia);
}

/* Bad entries named one by one per check; the rest are counted in one line. */
#define BAD_NAMED 8

/* Whether a dNSName is the text of an IPv6 address that is also an iPAddress
 * entry of the same SAN: the copy Windows needs to match an IP identity
 * (docs/lint.md, L17; `ip_as_dns` in the templates). IPv4 text passes the host
 * name characters; IPv6 text has colons. */
static int ipv6_mirrored(const GENERAL_NAMES *san, const unsigned char *d, int l)
{
	unsigned char bin[16];
	char text[64];

	if (l <= 0 || l >= (int)sizeof(text))
		return 0;
	memcpy(text, d, (size_t)l);
	text[l] = '\0';
	if (inet_pton(AF_INET6, text, bin) != 1)
		return 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		int type;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, i), &type);
		if (type == GEN_IPADD && ASN1_STRING_length(s) == 16 &&
		    memcmp(ASN1_STRING_get0_data(s), bin, 16) == 0)
			return 1;
	}
	return 0;
}

static void l17_san(struct cert_view *v)
{
	size_t before = v->r->n;
	int present, crit = ext_crit(v->x, NID_subject_alt_name, &present), n_bad = 0;
	int empty_subject = X509_NAME_entry_count(X509_get_subject_name(v->x)) == 0;

	if (present && !v->san)
		ADD(v, PKL_SEV_FAIL, "lint.L17", "subjectAltName does not decode");
	if (present && v->san && sk_GENERAL_NAME_num(v->san) == 0)
		ADD(v, PKL_SEV_FAIL, "lint.L17", "subjectAltName has no entries");
	if (present && empty_subject && !crit)
		ADD(v, PKL_SEV_FAIL, "lint.L17", "subject is empty but subjectAltName is not critical");
	if (present && !empty_subject && crit)
		ADD(v, PKL_SEV_WARN, "lint.L17", "subjectAltName critical although the subject is not empty");
	for (int i = 0; v->san && i < sk_GENERAL_NAME_num(v->san); i++) {
		int type;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(v->san, i), &type);
		if (type == GEN_DNS) {
			const unsigned char *d = ASN1_STRING_get0_data(s);
			int l = ASN1_STRING_length(s), bad = l == 0 || l > 253;
			for (int k = 0; k < l && !bad; k++)
				bad = !(isalnum(d[k]) || d[k] == '-' || d[k] == '.' || d[k] == '*') ||
				      (d[k] == '.' && (k == 0 || d[k - 1] == '.'));
			/* an IP written as dNSName for Windows is allowed (L17): IPv4 is
			 * digits and dots; IPv6 must mirror an iPAddress entry */
			if (bad && ipv6_mirrored(v->san, d, l))
				bad = 0;
			if (bad && ++n_bad <= BAD_NAMED)
				ADD(v, PKL_SEV_FAIL, "lint.L17", "dNSName '%.*s' is not a valid host name",
				    l > 64 ? 64 : l, d);
		} else if (type == GEN_IPADD) {
			int l = ASN1_STRING_length(s);
			if (l != 4 && l != 16 && ++n_bad <= BAD_NAMED)
				ADD(v, PKL_SEV_FAIL, "lint.L17", "iPAddress entry has %d octets (4 or 16)",
				    l);
		} else if (type == GEN_EMAIL && ASN1_STRING_length(s) == 0 && ++n_bad <= BAD_NAMED) {
			ADD(v, PKL_SEV_FAIL, "lint.L17", "empty rfc822Name");
		}
	}
	if (n_bad > BAD_NAMED)
		ADD(v, PKL_SEV_FAIL, "lint.L17", "%d more malformed subjectAltName entries",
		    n_bad - BAD_NAMED);
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L17", present ? "subjectAltName well formed" : "no subjectAltName");
}

static void l18_eku(struct cert_view *v)
{
	size_t before = v->r->n;

	if (v->eku) {
		if (v->role == PKL_ROLE_ROOT_CA)
			ADD(v, PKL_SEV_WARN, "lint.L18", "root CA has an extendedKeyUsage");
		if (v->eku_crit && has_oid(v->eku, PKL_OID_ANY_EKU))
			ADD(v, PKL_SEV_WARN, "lint.L18",
			    "extendedKeyUsage critical with anyExtendedKeyUsage");
		if (v->ku_present && !v->is_ca) {
			if (has_oid(v->eku, PKL_OID_SERVER_AUTH) &&
			    !(v->ku & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT)))
				ADD(v, PKL_SEV_FAIL, "lint.L18",
				    "serverAuth without digitalSignature/keyEncipherment/keyAgreement");
			if (has_oid(v->eku, PKL_OID_CLIENT_AUTH) &&
			    !(v->ku & (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT)))
				ADD(v, PKL_SEV_FAIL, "lint.L18",
				    "clientAuth without digitalSignature/keyAgreement");
		}
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.L18",
		    v->eku ? "extendedKeyUsage consistent with keyUsage" : "no extendedKeyUsage");
}

/* ---------------------------------------------------------------- X checks */

static void x1_ku_ike(struct cert_view *v)
{
	if (v->is_ca)
		return;
	if (v->ku_present && !(v->ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))) {
		struct pkl_finding *f = ADD(v, PKL_SEV_FAIL, "ku.missing_digital_signature",
					    "keyUsage lacks digitalSignature (and nonRepudiation)");
		pkl_finding_cause(f, "IKEv2 signs the AUTH payload with this key; strongSwan rejects "
				     "such certificates (RFC 4945 5.1.3.2)");
		pkl_finding_fix(f, "re-issue with keyUsage digitalSignature");
	} else if (v->o->show_ok) {
		ADD(v, PKL_SEV_OK, "lint.X1", "keyUsage allows IKE signatures");
	}
}

static void x2_eku(struct cert_view *v)
{
	size_t before = v->r->n;
	int win = (v->platforms & PKL_PLAT_WINDOWS) != 0, apple = (v->platforms & PKL_PLAT_APPLE) != 0;
	struct pkl_finding *f;

	if (v->role == PKL_ROLE_GATEWAY) {
		if (!v->eku) {
			if (win || apple) {
				f = ADD(v, PKL_SEV_FAIL, "eku.missing_server_auth",
					"gateway certificate has no extendedKeyUsage (serverAuth needed)");
				pkl_finding_cause(f, "Windows and Apple clients require serverAuth on the "
						     "gateway certificate (error 13801 on Windows)");
				pkl_finding_fix(f, "re-issue the gateway with the ipsec-gateway template "
						   "(serverAuth, ikeIntermediate, ipsecIKE)");
			}
		} else {
			if (!has_oid(v->eku, PKL_OID_SERVER_AUTH) && (win || apple)) {
				f = ADD(v, PKL_SEV_FAIL, "eku.missing_server_auth",
					"gateway certificate lacks serverAuth");
				pkl_finding_cause(f, "Windows (13801 \"IKE authentication credentials are "
						     "unacceptable\") and Apple (iOS 13+) refuse a gateway "
						     "certificate without TLS Web Server Authentication");
				pkl_finding_fix(f, "re-issue the gateway with extended_key_usage = "
						   "[\"serverAuth\", \"ikeIntermediate\", \"ipsecIKE\"]");
			}
			if (!has_oid(v->eku, PKL_OID_IKE_INTERMEDIATE) && win) {
				f = ADD(v, PKL_SEV_FAIL, "eku.missing_ike_intermediate",
					"gateway certificate lacks IP security IKE intermediate "
					"(1.3.6.1.5.5.8.2.2)");
				pkl_finding_cause(f,
						  "Windows RRAS picks and accepts IKE certificates by "
						  "this EKU; without it authentication can fail with 13801");
				pkl_finding_fix(f, "re-issue the gateway with ikeIntermediate in "
						   "extended_key_usage");
			}
			if (!has_oid(v->eku, PKL_OID_IPSEC_IKE) && !has_oid(v->eku, PKL_OID_ANY_EKU)) {
				f = ADD(v, PKL_SEV_WARN, "eku.missing_ipsec_ike",
					"gateway EKU lacks id-kp-ipsecIKE (1.3.6.1.5.5.7.3.17)");
				pkl_finding_cause(f, "RFC 4945 strict peers (e.g. libreswan) accept an EKU "
						     "only with ipsecIKE or anyExtendedKeyUsage");
				pkl_finding_fix(f,
						"add ipsecIKE to extended_key_usage when such peers connect");
			}
		}
	} else if (v->role == PKL_ROLE_CLIENT && v->eku) {
		if (!has_oid(v->eku, PKL_OID_CLIENT_AUTH) && !has_oid(v->eku, PKL_OID_ANY_EKU) && win) {
			f = ADD(v, PKL_SEV_FAIL, "eku.missing_client_auth",
				"client certificate has an EKU without clientAuth");
			pkl_finding_cause(f, "Windows ignores client certificates whose EKU does not "
					     "include Client Authentication (error 13806)");
			pkl_finding_fix(f, "re-issue the client with the ipsec-client template (clientAuth)");
		}
		if (!has_oid(v->eku, PKL_OID_IPSEC_IKE) && !has_oid(v->eku, PKL_OID_ANY_EKU))
			pkl_finding_fix(ADD(v, PKL_SEV_WARN, "eku.missing_ipsec_ike",
					    "client EKU lacks id-kp-ipsecIKE (1.3.6.1.5.5.7.3.17)"),
					"add ipsecIKE when RFC 4945 strict peers are gateways");
	}
	if (v->o->show_ok && v->r->n == before && !v->is_ca)
		ADD(v, PKL_SEV_OK, "lint.X2", "EKU fits the %s role", pkl_lint_role_name(v->role));
}

/* The kind of an IKE identity string. */
enum id_kind {
	ID_FQDN,
	ID_IP,
	ID_EMAIL,
	ID_DN
};

static enum id_kind id_kind_of(const char *id, unsigned char ip[16], int *ip_len)
{
	if (inet_pton(AF_INET, id, ip) == 1) {
		*ip_len = 4;
		return ID_IP;
	}
	if (inet_pton(AF_INET6, id, ip) == 1) {
		*ip_len = 16;
		return ID_IP;
	}
	if (strchr(id, '='))
		return ID_DN;
	if (strchr(id, '@'))
		return ID_EMAIL;
	return ID_FQDN;
}

static int san_has(const GENERAL_NAMES *san, int want, const char *text, const unsigned char *ip, int ip_len)
{
	for (int i = 0; san && i < sk_GENERAL_NAME_num(san); i++) {
		int type;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, i), &type);
		const unsigned char *d = ASN1_STRING_get0_data(s);
		int l = ASN1_STRING_length(s);
		if (type != want)
			continue;
		if (want == GEN_IPADD && l == ip_len && !memcmp(d, ip, (size_t)l))
			return 1;
		if (want != GEN_IPADD && text && (size_t)l == strlen(text) &&
		    !strncasecmp((const char *)d, text, (size_t)l))
			return 1;
	}
	return 0;
}

static void x3_identity(struct cert_view *v)
{
	size_t before = v->r->n;
	int win = (v->platforms & PKL_PLAT_WINDOWS) != 0, apple = (v->platforms & PKL_PLAT_APPLE) != 0;
	struct pkl_finding *f;
	unsigned char ip[16];
	int ip_len = 0;

	if (v->is_ca)
		return;
	if (!v->san || sk_GENERAL_NAME_num(v->san) == 0) {
		f = ADD(v, apple ? PKL_SEV_FAIL : PKL_SEV_WARN, "san.missing",
			"no subjectAltName: the IKE identity is not in the certificate");
		pkl_finding_cause(f, "Apple (iOS 13+/macOS 10.15+) requires a SAN matching the "
				     "identity; strongSwan and Windows match the identity against it");
		pkl_finding_fix(f, "re-issue with san = [ \"<the name or address clients use>\" ]");
	}
	if (!v->o->id) {
		/* Without an identity, check that every IP SAN is usable by Windows. */
		for (int i = 0;
		     v->san && i < sk_GENERAL_NAME_num(v->san) && win && v->role == PKL_ROLE_GATEWAY; i++) {
			int type;
			const ASN1_STRING *s =
				GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(v->san, i), &type);
			struct pkl_certread_name ipn = { PKL_SAN_IP, NULL, 0 };
			char txt[64];
			if (type != GEN_IPADD)
				continue;
			ipn.data = (unsigned char *)ASN1_STRING_get0_data(s);
			ipn.len = (size_t)ASN1_STRING_length(s);
			if (!pkl_certread_name_text(&ipn, 0, txt, sizeof(txt)))
				continue;
			if (!san_has(v->san, GEN_DNS, txt, NULL, 0)) {
				f = ADD(v, PKL_SEV_WARN, "san.ip_not_dns",
					"iPAddress %s is not also a dNSName", txt);
				pkl_finding_cause(f,
						  "Windows clients dialling %s by address match it only "
						  "against a dNSName entry (error 13801)",
						  txt);
				pkl_finding_fix(f,
						"re-issue with ip_as_dns = true (the ipsec-gateway default)");
			}
		}
		goto done;
	}
	switch (id_kind_of(v->o->id, ip, &ip_len)) {
	case ID_IP: {
		int as_ip = san_has(v->san, GEN_IPADD, NULL, ip, ip_len);
		int as_dns = san_has(v->san, GEN_DNS, v->o->id, NULL, 0);
		if (!as_ip && !as_dns) {
			f = ADD(v, PKL_SEV_FAIL, "san.id_mismatch",
				"identity %s is not in the subjectAltName", v->o->id);
			pkl_finding_cause(f, "the peer checks that the IKE identity is contained in the "
					     "certificate (RFC 4945 3.1); it is not");
			pkl_finding_fix(f,
					"re-issue with san = [ \"%s\" ] or dial a name the certificate has",
					v->o->id);
		} else {
			if (!as_dns && win) {
				f = ADD(v, PKL_SEV_FAIL, "san.ip_not_dns",
					"identity %s is an iPAddress entry but not a dNSName", v->o->id);
				pkl_finding_cause(f, "Windows matches an IP gateway address only against a "
						     "dNSName SAN and fails with 13801 otherwise");
				pkl_finding_fix(f, "re-issue with ip_as_dns = true so %s is written as both",
						v->o->id);
			}
			if (!as_ip)
				pkl_finding_fix(ADD(v, PKL_SEV_WARN, "san.ip_not_ipaddress",
						    "identity %s is a dNSName but not an iPAddress entry",
						    v->o->id),
						"re-issue with the address also as iPAddress for strongSwan "
						"and Apple (ID_IPV4_ADDR)");
		}
		break;
	}
	case ID_EMAIL:
		if (!san_has(v->san, GEN_EMAIL, v->o->id, NULL, 0)) {
			f = ADD(v, PKL_SEV_FAIL, "san.id_mismatch", "identity %s is not an rfc822Name entry",
				v->o->id);
			pkl_finding_cause(
				f, "an ID_RFC822_ADDR identity must be a SAN email entry (RFC 4945 3.1)");
			pkl_finding_fix(f, "re-issue with san = [ \"email:%s\" ]", v->o->id);
		}
		break;
	case ID_DN: {
		char *dn = X509_NAME_oneline(X509_get_subject_name(v->x), NULL, 0);
		/* Compare loosely: strip spaces and separators, both forms. */
		char a[512], b[512];
		size_t ia = 0, ib = 0;
		for (const char *p = v->o->id; *p && ia < sizeof(a) - 1; p++)
			if (*p != ' ' && *p != ',' && *p != '/')
				a[ia++] = (char)tolower((unsigned char)*p);
		for (const char *p = dn ? dn : ""; *p && ib < sizeof(b) - 1; p++)
			if (*p != ' ' && *p != ',' && *p != '/')
				b[ib++] = (char)tolower((unsigned char)*p);
		a[ia] = b[ib] = '\0';
		if (strcmp(a, b) != 0) {
			f = ADD(v, PKL_SEV_FAIL, "san.id_mismatch", "identity DN '%s' is not the subject",
				v->o->id);
			pkl_finding_fix(f, "configure the peer with the certificate's subject DN");
		}
		OPENSSL_free(dn);
		break;
	}
	case ID_FQDN:
		if (!san_has(v->san, GEN_DNS, v->o->id, NULL, 0)) {
			f = ADD(v, PKL_SEV_FAIL, "san.id_mismatch", "identity %s is not a dNSName entry",
				v->o->id);
			pkl_finding_cause(f, "the name the client dials must be a SAN dNSName: Apple and "
					     "strongSwan require it, Windows fails with 13801");
			pkl_finding_fix(f,
					"re-issue with san = [ \"%s\" ] or dial a name the certificate has",
					v->o->id);
		} else if (v->role == PKL_ROLE_GATEWAY && win) {
			char cn[256];
			pkl_lint_label(v->x, cn, sizeof(cn));
			if (strncmp(cn, "CN=", 3) != 0 || strcasecmp(cn + 3, v->o->id) != 0)
				pkl_finding_fix(ADD(v, PKL_SEV_WARN, "san.cn_mismatch",
						    "gateway name %s is in the SAN but not the CN", v->o->id),
						"put the FQDN clients dial also in the CN (strongSwan "
						"windowsCertRequirements)");
		}
		break;
	}
done:
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.X3",
		    v->o->id ? "identity %s is in the certificate" : "subjectAltName present%s",
		    v->o->id ? v->o->id : "");
}

static void x5_x6_platform(struct cert_view *v)
{
	EVP_PKEY *k = X509_get0_pubkey(v->x);
	int base = k ? EVP_PKEY_get_base_id(k) : 0, bits = k ? EVP_PKEY_get_bits(k) : 0;
	size_t before = v->r->n;
	char group[64] = "";
	struct pkl_finding *f;

	if (base == EVP_PKEY_EC)
		EVP_PKEY_get_group_name(k, group, sizeof(group), NULL);
	if ((v->platforms & PKL_PLAT_WINDOWS) &&
	    (base == EVP_PKEY_ED25519 || base == EVP_PKEY_ED448 ||
	     (base == EVP_PKEY_EC && strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0))) {
		f = ADD(v, PKL_SEV_FAIL, "key.unsupported_on_platform", "%s key: Windows refuses it",
			base == EVP_PKEY_EC      ? group :
			base == EVP_PKEY_ED25519 ? "Ed25519" :
						   "Ed448");
		pkl_finding_cause(f, "Windows IKEv2 accepts only RSA and ECDSA P-256/P-384 "
				     "certificates (P-521 and EdDSA are not accepted)");
		pkl_finding_fix(f, "re-issue with key = \"ec:P-256\", \"ec:P-384\" or \"rsa:2048\"");
	}
	if ((base == EVP_PKEY_RSA || base == EVP_PKEY_RSA_PSS) && bits < 2048) {
		f = ADD(v, PKL_SEV_FAIL, "key.too_small", "RSA key of %d bits", bits);
		pkl_finding_cause(f, "Apple refuses RSA keys under 2048 bits; they are breakable");
		pkl_finding_fix(f, "re-issue with key = \"rsa:2048\" or larger");
	}
	if ((v->platforms & PKL_PLAT_APPLE) && X509_get_signature_nid(v->x) == NID_rsassaPss)
		pkl_finding_fix(ADD(v, PKL_SEV_WARN, "key.rsa_pss_signature",
				    "signed with RSASSA-PSS: Apple clients have trouble with it"),
				"sign with sha256WithRSAEncryption or ECDSA");
	if (v->o->show_ok && v->r->n == before) {
		if (group[0])
			ADD(v, PKL_SEV_OK, "lint.X5", "key %s accepted by the selected platforms", group);
		else
			ADD(v, PKL_SEV_OK, "lint.X5", "key %s %d bits accepted by the selected platforms",
			    base ? OBJ_nid2sn(base) : "?", bits);
	}

	/* X6: Apple's rule alone; with Apple not selected nothing was checked,
	 * so nothing is reported either. */
	if (v->is_ca || !(v->platforms & PKL_PLAT_APPLE))
		return;
	before = v->r->n;
	pkl_time nb, na;
	if (pkl_time_from_asn1(X509_get0_notBefore(v->x), &nb) == PKL_OK &&
	    pkl_time_from_asn1(X509_get0_notAfter(v->x), &na) == PKL_OK &&
	    na - nb > (pkl_time)APPLE_MAX_DAYS * 86400) {
		f = ADD(v, PKL_SEV_FAIL, "validity.apple_825", "validity of %lld days exceeds 825",
			(long long)((na - nb) / 86400));
		pkl_finding_cause(f, "Apple devices refuse server certificates valid longer than 825 days");
		pkl_finding_fix(f, "re-issue with validity = \"397d\" (max_validity 825d)");
	}
	if (v->o->show_ok && v->r->n == before)
		ADD(v, PKL_SEV_OK, "lint.X6", "validity within Apple's 825 days");
}

enum pkl_rc pkl_lint_cert(X509 *cert, const struct pkl_lint_opts *o, struct pkl_report *r,
			  struct pkl_err *err)
{
	struct cert_view v = { .x = cert, .o = o, .r = r };
	size_t n1, n2;

	pkl_lint_label(cert, v.label, sizeof(v.label));
	v.platforms = o->platforms ? o->platforms : PKL_PLAT_ALL;
	v.self_signed = pkl_lint_self_signed(cert);
	v.bc_crit = ext_crit(cert, NID_basic_constraints, &v.bc_present);
	v.bc = X509_get_ext_d2i(cert, NID_basic_constraints, NULL, NULL);
	v.is_ca = v.bc && v.bc->ca;
	v.ku_crit = ext_crit(cert, NID_key_usage, &v.ku_present);
	v.ku = X509_get_key_usage(cert);
	v.eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &v.eku_crit, NULL);
	v.eku_crit = v.eku_crit > 0;
	v.san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	v.role = o->role != PKL_ROLE_AUTO && !v.is_ca ? o->role : pkl_lint_role_of(cert);
	ERR_clear_error();

	l1_l2_serial(&v, &n1, &n2);
	if (o->show_ok && !n1)
		ADD(&v, PKL_SEV_OK, "lint.L1", "serial positive, at most 20 octets");
	if (o->show_ok && !n2)
		ADD(&v, PKL_SEV_OK, "lint.L2", "serial has at least 64 bits");
	l3_l4_validity(&v);
	l5_to_l8_ca_flags(&v);
	l9_l10_ku(&v);
	l11_l12_l13_ids(&v);
	l14_to_l16_urls(&v);
	l17_san(&v);
	l18_eku(&v);
	x1_ku_ike(&v);
	x2_eku(&v);
	x3_identity(&v);
	x5_x6_platform(&v);

	BASIC_CONSTRAINTS_free(v.bc);
	EXTENDED_KEY_USAGE_free(v.eku);
	GENERAL_NAMES_free(v.san);
	if (r->oom)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory while linting");
	return PKL_OK;
}

void pkl_lint_chain(X509 *const *certs, size_t n, int show_ok, struct pkl_report *r)
{
	size_t bytes = 0, before = r->n;
	char label[256];

	if (!n)
		return;
	pkl_lint_label(certs[0], label, sizeof(label));
	/* A self-signed anchor is not sent in IKE; everything below it is. */
	size_t sent = n > 1 && pkl_lint_self_signed(certs[n - 1]) ? n - 1 : n;
	for (size_t i = 0; i < sent; i++) {
		int l = i2d_X509(certs[i], NULL);
		bytes += l > 0 ? (size_t)l : 0;
	}
	if (n > IKE_CHAIN_MAX)
		pkl_finding_fix(
			pkl_report_add(r, PKL_SEV_WARN, "chain.too_long", label,
				       "chain of %zu certificates (more than %d)", n, IKE_CHAIN_MAX),
			"keep root + one intermediate + leaf: peers must accept only 4 "
			"CERT payloads and large IKE_AUTH needs fragmentation (RFC 7296 3.6, RFC 7383)");
	if (bytes > IKE_CHAIN_BYTES)
		pkl_finding_fix(pkl_report_add(r, PKL_SEV_WARN, "chain.too_large", label,
					       "%zu bytes of certificates in IKE_AUTH", bytes),
				"use ECDSA P-256/P-384 or RSA 2048 and short chains; enable IKEv2 "
				"fragmentation (Windows 10 1803+)");
	if (show_ok && r->n == before)
		pkl_report_add(r, PKL_SEV_OK, "lint.X4", label,
			       "chain of %zu certificates, %zu bytes sent in IKE", n, bytes);
}

/* ---------------------------------------------------------------- CRLs */

/* Whether the version field is present and whether revokedCertificates is
 * present but empty: OpenSSL hides both, crl_read.c's walker sees them. */
static void crl_der_shape(const unsigned char *der, size_t len, int *has_version, int *empty_list)
{
	struct pkl_crl_tbs t;

	*has_version = 0;
	*empty_list = 0;
	if (pkl_crl_walk(der, len, &t, NULL) != PKL_OK)
		return;
	*has_version = t.has_version;
	*empty_list = t.has_list && !t.has_entries;
}

static int reason_of(X509_REVOKED *rev)
{
	ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	int reason = e ? (int)ASN1_ENUMERATED_get(e) : -1;

	ASN1_ENUMERATED_free(e);
	return reason;
}

static int cmp_ext_oid(const X509_EXTENSION *const *a, const X509_EXTENSION *const *b)
{
	return OBJ_cmp(X509_EXTENSION_get_object((X509_EXTENSION *)*a),
		       X509_EXTENSION_get_object((X509_EXTENSION *)*b));
}

/* Whether two extensions share an OID. The CRL comes from an untrusted CDP:
 * one entry with a million tiny extensions fits in 16 MB, so pairs are not
 * compared all against all; a sorted copy makes duplicates neighbours. */
static int dup_extensions(const STACK_OF(X509_EXTENSION) * exts)
{
	int n = sk_X509_EXTENSION_num(exts), dup = 0;
	STACK_OF(X509_EXTENSION) * copy;

	if (n < 2)
		return 0;
	copy = sk_X509_EXTENSION_dup(exts);
	if (!copy)
		return 0; /* out of memory: the check is skipped, not failed */
	(void)sk_X509_EXTENSION_set_cmp_func(copy, cmp_ext_oid);
	sk_X509_EXTENSION_sort(copy);
	for (int i = 1; i < n && !dup; i++)
		dup = !OBJ_cmp(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(copy, i - 1)),
			       X509_EXTENSION_get_object(sk_X509_EXTENSION_value(copy, i)));
	sk_X509_EXTENSION_free(copy); /* a shallow copy: the extensions stay the CRL's */
	return dup;
}

static int cmp_revoked(const X509_REVOKED *const *a, const X509_REVOKED *const *b)
{
	return ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(*a), X509_REVOKED_get0_serialNumber(*b));
}

static void crl_x7(X509_CRL *crl, const struct pkl_crlinfo *info, const char *label,
		   const struct pkl_lint_crl_opts *o, struct pkl_report *r)
{
	size_t before = r->n;
	X509 *ca = o->issuer;
	struct pkl_finding *f;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);

	if (!pkl_name_der_equal(X509_CRL_get_issuer(crl), X509_get_subject_name(ca))) {
		f = pkl_report_add(r, PKL_SEV_FAIL, "crl.issuer_mismatch", label,
				   "CRL issuer '%s' is not byte-identical to the CA subject", info->issuer);
		pkl_finding_cause(f, "the CDP serves another CA's CRL, or the CA was re-created with "
				     "a differently encoded name; strongSwan discards it");
		pkl_finding_fix(f, "publish the CRL of the certificate's issuing CA at this URL "
				   "(pkilab crl, then copy publish/crl/)");
	}
	if (ski && info->has_aki &&
	    (info->aki_len != (size_t)ASN1_STRING_length(ski) ||
	     memcmp(info->aki, ASN1_STRING_get0_data(ski), info->aki_len) != 0)) {
		f = pkl_report_add(r, PKL_SEV_FAIL, "crl.aki_mismatch", label,
				   "CRL authorityKeyIdentifier differs from the CA's subjectKeyIdentifier");
		pkl_finding_cause(f, "the CRL was signed by another key than the issuing CA's");
		pkl_finding_fix(f, "sign the CRL with the issuing CA's key (pkilab crl) and publish it");
	}
	/* IDP, when present, must name the URIs of the CDP (X7, RFC 5280 §5.2.5). */
	ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
	if (idp && o->n_cdp) {
		int found = 0;
		if (idp->distpoint && idp->distpoint->type == 0)
			for (int i = 0; i < sk_GENERAL_NAME_num(idp->distpoint->name.fullname); i++) {
				const char *u;
				uri_is_http(sk_GENERAL_NAME_value(idp->distpoint->name.fullname, i), &u);
				for (size_t k = 0; u && k < o->n_cdp; k++)
					found |= !strcasecmp(u, o->cdp_uris[k]);
			}
		if (!found)
			pkl_finding_fix(
				pkl_report_add(r, PKL_SEV_FAIL, "crl.idp_mismatch", label,
					       "issuingDistributionPoint names none of the CDP URIs"),
				"publish a CRL whose IDP lists the same URIs as the certificates' CDP");
	}
	ISSUING_DIST_POINT_free(idp);
	if (o->show_ok && r->n == before)
		pkl_report_add(r, PKL_SEV_OK, "lint.X7", label, "CRL issuer and AKI match the CA");
}

enum pkl_rc pkl_lint_crl(const unsigned char *der, size_t len, const char *label,
			 const struct pkl_lint_crl_opts *o, struct pkl_report *r, struct pkl_err *err)
{
	struct pkl_crlinfo info;
	struct pkl_err perr = { 0 };
	X509_CRL *crl = NULL;
	size_t before;
	int has_version, empty_list, crit = 0;
	struct pkl_finding *f;

	if (pkl_crlcheck_parse(der, len, label, &info, &crl, &perr) != PKL_OK) {
		f = pkl_report_add(r, PKL_SEV_FAIL, "crl.parse", label, "not a DER CRL: %s", perr.msg);
		pkl_finding_cause(f, "clients cannot read it and treat revocation as unknown");
		pkl_finding_fix(f,
				"publish the DER file from publish/crl/ (not PEM, not an HTML error page)");
		return r->oom ? pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory") : PKL_OK;
	}
	/* L19 */
	before = r->n;
	crl_der_shape(der, len, &has_version, &empty_list);
	if (!has_version || info.version != 1)
		pkl_finding_fix(pkl_report_add(r, PKL_SEV_FAIL, "lint.L19", label, "CRL is not v2"),
				"sign v2 CRLs (RFC 5280 5.1.2.1)");
	if (!info.next_update)
		pkl_finding_fix(pkl_report_add(r, PKL_SEV_FAIL, "lint.L19", label, "CRL has no nextUpdate"),
				"sign CRLs with nextUpdate: Windows treats a CRL without it as final "
				"and never fetches another (RFC 5280 5.1.2.5)");
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	if (!num)
		pkl_finding_fix(pkl_report_add(r, PKL_SEV_FAIL, "lint.L19", label, "CRL has no CRLNumber"),
				"sign CRLs with a CRLNumber (RFC 5280 5.2.3)");
	else {
		int l = ASN1_STRING_length(num);
		const unsigned char *d = ASN1_STRING_get0_data(num);
		if (crit > 0)
			pkl_report_add(r, PKL_SEV_FAIL, "lint.L19", label, "CRLNumber is critical");
		if (ASN1_STRING_type(num) == V_ASN1_NEG_INTEGER || l + (l > 0 && (d[0] & 0x80)) > 20)
			pkl_report_add(r, PKL_SEV_FAIL, "lint.L19", label,
				       "CRLNumber negative or longer than 20 octets");
	}
	ASN1_INTEGER_free(num);
	if (!info.has_aki)
		pkl_finding_fix(pkl_report_add(r, PKL_SEV_FAIL, "lint.L19", label,
					       "CRL has no authorityKeyIdentifier keyIdentifier"),
				"sign CRLs with AKI: strongSwan finds cached CRLs by the issuer's SKI (RFC "
				"5280 5.2.1)");
	if (empty_list)
		pkl_report_add(r, PKL_SEV_FAIL, "lint.L19", label,
			       "revokedCertificates present but empty (must be absent, RFC 5280 5.1.2.6)");
	if (o->show_ok && r->n == before)
		pkl_report_add(r, PKL_SEV_OK, "lint.L19", label, "v2, nextUpdate, CRLNumber, AKI present");
	/* L20 */
	before = r->n;
	{
		STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
		int n = sk_X509_REVOKED_num(revs);
		size_t unspecified = 0, bad_reason = 0, late = 0, dup_ext = 0;
		for (int i = 0; i < n; i++) {
			X509_REVOKED *rv = sk_X509_REVOKED_value(revs, i);
			int reason = reason_of(rv);
			pkl_time t;
			if (reason == 0)
				unspecified++;
			if (reason == 7 || reason > 10 || reason < -1)
				bad_reason++;
			if (pkl_time_from_asn1(X509_REVOKED_get0_revocationDate(rv), &t) == PKL_OK &&
			    t > info.this_update)
				late++;
			dup_ext += dup_extensions(X509_REVOKED_get0_extensions(rv));
		}
		if (unspecified)
			pkl_report_add(r, PKL_SEV_WARN, "lint.L20", label,
				       "%zu entries with reason unspecified(0): omit the reason instead",
				       unspecified);
		if (bad_reason)
			pkl_report_add(r, PKL_SEV_FAIL, "lint.L20", label,
				       "%zu entries with an invalid reason code", bad_reason);
		if (late)
			pkl_report_add(r, PKL_SEV_FAIL, "lint.L20", label,
				       "%zu entries revoked after thisUpdate", late);
		if (dup_ext || dup_extensions(X509_CRL_get0_extensions(crl)))
			pkl_report_add(r, PKL_SEV_FAIL, "lint.L20", label, "duplicate extensions");
		if (n > 1) {
			STACK_OF(X509_REVOKED) *copy = sk_X509_REVOKED_dup(revs);
			int dups = 0;
			if (copy) {
				(void)sk_X509_REVOKED_set_cmp_func(copy, cmp_revoked);
				sk_X509_REVOKED_sort(copy);
				for (int i = 1; i < n; i++) {
					const X509_REVOKED *a = sk_X509_REVOKED_value(copy, i - 1);
					const X509_REVOKED *b = sk_X509_REVOKED_value(copy, i);
					dups += !cmp_revoked(&a, &b);
				}
			}
			sk_X509_REVOKED_free(copy);
			if (dups)
				pkl_report_add(r, PKL_SEV_FAIL, "lint.L20", label,
					       "%d duplicate serial numbers", dups);
		}
	}
	if (o->show_ok && r->n == before)
		pkl_report_add(r, PKL_SEV_OK, "lint.L20", label, "%zu entries: reasons, dates, serials valid",
			       info.revoked);
	if (o->issuer)
		crl_x7(crl, &info, label, o, r);
	/* X8: re-signed before half its lifetime (docs/crl-publication.md) */
	if (o->now && info.next_update > info.this_update) {
		pkl_time half = info.this_update + (info.next_update - info.this_update) / 2;
		if (o->now >= half && o->now < info.next_update)
			pkl_finding_fix(pkl_report_add(r, PKL_SEV_WARN, "crl.stale", label,
						       "CRL is past half its lifetime"),
					"re-sign CRLs at half their lifetime (pkilab crl) so clients never "
					"hold one that expires");
		else if (o->show_ok && o->now < half)
			pkl_report_add(r, PKL_SEV_OK, "lint.X8", label,
				       "CRL within the first half of its lifetime");
	}
	X509_CRL_free(crl);
	if (r->oom)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory while linting");
	return PKL_OK;
}

void pkl_lint_p12(const unsigned char *der, size_t len, const char *label, unsigned platforms, int show_ok,
		  struct pkl_report *r)
{
	const unsigned char *p = der;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
	const X509_ALGOR *macalg = NULL;
	const ASN1_OBJECT *obj = NULL;
	size_t before = r->n;

	if (!p12)
		return;
	PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
	if (macalg)
		X509_ALGOR_get0(&obj, NULL, NULL, macalg);
	if (obj && OBJ_obj2nid(obj) != NID_sha1 && (platforms & (PKL_PLAT_WINDOWS | PKL_PLAT_APPLE)))
		pkl_finding_fix(pkl_report_add(r, PKL_SEV_WARN, "p12.modern_profile", label,
					       "PKCS#12 MAC uses %s, not SHA-1",
					       OBJ_nid2sn(OBJ_obj2nid(obj))),
				"export with the 3DES-SHA1 profile for Windows before Server 2019 and "
				"Apple (pkilab export --format windows)");
	if (show_ok && r->n == before)
		pkl_report_add(r, PKL_SEV_OK, "lint.X9", label, "PKCS#12 profile fits the targets");
	PKCS12_free(p12);
	ERR_clear_error();
}
