/* Unit tests: certificate issuance (ca/lib/cert.c) against the profile in
 * docs/profile.md (RFC 5280 sections in the comments), SAN
 * syntax, KU/EKU vocabulary, serials and encoding helpers. Independent
 * check: `openssl verify` on the chain written to a temporary directory.
 * The issuance rate is measured by scripts/bench/cert.sh, not here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pkilab/cert.h"
#include "pkilab/key.h"
#include "pkilab/name.h"
#include "fixture.h"

static char dir[] = "/tmp/pkl-test-cert-XXXXXX";

/* A three-level hierarchy shared by the tests. */
static EVP_PKEY *root_key, *int_key, *leaf_key;
static X509 *root, *inter;
static X509_NAME *root_name, *int_name, *leaf_name;
static const pkl_time T0 = 1798761600; /* 2027-01-01T00:00:00Z */

static const char *const cdp2[] = { "http://127.0.0.1:8081/crl/vpn-ca.crl",
				    "http://127.0.0.2:8081/crl/vpn-ca.crl",
				    "http://127.0.0.3:8081/crl/vpn-ca.crl" };
static const char *const aia2[] = { "http://127.0.0.1:8081/aia/vpn-ca.crt",
				    "http://127.0.0.2:8081/aia/vpn-ca.crt" };

static EVP_PKEY *gen(const char *spec)
{
	struct pkl_key_spec s;
	struct pkl_err err = { 0 };
	EVP_PKEY *k;

	if (pkl_key_spec_parse(spec, &s, &err) != PKL_OK || !(k = pkl_key_generate(&s, &err)))
		return NULL;
	return k;
}

static X509_NAME *dn(const char *s)
{
	struct pkl_err err = { 0 };
	X509_NAME *n = pkl_name_parse(s, &err);

	if (!n)
		fail_msg("dn '%s': %s", s, err.msg);
	return n;
}

static void ca_req(struct pkl_cert_req *r, const X509_NAME *subject, EVP_PKEY *key, int path_len)
{
	memset(r, 0, sizeof(*r));
	r->subject = subject;
	r->pubkey = key;
	r->not_before = T0 - 3600;
	r->not_after = T0 + 10 * 365 * 86400;
	r->is_ca = 1;
	r->path_len = path_len;
	r->key_usage = PKL_KU_KEY_CERT_SIGN | PKL_KU_CRL_SIGN;
}

static void leaf_req(struct pkl_cert_req *r, const struct pkl_san *sans, size_t n_sans)
{
	static const char *eku[3];

	eku[0] = pkl_eku_oid("serverAuth");
	eku[1] = pkl_eku_oid("ikeIntermediate");
	eku[2] = pkl_eku_oid("ipsecIKE");
	memset(r, 0, sizeof(*r));
	r->subject = leaf_name;
	r->pubkey = leaf_key;
	r->sans = sans;
	r->n_sans = n_sans;
	r->ip_as_dns = 1;
	r->not_before = T0 - 3600;
	r->not_after = T0 + 397L * 86400;
	r->path_len = -1;
	r->key_usage = PKL_KU_DIGITAL_SIGNATURE;
	r->eku_oids = eku;
	r->n_eku = 3;
	r->cdp_uris = cdp2;
	r->n_cdp = 3;
	r->aia_uris = aia2;
	r->n_aia = 2;
}

static int setup(void **state)
{
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	root_key = gen("ec:P-384");
	int_key = gen("ec:P-256");
	leaf_key = gen("ec:P-256");
	root_name = dn("C=CH, O=pkilab Test, CN=pkilab Test Root CA G1");
	int_name = dn("C=CH, O=pkilab Test, CN=pkilab Test VPN CA G1");
	leaf_name = dn("CN=vpn.example.test");
	ca_req(&r, root_name, root_key, -1);
	root = pkl_cert_issue(&r, NULL, root_key, &err);
	ca_req(&r, int_name, int_key, 0);
	inter = pkl_cert_issue(&r, root, root_key, &err);
	if (!root || !inter) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(root);
	X509_free(inter);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(leaf_key);
	X509_NAME_free(root_name);
	X509_NAME_free(int_name);
	X509_NAME_free(leaf_name);
	return fx_rmtree(dir);
}

