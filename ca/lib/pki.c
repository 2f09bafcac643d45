/*
 * The PKI directory and transactions over its database and files.
 *
 * Crash consistency without a window: a transaction writes every file to a
 * temporary name next to its final one, syncs the filesystem once, and then
 * commits the database rows together with the list of renames still to do
 * (table `pending`). Only after the commit are the files renamed into place
 * and the list cleared. If the process dies before the commit, the database
 * is unchanged and the temporary files are strays that the next open
 * deletes; if it dies after, the next open finishes the renames. Temporary
 * names (".<name>.tmp-XXXXXX") are never part of the layout, so at every
 * instant a file in the layout is one the database knows.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "pkilab/cert.h"
#include "pkilab/file.h"
#include "pkilab/fileset.h"
#include "pkilab/key.h"
#include "pkilab/pki.h"

static const char *const subdirs[] = { "private", "certs", "publish", "publish/crl", "publish/aia" };

enum pkl_rc pkl_pki_path(const struct pkl_pki *pki, enum pkl_pki_file kind, const char *name, char *out,
			 size_t outlen, struct pkl_err *err)
{
	switch (kind) {
	case PKL_FILE_KEY: return pkl_path_join(out, outlen, err, "%s/private/%s.key", pki->dir, name);
	case PKL_FILE_CERT: return pkl_path_join(out, outlen, err, "%s/certs/%s.pem", pki->dir, name);
	case PKL_FILE_CHAIN: return pkl_path_join(out, outlen, err, "%s/certs/%s-chain.pem", pki->dir, name);
	case PKL_FILE_CRL: return pkl_path_join(out, outlen, err, "%s/publish/crl/%s.crl", pki->dir, name);
	case PKL_FILE_AIA: return pkl_path_join(out, outlen, err, "%s/publish/aia/%s.crt", pki->dir, name);
	}
	return pkl_err_set(err, PKL_ERUNTIME, NULL, "bad file kind");
}

static int finish_rename(const char *tmp, const char *final, void *cls)
{
	(void)cls;
	/* Best effort, as before: a rename that fails stays for the next open. */
	(void)pkl_fileset_roll_forward(tmp, final, NULL);
	return 0;
}

static int count_pending(const char *tmp, const char *final, void *cls)
{
	(void)tmp;
	(void) final;
	(*(size_t *)cls)++;
	return 0;
}

/* Whether an interrupted transaction left anything, looked at without the
 * write lock: a PKI that needs no recovery is opened without writing a byte
 * (read-only and failing commands leave pkilab.db exactly as it was). */
static int needs_recovery(struct pkl_pki *pki)
{
	char p[PATH_MAX];
	size_t n = 0;

	if (pkl_db_pending_each(pki->db, count_pending, &n, NULL) != PKL_OK || n)
		return 1;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (snprintf(p, sizeof(p), "%s/%s", pki->dir, subdirs[i]) < (int)sizeof(p))
			n += pkl_fileset_sweep(p, 1);
	return n != 0;
}

/* Roll forward committed renames, roll back uncommitted temporaries. Runs
 * under the database write lock so a live writer's temporaries are safe. */
static enum pkl_rc recover(struct pkl_pki *pki, struct pkl_err *err)
{
	char p[PATH_MAX];
	enum pkl_rc rc;

	if (!needs_recovery(pki))
		return PKL_OK;
	rc = pkl_db_begin(pki->db, err);
	if (rc != PKL_OK)
		return rc;
	rc = pkl_db_pending_each(pki->db, finish_rename, NULL, err);
	if (rc == PKL_OK)
		rc = pkl_db_pending_clear(pki->db, err);
	if (rc == PKL_OK) {
		for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
			if (snprintf(p, sizeof(p), "%s/%s", pki->dir, subdirs[i]) < (int)sizeof(p))
				pkl_fileset_sweep(p, 0);
		rc = pkl_db_commit(pki->db, err);
	}
	if (rc != PKL_OK)
		pkl_db_rollback(pki->db);
	return rc;
}

struct pkl_pki *pkl_pki_open(const char *dir, int create, struct pkl_err *err)
{
	struct pkl_pki *pki = calloc(1, sizeof(*pki));
	char p[PATH_MAX];

