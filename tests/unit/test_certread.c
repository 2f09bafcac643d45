/* Unit tests: the certificate reader (ca/lib/certread.c): SANs of every
 * type and their text, several CRL distribution points, AIA, the IKE
 * identity, a certificate without extensions and a malformed extension.
 * Certificates are built here, unsigned: the reader only decodes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "pkilab/certread.h"

static X509 *bare(const char *cn)
{
	X509 *x = X509_new();

	assert_non_null(x);
	if (cn)
		assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
							    (const unsigned char *)cn, -1, -1, 0),
				 1);
	return x;
}

static GENERAL_NAME *gn(int type, const void *data, int len)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

	assert_non_null(g);
	assert_non_null(s);
	assert_int_equal(ASN1_STRING_set(s, data, len), 1);
	GENERAL_NAME_set0_value(g, type, s);
	return g;
}

static GENERAL_NAME *gn_dir(const char *cn)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(g);
	assert_non_null(n);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	GENERAL_NAME_set0_value(g, GEN_DIRNAME, n);
	return g;
}

static const unsigned char ip4[4] = { 192, 0, 2, 1 };
static const unsigned char ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

/* SANs in this order: DNS, IP v4, dirName, IP v6, email, URI, IP of 5 octets. */
static X509 *with_every_san(void)
{
	X509 *x = bare("every.test");
	GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();

	sk_GENERAL_NAME_push(g, gn(GEN_DNS, "vpn.test", 8));
	sk_GENERAL_NAME_push(g, gn(GEN_IPADD, ip4, 4));
	sk_GENERAL_NAME_push(g, gn_dir("dir"));
	sk_GENERAL_NAME_push(g, gn(GEN_IPADD, ip6, 16));
	sk_GENERAL_NAME_push(g, gn(GEN_EMAIL, "ops@vpn.test", 12));
	sk_GENERAL_NAME_push(g, gn(GEN_URI, "http://vpn.test/", 16));
	sk_GENERAL_NAME_push(g, gn(GEN_IPADD, "\1\2\3\4\5", 5));
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, X509V3_ADD_APPEND), 1);
	GENERAL_NAMES_free(g);
	return x;
}

static void san_types_and_text(void **state)
{
	static const struct {
		enum pkl_san_type type;
		int ok;
		const char *with, *bare;
	} want[] = {
		{ PKL_SAN_DNS, 1, "DNS:vpn.test", "vpn.test" },
		{ PKL_SAN_IP, 1, "IP:192.0.2.1", "192.0.2.1" },
		{ 0, 0, "", "" },
		{ PKL_SAN_IP, 1, "IP:2001:db8::1", "2001:db8::1" },
		{ PKL_SAN_EMAIL, 1, "email:ops@vpn.test", "ops@vpn.test" },
		{ PKL_SAN_URI, 1, "URI:http://vpn.test/", "http://vpn.test/" },
		{ PKL_SAN_IP, 0, "IP:?", "?" },
	};
	X509 *x = with_every_san();
	struct pkl_certread_names san;
	char buf[64];

	(void)state;
	assert_int_equal(pkl_certread_san(x, &san, NULL), PKL_OK);
	assert_int_equal(san.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < san.n; i++) {
		assert_int_equal(san.v[i].type, want[i].type);
		assert_int_equal(pkl_certread_name_text(&san.v[i], 1, buf, sizeof(buf)), want[i].ok);
		assert_string_equal(buf, want[i].with);
		assert_int_equal(pkl_certread_name_text(&san.v[i], 0, buf, sizeof(buf)), want[i].ok);
		assert_string_equal(buf, want[i].bare);
	}
	assert_int_equal(san.v[1].len, 4);
	assert_memory_equal(san.v[1].data, ip4, 4);
	/* the text is cut to the buffer, never overrun */
	assert_int_equal(pkl_certread_name_text(&san.v[0], 1, buf, 6), 1);
	assert_string_equal(buf, "DNS:v");
	pkl_certread_names_free(&san);
	pkl_certread_names_free(&san); /* emptied: a second free is a no-op */
	X509_free(x);
}