static X509 *issue_leaf(void)
{
	struct pkl_san sans[2];
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };
	X509 *x;

	assert_int_equal(pkl_san_parse("vpn.example.test", &sans[0], &err), PKL_OK);
	assert_int_equal(pkl_san_parse("192.0.2.10", &sans[1], &err), PKL_OK);
	leaf_req(&r, sans, 2);
	x = pkl_cert_issue(&r, inter, int_key, &err);
	if (!x)
		fail_msg("issue: %s", err.msg);
	return x;
}

static const X509_EXTENSION *ext(const X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	if (i < 0)
		return NULL;
	assert_int_equal(X509_get_ext_by_NID(x, nid, i), -1); /* no duplicates (RFC 5280 4.2) */
	return X509_get_ext(x, i);
}

/* The DER bytes of an extension's extnValue. */
static const unsigned char *ext_value(const X509 *x, int nid, int *len)
{
	const X509_EXTENSION *e = ext(x, nid);
	const ASN1_OCTET_STRING *v;

	assert_non_null(e);
	v = X509_EXTENSION_get_data((X509_EXTENSION *)e);
	*len = ASN1_STRING_length(v);
	return ASN1_STRING_get0_data(v);
}

static int is_critical(const X509 *x, int nid)
{
	const X509_EXTENSION *e = ext(x, nid);

	assert_non_null(e);
	return X509_EXTENSION_get_critical(e);
}

/* ---- serials (#1-#4) ---------------------------------------------------- */

static void serial_random_16_bytes_top_bit_clear(void **state)
{
	unsigned char s[16], prev[16] = { 0 };
	struct pkl_err err = { 0 };
	int top_seen = 0;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		int nonzero = 0;
		assert_int_equal(pkl_serial_random(s, &err), PKL_OK);
		assert_true((s[0] & 0x80) == 0);
		assert_true(s[0] != 0); /* always 16 significant octets */
		for (int j = 0; j < 16; j++)
			nonzero |= s[j];
		assert_true(nonzero);
		assert_memory_not_equal(s, prev, 16);
		memcpy(prev, s, 16);
		top_seen |= s[0] & 0x40; /* the other bits of the first byte do vary */
	}
	assert_true(top_seen);
}

static void serial_in_cert_positive_16_octets(void **state)
{
	char seen[50][40];

	(void)state;
	for (int i = 0; i < 50; i++) {
		X509 *x = issue_leaf();
		const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
		unsigned char *d = NULL;
		int n = i2d_ASN1_INTEGER(sn, &d);
		/* 02 10 content: exactly 16 content octets, first in 0x01..0x7f, positive */
		assert_int_equal(n, 18);
		assert_int_equal(d[1], 16);
		assert_true(d[2] < 0x80 && d[2] != 0);
		assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
		pkl_serial_hex(x, seen[i], sizeof(seen[i]));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
		OPENSSL_free(d);
		X509_free(x);
	}
}

static void serial_from_request(void **state)
{
	static const unsigned char given[] = { 0x00, 0x00, 0x81, 0x02 };
	static const unsigned char zero[] = { 0x00, 0x00 };
	unsigned char big[20];
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };
	char hex[64];
	X509 *x;

	(void)state;
	leaf_req(&r, NULL, 0);
	r.serial = given;
	r.serial_len = sizeof(given);
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	/* leading zeros dropped, high bit padded: INTEGER 00 81 02 */
	assert_string_equal(pkl_serial_hex(x, hex, sizeof(hex)), "8102");
	X509_free(x);

	r.serial = zero;
	r.serial_len = sizeof(zero);
	assert_null(pkl_cert_issue(&r, inter, int_key, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_non_null(strstr(err.msg, "zero"));

	memset(big, 0xff, sizeof(big)); /* 20 bytes + 0x00 pad = 21 octets (#2) */
	r.serial = big;
	r.serial_len = sizeof(big);
	assert_null(pkl_cert_issue(&r, inter, int_key, &err));
	assert_non_null(strstr(err.msg, "20 octets"));
	big[0] = 0x7f;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	X509_free(x);
}

/* ---- structure ---------------------------------------------------------- */

static void version3_and_signature_verifies(void **state)
{
	X509 *x = issue_leaf();

	(void)state;
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_verify(x, int_key), 1);
	assert_int_equal(X509_verify(x, root_key), 0);
	assert_int_equal(X509_verify(inter, root_key), 1);
	assert_int_equal(X509_verify(root, root_key), 1);
	/* P-384 root signs with SHA-384 (NIST SP 800-57), P-256 with SHA-256 */
	assert_int_equal(X509_get_signature_nid(inter), NID_ecdsa_with_SHA384);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	X509_free(x);
}

