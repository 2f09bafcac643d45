/*
 * Unit tests of the PKI directory and its transactions (ca/lib/pki.c):
 * the layout a new PKI gets, commit (files in place, modes, no journal left),
 * abort (nothing in place, no temporary files, database rolled back), and
 * recovery when a PKI is opened after a crash: committed renames are
 * finished (roll forward), temporary files of uncommitted transactions are
 * deleted (roll back).
 */
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
#include <unistd.h>

#include "pkilab/file.h"
#include "pkilab/pki.h"
#include "fixture.h"

static const char *const base = fx_dir; /* fx_dir_setup makes it */
static int seq;

/* A fresh PKI directory per test. */
static struct pkl_pki *new_pki(char *dir, size_t len)
{
	struct pkl_err err = { 0 };
	struct pkl_pki *pki;

	snprintf(dir, len, "%s/pki%d", base, ++seq);
	pki = pkl_pki_open(dir, 1, &err);
	if (!pki)
		print_error("open: %s: %s\n", err.where, err.msg);
	assert_non_null(pki);
	return pki;
}

static int file_is(const char *path, const char *content)
{
	struct pkl_buf b = PKL_BUF_INIT;
	int ok;

	if (pkl_file_read(path, 0, &b, NULL) != PKL_OK)
		return 0;
	ok = b.len == strlen(content) && memcmp(b.data, content, b.len) == 0;
	pkl_buf_free(&b);
	return ok;
}

/* Temporary files (".x.tmp-*") anywhere in the layout. */
static size_t count_temps(const char *dir)
{
	static const char *const subs[] = { "private", "certs", "publish/crl", "publish/aia" };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char p[PATH_MAX];
		DIR *d;
		struct dirent *e;

		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		d = opendir(p);
		while (d && (e = readdir(d)))
			n += e->d_name[0] == '.' && strstr(e->d_name, ".tmp-") != NULL;
		if (d)
			closedir(d);
	}
	return n;
}

static int count_cb(const char *tmp, const char *final, void *cls)
{
	(void)tmp;
	(void) final;
	(*(int *)cls)++;
	return 0;
}

static int pending_rows(struct pkl_pki *pki)
{
	int n = 0;
	struct pkl_err err = { 0 };

	assert_int_equal(pkl_db_pending_each(pki->db, count_cb, &n, &err), PKL_OK);
	return n;
}

