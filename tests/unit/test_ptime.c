/* Unit tests: lab-file times and durations (ca/lib/ptime.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>

#include "pkilab/ptime.h"

static void absolute_times(void **state)
{
	pkl_time t;

	(void)state;
	assert_int_equal(pkl_time_parse("1970-01-01T00:00:00Z", 0, &t, NULL), PKL_OK);
	assert_int_equal(t, 0);
	assert_int_equal(pkl_time_parse("2026-01-01T00:00:00Z", 0, &t, NULL), PKL_OK);
	assert_int_equal(t, 1767225600);
	assert_int_equal(pkl_time_parse("2026-01-01", 0, &t, NULL), PKL_OK);
	assert_int_equal(t, 1767225600);
	/* 2050: the UTCTime/GeneralizedTime boundary of RFC 5280 (4.1.2.5). */
	assert_int_equal(pkl_time_parse("2050-01-01T00:00:00Z", 0, &t, NULL), PKL_OK);
	assert_int_equal(t, 2524608000);
	assert_int_equal(pkl_time_parse("2024-02-29", 0, &t, NULL), PKL_OK);
}

static void bad_times(void **state)
{
	struct pkl_err err = { 0 };
	pkl_time t = 42;

	(void)state;
	assert_int_equal(pkl_time_parse("2025-02-29", 0, &t, &err), PKL_EINPUT);
	assert_int_equal(pkl_time_parse("2026-13-01", 0, &t, &err), PKL_EINPUT);
	assert_int_equal(pkl_time_parse("2026-01-01T25:00:00Z", 0, &t, &err), PKL_EINPUT);
	assert_int_equal(pkl_time_parse("2026-01-01T00:00:00+02", 0, &t, &err), PKL_EINPUT);
	assert_int_equal(pkl_time_parse("tomorrow", 0, &t, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "bad time 'tomorrow'"));
	assert_int_equal(t, 42); /* out-parameter untouched on failure */
}

static void relative_times(void **state)
{
	pkl_time t;
	const pkl_time now = 1800000000;

	(void)state;
	assert_int_equal(pkl_time_parse("now", now, &t, NULL), PKL_OK);
	assert_int_equal(t, now);
	assert_int_equal(pkl_time_parse("-30d", now, &t, NULL), PKL_OK);
	assert_int_equal(t, now - 30 * 86400);
	assert_int_equal(pkl_time_parse("+10m", now, &t, NULL), PKL_OK);
	assert_int_equal(t, now + 600);
	assert_int_equal(pkl_time_parse("2y", now, &t, NULL), PKL_OK);
	assert_int_equal(t, now + 2L * 365 * 86400);
	assert_int_equal(pkl_time_parse("1y30d", now, &t, NULL), PKL_OK);
	assert_int_equal(t, now + 395L * 86400);
}

static void durations(void **state)
{
	int64_t d;
	struct pkl_err err = { 0 };
	char buf[32];

	(void)state;
	assert_int_equal(pkl_duration_parse("397d", 0, &d, NULL), PKL_OK);
	assert_int_equal(d, 397 * 86400);
	assert_int_equal(pkl_duration_parse("1w", 0, &d, NULL), PKL_OK);
	assert_int_equal(d, 7 * 86400);
	assert_int_equal(pkl_duration_parse("-1d", 0, &d, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "must not be negative"));
	assert_int_equal(pkl_duration_parse("-1d", 1, &d, NULL), PKL_OK);
	assert_int_equal(d, -86400);
	assert_int_equal(pkl_duration_parse("12", 0, &d, NULL), PKL_EINPUT);
	assert_int_equal(pkl_duration_parse("5x", 0, &d, NULL), PKL_EINPUT);
	assert_int_equal(pkl_duration_parse("", 0, &d, NULL), PKL_EINPUT);
	assert_string_equal(pkl_duration_fmt(90061, buf, sizeof(buf)), "1d 1h");
	assert_string_equal(pkl_duration_fmt(-125, buf, sizeof(buf)), "-2m 5s");
}

static void formatting_and_asn1(void **state)
{
	char buf[32];
	pkl_time t;
	ASN1_TIME *a = ASN1_TIME_set(NULL, 2524608000);

	(void)state;
	assert_string_equal(pkl_time_fmt(1767225600, buf, sizeof(buf)), "2026-01-01T00:00:00Z");
	assert_non_null(a);
	assert_int_equal(pkl_time_from_asn1(a, &t), PKL_OK);
	assert_int_equal(t, 2524608000);
	ASN1_TIME_free(a);
	assert_int_equal(pkl_time_parse_absolute("2030-06-01T12:00:00Z", &t), PKL_OK);
	pkl_time_set_now(&t);
	assert_int_equal(pkl_time_now(), 1906545600); /* date -u -d 2030-06-01T12:00:00Z +%s */
	pkl_time_set_now(NULL);
	assert_int_not_equal(pkl_time_now(), 1906545600);
	assert_int_equal(pkl_time_parse_absolute("30d", &t), PKL_EINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(absolute_times),      cmocka_unit_test(bad_times),
		cmocka_unit_test(relative_times),      cmocka_unit_test(durations),
		cmocka_unit_test(formatting_and_asn1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