	if (!pki) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		return NULL;
	}
	if (pkl_path_join(pki->dir, sizeof(pki->dir), err, "%s", dir) != PKL_OK ||
	    pkl_path_join(p, sizeof(p), err, "%s/pkilab.db", dir) != PKL_OK)
		goto fail;
	if (!create && !pkl_file_exists(p)) {
		pkl_err_set(err, PKL_EINPUT, dir,
			    "no PKI here (no pkilab.db): run 'pkilab build LAB.cfg' or pass --pki DIR");
		goto fail;
	}
	if (create) {
		if (pkl_file_mkdirs(dir, 0755, err) != PKL_OK)
			goto fail;
		for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
			char sd[PATH_MAX];
			mode_t mode = i == 0 ? 0700 : 0755;
			if (pkl_path_join(sd, sizeof(sd), err, "%s/%s", dir, subdirs[i]) != PKL_OK ||
			    pkl_file_mkdirs(sd, mode, err) != PKL_OK)
				goto fail;
			if (i == 0 && chmod(sd, 0700) != 0) {
				pkl_err_sys(err, sd, "cannot restrict permissions");
				goto fail;
			}
		}
	}
	pki->db = pkl_db_open(p, create, err);
	if (!pki->db || recover(pki, err) != PKL_OK)
		goto fail;
	return pki;
fail:
	pkl_pki_close(pki);
	return NULL;
}

void pkl_pki_close(struct pkl_pki *pki)
{
	if (!pki)
		return;
	pkl_db_close(pki->db);
	free(pki);
}

X509 *pkl_pki_load_cert(struct pkl_pki *pki, const char *name, struct pkl_err *err)
{
	struct pkl_cert_row row;
	struct pkl_buf der = PKL_BUF_INIT;
	X509 *x = NULL;

	if (pkl_db_cert_find(pki->db, name, &row, err) != PKL_OK)
		return NULL;
	if (pkl_db_cert_der(pki->db, row.id, &der, err) == PKL_OK)
		x = pkl_cert_from_der(der.data, der.len, name, err);
	pkl_buf_free(&der);
	return x;
}

X509 *pkl_pki_load_ca_cert(struct pkl_pki *pki, const char *name, struct pkl_err *err)
{
	struct pkl_cert_row row, irow;
	struct pkl_buf der = PKL_BUF_INIT, aia = PKL_BUF_INIT;
	char path[PATH_MAX];
	X509 *x = NULL, *issuer = NULL;
	EVP_PKEY *pub;
	struct pkl_err sub = { 0 };
	enum pkl_rc rc;

	if (pkl_db_cert_find(pki->db, name, &row, err) != PKL_OK)
		return NULL;
	if (!row.is_ca) {
		pkl_err_set(err, PKL_EINPUT, name, "'%s' is not a CA", name);
		return NULL;
	}
	rc = pkl_db_cert_der(pki->db, row.id, &der, err);
	if (rc == PKL_OK && !(x = pkl_cert_from_der(der.data, der.len, name, err)))
		rc = PKL_ERUNTIME;
	if (rc != PKL_OK)
		goto out;
	/* (1) Its issuer's signature over it. */
	if (row.issuer_id != row.id) {
		struct pkl_buf ider = PKL_BUF_INIT;
		rc = pkl_db_cert_get(pki->db, row.issuer_id, &irow, err);
		if (rc == PKL_OK)
			rc = pkl_db_cert_der(pki->db, irow.id, &ider, err);
		if (rc == PKL_OK && !(issuer = pkl_cert_from_der(ider.data, ider.len, irow.name, &sub)))
			rc = PKL_ERUNTIME;
		pkl_buf_free(&ider);
		if (rc != PKL_OK) {
			if (sub.msg[0])
				pkl_err_set(
					err, PKL_ERUNTIME, "pkilab.db",
					"stored certificate of CA '%s' (issuer of '%s') is unreadable: %s",
					irow.name, name, sub.msg);
			goto out;
		}
	}
	pub = X509_get0_pubkey(issuer ? issuer : x);
	if (!pub || X509_verify(x, pub) != 1) {
		ERR_clear_error();
		rc = pkl_err_set(err, PKL_ERUNTIME, "pkilab.db",
				 "stored certificate of CA '%s' does not verify with %s key: the database is "
				 "damaged; refusing to sign with it (restore pkilab.db from a backup)",
				 name, issuer ? "its issuer's" : "its own");
		goto out;
	}
	/* (2) The published copy. */
	rc = pkl_pki_path(pki, PKL_FILE_AIA, name, path, sizeof(path), err);
	if (rc != PKL_OK)
		goto out;
	if (pkl_file_read(path, 1u << 20, &aia, &sub) != PKL_OK) {
		rc = pkl_err_set(err, PKL_ERUNTIME, path,
				 "cannot check the certificate of CA '%s' against its published copy: %s",
				 name, sub.msg);
		goto out;
	}
	if (aia.len != der.len || memcmp(aia.data, der.data, der.len) != 0) {
		rc = pkl_err_set(
			err, PKL_ERUNTIME, "pkilab.db",
			"stored certificate of CA '%s' differs from publish/aia/%s.crt: the database "
			"or the published copy is damaged; refusing to sign with it",
			name, name);
		goto out;
	}
	rc = PKL_OK;
out:
	pkl_buf_free(&der);
	pkl_buf_free(&aia);
	X509_free(issuer);
	if (rc != PKL_OK) {
		X509_free(x);
		return NULL;
	}
	return x;
}

