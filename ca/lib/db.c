/*
 * The CA database (SQLite in WAL mode): the one place that holds SQL. The
 * schema, its version and the steps that upgrade an older pkilab.db,
 * transactions, the certificate inventory, revocations, CA state and the
 * log of signed CRLs. No other module sees SQLite.
 *
 * Schema versions (meta.schema):
 *   1  certs, cas, events, pending, meta; crl_log was created lazily by the
 *      first `pkilab crl`, so a version-1 database may lack it.
 *   2  crl_log is part of the schema.
 *   3  certs.origin: "lab" or "issue" (what issued it; "" in rows from before).
 */
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include <sqlite3.h>

#include "pkilab/db.h"

#define BUSY_TIMEOUT_MS 30000

/* One row per CRL signed by `pkilab crl`: lets `crl --due` tell whether a
 * revocation happened since the published CRL was signed. */
#define CRL_LOG_DDL                                                                           \
	"CREATE TABLE IF NOT EXISTS crl_log(id INTEGER PRIMARY KEY, ca TEXT NOT NULL,"        \
	" number TEXT NOT NULL, this_update INTEGER, next_update INTEGER, n_entries INTEGER," \
	" signed_at INTEGER)"

/* Statements run once per certificate are prepared once per connection. */
enum db_stmt {
	ST_CERT_INSERT,
	ST_EVENT,
	ST_PENDING_ADD,
	ST_PENDING_REMOVE,
	ST_FIND_NAME,
	ST_MAX
};

struct pkl_db {
	sqlite3 *h;
	sqlite3_stmt *stmt[ST_MAX];
	char path[4096];
};

/* A prepared statement from the cache, reset and unbound; the caller must
 * not finalize it. NULL on failure (the error is in db->h). */
static sqlite3_stmt *cached(struct pkl_db *db, enum db_stmt which, const char *sql)
{
	sqlite3_stmt *st = db->stmt[which];

	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		return NULL;
	db->stmt[which] = st;
	return st;
}

/* Ends the use of a cached statement: releases its read/write locks. */
static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
}

/* The current layout, written in one transaction when a database is created.
 * A change here is a new PKL_DB_SCHEMA with a step in migrations[]. */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS certs("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  issuer_id INTEGER NOT NULL,"
	"  serial TEXT NOT NULL,"
	"  is_ca INTEGER NOT NULL,"
	"  current INTEGER NOT NULL DEFAULT 1,"
	"  template TEXT NOT NULL DEFAULT '',"
	"  subject TEXT NOT NULL,"
	"  key_spec TEXT NOT NULL DEFAULT '',"
	"  key_encrypted INTEGER NOT NULL DEFAULT 0,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  issued_at INTEGER NOT NULL,"
	"  status INTEGER NOT NULL DEFAULT 0,"
	"  revoked_at INTEGER,"
	"  reason INTEGER,"
	"  invalidity INTEGER,"
	"  der BLOB NOT NULL,"
	"  origin TEXT NOT NULL DEFAULT '',"
	"  UNIQUE(issuer_id, serial));"
	"CREATE UNIQUE INDEX IF NOT EXISTS certs_current_name ON certs(name) WHERE current = 1;"
	"CREATE INDEX IF NOT EXISTS certs_issuer ON certs(issuer_id, status);"
	"CREATE TABLE IF NOT EXISTS cas("
	"  name TEXT PRIMARY KEY,"
	"  cert_id INTEGER NOT NULL,"
	"  crl_lifetime INTEGER NOT NULL,"
	"  crl_number TEXT NOT NULL DEFAULT '',"
	"  crl_this_update INTEGER,"
	"  crl_next_update INTEGER);"
	"CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, subject TEXT, detail TEXT);"
	"CREATE TABLE IF NOT EXISTS pending(tmp TEXT PRIMARY KEY, final TEXT NOT NULL);" CRL_LOG_DDL ";"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '0');"; /* set by upgrade() */

/* migrations[v] turns a version-v database into version v + 1. All steps up
 * to PKL_DB_SCHEMA run in one transaction with the version update, so an
 * interrupted upgrade leaves the old version and each step runs once. */
static const char *const migrations[PKL_DB_SCHEMA] = {
	[1] = CRL_LOG_DDL ";", /* may exist already: the same DDL, created lazily */
	/* Runs inside the upgrade's transaction, so it is never half done. */
	[2] = "ALTER TABLE certs ADD COLUMN origin TEXT NOT NULL DEFAULT '';",
};

