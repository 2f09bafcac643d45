/*
 * Unit tests of the bounded HTTP GET (ca/lib/fetch.c) against a one-shot
 * server thread on 127.0.0.1: status, Content-Type and Date are captured;
 * redirects are not followed; a stalled server ends at the deadline; an
 * oversized body is cut; a closed port fails fast; the resolve list maps a
 * lab name (never looked up in DNS) to the test address and port.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkilab/fetch.h"

enum mode {
	M_OK,
	M_REDIRECT,
	M_STALL,
	M_HUGE
};

struct server {
	int fd;
	int port;
	enum mode mode;
	pthread_t th;
};

static void *serve_one(void *arg)
{
	struct server *s = arg;
	char req[2048];
	int c = accept(s->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	(void)!read(c, req, sizeof(req));
	if (s->mode == M_OK) {
		static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n"
					"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 4\r\n"
					"Connection: close\r\n\r\n\x30\x02\x05\x00";
		(void)!write(c, r, sizeof(r) - 1); /* the body holds a NUL: no strlen */
	} else if (s->mode == M_REDIRECT) {
		const char *r = "HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n"
				"Connection: close\r\n\r\n";
		(void)!write(c, r, strlen(r));
	} else if (s->mode == M_STALL) {
		/* Silent until the client hangs up (its 400 ms deadline), however
		 * late a busy machine runs it; 60 s only bounds a client that
		 * never gives up. */
		struct pollfd p = { .fd = c, .events = POLLIN };
		while (poll(&p, 1, 60000) > 0 && read(c, req, sizeof(req)) > 0)
			;
	} else {
		const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n"
				"Connection: close\r\n\r\n";
		char chunk[4096];
		memset(chunk, 0x30, sizeof(chunk));
		/* send(MSG_NOSIGNAL): the client hangs up by design, and a write()
		 * to the closed socket would kill this whole test program (SIGPIPE). */
		(void)!send(c, h, strlen(h), MSG_NOSIGNAL);
		for (int i = 0; i < 1024; i++) /* 4 MiB unless the client hangs up */
			if (send(c, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
				break;
	}
	close(c);
	return NULL;
}

static void start(struct server *s, enum mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int one = 1;

	s->mode = mode;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 4), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &l), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve_one, s), 0);
}

static void stop(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
}

static void ok_response_captured(void **state)
{
	(void)state;
	struct server s;
	struct pkl_fetch_opts o;
	struct pkl_fetch_result res;
	char url[128];

	start(&s, M_OK);
	pkl_fetch_opts_init(&o, NULL, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/crl/ca.crl", s.port);
	assert_int_equal(pkl_fetch_get(url, &o, &res, NULL), PKL_OK);
	assert_true(res.transferred);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.content_type, "application/pkix-crl");
	assert_int_equal(res.date, 784111777); /* RFC 7231's example date */
	assert_int_equal(res.body.len, 4);
	assert_true(res.elapsed_ms >= 0);
	pkl_fetch_result_free(&res);
	stop(&s);
}