static void issuer_dn_der_equals_parent_subject(void **state)
{
	X509 *x = issue_leaf();
	unsigned char *a = NULL, *b = NULL;
	int la, lb;

	(void)state;
	la = i2d_X509_NAME(X509_get_issuer_name(x), &a);
	lb = i2d_X509_NAME(X509_get_subject_name(inter), &b);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, (size_t)la);
	OPENSSL_free(a);
	OPENSSL_free(b);
	/* self-signed root: issuer = subject */
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(root), X509_get_subject_name(root)), 0);
	X509_free(x);
}

static int time_tag(const ASN1_TIME *t)
{
	return ASN1_STRING_type(t);
}

static void utctime_through_2049_generalized_from_2050(void **state)
{
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };
	X509 *x;
	const pkl_time end2049 = 2524607999; /* 2049-12-31T23:59:59Z */

	(void)state;
	leaf_req(&r, NULL, 0);
	r.not_after = end2049;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	assert_int_equal(time_tag(X509_get0_notBefore(x)), V_ASN1_UTCTIME);
	assert_int_equal(time_tag(X509_get0_notAfter(x)), V_ASN1_UTCTIME);
	assert_int_equal(ASN1_STRING_length(X509_get0_notAfter(x)), 13); /* YYMMDDHHMMSSZ (#7) */
	assert_memory_equal(ASN1_STRING_get0_data(X509_get0_notAfter(x)), "491231235959Z", 13);
	X509_free(x);

	r.not_after = end2049 + 1;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	assert_int_equal(time_tag(X509_get0_notBefore(x)), V_ASN1_UTCTIME);
	assert_int_equal(time_tag(X509_get0_notAfter(x)), V_ASN1_GENERALIZEDTIME);
	assert_memory_equal(ASN1_STRING_get0_data(X509_get0_notAfter(x)), "20500101000000Z", 15);
	X509_free(x);

	r.not_before = end2049 + 1; /* both fields are independent */
	r.not_after = end2049 + 86400;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	assert_int_equal(time_tag(X509_get0_notBefore(x)), V_ASN1_GENERALIZEDTIME);
	X509_free(x);

	r.not_after = r.not_before; /* #8 */
	assert_null(pkl_cert_issue(&r, inter, int_key, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
}

static void basic_constraints_ca_critical_leaf_absent(void **state)
{
	X509 *x = issue_leaf();
	BASIC_CONSTRAINTS *bc;
	int len;
	const unsigned char *v;

	(void)state;
	assert_int_equal(is_critical(inter, NID_basic_constraints), 1);
	bc = X509_get_ext_d2i(inter, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	/* root: CA without pathLen: SEQUENCE { BOOLEAN TRUE } */
	v = ext_value(root, NID_basic_constraints, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(v, "\x30\x03\x01\x01\xff", 5);
	/* end entity: absent (RFC 5280 4.2.1.9: absent or cA=FALSE) */
	assert_null(ext(x, NID_basic_constraints));
	X509_free(x);
}

static void key_usage_critical_minimal_bits(void **state)
{
	X509 *x = issue_leaf();
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };
	const unsigned char *v;
	int len;

	(void)state;
	assert_int_equal(is_critical(x, NID_key_usage), 1);
	v = ext_value(x, NID_key_usage, &len);
	/* digitalSignature only: BIT STRING, 7 unused bits, 0x80 */
	assert_int_equal(len, 4);
	assert_memory_equal(v, "\x03\x02\x07\x80", 4);
	X509_free(x);

	/* keyCertSign|cRLSign: bits 5 and 6 -> 0x06 with 1 unused bit */
	assert_int_equal(is_critical(inter, NID_key_usage), 1);
	v = ext_value(inter, NID_key_usage, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(v, "\x03\x02\x01\x06", 4);
	assert_true(X509_get_key_usage(inter) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(inter) & KU_CRL_SIGN);

	/* decipherOnly is bit 8: a second byte, 7 unused bits */
	leaf_req(&r, NULL, 0);
	r.key_usage = PKL_KU_KEY_AGREEMENT | PKL_KU_DECIPHER_ONLY;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	v = ext_value(x, NID_key_usage, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(v, "\x03\x03\x07\x08\x80", 5);
	X509_free(x);

	/* key_usage 0: no extension */
	leaf_req(&r, NULL, 0);
	r.key_usage = 0;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	assert_null(ext(x, NID_key_usage));
	X509_free(x);
}

static void eku_oids_in_order_non_critical(void **state)
{
	X509 *x = issue_leaf();
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	char oid[64];

	(void)state;
	assert_int_equal(is_critical(x, NID_ext_key_usage), 0);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 3);
	OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, 0), 1);
	assert_string_equal(oid, "1.3.6.1.5.5.7.3.1");
	OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, 1), 1);
	assert_string_equal(oid, "1.3.6.1.5.5.8.2.2");
	OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, 2), 1);
	assert_string_equal(oid, "1.3.6.1.5.5.7.3.17");
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	/* CAs issued without EKU here carry none (CA/B Forum BR 7.1.2.1: a root has no EKU) */
	assert_null(ext(root, NID_ext_key_usage));
	X509_free(x);
}

