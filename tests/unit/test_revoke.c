/* Unit tests: revocation records (ca/lib/revoke.c) — reasons by RFC 5280
 * name (§5.3.1) — and revoke + publish (ca/lib/crl_publish.c) on a real PKI
 * in a temporary directory (RFC 5280 §5.1.2.4-§5.2.3). Numbering and the DER
 * walker have their own programs: test_crl_publish, test_crl_read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "pkilab/crl_publish.h"
#include "pkilab/crl_read.h"
#include "pkilab/db.h"
#include "pkilab/file.h"
#include "pkilab/issue.h"
#include "pkilab/key.h"
#include "pkilab/revoke.h"
#include "fixture.h"

static char dir[] = "/tmp/pkl-test-revoke-XXXXXX";
static struct pkl_pki *pki;
static X509 *root_cert;
static EVP_PKEY *root_key;

static void entity(struct pkl_entity *e, const char *name, const char *issuer, int ca, pkl_time now)
{
	fx_entity(e, name, issuer, ca, now, "C=CH, O=pkilab unit, ");
}

static int setup(void **state)
{
	struct pkl_issue_ctx ctx;
	struct pkl_entity e;
	struct pkl_txn *txn;
	struct pkl_err err = { 0 };
	const char *leaves[] = { "l1", "l2", "l3", "l4" };

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	pki = pkl_pki_open(dir, 1, &err);
	if (!pki)
		return -1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.now = pkl_time_now();
	entity(&e, "root", "", 1, ctx.now);
	txn = pkl_txn_begin(pki, &err);
	if (!txn ||
	    pkl_issue_entity(txn, pki, &ctx, &e, NULL, NULL, NULL, 1, &root_cert, &root_key, &err) != PKL_OK)
		return fprintf(stderr, "root: %s\n", err.msg), -1;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		X509 *c = NULL;
		entity(&e, leaves[i], "root", 0, ctx.now);
		if (pkl_issue_entity(txn, pki, &ctx, &e, root_cert, root_key, NULL, 1, &c, NULL, &err) !=
		    PKL_OK)
			return fprintf(stderr, "%s: %s\n", leaves[i], err.msg), -1;
		X509_free(c);
	}
	return pkl_txn_commit(txn, &err) == PKL_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	pkl_pki_close(pki);
	X509_free(root_cert);
	EVP_PKEY_free(root_key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void reasons(void **state)
{
	static const struct {
		const char *name;
		int code;
	} ok[] = {
		{ "keyCompromise", 1 },      { "cACompromise", 2 },         { "affiliationChanged", 3 },
		{ "superseded", 4 },         { "cessationOfOperation", 5 }, { "certificateHold", 6 },
		{ "privilegeWithdrawn", 9 }, { "aACompromise", 10 },        { "KEYCOMPROMISE", 1 },
	};
	struct pkl_err err = { 0 };
	int code, warn;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(pkl_revoke_reason_parse(ok[i].name, &code, &warn, &err), PKL_OK);
		assert_int_equal(code, ok[i].code);
		assert_int_equal(warn, ok[i].code == 6); /* only certificateHold warns */
	}
	/* RFC 5280 §5.3.1: never unspecified (0), never 7, removeFromCRL only in delta CRLs. */
	const char *bad[] = { "unspecified", "0", "7", "removeFromCRL", "8", "", "keyCompromised", "1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pkl_revoke_reason_parse(bad[i], &code, &warn, &err), PKL_EINPUT);
	pkl_revoke_reason_parse("superseeded", &code, &warn, &err);
	assert_non_null(strstr(err.msg, "did you mean 'superseded'"));
	assert_non_null(pkl_reason_names());
	/* No close name: the whole list from crl.c's table, as it always read. */
	assert_int_equal(pkl_revoke_reason_parse("qqqqqqqqqqqqqqqq", &code, &warn, &err), PKL_EINPUT);
	assert_string_equal(err.msg, "unknown reason 'qqqqqqqqqqqqqqqq' (one of keyCompromise, "
				     "cACompromise, affiliationChanged, superseded, cessationOfOperation, "
				     "certificateHold, privilegeWithdrawn, aACompromise)");
}

