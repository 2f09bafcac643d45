/*
 * Certificate issuance and its vocabulary (keyUsage / extendedKeyUsage
 * names, SAN syntax), plus PEM/DER helpers.
 *
 * pkl_cert_issue builds every extension as an OpenSSL structure and adds it
 * with X509_add1_ext_i2d: no configuration strings are parsed (X509V3_EXT_conf
 * is slow and would make our profile depend on OpenSSL's mini-language).
 * The profile is the one docs/profile.md explains: v3, 16-byte CSPRNG
 * serials, issuer DN copied as DER from the issuer's subject, UTCTime up to
 * 2049 and GeneralizedTime from 2050, SKI (method 1) on every certificate,
 * AKI keyIdentifier only, basicConstraints only on CAs, a minimal keyUsage
 * bit string, and CDP/AIA URIs in the order given.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pkilab/buf.h"
#include "pkilab/cert.h"
#include "pkilab/file.h"
#include "pkilab/key.h"

/* ---- keyUsage ---------------------------------------------------------- */

/* Index = bit number in the DER KeyUsage BIT STRING = our flag's shift. */
static const char *const ku_names[] = {
	"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
	"keyCertSign",      "cRLSign",        "encipherOnly",    "decipherOnly",     NULL,
};

unsigned pkl_ku_from_name(const char *name)
{
	for (unsigned i = 0; ku_names[i]; i++)
		if (strcasecmp(name, ku_names[i]) == 0)
			return 1u << i;
	if (strcasecmp(name, "contentCommitment") == 0) /* X.509 (2008) name for bit 1 */
		return PKL_KU_NON_REPUDIATION;
	return 0;
}

const char *const *pkl_ku_names(void)
{
	return ku_names;
}

/* ---- extendedKeyUsage -------------------------------------------------- */

struct eku_name {
	const char *name;
	const char *oid;
};

static const struct eku_name eku_table[] = {
	{ "serverAuth", "1.3.6.1.5.5.7.3.1" },
	{ "clientAuth", "1.3.6.1.5.5.7.3.2" },
	{ "codeSigning", "1.3.6.1.5.5.7.3.3" },
	{ "emailProtection", "1.3.6.1.5.5.7.3.4" },
	{ "timeStamping", "1.3.6.1.5.5.7.3.8" },
	{ "OCSPSigning", "1.3.6.1.5.5.7.3.9" },
	{ "ipsecIKE", "1.3.6.1.5.5.7.3.17" },
	{ "ikeIntermediate", "1.3.6.1.5.5.8.2.2" },
	{ "msSmartcardLogon", "1.3.6.1.4.1.311.20.2.2" },
	{ "anyExtendedKeyUsage", "2.5.29.37.0" },
};
#define N_EKU (sizeof(eku_table) / sizeof(eku_table[0]))

static const char *const eku_names[] = {
	"serverAuth",       "clientAuth",          "codeSigning", "emailProtection",
	"timeStamping",     "OCSPSigning",         "ipsecIKE",    "ikeIntermediate",
	"msSmartcardLogon", "anyExtendedKeyUsage", NULL,
};

/* A dotted OID: at least two arcs, first 0..2, digits only, no empty arcs. */
static int is_dotted_oid(const char *s)
{
	int arcs = 0;
	const char *p = s;

	if (!(s[0] >= '0' && s[0] <= '2') || s[1] != '.')
		return 0;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return 0;
		if (*p == '0' && isdigit((unsigned char)p[1]))
			return 0; /* no leading zeros in an arc */
		while (isdigit((unsigned char)*p))
			p++;
		arcs++;
		if (*p == '.') {
			p++;
			if (!*p)
				return 0;
		} else if (*p) {
			return 0;
		}
	}
	return arcs >= 2;
}

const char *pkl_eku_oid(const char *name_or_oid)
{
	for (size_t i = 0; i < N_EKU; i++)
		if (strcasecmp(name_or_oid, eku_table[i].name) == 0)
			return eku_table[i].oid;
	if (is_dotted_oid(name_or_oid))
		return name_or_oid;
	return NULL;
}

