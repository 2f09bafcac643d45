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
#include "pkilab/key.h"
#include "pkilab/pki.h"

static const char *const subdirs[] = { "private", "certs", "publish", "publish/crl", "publish/aia" };

enum pkl_rc pkl_pki_path(const struct pkl_pki *pki, enum pkl_pki_file kind, const char *name,
			 char *out, size_t outlen, struct pkl_err *err)
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
	/* Already renamed before the crash: nothing to do. */
	if (rename(tmp, final) != 0 && errno != ENOENT)
		return 0;
	return 0;
}

/* Deletes (or, with dry_run, counts) temporary files of transactions that
 * never committed. Names are unlinked relative to the opened directory and
 * never followed: a stray is a file we wrote, and a link or directory with
 * such a name is unlinked as itself or left alone, never its target. */
static size_t remove_strays(const char *dir, int dry_run)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-") &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
			n++;
			if (!dry_run)
				(void)unlinkat(dirfd(d), e->d_name, 0);
		}
	closedir(d);
	return n;
}

static int count_pending(const char *tmp, const char *final, void *cls)
{
	(void)tmp;
	(void)final;
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
			n += remove_strays(p, 1);
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
				remove_strays(p, 0);
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
		pkl_err_set(err, PKL_EINPUT, dir, "no PKI here (no pkilab.db): run 'pkilab build LAB.cfg' or pass --pki DIR");
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
				pkl_err_set(err, PKL_ERUNTIME, "pkilab.db",
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
		rc = pkl_err_set(err, PKL_ERUNTIME, "pkilab.db",
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
					 "for it is refused", row.name, row.serial);
		ERR_clear_error();
		X509_free(x);
		pkl_buf_free(&der);
	}
	free(ids.v);
	return rc;
}

enum pkl_rc pkl_pki_check_unrecorded(struct pkl_pki *pki, const char *name, struct pkl_err *err)
{
	static const enum pkl_pki_file kinds[] = { PKL_FILE_KEY, PKL_FILE_CERT, PKL_FILE_CHAIN,
						   PKL_FILE_CRL, PKL_FILE_AIA };
	struct pkl_cert_row row;
	char path[PATH_MAX];
	struct stat st;

	if (pkl_db_cert_find(pki->db, name, &row, NULL) == PKL_OK)
		return PKL_OK;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (pkl_pki_path(pki, kinds[i], name, path, sizeof(path), err) != PKL_OK)
			return PKL_EINPUT;
		if (lstat(path, &st) == 0)
			return pkl_err_set(err, PKL_EINPUT, path,
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

struct staged {
	char tmp[PATH_MAX];
	char final[PATH_MAX];
};

struct pkl_txn {
	struct pkl_pki *pki;
	struct staged *files;
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
	if (pkl_db_begin(pki->db, err) != PKL_OK) {
		free(txn);
		return NULL;
	}
	return txn;
}

enum pkl_rc pkl_txn_put(struct pkl_txn *txn, enum pkl_pki_file kind, const char *name,
			const void *data, size_t len, struct pkl_err *err)
{
	struct staged *s;
	mode_t mode = kind == PKL_FILE_KEY ? 0600 : 0644;

	if (txn->n == txn->cap) {
		size_t cap = txn->cap ? txn->cap * 2 : 16;
		struct staged *f = realloc(txn->files, cap * sizeof(*f));
		if (!f)
			return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		txn->files = f;
		txn->cap = cap;
	}
	s = &txn->files[txn->n];
	if (pkl_pki_path(txn->pki, kind, name, s->final, sizeof(s->final), err) != PKL_OK)
		return PKL_EINPUT;
	if (txn->pki->staging) {
		/* tmp == final marks a file written in place (abort unlinks it). */
		int fd = open(s->final, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		ssize_t n = fd < 0 ? -1 : write(fd, data, len);
		if (fd < 0 || n != (ssize_t)len || close(fd) != 0) {
			pkl_err_sys(err, s->final, "cannot write");
			if (fd >= 0)
				unlink(s->final);
			return PKL_ERUNTIME;
		}
		snprintf(s->tmp, sizeof(s->tmp), "%s", s->final);
		txn->n++;
		return PKL_OK;
	}
	/* No fsync here: one syncfs() at commit covers every staged file. */
	if (pkl_file_write_temp(s->final, data, len, mode, 0, s->tmp, sizeof(s->tmp), err) != PKL_OK)
		return err ? err->rc : PKL_ERUNTIME;
	txn->n++;
	return PKL_OK;
}

static void txn_free(struct pkl_txn *txn)
{
	free(txn->files);
	free(txn);
}

void pkl_txn_abort(struct pkl_txn *txn)
{
	if (!txn)
		return;
	for (size_t i = 0; i < txn->n; i++)
		unlink(txn->files[i].tmp);
	pkl_db_rollback(txn->pki->db);
	txn_free(txn);
}

/* Renames every staged file into place and clears the journal. Idempotent:
 * a file already renamed (ENOENT on its temporary name) is done. */
static enum pkl_rc finish_committed(struct pkl_txn *txn, struct pkl_err *err)
{
	struct pkl_pki *pki = txn->pki;
	enum pkl_rc rc = PKL_OK;
	char d[PATH_MAX];

	for (size_t i = 0; i < txn->n; i++)
		/* ENOENT: already renamed, by us or by a concurrent pkl_pki_open(). */
		if (rename(txn->files[i].tmp, txn->files[i].final) != 0 && errno != ENOENT && rc == PKL_OK)
			rc = pkl_err_sys(err, txn->files[i].final, "cannot rename into place");
	if (rc != PKL_OK || !txn->n)
		return rc == PKL_OK ? PKL_OK : PKL_ERUNTIME;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (snprintf(d, sizeof(d), "%s/%s", pki->dir, subdirs[i]) < (int)sizeof(d))
			pkl_file_sync_dir(d, NULL);
	/* Only our own entries: another process may have committed in between
	 * and not renamed yet. */
	rc = pkl_db_begin(pki->db, err);
	for (size_t i = 0; i < txn->n && rc == PKL_OK; i++)
		rc = pkl_db_pending_remove(pki->db, txn->files[i].tmp, err);
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
	enum pkl_rc rc = PKL_OK;

	for (size_t i = 0; i < txn->n && rc == PKL_OK && !pki->staging; i++)
		rc = pkl_db_pending_add(pki->db, txn->files[i].tmp, txn->files[i].final, err);
	if (rc == PKL_OK && txn->n)
		rc = pkl_file_sync_fs(pki->dir, err);
	if (rc == PKL_OK)
		rc = pkl_db_commit(pki->db, err);
	if (rc != PKL_OK) {
		pkl_txn_abort(txn);
		return rc;
	}
	if (pki->staging) { /* files are in place; the directory rename publishes them */
		txn_free(txn);
		return PKL_OK;
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