static void layout_of_a_new_pki(void **state)
{
	char dir[PATH_MAX], p[PATH_MAX + 32];
	struct stat st;
	struct pkl_pki *pki;
	struct pkl_err err = { 0 };
	static const char *const subs[] = { "private", "certs", "publish", "publish/crl", "publish/aia" };

	(void)state;
	pki = new_pki(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		if (i == 0)
			assert_int_equal(st.st_mode & 0777, 0700);
	}
	snprintf(p, sizeof(p), "%s/pkilab.db", dir);
	assert_true(pkl_file_exists(p));
	assert_int_equal(pkl_pki_path(pki, PKL_FILE_KEY, "gw", p, sizeof(p), &err), PKL_OK);
	assert_non_null(strstr(p, "/private/gw.key"));
	assert_int_equal(pkl_pki_path(pki, PKL_FILE_CHAIN, "gw", p, sizeof(p), &err), PKL_OK);
	assert_non_null(strstr(p, "/certs/gw-chain.pem"));
	assert_int_equal(pkl_pki_path(pki, PKL_FILE_CRL, "ca", p, sizeof(p), &err), PKL_OK);
	assert_non_null(strstr(p, "/publish/crl/ca.crl"));
	assert_int_equal(pkl_pki_path(pki, PKL_FILE_AIA, "ca", p, sizeof(p), &err), PKL_OK);
	assert_non_null(strstr(p, "/publish/aia/ca.crt"));
	pkl_pki_close(pki);

	/* Without create, a directory with no database is an input error. */
	snprintf(p, sizeof(p), "%s/nothing-here", base);
	assert_null(pkl_pki_open(p, 0, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
}

static void commit_puts_files_in_place(void **state)
{
	char dir[PATH_MAX], p[PATH_MAX + 32], v[64];
	struct stat st;
	struct pkl_pki *pki;
	struct pkl_txn *txn;
	struct pkl_err err = { 0 };

	(void)state;
	pki = new_pki(dir, sizeof(dir));
	txn = pkl_txn_begin(pki, &err);
	assert_non_null(txn);
	assert_int_equal(pkl_txn_put(txn, PKL_FILE_KEY, "gw", "KEY", 3, &err), PKL_OK);
	assert_int_equal(pkl_txn_put(txn, PKL_FILE_CERT, "gw", "CERT", 4, &err), PKL_OK);
	assert_int_equal(pkl_txn_put(txn, PKL_FILE_CRL, "ca", "CRL", 3, &err), PKL_OK);
	assert_int_equal(pkl_db_meta_put(pki->db, "t", "committed", &err), PKL_OK);
	/* Before the commit nothing is in place, only temporaries. */
	snprintf(p, sizeof(p), "%s/certs/gw.pem", dir);
	assert_false(pkl_file_exists(p));
	assert_int_equal(count_temps(dir), 3);
	assert_int_equal(pkl_txn_commit(txn, &err), PKL_OK);

	assert_true(file_is(p, "CERT"));
	snprintf(p, sizeof(p), "%s/private/gw.key", dir);
	assert_true(file_is(p, "KEY"));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/publish/crl/ca.crl", dir);
	assert_true(file_is(p, "CRL"));
	assert_int_equal(count_temps(dir), 0);
	assert_int_equal(pending_rows(pki), 0);
	assert_int_equal(pkl_db_meta_get(pki->db, "t", v, sizeof(v), &err), PKL_OK);
	assert_string_equal(v, "committed");

	/* A second transaction replaces a file atomically. */
	txn = pkl_txn_begin(pki, &err);
	assert_non_null(txn);
	assert_int_equal(pkl_txn_put(txn, PKL_FILE_CRL, "ca", "CRL2", 4, &err), PKL_OK);
	assert_int_equal(pkl_txn_commit(txn, &err), PKL_OK);
	assert_true(file_is(p, "CRL2"));

	/* An empty transaction commits too. */
	txn = pkl_txn_begin(pki, &err);
	assert_non_null(txn);
	assert_int_equal(pkl_txn_commit(txn, &err), PKL_OK);
	pkl_pki_close(pki);
}

static void abort_leaves_nothing(void **state)
{
	char dir[PATH_MAX], p[PATH_MAX + 32], v[64];
	struct pkl_pki *pki;
	struct pkl_txn *txn;
	struct pkl_err err = { 0 };

	(void)state;
	pki = new_pki(dir, sizeof(dir));
	/* An existing file must survive an aborted replacement. */
	txn = pkl_txn_begin(pki, &err);
	assert_int_equal(pkl_txn_put(txn, PKL_FILE_CERT, "gw", "OLD", 3, &err), PKL_OK);
	assert_int_equal(pkl_txn_commit(txn, &err), PKL_OK);

	txn = pkl_txn_begin(pki, &err);
	assert_non_null(txn);
	assert_int_equal(pkl_txn_put(txn, PKL_FILE_CERT, "gw", "NEW", 3, &err), PKL_OK);
	assert_int_equal(pkl_txn_put(txn, PKL_FILE_KEY, "other", "K", 1, &err), PKL_OK);
	assert_int_equal(pkl_db_meta_put(pki->db, "t", "aborted", &err), PKL_OK);
	pkl_txn_abort(txn);

	snprintf(p, sizeof(p), "%s/certs/gw.pem", dir);
	assert_true(file_is(p, "OLD"));
	snprintf(p, sizeof(p), "%s/private/other.key", dir);
	assert_false(pkl_file_exists(p));
	assert_int_equal(count_temps(dir), 0);
	assert_int_equal(pkl_db_meta_get(pki->db, "t", v, sizeof(v), &err), PKL_OK);
	assert_string_equal(v, "");
	assert_int_equal(pending_rows(pki), 0);
	pkl_txn_abort(NULL); /* a no-op */
	pkl_pki_close(pki);
}

/* Writes a temporary file the way a transaction does. */
static void make_temp(const char *dir, const char *sub, const char *name, const char *content, char *tmp,
		      size_t len)
{
	char final[PATH_MAX];
	struct pkl_err err = { 0 };

	snprintf(final, sizeof(final), "%s/%s/%s", dir, sub, name);
	assert_int_equal(pkl_file_write_temp(final, content, strlen(content), 0644, 0, tmp, len, &err),
			 PKL_OK);
	assert_true(pkl_file_exists(tmp));
}

static void recovery_rolls_forward_committed_renames(void **state)
{
	char dir[PATH_MAX], tmp1[PATH_MAX], tmp2[PATH_MAX], final1[PATH_MAX + 32], final2[PATH_MAX + 32];
	struct pkl_pki *pki;
	struct pkl_err err = { 0 };

	(void)state;
	pki = new_pki(dir, sizeof(dir));
	/* The state a crash right after the database commit leaves: the rows
	 * and the pending renames committed, the files still temporaries
	 * (one of the two renames already done). */
	make_temp(dir, "certs", "gw.pem", "GW", tmp1, sizeof(tmp1));
	make_temp(dir, "publish/crl", "ca.crl", "CRL", tmp2, sizeof(tmp2));
	snprintf(final1, sizeof(final1), "%s/certs/gw.pem", dir);
	snprintf(final2, sizeof(final2), "%s/publish/crl/ca.crl", dir);
	assert_int_equal(pkl_db_begin(pki->db, &err), PKL_OK);
	assert_int_equal(pkl_db_pending_add(pki->db, tmp1, final1, &err), PKL_OK);
	assert_int_equal(pkl_db_pending_add(pki->db, tmp2, final2, &err), PKL_OK);
	assert_int_equal(pkl_db_meta_put(pki->db, "t", "row", &err), PKL_OK);
	assert_int_equal(pkl_db_commit(pki->db, &err), PKL_OK);
	assert_int_equal(rename(tmp2, final2), 0);
	pkl_pki_close(pki);

	pki = pkl_pki_open(dir, 0, &err);
	assert_non_null(pki);
	assert_true(file_is(final1, "GW"));
	assert_true(file_is(final2, "CRL"));
	assert_false(pkl_file_exists(tmp1));
	assert_int_equal(count_temps(dir), 0);
	assert_int_equal(pending_rows(pki), 0);
	pkl_pki_close(pki);
}

static void recovery_rolls_back_uncommitted_temporaries(void **state)
{
	char dir[PATH_MAX], tmp1[PATH_MAX], tmp2[PATH_MAX], final1[PATH_MAX + 32];
	struct pkl_pki *pki;
	struct pkl_err err = { 0 };

	(void)state;
	pki = new_pki(dir, sizeof(dir));
	pkl_pki_close(pki);
	/* A crash before the commit: temporaries nobody recorded. */
	make_temp(dir, "private", "gw.key", "K", tmp1, sizeof(tmp1));
	make_temp(dir, "publish/aia", "ca.crt", "A", tmp2, sizeof(tmp2));
	snprintf(final1, sizeof(final1), "%s/private/gw.key", dir);

	pki = pkl_pki_open(dir, 0, &err);
	assert_non_null(pki);
	assert_false(pkl_file_exists(tmp1));
	assert_false(pkl_file_exists(tmp2));
	assert_false(pkl_file_exists(final1));
	assert_int_equal(count_temps(dir), 0);
	pkl_pki_close(pki);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_of_a_new_pki),
		cmocka_unit_test(commit_puts_files_in_place),
		cmocka_unit_test(abort_leaves_nothing),
		cmocka_unit_test(recovery_rolls_forward_committed_renames),
		cmocka_unit_test(recovery_rolls_back_uncommitted_temporaries),
	};
	return cmocka_run_group_tests(tests, fx_dir_setup, fx_dir_teardown);
}
