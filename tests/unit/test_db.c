/* Unit tests: the CA database (ca/lib/db.c) — RFC 5280 4.1.2.2: (issuer, serial)
 * unique per CA; one current certificate per name; lookups by name/serial;
 * the schema version: an older pkilab.db is upgraded in one transaction, a
 * newer one is refused before anything is written. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pkilab/db.h"
#include "fixture.h"

static char dir[] = "/tmp/pkl-test-db-XXXXXX";
static struct pkl_db *db;

static int setup(void **state)
{
	char p[PATH_MAX];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(p, sizeof(p), "%s/pkilab.db", dir);
	db = pkl_db_open(p, 1, NULL);
	return db ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	pkl_db_close(db);
	return fx_rmtree(dir);
}

static void row_init(struct pkl_cert_row *r, const char *name, int64_t issuer, const char *serial, int ca)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	snprintf(r->subject, sizeof(r->subject), "CN=%s", name);
	r->issuer_id = issuer;
	r->is_ca = ca;
	r->not_before = 1;
	r->not_after = 2;
}

static void inventory(void **state)
{
	struct pkl_cert_row root, leaf, dup, found;
	struct pkl_err err = { 0 };
	const unsigned char der[] = { 0x30, 0x00 };

	(void)state;
	row_init(&root, "root", 0, "7f01", 1);
	assert_int_equal(pkl_db_cert_insert(db, &root, der, sizeof(der), &err), PKL_OK);
	assert_int_equal(root.issuer_id, root.id); /* a root is its own issuer */

	row_init(&leaf, "gw", root.id, "3a0b0c0d0e0f10111213141516171819", 0);
	assert_int_equal(pkl_db_cert_insert(db, &leaf, der, sizeof(der), &err), PKL_OK);

	/* Same serial under the same CA: refused by the database itself (#3). */
	row_init(&dup, "other", root.id, "3a0b0c0d0e0f10111213141516171819", 0);
	assert_int_equal(pkl_db_cert_insert(db, &dup, der, sizeof(der), &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "conflicts"));
	/* A second current certificate with the same name: refused. */
	row_init(&dup, "gw", root.id, "0102", 0);
	assert_int_equal(pkl_db_cert_insert(db, &dup, der, sizeof(der), &err), PKL_EINPUT);
	/* ... but allowed once the first is retired (renew keeps history). */
	assert_int_equal(pkl_db_cert_retire(db, leaf.id, &err), PKL_OK);
	assert_int_equal(pkl_db_cert_insert(db, &dup, der, sizeof(der), &err), PKL_OK);

	assert_int_equal(pkl_db_cert_find(db, "gw", &found, &err), PKL_OK);
	assert_int_equal(found.id, dup.id);
	assert_string_equal(found.issuer_name, "root");
	/* The retired one is still found by its serial, typed as people do. */
	assert_int_equal(
		pkl_db_cert_find(db, "3A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19", &found, &err),
		PKL_OK);
	assert_int_equal(found.id, leaf.id);
	assert_int_equal(found.current, 0);
	assert_int_equal(pkl_db_cert_find(db, "0x7f01", &found, &err), PKL_OK);
	assert_string_equal(found.name, "root");
	assert_int_equal(pkl_db_cert_find(db, "nobody", &found, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "unknown certificate 'nobody'"));
}

