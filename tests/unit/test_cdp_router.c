/*
 * Unit tests for cdp-server/routes.c: the router accepts exactly the
 * documented routes and names, and nothing a hostile URL can spell; HTTP
 * dates and ETag lists are parsed strictly (RFC 9110 5.6.7, 8.8.3; RFC 9111).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cdpd.h"

static enum cdp_route_id route(const char *url, char *name)
{
	return cdp_route_match(url, strlen(url), name);
}

static void test_routes(void **state)
{
	char name[CDP_NAME_MAX + 1];

	(void)state;
	assert_int_equal(route("/crl/root.crl", name), CDP_R_CRL);
	assert_string_equal(name, "root");
	assert_int_equal(route("/aia/vpn-ca.crt", name), CDP_R_AIA);
	assert_string_equal(name, "vpn-ca");
	assert_int_equal(route("/crl/a.b_c-D9.crl", name), CDP_R_CRL);
	assert_string_equal(name, "a.b_c-D9");
	assert_int_equal(route("/healthz", name), CDP_R_HEALTH);
	assert_int_equal(route("/metrics", name), CDP_R_METRICS);
	assert_int_equal(route("/", name), CDP_R_STATUS);
	assert_string_equal(name, "");
}

static void test_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"crl/root.crl",
		"/crl/",
		"/crl/.crl",
		"/crl/.root.crl",
		"/crl/..crl",
		"/crl/../root.crl",
		"/crl/../../etc/passwd.crl",
		"/crl/a/b.crl",
		"/crl//root.crl",
		"/crl/%2e%2e.crl",
		"/crl/root%2ecrl",
		"/crl/..%2froot.crl",
		"/crl/root.crl%00",
		"/crl/root.crl/",
		"/crl/root.CRL",
		"/CRL/root.crl",
		"/crl/root.pem",
		"/aia/root.crl",
		"/crl/root.crt",
		"/crl/ro ot.crl",
		"/crl/ro\tot.crl",
		"/crl/root\\x.crl",
		"/crl/r\xc3\xa9.crl",
		"/healthz/",
		"/healthz?",
		"//",
		"/index.html",
		"/metrics.txt",
		"/crl/root.crl.crl/x",
		"/./crl/root.crl",
		"/crl/~root.crl",
		"/crl/root;x.crl",
		NULL,
	};
	char name[CDP_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		if (route(bad[i], name) != CDP_R_NONE)
			fail_msg("'%s' was routed", bad[i]);
		assert_string_equal(name, "");
	}
	/* An embedded NUL inside the given length is never part of a name. */
	assert_int_equal(cdp_route_match("/crl/ro\0t.crl", 13, name), CDP_R_NONE);
	assert_int_equal(cdp_route_match(NULL, 0, name), CDP_R_NONE);
}

static void test_name_length(void **state)
{
	char url[200], name[CDP_NAME_MAX + 1], n64[65], n65[66];

	(void)state;
	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(n65, 'a', 65);
	n65[65] = '\0';
	snprintf(url, sizeof(url), "/crl/%s.crl", n64);
	assert_int_equal(route(url, name), CDP_R_CRL);
	assert_string_equal(name, n64);
	snprintf(url, sizeof(url), "/crl/%s.crl", n65);
	assert_int_equal(route(url, name), CDP_R_NONE);
	assert_true(cdp_name_valid("a", 1));
	assert_false(cdp_name_valid(".a", 2));
	assert_true(cdp_name_valid("a.", 2));
	assert_false(cdp_name_valid("", 0));
}

static void test_http_date(void **state)
{
	char buf[32];

	(void)state;
	cdp_http_date(784111777, buf);
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(cdp_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	cdp_http_date(1798761600, buf);
	assert_int_equal(cdp_http_date_parse(buf), 1798761600);
	assert_int_equal(cdp_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT"), -1);
	assert_int_equal(cdp_http_date_parse("Sun Nov  6 08:49:37 1994"), -1);
	assert_int_equal(cdp_http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC"), -1);
	assert_int_equal(cdp_http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT"), -1);
	assert_int_equal(cdp_http_date_parse("Sun, 32 Nov 1994 08:49:37 GMT"), -1);
	assert_int_equal(cdp_http_date_parse(""), -1);
	assert_int_equal(cdp_http_date_parse(NULL), -1);
}

static void test_etag(void **state)
{
	const char *e = "\"abc\"";

	(void)state;
	assert_true(cdp_etag_match("\"abc\"", e));
	assert_true(cdp_etag_match("W/\"abc\"", e));
	assert_true(cdp_etag_match("\"x\", \"abc\"", e));
	assert_true(cdp_etag_match("\"x\",W/\"abc\"", e));
	assert_true(cdp_etag_match("*", e));
	assert_false(cdp_etag_match("\"abcd\"", e));
	assert_false(cdp_etag_match("\"ab\"", e));
	assert_false(cdp_etag_match("abc", e));
	assert_false(cdp_etag_match("\"abc", e));
	assert_false(cdp_etag_match("", e));
	assert_false(cdp_etag_match(NULL, e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),      cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_name_length), cmocka_unit_test(test_http_date),
		cmocka_unit_test(test_etag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
