/*
 * The route table and strict request-path matching.
 *
 * Paths are matched raw: the server installs an unescape callback that does
 * nothing, so "%2e%2e", "%2f" or "%00" arrive here as '%' characters, which no
 * name may contain. A name is looked up in the in-memory catalog, never
 * joined onto a filesystem path. This file has no dependencies beyond libc so
 * the fuzz harness can compile it alone.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cdpd.h"

/* The whole public surface of the server (DESIGN.md, pkilab-cdpd). */
const struct cdp_route cdp_routes[] = {
	{ CDP_R_CRL, "/crl/", ".crl", "crl" },
	{ CDP_R_AIA, "/aia/", ".crt", "aia" },
	{ CDP_R_HEALTH, "/healthz", NULL, "healthz" },
	{ CDP_R_METRICS, "/metrics", NULL, "metrics" },
	{ CDP_R_STATUS, "/", NULL, "status" },
};
const size_t cdp_n_routes = sizeof(cdp_routes) / sizeof(cdp_routes[0]);

int cdp_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CDP_NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

enum cdp_route_id cdp_route_match(const char *url, size_t len, char name[CDP_NAME_MAX + 1])
{
	size_t i;

	name[0] = '\0';
	if (!url || len == 0 || url[0] != '/')
		return CDP_R_NONE;
	for (i = 0; i < cdp_n_routes; i++) {
		const struct cdp_route *r = &cdp_routes[i];
		size_t pl = strlen(r->path), sl, nl;

		if (!r->suffix) {
			if (len == pl && memcmp(url, r->path, pl) == 0)
				return r->id;
			continue;
		}
		sl = strlen(r->suffix);
		if (len <= pl + sl || memcmp(url, r->path, pl) != 0 ||
		    memcmp(url + len - sl, r->suffix, sl) != 0)
			continue;
		nl = len - pl - sl;
		if (!cdp_name_valid(url + pl, nl))
			return CDP_R_NONE;
		memcpy(name, url + pl, nl);
		name[nl] = '\0';
		return r->id;
	}
	return CDP_R_NONE;
}

const char *cdp_route_label(enum cdp_route_id id)
{
	size_t i;

	for (i = 0; i < cdp_n_routes; i++)
		if (cdp_routes[i].id == id)
			return cdp_routes[i].label;
	return "other";
}

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
	snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
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
	if (m == 12 || d < 1 || d > 31 || y < 1970 || h > 23 || mi > 59 || se > 60 || h < 0 ||
	    mi < 0 || se < 0)
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