const char *pkl_eku_name(const char *oid)
{
	for (size_t i = 0; i < N_EKU; i++)
		if (strcmp(oid, eku_table[i].oid) == 0)
			return eku_table[i].name;
	return oid;
}

const char *const *pkl_eku_names(void)
{
	return eku_names;
}

/* ---- subjectAltName ---------------------------------------------------- */

/* RFC 1034 preferred name syntax (letters, digits, hyphens; labels of 1..63
 * characters not starting or ending with a hyphen), at most 253 characters,
 * no empty labels (RFC 5280 §4.2.1.6). A leading "*." wildcard label is
 * accepted. The last label may not be all digits, so that a mistyped IPv4
 * address ("192.0.2.300") is not silently taken for a DNS name. */
static const char *dns_name_problem(const char *s)
{
	size_t len = strlen(s), lab = 0;
	int all_digits = 1;
	const char *p = s;

	if (len == 0)
		return "empty DNS name";
	if (len > 253)
		return "DNS name longer than 253 characters";
	if (p[0] == '*' && p[1] == '.')
		p += 2;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (lab == 0)
				return "empty label in DNS name";
			if (p[-1] == '-')
				return "DNS label ends with '-'";
			lab = 0;
			all_digits = 1;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return c == '*' ? "wildcard '*' only allowed as the whole leftmost label" :
					  "character not allowed in a DNS name (letters, digits, '-' and "
					  "'.' only)";
		if (lab == 0 && c == '-')
			return "DNS label starts with '-'";
		if (!isdigit(c))
			all_digits = 0;
		if (++lab > 63)
			return "DNS label longer than 63 characters";
	}
	if (lab == 0)
		return "empty label in DNS name";
	if (p[-1] == '-')
		return "DNS label ends with '-'";
	if (all_digits)
		return "not a valid IP address or DNS name (last label is all digits)";
	return NULL;
}

enum pkl_rc pkl_san_parse(const char *s, struct pkl_san *out, struct pkl_err *err)
{
	struct pkl_san san;
	const char *v = s, *problem;
	int type = 0;

	memset(&san, 0, sizeof(san));
	if (strncasecmp(s, "DNS:", 4) == 0) {
		type = PKL_SAN_DNS;
		v = s + 4;
	} else if (strncasecmp(s, "IP:", 3) == 0) {
		type = PKL_SAN_IP;
		v = s + 3;
	} else if (strncasecmp(s, "email:", 6) == 0) {
		type = PKL_SAN_EMAIL;
		v = s + 6;
	} else if (strncasecmp(s, "URI:", 4) == 0) {
		type = PKL_SAN_URI;
		v = s + 4;
	}
	if (strlen(v) >= sizeof(san.value))
		return pkl_err_set(err, PKL_EINPUT, NULL, "subjectAltName '%.40s...' is too long", s);
	if (!*v)
		return pkl_err_set(err, PKL_EINPUT, NULL, "empty subjectAltName '%s'", s);
	snprintf(san.value, sizeof(san.value), "%s", v);
	if (type == 0) {
		unsigned char ip[16];
		if (inet_pton(AF_INET, v, ip) == 1 || inet_pton(AF_INET6, v, ip) == 1)
			type = PKL_SAN_IP;
		else if (strchr(v, '@'))
			type = PKL_SAN_EMAIL;
		else
			type = PKL_SAN_DNS;
	}
	san.type = type;
	switch (type) {
	case PKL_SAN_IP:
		if (inet_pton(AF_INET, v, san.ip) == 1)
			san.ip_len = 4;
		else if (inet_pton(AF_INET6, v, san.ip) == 1)
			san.ip_len = 16;
		else
			return pkl_err_set(err, PKL_EINPUT, NULL, "invalid IP address '%s'", v);
		break;
	case PKL_SAN_DNS:
		problem = dns_name_problem(v);
		if (problem)
			return pkl_err_set(err, PKL_EINPUT, NULL, "invalid subjectAltName '%s': %s", v,
					   problem);
		break;
	case PKL_SAN_EMAIL: {
		const char *at = strchr(v, '@');
		if (!at || at == v || strchr(at + 1, '@'))
			return pkl_err_set(err, PKL_EINPUT, NULL, "invalid email address '%s'", v);
		for (const char *p = v; p < at; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				return pkl_err_set(err, PKL_EINPUT, NULL,
						   "invalid email address '%s': only printable ASCII "
						   "allowed",
						   v);
		problem = dns_name_problem(at + 1);
		if (problem)
			return pkl_err_set(err, PKL_EINPUT, NULL, "invalid email address '%s': %s", v,
					   problem);
		break;
	}
	case PKL_SAN_URI: {
		const char *colon = strchr(v, ':');
		if (!colon || colon == v || !isalpha((unsigned char)v[0]))
			return pkl_err_set(err, PKL_EINPUT, NULL, "invalid URI '%s': no scheme", v);
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				return pkl_err_set(err, PKL_EINPUT, NULL,
						   "invalid URI '%s': spaces and non-ASCII characters "
						   "must be percent-encoded",
						   v);
		break;
	}
	}
	*out = san;
	return PKL_OK;
}

/* ---- serials ----------------------------------------------------------- */

enum pkl_rc pkl_serial_random(unsigned char out[16], struct pkl_err *err)
{
	unsigned char b[16];

