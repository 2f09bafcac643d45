/*
 * Unit tests of the lab loader (ca/lib/lab.c): time resolution (absolute,
 * relative, backdate), per-entry overrides of template settings, error
 * locations and suggestion texts, hierarchy validation and the order the
 * entities come out in (issuers before what they sign). Each test writes its
 * own lab and templates into a private directory, so nothing depends on the
 * shipped templates or on the clock (`now` is passed in).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pkilab/lab.h"
#include "fixture.h"

static char dir[] = "/tmp/pkl-test-lab-XXXXXX";

/* 2026-03-01T12:00:00Z */
#define NOW ((pkl_time)1772366400)

static int setup(void **state)
{
	(void)state;
	return fx_mkdtemp(dir) != 0 ? -1 : fx_templates(dir, "ec:P-384");
}

static int teardown(void **state)
{
	(void)state;
	return fx_rmtree(dir);
}

static struct pkl_lab *load(const char *text, struct pkl_err *err)
{
	char p[PATH_MAX];

	fx_write_in(dir, "lab.cfg", text, NULL, 0);
	snprintf(p, sizeof(p), "%s/lab.cfg", dir);
	memset(err, 0, sizeof(*err));
	return pkl_lab_load(p, NOW, NULL, err);
}

#define ROOT "{ name = \"root\"; template = \"t-root\"; subject = \"CN=Root\"; }"
#define CA   "{ name = \"ca\"; template = \"t-int\"; issuer = \"root\"; subject = \"CN=CA\"; }"

static void times_default_relative_absolute(void **state)
{
	struct pkl_err err;
	struct pkl_lab *lab;
	const struct pkl_entity *e;

	(void)state;
	lab = load("cas = ( " ROOT ", " CA " );\n"
		   "certs = (\n"
		   "  { name = \"d\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=d\"; san = [ "
		   "\"d.test\" ]; },\n"
		   "  { name = \"r\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=r\"; san = [ "
		   "\"r.test\" ];\n"
		   "    not_before = \"-2d\"; not_after = \"+10m\"; },\n"
		   "  { name = \"a\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=a\"; san = [ "
		   "\"a.test\" ];\n"
		   "    not_before = \"2026-02-01T08:00:00Z\"; not_after = \"2026-04-01T08:00:00Z\"; },\n"
		   "  { name = \"b\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=b\"; san = [ "
		   "\"b.test\" ];\n"
		   "    backdate = \"30m\"; validity = \"90d\"; }\n"
		   ");\n",
		   &err);
	assert_non_null(lab);
	assert_int_equal(lab->now, NOW);
	/* default: notBefore = now - backdate, notAfter = notBefore + validity */
	e = pkl_lab_find(lab, "d");
	assert_non_null(e);
	assert_int_equal(e->not_before, NOW - 3600);
	assert_int_equal(e->not_after, NOW - 3600 + 397 * 86400);
	e = pkl_lab_find(lab, "r");
	assert_int_equal(e->not_before, NOW - 2L * 86400);
	assert_int_equal(e->not_after, NOW + 600);
	e = pkl_lab_find(lab, "a");
	assert_int_equal(e->not_before, 1769932800); /* 2026-02-01T08:00:00Z */
	assert_int_equal(e->not_after, 1775030400);  /* 2026-04-01T08:00:00Z */
	e = pkl_lab_find(lab, "b");
	assert_int_equal(e->not_before, NOW - 1800);
	assert_int_equal(e->not_after, NOW - 1800 + 90L * 86400);
	e = pkl_lab_find(lab, "root");
	assert_int_equal(e->not_before, NOW - 3600);
	assert_int_equal(e->not_after, NOW - 3600 + 10L * 365 * 86400);
	pkl_lab_free(lab);
}