struct ca_ids {
	int64_t *v;
	size_t n, cap;
	int oom;
};

static int collect_ca(const struct pkl_cert_row *row, void *cls)
{
	struct ca_ids *ids = cls;

	if (!row->is_ca)
		return 0;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 16;
		int64_t *v = realloc(ids->v, cap * sizeof(*v));
		if (!v) {
			ids->oom = 1;
			return 1;
		}
		ids->v = v;
		ids->cap = cap;
	}
	ids->v[ids->n++] = row->id;
	return 0;
}

enum pkl_rc pkl_pki_check_not_ca_key(struct pkl_pki *pki, EVP_PKEY *key, struct pkl_err *err)
{
	struct ca_ids ids = { NULL, 0, 0, 0 };
	enum pkl_rc rc;

	/* Rows first, then their DER: no statement stays open across lookups. */
	rc = pkl_db_cert_each(pki->db, 1, collect_ca, &ids, err);
	if (rc == PKL_OK && ids.oom)
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	for (size_t i = 0; i < ids.n && rc == PKL_OK; i++) {
		struct pkl_buf der = PKL_BUF_INIT;
		struct pkl_cert_row row;
		X509 *x = NULL;

		rc = pkl_db_cert_get(pki->db, ids.v[i], &row, err);
		if (rc == PKL_OK)
			rc = pkl_db_cert_der(pki->db, ids.v[i], &der, err);
		if (rc == PKL_OK && !(x = pkl_cert_from_der(der.data, der.len, row.name, err)))
			rc = PKL_ERUNTIME;
		if (rc == PKL_OK && EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1)
			rc = pkl_err_set(err, PKL_EINPUT, NULL,
					 "the public key is CA '%s''s own key (serial %s): a certificate "
					 "for it is refused",
					 row.name, row.serial);
		ERR_clear_error();
		X509_free(x);
		pkl_buf_free(&der);
	}
	free(ids.v);
	return rc;
}

enum pkl_rc pkl_pki_check_unrecorded(struct pkl_pki *pki, const char *name, struct pkl_err *err)
{
	static const enum pkl_pki_file kinds[] = { PKL_FILE_KEY, PKL_FILE_CERT, PKL_FILE_CHAIN, PKL_FILE_CRL,
						   PKL_FILE_AIA };
	struct pkl_cert_row row;
	char path[PATH_MAX];
	struct stat st;

	if (pkl_db_cert_find(pki->db, name, &row, NULL) == PKL_OK)
		return PKL_OK;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (pkl_pki_path(pki, kinds[i], name, path, sizeof(path), err) != PKL_OK)
			return PKL_EINPUT;
		if (lstat(path, &st) == 0)
			return pkl_err_set(
				err, PKL_EINPUT, path,
				"exists but pkilab.db has no record of '%s': refusing to overwrite "
				"it (restore the database from a backup, or move the file away)",
				name);
	}
	return PKL_OK;
}

