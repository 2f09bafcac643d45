/* Unit tests: distinguished names (ca/lib/name.c): order, string types
 * (RFC 5280 4.1.2.4), both syntaxes, escapes, printing and the error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "pkilab/name.h"

static int entry_nid(const X509_NAME *n, int i)
{
	return OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, i)));
}

static int entry_type(const X509_NAME *n, int i)
{
	return ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
}

static size_t der(const X509_NAME *n, unsigned char **out)
{
	int len = i2d_X509_NAME(n, out);

	assert_true(len > 0);
	return (size_t)len;
}

/* Written order is encoded order; C is PrintableString, the rest UTF8String (RFC 5280 4.1.2.4). */
static void parse_order_and_types(void **state)
{
	struct pkl_err err = { 0 };
	X509_NAME *n = pkl_name_parse("C=CH, O=pkilab Example, OU=VPN, CN=pkilab Example Root CA G1", &err);

	(void)state;
	assert_non_null(n);
	assert_int_equal(X509_NAME_entry_count(n), 4);
	assert_int_equal(entry_nid(n, 0), NID_countryName);
	assert_int_equal(entry_nid(n, 1), NID_organizationName);
	assert_int_equal(entry_nid(n, 2), NID_organizationalUnitName);
	assert_int_equal(entry_nid(n, 3), NID_commonName);
	assert_int_equal(entry_type(n, 0), V_ASN1_PRINTABLESTRING);
	assert_int_equal(entry_type(n, 1), V_ASN1_UTF8STRING);
	assert_int_equal(entry_type(n, 3), V_ASN1_UTF8STRING);
	X509_NAME_free(n);
}

static void other_attributes_types(void **state)
{
	struct pkl_err err = { 0 };
	X509_NAME *n = pkl_name_parse("DC=test, DC=example, ST=Zürich, L=Zürich, serialNumber=42, "
				      "emailAddress=pki@example.test, UID=alice, CN=Ünïcode",
				      &err);

	(void)state;
	assert_non_null(n);
	assert_int_equal(X509_NAME_entry_count(n), 8);
	assert_int_equal(entry_type(n, 0), V_ASN1_IA5STRING);       /* DC: RFC 4519 */
	assert_int_equal(entry_type(n, 2), V_ASN1_UTF8STRING);      /* ST */
	assert_int_equal(entry_type(n, 4), V_ASN1_PRINTABLESTRING); /* serialNumber: X.520 */
	assert_int_equal(entry_type(n, 5), V_ASN1_IA5STRING);       /* emailAddress: PKCS#9 */
	assert_int_equal(entry_nid(n, 6), NID_userId);
	X509_NAME_free(n);
}

/* The slash syntax gives the same DER as the comma syntax; spaces around
 * separators do not matter; long attribute names are accepted. */
static void slash_form_same_der(void **state)
{
	struct pkl_err err = { 0 };
	X509_NAME *a = pkl_name_parse("C=CH, O=pkilab Lab, CN=vpn.lab.example", &err);
	X509_NAME *b = pkl_name_parse("/C=CH/O=pkilab Lab/CN=vpn.lab.example", &err);
	X509_NAME *c = pkl_name_parse(
		"  countryName = CH ,organizationName=pkilab Lab,  commonName=vpn.lab.example ", &err);
	unsigned char *da = NULL, *db = NULL, *dc = NULL;
	size_t la, lb, lc;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	la = der(a, &da);
	lb = der(b, &db);
	lc = der(c, &dc);
	assert_int_equal(la, lb);
	assert_int_equal(la, lc);
	assert_memory_equal(da, db, la);
	assert_memory_equal(da, dc, la);
	OPENSSL_free(da);
	OPENSSL_free(db);
	OPENSSL_free(dc);
	X509_NAME_free(a);
	X509_NAME_free(b);
	X509_NAME_free(c);
}