static enum pkl_rc db_fail(struct pkl_db *db, struct pkl_err *err, const char *what)
{
	int code = sqlite3_extended_errcode(db->h);
	enum pkl_rc rc = PKL_ERUNTIME;

	if ((code & 0xff) == SQLITE_CONSTRAINT)
		rc = PKL_EINPUT;
	return pkl_err_set(err, rc, db->path, "%s: %s", what, sqlite3_errmsg(db->h));
}

static enum pkl_rc exec(struct pkl_db *db, const char *sql, struct pkl_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		pkl_err_set(err, PKL_ERUNTIME, db->path, "database: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return PKL_ERUNTIME;
	}
	return PKL_OK;
}

/* The schema version in meta.schema: 0 when there is none (no meta table,
 * no row, or a file that is not a database at all), -1 when the value is
 * not a version number. */
static long schema_version(struct pkl_db *db)
{
	sqlite3_stmt *st = NULL;
	long v = 0;

	if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		char *end = NULL;

		v = s ? strtol(s, &end, 10) : -1;
		if (!s || end == s || *end || v < 1 || v > 1000000)
			v = -1;
	}
	sqlite3_finalize(st);
	return v;
}

/* Refuses a version this binary cannot read: a newer pkilab's database must
 * not be written with an older layout in mind. */
static enum pkl_rc version_check(struct pkl_db *db, long v, struct pkl_err *err)
{
	if (v < 0)
		return pkl_err_set(err, PKL_ERUNTIME, db->path,
				   "unreadable schema version in table meta: restore it from a backup");
	if (v > PKL_DB_SCHEMA)
		return pkl_err_set(err, PKL_ERUNTIME, db->path,
				   "schema version %ld is newer than this pkilab's (%d): use the pkilab "
				   "that wrote it, or a newer one",
				   v, PKL_DB_SCHEMA);
	return PKL_OK;
}

/* Creates the schema (v == 0) or upgrades it to PKL_DB_SCHEMA, in one
 * transaction. The version is read again under the write lock: another
 * process may have done it meanwhile. */
static enum pkl_rc upgrade(struct pkl_db *db, int create, struct pkl_err *err)
{
	enum pkl_rc rc;
	long v;
	char q[96];

	if ((rc = exec(db, "BEGIN IMMEDIATE;", err)) != PKL_OK)
		return rc;
	v = schema_version(db);
	rc = version_check(db, v, err);
	if (rc == PKL_OK && v == 0)
		rc = create ? exec(db, schema, err) :
			      pkl_err_set(err, PKL_ERUNTIME, db->path,
					  "not a pkilab database (no pkilab schema)");
	for (; rc == PKL_OK && v > 0 && v < PKL_DB_SCHEMA; v++)
		if (migrations[v])
			rc = exec(db, migrations[v], err);
	if (rc == PKL_OK) {
		snprintf(q, sizeof(q), "UPDATE meta SET value = '%d' WHERE key = 'schema';", PKL_DB_SCHEMA);
		rc = exec(db, q, err);
	}
	if (rc == PKL_OK)
		rc = exec(db, "COMMIT;", err);
	if (rc != PKL_OK && !sqlite3_get_autocommit(db->h))
		exec(db, "ROLLBACK;", NULL);
	return rc;
}

struct pkl_db *pkl_db_open(const char *path, int create, struct pkl_err *err)
{
	struct pkl_db *db = calloc(1, sizeof(*db));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	long v;

	if (!db) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		return NULL;
	}
	snprintf(db->path, sizeof(db->path), "%s", path);
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
		pkl_err_set(err, create ? PKL_ERUNTIME : PKL_EINPUT, path, "cannot open database: %s",
			    db->h ? sqlite3_errmsg(db->h) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
	v = schema_version(db);
	/* Only a database that is being created may lack pkilab's schema. An
	 * existing file without it (truncated to 0 bytes, another program's
	 * database) is refused before anything is written: quietly creating an
	 * empty PKI in its place would make `list`, `crl --due` and `expiring`
	 * report nothing with exit 0, and `build` re-issue the CAs over the keys
	 * in private/. SQLite treats a 0-byte file as a valid empty database. */
	if (!create && v == 0) {
		pkl_err_set(err, PKL_ERUNTIME, path,
			    "not a pkilab database (no pkilab schema; empty or foreign file): "
			    "restore it from a backup");
		goto fail;
	}
	/* A newer layout is refused before anything is written, WAL mode included. */
	if (version_check(db, v, err) != PKL_OK)
		goto fail;
	/* WAL: readers never block the writer; synchronous=FULL so a commit
	 * survives power loss (the files it names were synced before it). */
	if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", err))
		goto fail;
	/* Opening writes only to create or upgrade the schema (see pki.c). */
	if (v == PKL_DB_SCHEMA)
		return db;
	if (upgrade(db, create, err) != PKL_OK)
		goto fail;
	return db;
fail:
	pkl_db_close(db);
	return NULL;
}

