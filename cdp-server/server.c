/*
 * The HTTP side: one libmicrohttpd daemon per listen address, each with an
 * epoll thread pool, with the limits that keep a CDP answering under load
 * and abuse (connection limit, per-IP limit, idle timeout, request size).
 *
 * Sockets are bound first (cdp_server_bind) so privileges can be dropped
 * before any request is read. Requests are answered on the second call of
 * the access handler: queuing on the first makes MHD 0.9.75 close the
 * connection, which costs keep-alive (STYLE.md). The raw URL is routed: the
 * unescape callback leaves it untouched so percent-encoded tricks never
 * become path characters.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cdpd.h"

struct cdp_server {
	const struct cdp_config *cfg;
	int fds[CDP_LIST_MAX];
	struct MHD_Daemon *d[CDP_LIST_MAX];
	size_t n;
};

const int cdp_status_codes[8] = { 200, 304, 400, 404, 405, 500, 503, 0 };

int cdp_status_slot(int status)
{
	int i;

	for (i = 0; i < 7; i++)
		if (cdp_status_codes[i] == status)
			return i;
	return 7; /* anything else */
}

static const cdp_handler_fn handlers[CDP_R_COUNT] = {
	[CDP_R_CRL] = cdp_h_crl,
	[CDP_R_AIA] = cdp_h_aia,
	[CDP_R_HEALTH] = cdp_h_health,
	[CDP_R_METRICS] = cdp_h_metrics,
	[CDP_R_STATUS] = cdp_h_status,
};

int cdp_reply_text(struct MHD_Connection *conn, struct cdp_req *req, int status,
		   const char *ctype, const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	req->status = status;
	req->bytes = len;
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static int reply_error(struct MHD_Connection *conn, struct cdp_req *req, int status)
{
	char body[128];
	const char *reason = status == 404 ? "not found" :
			     status == 405 ? "method not allowed" :
			     status == 400 ? "bad request" : "error";
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	return cdp_reply_text(conn, req, status, "text/plain; charset=utf-8", body, (size_t)n);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **req_cls)
{
	struct cdp_ctx *ctx = cls;
	struct cdp_req *req = *req_cls;
	char name[CDP_NAME_MAX + 1];
	int head, get;

	(void)version;
	(void)upload_data;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		req->route = CDP_R_NONE;
		snprintf(req->method, sizeof(req->method), "%s", method);
		snprintf(req->url, sizeof(req->url), "%s", url);
		*req_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* GET and HEAD carry no body; anything sent is discarded and refused. */
		req->has_body = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	req->route = cdp_route_match(url, strlen(url), name);
	if (req->route == CDP_R_NONE)
		return reply_error(conn, req, MHD_HTTP_NOT_FOUND);
	head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	if (!head && !get)
		return reply_error(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED);
	if (req->has_body)
		return reply_error(conn, req, MHD_HTTP_BAD_REQUEST);
	return handlers[req->route](ctx, conn, req, name, head);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct cdp_ctx *ctx = cls;
	struct cdp_req *req = *req_cls;
	const union MHD_ConnectionInfo *ci;
	char addr[INET6_ADDRSTRLEN + 2] = "-", line[512];
	struct timespec now;
	double ms;
	int n;

	if (!req)
		return;
	*req_cls = NULL;
	if (req->status)
		atomic_fetch_add_explicit(
			&ctx->stats.req[req->route][cdp_status_slot(req->status)], 1,
			memory_order_relaxed);
	if (ctx->cfg->access_log) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			const struct sockaddr *sa = ci->client_addr;

			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
					  sizeof(addr));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
					  addr, sizeof(addr));
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (double)(now.tv_sec - req->start.tv_sec) * 1e3 +
		     (double)(now.tv_nsec - req->start.tv_nsec) / 1e6;
		/* The URL is quoted with %q-like escaping of anything unprintable. */
		{
			char u[sizeof(req->url) * 4];
			size_t i, o = 0;

			for (i = 0; req->url[i] && o + 5 < sizeof(u); i++) {
				unsigned char c = (unsigned char)req->url[i];

				if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
					o += (size_t)snprintf(u + o, sizeof(u) - o, "\\x%02x", c);
				else
					u[o++] = (char)c;
			}
			u[o] = '\0';
			n = snprintf(line, sizeof(line), "%s \"%s %s\" %d %zu %.3fms%s", addr,
				     req->method, u, req->status, req->bytes, ms,
				     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
		}
		if (n > 0)
			cdp_log_access(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	free(req);
}

/* Leaves the URL as it came: no percent-decoding means no decoded '/', '.'
 * or NUL can ever reach the router. Query strings are split off by MHD. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

PKL_PRINTF(2, 0)
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	pkl_log(PKL_LOG_DEBUG, "http: %s", msg);
}

struct cdp_server *cdp_server_bind(const struct cdp_config *cfg, struct pkl_err *err)
{
	struct cdp_server *srv = calloc(1, sizeof(*srv));
	size_t i;
	int one = 1;

	if (!srv) {
		pkl_err_set(err, PKL_ERUNTIME, "", "out of memory");
		return NULL;
	}
	srv->cfg = cfg;
	for (i = 0; i < CDP_LIST_MAX; i++)
		srv->fds[i] = -1;
	for (i = 0; i < cfg->n_listen; i++) {
		struct sockaddr_storage ss;
		unsigned sl;
		int fd;

		if (cdp_parse_listen(cfg->listen[i], &ss, &sl, err) != PKL_OK)
			goto fail;
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			pkl_err_sys(err, cfg->listen[i], "socket");
			goto fail;
		}
		srv->fds[i] = fd;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Accepted sockets inherit the listener's send buffer. A fixed one
		 * bounds kernel memory per download (500 clients of a 4 MB CRL
		 * could otherwise queue up to 2 GB, and TCP memory pressure then
		 * drops segments) and, measured on loopback, serves a 4 MB CRL
		 * 1.5x faster than autotuned buffers (bench/cdpd.sh). The kernel
		 * doubles the value; 256 KiB still moves 2.6 MB/s at 100 ms RTT. */
		if (cfg->send_buffer > 0) {
			int sb = (int)cfg->send_buffer;

			if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb)) != 0)
				pkl_log(PKL_LOG_WARN, "%s: cannot set the send buffer: %s",
					cfg->listen[i], strerror(errno));
		}
		if (ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
			pkl_err_sys(err, cfg->listen[i], "cannot bind");
			err->rc = PKL_ERUNTIME;
			goto fail;
		}
		if (listen(fd, (int)cfg->backlog) != 0) {
			pkl_err_sys(err, cfg->listen[i], "cannot listen");
			err->rc = PKL_ERUNTIME;
			goto fail;
		}
		srv->n = i + 1;
	}
	return srv;
