/* Unit tests: reading the environment once (ca/lib/env.c), with a table
 * standing in for getenv(3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkilab/env.h"
#include "pkilab/fetch.h"
#include "pkilab/key.h"
#include "pkilab/report.h"

/* NULL-terminated NAME, VALUE pairs read by lookup(). */
static const char *const *table;

static char *lookup(const char *name)
{
	for (size_t i = 0; table && table[i]; i += 2)
		if (!strcmp(table[i], name))
			return (char *)(uintptr_t)table[i + 1];
	return NULL;
}

static void empty_environment(void **state)
{
	static const char *const none[] = { NULL };
	struct pkl_env e;
	struct pkl_err err = { 0 };

	(void)state;
	table = none;
	assert_int_equal(pkl_env_read(&e, lookup, &err), PKL_OK);
	assert_null(e.pki_dir);
	assert_null(e.templates);
	assert_int_equal(e.now_set, 0);
	assert_null(e.resolve);
	assert_null(e.key_passphrase);
	assert_null(e.key_passphrase_file);
	assert_null(e.p12_password);
	assert_null(e.tmpdir);
	assert_int_equal(e.utf8, 0);
}

static void every_variable(void **state)
{
	static const char *const all[] = {
		"PKILAB_DIR",
		"/srv/pki",
		"PKILAB_TEMPLATES",
		"/srv/tpl",
		"PKILAB_NOW",
		"2030-06-01T12:00:00Z",
		"PKILAB_RESOLVE",
		"a.test:80:127.0.0.1, b.test:80:[::1]:81",
		"PKILAB_KEY_PASSPHRASE",
		"pp",
		"PKILAB_KEY_PASSPHRASE_FILE",
		"/run/pp",
		"PKILAB_P12_PASSWORD",
		"p12",
		"TMPDIR",
		"/var/tmp",
		"LANG",
		"C.UTF-8",
		NULL,
	};
	struct pkl_env e;
	struct pkl_err err = { 0 };
	struct pkl_fetch_opts o;
	char storage[256];

	(void)state;
	table = all;
	assert_int_equal(pkl_env_read(&e, lookup, &err), PKL_OK);
	assert_string_equal(e.pki_dir, "/srv/pki");
	assert_string_equal(e.templates, "/srv/tpl");
	assert_int_equal(e.now_set, 1);
	assert_int_equal(e.now, 1906545600);
	assert_string_equal(e.resolve, "a.test:80:127.0.0.1, b.test:80:[::1]:81");
	assert_string_equal(e.key_passphrase, "pp");
	assert_string_equal(e.key_passphrase_file, "/run/pp");
	assert_string_equal(e.p12_password, "p12");
	assert_string_equal(e.tmpdir, "/var/tmp");
	assert_int_equal(e.utf8, 1);

	/* apply hands them to the library's setters */
	pkl_env_apply(&e);
	assert_int_equal(pkl_time_now(), 1906545600);
	assert_int_equal(pkl_report_locale_utf8(), 1);
	pkl_fetch_opts_init(&o, storage, sizeof(storage));
	assert_int_equal(o.n_resolve, 2);
	assert_string_equal(o.resolve[1], "b.test:80:[::1]:81");
	memset(&e, 0, sizeof(e));
	pkl_env_apply(&e);
	assert_int_not_equal(pkl_time_now(), 1906545600);
	assert_int_equal(pkl_report_locale_utf8(), 0);
	pkl_fetch_opts_init(&o, storage, sizeof(storage));
	assert_int_equal(o.n_resolve, 0);
	assert_null(pkl_key_passphrase_get(&err));
}

