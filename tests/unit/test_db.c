/* Unit tests: the CA database (ca/lib/db.c) — standards #3: (issuer, serial)
 * unique per CA; one current certificate per name; lookups by name/serial. */
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

#include "pkilab/db.h"

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
	char cmd[PATH_MAX + 16];

	(void)state;
	pkl_db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
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
	assert_int_equal(pkl_db_cert_find(db, "3A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19", &found, &err), PKL_OK);
	assert_int_equal(found.id, leaf.id);
	assert_int_equal(found.current, 0);
	assert_int_equal(pkl_db_cert_find(db, "0x7f01", &found, &err), PKL_OK);
	assert_string_equal(found.name, "root");
	assert_int_equal(pkl_db_cert_find(db, "nobody", &found, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "unknown certificate 'nobody'"));
}

static void ca_state_and_meta(void **state)
{
	struct pkl_ca_state st = { .name = "root", .cert_id = 1, .crl_lifetime = 600,
				   .crl_number = "1795799529163", .crl_this_update = 5, .crl_next_update = 605 };
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inventory),
		cmocka_unit_test(ca_state_and_meta),
		cmocka_unit_test(rollback_discards),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