/* SKI = SHA-1 over the subjectPublicKey BIT STRING value (method 1),
 * non-critical, on every certificate; AKI keyIdentifier only = issuer SKI. */
static void ski_method1_aki_equals_issuer_ski(void **state)
{
	X509 *x = issue_leaf();
	X509 *certs[3] = { root, inter, x };
	X509 *issuers[3] = { root, root, inter };

	(void)state;
	for (int i = 0; i < 3; i++) {
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(certs[i]);
		const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(certs[i]);
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen;
		AUTHORITY_KEYID *akid;

		assert_non_null(ski);
		assert_int_equal(is_critical(certs[i], NID_subject_key_identifier), 0);
		assert_int_equal(X509_pubkey_digest(certs[i], EVP_sha1(), md, &mdlen), 1);
		assert_int_equal(ASN1_STRING_length(ski), 20);
		assert_memory_equal(ASN1_STRING_get0_data(ski), md, 20);

		assert_non_null(aki);
		assert_int_equal(is_critical(certs[i], NID_authority_key_identifier), 0);
		assert_int_equal(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(issuers[i])), 0);
		akid = X509_get_ext_d2i(certs[i], NID_authority_key_identifier, NULL, NULL);
		assert_non_null(akid);
		assert_null(akid->issuer);
		assert_null(akid->serial);
		AUTHORITY_KEYID_free(akid);
	}
	X509_free(x);
}

static void san_ip_also_dns_in_order_non_critical(void **state)
{
	X509 *x = issue_leaf();
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	const GENERAL_NAME *g;
	const ASN1_STRING *v;

	(void)state;
	assert_int_equal(is_critical(x, NID_subject_alt_name), 0);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, GEN_DNS);
	assert_string_equal(ASN1_STRING_get0_data(g->d.dNSName), "vpn.example.test");
	g = sk_GENERAL_NAME_value(gens, 1);
	assert_int_equal(g->type, GEN_IPADD);
	v = g->d.iPAddress;
	assert_int_equal(ASN1_STRING_length(v), 4); /* RFC 5280 4.2.1.6 */
	assert_memory_equal(ASN1_STRING_get0_data(v), "\xc0\x00\x02\x0a", 4);
	g = sk_GENERAL_NAME_value(gens, 2);
	assert_int_equal(g->type, GEN_DNS);
	assert_string_equal(ASN1_STRING_get0_data(g->d.dNSName), "192.0.2.10");
	GENERAL_NAMES_free(gens);
	X509_free(x);
}