void pkl_db_close(struct pkl_db *db)
{
	if (!db)
		return;
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(db->stmt[i]);
	sqlite3_close(db->h);
	free(db);
}

enum pkl_rc pkl_db_begin(struct pkl_db *db, struct pkl_err *err)
{
	return exec(db, "BEGIN IMMEDIATE;", err);
}

enum pkl_rc pkl_db_commit(struct pkl_db *db, struct pkl_err *err)
{
	return exec(db, "COMMIT;", err);
}

void pkl_db_rollback(struct pkl_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		exec(db, "ROLLBACK;", NULL);
}

static void text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	snprintf(dst, len, "%s", s ? (const char *)s : "");
}

#define CERT_COLS                                                                                 \
	"c.id, c.name, c.issuer_id, i.name, c.serial, c.is_ca, c.current, c.template, c.subject," \
	" c.key_spec, c.key_encrypted, c.not_before, c.not_after, c.issued_at, c.status,"         \
	" c.revoked_at, c.reason, c.invalidity, c.origin"                                         \
	" FROM certs c LEFT JOIN certs i ON i.id = c.issuer_id"

static void row_from(sqlite3_stmt *st, struct pkl_cert_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	text(r->name, sizeof(r->name), st, 1);
	r->issuer_id = sqlite3_column_int64(st, 2);
	text(r->issuer_name, sizeof(r->issuer_name), st, 3);
	text(r->serial, sizeof(r->serial), st, 4);
	r->is_ca = sqlite3_column_int(st, 5);
	r->current = sqlite3_column_int(st, 6);
	text(r->template_name, sizeof(r->template_name), st, 7);
	text(r->subject, sizeof(r->subject), st, 8);
	text(r->key_spec, sizeof(r->key_spec), st, 9);
	r->key_encrypted = sqlite3_column_int(st, 10);
	r->not_before = sqlite3_column_int64(st, 11);
	r->not_after = sqlite3_column_int64(st, 12);
	r->issued_at = sqlite3_column_int64(st, 13);
	r->status = sqlite3_column_int(st, 14) ? PKL_STATUS_REVOKED : PKL_STATUS_VALID;
	r->revoked_at = sqlite3_column_int64(st, 15);
	r->reason = sqlite3_column_type(st, 16) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 16);
	r->invalidity = sqlite3_column_int64(st, 17);
	text(r->origin, sizeof(r->origin), st, 18);
}

enum pkl_rc pkl_db_cert_insert(struct pkl_db *db, struct pkl_cert_row *row, const unsigned char *der,
			       size_t der_len, struct pkl_err *err)
{
	static const char sql[] =
		"INSERT INTO certs(name, issuer_id, serial, is_ca, current, template, subject, key_spec,"
		" key_encrypted, not_before, not_after, issued_at, der, origin)"
		" VALUES(?,?,?,?,1,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = cached(db, ST_CERT_INSERT, sql);
	enum pkl_rc rc = PKL_OK;

	if (!st)
		return db_fail(db, err, "insert certificate");
	sqlite3_bind_text(st, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, row->issuer_id);
	sqlite3_bind_text(st, 3, row->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, row->is_ca);
	sqlite3_bind_text(st, 5, row->template_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, row->key_spec, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, row->key_encrypted);
	sqlite3_bind_int64(st, 9, row->not_before);
	sqlite3_bind_int64(st, 10, row->not_after);
	sqlite3_bind_int64(st, 11, row->issued_at);
	sqlite3_bind_blob(st, 12, der, (int)der_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, row->origin, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if ((sqlite3_extended_errcode(db->h) & 0xff) == SQLITE_CONSTRAINT)
			rc = pkl_err_set(
				err, PKL_EINPUT, db->path,
				"certificate '%s' (serial %s) conflicts with one already in the database",
				row->name, row->serial);
		else
			rc = db_fail(db, err, "insert certificate");
		goto out;
	}
	row->id = sqlite3_last_insert_rowid(db->h);
	if (row->issuer_id == 0) { /* a root is its own issuer */
		char q[96];
		row->issuer_id = row->id;
		snprintf(q, sizeof(q), "UPDATE certs SET issuer_id = id WHERE id = %lld", (long long)row->id);
		rc = exec(db, q, err);
	}
out:
	done(st);
	return rc;
}