static void uri_with_nul_keeps_its_length(void **state)
{
	X509 *x = bare(NULL);
	GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
	struct pkl_certread_names san;
	char buf[64];

	(void)state;
	sk_GENERAL_NAME_push(g, gn(GEN_URI, "http://a/\0b", 11));
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, X509V3_ADD_APPEND), 1);
	GENERAL_NAMES_free(g);
	assert_int_equal(pkl_certread_san(x, &san, NULL), PKL_OK);
	assert_int_equal(san.n, 1);
	assert_int_equal(san.v[0].len, 11);
	assert_int_not_equal(strlen((char *)san.v[0].data), san.v[0].len);
	pkl_certread_name_text(&san.v[0], 1, buf, sizeof(buf));
	assert_string_equal(buf, "URI:http://a/"); /* the text stops at the NUL */
	pkl_certread_names_free(&san);
	X509_free(x);
}

static DIST_POINT *dp_full(GENERAL_NAMES *names)
{
	DIST_POINT *dp = DIST_POINT_new();

	assert_non_null(dp);
	dp->distpoint = DIST_POINT_NAME_new();
	assert_non_null(dp->distpoint);
	dp->distpoint->type = 0;
	dp->distpoint->name.fullname = names;
	return dp;
}

/* Two points (the first with two URIs and a DNS name), then a point with a
 * relative name, whose URIs are not read. */
static void several_cdps(void **state)
{
	static const char *const want[] = { "http://a.test/ca.crl", "ldap://b.test/ca",
					    "http://c.test/ca.crl" };
	X509 *x = bare("cdp.test");
	CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
	GENERAL_NAMES *g1 = sk_GENERAL_NAME_new_null(), *g2 = sk_GENERAL_NAME_new_null();
	DIST_POINT *rel = DIST_POINT_new();
	struct pkl_certread_names uris;
	char buf[64];

	(void)state;
	sk_GENERAL_NAME_push(g1, gn(GEN_URI, want[0], (int)strlen(want[0])));
	sk_GENERAL_NAME_push(g1, gn(GEN_DNS, "a.test", 6));
	sk_GENERAL_NAME_push(g1, gn(GEN_URI, want[1], (int)strlen(want[1])));
	sk_GENERAL_NAME_push(g2, gn(GEN_URI, want[2], (int)strlen(want[2])));
	sk_DIST_POINT_push(cdp, dp_full(g1));
	sk_DIST_POINT_push(cdp, dp_full(g2));
	rel->distpoint = DIST_POINT_NAME_new();
	rel->distpoint->type = 1;
	rel->distpoint->name.relativename = sk_X509_NAME_ENTRY_new_null();
	sk_X509_NAME_ENTRY_push(
		rel->distpoint->name.relativename,
		X509_NAME_ENTRY_create_by_txt(NULL, "CN", MBSTRING_ASC, (const unsigned char *)"r", -1));
	sk_DIST_POINT_push(cdp, rel);
	assert_int_equal(X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0, X509V3_ADD_APPEND), 1);
	CRL_DIST_POINTS_free(cdp);

	assert_int_equal(pkl_certread_cdp(x, &uris, NULL), PKL_OK);
	assert_int_equal(uris.n, 3);
	for (size_t i = 0; i < uris.n; i++) {
		assert_int_equal(uris.v[i].type, PKL_SAN_URI);
		assert_int_equal(pkl_certread_name_text(&uris.v[i], 0, buf, sizeof(buf)), 1);
		assert_string_equal(buf, want[i]);
	}
	pkl_certread_names_free(&uris);
	X509_free(x);
}

static void aia_by_method(void **state)
{
	X509 *x = bare("aia.test");
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	static const struct {
		int nid, type;
		const char *v;
	} ads[] = {
		{ NID_ad_OCSP, GEN_URI, "http://ocsp.test/" },
		{ NID_ad_ca_issuers, GEN_URI, "http://aia.test/1.crt" },
		{ NID_ad_ca_issuers, GEN_DNS, "aia.test" },
		{ NID_ad_ca_issuers, GEN_URI, "http://aia.test/2.crt" },
	};
	struct pkl_certread_names uris;

	(void)state;
	for (size_t i = 0; i < sizeof(ads) / sizeof(ads[0]); i++) {
		ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
		assert_non_null(ad);
		ASN1_OBJECT_free(ad->method);
		ad->method = OBJ_nid2obj(ads[i].nid);
		GENERAL_NAME_free(ad->location);
		ad->location = gn(ads[i].type, ads[i].v, (int)strlen(ads[i].v));
		sk_ACCESS_DESCRIPTION_push(aia, ad);
	}
	assert_int_equal(X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_APPEND), 1);
	AUTHORITY_INFO_ACCESS_free(aia);

	assert_int_equal(pkl_certread_aia(x, PKL_AIA_CA_ISSUERS, &uris, NULL), PKL_OK);
	assert_int_equal(uris.n, 2);
	assert_string_equal((char *)uris.v[0].data, "http://aia.test/1.crt");
	assert_string_equal((char *)uris.v[1].data, "http://aia.test/2.crt");
	pkl_certread_names_free(&uris);
	assert_int_equal(pkl_certread_aia(x, PKL_AIA_OCSP, &uris, NULL), PKL_OK);
	assert_int_equal(uris.n, 1);
	assert_string_equal((char *)uris.v[0].data, "http://ocsp.test/");
	assert_int_equal(uris.v[0].len, strlen("http://ocsp.test/"));
	pkl_certread_names_free(&uris);
	X509_free(x);
}