fail:
	for (i = 0; i < CDP_LIST_MAX; i++)
		if (srv->fds[i] >= 0)
			close(srv->fds[i]);
	free(srv);
	return NULL;
}

enum pkl_rc cdp_server_start(struct cdp_server *srv, struct cdp_ctx *ctx, struct pkl_err *err)
{
	const struct cdp_config *cfg = srv->cfg;
	unsigned threads = (unsigned)cfg->threads;
	size_t i;

	if (!threads) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		/* Four workers per CPU: each MHD worker owns the connections it
		 * accepted, so when one is preempted only its share stalls. On 2 CPUs
		 * shared with load generators, 8 workers cut the 1 KB p99 at 50
		 * connections from ~15 ms (2 workers) to under 6 ms (bench/cdpd.sh). */
		threads = c < 1 ? 4 : c > 16 ? 64 : (unsigned)(4 * c);
	}
	for (i = 0; i < srv->n; i++) {
		/* With a thread pool MHD splits the connection limit between workers. */
		srv->d[i] = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
				MHD_USE_ERROR_LOG,
			0, NULL, NULL, access_handler, ctx,
			MHD_OPTION_LISTEN_SOCKET, srv->fds[i],
			MHD_OPTION_THREAD_POOL_SIZE, threads,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_limit,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_request_size + 4096,
			MHD_OPTION_NOTIFY_COMPLETED, completed, ctx,
			MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
			/* Reject HTTP/1.1 without Host and spaces in URLs: CRL fetchers
			 * (CryptoAPI, libcurl, NSS) are all well-formed. */
			MHD_OPTION_STRICT_FOR_CLIENT, 1,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
			MHD_OPTION_END);
		if (!srv->d[i])
			return pkl_err_set(err, PKL_ERUNTIME, cfg->listen[i],
					   "cannot start the HTTP daemon");
		srv->fds[i] = -1; /* MHD owns it now */
		pkl_log(PKL_LOG_INFO, "listening on %s (%u threads)", cfg->listen[i], threads);
	}
	return PKL_OK;
}

void cdp_server_stop(struct cdp_server *srv)
{
	size_t i;

	if (!srv)
		return;
	for (i = 0; i < srv->n; i++) {
		if (srv->d[i])
			MHD_stop_daemon(srv->d[i]);
		if (srv->fds[i] >= 0)
			close(srv->fds[i]);
	}
	free(srv);
}