/* Normalises a serial the way people type it ("0x", colons, case, odd
 * length, redundant 00 bytes) into pkl_serial_hex's form: whole bytes in
 * lowercase hex, no leading zero byte. */
static int normalise_serial(const char *in, char *out, size_t len)
{
	char tmp[128];
	size_t n = 0, skip = 0;

	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n + 2 >= sizeof(tmp))
			return 0;
		tmp[n++] = (char)tolower((unsigned char)*in);
	}
	if (n & 1) {
		memmove(tmp + 1, tmp, n);
		tmp[0] = '0';
		n++;
	}
	while (skip + 2 < n && tmp[skip] == '0' && tmp[skip + 1] == '0')
		skip += 2;
	if (n == 0 || n - skip + 1 > len)
		return 0;
	memcpy(out, tmp + skip, n - skip);
	out[n - skip] = '\0';
	return 1;
}

static int looks_like_serial(const char *s)
{
	size_t hex = 0, len = strlen(s);
	for (const char *p = s; *p; p++)
		hex += isxdigit((unsigned char)*p) || *p == ':';
	return (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) || (hex == len && len >= 16);
}

enum pkl_rc pkl_db_cert_find(struct pkl_db *db, const char *key, struct pkl_cert_row *row,
			     struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	char serial[64];
	enum pkl_rc rc;
	int step;

	st = cached(db, ST_FIND_NAME, "SELECT " CERT_COLS " WHERE c.name = ? AND c.current = 1");
	if (!st)
		return db_fail(db, err, "find certificate");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		row_from(st, row);
	done(st);
	st = NULL;
	if (step == SQLITE_ROW)
		return PKL_OK;
	if (looks_like_serial(key) && normalise_serial(key, serial, sizeof(serial))) {
		if (sqlite3_prepare_v2(db->h,
				       "SELECT " CERT_COLS " WHERE c.serial = ? ORDER BY c.current DESC", -1,
				       &st, NULL) != SQLITE_OK)
			return db_fail(db, err, "find certificate");
		sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
		step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			row_from(st, row);
			rc = sqlite3_step(st) == SQLITE_ROW ?
				     pkl_err_set(
					     err, PKL_EINPUT, NULL,
					     "serial %s is ambiguous (issued by several CAs): use the name",
					     key) :
				     PKL_OK;
			sqlite3_finalize(st);
			return rc;
		}
		sqlite3_finalize(st);
	}
	return pkl_err_set(err, PKL_EINPUT, NULL, "unknown certificate '%s' (not a name or serial in %s)",
			   key, db->path);
}