static void overrides_apply_to_the_entry_only(void **state)
{
	struct pkl_err err;
	struct pkl_lab *lab;
	const struct pkl_entity *e;

	(void)state;
	lab = load("lab = { name = \"ov\"; cdp = [ \"http://a.test:81/\", \"http://b.test\" ]; cdp_layout = "
		   "\"point-per-uri\"; };\n"
		   "cas = ( " ROOT ", " CA " );\n"
		   "certs = (\n"
		   "  { name = \"o\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=o\"; san = [ "
		   "\"o.test\", \"192.0.2.1\" ];\n"
		   "    key = \"rsa:3072\"; extended_key_usage = [ \"serverAuth\" ]; cdp = false; ip_as_dns "
		   "= false; },\n"
		   "  { name = \"p\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=p\"; san = [ "
		   "\"p.test\" ]; }\n"
		   ");\n",
		   &err);
	assert_non_null(lab);
	assert_string_equal(lab->name, "ov");
	assert_int_equal(lab->n_cdp, 2);
	assert_string_equal(lab->cdp[0], "http://a.test:81"); /* trailing '/' dropped, order kept */
	assert_string_equal(lab->cdp[1], "http://b.test");
	assert_int_equal(lab->cdp_point_per_uri, 1);
	e = pkl_lab_find(lab, "o");
	assert_int_equal(e->prof.key.type, PKL_KEY_RSA);
	assert_int_equal(e->prof.key.bits, 3072);
	assert_int_equal(e->prof.n_eku, 1);
	assert_string_equal(e->prof.eku[0], "1.3.6.1.5.5.7.3.1");
	assert_int_equal(e->prof.cdp, 0);
	assert_int_equal(e->prof.ip_as_dns, 0);
	assert_int_equal(e->n_sans, 2);
	assert_string_equal(e->prof.template_name, "t-gw");
	/* the sibling keeps the template's values */
	e = pkl_lab_find(lab, "p");
	assert_int_equal(e->prof.key.type, PKL_KEY_EC);
	assert_int_equal(e->prof.n_eku, 3);
	assert_string_equal(e->prof.eku[1], "1.3.6.1.5.5.8.2.2");
	assert_string_equal(e->prof.eku[2], "1.3.6.1.5.5.7.3.17");
	assert_int_equal(e->prof.cdp, 1);
	assert_int_equal(e->prof.ip_as_dns, 1);
	assert_int_equal(e->prof.max_validity, 825 * 86400);
	pkl_lab_free(lab);
}

static void pki_dir_is_relative_to_the_lab_file(void **state)
{
	struct pkl_err err;
	struct pkl_lab *lab;
	char want[PATH_MAX];

	(void)state;
	lab = load("lab = { pki = \"my-pki\"; };\ncas = ( " ROOT " );\n", &err);
	assert_non_null(lab);
	snprintf(want, sizeof(want), "%s/my-pki", dir);
	assert_string_equal(lab->pki_dir, want);
	pkl_lab_free(lab);
	lab = load("cas = ( " ROOT " );\n", &err);
	assert_non_null(lab);
	snprintf(want, sizeof(want), "%s/pki", dir);
	assert_string_equal(lab->pki_dir, want);
	pkl_lab_free(lab);
}

/* Issuers come before what they sign, whatever the order in the file. */
static void entities_ordered_issuers_first(void **state)
{
	struct pkl_err err;
	struct pkl_lab *lab;

	(void)state;
	lab = load("certs = ( { name = \"leaf\"; template = \"t-gw\"; issuer = \"sub\"; subject = \"CN=l\"; "
		   "san = [ \"l.test\" ]; } );\n"
		   "cas = (\n"
		   "  { name = \"sub\"; template = \"t-int\"; issuer = \"mid\"; subject = \"CN=Sub\"; "
		   "validity = \"2y\"; },\n"
		   "  { name = \"mid\"; template = \"t-int\"; issuer = \"root\"; path_len = 1; subject = "
		   "\"CN=Mid\"; },\n"
		   "  " ROOT "\n);\n",
		   &err);
	assert_non_null(lab);
	assert_int_equal(lab->n_ents, 4);
	assert_string_equal(lab->ents[0].name, "root");
	assert_string_equal(lab->ents[1].name, "mid");
	assert_string_equal(lab->ents[2].name, "sub");
	assert_string_equal(lab->ents[3].name, "leaf");
	assert_int_equal(lab->ents[0].depth, 0);
	assert_int_equal(lab->ents[1].depth, 1);
	assert_int_equal(lab->ents[2].depth, 2);
	assert_int_equal(lab->ents[3].depth, 3);
	assert_string_equal(lab->ents[0].issuer, "");
	assert_true(lab->ents[0].is_ca && lab->ents[2].is_ca && !lab->ents[3].is_ca);
	assert_null(pkl_lab_find(lab, "nope"));
	pkl_lab_free(lab);
}