	/* Top bit cleared: a positive INTEGER without a 0x00 pad. A zero first
	 * byte is drawn again (1 in 128), so every serial has exactly 16
	 * significant octets and the value is uniform over that range (RFC 5280
	 * §4.1.2.2; CA/B BR §7.1 asks at least 64 random bits). */
	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return pkl_err_ssl(err, PKL_ERUNTIME, NULL, "random number generator failed");
		b[0] &= 0x7f;
	} while (b[0] == 0);
	memcpy(out, b, sizeof(b));
	OPENSSL_cleanse(b, sizeof(b));
	return PKL_OK;
}

const char *pkl_serial_hex(const X509 *cert, char *buf, size_t len)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
	const unsigned char *d = ASN1_STRING_get0_data(sn);
	int n = ASN1_STRING_length(sn), i = 0;
	size_t o = 0;

	if (len)
		buf[0] = '\0';
	while (i < n - 1 && d[i] == 0)
		i++;
	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER && o + 1 < len)
		buf[o++] = '-';
	if (o < len)
		pkl_hex(d + i, i < n ? (size_t)(n - i) : 0, buf + o, len - o);
	if (n == 0 && len > 1)
		snprintf(buf, len, "0");
	return buf;
}

/* ---- issuance ---------------------------------------------------------- */

/* SHA-1 of the subjectPublicKey BIT STRING value (RFC 5280 §4.2.1.2 method 1).
 * Also the AKI of a CRL whose CA has no SKI (crl.c). */
ASN1_OCTET_STRING *pkl_cert_key_id(X509_PUBKEY *pub)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const unsigned char *pk = NULL;
	int pklen = 0;
	ASN1_OCTET_STRING *os;

	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, pub) || !pk)
		return NULL;
	if (!EVP_Digest(pk, (size_t)pklen, md, &mdlen, EVP_sha1(), NULL))
		return NULL;
	os = ASN1_OCTET_STRING_new();
	if (os && !ASN1_OCTET_STRING_set(os, md, (int)mdlen)) {
		ASN1_OCTET_STRING_free(os);
		os = NULL;
	}
	return os;
}

/*
 * Writes the SubjectPublicKeyInfo of an EC or Ed25519 key straight into
 * pub. X509_set_pubkey goes through OpenSSL 3.0's encoder and decoder
 * framework (~140 us a call, 6x the ECDSA signature); this takes ~3 us.
 * The price: pub carries no decoded EVP_PKEY, so this is used for
 * end-entity certificates only (see cert.h). Returns 0 when the key is of
 * another kind (the caller then takes the slow path).
 */
