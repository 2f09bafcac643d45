/*
 * A request, from its head to its access-log line: libmicrohttpd's
 * callbacks. Requests are answered on the second call of the access
 * handler: queuing on the first makes MHD 0.9.75 close the connection,
 * which costs keep-alive (STYLE.md). A request refused at its head (bad
 * framing, a body on a GET) is answered on the first call with
 * Connection: close, so its body is never read as a next request. The raw
 * URL is routed: the unescape callback leaves it untouched so
 * percent-encoded tricks never become path characters. The routes
 * themselves, and the handler each names, are routes.c's table; the framing
 * checks on the head are routes.c's cdp_head_*; this file only feeds them
 * what MHD parsed, then counts and logs what was answered.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

const int cdp_status_codes[8] = { 200, 304, 400, 404, 405, 500, 503, 0 };

int cdp_status_slot(int status)
{
	int i;

	for (i = 0; i < 7; i++)
		if (cdp_status_codes[i] == status)
			return i;
	return 7; /* anything else */
}

/* ---- responses ---- */

static int reply_error(struct MHD_Connection *conn, struct cdp_req *req, int status, int close)
{
	char body[128];
	const char *reason = status == 404 ? "not found" :
			     status == 405 ? "method not allowed" :
			     status == 400 ? "bad request" :
					     "error";
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	return cdp_reply(conn, req, status, "text/plain; charset=utf-8", body, (size_t)n, close);
}

/* ---- requests ---- */

static struct cdp_req *req_new(void)
{
	struct cdp_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	req->route = CDP_R_NONE;
	req->target_len = -1;
	return req;
}

/* MHD's URI log callback: called once per request with the raw request
 * target, before the query is split off (so still whole, up to any raw NUL),
 * as soon as the request line is read. Its result is the request's req_cls,
 * freed by cdp_http_completed(). */
void *cdp_http_started(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct cdp_req *req = req_new();
	size_t n = strlen(uri);

	(void)cls;
	(void)conn;
	if (!req)
		return NULL;
	req->target_len = (long)n;
	req->target_ok = cdp_target_valid(uri, n);
	snprintf(req->url, sizeof(req->url), "%s", uri);
	return req;
}

/* MHD lists the fields in the order they came (the walk depends on it). */
static enum MHD_Result head_field(void *cls, enum MHD_ValueKind kind, const char *name, const char *value)
{
	(void)kind;
	cdp_head_field(cls, name, value ? value : "");
	return MHD_YES;
}

/* Why the request head must be refused with 400 (RFC 9112, RFC 9110), or
 * NULL; body tells whether it declares a body. */
static const char *head_problem(struct MHD_Connection *conn, const struct cdp_req *req, const char *method,
				const char *url, const char *version, int *body)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	struct cdp_head h;
	const char *why;

	cdp_head_begin(&h, method, url, req->target_len, version, ci ? ci->header_size : 0);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, head_field, &h);
	why = cdp_head_end(&h, strcmp(version, MHD_HTTP_VERSION_1_0) != 0);
	/* The whole target, query included, as it came (the URL is only its path). */
	if (!why && req->target_len >= 0 && !req->target_ok)
		why = "a space, control or non-ASCII byte in the request target (RFC 9112 3.2)";
	*body = cdp_head_has_body(&h);
	return why;
}

static void client_addr(struct MHD_Connection *conn, char *addr, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(addr, size, "-");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, addr,
			  (socklen_t)size);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, addr,
			  (socklen_t)size);
}

/* The first call, once the head is in: everything that can be decided
 * without the body is decided here. A refusal is answered at once with
 * Connection: close, so a body the client sent is never read, let alone
 * parsed as the next request (RFC 9112 §6.3, §11.2). */