static void san_without_ip_as_dns_and_ipv6_email_uri(void **state)
{
	struct pkl_san sans[3];
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };
	GENERAL_NAMES *gens;
	X509 *x;

	(void)state;
	assert_int_equal(pkl_san_parse("2001:db8::1", &sans[0], &err), PKL_OK);
	assert_int_equal(pkl_san_parse("alice@example.test", &sans[1], &err), PKL_OK);
	assert_int_equal(pkl_san_parse("URI:urn:example:alice", &sans[2], &err), PKL_OK);
	leaf_req(&r, sans, 3);
	r.ip_as_dns = 0;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 0)->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 0)->d.iPAddress), 16);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->type, GEN_EMAIL);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 2)->type, GEN_URI);
	GENERAL_NAMES_free(gens);
	X509_free(x);
}

static void san_critical_when_subject_empty(void **state)
{
	struct pkl_san san;
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };
	X509_NAME *empty = X509_NAME_new();
	X509 *x;

	(void)state;
	assert_int_equal(pkl_san_parse("vpn.example.test", &san, &err), PKL_OK);
	leaf_req(&r, &san, 1);
	r.subject = empty;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	assert_int_equal(is_critical(x, NID_subject_alt_name), 1);
	X509_free(x);
	X509_NAME_free(empty);
}

static void check_dp_uris(const DIST_POINT *dp, const char *const *uris, size_t n)
{
	assert_non_null(dp->distpoint);
	assert_int_equal(dp->distpoint->type, 0); /* fullName (RFC 5280 4.2.1.13) */
	assert_null(dp->reasons);                 /* RFC 5280 4.2.1.13 */
	assert_null(dp->CRLissuer);
	assert_int_equal(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), (int)n);
	for (size_t i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, (int)i);
		assert_int_equal(g->type, GEN_URI);
		assert_string_equal(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), uris[i]);
	}
}

static void cdp_one_point_all_uris_in_order(void **state)
{
	X509 *x = issue_leaf();
	CRL_DIST_POINTS *cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);

	(void)state;
	assert_int_equal(is_critical(x, NID_crl_distribution_points), 0);
	assert_non_null(cdp);
	assert_int_equal(sk_DIST_POINT_num(cdp), 1);
	check_dp_uris(sk_DIST_POINT_value(cdp, 0), cdp2, 3);
	CRL_DIST_POINTS_free(cdp);
	X509_free(x);
}

static void cdp_point_per_uri_in_order(void **state)
{
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };
	CRL_DIST_POINTS *cdp;
	X509 *x;

	(void)state;
	leaf_req(&r, NULL, 0);
	r.cdp_point_per_uri = 1;
	x = pkl_cert_issue(&r, inter, int_key, &err);
	assert_non_null(x);
	cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	assert_int_equal(sk_DIST_POINT_num(cdp), 3);
	for (int i = 0; i < 3; i++)
		check_dp_uris(sk_DIST_POINT_value(cdp, i), &cdp2[i], 1);
	CRL_DIST_POINTS_free(cdp);
	X509_free(x);
	/* the root has none: nothing above it signs a CRL for it */
	assert_null(ext(root, NID_crl_distribution_points));
	assert_null(ext(root, NID_info_access));
}

static void aia_ca_issuers_in_order(void **state)
{
	X509 *x = issue_leaf();
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);

	(void)state;
	assert_int_equal(is_critical(x, NID_info_access), 0);
	assert_non_null(aia);
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 2);
	for (int i = 0; i < 2; i++) {
		const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
		assert_int_equal(ad->location->type, GEN_URI);
		assert_string_equal(ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier),
				    aia2[i]);
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	X509_free(x);
}

/* The directly written SPKI of a leaf is byte-identical to OpenSSL's own
 * encoding (for each key type that takes that path). */
