/*
 * Unit tests for the request syntax pkilab-cdpd checks before routing
 * (cdp-server/routes.c: RFC 9110 tokens, RFC 9112 request targets, Host,
 * framing, the hidden-byte walk over a head parsed in place), the client key
 * of the connection limits (IPv6 counted per /64) and the access log's
 * escaping (cdp-server/cdplog.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cdpd.h"

static void test_token(void **state)
{
	(void)state;
	assert_true(cdp_is_token("GET", 3));
	assert_true(cdp_is_token("X-Custom_1!#$%&'*+.^`|~", 23));
	assert_false(cdp_is_token("", 0));
	assert_false(cdp_is_token("G\"ET", 4));
	assert_false(cdp_is_token("GE T", 4));
	assert_false(cdp_is_token("GET\x1b", 4));
	assert_false(cdp_is_token("GE\rT", 4));
	assert_false(cdp_is_token("G\\ET", 4));
	assert_false(cdp_is_token("Host:", 5));
	assert_false(cdp_is_token("GET\0X", 5));
}

static void test_target(void **state)
{
	(void)state;
	assert_true(cdp_target_valid("/crl/root.crl?x=1&y=%41", 23));
	assert_true(cdp_target_valid("*", 1));
	assert_false(cdp_target_valid("", 0));
	assert_false(cdp_target_valid("/a b", 4));
	assert_false(cdp_target_valid("/a\tb", 4));
	assert_false(cdp_target_valid("/a\rb", 4));
	assert_false(cdp_target_valid("/\xc3\xa9", 3));
	assert_false(cdp_target_valid("/a\x7f", 3));
}

static void test_host(void **state)
{
	(void)state;
	assert_true(cdp_host_valid("cdp.example.test"));
	assert_true(cdp_host_valid("cdp.example.test:8080"));
	assert_true(cdp_host_valid("[2001:db8::1]:80"));
	assert_true(cdp_host_valid("192.0.2.1"));
	assert_true(cdp_host_valid(""));
	assert_true(cdp_host_valid("a \t"));
	assert_false(cdp_host_valid("a b"));
	assert_false(cdp_host_valid("a/b"));
	assert_false(cdp_host_valid("a@b"));
	assert_false(cdp_host_valid("a\x01"));
}

static void key_of(const char *addr, unsigned char key[16], int *ok)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	}
	*ok = cdp_client_key((struct sockaddr *)&ss, key);
}

static void test_client_key(void **state)
{
	unsigned char a[16], b[16];
	int ok;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	static const unsigned char mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7 };

	(void)state;
	key_of("192.0.2.7", a, &ok);
	assert_true(ok);
	assert_memory_equal(a, mapped, 16);
	/* IPv4 on a dual-stack socket: the same key as over IPv4. */
	key_of("::ffff:192.0.2.7", b, &ok);
	assert_memory_equal(a, b, 16);
	key_of("::ffff:192.0.2.8", b, &ok);
	assert_memory_not_equal(a, b, 16);
	/* Two addresses of one /64 are one client (RFC 4291 2.5.1)... */
	key_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd", a, &ok);
	assert_true(ok);
	key_of("2001:db8:1:2::1", b, &ok);
	assert_memory_equal(a, b, 16);
	/* ...the next /64 is another. */
	key_of("2001:db8:1:3::1", b, &ok);
	assert_memory_not_equal(a, b, 16);
	assert_false(cdp_client_key((struct sockaddr *)&un, a));
}

/*
 * A model of libmicrohttpd 0.9.75's in-place parse (what routes.c relies on,
 * as observed): the method ends at the first SP, the version starts after the
 * last SP of the request line; a field name ends at ':', its value starts
 * after SP/HTAB; every separator, CR and LF becomes NUL. A raw NUL stays and
 * ends a string early. Fills h (begin, every field, end) and returns end's
 * verdict; body tells whether a body was declared.
 */
struct parsed {
	char buf[512];
	size_t size;
};

static const char *scan(const char *raw, size_t n, int *body)
{
	static struct parsed p;
	struct cdp_head h;
	char *line, *eol, *sp1, *sp2, *end;
	const char *url, *version;
	long target_len;
	int http11;

	assert_true(n < sizeof(p.buf));
	memcpy(p.buf, raw, n);
	p.buf[n] = '\0';
	p.size = n;
	end = p.buf + n;
	eol = memchr(p.buf, '\n', n);
	assert_non_null(eol);
	*eol = '\0';
	if (eol > p.buf && eol[-1] == '\r')
		eol[-1] = '\0';
	sp1 = memchr(p.buf, ' ', (size_t)(eol - p.buf));
	assert_non_null(sp1);
	for (sp2 = eol - 1; sp2 > sp1 && *sp2 != ' '; sp2--)
		;
	*sp1 = *sp2 = '\0';
	url = sp1 + 1;
	version = sp2 + 1;
	target_len = (long)strlen(url); /* as MHD's URI log callback sees it */
	http11 = strcmp(version, "HTTP/1.0") != 0;
	cdp_head_begin(&h, p.buf, url, target_len, version, n);
	for (line = eol + 1; line < end && *line != '\r' && *line != '\n'; line = eol + 1) {
		char *colon, *value;

		eol = memchr(line, '\n', (size_t)(end - line));
		assert_non_null(eol);
		*eol = '\0';
		if (eol[-1] == '\r')
			eol[-1] = '\0';
		colon = memchr(line, ':', (size_t)(eol - line));
		assert_non_null(colon);
		*colon = '\0';
		for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
			;
		cdp_head_field(&h, line, value);
	}
	assert_true(line < end);
	if (*line == '\r')
		*line++ = '\0';
	*line = '\0';
	*body = cdp_head_has_body(&h);
	return cdp_head_end(&h, http11);
}

