/* Unit tests: atomic writes, reads and paths (ca/lib/file.c), errors (err.c),
 * buffers (buf.c) and suggestions (suggest.c). */
#define _GNU_SOURCE /* mknod(), makedev() */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pkilab/file.h"
#include "pkilab/lab.h"
#include "fixture.h"

static const char *const dir = fx_dir; /* fx_dir_setup makes it */

static size_t count_entries(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	size_t n = 0;

	while (dd && (e = readdir(dd)))
		n += e->d_name[0] != '.' || strstr(e->d_name, ".tmp-") != NULL;
	if (dd)
		closedir(dd);
	return n;
}

static void atomic_write_replaces_and_leaves_no_temp(void **state)
{
	char p[PATH_MAX];
	struct pkl_buf b = PKL_BUF_INIT;
	struct stat st;

	(void)state;
	snprintf(p, sizeof(p), "%s/a.key", dir);
	assert_int_equal(pkl_file_write_atomic(p, "one", 3, 0600, NULL), PKL_OK);
	assert_int_equal(pkl_file_write_atomic(p, "second", 6, 0600, NULL), PKL_OK);
	assert_int_equal(pkl_file_read(p, 0, &b, NULL), PKL_OK);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "second", 6);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(dir), 1);
	pkl_buf_free(&b);
}

static void failed_write_keeps_the_old_file(void **state)
{
	char p[PATH_MAX];
	struct pkl_err err = { 0 };

	(void)state;
	/* A directory in the way of the rename: the old content must survive. */
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_not_equal(pkl_file_write_atomic(p, "x", 1, 0644, &err), PKL_OK);
	assert_non_null(strstr(err.where, "sub"));
	assert_int_equal(count_entries(dir), 2); /* a.key and sub, no temporary left */
}

static void read_errors(void **state)
{
	char p[PATH_MAX];
	struct pkl_buf b = PKL_BUF_INIT;
	struct pkl_err err = { 0 };

	(void)state;
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(pkl_file_read(p, 0, &b, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "No such file"));
	assert_string_equal(err.where, p);
	snprintf(p, sizeof(p), "%s/a.key", dir);
	assert_int_equal(pkl_file_read(p, 3, &b, &err), PKL_EINPUT); /* larger than 3 bytes */
	assert_int_equal(pkl_file_read(dir, 0, &b, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "directory"));
}

static void paths_and_dirs(void **state)
{
	char small[8], p[PATH_MAX];
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_path_join(small, sizeof(small), &err, "%s/%s", "abcd", "efgh"), PKL_EINPUT);
	snprintf(p, sizeof(p), "%s/x/y/z", dir);
	assert_int_equal(pkl_file_mkdirs(p, 0700, NULL), PKL_OK);
	assert_int_equal(pkl_file_mkdirs(p, 0700, NULL), PKL_OK); /* idempotent */
	snprintf(p, sizeof(p), "%s/a.key/z", dir);
	assert_int_not_equal(pkl_file_mkdirs(p, 0700, &err), PKL_OK);
}

static void errors_and_buffers(void **state)
{
	struct pkl_err err = { 0 };
	struct pkl_buf b = PKL_BUF_INIT;
	char out[64];

	(void)state;
	assert_int_equal(pkl_err_set(&err, PKL_EINPUT, "lab.cfg:3", "bad '%s'", "x"), PKL_EINPUT);
	assert_string_equal(pkl_err_str(&err, out, sizeof(out)), "lab.cfg:3: bad 'x'");
	pkl_err_clear(&err);
	pkl_err_where(&err, "f");
	assert_string_equal(err.where, "f");
	pkl_err_where(&err, "g"); /* only when empty */
	assert_string_equal(err.where, "f");
	assert_int_equal(pkl_err_set(NULL, PKL_ERUNTIME, NULL, "dropped"), PKL_ERUNTIME);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(pkl_buf_printf(&b, "%d,", i), PKL_OK);
	assert_int_equal(strncmp(pkl_buf_cstr(&b), "0,1,2,", 6), 0);
	assert_int_equal(b.data[b.len], '\0');
	pkl_buf_wipe(&b);
	assert_null(b.data);
}

static void suggestions(void **state)
{
	static const char *const names[] = { "validity", "max_validity", "backdate", "key_usage", NULL };

	(void)state;
	assert_string_equal(pkl_suggest("valdity", names), "validity");
	assert_string_equal(pkl_suggest("VALIDITY", names), "validity");
	assert_string_equal(pkl_suggest("key_usge", names), "key_usage");
	assert_null(pkl_suggest("subject", names));
	assert_null(pkl_suggest("x", names));
}

static int exists_at(const char *dirpath, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dirpath, name);
	return lstat(p, &st) == 0;
}