static int spki_fast(X509_PUBKEY *pub, EVP_PKEY *key)
{
	unsigned char buf[160], *penc;
	size_t len = 0;
	char group[64];
	ASN1_OBJECT *curve;
	int nid;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
						    NULL))
			return 0;
		nid = OBJ_sn2nid(group);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(group);
		if (nid == NID_undef)
			return 0;
		if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf,
						     sizeof(buf), &len) ||
		    len < 2 || buf[0] != 0x04)
			return 0; /* only uncompressed points, as the encoder writes them */
		curve = OBJ_nid2obj(nid);
		penc = OPENSSL_memdup(buf, len);
		if (!curve || !penc ||
		    !X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT, curve,
					    penc, (int)len)) {
			OPENSSL_free(penc);
			return 0;
		}
		return 1;
	case EVP_PKEY_ED25519:
		len = sizeof(buf);
		if (!EVP_PKEY_get_raw_public_key(key, buf, &len) || len != 32)
			return 0;
		penc = OPENSSL_memdup(buf, len);
		if (!penc || !X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, NULL, penc,
						     (int)len)) {
			OPENSSL_free(penc);
			return 0;
		}
		return 1;
	default: return 0;
	}
}

static GENERAL_NAME *gn_ia5(int type, const char *s)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *v = ASN1_IA5STRING_new();

	if (!gn || !v || !ASN1_STRING_set(v, s, (int)strlen(s))) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(v);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, type, v);
	return gn;
}

static GENERAL_NAME *gn_ip(const unsigned char *ip, int len)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();

	if (!gn || !v || !ASN1_OCTET_STRING_set(v, ip, len)) {
		GENERAL_NAME_free(gn);
		ASN1_OCTET_STRING_free(v);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_IPADD, v);
	return gn;
}

/* Pushes gn (taking it) onto names; 0 on failure (gn freed). */
static int gns_push(GENERAL_NAMES *names, GENERAL_NAME *gn)
{
	if (!gn)
		return 0;
	if (!sk_GENERAL_NAME_push(names, gn)) {
		GENERAL_NAME_free(gn);
		return 0;
	}
	return 1;
}

static GENERAL_NAMES *uri_names(const char *const *uris, size_t n)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();

	for (size_t i = 0; names && i < n; i++) {
		if (!gns_push(names, gn_ia5(GEN_URI, uris[i]))) {
			GENERAL_NAMES_free(names);
			return NULL;
		}
	}
	return names;
}

/* A DistributionPoint with a fullName and nothing else: no reasons, no
 * cRLIssuer (RFC 5280 §4.2.1.13; Windows skips points that have either). */
static DIST_POINT *dist_point(const char *const *uris, size_t n)
{
	DIST_POINT *dp = DIST_POINT_new();
	DIST_POINT_NAME *dpn = DIST_POINT_NAME_new();
	GENERAL_NAMES *names = uri_names(uris, n);

	if (!dp || !dpn || !names) {
		DIST_POINT_free(dp);
		DIST_POINT_NAME_free(dpn);
		GENERAL_NAMES_free(names);
		return NULL;
	}
	dpn->type = 0; /* fullName */
	dpn->name.fullname = names;
	dp->distpoint = dpn;
	return dp;
}

static int add_cdp(X509 *x, const struct pkl_cert_req *req)
{
	CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
	int ok = 0;

	if (!cdp)
		return 0;
	if (req->cdp_point_per_uri) {
		for (size_t i = 0; i < req->n_cdp; i++) {
			DIST_POINT *dp = dist_point(&req->cdp_uris[i], 1);
			if (!dp || !sk_DIST_POINT_push(cdp, dp)) {
				DIST_POINT_free(dp);
				goto out;
			}
		}
	} else {
		DIST_POINT *dp = dist_point(req->cdp_uris, req->n_cdp);
		if (!dp || !sk_DIST_POINT_push(cdp, dp)) {
			DIST_POINT_free(dp);
			goto out;
		}
	}
	ok = X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0, X509V3_ADD_APPEND) == 1;
out:
	CRL_DIST_POINTS_free(cdp);
	return ok;
}