static void ca_state_and_meta(void **state)
{
	struct pkl_ca_state st = { .name = "root",
				   .cert_id = 1,
				   .crl_lifetime = 600,
				   .crl_number = "1795799529163",
				   .crl_this_update = 5,
				   .crl_next_update = 605 };
	struct pkl_ca_state got;
	char v[64];

	(void)state;
	assert_int_equal(pkl_db_ca_put(db, &st, NULL), PKL_OK);
	snprintf(st.crl_number, sizeof(st.crl_number), "1795799529164");
	assert_int_equal(pkl_db_ca_put(db, &st, NULL), PKL_OK); /* upsert */
	assert_int_equal(pkl_db_ca_get(db, "root", &got, NULL), PKL_OK);
	assert_string_equal(got.crl_number, "1795799529164");
	assert_int_equal(got.crl_next_update, 605);
	assert_int_equal(pkl_db_ca_get(db, "nope", &got, NULL), PKL_EINPUT);
	assert_int_equal(pkl_db_meta_put(db, "cdp", "http://a http://b", NULL), PKL_OK);
	assert_int_equal(pkl_db_meta_get(db, "cdp", v, sizeof(v), NULL), PKL_OK);
	assert_string_equal(v, "http://a http://b");
	assert_int_equal(pkl_db_meta_get(db, "unset", v, sizeof(v), NULL), PKL_OK);
	assert_string_equal(v, "");
}

static void rollback_discards(void **state)
{
	struct pkl_cert_row r, found;
	const unsigned char der[] = { 0x30, 0x00 };

	(void)state;
	assert_int_equal(pkl_db_begin(db, NULL), PKL_OK);
	row_init(&r, "temp", 1, "0bad", 0);
	assert_int_equal(pkl_db_cert_insert(db, &r, der, sizeof(der), NULL), PKL_OK);
	pkl_db_rollback(db);
	assert_int_equal(pkl_db_cert_find(db, "temp", &found, NULL), PKL_EINPUT);
}

/* ---- schema versions ---- */

/* The layout written by pkilab before schema version 2 (meta.schema '1'),
 * verbatim; crl_log was created by the first `pkilab crl`, with V1_CRL_LOG. */
static const char V1_DDL[] =
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
	"CREATE TABLE IF NOT EXISTS pending(tmp TEXT PRIMARY KEY, final TEXT NOT NULL);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '1');";
static const char V1_CRL_LOG[] =
	"CREATE TABLE IF NOT EXISTS crl_log(id INTEGER PRIMARY KEY, ca TEXT NOT NULL, "
	"number TEXT NOT NULL, this_update INTEGER, next_update INTEGER, "
	"n_entries INTEGER, signed_at INTEGER)";
/* Rows as an old pkilab left them: a root, a revoked leaf, the root's CA state. */
static const char V1_ROWS[] =
	"INSERT INTO certs(id, name, issuer_id, serial, is_ca, subject, not_before, not_after,"
	" issued_at, der) VALUES(1, 'root', 1, '7f01', 1, 'CN=root', 1, 2, 1, x'3000');"
	"INSERT INTO certs(id, name, issuer_id, serial, is_ca, subject, not_before, not_after,"
	" issued_at, status, revoked_at, reason, der) VALUES(2, 'gw', 1, '0a0b', 0, 'CN=gw', 1, 2, 1,"
	" 1, 5, 1, x'3000');"
	"INSERT INTO cas VALUES('root', 1, 600, '1795799529163', 5, 605);"
	"INSERT INTO events(at, kind, subject, detail) VALUES(1, 'build', 'root', 'old');";

static void db_path(char *p, size_t len, const char *name)
{
	snprintf(p, len, "%s/%s", dir, name);
	unlink(p);
}

/* Runs sql on path through a connection of its own (not pkilab's). */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(h);
}

/* The first column of the first row of sql as text ("" when no row). */
static void raw_query(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* Every table and index with its columns, types, constraints and keys. */
static void layout(const char *path, char *out, size_t len)
{
	raw_query(
		path,
		"SELECT group_concat(d, ';') FROM (SELECT m.type || ' ' || m.name || '(' ||"
		" (SELECT group_concat(p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' ||"
		"  ifnull(p.dflt_value, '-') || ' ' || p.pk, ',') FROM pragma_table_info(m.name) p) ||"
		" ')' || ifnull((SELECT group_concat(i.name, ',') FROM pragma_index_info(m.name) i), '') AS d"
		" FROM sqlite_master m WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.name)",
		out, len);
}

static char *file_bytes(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long l;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	l = ftell(f);
	assert_true(l >= 0);
	rewind(f);
	b = malloc((size_t)l + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)l, f), (size_t)l);
	fclose(f);
	*n = (size_t)l;
	return b;
}