static void escapes_and_printing(void **state)
{
	struct pkl_err err = { 0 };
	X509_NAME *n = pkl_name_parse("C=CH, O=Example\\, Inc., CN=a=b", &err), *back;
	char *s, cn[64];

	(void)state;
	assert_non_null(n);
	assert_int_equal(X509_NAME_entry_count(n), 3);
	s = pkl_name_str(n);
	assert_string_equal(s, "C=CH, O=Example\\, Inc., CN=a\\=b");
	/* what we print parses back to the same name */
	back = pkl_name_parse(s, &err);
	assert_non_null(back);
	assert_int_equal(X509_NAME_cmp(n, back), 0);
	assert_string_equal(pkl_name_cn(n, cn, sizeof(cn)), "a=b");
	free(s);
	X509_NAME_free(back);
	X509_NAME_free(n);

	n = pkl_name_parse("/C=CH/O=a,b/CN=x", &err); /* in slash form a comma is plain */
	assert_non_null(n);
	s = pkl_name_str(n);
	assert_string_equal(s, "C=CH, O=a\\,b, CN=x");
	assert_string_equal(pkl_name_cn(n, cn, sizeof(cn)), "x");
	free(s);
	X509_NAME_free(n);

	n = pkl_name_parse("O=no common name", &err);
	assert_non_null(n);
	assert_string_equal(pkl_name_cn(n, cn, sizeof(cn)), "");
	X509_NAME_free(n);

	n = X509_NAME_new();
	s = pkl_name_str(n);
	assert_string_equal(s, "");
	free(s);
	X509_NAME_free(n);
}

static void expect_error(const char *dn, const char *fragment)
{
	struct pkl_err err = { 0 };
	X509_NAME *n = pkl_name_parse(dn, &err);

	if (n)
		fail_msg("'%s' parsed but should not", dn);
	assert_int_equal(err.rc, PKL_EINPUT);
	if (!strstr(err.msg, fragment))
		fail_msg("'%s': message '%s' lacks '%s'", dn, err.msg, fragment);
}

static void errors(void **state)
{
	(void)state;
	expect_error("CX=CH, CN=x", "unknown DN attribute 'CX' (did you mean 'C'?)");
	expect_error("commonNam=x", "did you mean 'commonName'?");
	expect_error("XYZZY=1", "unknown DN attribute 'XYZZY' (known: C ST L O OU CN");
	expect_error("C=CH, O=, CN=x", "empty value for DN attribute 'O'");
	expect_error("C=ch, CN=x", "bad country 'C=ch'");
	expect_error("C=CHE, CN=x", "bad country 'C=CHE'");
	expect_error("C=, CN=x", "empty value for DN attribute 'C'");
	expect_error("CN=x,,O=y", "empty component");
	expect_error("", "empty distinguished name");
	expect_error("   ", "empty distinguished name");
	expect_error("just text", "expected ATTRIBUTE=value");
	expect_error("emailAddress=zoë@example.test", "must be ASCII");
	expect_error("serialNumber=a_b", "PrintableString");
	expect_error("CN=\xff\xfe", "not valid UTF-8");
	/* ub-common-name is 64 characters (RFC 5280 App. A; zlint
	 * e_subject_common_name_max_length) */
	expect_error("CN=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		     "65 characters long (at most 64 allowed)");
}

static void sixty_four_characters_ok(void **state)
{
	struct pkl_err err = { 0 };
	/* 64 code points, more bytes (2-byte UTF-8): the limit is in characters */
	char dn[3 + 64 * 2 + 1] = "CN=";
	X509_NAME *n;

	(void)state;
	for (int i = 0; i < 64; i++)
		strcat(dn, "\xc3\xa9");
	n = pkl_name_parse(dn, &err);
	assert_non_null(n);
	X509_NAME_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_order_and_types),
		cmocka_unit_test(other_attributes_types),
		cmocka_unit_test(slash_form_same_der),
		cmocka_unit_test(escapes_and_printing),
		cmocka_unit_test(errors),
		cmocka_unit_test(sixty_four_characters_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
