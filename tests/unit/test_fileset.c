/* Unit tests: all-or-nothing file sets (ca/lib/fileset.c), including a
 * crash (fork, _exit) at every step of a commit followed by recovery: the
 * set read back is all old or all new, never a mix. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkilab/file.h"
#include "pkilab/fileset.h"
#include "fixture.h"

static const char *const root = fx_dir; /* fx_dir_setup makes it */
static const char *const names[] = { "a.pem", "b.pem", "sub/c.key" };
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static void fresh_dir(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", root, name);
	(void)pkl_file_remove_tree(out, NULL);
	assert_int_equal(mkdir(out, 0755), 0);
}

/* Content of dir/name, "" when missing. */
static void read_name(const char *dir, const char *name, char *out, size_t outlen)
{
	char p[PATH_MAX];
	struct pkl_buf b = PKL_BUF_INIT;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	out[0] = '\0';
	if (pkl_file_read(p, 0, &b, NULL) == PKL_OK)
		snprintf(out, outlen, "%.*s", (int)b.len, (const char *)b.data);
	pkl_buf_free(&b);
}

/* Entries of dir (and dir/sub) other than the set's names. */
static int count_litter(const char *dir)
{
	char p[PATH_MAX];
	struct dirent *e;
	int n = 0;

	for (int pass = 0; pass < 2; pass++) {
		DIR *d;

		snprintf(p, sizeof(p), pass ? "%s/sub" : "%s", dir);
		if (!(d = opendir(p)))
			continue;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
			    strcmp(e->d_name, "sub") != 0 && strcmp(e->d_name, "a.pem") != 0 &&
			    strcmp(e->d_name, "b.pem") != 0 && strcmp(e->d_name, "c.key") != 0)
				n++;
		closedir(d);
	}
	return n;
}

static void write_set(const char *dir, const char *content)
{
	struct pkl_err err = { 0 };
	struct pkl_fileset *fs = pkl_fileset_begin(dir, PKL_FILESET_MKDIRS, &err);

	assert_non_null(fs);
	for (size_t i = 0; i < N_NAMES; i++)
		assert_int_equal(pkl_fileset_add(fs, names[i], content, strlen(content), 0644, &err), PKL_OK);
	assert_int_equal(pkl_fileset_commit(fs, NULL, &err), PKL_OK);
	pkl_fileset_free(fs);
}

static void test_commit(void **state)
{
	char dir[PATH_MAX], got[64];
	struct pkl_buf listing = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	struct pkl_fileset *fs;

	(void)state;
	fresh_dir(dir, sizeof(dir), "commit");
	fs = pkl_fileset_begin(dir, PKL_FILESET_MKDIRS, &err);
	assert_non_null(fs);
	for (size_t i = 0; i < N_NAMES; i++)
		assert_int_equal(pkl_fileset_add(fs, names[i], "new", 3, 0644, &err), PKL_OK);
	/* Staged only: nothing of the layout yet. */
	read_name(dir, "a.pem", got, sizeof(got));
	assert_string_equal(got, "");
	assert_int_equal(pkl_fileset_commit(fs, &listing, &err), PKL_OK);
	pkl_fileset_free(fs);
	for (size_t i = 0; i < N_NAMES; i++) {
		read_name(dir, names[i], got, sizeof(got));
		assert_string_equal(got, "new");
	}
	assert_int_equal(count_litter(dir), 0);
	assert_non_null(strstr(pkl_buf_cstr(&listing), "/sub/c.key\n"));
	pkl_buf_free(&listing);
}

static void test_abort_removes_everything(void **state)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct pkl_err err = { 0 };
	struct pkl_fileset *fs;
	struct stat st;

	(void)state;
	fresh_dir(dir, sizeof(dir), "abort");
	fs = pkl_fileset_begin(dir, PKL_FILESET_MKDIRS, &err);
	for (size_t i = 0; i < N_NAMES; i++)
		assert_int_equal(pkl_fileset_add(fs, names[i], "x", 1, 0600, &err), PKL_OK);
	pkl_fileset_abort(fs);
	pkl_fileset_free(fs);
	assert_int_equal(count_litter(dir), 0);
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_not_equal(stat(p, &st), 0); /* the directory it created is gone */
}