/* An old database, with or without the lazily created crl_log, opens as the
 * current version with everything in it kept, and the same layout as a new one. */
static void upgrade_from(int with_crl_log)
{
	char p[PATH_MAX], fresh[PATH_MAX], v[64], want[8192], got[8192];
	struct pkl_err err = { 0 };
	struct pkl_cert_row row;
	struct pkl_ca_state cs;
	struct pkl_db *d;

	db_path(fresh, sizeof(fresh), "fresh.db");
	d = pkl_db_open(fresh, 1, &err);
	assert_non_null(d);
	pkl_db_close(d);
	layout(fresh, want, sizeof(want));
	assert_non_null(strstr(want, "table crl_log("));

	db_path(p, sizeof(p), "v1.db");
	raw_exec(p, V1_DDL);
	raw_exec(p, V1_ROWS);
	if (with_crl_log) {
		raw_exec(p, V1_CRL_LOG);
		raw_exec(p, "INSERT INTO crl_log(ca, number, this_update, next_update, n_entries, signed_at)"
			    " VALUES('root', '1795799529163', 5, 605, 1, 300)");
	}
	d = pkl_db_open(p, 0, &err);
	if (!d)
		fail_msg("open: %s", err.msg);
	assert_int_equal(pkl_db_meta_get(d, "schema", v, sizeof(v), &err), PKL_OK);
	{
		char expect[8];
		snprintf(expect, sizeof(expect), "%d", PKL_DB_SCHEMA);
		assert_string_equal(v, expect);
	}
	assert_int_equal(pkl_db_cert_find(d, "gw", &row, &err), PKL_OK);
	assert_int_equal(row.status, PKL_STATUS_REVOKED);
	assert_int_equal(row.reason, 1);
	assert_string_equal(row.issuer_name, "root");
	assert_int_equal(pkl_db_ca_get(d, "root", &cs, &err), PKL_OK);
	assert_string_equal(cs.crl_number, "1795799529163");
	pkl_db_close(d);
	layout(p, got, sizeof(got));
	assert_string_equal(got, want);
	raw_query(p, "SELECT count(*) FROM crl_log", v, sizeof(v));
	assert_string_equal(v, with_crl_log ? "1" : "0");
	raw_query(p, "SELECT count(*) || ' ' || max(detail) FROM events", v, sizeof(v));
	assert_string_equal(v, "1 old");
	/* Opened again: nothing left to do, nothing changes. */
	d = pkl_db_open(p, 0, &err);
	assert_non_null(d);
	pkl_db_close(d);
	layout(p, got, sizeof(got));
	assert_string_equal(got, want);
}

static void upgrade_v1_without_crl_log(void **state)
{
	(void)state;
	upgrade_from(0);
}

static void upgrade_v1_with_crl_log(void **state)
{
	(void)state;
	upgrade_from(1);
}

/* The steps and the version move together: when the version update fails,
 * the table the step created is rolled back with it. */
static void upgrade_is_one_transaction(void **state)
{
	char p[PATH_MAX], v[64];
	struct pkl_err err = { 0 };

	(void)state;
	db_path(p, sizeof(p), "v1-stuck.db");
	raw_exec(p, V1_DDL);
	raw_exec(p, V1_ROWS);
	raw_exec(p, "CREATE TRIGGER no_update BEFORE UPDATE ON meta BEGIN SELECT RAISE(ABORT, 'meta is "
		    "read-only'); END;");
	assert_null(pkl_db_open(p, 0, &err));
	assert_int_equal(err.rc, PKL_ERUNTIME);
	assert_non_null(strstr(err.msg, "meta is read-only"));
	raw_query(p, "SELECT count(*) FROM sqlite_master WHERE name = 'crl_log'", v, sizeof(v));
	assert_string_equal(v, "0");
	raw_query(p, "SELECT value FROM meta WHERE key = 'schema'", v, sizeof(v));
	assert_string_equal(v, "1");
}