static void refs(void **state)
{
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_revoke_check_ref("gw-1.example_x", &err), PKL_OK);
	assert_int_equal(pkl_revoke_check_ref("0x7f01", &err), PKL_OK);
	assert_int_equal(pkl_revoke_check_ref("7F:01:AB", &err), PKL_OK);
	assert_int_equal(pkl_revoke_check_ref("3a0b0c0d0e0f1011", &err), PKL_OK);
	assert_int_equal(pkl_revoke_check_ref("0xZZ", &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "malformed serial"));
	assert_int_equal(pkl_revoke_check_ref("0x", &err), PKL_EINPUT);
	assert_int_equal(pkl_revoke_check_ref("ab:zz", &err), PKL_EINPUT);
	assert_int_equal(pkl_revoke_check_ref("../etc/passwd", &err), PKL_EINPUT);
	assert_int_equal(pkl_revoke_check_ref("a b", &err), PKL_EINPUT);
	assert_int_equal(pkl_revoke_check_ref("", &err), PKL_EINPUT);
	/* 41 hex digits: longer than a 20-octet serial */
	assert_int_equal(pkl_revoke_check_ref("0x12345678901234567890123456789012345678901", &err),
			 PKL_EINPUT);
}

/* A connection of the test's own to the PKI's database: pkilab's is not
 * exposed (all its SQL is in db.c). Close with sqlite3_close. */
static sqlite3 *raw_db(void)
{
	char p[PATH_MAX];
	sqlite3 *h = NULL;

	snprintf(p, sizeof(p), "%s/pkilab.db", dir);
	assert_int_equal(sqlite3_open_v2(p, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 30000);
	return h;
}

static int64_t count(const char *sql)
{
	sqlite3 *h = raw_db();
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void revoke_and_publish(void **state)
{
	struct pkl_revoke_req req = { .reason = PKL_REASON_NONE };
	struct pkl_cert_row row;
	struct pkl_crl_info info, info2;
	struct pkl_err err = { 0 };
	struct pkl_buf der = PKL_BUF_INIT;
	char path[PATH_MAX];
	pkl_time now = pkl_time_now(), before_sign, after_sign;

	(void)state;
	req.ref = "l1";
	req.reason = PKL_REASON_KEY_COMPROMISE;
	req.invalidity = now - 86400;
	assert_int_equal(pkl_revoke_cert(pki, &req, &row, &err), PKL_OK);
	assert_int_equal(row.status, PKL_STATUS_REVOKED);
	/* Twice: refused, no second entry, reason unchanged. */
	req.reason = PKL_REASON_SUPERSEDED;
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "already revoked"));
	assert_int_equal(count("SELECT count(*) FROM certs WHERE name='l1' AND status=1 AND reason=1"), 1);
	/* The root, unknown names, invalidity after revocation: refused. */
	req.ref = "root";
	req.allow_ca = 1;
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "self-signed root"));
	req.ref = "nosuch";
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_EINPUT);
	req.ref = "l3";
	req.invalidity = now + 3600;
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_EINPUT);
	req.invalidity = 0;
	req.ref = "l2";
	req.reason = PKL_REASON_NONE;
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_OK);
	assert_int_equal(count("SELECT count(*) FROM events WHERE kind='revoke'"), 2);

	/* Bracket the call with the clock, so a slow machine cannot fail it. */
	before_sign = pkl_time_now();
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &info, &err), PKL_OK);
	after_sign = pkl_time_now();
	assert_true(info.signed_now);
	assert_int_equal(info.n_entries, 2);
	/* thisUpdate back-dated 5 minutes; nextUpdate = thisUpdate + lifetime or later (RFC 5280 §5.1.2.5). */
	assert_true(info.this_update >= before_sign - 300 && info.this_update <= after_sign - 300);
	assert_true(info.next_update >= info.this_update + 7 * 86400);
	snprintf(path, sizeof(path), "%s/publish/crl/root.crl", dir);
	assert_int_equal(pkl_file_read(path, 0, &der, &err), PKL_OK);
	{
		const unsigned char *p = der.data;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der.len);
		STACK_OF(X509_REVOKED) * rev;
		ASN1_ENUMERATED *rc;
		ASN1_INTEGER *num;
		char *dec;
		int found_reason = 0, no_reason = 0;
		assert_non_null(crl);
		assert_int_equal(X509_CRL_verify(crl, root_key), 1);
		/* Issuer byte-equal to the CA subject (RFC 5280 §5.1.2.3). */
		assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(root_cert)),
				 0);
		rev = X509_CRL_get_REVOKED(crl);
		assert_int_equal(sk_X509_REVOKED_num(rev), 2);
		for (int i = 0; i < 2; i++) {
			X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
			rc = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
			if (rc) {
				found_reason += ASN1_ENUMERATED_get(rc) == 1;
				ASN1_ENUMERATED_free(rc);
				/* revocationDate <= thisUpdate (RFC 5280 §5.1.2.6) */
				assert_true(ASN1_TIME_compare(X509_REVOKED_get0_revocationDate(r),
							      X509_CRL_get0_lastUpdate(crl)) <= 0);
				ASN1_GENERALIZEDTIME *inv =
					X509_REVOKED_get_ext_d2i(r, NID_invalidity_date, NULL, NULL);
				assert_non_null(inv);
				ASN1_GENERALIZEDTIME_free(inv);
			} else {
				no_reason++;
			}
		}
		assert_int_equal(found_reason, 1);
		assert_int_equal(no_reason, 1);
		num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
		assert_non_null(num);
		dec = i2s_ASN1_INTEGER(NULL, num);
		assert_string_equal(dec, info.number);
		OPENSSL_free(dec);
		ASN1_INTEGER_free(num);
		X509_CRL_free(crl);
	}
	pkl_buf_free(&der);

	/* --due right after: not due, same number. */
	assert_int_equal(pkl_crl_publish(pki, "root", 1, &info2, &err), PKL_OK);
	assert_false(info2.signed_now);
	assert_string_equal(info2.number, info.number);
	/* A new revocation makes it due. */
	req.ref = "l4";
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_OK);
	assert_int_equal(pkl_crl_publish(pki, "root", 1, &info2, &err), PKL_OK);
	assert_true(info2.signed_now);
	assert_int_equal(info2.n_entries, 3);
	assert_int_equal(pkl_crlcheck_number_cmp(info2.number, info.number) > 0, 1);

	/* A restored (older) counter: the published number still rules (RFC 5280 §5.2.3). */
	{
		sqlite3 *h = raw_db();
		assert_int_equal(sqlite3_exec(h, "UPDATE cas SET crl_number = '1'", NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(h);
	}
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &info, &err), PKL_OK);
	assert_true(pkl_crlcheck_number_cmp(info.number, info2.number) > 0);

	assert_int_equal(pkl_crl_publish(pki, "nosuch", 0, &info, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "unknown CA 'nosuch'"));
	assert_int_equal(count("SELECT count(*) FROM pending"), 0);
}