static void test_directory_in_the_way_changes_nothing(void **state)
{
	char dir[PATH_MAX], p[PATH_MAX], got[64];
	struct pkl_err err = { 0 };
	struct pkl_fileset *fs;

	(void)state;
	fresh_dir(dir, sizeof(dir), "inway");
	write_set(dir, "old");
	fs = pkl_fileset_begin(dir, 0, &err);
	assert_int_equal(pkl_fileset_add(fs, "a.pem", "new", 3, 0644, &err), PKL_OK);
	assert_int_equal(pkl_fileset_add(fs, "d.pem", "new", 3, 0644, &err), PKL_OK);
	/* Appears after staging: found before the first rename. */
	snprintf(p, sizeof(p), "%s/d.pem", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(pkl_fileset_commit(fs, NULL, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "is a directory"));
	pkl_fileset_free(fs);
	read_name(dir, "a.pem", got, sizeof(got));
	assert_string_equal(got, "old");
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(count_litter(dir), 0);
}

static int crash_at;

static void crash_hook(int step, void *cls)
{
	(void)cls;
	if (step == crash_at)
		_exit(0);
}

/* The child replaces the old set with a new one and dies at `point`:
 * points 0..N_NAMES-1 during the adds, then the commit's steps. Returns
 * 1 when the child finished without reaching the point. */
static int run_and_crash(const char *dir, int point, unsigned flags)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct pkl_err err = { 0 };
		struct pkl_fileset *fs = pkl_fileset_begin(dir, flags, &err);

		if (!fs)
			_exit(2);
		for (size_t i = 0; i < N_NAMES; i++) {
			if (point == (int)i)
				_exit(0);
			if (pkl_fileset_add(fs, names[i], "new", 3, 0644, &err) != PKL_OK)
				_exit(2);
		}
		crash_at = point - (int)N_NAMES + 1;
		pkl_fileset_set_step_hook(fs, crash_hook, NULL);
		if (pkl_fileset_commit(fs, NULL, &err) != PKL_OK)
			_exit(2);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 2);
	return WEXITSTATUS(status) == 1;
}

static void crash_every_step(unsigned flags)
{
	char dir[PATH_MAX], sub[PATH_MAX], got[64], first[64];
	struct pkl_err err = { 0 };
	int point, seen_old = 0, seen_new = 0;

	for (point = 0; point < 64; point++) {
		int finished;

		fresh_dir(dir, sizeof(dir), "crash");
		write_set(dir, "old");
		finished = run_and_crash(dir, point, flags);
		/* Recovery twice: it is idempotent. */
		assert_int_equal(pkl_fileset_recover(dir, &err), PKL_OK);
		assert_int_equal(pkl_fileset_recover(dir, &err), PKL_OK);
		/* Strays of an unjournalled set outside dir itself are swept by
		 * whoever knows the layout (pki.c sweeps its subdirectories). */
		snprintf(sub, sizeof(sub), "%s/sub", dir);
		pkl_fileset_sweep(sub, 0);
		read_name(dir, names[0], first, sizeof(first));
		for (size_t i = 1; i < N_NAMES; i++) {
			read_name(dir, names[i], got, sizeof(got));
			assert_string_equal(got, first); /* never a mix */
		}
		seen_old |= strcmp(first, "old") == 0;
		seen_new |= strcmp(first, "new") == 0;
		assert_int_equal(count_litter(dir), 0);
		if (finished)
			break;
	}
	assert_true(point < 64);
	assert_true(seen_old && seen_new);
}

static void test_crash_at_every_step_journal_file(void **state)
{
	(void)state;
	crash_every_step(0);
}