#define SCAN(lit, body) scan(lit, sizeof(lit) - 1, body)

static void test_head_good(void **state)
{
	int body;

	(void)state;
	assert_null(SCAN("GET /crl/root.crl HTTP/1.1\r\nHost: cdp.test\r\n\r\n", &body));
	assert_false(body);
	assert_null(SCAN("GET /crl/root.crl HTTP/1.1\nHost: cdp.test\n\n", &body));
	assert_null(SCAN("GET /a?x=1 HTTP/1.1\r\nHost:\t cdp.test \t\r\nX-E:\r\nAccept: */*\r\n\r\n", &body));
	assert_null(SCAN("GET /a HTTP/1.0\r\n\r\n", &body));
	assert_null(SCAN("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &body));
	assert_false(body);
	assert_null(
		SCAN("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 00\r\n\r\n", &body));
	assert_null(SCAN("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", &body));
	assert_true(body);
	assert_null(SCAN("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &body));
	assert_true(body);
}

static void test_head_bad(void **state)
{
	int body;

	(void)state;
	/* RFC 9112 6.3 item 5, 6.1; 3.2 */
	assert_non_null(
		SCAN("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n", &body));
	assert_non_null(
		SCAN("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		     &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", &body));
	/* hidden bytes behind a raw NUL (RFC 9110 5.5, RFC 9112 3.2) */
	assert_non_null(SCAN("GET /a\0junk HTTP/1.1\r\nHost: a\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a\0 HTTP/1.1\r\nHost: a\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\0x\r\nHost: a\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost: a\0junk\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost: a\r\nX: b\0\r\n\r\n", &body));
	assert_non_null(SCAN("GE\0T /a HTTP/1.1\r\nHost: a\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost\0: a\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost:\0a\r\n\r\n", &body));
	/* field syntax (RFC 9112 5.1, RFC 9110 5.5), request line (RFC 9112 3) */
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost : a\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", &body));
	assert_non_null(SCAN("GET /a HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", &body));
	assert_non_null(SCAN("G\"ET /a HTTP/1.1\r\nHost: a\r\n\r\n", &body));
	assert_non_null(SCAN("GET  /a HTTP/1.1\r\nHost: a\r\n\r\n", &body));
}

/* A field line MHD rewrote elsewhere (obs-fold, RFC 9112 5.2) is refused;
 * a request line not laid out in the head turns the walk off. */
static void test_head_layout(void **state)
{
	char buf[] = "GET\0/a\0HTTP/1.1\0\0Host\0 a\0\0\0\0";
	char elsewhere[] = "X\0b";
	struct cdp_head h;

	(void)state;
	cdp_head_begin(&h, buf, buf + 4, 2, buf + 7, sizeof(buf) - 1);
	assert_true(h.layout);
	cdp_head_field(&h, buf + 17, buf + 23);
	assert_null(cdp_head_end(&h, 1));
	cdp_head_begin(&h, buf, buf + 4, 2, buf + 7, sizeof(buf) - 1);
	cdp_head_field(&h, buf + 17, buf + 23);
	cdp_head_field(&h, elsewhere, elsewhere + 2);
	assert_non_null(cdp_head_end(&h, 1));
	/* Strings that are not in one buffer: only the string checks apply. */
	cdp_head_begin(&h, "GET", "/a", 2, "HTTP/1.1", 0);
	assert_false(h.layout);
	cdp_head_field(&h, "Host", "a");
	assert_null(cdp_head_end(&h, 1));
}

static void test_log_escape(void **state)
{
	char out[64];

	(void)state;
	cdp_log_escape("GET", out, sizeof(out));
	assert_string_equal(out, "GET");
	cdp_log_escape("G\"E\\T\x1b[2J\r\n\x7f\xc3", out, sizeof(out));
	assert_string_equal(out, "G\\x22E\\x5cT\\x1b[2J\\x0d\\x0a\\x7f\\xc3");
	/* Cut to fit, never in the middle of an escape. */
	cdp_log_escape("ab\x1b", out, 6);
	assert_string_equal(out, "ab");
	cdp_log_escape("abcdef", out, 4);
	assert_string_equal(out, "abc");
	cdp_log_escape("\x1b", out, 1);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),       cmocka_unit_test(test_target),
		cmocka_unit_test(test_host),        cmocka_unit_test(test_client_key),
		cmocka_unit_test(test_head_good),   cmocka_unit_test(test_head_bad),
		cmocka_unit_test(test_head_layout), cmocka_unit_test(test_log_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