/* A link inside a tree is unlinked, its target (a file, a directory) stays. */
static void remove_tree_never_follows_links(void **state)
{
	char victim[PATH_MAX], tree[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
	struct pkl_err err = { 0 };

	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	assert_int_equal(mkdir(victim, 0755), 0);
	fx_write_in(victim, "keep", "precious", NULL, 0);
	snprintf(p, sizeof(p), "%s/sub/deeper", tree);
	assert_int_equal(pkl_file_mkdirs(p, 0755, &err), PKL_OK);
	fx_write_in(p, "f", "x", NULL, 0);
	snprintf(p, sizeof(p), "%s/sub/dirlink", tree);
	assert_int_equal(symlink(victim, p), 0);
	snprintf(p, sizeof(p), "%s/filelink", tree);
	snprintf(q, sizeof(q), "%s/keep", victim);
	assert_int_equal(symlink(q, p), 0);
	assert_int_equal(pkl_file_remove_tree(tree, &err), PKL_OK);
	assert_false(exists_at(dir, "tree"));
	assert_true(exists_at(victim, "keep"));

	/* The tree itself a link: the link goes, the directory it names stays. */
	assert_int_equal(symlink(victim, tree), 0);
	assert_int_equal(pkl_file_remove_tree(tree, &err), PKL_OK);
	assert_false(exists_at(dir, "tree"));
	assert_true(exists_at(victim, "keep"));
	/* Names with a slash or dot-dot are not entries. */
	{
		int fd = open(dir, O_RDONLY | O_DIRECTORY);
		assert_true(fd >= 0);
		assert_int_equal(pkl_file_remove_tree_at(fd, "..", &err), PKL_EINPUT);
		assert_int_equal(pkl_file_remove_tree_at(fd, "victim/keep", &err), PKL_EINPUT);
		close(fd);
	}
	assert_true(exists_at(victim, "keep"));
}

static int starts_with_sw(const char *name, void *cls)
{
	return strncmp(name, (const char *)cls, strlen((const char *)cls)) == 0;
}

/* The sweep removes matching directories we own; never links, files, or
 * (as root) another user's directory. */
static void sweep_only_own_directories(void **state)
{
	char sw[PATH_MAX], p[PATH_MAX];
	struct pkl_err err = { 0 };
	size_t n = 99;
	int other = 0;

	(void)state;
	snprintf(sw, sizeof(sw), "%s/sw", dir);
	assert_int_equal(mkdir(sw, 0755), 0);
	snprintf(p, sizeof(p), "%s/sw-mine", sw);
	assert_int_equal(mkdir(p, 0755), 0);
	fx_write_in(p, "f", "x", NULL, 0);
	snprintf(p, sizeof(p), "%s/victim-sw", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	fx_write_in(p, "keep", "precious", NULL, 0);
	snprintf(p, sizeof(p), "%s/sw-link", sw);
	assert_int_equal(symlink("../victim-sw", p), 0);
	fx_write_in(sw, "sw-file", "a file", NULL, 0);
	fx_write_in(sw, "other", "not matched", NULL, 0);
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/sw-theirs", sw);
		assert_int_equal(mkdir(p, 0755), 0);
		other = chown(p, 65534, 65534) == 0;
	}
	assert_int_equal(pkl_file_sweep(sw, starts_with_sw, "sw-", &n, &err), PKL_OK);
	assert_int_equal(n, 1);
	assert_false(exists_at(sw, "sw-mine"));
	assert_true(exists_at(sw, "sw-link"));
	assert_true(exists_at(sw, "sw-file"));
	assert_true(exists_at(sw, "other"));
	assert_true(exists_at(dir, "victim-sw/keep"));
	if (other)
		assert_true(exists_at(sw, "sw-theirs"));
}

/* Atomic writes replace regular files only: a FIFO, a link or a directory at
 * the path is refused and left as it was, with no temporary left behind. */
static void atomic_write_refuses_special_files(void **state)
{
	char sp[PATH_MAX], p[PATH_MAX], tmp[PATH_MAX];
	struct pkl_err err = { 0 };
	struct stat st;

	(void)state;
	snprintf(sp, sizeof(sp), "%s/special", dir);
	assert_int_equal(mkdir(sp, 0755), 0);
	snprintf(p, sizeof(p), "%s/fifo", sp);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(pkl_file_write_atomic(p, "x", 1, 0644, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "named pipe"));
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(pkl_file_write_temp(p, "x", 1, 0644, 0, tmp, sizeof(tmp), &err), PKL_EINPUT);

	fx_write_in(sp, "target", "original", NULL, 0);
	snprintf(p, sizeof(p), "%s/link", sp);
	assert_int_equal(symlink("target", p), 0);
	assert_int_equal(pkl_file_write_atomic(p, "x", 1, 0644, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	{
		struct pkl_buf b = PKL_BUF_INIT;
		snprintf(p, sizeof(p), "%s/target", sp);
		assert_int_equal(pkl_file_read(p, 0, &b, NULL), PKL_OK);
		assert_string_equal(pkl_buf_cstr(&b), "original");
		pkl_buf_free(&b);
	}
	/* A character device (when one can be made here: root). */
	snprintf(p, sizeof(p), "%s/null", sp);
	if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0) {
		assert_int_equal(pkl_file_write_atomic(p, "x", 1, 0644, &err), PKL_EINPUT);
		assert_non_null(strstr(err.msg, "character device"));
		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISCHR(st.st_mode));
	}
	assert_int_equal(count_entries(sp), exists_at(sp, "null") ? 4 : 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(atomic_write_replaces_and_leaves_no_temp),
		cmocka_unit_test(failed_write_keeps_the_old_file),
		cmocka_unit_test(read_errors),
		cmocka_unit_test(paths_and_dirs),
		cmocka_unit_test(errors_and_buffers),
		cmocka_unit_test(suggestions),
		cmocka_unit_test(remove_tree_never_follows_links),
		cmocka_unit_test(sweep_only_own_directories),
		cmocka_unit_test(atomic_write_refuses_special_files),
	};
	return cmocka_run_group_tests(tests, fx_dir_setup, fx_dir_teardown);
}
