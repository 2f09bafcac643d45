/*
 * The route table and strict request-path matching, and the request syntax
 * the server checks before routing (RFC 9110, RFC 9112).
 *
 * Paths are matched raw: the server installs an unescape callback that does
 * nothing, so "%2e%2e", "%2f" or "%00" arrive here as '%' characters, which no
 * name may contain. A name is looked up in the in-memory catalog, never
 * joined onto a filesystem path.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cdpd.h"

/* The rows of CDP_ROUTES (cdpd.h), in its order: cdp_routes[id] is route id's. */
#define CDP_ROUTE_ROW(id, methods, path, suffix, label, handler) \
	{ id, methods, path, suffix, label, handler },
const struct cdp_route cdp_routes[] = { CDP_ROUTES(CDP_ROUTE_ROW) };
#undef CDP_ROUTE_ROW
_Static_assert(sizeof(cdp_routes) / sizeof(cdp_routes[0]) == CDP_R_NONE, "one row per route id");
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

const struct cdp_route *cdp_route_get(enum cdp_route_id id)
{
	return (unsigned)id < cdp_n_routes ? &cdp_routes[id] : NULL;
}

static const struct {
	unsigned bit;
	const char *name;
} method_names[] = { { CDP_M_GET, "GET" }, { CDP_M_HEAD, "HEAD" } };

unsigned cdp_method_bit(const char *method)
{
	size_t i;

	for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (strcmp(method, method_names[i].name) == 0)
			return method_names[i].bit;
	return 0;
}

void cdp_route_allow(enum cdp_route_id id, char out[32])
{
	const struct cdp_route *r = cdp_route_get(id);
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; r && i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (r->methods & method_names[i].bit)
			o += (size_t)snprintf(out + o, 32 - o, "%s%s", o ? ", " : "", method_names[i].name);
}

const char *cdp_route_label(enum cdp_route_id id)
{
	size_t i;

	for (i = 0; i < cdp_n_routes; i++)
		if (cdp_routes[i].id == id)
			return cdp_routes[i].label;
	return "other";
}

/* ---- request syntax ---- */

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int cdp_is_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* RFC 9112 §3.2: every form of request-target is made of visible US-ASCII
 * (RFC 3986 characters, %-encoded otherwise): no space, no control, no NUL,
 * nothing above 0x7e. */
int cdp_target_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* RFC 9112 §3.2, RFC 3986 §3.2.2-3.2.3: Host = uri-host [ ":" port ], with
 * uri-host a reg-name (unreserved, pct-encoded, sub-delims), an IPv4 address
 * or an IP-literal in brackets. Empty is allowed (RFC 9110 §7.2). Trailing
 * OWS, which the parser leaves in the value, is not part of it. */
int cdp_host_valid(const char *v)
{
	size_t n = strlen(v), i;

	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-._~!$&'()*+,;=%:[]", c)))
			return 0;
	}
	return 1;
}

/* The per-client key of the connection limits: an IPv4 address (as
 * v4-mapped IPv6), or the /64 prefix of an IPv6 address. One IPv6 host
 * usually holds a whole /64 (RFC 4291 §2.5.1, SLAAC and privacy addresses,
 * RFC 8981), so counting single addresses would give it 2^64 allowances. */
int cdp_client_key(const struct sockaddr *sa, unsigned char key[16])
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		memcpy(key, v4mapped, 12);
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		/* An IPv4 client on a dual-stack socket is counted as itself. */
		memcpy(key, a, memcmp(a, v4mapped, 12) == 0 ? 16 : 8);
		return 1;
	}
	return 0;
}

/*
 * The head as libmicrohttpd 0.9.75 leaves it: it parses the request line and
 * field lines in place in its read buffer, writing a NUL over each separator
 * (the SPs of the request line, the colon, CR and LF) and handing out
 * pointers into that buffer, in order, with the head's size. A raw NUL sent
 * by the client therefore ends a string early, and what followed it stays
 * in the buffer between that string and the next one. Walking the strings in
 * order and allowing between them only the separators (or the NULs written
 * over them) finds every such hidden byte (RFC 9110 §5.5: NUL in a field
 * value; RFC 9112 §3.2: the request-target). Pointers outside the head mean
 * the parser rewrote a line: only obs-fold does that (RFC 9112 §5.2 lets a
 * server refuse it). When the request line itself is not laid out this way
 * (another libmicrohttpd), only the checks on the strings themselves apply.
 */
static int in_head(const struct cdp_head *h, const char *p)
{
	return (uintptr_t)p >= (uintptr_t)h->base && (uintptr_t)p < (uintptr_t)h->end;
}

/* The length of the string at p, which lies in the head; the distance to
 * the end of the head when it is not terminated there. */