static enum MHD_Result request_head(struct MHD_Connection *conn, struct cdp_req *req, const char *url,
				    const char *method, const char *version)
{
	char name[CDP_NAME_MAX + 1];
	const struct cdp_route *r;
	const char *why;
	int body = 0;

	req->seen = 1;
	snprintf(req->method, sizeof(req->method), "%s", method);
	snprintf(req->url, sizeof(req->url), "%s", url);
	cdp_conn_enter(conn, CDP_PH_BUSY);
	req->route = cdp_route_match(url, strlen(url), name);
	why = head_problem(conn, req, method, url, version, &body);
	if (why) {
		if (pkl_log_get_level() >= PKL_LOG_DEBUG) {
			char addr[INET6_ADDRSTRLEN];

			client_addr(conn, addr, sizeof(addr));
			pkl_log(PKL_LOG_DEBUG, "http: %s: 400: %s", addr, why);
		}
		return reply_error(conn, req, MHD_HTTP_BAD_REQUEST, 1);
	}
	if (!body)
		return MHD_YES; /* answered on the next call */
	/* The methods routes answer, GET and HEAD, carry no body (RFC 9110
	 * §9.3.1, §9.3.2); every other method is refused anyway: answer now
	 * rather than read the body. */
	req->has_body = 1;
	r = cdp_route_get(req->route);
	return reply_error(conn, req,
			   !r                                  ? MHD_HTTP_NOT_FOUND :
			   r->methods & cdp_method_bit(method) ? MHD_HTTP_BAD_REQUEST :
								 MHD_HTTP_METHOD_NOT_ALLOWED,
			   1);
}

enum MHD_Result cdp_http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				const char *version, const char *upload_data, size_t *upload_data_size,
				void **req_cls)
{
	struct cdp_ctx *ctx = cls;
	struct cdp_req *req = *req_cls;
	char name[CDP_NAME_MAX + 1];
	const struct cdp_route *r;
	enum MHD_Result ret;

	(void)upload_data;
	if (!req) {
		req = req_new();
		if (!req)
			return MHD_NO;
		*req_cls = req;
	}
	if (!req->seen) {
		ret = request_head(conn, req, url, method, version);
	} else if (*upload_data_size) {
		/* Not reached: a request declaring a body is answered at its head. */
		req->has_body = 1;
		*upload_data_size = 0;
		return MHD_YES;
	} else if (req->status) {
		return MHD_YES; /* answered at the head */
	} else {
		req->route = cdp_route_match(url, strlen(url), name);
		r = cdp_route_get(req->route);
		if (!r)
			ret = reply_error(conn, req, MHD_HTTP_NOT_FOUND, 0);
		else if (!(r->methods & cdp_method_bit(method)))
			ret = reply_error(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED, 0);
		else if (req->has_body)
			ret = reply_error(conn, req, MHD_HTTP_BAD_REQUEST, 1);
		else
			ret = r->handler(ctx, conn, req, name, strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
	}
	if (req->status && !req->sending) {
		req->sending = 1;
		cdp_conn_enter(conn, CDP_PH_SEND);
	}
	return ret;
}

void cdp_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			enum MHD_RequestTerminationCode toe)
{
	struct cdp_ctx *ctx = cls;
	struct cdp_req *req = *req_cls;
	char addr[INET6_ADDRSTRLEN] = "-", line[1400], m[sizeof(req->method) * 4], u[sizeof(req->url) * 4];
	struct timespec now;
	double ms;
	int n;

	if (!req)
		return;
	*req_cls = NULL;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		cdp_conn_enter(conn, CDP_PH_HEAD); /* the next request's head starts now */
	} else if (req->sending) {
		/* A response cut short (the idle timeout, an error): reset the
		 * connection rather than let the kernel go on feeding what it holds
		 * to a client that stopped reading, long after MHD let go of it. */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		if (ci)
			setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (!req->seen) {
		/* Refused by MHD itself (an invalid Content-Length, a head too
		 * large...): log and count what it answered, if anything. */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);

		req->status = ci ? (int)ci->http_status : 0;
		snprintf(req->method, sizeof(req->method), "-");
	}
	if (req->status)
		atomic_fetch_add_explicit(&ctx->stats.req[req->route][cdp_status_slot(req->status)], 1,
					  memory_order_relaxed);
	/* A head never completed (a client gone or cut mid-request) is no request. */
	if (ctx->cfg->access_log && (req->seen || req->status)) {
		client_addr(conn, addr, sizeof(addr));
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (double)(now.tv_sec - req->start.tv_sec) * 1e3 +
		     (double)(now.tv_nsec - req->start.tv_nsec) / 1e6;
		/* Method and URL are the client's bytes: escaped alike. */
		cdp_log_escape(req->method, m, sizeof(m));
		cdp_log_escape(req->url, u, sizeof(u));
		n = snprintf(line, sizeof(line), "%s \"%s %s\" %d %zu %.3fms%s", addr, m, u, req->status,
			     req->bytes, ms, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
		if (n > 0)
			cdp_log_access(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	free(req);
}

/* Leaves the URL as it came: no percent-decoding means no decoded '/', '.'
 * or NUL can ever reach the router. Query strings are split off by MHD. */
size_t cdp_http_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}