static void test_crash_at_every_step_batch_sync(void **state)
{
	(void)state;
	crash_every_step(PKL_FILESET_BATCH_SYNC | PKL_FILESET_MKDIRS);
}

static int count_entry(const char *tmp, const char *final, void *cls)
{
	assert_non_null(strstr(tmp, ".tmp-"));
	assert_null(strstr(final, ".tmp-"));
	(*(int *)cls)++;
	return 0;
}

static void test_external_journal(void **state)
{
	char dir[PATH_MAX], got[64];
	struct pkl_err err = { 0 };
	struct pkl_fileset *fs;
	int n = 0;

	(void)state;
	fresh_dir(dir, sizeof(dir), "external");
	fs = pkl_fileset_begin(dir, PKL_FILESET_EXTERNAL_JOURNAL | PKL_FILESET_BATCH_SYNC, &err);
	assert_int_equal(pkl_fileset_add(fs, "a.pem", "1", 1, 0644, &err), PKL_OK);
	assert_int_equal(pkl_fileset_add(fs, "b.pem", "2", 1, 0644, &err), PKL_OK);
	assert_int_equal(pkl_fileset_prepare(fs, &err), PKL_OK);
	assert_int_equal(pkl_fileset_each(fs, count_entry, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pkl_fileset_publish(fs, NULL, &err), PKL_OK);
	/* Publishing again (a retry) finds everything done. */
	assert_int_equal(pkl_fileset_publish(fs, NULL, &err), PKL_OK);
	pkl_fileset_free(fs);
	read_name(dir, "b.pem", got, sizeof(got));
	assert_string_equal(got, "2");
	assert_int_equal(count_litter(dir), 0); /* no journal file either */
}

static void test_staged_directory(void **state)
{
	char parent[PATH_MAX], final[PATH_MAX], staged[PATH_MAX], p[PATH_MAX];
	struct pkl_err err = { 0 };
	struct pkl_fileset *fs;
	struct stat st;

	(void)state;
	snprintf(parent, sizeof(parent), "%s/newdir", root);
	snprintf(final, sizeof(final), "%s/pki", parent);
	/* Aborted: the staging directory goes, nothing appears. */
	fs = pkl_fileset_begin(parent, 0, &err);
	assert_int_equal(pkl_fileset_add_dir(fs, final, staged, sizeof(staged), &err), PKL_OK);
	assert_non_null(strstr(staged, "/pki.new-"));
	snprintf(p, sizeof(p), "%s/f", staged);
	assert_int_equal(pkl_file_write_atomic(p, "x", 1, 0644, &err), PKL_OK);
	pkl_fileset_free(fs);
	assert_int_not_equal(stat(staged, &st), 0);
	assert_int_not_equal(stat(final, &st), 0);
	/* Committed: one rename publishes the whole directory. */
	fs = pkl_fileset_begin(parent, 0, &err);
	assert_int_equal(pkl_fileset_add_dir(fs, final, staged, sizeof(staged), &err), PKL_OK);
	snprintf(p, sizeof(p), "%s/f", staged);
	assert_int_equal(pkl_file_write_atomic(p, "x", 1, 0644, &err), PKL_OK);
	assert_int_equal(pkl_fileset_commit(fs, NULL, &err), PKL_OK);
	pkl_fileset_free(fs);
	assert_int_not_equal(stat(staged, &st), 0);
	snprintf(p, sizeof(p), "%s/f", final);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/%s", parent, PKL_FILESET_JOURNAL);
	assert_int_not_equal(stat(p, &st), 0); /* one rename needs no journal */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_abort_removes_everything),
		cmocka_unit_test(test_directory_in_the_way_changes_nothing),
		cmocka_unit_test(test_crash_at_every_step_journal_file),
		cmocka_unit_test(test_crash_at_every_step_batch_sync),
		cmocka_unit_test(test_external_journal),
		cmocka_unit_test(test_staged_directory),
	};
	return cmocka_run_group_tests(tests, fx_dir_setup, fx_dir_teardown);
}