enum pkl_rc pkl_db_cert_get(struct pkl_db *db, int64_t id, struct pkl_cert_row *row, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	if (sqlite3_prepare_v2(db->h, "SELECT " CERT_COLS " WHERE c.id = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "get certificate");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		row_from(st, row);
	else
		rc = pkl_err_set(err, PKL_ERUNTIME, db->path, "certificate #%lld is missing", (long long)id);
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_cert_der(struct pkl_db *db, int64_t id, struct pkl_buf *out, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	if (sqlite3_prepare_v2(db->h, "SELECT der FROM certs WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "read certificate");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (pkl_buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)))
			rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	} else
		rc = pkl_err_set(err, PKL_ERUNTIME, db->path, "certificate #%lld is missing", (long long)id);
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_cert_each(struct pkl_db *db, int all, pkl_db_cert_fn fn, void *cls, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	struct pkl_cert_row r;
	int step;

	if (sqlite3_prepare_v2(db->h,
			       all ? "SELECT " CERT_COLS " ORDER BY c.id" :
				     "SELECT " CERT_COLS " WHERE c.current = 1 ORDER BY c.id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "list certificates");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		row_from(st, &r);
		if (fn(&r, cls))
			break;
	}
	sqlite3_finalize(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return db_fail(db, err, "list certificates");
	return PKL_OK;
}

enum pkl_rc pkl_db_cert_retire(struct pkl_db *db, int64_t id, struct pkl_err *err)
{
	char q[96];

	snprintf(q, sizeof(q), "UPDATE certs SET current = 0 WHERE id = %lld", (long long)id);
	return exec(db, q, err);
}

enum pkl_rc pkl_db_cert_revoke(struct pkl_db *db, int64_t id, pkl_time at, int reason, pkl_time invalidity,
			       int *revoked, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	/* Every bind checked: an unbound id matches no row and the certificate
	 * would be reported revoked without being so. */
	if (sqlite3_prepare_v2(db->h,
			       "UPDATE certs SET status = 1, revoked_at = ?1, reason = ?2, "
			       "invalidity = ?3 WHERE id = ?4 AND status = 0",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, at) != SQLITE_OK || sqlite3_bind_int(st, 2, reason) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, invalidity) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, id) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "cannot record the revocation");
	else if (revoked)
		*revoked = sqlite3_changes(db->h) == 1;
	sqlite3_finalize(st);
	return rc;
}

/* The walk behind pkl_db_revoked_each / pkl_db_issued_each. */
static enum pkl_rc issued_walk(struct pkl_db *db, int64_t ca_id, int with_der, pkl_db_issued_fn fn, void *cls,
			       struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	struct pkl_db_issued c;
	enum pkl_rc rc = PKL_OK;
	int step;

	if (sqlite3_prepare_v2(
		    db->h,
		    with_der ? "SELECT serial, not_after, status, revoked_at, reason, invalidity, der "
			       "FROM certs WHERE issuer_id = ?1 AND id <> ?1 ORDER BY id" :
			       "SELECT serial, not_after, status, revoked_at, reason, invalidity "
			       "FROM certs WHERE issuer_id = ?1 AND id <> ?1 AND status = 1",
		    -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "cannot read certificates");
	/* An unbound ?1 would match no row: an empty CRL despite revocations. */
	if (sqlite3_bind_int64(st, 1, ca_id) != SQLITE_OK) {
		rc = db_fail(db, err, "cannot read certificates");
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&c, 0, sizeof(c));
		c.serial = (const char *)sqlite3_column_text(st, 0);
		c.serial_len = (size_t)sqlite3_column_bytes(st, 0);
		c.not_after = sqlite3_column_int64(st, 1);
		c.status = sqlite3_column_int(st, 2) == 1 ? PKL_STATUS_REVOKED : PKL_STATUS_VALID;
		c.revoked_at = sqlite3_column_int64(st, 3);
		c.reason = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4);
		c.invalidity = sqlite3_column_int64(st, 5);
		if (with_der) {
			c.der = sqlite3_column_blob(st, 6);
			c.der_len = (size_t)sqlite3_column_bytes(st, 6);
		}
		if (fn(&c, cls))
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_fail(db, err, "cannot read certificates");
out:
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_revoked_each(struct pkl_db *db, int64_t ca_id, pkl_db_issued_fn fn, void *cls,
				struct pkl_err *err)
{
	return issued_walk(db, ca_id, 0, fn, cls, err);
}

enum pkl_rc pkl_db_issued_each(struct pkl_db *db, int64_t ca_id, pkl_db_issued_fn fn, void *cls,
			       struct pkl_err *err)
{
	return issued_walk(db, ca_id, 1, fn, cls, err);
}

/* A failed count is an error, not 0: "no revocations" would let `crl --due`
 * skip a CRL that has one to publish. */
enum pkl_rc pkl_db_revoked_count(struct pkl_db *db, int64_t ca_id, int64_t *out, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT count(*) FROM certs WHERE issuer_id = ?1 AND id <> ?1 "
			       "AND status = 1",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, ca_id) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		rc = db_fail(db, err, "cannot count revocations");
	else
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_event(struct pkl_db *db, const char *kind, const char *subject, const char *detail,
			 struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	st = cached(db, ST_EVENT, "INSERT INTO events(at, kind, subject, detail) VALUES(?,?,?,?)");
	if (!st)
		return db_fail(db, err, "record event");
	sqlite3_bind_int64(st, 1, pkl_time_now());
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "record event");
	done(st);
	return rc;
}

enum pkl_rc pkl_db_ca_put(struct pkl_db *db, const struct pkl_ca_state *s, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	if (sqlite3_prepare_v2(
		    db->h,
		    "INSERT INTO cas(name, cert_id, crl_lifetime, crl_number, crl_this_update,"
		    " crl_next_update) VALUES(?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET"
		    " cert_id = excluded.cert_id, crl_lifetime = excluded.crl_lifetime,"
		    " crl_number = excluded.crl_number, crl_this_update = excluded.crl_this_update,"
		    " crl_next_update = excluded.crl_next_update",
		    -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "store CA state");
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, s->cert_id);
	sqlite3_bind_int64(st, 3, s->crl_lifetime);
	sqlite3_bind_text(st, 4, s->crl_number, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, s->crl_this_update);
	sqlite3_bind_int64(st, 6, s->crl_next_update);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "store CA state");
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_ca_get(struct pkl_db *db, const char *name, struct pkl_ca_state *s, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	if (sqlite3_prepare_v2(
		    db->h,
		    "SELECT name, cert_id, crl_lifetime, crl_number, crl_this_update, crl_next_update"
		    " FROM cas WHERE name = ?",
		    -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "read CA state");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		memset(s, 0, sizeof(*s));
		text(s->name, sizeof(s->name), st, 0);
		s->cert_id = sqlite3_column_int64(st, 1);
		s->crl_lifetime = sqlite3_column_int64(st, 2);
		text(s->crl_number, sizeof(s->crl_number), st, 3);
		s->crl_this_update = sqlite3_column_int64(st, 4);
		s->crl_next_update = sqlite3_column_int64(st, 5);
	} else if (step == SQLITE_DONE)
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "unknown CA '%s'", name);
	else
		rc = db_fail(db, err, "read CA state"); /* busy, I/O: not the user's input */
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_ca_each(struct pkl_db *db, pkl_db_name_fn fn, void *cls, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;
	int step;

	if (sqlite3_prepare_v2(db->h, "SELECT name FROM cas ORDER BY cert_id", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "cannot list CAs");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (!name) { /* a TEXT PRIMARY KEY may still be NULL in SQLite */
			rc = pkl_err_set(err, PKL_ERUNTIME, db->path, "a CA row without a name");
			goto out;
		}
		if (fn(name, cls))
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_fail(db, err, "cannot list CAs");
out:
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_crl_log_add(struct pkl_db *db, const struct pkl_db_crl_log *e, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	if (sqlite3_prepare_v2(db->h,
			       "INSERT INTO crl_log(ca, number, this_update, next_update, n_entries, "
			       "signed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, e->ca, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, e->number, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, e->this_update) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, e->next_update) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, e->n_entries) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, e->signed_at) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "cannot log the CRL");
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_crl_log_entries(struct pkl_db *db, const char *ca, const char *number, int64_t *out,
				   struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;
	int step = SQLITE_ERROR;

	*out = -1;
	if (sqlite3_prepare_v2(db->h,
			       "SELECT n_entries FROM crl_log WHERE ca = ?1 AND number = ?2 "
			       "ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, ca, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, number, -1, SQLITE_STATIC) == SQLITE_OK)
		step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (step != SQLITE_DONE)
		rc = db_fail(db, err, "cannot read the CRL log");
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_pending_add(struct pkl_db *db, const char *tmp, const char *final, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	st = cached(db, ST_PENDING_ADD, "INSERT OR REPLACE INTO pending(tmp, final) VALUES(?,?)");
	if (!st)
		return db_fail(db, err, "record pending file");
	sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, final, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "record pending file");
	done(st);
	return rc;
}

enum pkl_rc pkl_db_pending_each(struct pkl_db *db, pkl_db_pending_fn fn, void *cls, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db->h, "SELECT tmp, final FROM pending", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "read pending files");
	while (sqlite3_step(st) == SQLITE_ROW)
		if (fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		       cls))
			break;
	sqlite3_finalize(st);
	return PKL_OK;
}

enum pkl_rc pkl_db_pending_clear(struct pkl_db *db, struct pkl_err *err)
{
	return exec(db, "DELETE FROM pending;", err);
}

enum pkl_rc pkl_db_pending_remove(struct pkl_db *db, const char *tmp, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	st = cached(db, ST_PENDING_REMOVE, "DELETE FROM pending WHERE tmp = ?");
	if (!st)
		return db_fail(db, err, "clear pending file");
	sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "clear pending file");
	done(st);
	return rc;
}

enum pkl_rc pkl_db_meta_put(struct pkl_db *db, const char *key, const char *value, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;
	enum pkl_rc rc = PKL_OK;

	if (sqlite3_prepare_v2(db->h, "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(db, err, "store setting");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "store setting");
	sqlite3_finalize(st);
	return rc;
}

enum pkl_rc pkl_db_meta_get(struct pkl_db *db, const char *key, char *out, size_t outlen, struct pkl_err *err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "read setting");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	out[0] = '\0';
	if (sqlite3_step(st) == SQLITE_ROW)
		text(out, outlen, st, 0);
	sqlite3_finalize(st);
	return PKL_OK;
}