/* Empty values count as unset; the first locale variable set decides. */
static void empty_values_and_locale_order(void **state)
{
	static const char *const t1[] = {
		"PKILAB_DIR", "",         "PKILAB_NOW", "",     "PKILAB_RESOLVE", "",  "LC_ALL",
		"",           "LC_CTYPE", "C",          "LANG", "en_US.UTF-8",    NULL
	};
	static const char *const t2[] = { "LC_ALL", "de_DE.utf8", "LANG", "C", NULL };
	struct pkl_env e;
	struct pkl_err err = { 0 };

	(void)state;
	table = t1;
	assert_int_equal(pkl_env_read(&e, lookup, &err), PKL_OK);
	assert_null(e.pki_dir);
	assert_int_equal(e.now_set, 0);
	assert_null(e.resolve);
	assert_int_equal(e.utf8, 0);
	table = t2;
	assert_int_equal(pkl_env_read(&e, lookup, &err), PKL_OK);
	assert_int_equal(e.utf8, 1);
}

static void bad_values_name_the_variable(void **state)
{
	static const struct {
		const char *name, *value, *msg;
	} cases[] = {
		{ "PKILAB_NOW", "tomorrow", "bad time 'tomorrow'" },
		{ "PKILAB_NOW", "+8x", "bad time '+8x'" },
		{ "PKILAB_NOW", "8 days", "bad time '8 days'" },
		{ "PKILAB_NOW", "2026-13-01", "bad time" },
		{ "PKILAB_RESOLVE", "junk", "bad resolve entry 'junk'" },
		{ "PKILAB_RESOLVE", "a.test:80:127.0.0.1,b.test:x:1.2.3.4",
		  "bad resolve entry 'b.test:x:1.2.3.4'" },
	};
	struct pkl_env e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t[] = { cases[i].name, cases[i].value, "PKILAB_DIR", "/x", NULL };
		struct pkl_err err = { 0 };

		table = t;
		assert_int_equal(pkl_env_read(&e, lookup, &err), PKL_EINPUT);
		assert_int_equal(err.rc, PKL_EINPUT);
		assert_string_equal(err.where, cases[i].name);
		assert_non_null(strstr(err.msg, cases[i].msg));
		assert_null(e.pki_dir); /* left zeroed */
	}
	table = NULL;
}

static void now_alone(void **state)
{
	static const char *const t[] = { "PKILAB_NOW", "2026-01-01", "PKILAB_RESOLVE", "junk", NULL };
	struct pkl_err err = { 0 };
	pkl_time now = 0;
	int set = 0;

	(void)state;
	table = t;
	/* cdpd reads PKILAB_NOW only: a bad PKILAB_RESOLVE is not its business */
	assert_int_equal(pkl_env_read_now(lookup, &set, &now, &err), PKL_OK);
	assert_int_equal(set, 1);
	assert_int_equal(now, 1767225600);
	table = NULL;
	assert_int_equal(pkl_env_read_now(lookup, &set, &now, &err), PKL_OK);
	assert_int_equal(set, 0);
}

/* PKILAB_NOW takes --at's syntax: relative values count from the system
 * clock read at that moment (bracketed, so the test holds on a busy machine). */
static void now_relative(void **state)
{
	static const char *const t[] = { "PKILAB_NOW", "+8d", NULL };
	static const char *const back[] = { "PKILAB_NOW", "-1h", NULL };
	struct pkl_err err = { 0 };
	pkl_time now = 0, before, after;
	int set = 0;

	(void)state;
	table = t;
	before = (pkl_time)time(NULL);
	assert_int_equal(pkl_env_read_now(lookup, &set, &now, &err), PKL_OK);
	after = (pkl_time)time(NULL);
	assert_int_equal(set, 1);
	assert_true(now >= before + 8 * 86400 && now <= after + 8 * 86400);
	table = back;
	before = (pkl_time)time(NULL);
	assert_int_equal(pkl_env_read_now(lookup, &set, &now, &err), PKL_OK);
	after = (pkl_time)time(NULL);
	assert_true(now >= before - 3600 && now <= after - 3600);
	table = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_environment),
		cmocka_unit_test(every_variable),
		cmocka_unit_test(empty_values_and_locale_order),
		cmocka_unit_test(bad_values_name_the_variable),
		cmocka_unit_test(now_alone),
		cmocka_unit_test(now_relative),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