EVP_PKEY *pkl_pki_load_key(struct pkl_pki *pki, const char *name, struct pkl_err *err)
{
	char path[PATH_MAX];
	char *pass = NULL;
	EVP_PKEY *key;
	struct pkl_buf pem = PKL_BUF_INIT;

	if (pkl_pki_path(pki, PKL_FILE_KEY, name, path, sizeof(path), err) != PKL_OK)
		return NULL;
	if (pkl_file_read(path, 1u << 20, &pem, err) != PKL_OK)
		return NULL;
	/* Only ask for a passphrase when the key is encrypted. */
	if (strstr(pkl_buf_cstr(&pem), "ENCRYPTED")) {
		pass = pkl_key_passphrase_get(err);
		if (!pass && err && err->msg[0]) {
			pkl_buf_wipe(&pem);
			return NULL;
		}
	}
	key = pkl_key_from_pem(pem.data, pem.len, pass, path, err);
	pkl_key_passphrase_free(pass);
	pkl_buf_wipe(&pem);
	return key;
}

enum pkl_rc pkl_pki_chain_pem(struct pkl_pki *pki, const char *name, int with_self, int with_root,
			      struct pkl_buf *out, struct pkl_err *err)
{
	struct pkl_cert_row row;
	int first = 1;
	enum pkl_rc rc = pkl_db_cert_find(pki->db, name, &row, err);

	for (int guard = 0; rc == PKL_OK && guard < 16; guard++) {
		int is_root = row.issuer_id == row.id;
		if ((first && with_self) || (!first && (!is_root || with_root))) {
			struct pkl_buf der = PKL_BUF_INIT;
			X509 *x = NULL;
			rc = pkl_db_cert_der(pki->db, row.id, &der, err);
			if (rc == PKL_OK && !(x = pkl_cert_from_der(der.data, der.len, row.name, err)))
				rc = PKL_ERUNTIME;
			if (rc == PKL_OK)
				rc = pkl_cert_to_pem(x, out, err);
			X509_free(x);
			pkl_buf_free(&der);
		}
		if (is_root || rc != PKL_OK)
			break;
		first = 0;
		rc = pkl_db_cert_get(pki->db, row.issuer_id, &row, err);
	}
	return rc;
}

/* ---- transactions --------------------------------------------------------- */

struct pkl_txn {
	struct pkl_pki *pki;
	struct pkl_fileset *fs;    /* the files, journalled in table `pending` */
	char (*inplace)[PATH_MAX]; /* staging mode: files written at their names */
	size_t n, cap;
};

struct pkl_txn *pkl_txn_begin(struct pkl_pki *pki, struct pkl_err *err)
{
	struct pkl_txn *txn = calloc(1, sizeof(*txn));

	if (!txn) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		return NULL;
	}
	txn->pki = pki;
	if (!pki->staging &&
	    !(txn->fs = pkl_fileset_begin(pki->dir, PKL_FILESET_BATCH_SYNC | PKL_FILESET_EXTERNAL_JOURNAL,
					  err))) {
		free(txn);
		return NULL;
	}
	if (pkl_db_begin(pki->db, err) != PKL_OK) {
		pkl_fileset_free(txn->fs);
		free(txn);
		return NULL;
	}
	return txn;
}

/* Staging mode: the directory itself appears by one rename (pkilab build,
 * through a pkl_fileset), so files go straight to their names. */
