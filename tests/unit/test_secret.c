/* Unit tests: the secret reader (ca/lib/secret.c): file, value, prompt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkilab/secret.h"
#include "fixture.h"

static const char *const dir = fx_dir; /* fx_dir_setup makes it */

static void from_file_first_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "s3cret\nsecond\n", "s3cret" },
		{ "crlf line\r\nx", "crlf line" },
		{ "no newline", "no newline" },
		{ "\nsecond\n", "" },
		{ "", "" },
		{ "\r\n", "" },
	};
	char path[PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkl_secret_src src = { .value = "the value loses", .prompt = "never: " };
		struct pkl_err err = { 0 };
		enum pkl_secret_from from = PKL_SECRET_NONE;
		char *s = NULL;

		fx_write_in(dir, "pw", cases[i].text, path, sizeof(path));
		src.file = path;
		assert_int_equal(pkl_secret_read(&src, &s, &from, &err), PKL_OK);
		assert_int_equal(from, PKL_SECRET_FILE);
		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		pkl_secret_free(s);
	}
}

static void file_errors(void **state)
{
	char path[PATH_MAX];
	struct pkl_secret_src src = { 0 };
	struct pkl_err err = { 0 };
	enum pkl_secret_from from;
	char *s = (char *)"untouched";

	(void)state;
	snprintf(path, sizeof(path), "%s/absent", dir);
	src.file = path;
	assert_int_not_equal(pkl_secret_read(&src, &s, &from, &err), PKL_OK);
	assert_null(s);
	assert_int_equal(from, PKL_SECRET_NONE);
	assert_non_null(strstr(err.where, "absent"));

	/* file_max bounds the read */
	fx_write_in(dir, "big", "0123456789abcdef\n", path, sizeof(path));
	src.file = path;
	src.file_max = 8;
	memset(&err, 0, sizeof(err));
	assert_int_not_equal(pkl_secret_read(&src, &s, &from, &err), PKL_OK);
	assert_null(s);
}

static void from_value_and_none(void **state)
{
	struct pkl_secret_src src = { .value = "env value" };
	struct pkl_err err = { 0 };
	enum pkl_secret_from from;
	char *s = NULL;

	(void)state;
	assert_int_equal(pkl_secret_read(&src, &s, &from, &err), PKL_OK);
	assert_int_equal(from, PKL_SECRET_VALUE);
	assert_string_equal(s, "env value");
	pkl_secret_free(s);

	/* an empty value is unset; no prompt asked for: nothing, and no error */
	src.value = "";
	assert_int_equal(pkl_secret_read(&src, &s, &from, &err), PKL_OK);
	assert_null(s);
	assert_int_equal(from, PKL_SECRET_NONE);
	assert_int_equal(err.rc, PKL_OK);
	/* from may be NULL */
	src.value = "x";
	assert_int_equal(pkl_secret_read(&src, &s, NULL, &err), PKL_OK);
	assert_string_equal(s, "x");
	pkl_secret_free(s);
	pkl_secret_free(NULL);
}

/* Without a controlling terminal the prompt is not possible: NONE, no error,
 * so the caller can say which source was needed. */
static void prompt_without_terminal(void **state)
{
	struct pkl_secret_src src = { .prompt = "password: ", .confirm = 1 };
	struct pkl_err err = { 0 };
	enum pkl_secret_from from;
	char *s = NULL;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	(void)state;
	if (fd >= 0) {
		close(fd);
		skip(); /* run from a terminal: the reader would prompt */
	}
	assert_int_equal(pkl_secret_read(&src, &s, &from, &err), PKL_OK);
	assert_null(s);
	assert_int_equal(from, PKL_SECRET_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(from_file_first_line),
		cmocka_unit_test(file_errors),
		cmocka_unit_test(from_value_and_none),
		cmocka_unit_test(prompt_without_terminal),
	};
	return cmocka_run_group_tests(tests, fx_dir_setup, fx_dir_teardown);
}
