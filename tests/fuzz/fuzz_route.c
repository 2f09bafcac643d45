/*
 * libFuzzer harness over the request router (cdp-server/routes.c): whatever
 * bytes arrive as a request path, a route with a name is returned only for
 * exactly "/crl/NAME.crl" or "/aia/NAME.crt" with a valid NAME, and the
 * helpers that read client headers (If-None-Match, If-Modified-Since) never
 * read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[CDP_NAME_MAX + 1], *s;
	enum cdp_route_id r = cdp_route_match((const char *)data, size, name);

	if (r == CDP_R_CRL || r == CDP_R_AIA) {
		size_t n = strlen(name);

		if (!cdp_name_valid(name, n) || size != n + 9 ||
		    memcmp(data + 5, name, n) != 0 || memchr(data, '%', size) || memchr(data, 0, size))
			abort();
		if (memcmp(data, r == CDP_R_CRL ? "/crl/" : "/aia/", 5) != 0)
			abort();
	} else if (r != CDP_R_NONE && name[0]) {
		abort();
	}
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)cdp_etag_match(s, "\"0123456789abcdef\"");
	{
		pkl_time t = cdp_http_date_parse(s);
		char back[32];

		if (t >= 0) {
			cdp_http_date(t, back);
			if (cdp_http_date_parse(back) != t)
				abort();
		}
	}
	free(s);
	return 0;
}