static int n_published;
static void on_publish(const struct pkl_crl_info *info, void *cls)
{
	(void)cls;
	assert_string_equal(info->ca, "root");
	n_published++;
}

static void publish_all(void **state)
{
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_crl_publish_all(pki, 0, on_publish, NULL, &err), PKL_OK);
	assert_int_equal(n_published, 1);
}

/* A clock behind the published CRL's thisUpdate: refused unless allowed. */
static void clock_behind_refused(void **state)
{
	struct pkl_err err = { 0 };
	struct pkl_crl_info info, again;
	char behind[32];
	pkl_time now;

	(void)state;
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &info, &err), PKL_OK);
	pkl_time_fmt(info.this_update + 300 - 86400, behind, sizeof(behind));
	assert_int_equal(pkl_time_parse_absolute(behind, &now), PKL_OK);
	pkl_time_set_now(&now);
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &again, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "clock behind"));
	assert_non_null(strstr(err.msg, "--allow-clock-behind"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(pkl_crl_publish(pki, "root", PKL_PUBLISH_ALLOW_CLOCK_BEHIND, &again, &err), PKL_OK);
	assert_true(again.this_update < info.this_update);
	pkl_time_set_now(NULL);
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &again, &err), PKL_OK);
}

/* Flips one byte of name's stored DER at off (negative: from the end). */
static void flip_der(const char *name, long off)
{
	sqlite3 *h = raw_db();
	sqlite3_stmt *st = NULL;
	unsigned char *d;
	int n;

	assert_int_equal(
		sqlite3_prepare_v2(h, "SELECT der FROM certs WHERE name = ?1 AND current = 1", -1, &st, NULL),
		SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_bytes(st, 0);
	d = malloc((size_t)n);
	assert_non_null(d);
	memcpy(d, sqlite3_column_blob(st, 0), (size_t)n);
	sqlite3_finalize(st);
	d[off < 0 ? n + off : off] ^= 0x01;
	assert_int_equal(sqlite3_prepare_v2(h, "UPDATE certs SET der = ?1 WHERE name = ?2 AND current = 1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, d, n, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(h);
	free(d);
}

/* The stored CA certificate is checked before it signs: its signature, its
 * published copy. A damaged one is refused and nothing is published. */
static void ca_cert_checked_before_signing(void **state)
{
	struct pkl_err err = { 0 };
	struct pkl_crl_info info;
	X509 *x;

	(void)state;
	x = pkl_pki_load_ca_cert(pki, "root", &err);
	assert_non_null(x);
	X509_free(x);
	assert_null(pkl_pki_load_ca_cert(pki, "l1", &err)); /* not a CA */
	flip_der("root", -1);
	assert_null(pkl_pki_load_ca_cert(pki, "root", &err));
	assert_int_equal(err.rc, PKL_ERUNTIME);
	assert_non_null(strstr(err.msg, "does not verify with its own key"));
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &info, &err), PKL_ERUNTIME);
	flip_der("root", -1);
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &info, &err), PKL_OK);
}