static void no_extensions(void **state)
{
	X509 *x = bare("plain.test");
	struct pkl_certread_names l = { 7, NULL };
	char id[64];

	(void)state;
	assert_int_equal(pkl_certread_san(x, &l, NULL), PKL_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(pkl_certread_cdp(x, &l, NULL), PKL_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(pkl_certread_aia(x, PKL_AIA_CA_ISSUERS, &l, NULL), PKL_OK);
	assert_int_equal(l.n, 0);
	pkl_certread_names_free(&l);
	pkl_certread_ike_id(x, id, sizeof(id));
	assert_string_equal(id, "\"CN=plain.test\"");
	X509_free(x);
}

/* An extension whose value is not the DER it claims reads as absent. */
static void malformed_extension(void **state)
{
	static const int nids[] = { NID_subject_alt_name, NID_crl_distribution_points, NID_info_access };
	static const unsigned char junk[] = { 0x30, 0x05, 0x82, 0x09, 'x' };
	X509 *x = bare("junk.test");
	struct pkl_certread_names l;
	char id[64];

	(void)state;
	for (size_t i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *ext;
		assert_int_equal(ASN1_OCTET_STRING_set(os, junk, sizeof(junk)), 1);
		ext = X509_EXTENSION_create_by_NID(NULL, nids[i], 0, os);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
		ASN1_OCTET_STRING_free(os);
	}
	assert_int_equal(pkl_certread_san(x, &l, NULL), PKL_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(pkl_certread_cdp(x, &l, NULL), PKL_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(pkl_certread_aia(x, PKL_AIA_OCSP, &l, NULL), PKL_OK);
	assert_int_equal(l.n, 0);
	pkl_certread_ike_id(x, id, sizeof(id));
	assert_string_equal(id, "\"CN=junk.test\"");
	X509_free(x);
}

/* The first DNS, email or well-formed IP SAN; URIs, other forms and a
 * 5-octet IP are passed over. */
static void ike_identity(void **state)
{
	X509 *x = bare("ike.test");
	GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
	char id[64], tiny[4];

	(void)state;
	sk_GENERAL_NAME_push(g, gn(GEN_URI, "http://ike.test/", 16));
	sk_GENERAL_NAME_push(g, gn_dir("dir"));
	sk_GENERAL_NAME_push(g, gn(GEN_IPADD, "\1\2\3\4\5", 5));
	sk_GENERAL_NAME_push(g, gn(GEN_IPADD, ip6, 16));
	sk_GENERAL_NAME_push(g, gn(GEN_DNS, "ike.test", 8));
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, X509V3_ADD_APPEND), 1);
	GENERAL_NAMES_free(g);
	pkl_certread_ike_id(x, id, sizeof(id));
	assert_string_equal(id, "2001:db8::1");
	/* an address that does not fit is passed over like inet_ntop's ENOSPC */
	pkl_certread_ike_id(x, tiny, sizeof(tiny));
	assert_string_equal(tiny, "ike");
	X509_free(x);

	x = with_every_san();
	pkl_certread_ike_id(x, id, sizeof(id));
	assert_string_equal(id, "vpn.test");
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(san_types_and_text), cmocka_unit_test(uri_with_nul_keeps_its_length),
		cmocka_unit_test(several_cdps),       cmocka_unit_test(aia_by_method),
		cmocka_unit_test(no_extensions),      cmocka_unit_test(malformed_extension),
		cmocka_unit_test(ike_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