/* Error location "FILE:LINE" and message, for one faulty lab. */
static void expect_error(const char *text, int line, const char *fragment)
{
	struct pkl_err err;
	struct pkl_lab *lab = load(text, &err);
	char want[PATH_MAX + 16];

	if (lab)
		print_error("lab loaded, expected an error containing '%s'\n", fragment);
	assert_null(lab);
	assert_int_equal(err.rc, PKL_EINPUT);
	snprintf(want, sizeof(want), "%s/lab.cfg:%d", dir, line);
	if (strcmp(err.where, want) != 0)
		print_error("where '%s', want '%s' (%s)\n", err.where, want, err.msg);
	assert_string_equal(err.where, want);
	if (!strstr(err.msg, fragment))
		print_error("message '%s' lacks '%s'\n", err.msg, fragment);
	assert_non_null(strstr(err.msg, fragment));
	assert_null(strchr(err.msg, '\n'));
}

static void errors_name_line_and_suggest(void **state)
{
	(void)state;
	expect_error("cas = ( " ROOT ",\n  " CA " );\ncerts = (\n"
		     "  { name = \"g\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=g\"; san = [ "
		     "\"g.test\" ];\n"
		     "    valdity = \"30d\"; }\n);\n",
		     5, "unknown setting 'valdity' in certs.g (did you mean 'validity'?)");
	expect_error("lab = {\n  templtes = \"x\";\n};\ncas = ( " ROOT " );\n", 2,
		     "(did you mean 'templates'?)");
	expect_error("cas = ( " ROOT ", " CA " );\ncerts = (\n"
		     "  { name = \"g\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=g\"; san = [ "
		     "\"g.test\" ];\n"
		     "    extended_key_usage = [ \"clientAuht\" ]; }\n);\n",
		     4, "(did you mean 'clientAuth'?)");
	expect_error("cas = ( " ROOT ", " CA " );\ncerts = (\n"
		     "  { name = \"g\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=g\"; san = [ "
		     "\"g.test\" ];\n"
		     "    key_usage = [ \"keyEncipherment\", \"digitalSignatur\" ]; }\n);\n",
		     4, "(did you mean 'digitalSignature'?)");
	expect_error("cas = ( " ROOT ",\n  { name = \"ca\"; template = \"t-int\"; issuer = \"root\"; subject "
		     "= \"CN=CA\"; path_len = \"0\"; } );\n",
		     2, "must be an integer");
	expect_error(
		"cas = ( " ROOT
		",\n  { name = \"ca\"; template = \"t-int\"; issuer = \"rot\"; subject = \"CN=CA\"; } );\n",
		2, "issuer 'rot' of cas.ca is not defined");
	expect_error("cas = ( " ROOT ",\n  { name = \"ca\"; template = \"t-int\"; issuer = \"root\"; subject "
		     "= \"CN=CA\"; validity = \"11y\"; } );\n",
		     2, "would outlive its issuer 'root'");
	expect_error("cas = ( " ROOT ", " CA ",\n  { name = \"sub\"; template = \"t-int\"; issuer = \"ca\"; "
		     "subject = \"CN=Sub\"; validity = \"1y\"; } );\n",
		     2, "violates its path_len 0");
	expect_error("cas = ( " ROOT ", " CA " );\ncerts = (\n"
		     "  { name = \"g\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=g\"; } );\n",
		     3, "requires one");
	expect_error("cas = ( " ROOT ", " CA " );\ncerts = (\n"
		     "  { name = \"g\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=g\"; san = [ "
		     "\"g.test\" ]; validity = \"826d\"; } );\n",
		     3, "max_validity");
	expect_error("lab = {\n  cdp = [ \"https://x.test\" ];\n};\ncas = ( " ROOT " );\n", 2,
		     "plain http://");
	expect_error("cas = ( " ROOT ",\n  { name = \"a\"; template = \"t-int\"; issuer = \"b\"; path_len = "
		     "4; subject = \"CN=A\"; },\n"
		     "  { name = \"b\"; template = \"t-int\"; issuer = \"a\"; path_len = 4; subject = "
		     "\"CN=B\"; } );\n",
		     2, "issuer cycle");
	expect_error("cas = ( " ROOT ",\n  " CA
		     " );\ncerts = ( { name = \"ca\"; template = \"t-gw\"; issuer = \"root\"; subject = "
		     "\"CN=x\"; san = [ \"x.test\" ]; } );\n",
		     3, "used twice");
	expect_error("cas = ( " ROOT ", " CA " );\ncerts = (\n"
		     "  { name = \"g\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=g\"; san = [ "
		     "\"g.test\" ];\n"
		     "    not_after = \"2026-13-01T00:00:00Z\"; }\n);\n",
		     4, "not_after of certs.g");
}