static int add_aia(X509 *x, const struct pkl_cert_req *req)
{
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	int ok = 0;

	if (!aia)
		return 0;
	for (size_t i = 0; i < req->n_aia; i++) {
		ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
		GENERAL_NAME *gn = gn_ia5(GEN_URI, req->aia_uris[i]);
		if (!ad || !gn || !sk_ACCESS_DESCRIPTION_push(aia, ad)) {
			ACCESS_DESCRIPTION_free(ad);
			GENERAL_NAME_free(gn);
			goto out;
		}
		ASN1_OBJECT_free(ad->method);
		ad->method = OBJ_nid2obj(NID_ad_ca_issuers);
		GENERAL_NAME_free(ad->location);
		ad->location = gn;
	}
	ok = X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_APPEND) == 1;
out:
	AUTHORITY_INFO_ACCESS_free(aia);
	return ok;
}

static int add_san(X509 *x, const struct pkl_cert_req *req)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int ok = 0, crit;

	if (!names)
		return 0;
	for (size_t i = 0; i < req->n_sans; i++) {
		const struct pkl_san *s = &req->sans[i];
		GENERAL_NAME *gn = NULL;
		switch (s->type) {
		case PKL_SAN_DNS: gn = gn_ia5(GEN_DNS, s->value); break;
		case PKL_SAN_EMAIL: gn = gn_ia5(GEN_EMAIL, s->value); break;
		case PKL_SAN_URI: gn = gn_ia5(GEN_URI, s->value); break;
		case PKL_SAN_IP: gn = gn_ip(s->ip, s->ip_len); break;
		}
		if (!gns_push(names, gn))
			goto out;
		/* Windows matches an IP-address gateway only against a dNSName
		 * holding the address text (strongSwan documentation, "Windows
		 * certificate requirements"). */
		if (s->type == PKL_SAN_IP && req->ip_as_dns) {
			char txt[64];
			if (!inet_ntop(s->ip_len == 4 ? AF_INET : AF_INET6, s->ip, txt, sizeof(txt)))
				goto out;
			if (!gns_push(names, gn_ia5(GEN_DNS, txt)))
				goto out;
		}
	}
	/* Critical only when the subject is empty (RFC 5280 §4.2.1.6). */
	crit = X509_NAME_entry_count(req->subject) == 0;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, names, crit, X509V3_ADD_APPEND) == 1;
out:
	GENERAL_NAMES_free(names);
	return ok;
}

static int add_eku(X509 *x, const struct pkl_cert_req *req, struct pkl_err *err)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	int ok = 0;

	if (!eku)
		return 0;
	for (size_t i = 0; i < req->n_eku; i++) {
		ASN1_OBJECT *o = OBJ_txt2obj(req->eku_oids[i], 1);
		if (!o) {
			pkl_err_ssl(err, PKL_EINPUT, NULL, "invalid extendedKeyUsage OID '%s'",
				    req->eku_oids[i]);
			goto out;
		}
		if (!sk_ASN1_OBJECT_push(eku, o)) {
			ASN1_OBJECT_free(o);
			goto out;
		}
	}
	ok = X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0, X509V3_ADD_APPEND) == 1;
out:
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return ok;
}

static int add_ku(X509 *x, unsigned ku)
{
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
	int ok = 0;

	if (!bs)
		return 0;
	/* ASN1_BIT_STRING_set_bit clears the "bits left" flag, so the encoder
	 * trims trailing zero bits and bytes: a minimal DER (RFC 5280 §4.2.1.3,
	 * ITU-T X.690 §11.2.2). */
	for (int bit = 0; bit < 9; bit++)
		if ((ku & (1u << bit)) && !ASN1_BIT_STRING_set_bit(bs, bit, 1))
			goto out;
	ok = X509_add1_ext_i2d(x, NID_key_usage, bs, 1, X509V3_ADD_APPEND) == 1;
out:
	ASN1_BIT_STRING_free(bs);
	return ok;
}