static void redirect_not_followed(void **state)
{
	(void)state;
	struct server s;
	struct pkl_fetch_opts o;
	struct pkl_fetch_result res;
	char url[128];

	start(&s, M_REDIRECT);
	pkl_fetch_opts_init(&o, NULL, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
	assert_int_equal(pkl_fetch_get(url, &o, &res, NULL), PKL_OK);
	assert_true(res.transferred);
	assert_int_equal(res.status, 302);
	assert_int_equal(res.redirects, 0);
	pkl_fetch_result_free(&res);
	stop(&s);
}

static void stall_ends_at_deadline(void **state)
{
	(void)state;
	struct server s;
	struct pkl_fetch_opts o;
	struct pkl_fetch_result res;
	char url[128];

	start(&s, M_STALL);
	pkl_fetch_opts_init(&o, NULL, 0);
	o.timeout_ms = 400;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
	assert_int_equal(pkl_fetch_get(url, &o, &res, NULL), PKL_OK);
	assert_false(res.transferred);
	assert_true(res.timed_out);
	/* from below: the deadline passed; from above only a hang (the stall's
	 * own 60 s bound), not a speed */
	assert_true(res.elapsed_ms >= 350 && res.elapsed_ms < 60000);
	assert_int_equal(res.body.len, 0);
	pkl_fetch_result_free(&res);
	stop(&s);
}

static void huge_body_cut(void **state)
{
	(void)state;
	struct server s;
	struct pkl_fetch_opts o;
	struct pkl_fetch_result res;
	char url[128];

	start(&s, M_HUGE);
	pkl_fetch_opts_init(&o, NULL, 0);
	o.max_size = 10000;
	o.timeout_ms = 5000;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
	assert_int_equal(pkl_fetch_get(url, &o, &res, NULL), PKL_OK);
	assert_false(res.transferred);
	assert_true(res.too_large);
	assert_non_null(strstr(res.error, "larger than 10000"));
	assert_int_equal(res.body.len, 0); /* a partial body is no body */
	pkl_fetch_result_free(&res);
	stop(&s);
}

static void closed_port_fails_fast(void **state)
{
	(void)state;
	struct pkl_fetch_opts o;
	struct pkl_fetch_result res;

	pkl_fetch_opts_init(&o, NULL, 0);
	assert_int_equal(pkl_fetch_get("http://127.0.0.1:1/x.crl", &o, &res, NULL), PKL_OK);
	assert_false(res.transferred);
	assert_false(res.timed_out);
	assert_true(res.error[0] != '\0');
	assert_true(res.elapsed_ms < 1000);
	pkl_fetch_result_free(&res);
}

static void resolve_maps_lab_names(void **state)
{
	(void)state;
	struct server s;
	struct pkl_fetch_opts o;
	struct pkl_fetch_result res;
	struct pkl_err err = { 0 };
	char entry[128];

	start(&s, M_OK);
	pkl_fetch_opts_init(&o, NULL, 0);
	/* a lab URL with a fixed port, served from the test's free port */
	snprintf(entry, sizeof(entry), "crl1.lab.pkilab.test:8081:127.0.0.1:%d", s.port);
	assert_int_equal(pkl_fetch_opts_resolve(&o, entry, &err), PKL_OK);
	assert_int_equal(pkl_fetch_get("http://crl1.lab.pkilab.test:8081/crl/ca.crl", &o, &res, NULL),
			 PKL_OK);
	assert_true(res.transferred);
	assert_int_equal(res.status, 200);
	pkl_fetch_result_free(&res);
	stop(&s);
}

static void resolve_syntax_and_env(void **state)
{
	(void)state;
	struct pkl_fetch_opts o;
	struct pkl_err err = { 0 };
	char storage[256];

	pkl_fetch_opts_init(&o, NULL, 0);
	assert_int_equal(pkl_fetch_opts_resolve(&o, "h.test:80:127.0.0.1", &err), PKL_OK);
	assert_int_equal(pkl_fetch_opts_resolve(&o, "h.test:80:[::1]", &err), PKL_OK);
	assert_int_equal(pkl_fetch_opts_resolve(&o, "h.test:80:[::1]:8080", &err), PKL_OK);
	assert_int_equal(pkl_fetch_opts_resolve(&o, "h.test:80:127.0.0.1:8080", &err), PKL_OK);
	const char *bad[] = { "h.test",     "h.test:80",          "h.test:x:1.2.3.4",   ":80:1.2.3.4",
			      "h.test:80:", "h.test:80:1.2.3.4:", "h.test:80:1.2.3.4:y" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pkl_fetch_opts_resolve(&o, bad[i], &err), PKL_EINPUT);
	assert_int_equal(o.n_resolve, 4);
	pkl_fetch_set_resolve("a.test:80:127.0.0.1, b.test:80:127.0.0.2:81,junk");
	pkl_fetch_opts_init(&o, storage, sizeof(storage));
	assert_int_equal(o.n_resolve, 2);
	assert_string_equal(o.resolve[1], "b.test:80:127.0.0.2:81");
	pkl_fetch_set_resolve(NULL);
}

static void only_http(void **state)
{
	(void)state;
	struct pkl_fetch_opts o;
	struct pkl_fetch_result res;
	struct pkl_err err = { 0 };

	pkl_fetch_opts_init(&o, NULL, 0);
	assert_int_equal(pkl_fetch_get("https://127.0.0.1/x.crl", &o, &res, &err), PKL_EINPUT);
	assert_int_equal(pkl_fetch_get("ldap://dc/x", &o, &res, &err), PKL_EINPUT);
	assert_int_equal(pkl_fetch_get("file:///etc/passwd", &o, &res, &err), PKL_EINPUT);
	pkl_fetch_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ok_response_captured),   cmocka_unit_test(redirect_not_followed),
		cmocka_unit_test(stall_ends_at_deadline), cmocka_unit_test(huge_body_cut),
		cmocka_unit_test(closed_port_fails_fast), cmocka_unit_test(resolve_maps_lab_names),
		cmocka_unit_test(resolve_syntax_and_env), cmocka_unit_test(only_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
