/*
 * cdp_file_read(): the one reader for every file the server serves or
 * trusts. Regular files only, opened without blocking, links followed only
 * inside the directory given, bounded; only ENOENT is "absent".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdpd.h"
#include "pkilab/buf.h"
#include "fixture.h"

static char dir[64];

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* Reads name from dir (base = dir); returns the rc, the bytes in *b. */
static enum pkl_rc rd(const char *name, const char *base, size_t max, struct pkl_buf *b, int *absent,
		      struct pkl_err *err)
{
	char p[128];

	path_of(p, sizeof(p), name);
	memset(err, 0, sizeof(*err));
	return cdp_file_read(p, base, max, b, absent, err);
}

static void test_file_read(void **state)
{
	struct pkl_buf b = PKL_BUF_INIT;
	struct pkl_err err;
	char p[128], q[128], outside[64];
	int absent = -1;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pkl-unit-file.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(outside, sizeof(outside), "/tmp/pkl-unit-out.XXXXXX");
	assert_non_null(mkdtemp(outside));
	mkdir(strcat(strcpy(p, dir), "/sub"), 0755);
	fx_write_in(dir, "a.crl", "hello", NULL, 0);
	fx_write_in(dir, "sub/b.crl", "inside", NULL, 0);

	/* A regular file. */
	assert_int_equal(rd("a.crl", dir, 100, &b, &absent, &err), PKL_OK);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "hello", 5);
	assert_int_equal(absent, 0);
	/* Larger than max: refused, whatever its size says. */
	assert_int_not_equal(rd("a.crl", dir, 4, &b, &absent, &err), PKL_OK);
	assert_non_null(strstr(err.msg, "larger than"));
	/* Absent: ENOENT only. */
	assert_int_not_equal(rd("none.crl", dir, 100, &b, &absent, &err), PKL_OK);
	assert_int_equal(absent, 1);
	/* ENOTDIR is a problem, not absence. */
	assert_int_not_equal(rd("a.crl/x.crl", dir, 100, &b, &absent, &err), PKL_OK);
	assert_int_equal(absent, 0);
	/* A FIFO: refused at once, not waited on. */
	path_of(p, sizeof(p), "f.crl");
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_not_equal(rd("f.crl", dir, 100, &b, &absent, &err), PKL_OK);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(absent, 0);
	/* A directory. */
	assert_int_not_equal(rd("sub", dir, 100, &b, &absent, &err), PKL_OK);
	assert_non_null(strstr(err.msg, "not a regular file"));
	/* A link inside the directory is followed. */
	path_of(p, sizeof(p), "l.crl");
	assert_int_equal(symlink("sub/b.crl", p), 0);
	assert_int_equal(rd("l.crl", dir, 100, &b, &absent, &err), PKL_OK);
	assert_memory_equal(b.data, "inside", 6);
	/* A link to a device, and a link out of the directory: refused... */
	path_of(p, sizeof(p), "dev.crl");
	assert_int_equal(symlink("/dev/zero", p), 0);
	assert_int_not_equal(rd("dev.crl", dir, 100, &b, &absent, &err), PKL_OK);
	snprintf(q, sizeof(q), "%s/o.crl", outside);
	{
		FILE *f = fopen(q, "w");

		assert_non_null(f);
		fputs("outside", f);
		fclose(f);
	}
	path_of(p, sizeof(p), "out.crl");
	assert_int_equal(symlink(q, p), 0);
	assert_int_not_equal(rd("out.crl", dir, 100, &b, &absent, &err), PKL_OK);
	assert_non_null(strstr(err.msg, "leads out of"));
	/* ... unless the base is the link's own tree, or no base (a configured path). */
	assert_int_equal(rd("out.crl", NULL, 100, &b, &absent, &err), PKL_OK);
	assert_memory_equal(b.data, "outside", 7);
	/* Without a base a device is still not read. */
	assert_int_not_equal(rd("dev.crl", NULL, 100, &b, &absent, &err), PKL_OK);
	assert_non_null(strstr(err.msg, "character device"));
	/* A dangling link is a problem, not absence. */
	path_of(p, sizeof(p), "dangling.crl");
	assert_int_equal(symlink("nowhere.crl", p), 0);
	assert_int_not_equal(rd("dangling.crl", dir, 100, &b, &absent, &err), PKL_OK);
	assert_int_equal(absent, 0);

	pkl_buf_free(&b);
	unlink(q);
	rmdir(outside);
	{
		static const char *const names[] = { "a.crl",   "sub/b.crl", "f.crl",        "l.crl",
						     "dev.crl", "out.crl",   "dangling.crl", "sub" };
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			path_of(p, sizeof(p), names[i]);
			if (remove(p) != 0)
				rmdir(p);
		}
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