static int add_bc(X509 *x, int path_len)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int ok = 0;

	if (!bc)
		return 0;
	bc->ca = 0xff;
	if (path_len >= 0) {
		bc->pathlen = ASN1_INTEGER_new();
		if (!bc->pathlen || !ASN1_INTEGER_set(bc->pathlen, path_len))
			goto out;
	}
	ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_APPEND) == 1;
out:
	BASIC_CONSTRAINTS_free(bc);
	return ok;
}

static int add_aki(X509 *x, const ASN1_OCTET_STRING *keyid)
{
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	int ok = 0;

	if (!akid)
		return 0;
	akid->keyid = ASN1_OCTET_STRING_dup(keyid);
	if (akid->keyid)
		ok = X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_APPEND) == 1;
	AUTHORITY_KEYID_free(akid);
	return ok;
}

/* Sets the serial from big-endian magnitude bytes (leading zeros dropped). */
static enum pkl_rc set_serial(X509 *x, const unsigned char *b, size_t len, struct pkl_err *err)
{
	ASN1_INTEGER *sn = X509_get_serialNumber(x);

	while (len > 0 && b[0] == 0) {
		b++;
		len--;
	}
	if (len == 0)
		return pkl_err_set(err, PKL_EINPUT, NULL, "serial number must not be zero");
	/* <= 20 content octets including the 0x00 pad a high bit needs (RFC 5280 §4.1.2.2) */
	if (len + ((b[0] & 0x80) ? 1 : 0) > 20)
		return pkl_err_set(err, PKL_EINPUT, NULL, "serial number longer than 20 octets");
	if (!ASN1_STRING_set(sn, b, (int)len))
		return pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot set serial number");
	return PKL_OK;
}

X509 *pkl_cert_issue(const struct pkl_cert_req *req, X509 *issuer, EVP_PKEY *issuer_key, struct pkl_err *err)
{
	X509 *x = NULL;
	ASN1_OCTET_STRING *ski = NULL, *issuer_ski = NULL;
	const ASN1_OCTET_STRING *aki_id;
	unsigned char serial[16] = { 0 };
	const EVP_MD *md;
	int ok = 0;

	if (!req->subject || !req->pubkey || !issuer_key) {
		pkl_err_set(err, PKL_EINPUT, NULL, "incomplete certificate request");
		return NULL;
	}
	if (req->not_after <= req->not_before) {
		pkl_err_set(err, PKL_EINPUT, NULL, "notAfter must be later than notBefore");
		return NULL;
	}
	if (!issuer && X509_NAME_entry_count(req->subject) == 0) {
		pkl_err_set(err, PKL_EINPUT, NULL, "a self-signed certificate needs a subject name");
		return NULL;
	}
	if (issuer && X509_check_private_key(issuer, issuer_key) != 1) {
		pkl_err_ssl(err, PKL_EINPUT, NULL, "the issuer key does not match the issuer certificate");
		return NULL;
	}
	x = X509_new();
	if (!x || !X509_set_version(x, X509_VERSION_3))
		goto ssl_fail;
	if (req->serial) {
		if (set_serial(x, req->serial, req->serial_len, err) != PKL_OK)
			goto out;
	} else {
		if (pkl_serial_random(serial, err) != PKL_OK ||
		    set_serial(x, serial, sizeof(serial), err) != PKL_OK)
			goto out;
	}
	/* X509_set_*_name copy the cached DER encoding, so the issuer field is
	 * byte-identical to the issuer's subject (RFC 5280 §4.1.2.6, §6.1). */
	if (!X509_set_subject_name(x, req->subject) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : req->subject))
		goto ssl_fail;
	/* ASN1_TIME_set picks UTCTime for 1950..2049, GeneralizedTime after
	 * (RFC 5280 §4.1.2.5). */
	if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)req->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)req->not_after))
		goto ssl_fail;
	/* CAs get a decoded key (they sign next, in the same process); leaves
	 * take the fast path when their key type allows it. */
	if ((req->is_ca || !issuer || !spki_fast(X509_get_X509_PUBKEY(x), req->pubkey)) &&
	    !X509_set_pubkey(x, req->pubkey))
		goto ssl_fail;

	ski = pkl_cert_key_id(X509_get_X509_PUBKEY(x));
	if (!ski)
		goto ssl_fail;
	if (issuer) {
		aki_id = X509_get0_subject_key_id(issuer);
		if (!aki_id) {
			/* An imported issuer without SKI: use the same method 1 value
			 * a conforming issuer would carry. */
			issuer_ski = pkl_cert_key_id(X509_get_X509_PUBKEY(issuer));
			if (!issuer_ski)
				goto ssl_fail;
			aki_id = issuer_ski;
		}
	} else {
		aki_id = ski; /* self-signed: AKI = own SKI (docs/profile.md, root CA) */
	}

	if (req->is_ca && !add_bc(x, req->path_len))
		goto ssl_fail;
	if (req->key_usage && !add_ku(x, req->key_usage))
		goto ssl_fail;
	if (req->n_eku && !add_eku(x, req, err)) {
		if (err && err->rc != PKL_OK && err->msg[0])
			goto out;
		goto ssl_fail;
	}
	if (X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_APPEND) != 1 ||
	    !add_aki(x, aki_id))
		goto ssl_fail;
	if (req->n_sans && !add_san(x, req))
		goto ssl_fail;
	if (req->n_cdp && !add_cdp(x, req))
		goto ssl_fail;
	if (req->n_aia && !add_aia(x, req))
		goto ssl_fail;

	md = req->md ? req->md : pkl_key_default_md(issuer_key);
	if (X509_sign(x, issuer_key, md) <= 0)
		goto ssl_fail;
	ok = 1;
	goto out;
