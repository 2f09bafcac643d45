/* Absolute and relative times in lab files (see pkilab/ptime.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>

#include "pkilab/ptime.h"

/* days since 1970-01-01 for a civil date (Howard Hinnant's algorithm), so
 * no timegm()/TZ dependence. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

static enum pkl_rc parse_absolute(const char *s, pkl_time *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	size_t len = strlen(s);

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return PKL_EINPUT;
	if ((size_t)n < len) {
		int n2 = 0;
		if ((s[n] != 'T' && s[n] != ' ') ||
		    sscanf(s + n + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n2) != 3 || n2 != 8)
			return PKL_EINPUT;
		n += 1 + n2;
		if (s[n] == 'Z')
			n++;
		if ((size_t)n != len)
			return PKL_EINPUT;
	}
	if (y < 1950 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0)
		return PKL_EINPUT;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 +
	       sec;
	return PKL_OK;
}

enum pkl_rc pkl_duration_parse(const char *s, int allow_negative, int64_t *out, struct pkl_err *err)
{
	const char *p = s;
	int neg = 0;
	int64_t total = 0;
	int any = 0;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	/* A sequence of <number><unit>: "1y30d", "12h", "90m". */
	while (*p) {
		char *end;
		long long v;
		int64_t unit;

		if (!isdigit((unsigned char)*p))
			goto bad;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || end == p || v > 1000000)
			goto bad;
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7L * 86400; break;
		case 'y': unit = 365L * 86400; break;
		default: goto bad;
		}
		total += v * unit;
		p = end + 1;
		any = 1;
	}
	if (!any)
		goto bad;
	if (neg && !allow_negative)
		return pkl_err_set(err, PKL_EINPUT, NULL, "duration '%s' must not be negative", s);
	*out = neg ? -total : total;
	return PKL_OK;
bad:
	return pkl_err_set(err, PKL_EINPUT, NULL,
			   "bad duration '%s' (expected e.g. \"397d\", \"12h\", \"30m\", \"10y\")", s);
}

enum pkl_rc pkl_time_parse(const char *s, pkl_time now, pkl_time *out, struct pkl_err *err)
{
	int64_t d = 0;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return PKL_OK;
	}
	if (parse_absolute(s, out) == PKL_OK)
		return PKL_OK;
	if (pkl_duration_parse(s, 1, &d, NULL) == PKL_OK) {
		*out = now + d;
		return PKL_OK;
	}
	return pkl_err_set(err, PKL_EINPUT, NULL,
			   "bad time '%s' (expected \"2026-01-01T00:00:00Z\", \"2026-01-01\", "
			   "\"now\" or a relative time like \"-30d\", \"+10m\")",
			   s);
}

const char *pkl_time_fmt(pkl_time t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(buf, len, "?");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

const char *pkl_duration_fmt(int64_t secs, char *buf, size_t len)
{
	const char *sign = secs < 0 ? "-" : "";
	int64_t a = secs < 0 ? -secs : secs;

	if (a >= 86400)
		snprintf(buf, len, "%s%lldd %lldh", sign, (long long)(a / 86400),
			 (long long)(a % 86400 / 3600));
	else if (a >= 3600)
		snprintf(buf, len, "%s%lldh %lldm", sign, (long long)(a / 3600), (long long)(a % 3600 / 60));
	else if (a >= 60)
		snprintf(buf, len, "%s%lldm %llds", sign, (long long)(a / 60), (long long)(a % 60));
	else
		snprintf(buf, len, "%s%llds", sign, (long long)a);
	return buf;
}

/* Set once at start (pkl_env_apply), before any thread reads it. */
static pkl_time fixed_now;
static int fixed_now_set;

void pkl_time_set_now(const pkl_time *fixed)
{
	fixed_now_set = fixed != NULL;
	fixed_now = fixed ? *fixed : 0;
}

enum pkl_rc pkl_time_parse_absolute(const char *s, pkl_time *out)
{
	return parse_absolute(s, out);
}

pkl_time pkl_time_now(void)
{
	if (fixed_now_set)
		return fixed_now;
	return (pkl_time)time(NULL);
}

enum pkl_rc pkl_time_from_asn1(const struct asn1_string_st *t, pkl_time *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return PKL_EINPUT;
	*out = days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) * 86400 +
	       (int64_t)tm.tm_hour * 3600 + (int64_t)tm.tm_min * 60 + tm.tm_sec;
	return PKL_OK;
}