static enum pkl_rc put_in_place(struct pkl_txn *txn, const char *path, const void *data, size_t len,
				mode_t mode, struct pkl_err *err)
{
	int fd;
	ssize_t n;

	if (txn->n == txn->cap) {
		size_t cap = txn->cap ? txn->cap * 2 : 16;
		char(*f)[PATH_MAX] = realloc(txn->inplace, cap * sizeof(*f));
		if (!f)
			return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		txn->inplace = f;
		txn->cap = cap;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	n = fd < 0 ? -1 : write(fd, data, len);
	if (fd < 0 || n != (ssize_t)len || close(fd) != 0) {
		pkl_err_sys(err, path, "cannot write");
		if (fd >= 0)
			unlink(path);
		return PKL_ERUNTIME;
	}
	snprintf(txn->inplace[txn->n++], PATH_MAX, "%s", path);
	return PKL_OK;
}

enum pkl_rc pkl_txn_put(struct pkl_txn *txn, enum pkl_pki_file kind, const char *name, const void *data,
			size_t len, struct pkl_err *err)
{
	mode_t mode = kind == PKL_FILE_KEY ? 0600 : 0644;
	char final[PATH_MAX];

	if (pkl_pki_path(txn->pki, kind, name, final, sizeof(final), err) != PKL_OK)
		return PKL_EINPUT;
	if (txn->pki->staging)
		return put_in_place(txn, final, data, len, mode, err);
	/* No fsync here: one syncfs() at commit covers every staged file. */
	return pkl_fileset_add(txn->fs, final + strlen(txn->pki->dir) + 1, data, len, mode, err);
}

static void txn_free(struct pkl_txn *txn)
{
	pkl_fileset_free(txn->fs);
	free(txn->inplace);
	free(txn);
}

void pkl_txn_abort(struct pkl_txn *txn)
{
	if (!txn)
		return;
	for (size_t i = 0; i < txn->n; i++)
		unlink(txn->inplace[i]);
	pkl_fileset_abort(txn->fs);
	pkl_db_rollback(txn->pki->db);
	txn_free(txn);
}

struct journal {
	struct pkl_db *db;
	struct pkl_err *err;
};

static int journal_add(const char *tmp, const char *final, void *cls)
{
	struct journal *j = cls;

	return pkl_db_pending_add(j->db, tmp, final, j->err) != PKL_OK;
}

static int journal_remove(const char *tmp, const char *final, void *cls)
{
	struct journal *f = cls;

	(void) final;
	return pkl_db_pending_remove(f->db, tmp, f->err) != PKL_OK;
}

/* Renames every staged file into place and clears the journal. Idempotent:
 * a file already renamed (ENOENT on its temporary name) is done. */
static enum pkl_rc finish_committed(struct pkl_txn *txn, struct pkl_err *err)
{
	struct pkl_pki *pki = txn->pki;
	struct journal f = { pki->db, err };
	enum pkl_rc rc;

	rc = pkl_fileset_publish(txn->fs, NULL, err);
	if (rc != PKL_OK)
		return PKL_ERUNTIME;
	/* Only our own entries: another process may have committed in between
	 * and not renamed yet. */
	rc = pkl_db_begin(pki->db, err);
	if (rc == PKL_OK && pkl_fileset_each(txn->fs, journal_remove, &f))
		rc = PKL_ERUNTIME;
	if (rc == PKL_OK)
		rc = pkl_db_commit(pki->db, err);
	if (rc != PKL_OK) {
		pkl_db_rollback(pki->db);
		return PKL_ERUNTIME;
	}
	return PKL_OK;
}

enum pkl_rc pkl_txn_commit(struct pkl_txn *txn, struct pkl_err *err)
{
	struct pkl_pki *pki = txn->pki;
	struct journal j = { pki->db, err };
	enum pkl_rc rc = PKL_OK;

	if (pki->staging) { /* files are in place; the directory rename publishes them */
		if (txn->n)
			rc = pkl_file_sync_fs(pki->dir, err);
		if (rc == PKL_OK)
			rc = pkl_db_commit(pki->db, err);
		if (rc != PKL_OK) {
			pkl_txn_abort(txn);
			return rc;
		}
		txn_free(txn);
		return PKL_OK;
	}
	if (pkl_fileset_each(txn->fs, journal_add, &j))
		rc = err ? err->rc : PKL_ERUNTIME;
	if (rc == PKL_OK)
		rc = pkl_fileset_prepare(txn->fs, err);
	if (rc == PKL_OK)
		rc = pkl_db_commit(pki->db, err);
	if (rc != PKL_OK) {
		pkl_txn_abort(txn);
		return rc;
	}
	/* Committed: the change is durable and can only go forward. Finishing it
	 * (renames, then clearing the journal) is retried once, as the next
	 * pkl_pki_open() would; only if that fails too is it reported, and the
	 * next command still completes it. */
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = finish_committed(txn, err);
		if (rc == PKL_OK) {
			pkl_err_clear(err); /* a failed first attempt is not the result */
			break;
		}
	}
	if (rc != PKL_OK && err)
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
			 " (the change is committed; the next pkilab command completes it)");
	txn_free(txn);
	return rc;
}