static void leaf_spki_matches_openssl_encoding(void **state)
{
	static const char *const specs[] = { "ec:P-256", "ec:P-384", "ec:P-521", "ed25519", "rsa:2048" };
	struct pkl_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		EVP_PKEY *k = gen(specs[i]);
		struct pkl_cert_req r;
		unsigned char *a = NULL, *b = NULL;
		int la, lb;
		X509 *x;

		assert_non_null(k);
		leaf_req(&r, NULL, 0);
		r.pubkey = k;
		x = pkl_cert_issue(&r, inter, int_key, &err);
		assert_non_null(x);
		la = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &a);
		lb = i2d_PUBKEY(k, &b);
		assert_true(la > 0);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
		OPENSSL_free(a);
		OPENSSL_free(b);
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

static void other_issuer_algorithms(void **state)
{
	static const struct {
		const char *spec;
		int sig_nid;
	} cases[] = { { "ed25519", NID_ED25519 },
		      { "rsa:2048", NID_sha256WithRSAEncryption },
		      { "ec:P-521", NID_ecdsa_with_SHA512 } };
	struct pkl_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EVP_PKEY *k = gen(cases[i].spec);
		struct pkl_cert_req r;
		X509 *ca, *x;

		ca_req(&r, root_name, k, 1);
		ca = pkl_cert_issue(&r, NULL, k, &err);
		assert_non_null(ca);
		assert_int_equal(X509_get_signature_nid(ca), cases[i].sig_nid);
		leaf_req(&r, NULL, 0);
		x = pkl_cert_issue(&r, ca, k, &err);
		assert_non_null(x);
		assert_int_equal(X509_get_signature_nid(x), cases[i].sig_nid);
		assert_int_equal(X509_verify(x, k), 1);
		X509_free(x);
		X509_free(ca);
		EVP_PKEY_free(k);
	}
}