ssl_fail:
	pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot build certificate");
out:
	ASN1_OCTET_STRING_free(ski);
	ASN1_OCTET_STRING_free(issuer_ski);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* ---- encoding helpers -------------------------------------------------- */

enum pkl_rc pkl_cert_to_pem(X509 *cert, struct pkl_buf *out, struct pkl_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	enum pkl_rc rc = PKL_ERUNTIME;
	char *data;
	long n;

	if (!bio || !PEM_write_bio_X509(bio, cert)) {
		pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot encode certificate");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || pkl_buf_append(out, data, (size_t)n) != PKL_OK) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto out;
	}
	rc = PKL_OK;
out:
	BIO_free(bio);
	return rc;
}

enum pkl_rc pkl_cert_to_der(X509 *cert, struct pkl_buf *out, struct pkl_err *err)
{
	int n = i2d_X509(cert, NULL);
	unsigned char *p;

	if (n <= 0)
		return pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot encode certificate");
	if (pkl_buf_reserve(out, (size_t)n) != PKL_OK)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	p = out->data + out->len;
	if (i2d_X509(cert, &p) != n)
		return pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot encode certificate");
	out->len += (size_t)n;
	out->data[out->len] = '\0';
	return PKL_OK;
}

X509 *pkl_cert_from_der(const unsigned char *der, size_t len, const char *where, struct pkl_err *err)
{
	const unsigned char *p = der;
	X509 *x;

	if (len > 0x7fffffff) {
		pkl_err_set(err, PKL_EINPUT, where, "certificate too large");
		return NULL;
	}
	x = d2i_X509(NULL, &p, (long)len);
	if (!x) {
		pkl_err_ssl(err, PKL_EINPUT, where, "cannot parse DER certificate");
		return NULL;
	}
	if (p != der + len) {
		X509_free(x);
		pkl_err_set(err, PKL_EINPUT, where, "trailing data after DER certificate");
		return NULL;
	}
	return x;
}

X509 *pkl_cert_load(const char *path, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	X509 *x = NULL;

	if (pkl_file_read(path, 1u << 20, &b, err) != PKL_OK)
		return NULL;
	if (b.len > 0 && b.data[0] == 0x30) {
		x = pkl_cert_from_der(b.data, b.len, path, err);
	} else {
		BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
		if (bio)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (!x)
			pkl_err_ssl(err, PKL_EINPUT, path, "cannot read certificate (PEM or DER)");
		else
			ERR_clear_error();
	}
	pkl_buf_free(&b);
	return x;
}