static size_t head_strlen(const struct cdp_head *h, const char *p)
{
	return strnlen(p, (size_t)(h->end - p));
}

/* Whether the n bytes at p are all among the separators in set (a NUL may
 * stand for any of them). The OWS before a field value is left as it was:
 * there, only SP and HTAB are allowed. */
static int only(const char *p, size_t n, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] && !strchr(set, p[i]))
			return 0;
	return 1;
}

static void head_fail(struct cdp_head *h, const char *why)
{
	if (!h->why)
		h->why = why;
}

void cdp_head_begin(struct cdp_head *h, const char *method, const char *url, long target_len,
		    const char *version, size_t head_size)
{
	size_t ml, vl;

	memset(h, 0, sizeof(*h));
	h->base = method;
	h->end = method + head_size;
	if (!cdp_is_token(method, strlen(method)))
		head_fail(h, "the method is not a token (RFC 9110 9.1)");
	if (!cdp_target_valid(url, strlen(url)))
		head_fail(h, "a space, control or non-ASCII byte in the request target (RFC 9112 3.2)");
	if (!head_size || !in_head(h, url) || !in_head(h, version) || (uintptr_t)url <= (uintptr_t)method ||
	    (uintptr_t)version <= (uintptr_t)url)
		return; /* not the layout described above */
	h->layout = 1;
	ml = head_strlen(h, method);
	if (method + ml + 1 != url || !only(method + ml, 1, " "))
		head_fail(h, "the request line is not METHOD SP TARGET SP VERSION (RFC 9112 3)");
	else if (target_len >= 0 && (target_len > version - url - 1 || url + target_len + 1 != version ||
				     !only(url + target_len, 1, " ")))
		head_fail(h, "a NUL in the request target (RFC 9112 3.2)");
	vl = head_strlen(h, version);
	h->at = version + vl;
	if (h->at == h->end)
		head_fail(h, "the request line has no end");
}

void cdp_head_field(struct cdp_head *h, const char *name, const char *value)
{
	size_t nl = strlen(name);

	if (!cdp_is_token(name, nl))
		head_fail(h, "a field name is not a token (RFC 9112 5.1)");
	if (strpbrk(value, "\r\n"))
		head_fail(h, "CR or LF in a field value (RFC 9110 5.5)");
	if (strcasecmp(name, "Host") == 0) {
		h->hosts++;
		if (!cdp_host_valid(value))
			head_fail(h, "an invalid Host (RFC 9112 3.2)");
	} else if (strcasecmp(name, "Content-Length") == 0) {
		unsigned long long v = 0;
		size_t i = 0, n = strlen(value);

		while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
			n--;
		if (n == 0 || n > 18)
			head_fail(h, "an invalid Content-Length (RFC 9110 8.6)");
		for (; i < n; i++) {
			if (value[i] < '0' || value[i] > '9') {
				head_fail(h, "an invalid Content-Length (RFC 9110 8.6)");
				break;
			}
			v = v * 10 + (unsigned)(value[i] - '0');
		}
		if (h->content_lengths++ && v != h->content_length)
			head_fail(h, "Content-Length values that differ (RFC 9112 6.3)");
		h->content_length = v;
	} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		h->transfer_encodings++;
	}
	if (!h->layout || h->why)
		return;
	if (!in_head(h, name) || !in_head(h, value) || (uintptr_t)name < (uintptr_t)h->at ||
	    (uintptr_t)value <= (uintptr_t)name + nl) {
		head_fail(h, "obs-fold or a field line out of place (RFC 9112 5.2)");
		return;
	}
	if (name - h->at > 2 || !only(h->at, (size_t)(name - h->at), "\r\n"))
		head_fail(h, "bytes hidden behind a NUL before a field line (RFC 9110 5.5)");
	else if (!only(name + nl, 1, ":") || strspn(name + nl + 1, " \t") < (size_t)(value - name - nl - 1))
		head_fail(h, "a field line is not NAME: VALUE (RFC 9112 5.1)");
	h->at = value + head_strlen(h, value);
}

const char *cdp_head_end(struct cdp_head *h, int http11)
{
	if (h->layout && !h->why &&
	    (h->end - h->at < 2 || h->end - h->at > 4 || !only(h->at, (size_t)(h->end - h->at), "\r\n")))
		head_fail(h, "bytes hidden behind a NUL in the last field line (RFC 9110 5.5)");
	if (h->hosts > 1)
		head_fail(h, "more than one Host (RFC 9112 3.2)");
	if (h->hosts == 0 && http11)
		head_fail(h, "HTTP/1.1 without Host (RFC 9112 3.2)");
	if (h->content_lengths && h->transfer_encodings)
		head_fail(h, "Content-Length with Transfer-Encoding (RFC 9112 6.1)");
	return h->why;
}
