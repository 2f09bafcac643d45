/*
 * Unit tests for the parts of pkilab-cdpd's HTTP side that decide without a
 * socket: the per-address connection counts per_ip_limit is kept with
 * (cdp-server/iplimit.c), the sweeper's minimum-send-rate verdict
 * (cdp-server/sweeper.c) and the status slots /metrics counts by
 * (cdp-server/request.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server.h"

static void key_of(unsigned n, unsigned char key[16])
{
	memset(key, 0, 16);
	key[10] = 0xff;
	key[11] = 0xff;
	key[12] = (unsigned char)(n >> 24);
	key[13] = (unsigned char)(n >> 16);
	key[14] = (unsigned char)(n >> 8);
	key[15] = (unsigned char)n;
}

static void test_iplimit_limit(void **state)
{
	struct cdp_iplimit t;
	unsigned char a[16], b[16];

	(void)state;
	cdp_iplimit_init(&t);
	key_of(1, a);
	key_of(2, b);
	assert_int_equal(cdp_iplimit_count(&t, a), 0);
	assert_true(cdp_iplimit_take(&t, a, 2));
	assert_true(cdp_iplimit_take(&t, a, 2));
	assert_false(cdp_iplimit_take(&t, a, 2)); /* at the limit */
	assert_int_equal(cdp_iplimit_count(&t, a), 2);
	/* Another address has a count of its own. */
	assert_true(cdp_iplimit_take(&t, b, 2));
	assert_int_equal(cdp_iplimit_count(&t, b), 1);
	cdp_iplimit_release(&t, a);
	assert_int_equal(cdp_iplimit_count(&t, a), 1);
	assert_true(cdp_iplimit_take(&t, a, 2)); /* room again */
	assert_false(cdp_iplimit_take(&t, a, 2));
	cdp_iplimit_free(&t);
}

static void test_iplimit_release(void **state)
{
	struct cdp_iplimit t;
	unsigned char a[16], other[16];
	size_t i;

	(void)state;
	cdp_iplimit_init(&t);
	key_of(7, a);
	key_of(8, other);
	assert_true(cdp_iplimit_take(&t, a, 1));
	cdp_iplimit_release(&t, a);
	/* The last connection gone, the entry goes too. */
	assert_int_equal(cdp_iplimit_count(&t, a), 0);
	for (i = 0; i < CDP_IP_BUCKETS; i++)
		assert_null(t.b[i]);
	/* Releasing an address never counted changes nothing. */
	cdp_iplimit_release(&t, other);
	assert_int_equal(cdp_iplimit_count(&t, other), 0);
	/* A limit of 0 refuses and leaves no count behind. */
	assert_false(cdp_iplimit_take(&t, a, 0));
	assert_int_equal(cdp_iplimit_count(&t, a), 0);
	cdp_iplimit_free(&t);
}

/* More addresses than buckets: chains, each address counted apart. */
static void test_iplimit_many(void **state)
{
	struct cdp_iplimit t;
	unsigned char k[16];
	unsigned n = 3 * CDP_IP_BUCKETS, i;

	(void)state;
	cdp_iplimit_init(&t);
	for (i = 0; i < n; i++) {
		key_of(i, k);
		assert_true(cdp_iplimit_take(&t, k, 1));
	}
	for (i = 0; i < n; i++) {
		key_of(i, k);
		assert_int_equal(cdp_iplimit_count(&t, k), 1);
		assert_false(cdp_iplimit_take(&t, k, 1));
	}
	for (i = 0; i < n; i += 2) {
		key_of(i, k);
		cdp_iplimit_release(&t, k);
	}
	for (i = 0; i < n; i++) {
		key_of(i, k);
		assert_int_equal(cdp_iplimit_count(&t, k), i % 2);
	}
	cdp_iplimit_free(&t); /* frees what is left (ASan/valgrind see leaks) */
}

static void test_too_slow(void **state)
{
	(void)state;
	/* 1,024 bytes/s over 10 s: 10,240 bytes is enough, one fewer is not. */
	assert_false(cdp_too_slow(10240, 10000, 1024));
	assert_true(cdp_too_slow(10239, 10000, 1024));
	assert_false(cdp_too_slow(1u << 30, 10000, 1024));
	assert_true(cdp_too_slow(0, 1, 1));
	assert_false(cdp_too_slow(0, 0, 1024)); /* no time elapsed */
}

static void test_status_slot(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 7; i++)
		assert_int_equal(cdp_status_slot(cdp_status_codes[i]), i);
	assert_int_equal(cdp_status_slot(0), 7);
	assert_int_equal(cdp_status_slot(418), 7);
	assert_int_equal(cdp_status_slot(206), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iplimit_limit), cmocka_unit_test(test_iplimit_release),
		cmocka_unit_test(test_iplimit_many),  cmocka_unit_test(test_too_slow),
		cmocka_unit_test(test_status_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
