/*
 * libFuzzer harness over the request router (cdp-server/routes.c): whatever
 * bytes arrive as a request path, a route with a name is returned only for
 * exactly "/crl/NAME.crl" or "/aia/NAME.crt" with a valid NAME, and the
 * helpers that read client headers (If-None-Match, If-Modified-Since) never
 * read out of bounds. The same bytes, taken as a request head and parsed in
 * place the way libmicrohttpd 0.9.75 does (separators become NUL), go
 * through the server's head checks: they never read outside the head, and a
 * head they accept has a token method, at most one Host, not both
 * Content-Length and Transfer-Encoding, and nothing hidden behind a raw NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The head walk over data as a request head; returns 0 when data is not
 * one MHD would hand to the access handler. */
static void fuzz_head(const uint8_t *data, size_t size)
{
	char *buf, *eol, *sp1 = NULL, *sp2 = NULL, *line, *end, *p;
	const char *why;
	struct cdp_head h;
	size_t head_size, i;

	buf = malloc(size + 1);
	if (!buf)
		return;
	memcpy(buf, data, size);
	buf[size] = '\0';
	end = buf + size;
	eol = memchr(buf, '\n', size);
	if (!eol)
		goto out;
	for (p = buf; p < eol; p++)
		if (*p == ' ') {
			if (!sp1)
				sp1 = p;
			else
				sp2 = p;
		}
	if (!sp1 || !sp2)
		goto out;
	/* The head ends at the first empty line. */
	for (line = eol + 1; line < end; line = eol + 1) {
		if (*line == '\n' || (*line == '\r' && line + 1 < end && line[1] == '\n'))
			break;
		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol || !memchr(line, ':', (size_t)(eol - line)))
			goto out;
	}
	if (line >= end)
		goto out;
	head_size = (size_t)(line - buf) + (*line == '\r' ? 2 : 1);
	/* Parse in place. */
	eol = memchr(buf, '\n', size);
	*eol = '\0';
	if (eol[-1] == '\r')
		eol[-1] = '\0';
	*sp1 = *sp2 = '\0';
	cdp_head_begin(&h, buf, sp1 + 1, (long)strlen(sp1 + 1), sp2 + 1, head_size);
	for (line = eol + 1; line < buf + head_size && *line != '\r' && *line != '\n'; line = eol + 1) {
		char *colon, *value;

		eol = memchr(line, '\n', (size_t)(end - line));
		*eol = '\0';
		if (eol > line && eol[-1] == '\r')
			eol[-1] = '\0';
		colon = memchr(line, ':', (size_t)(eol - line));
		*colon = '\0';
		for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
			;
		cdp_head_field(&h, line, value);
	}
	why = cdp_head_end(&h, 1);
	if (why)
		goto out;
	if (!cdp_is_token(buf, strlen(buf)) || h.hosts != 1 || (h.content_lengths && h.transfer_encodings))
		abort();
	/* Accepted: every raw NUL in the head ends its line: only more NULs come
	 * before the CR or LF (it hides nothing). */
	for (i = 0; i < head_size; i++) {
		size_t j = i;

		if (data[i] != 0)
			continue;
		while (j < head_size && data[j] == 0)
			j++;
		if (j == head_size || (data[j] != '\r' && data[j] != '\n'))
			abort();
		i = j;
	}
out:
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[CDP_NAME_MAX + 1], *s;
	enum cdp_route_id r = cdp_route_match((const char *)data, size, name);

	if (r == CDP_R_CRL || r == CDP_R_AIA) {
		size_t n = strlen(name);

		if (!cdp_name_valid(name, n) || size != n + 9 || memcmp(data + 5, name, n) != 0 ||
		    memchr(data, '%', size) || memchr(data, 0, size))
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
	(void)cdp_is_token((const char *)data, size);
	(void)cdp_target_valid((const char *)data, size);
	fuzz_head(data, size);
	return 0;
}