static void issuer_key_mismatch_rejected(void **state)
{
	struct pkl_cert_req r;
	struct pkl_err err = { 0 };

	(void)state;
	leaf_req(&r, NULL, 0);
	assert_null(pkl_cert_issue(&r, inter, root_key, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_non_null(strstr(err.msg, "does not match"));
}

static void write_pem(const char *name, X509 *x)
{
	struct pkl_buf b = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	char path[PATH_MAX];
	FILE *f;

	assert_int_equal(pkl_cert_to_pem(x, &b, &err), PKL_OK);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	pkl_buf_free(&b);
}

/* Independent validator: openssl verify with the IPsec-ish purpose. */
static void openssl_verify_chain(void **state)
{
	X509 *x = issue_leaf();
	char cmd[3 * PATH_MAX];

	(void)state;
	write_pem("root.pem", root);
	write_pem("int.pem", inter);
	write_pem("leaf.pem", x);
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -x509_strict -attime %lld -purpose sslserver -CAfile %s/root.pem "
		 "-untrusted %s/int.pem %s/leaf.pem >/dev/null",
		 (long long)T0, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	/* and it must be able to fail: the leaf is not valid before notBefore */
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -attime %lld -CAfile %s/root.pem -untrusted %s/int.pem "
		 "%s/leaf.pem >/dev/null 2>&1",
		 (long long)T0 - 86400, dir, dir, dir);
	assert_int_not_equal(system(cmd), 0);
	X509_free(x);
}

static void pem_der_load_round_trip(void **state)
{
	X509 *x = issue_leaf(), *y;
	struct pkl_buf der = PKL_BUF_INIT, der2 = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	char path[PATH_MAX];
	FILE *f;

	(void)state;
	assert_int_equal(pkl_cert_to_der(x, &der, &err), PKL_OK);
	y = pkl_cert_from_der(der.data, der.len, "mem", &err);
	assert_non_null(y);
	assert_int_equal(X509_cmp(x, y), 0);
	assert_non_null(X509_get0_pubkey(y)); /* a reloaded leaf has its key decoded */
	X509_free(y);

	snprintf(path, sizeof(path), "%s/leaf.der", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(der.data, 1, der.len, f);
	fclose(f);
	y = pkl_cert_load(path, &err);
	assert_non_null(y);
	assert_int_equal(pkl_cert_to_der(y, &der2, &err), PKL_OK);
	assert_int_equal(der.len, der2.len);
	assert_memory_equal(der.data, der2.data, der.len);
	X509_free(y);

	write_pem("leaf2.pem", x);
	snprintf(path, sizeof(path), "%s/leaf2.pem", dir);
	y = pkl_cert_load(path, &err);
	assert_non_null(y);
	assert_int_equal(X509_cmp(x, y), 0);
	X509_free(y);

	/* trailing bytes after the DER are refused */
	assert_int_equal(pkl_buf_append(&der, "\0", 1), PKL_OK);
	assert_null(pkl_cert_from_der(der.data, der.len, "mem", &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	snprintf(path, sizeof(path), "%s/int.pem", dir); /* not there unless a test wrote it */
	assert_null(pkl_cert_from_der((const unsigned char *)"junk", 4, "junk", &err));
	pkl_buf_free(&der);
	pkl_buf_free(&der2);
	X509_free(x);
}

/* ---- vocabulary --------------------------------------------------------- */

static void ku_and_eku_names(void **state)
{
	const char *const *names = pkl_ku_names();
	size_t n = 0;

	(void)state;
	assert_int_equal(pkl_ku_from_name("digitalSignature"), PKL_KU_DIGITAL_SIGNATURE);
	assert_int_equal(pkl_ku_from_name("keyCertSign"), PKL_KU_KEY_CERT_SIGN);
	assert_int_equal(pkl_ku_from_name("cRLSign"), PKL_KU_CRL_SIGN);
	assert_int_equal(pkl_ku_from_name("decipherOnly"), PKL_KU_DECIPHER_ONLY);
	assert_int_equal(pkl_ku_from_name("contentCommitment"), PKL_KU_NON_REPUDIATION);
	assert_int_equal(pkl_ku_from_name("digitalSignatures"), 0);
	while (names[n])
		n++;
	assert_int_equal(n, 9);

	assert_string_equal(pkl_eku_oid("serverAuth"), "1.3.6.1.5.5.7.3.1");
	assert_string_equal(pkl_eku_oid("clientAuth"), "1.3.6.1.5.5.7.3.2");
	assert_string_equal(pkl_eku_oid("ikeIntermediate"), "1.3.6.1.5.5.8.2.2");
	assert_string_equal(pkl_eku_oid("ipsecIKE"), "1.3.6.1.5.5.7.3.17");
	assert_string_equal(pkl_eku_oid("msSmartcardLogon"), "1.3.6.1.4.1.311.20.2.2");
	assert_string_equal(pkl_eku_oid("1.2.3.4"), "1.2.3.4");
	assert_null(pkl_eku_oid("serverauthx"));
	assert_null(pkl_eku_oid("1.2..3"));
	assert_null(pkl_eku_oid("1.2."));
	assert_null(pkl_eku_oid("3.1"));
	assert_null(pkl_eku_oid("1"));
	assert_string_equal(pkl_eku_name("1.3.6.1.5.5.7.3.17"), "ipsecIKE");
	assert_string_equal(pkl_eku_name("1.2.3.4"), "1.2.3.4");
	assert_non_null(pkl_eku_names()[0]);
}

static void san_ok(const char *in, enum pkl_san_type type, const char *value)
{
	struct pkl_san s;
	struct pkl_err err = { 0 };

	if (pkl_san_parse(in, &s, &err) != PKL_OK)
		fail_msg("'%s' rejected: %s", in, err.msg);
	assert_int_equal(s.type, type);
	assert_string_equal(s.value, value);
}

static void san_bad(const char *in, const char *fragment)
{
	struct pkl_san s;
	struct pkl_err err = { 0 };

	if (pkl_san_parse(in, &s, &err) == PKL_OK)
		fail_msg("'%s' accepted", in);
	assert_int_equal(err.rc, PKL_EINPUT);
	if (!strstr(err.msg, fragment))
		fail_msg("'%s': message '%s' lacks '%s'", in, err.msg, fragment);
}

static void san_parse_syntax(void **state)
{
	char long_name[300], label64[80];
	struct pkl_san s;
	struct pkl_err err = { 0 };

	(void)state;
	san_ok("vpn.example.test", PKL_SAN_DNS, "vpn.example.test");
	san_ok("DNS:vpn.example.test", PKL_SAN_DNS, "vpn.example.test");
	san_ok("*.example.test", PKL_SAN_DNS, "*.example.test");
	san_ok("localhost", PKL_SAN_DNS, "localhost");
	san_ok("192.0.2.10", PKL_SAN_IP, "192.0.2.10");
	san_ok("IP:2001:db8::1", PKL_SAN_IP, "2001:db8::1");
	san_ok("alice@example.test", PKL_SAN_EMAIL, "alice@example.test");
	san_ok("email:bob@example.test", PKL_SAN_EMAIL, "bob@example.test");
	san_ok("URI:http://example.test/x", PKL_SAN_URI, "http://example.test/x");

	assert_int_equal(pkl_san_parse("192.0.2.10", &s, &err), PKL_OK);
	assert_int_equal(s.ip_len, 4);
	assert_memory_equal(s.ip, "\xc0\x00\x02\x0a", 4);
	assert_int_equal(pkl_san_parse("::1", &s, &err), PKL_OK);
	assert_int_equal(s.ip_len, 16);
	assert_int_equal(s.ip[15], 1);

	san_bad("a..example.test", "empty label");
	san_bad(".example.test", "empty label");
	san_bad("example.test.", "empty label");
	san_bad("-a.example.test", "starts with '-'");
	san_bad("a-.example.test", "ends with '-'");
	san_bad("a_b.example.test", "not allowed");
	san_bad("a.*.example.test", "wildcard");
	san_bad("192.0.2.300", "not a valid IP address");
	san_bad("IP:192.0.2", "invalid IP address");
	san_bad("DNS:", "empty");
	san_bad("", "empty");
	san_bad("@example.test", "invalid email");
	san_bad("a@b@example.test", "invalid email");
	san_bad("alice@exa mple.test", "invalid email");
	san_bad("URI:no-scheme", "no scheme");
	san_bad("URI:http://exa mple", "percent-encoded");

	memset(label64, 'a', 64);
	label64[64] = '\0';
	strcat(label64, ".test");
	san_bad(label64, "longer than 63");

	/* 253 characters is the limit (RFC 1035 2.3.4): 4 x 63 + 1 dots... build exactly */
	memset(long_name, 0, sizeof(long_name));
	for (int i = 0; i < 4; i++) {
		memset(long_name + (size_t)i * 64, 'b', 63);
		long_name[i * 64 + 63] = '.';
	}
	long_name[253] = '\0'; /* 253 chars, last label 61 characters */
	assert_int_equal(strlen(long_name), 253);
	assert_int_equal(pkl_san_parse(long_name, &s, &err), PKL_OK);
	long_name[253] = 'c';
	long_name[254] = '\0';
	san_bad(long_name, "longer than 253");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(serial_random_16_bytes_top_bit_clear),
		cmocka_unit_test(serial_in_cert_positive_16_octets),
		cmocka_unit_test(serial_from_request),
		cmocka_unit_test(version3_and_signature_verifies),
		cmocka_unit_test(issuer_dn_der_equals_parent_subject),
		cmocka_unit_test(utctime_through_2049_generalized_from_2050),
		cmocka_unit_test(basic_constraints_ca_critical_leaf_absent),
		cmocka_unit_test(key_usage_critical_minimal_bits),
		cmocka_unit_test(eku_oids_in_order_non_critical),
		cmocka_unit_test(ski_method1_aki_equals_issuer_ski),
		cmocka_unit_test(san_ip_also_dns_in_order_non_critical),
		cmocka_unit_test(san_without_ip_as_dns_and_ipv6_email_uri),
		cmocka_unit_test(san_critical_when_subject_empty),
		cmocka_unit_test(cdp_one_point_all_uris_in_order),
		cmocka_unit_test(cdp_point_per_uri_in_order),
		cmocka_unit_test(aia_ca_issuers_in_order),
		cmocka_unit_test(leaf_spki_matches_openssl_encoding),
		cmocka_unit_test(other_issuer_algorithms),
		cmocka_unit_test(issuer_key_mismatch_rejected),
		cmocka_unit_test(openssl_verify_chain),
		cmocka_unit_test(pem_der_load_round_trip),
		cmocka_unit_test(ku_and_eku_names),
		cmocka_unit_test(san_parse_syntax),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
