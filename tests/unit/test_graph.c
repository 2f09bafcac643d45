/*
 * Unit tests for the DOT writer (ca/lib/graph.c): escaping of user text into
 * quoted DOT strings, and a well-formed graph for an empty PKI. The shell
 * test t8003-graph.sh covers real labs, read back with Graphviz itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkilab/graph.h"
#include "fixture.h"

static char *escaped(const char *in)
{
	struct pkl_buf b = PKL_BUF_INIT;
	char *s;

	assert_int_equal(pkl_graph_escape(&b, in), PKL_OK);
	s = strdup(pkl_buf_cstr(&b));
	pkl_buf_free(&b);
	return s;
}

static void test_escape_plain(void **state)
{
	char *s = escaped("CN=vpn.example.test, O=Example");

	(void)state;
	assert_string_equal(s, "CN=vpn.example.test, O=Example");
	free(s);
}

static void test_escape_quotes_backslashes(void **state)
{
	char *s = escaped("O=a\"b\\c");

	(void)state;
	assert_string_equal(s, "O=a\\\"b\\\\c");
	free(s);
}

/* A backslash at the end must not leave an escape that swallows the closing quote. */
static void test_escape_trailing_backslash(void **state)
{
	char *s = escaped("x\\");

	(void)state;
	assert_string_equal(s, "x\\\\");
	free(s);
}

static void test_escape_newline_and_controls(void **state)
{
	char *s = escaped("a\nb\rc\td\x01"
			  "e\x7f"
			  "f");

	(void)state;
	assert_string_equal(s, "a\\nbcdef");
	free(s);
}

static void test_escape_utf8_kept(void **state)
{
	char *s = escaped("CN=Z\xc3\xbcrich");

	(void)state;
	assert_string_equal(s, "CN=Z\xc3\xbcrich");
	free(s);
}

static void test_empty_pki(void **state)
{
	char dir[] = "/tmp/pkl-graph-unit.XXXXXX";
	struct pkl_err err = { 0 };
	struct pkl_buf out = PKL_BUF_INIT;
	struct pkl_graph_opts o = { 0 };
	struct pkl_pki *pki;
	const char *dot;

	(void)state;
	assert_non_null(mkdtemp(dir));
	pki = pkl_pki_open(dir, 1, &err);
	assert_non_null(pki);
	o.now = 1800000000;
	o.legend = 0;
	assert_int_equal(pkl_graph_dot(pki, &o, &out, &err), PKL_OK);
	dot = pkl_buf_cstr(&out);
	assert_true(strncmp(dot, "digraph pkilab {", 16) == 0);
	assert_non_null(strstr(dot, "2027-01-15T08:00:00Z"));
	assert_null(strstr(dot, "->"));
	assert_null(strstr(dot, "legend"));
	assert_string_equal(dot + strlen(dot) - 2, "}\n");
	pkl_buf_free(&out);
	pkl_pki_close(pki);
	assert_int_equal(fx_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_plain),
		cmocka_unit_test(test_escape_quotes_backslashes),
		cmocka_unit_test(test_escape_trailing_backslash),
		cmocka_unit_test(test_escape_newline_and_controls),
		cmocka_unit_test(test_escape_utf8_kept),
		cmocka_unit_test(test_empty_pki),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
