/*
 * HTTP validators and dates: the IMF-fixdate both ways (RFC 9110 §5.6.7),
 * the ETag of a body (a SHA-256 of its bytes, so every mirror sends the
 * same one) and the weak comparison of If-None-Match (RFC 9110 §13.1.2).
 * libc and libcrypto only: the fuzz harness exercises the parsers.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cdpd.h"
#include "pkilab/buf.h"

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Written by hand rather than with strftime so the locale can never leak in. */
void cdp_http_date(pkl_time t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, 32, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"): the obsolete forms are
 * never sent by the clients that fetch CRLs, and a date we cannot read just
 * means a full 200 (RFC 9110 §13.1.3). */
pkl_time cdp_http_date_parse(const char *s)
{
	char wd[4], mon[4], gmt[4];
	int d, y, h, mi, se, m;
	struct tm tm;

	if (!s || strlen(s) != 29)
		return -1;
	if (sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d %3s", wd, &d, mon, &y, &h, &mi, &se, gmt) != 8)
		return -1;
	if (strcmp(gmt, "GMT") != 0)
		return -1;
	for (m = 0; m < 12; m++)
		if (strcmp(mon, months[m]) == 0)
			break;
	if (m == 12 || d < 1 || d > 31 || y < 1970 || h > 23 || mi > 59 || se > 60 || h < 0 || mi < 0 ||
	    se < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = d;
	tm.tm_mon = m;
	tm.tm_year = y - 1900;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (pkl_time)timegm(&tm);
}

int cdp_etag_match(const char *inm, const char *etag)
{
	size_t el = strlen(etag);
	const char *p = inm;

	if (!inm)
		return 0;
	while (*p) {
		const char *q;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2; /* weak comparison: the W/ prefix is ignored */
		if (*p != '"')
			return 0; /* malformed: no 304, the client gets the body */
		q = strchr(p + 1, '"');
		if (!q)
			return 0;
		if ((size_t)(q + 1 - p) == el && memcmp(p, etag, el) == 0)
			return 1;
		p = q + 1;
	}
	return 0;
}

void cdp_etag_sha256(const unsigned char *d, size_t n, char out[68])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t o;

	if (!EVP_Digest(d, n, md, &mdlen, EVP_sha256(), NULL))
		mdlen = 0;
	out[0] = '"';
	o = 1 + pkl_hex(md, mdlen, out + 1, 65);
	out[o] = '"';
	out[o + 1] = '\0';
}