/* A database from a newer pkilab: refused in one line, exit 3, and the file
 * is left byte for byte as it was (not even switched to WAL). */
static void newer_version_refused(void **state)
{
	char p[PATH_MAX], sql[128], v[64];
	struct pkl_err err = { 0 };
	char *before, *after;
	size_t nb, na;

	(void)state;
	db_path(p, sizeof(p), "v-next.db");
	raw_exec(p, V1_DDL);
	raw_exec(p, V1_ROWS);
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = '%d' WHERE key = 'schema'", PKL_DB_SCHEMA + 1);
	raw_exec(p, sql);
	before = file_bytes(p, &nb);
	for (int create = 0; create <= 1; create++) {
		memset(&err, 0, sizeof(err));
		assert_null(pkl_db_open(p, create, &err));
		assert_int_equal(err.rc, PKL_ERUNTIME);
		snprintf(sql, sizeof(sql), "schema version %d is newer than this pkilab's (%d)",
			 PKL_DB_SCHEMA + 1, PKL_DB_SCHEMA);
		assert_non_null(strstr(err.msg, sql));
		assert_null(strchr(err.msg, '\n'));
	}
	after = file_bytes(p, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	raw_query(p, "PRAGMA journal_mode", v, sizeof(v));
	assert_string_equal(v, "delete");
	free(before);
	free(after);
	/* A version that is not a number: refused too, not taken for 0 or 1. */
	raw_exec(p, "UPDATE meta SET value = 'two' WHERE key = 'schema'");
	assert_null(pkl_db_open(p, 0, &err));
	assert_non_null(strstr(err.msg, "unreadable schema version"));
}

/* ---- the verbs that replaced SQL in revoke.c, export.c and renew.c ---- */

struct seen {
	char serials[8][48];
	int reasons[8];
	size_t der_len[8];
	int n, stop_after;
};

static int seen_one(const struct pkl_db_issued *c, void *cls)
{
	struct seen *s = cls;

	snprintf(s->serials[s->n], sizeof(s->serials[0]), "%s%s", c->serial,
		 c->status == PKL_STATUS_REVOKED ? "R" : "");
	s->reasons[s->n] = c->reason;
	s->der_len[s->n] = c->der_len;
	s->n++;
	return s->stop_after && s->n == s->stop_after;
}

static int seen_name(const char *name, void *cls)
{
	struct seen *s = cls;

	snprintf(s->serials[s->n++], sizeof(s->serials[0]), "%s", name);
	return 0;
}

static void revocations_and_crl_log(void **state)
{
	char p[PATH_MAX];
	struct pkl_err err = { 0 };
	struct pkl_cert_row root, a, b, c, got;
	struct pkl_ca_state cs = { .name = "root2", .crl_lifetime = 600 };
	struct seen s;
	struct pkl_db *d;
	const unsigned char der[] = { 0x30, 0x00 };
	int64_t n;
	int revoked = -1;

	(void)state;
	db_path(p, sizeof(p), "verbs.db");
	d = pkl_db_open(p, 1, &err);
	assert_non_null(d);
	row_init(&root, "root2", 0, "01", 1);
	assert_int_equal(pkl_db_cert_insert(d, &root, der, sizeof(der), &err), PKL_OK);
	row_init(&a, "a", root.id, "0a", 0);
	row_init(&b, "b", root.id, "0b", 0);
	row_init(&c, "c", root.id, "0c", 0);
	assert_int_equal(pkl_db_cert_insert(d, &a, der, sizeof(der), &err), PKL_OK);
	assert_int_equal(pkl_db_cert_insert(d, &b, der, sizeof(der), &err), PKL_OK);
	assert_int_equal(pkl_db_cert_insert(d, &c, der, sizeof(der), &err), PKL_OK);

	assert_int_equal(pkl_db_cert_revoke(d, b.id, 50, 1, 40, &revoked, &err), PKL_OK);
	assert_int_equal(revoked, 1);
	assert_int_equal(pkl_db_cert_get(d, b.id, &got, &err), PKL_OK);
	assert_int_equal(got.status, PKL_STATUS_REVOKED);
	assert_int_equal(got.revoked_at, 50);
	assert_int_equal(got.reason, 1);
	assert_int_equal(got.invalidity, 40);
	/* Already revoked: reported, and the first record is kept. */
	assert_int_equal(pkl_db_cert_revoke(d, b.id, 60, 4, 0, &revoked, &err), PKL_OK);
	assert_int_equal(revoked, 0);
	assert_int_equal(pkl_db_cert_get(d, b.id, &got, &err), PKL_OK);
	assert_int_equal(got.reason, 1);
	assert_int_equal(pkl_db_cert_revoke(d, c.id, 70, -1, 0, NULL, &err), PKL_OK);

	assert_int_equal(pkl_db_revoked_count(d, root.id, &n, &err), PKL_OK);
	assert_int_equal(n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(pkl_db_revoked_each(d, root.id, seen_one, &s, &err), PKL_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.serials[0], "0bR");
	assert_int_equal(s.reasons[0], 1);
	assert_string_equal(s.serials[1], "0cR");
	assert_int_equal(s.der_len[1], 0); /* no DER for a CRL */
	/* index.txt: everything the CA signed, itself excluded, in issue order, with DER. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(pkl_db_issued_each(d, root.id, seen_one, &s, &err), PKL_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.serials[0], "0a");
	assert_int_equal(s.reasons[0], -1);
	assert_int_equal(s.der_len[0], sizeof(der));
	assert_string_equal(s.serials[2], "0cR");
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(pkl_db_issued_each(d, root.id, seen_one, &s, &err), PKL_OK);
	assert_int_equal(s.n, 1);

	cs.cert_id = root.id;
	assert_int_equal(pkl_db_ca_put(d, &cs, &err), PKL_OK);
	snprintf(cs.name, sizeof(cs.name), "sub");
	cs.cert_id = a.id;
	assert_int_equal(pkl_db_ca_put(d, &cs, &err), PKL_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(pkl_db_ca_each(d, seen_name, &s, &err), PKL_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.serials[0], "root2");
	assert_string_equal(s.serials[1], "sub");

	assert_int_equal(pkl_db_crl_log_entries(d, "root2", "7", &n, &err), PKL_OK);
	assert_int_equal(n, -1); /* never logged */
	{
		struct pkl_db_crl_log l1 = { "root2", "7", 10, 20, 1, 11 },
				      l2 = { "root2", "7", 10, 20, 2, 12 };
		assert_int_equal(pkl_db_crl_log_add(d, &l1, &err), PKL_OK);
		assert_int_equal(pkl_db_crl_log_add(d, &l2, &err), PKL_OK);
	}
	assert_int_equal(pkl_db_crl_log_entries(d, "root2", "7", &n, &err), PKL_OK);
	assert_int_equal(n, 2); /* the latest row */
	assert_int_equal(pkl_db_crl_log_entries(d, "sub", "7", &n, &err), PKL_OK);
	assert_int_equal(n, -1);
	pkl_db_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inventory),
		cmocka_unit_test(ca_state_and_meta),
		cmocka_unit_test(rollback_discards),
		cmocka_unit_test(upgrade_v1_without_crl_log),
		cmocka_unit_test(upgrade_v1_with_crl_log),
		cmocka_unit_test(upgrade_is_one_transaction),
		cmocka_unit_test(newer_version_refused),
		cmocka_unit_test(revocations_and_crl_log),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