static void suggestions(void **state)
{
	static const char *const names[] = { "validity", "max_validity", "backdate", "path_len", NULL };

	(void)state;
	assert_string_equal(pkl_suggest("valdity", names), "validity");
	assert_string_equal(pkl_suggest("max_valdity", names), "max_validity");
	assert_string_equal(pkl_suggest("pathlen", names), "path_len");
	assert_null(pkl_suggest("completely-different", names));
}

/* Two swapped letters are the most common typo; in a short name ("nmae",
 * "kye") plain Levenshtein counts them as 2 edits, above the limit for short
 * words, so no suggestion would be made. */
static void suggestions_for_swapped_letters(void **state)
{
	static const char *const lab_names[] = { "name", "pki", "cdp", "cdp_layout", "templates", NULL };
	static const char *const entry_names[] = {
		"name", "template", "issuer", "subject", "san", "key", NULL
	};

	(void)state;
	assert_non_null(pkl_suggest("nmae", lab_names));
	assert_string_equal(pkl_suggest("nmae", lab_names), "name");
	assert_non_null(pkl_suggest("kye", entry_names));
	assert_string_equal(pkl_suggest("kye", entry_names), "key");
	assert_string_equal(pkl_suggest("isseur", entry_names), "issuer");
}

static void templates_load_and_report_their_own_errors(void **state)
{
	struct pkl_profile p;
	struct pkl_err err = { 0 };
	char want[PATH_MAX + 32];

	(void)state;
	assert_int_equal(pkl_template_load("t-gw", dir, NULL, &p, &err), PKL_OK);
	assert_int_equal(p.role, PKL_ROLE_LEAF);
	assert_int_equal(p.validity, 397 * 86400);
	assert_int_equal(p.san_required, 1);
	assert_int_equal(p.key_usage, PKL_KU_DIGITAL_SIGNATURE);
	fx_write_in(dir, "templates/t-bad.cfg", "role = \"end-entity\";\nbackdat = \"1h\";\n", NULL, 0);
	assert_int_equal(pkl_template_load("t-bad", dir, NULL, &p, &err), PKL_EINPUT);
	snprintf(want, sizeof(want), "%s/templates/t-bad.cfg:2", dir);
	assert_string_equal(err.where, want);
	assert_non_null(strstr(err.msg, "(did you mean 'backdate'?)"));
	assert_int_equal(pkl_template_load("no-such-template", dir, NULL, &p, &err), PKL_EINPUT);
	assert_int_equal(pkl_template_load("../escape", dir, NULL, &p, &err), PKL_EINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(times_default_relative_absolute),
		cmocka_unit_test(overrides_apply_to_the_entry_only),
		cmocka_unit_test(pki_dir_is_relative_to_the_lab_file),
		cmocka_unit_test(entities_ordered_issuers_first),
		cmocka_unit_test(errors_name_line_and_suggest),
		cmocka_unit_test(suggestions),
		cmocka_unit_test(suggestions_for_swapped_letters),
		cmocka_unit_test(templates_load_and_report_their_own_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