/* The key policy for external keys, and never a CA's own key. */
static void external_key_policy(void **state)
{
	struct pkl_err err = { 0 };
	struct pkl_key_spec spec;
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *ok = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	(void)state;
	assert_non_null(small);
	assert_non_null(ok);
	assert_int_equal(pkl_key_policy_check(small, &spec, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "RSA key of 1024 bits"));
	assert_int_equal(pkl_key_policy_check(ok, &spec, &err), PKL_OK);
	assert_int_equal(spec.type, PKL_KEY_EC);
	assert_int_equal(pkl_pki_check_not_ca_key(pki, ok, &err), PKL_OK);
	assert_int_equal(pkl_pki_check_not_ca_key(pki, root_key, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "CA 'root''s own key"));
	EVP_PKEY_free(small);
	EVP_PKEY_free(ok);
}

/* The check cdpd applies, run on every CRL before commit: a CRL checked
 * against a certificate other than its issuer's fails it. */
static void crl_selfcheck(void **state)
{
	struct pkl_err err = { 0 };
	struct pkl_crl_info info;
	struct pkl_buf der = PKL_BUF_INIT;
	X509 *leaf;

	(void)state;
	assert_int_equal(pkl_crl_publish(pki, "root", 0, &info, &err), PKL_OK);
	assert_int_equal(pkl_file_read(info.path, 0, &der, &err), PKL_OK);
	assert_int_equal(pkl_crl_selfcheck(&der, root_cert, "root.crl", pkl_time_now(), &err), PKL_OK);
	leaf = pkl_pki_load_cert(pki, "l2", &err);
	assert_non_null(leaf);
	assert_int_equal(pkl_crl_selfcheck(&der, leaf, "root.crl", pkl_time_now(), &err), PKL_ERUNTIME);
	assert_non_null(strstr(err.msg, "fails the check relying parties apply"));
	/* Expired at a later clock: cdpd would not serve it either. */
	assert_int_equal(pkl_crl_selfcheck(&der, root_cert, "root.crl", info.next_update + 1, &err),
			 PKL_ERUNTIME);
	assert_non_null(strstr(err.msg, "expired"));
	X509_free(leaf);
	pkl_buf_free(&der);
}

/* A 0-byte pkilab.db is not a PKI (SQLite would open it as an empty one). */
static void empty_db_refused(void **state)
{
	char p[PATH_MAX];
	struct pkl_err err = { 0 };
	struct pkl_db *db;
	FILE *f;
	struct stat st;

	(void)state;
	snprintf(p, sizeof(p), "%s/empty.db", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	assert_null(pkl_db_open(p, 0, &err));
	assert_int_equal(err.rc, PKL_ERUNTIME);
	assert_non_null(strstr(err.msg, "not a pkilab database"));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	db = pkl_db_open(p, 1, &err); /* being created: the schema is written */
	assert_non_null(db);
	pkl_db_close(db);
	db = pkl_db_open(p, 0, &err);
	assert_non_null(db);
	pkl_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reasons),
		cmocka_unit_test(refs),
		cmocka_unit_test(revoke_and_publish),
		cmocka_unit_test(publish_all),
		cmocka_unit_test(clock_behind_refused),
		cmocka_unit_test(ca_cert_checked_before_signing),
		cmocka_unit_test(external_key_policy),
		cmocka_unit_test(empty_db_refused),
		cmocka_unit_test(crl_selfcheck),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
