/*
 * The HTTP side: an acceptor thread and a pool of single-threaded
 * libmicrohttpd epoll daemons (the workers), with the limits that keep a CDP
 * answering under load and abuse (connection limit, per-IP limit, idle
 * timeout, request size).
 *
 * The acceptor hands each new connection to the worker with the fewest.
 * MHD's own thread pool lets whichever worker wakes first accept a burst, so
 * one worker can end up owning most keep-alive clients and serve them slower
 * than the rest: long-lived CRL fetchers and load balancers' health checks
 * never move. Since the workers are separate daemons, the connection and
 * per-IP limits are kept here, across all of them (t6007).
 *
 * Slow clients (slowloris, slow readers) are bounded here too, since MHD's
 * timeout is only an inactivity timeout that every byte resets. Each
 * connection has a phase: waiting for a request head (from the accept or the
 * end of the previous response), busy in a handler, or sending a response.
 * A sweeper thread closes a connection whose head is not complete within
 * header_timeout (like nginx's client_header_timeout) and one whose client
 * reads a response slower than min_send_rate over a `timeout` window
 * (measured as bytes acknowledged, TCP_INFO). At the connection limit, a new
 * client takes the place of the connection that has waited longest for a
 * request head, so connections that send nothing useful cannot lock real
 * clients out however many addresses they come from. Closing is a
 * shutdown(2) of the socket under the worker's lock, which MHD then sees as
 * a closed connection; the lock is also taken by MHD's close notification,
 * which comes before MHD closes the descriptor, so it is never a stale one.
 *
 * Sockets are bound first (cdp_server_bind) so privileges can be dropped
 * before any request is read. Requests are answered on the second call of
 * the access handler: queuing on the first makes MHD 0.9.75 close the
 * connection, which costs keep-alive (STYLE.md). A request refused at its
 * head (bad framing, a body on a GET) is answered on the first call with
 * Connection: close, so its body is never read as a next request. The raw
 * URL is routed: the unescape callback leaves it untouched so
 * percent-encoded tricks never become path characters.
 */
#define _GNU_SOURCE /* accept4(): non-blocking, close-on-exec sockets in one call */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (glibc's lacks it) */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cdpd.h"

struct cdp_server;
struct conn;

/* A worker's connections waiting for a request head (oldest first) or
 * sending a response. */
struct conn_list {
	struct conn *first, *last;
};

struct worker {
	struct MHD_Daemon *d;
	atomic_long conns;
	struct cdp_server *srv;
	pthread_mutex_t lock;   /* the lists and every conn's phase fields */
	struct conn_list heads, sends;
};

enum conn_phase { PH_HEAD, PH_BUSY, PH_SEND };

/* One connection (MHD's socket context), from MHD's STARTED to its CLOSED
 * notification. Fields below fd change under the worker's lock. */
struct conn {
	struct worker *w;
	int fd;
	enum conn_phase phase;
	int64_t since;          /* ms: the head phase began / the rate window began */
	uint64_t acked;         /* bytes acknowledged at the start of the window */
	int window;             /* since/acked hold a rate window */
	int cut;                /* shut down by the server; no longer listed */
	struct conn_list *list; /* &w->heads, &w->sends or NULL */
	struct conn *prev, *next;
};

/* The socket context of a connection that could not get its struct conn:
 * counted, never listed. */
static struct conn untracked;

/* Open connections per client address (IPv4 as v4-mapped IPv6). */
struct ip_count {
	unsigned char addr[16];
	long n;
	struct ip_count *next;
};
#define IP_BUCKETS 4096

struct cdp_server {
	const struct cdp_config *cfg;
	int fds[CDP_LIST_MAX];
	size_t n;
	struct worker *w;
	size_t n_workers;
	atomic_long total;
	pthread_mutex_t ip_lock;
	struct ip_count *ip[IP_BUCKETS];
	int stop_fd;            /* eventfd: wakes the acceptor and the sweeper to exit */
	pthread_t acceptor, sweeper;
	int acceptor_running, sweeper_running;
	atomic_long cutting;    /* shut down by the server, not yet closed by MHD */
	atomic_ulong cut_head, cut_slow, cut_full; /* why, since the last report */
	int64_t reported;       /* ms of the last report (sweeper thread only) */
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

/* ---- connection phases ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void list_del(struct conn *c)
{
	struct conn_list *l = c->list;

	if (!l)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->last = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

static void list_add(struct conn_list *l, struct conn *c)
{
	c->prev = l->last;
	c->next = NULL;
	if (l->last)
		l->last->next = c;
	else
		l->first = c;
	l->last = c;
	c->list = l;
}

/* The connection's own record, or NULL (untracked). */
static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *c = ci ? ci->socket_context : NULL;

	return c == &untracked ? NULL : c;
}

/* Moves a connection to another phase (from its worker's thread). A
 * connection the server has cut stays out of the lists. */
static void conn_phase(struct conn *c, enum conn_phase p)
{
	struct worker *w;

	if (!c)
		return;
	w = c->w;
	pthread_mutex_lock(&w->lock);
	if (!c->cut) {
		list_del(c);
		c->phase = p;
		c->since = now_ms();
		c->window = 0;
		if (p == PH_HEAD)
			list_add(&w->heads, c);
		else if (p == PH_SEND)
			list_add(&w->sends, c);
	}
	pthread_mutex_unlock(&w->lock);
}

/* Closes a connection from outside MHD (worker's lock held): shutdown(2)
 * makes its worker see the end of the stream and close it. abort: reset
 * it instead, dropping whatever the kernel still holds for a client that
 * does not read (SO_LINGER 0). */
static void conn_cut(struct cdp_server *srv, struct conn *c, int abort)
{
	list_del(c);
	c->cut = 1;
	atomic_fetch_add_explicit(&srv->cutting, 1, memory_order_relaxed);
	if (abort) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	shutdown(c->fd, SHUT_RDWR);
}

/* ---- responses ---- */

static int reply_error(struct MHD_Connection *conn, struct cdp_req *req, int status, int close)
{
	char body[128];
	const char *reason = status == 404 ? "not found" :
			     status == 405 ? "method not allowed" :
			     status == 400 ? "bad request" : "error";
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
 * freed by completed(). */
static void *request_started(void *cls, const char *uri, struct MHD_Connection *conn)
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
static enum MHD_Result head_field(void *cls, enum MHD_ValueKind kind, const char *name,
				  const char *value)
{
	(void)kind;
	cdp_head_field(cls, name, value ? value : "");
	return MHD_YES;
}

/* Why the request head must be refused with 400 (RFC 9112, RFC 9110), or
 * NULL; body tells whether it declares a body. */
static const char *head_problem(struct MHD_Connection *conn, const struct cdp_req *req,
				const char *method, const char *url, const char *version, int *body)
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
static enum MHD_Result request_head(struct MHD_Connection *conn, struct cdp_req *req,
				    const char *url, const char *method, const char *version)
{
	char name[CDP_NAME_MAX + 1];
	const struct cdp_route *r;
	const char *why;
	int body = 0;

	req->seen = 1;
	snprintf(req->method, sizeof(req->method), "%s", method);
	snprintf(req->url, sizeof(req->url), "%s", url);
	conn_phase(conn_of(conn), PH_BUSY);
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
			   !r				     ? MHD_HTTP_NOT_FOUND :
			   r->methods & cdp_method_bit(method) ? MHD_HTTP_BAD_REQUEST :
								 MHD_HTTP_METHOD_NOT_ALLOWED,
			   1);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
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
			ret = r->handler(ctx, conn, req, name,
					 strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
	}
	if (req->status && !req->sending) {
		req->sending = 1;
		conn_phase(conn_of(conn), PH_SEND);
	}
	return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct cdp_ctx *ctx = cls;
	struct cdp_req *req = *req_cls;
	char addr[INET6_ADDRSTRLEN] = "-", line[1400], m[sizeof(req->method) * 4],
	     u[sizeof(req->url) * 4];
	struct timespec now;
	double ms;
	int n;

	if (!req)
		return;
	*req_cls = NULL;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		conn_phase(conn_of(conn), PH_HEAD); /* the next request's head starts now */
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
		atomic_fetch_add_explicit(
			&ctx->stats.req[req->route][cdp_status_slot(req->status)], 1,
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
		n = snprintf(line, sizeof(line), "%s \"%s %s\" %d %zu %.3fms%s", addr, m, u,
			     req->status, req->bytes, ms,
			     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
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
	srv->stop_fd = -1;
	atomic_init(&srv->total, 0);
	atomic_init(&srv->cutting, 0);
	atomic_init(&srv->cut_head, 0);
	atomic_init(&srv->cut_slow, 0);
	atomic_init(&srv->cut_full, 0);
	pthread_mutex_init(&srv->ip_lock, NULL);
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
	pthread_mutex_destroy(&srv->ip_lock);
	free(srv);
	return NULL;
}

/* ---- limits kept across the workers ---- */

static unsigned ip_bucket(const unsigned char key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h & (IP_BUCKETS - 1);
}

/* Counts one more connection from key, unless the per-IP limit is reached
 * (or the count cannot be stored): 1 admitted, 0 refused. */
static int ip_take(struct cdp_server *srv, const unsigned char key[16])
{
	struct ip_count **b = &srv->ip[ip_bucket(key)], *e;
	int ok = 0;

	pthread_mutex_lock(&srv->ip_lock);
	for (e = *b; e && memcmp(e->addr, key, 16) != 0; e = e->next)
		;
	if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
		memcpy(e->addr, key, 16);
		e->next = *b;
		*b = e;
	}
	if (e && e->n < srv->cfg->per_ip_limit) {
		e->n++;
		ok = 1;
	}
	pthread_mutex_unlock(&srv->ip_lock);
	return ok;
}

static void ip_release(struct cdp_server *srv, const unsigned char key[16])
{
	struct ip_count **p = &srv->ip[ip_bucket(key)], *e;

	pthread_mutex_lock(&srv->ip_lock);
	for (; (e = *p) != NULL; p = &e->next) {
		if (memcmp(e->addr, key, 16) == 0) {
			if (--e->n <= 0) {
				*p = e->next;
				free(e);
			}
			break;
		}
	}
	pthread_mutex_unlock(&srv->ip_lock);
}

/* Takes one connection off a worker's, the server's and (key not NULL) its
 * address's counts: the inverse of what admit() counted. */
static void uncount(struct cdp_server *srv, struct worker *w, const unsigned char *key)
{
	atomic_fetch_sub_explicit(&w->conns, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&srv->total, 1, memory_order_relaxed);
	if (key)
		ip_release(srv, key);
}

/* STARTED: the connection's record, in the head phase. CLOSED (which MHD
 * reports only after STARTED, and before it closes the socket): undoes the
 * acceptor's counting. */
static void conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			enum MHD_ConnectionNotificationCode code)
{
	struct worker *w = cls;
	struct cdp_server *srv = w->srv;
	const union MHD_ConnectionInfo *ci;
	unsigned char key[16];
	struct conn *c;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = ci ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			*socket_ctx = &untracked;
			return;
		}
		c->w = w;
		c->fd = ci->connect_fd;
		*socket_ctx = c;
		conn_phase(c, PH_HEAD);
		return;
	}
	c = *socket_ctx;
	if (!c)
		return;
	*socket_ctx = NULL;
	if (c != &untracked) {
		pthread_mutex_lock(&w->lock);
		list_del(c);
		if (c->cut)
			atomic_fetch_sub_explicit(&srv->cutting, 1, memory_order_relaxed);
		pthread_mutex_unlock(&w->lock);
		free(c);
	}
	ci = srv->cfg->per_ip_limit > 0 ?
		     MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) :
		     NULL;
	uncount(srv, w, ci && ci->client_addr && cdp_client_key(ci->client_addr, key) ? key : NULL);
}

/* At the connection limit: closes the connection that has waited longest
 * for a request head (a slow or idle client: one that is being served is
 * never chosen), so a new client gets its place. 1 if one was closed. */
static int evict_oldest_head(struct cdp_server *srv)
{
	struct worker *best = NULL;
	int64_t oldest = INT64_MAX;
	struct conn *c = NULL;
	size_t i;

	for (i = 0; i < srv->n_workers; i++) {
		struct worker *w = &srv->w[i];

		pthread_mutex_lock(&w->lock);
		if (w->heads.first && w->heads.first->since < oldest) {
			oldest = w->heads.first->since;
			best = w;
		}
		pthread_mutex_unlock(&w->lock);
	}
	if (!best)
		return 0;
	pthread_mutex_lock(&best->lock);
	c = best->heads.first;
	if (c)
		conn_cut(srv, c, 0);
	pthread_mutex_unlock(&best->lock);
	if (c)
		atomic_fetch_add_explicit(&srv->cut_full, 1, memory_order_relaxed);
	return c != NULL;
}

/* Admits or refuses one accepted socket and hands it to the least busy
 * worker. Refused sockets are closed at once: a client at a limit must fail
 * fast, not wait for a timeout (docs/crl-publication.md, "Failing fast").
 * At the connection limit, a connection waiting for its request head makes
 * way first. */
static void admit(struct cdp_server *srv, int cfd, const struct sockaddr *sa, socklen_t sl)
{
	const struct cdp_config *cfg = srv->cfg;
	struct worker *best = &srv->w[0];
	unsigned char key[16];
	int counted_ip = 0;
	size_t i;

	if (cfg->per_ip_limit > 0 && cdp_client_key(sa, key)) {
		if (!ip_take(srv, key)) {
			close(cfd);
			return;
		}
		counted_ip = 1;
	}
	/* Connections already cut are on their way out: not counted here. */
	if (atomic_load_explicit(&srv->total, memory_order_relaxed) -
			    atomic_load_explicit(&srv->cutting, memory_order_relaxed) >=
		    cfg->connection_limit &&
	    !evict_oldest_head(srv)) {
		if (counted_ip)
			ip_release(srv, key);
		close(cfd);
		return;
	}
	for (i = 1; i < srv->n_workers; i++)
		if (atomic_load_explicit(&srv->w[i].conns, memory_order_relaxed) <
		    atomic_load_explicit(&best->conns, memory_order_relaxed))
			best = &srv->w[i];
	atomic_fetch_add_explicit(&best->conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&srv->total, 1, memory_order_relaxed);
	/* On failure MHD has closed the socket and will not report it. */
	if (MHD_add_connection(best->d, cfd, sa, sl) != MHD_YES)
		uncount(srv, best, counted_ip ? key : NULL);
}

/* ---- the sweeper: header deadline and minimum send rate ---- */

/* Bytes of the connection's output the client has acknowledged. */
static int tcp_acked(int fd, uint64_t *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
		return 0;
	*out = ti.tcpi_bytes_acked;
	return 1;
}

static void sweep(struct cdp_server *srv, struct worker *w, int64_t now)
{
	const struct cdp_config *cfg = srv->cfg;
	int64_t head_ms = cfg->header_timeout * 1000, window_ms = cfg->timeout * 1000;
	struct conn *c, *next;

	pthread_mutex_lock(&w->lock);
	/* Oldest first: the head list is in the order the waits began. */
	while ((c = w->heads.first) != NULL && now - c->since >= head_ms) {
		conn_cut(srv, c, 0);
		atomic_fetch_add_explicit(&srv->cut_head, 1, memory_order_relaxed);
	}
	for (c = cfg->min_send_rate > 0 ? w->sends.first : NULL; c; c = next) {
		uint64_t acked;

		next = c->next;
		if (c->window && now - c->since < window_ms)
			continue;
		if (!tcp_acked(c->fd, &acked))
			continue;
		if (c->window && (acked - c->acked) * 1000 <
					 (uint64_t)cfg->min_send_rate * (uint64_t)(now - c->since)) {
			conn_cut(srv, c, 1);
			atomic_fetch_add_explicit(&srv->cut_slow, 1, memory_order_relaxed);
			continue;
		}
		c->since = now;
		c->acked = acked;
		c->window = 1;
	}
	pthread_mutex_unlock(&w->lock);
}

/* What the sweeper and the acceptor closed, at most one line per reason
 * every 10 s (a slowloris must not flood the log). */
static void report(struct cdp_server *srv, int64_t now)
{
	const struct cdp_config *cfg = srv->cfg;
	unsigned long n;
	int any = 0;

	if (srv->reported && now - srv->reported < 10000)
		return;
	if ((n = atomic_exchange(&srv->cut_head, 0)) != 0) {
		pkl_log(PKL_LOG_INFO,
			"closed %lu connection(s): request head not complete within %llds (header_timeout)",
			n, (long long)cfg->header_timeout);
		any = 1;
	}
	if ((n = atomic_exchange(&srv->cut_slow, 0)) != 0) {
		pkl_log(PKL_LOG_INFO,
			"closed %lu connection(s): response read slower than %ld bytes/s over %llds (min_send_rate)",
			n, cfg->min_send_rate, (long long)cfg->timeout);
		any = 1;
	}
	if ((n = atomic_exchange(&srv->cut_full, 0)) != 0) {
		pkl_log(PKL_LOG_WARN,
			"closed %lu connection(s) still waiting for a request head, to admit new clients at connection_limit (%ld)",
			n, cfg->connection_limit);
		any = 1;
	}
	if (any)
		srv->reported = now;
}

static void *sweeper_main(void *arg)
{
	struct cdp_server *srv = arg;
	struct pollfd pfd = { .fd = srv->stop_fd, .events = POLLIN };
	size_t i;

	for (;;) {
		int64_t now;

		if (poll(&pfd, 1, 250) > 0)
			break;
		now = now_ms();
		for (i = 0; i < srv->n_workers; i++)
			sweep(srv, &srv->w[i], now);
		report(srv, now);
	}
	return NULL;
}

static void *acceptor_main(void *arg)
{
	struct cdp_server *srv = arg;
	struct pollfd pfd[CDP_LIST_MAX + 1];
	size_t i;
	int backoff = 0;
	time_t last_warned = 0;

	for (i = 0; i < srv->n; i++)
		pfd[i] = (struct pollfd){ .fd = srv->fds[i], .events = POLLIN };
	pfd[srv->n] = (struct pollfd){ .fd = srv->stop_fd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, srv->n + 1, backoff ? 10 : -1) < 0 && errno != EINTR)
			break;
		if (pfd[srv->n].revents)
			break;
		backoff = 0;
		for (i = 0; i < srv->n; i++) {
			int burst;

			if (!(pfd[i].revents & POLLIN))
				continue;
			/* A bounded burst per socket keeps every listen address served. */
			for (burst = 0; burst < 64; burst++) {
				struct sockaddr_storage ss = { 0 };
				socklen_t sl = sizeof(ss);
				int cfd = accept4(srv->fds[i], (struct sockaddr *)&ss, &sl,
						  SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (cfd >= 0) {
					admit(srv, cfd, (struct sockaddr *)&ss, sl);
					continue;
				}
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				    errno == ENOMEM) {
					/* Out of descriptors: the pending clients wait in the
					 * backlog; retry in 10 ms instead of spinning, and say
					 * so at most once a second. */
					time_t now = time(NULL);

					if (now != last_warned)
						pkl_log(PKL_LOG_WARN, "%s: cannot accept: %s",
							srv->cfg->listen[i], strerror(errno));
					last_warned = now;
					backoff = 1;
				}
				if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO)
					break;
			}
		}
	}
	return NULL;
}

enum pkl_rc cdp_server_start(struct cdp_server *srv, struct cdp_ctx *ctx, struct pkl_err *err)
{
	const struct cdp_config *cfg = srv->cfg;
	unsigned threads = (unsigned)cfg->threads;
	size_t i;

	if (!threads) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		/* One worker per CPU, like nginx's worker_processes auto. With the
		 * acceptor balancing connections, more workers than CPUs only
		 * time-slice the same CPUs: on 2 CPUs, 8 workers served a 4 MB CRL
		 * to 500 clients with a p99 of 1.06 s, 2 workers with 0.46 s
		 * (bench/cdpd.sh). */
		threads = c < 1 ? 1 : c > 64 ? 64 : (unsigned)c;
	}
	srv->w = calloc(threads, sizeof(*srv->w));
	if (!srv->w)
		return pkl_err_set(err, PKL_ERUNTIME, "", "out of memory");
	for (i = 0; i < threads; i++) {
		struct worker *w = &srv->w[i];

		atomic_init(&w->conns, 0);
		w->srv = srv;
		pthread_mutex_init(&w->lock, NULL);
		srv->n_workers = i + 1;
		/* The acceptor enforces the limits; MHD's own connection limit is
		 * only a backstop, above the limit by the connections that were
		 * cut to make room and that this worker has not closed yet. */
		w->d = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
				MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG,
			0, NULL, NULL, access_handler, ctx,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit * 2,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_request_size + 4096,
			MHD_OPTION_NOTIFY_COMPLETED, completed, ctx,
			MHD_OPTION_NOTIFY_CONNECTION, conn_notify, w,
			MHD_OPTION_URI_LOG_CALLBACK, request_started, NULL,
			MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
			/* Not MHD's strict mode: at level 1, 0.9.75 drops a request with
			 * a space in its target without an answer. Level 0 passes such
			 * requests on, and request_head() refuses them, with everything
			 * strict mode checked (Host, whitespace before a colon) and more,
			 * with a 400 (RFC 9112 §3.2, §5.1). */
			MHD_OPTION_STRICT_FOR_CLIENT, 0,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
			MHD_OPTION_END);
		if (!w->d)
			return pkl_err_set(err, PKL_ERUNTIME, "", "cannot start HTTP worker %zu of %u",
					   i + 1, threads);
	}
	srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->stop_fd < 0)
		return pkl_err_sys(err, "", "eventfd");
	if (pthread_create(&srv->sweeper, NULL, sweeper_main, srv) != 0)
		return pkl_err_set(err, PKL_ERUNTIME, "", "cannot start the sweeper thread");
	srv->sweeper_running = 1;
	if (pthread_create(&srv->acceptor, NULL, acceptor_main, srv) != 0)
		return pkl_err_set(err, PKL_ERUNTIME, "", "cannot start the acceptor thread");
	srv->acceptor_running = 1;
	for (i = 0; i < srv->n; i++)
		pkl_log(PKL_LOG_INFO, "listening on %s (%u worker threads)", cfg->listen[i], threads);
	return PKL_OK;
}

size_t cdp_server_worker_conns(const struct cdp_server *srv, long *out, size_t max)
{
	size_t i;

	for (i = 0; i < srv->n_workers && i < max; i++)
		out[i] = atomic_load_explicit(&srv->w[i].conns, memory_order_relaxed);
	return i;
}

void cdp_server_stop(struct cdp_server *srv)
{
	uint64_t one = 1;
	size_t i;

	if (!srv)
		return;
	if (srv->acceptor_running) {
		if (write(srv->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			pkl_log(PKL_LOG_WARN, "cannot wake the acceptor: %s", strerror(errno));
		pthread_join(srv->acceptor, NULL);
	}
	if (srv->sweeper_running) {
		/* The eventfd stays readable: the same write wakes both threads. */
		if (!srv->acceptor_running &&
		    write(srv->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			pkl_log(PKL_LOG_WARN, "cannot wake the sweeper: %s", strerror(errno));
		pthread_join(srv->sweeper, NULL);
	}
	for (i = 0; i < srv->n; i++)
		if (srv->fds[i] >= 0)
			close(srv->fds[i]);
	for (i = 0; i < srv->n_workers; i++) {
		if (srv->w[i].d)
			MHD_stop_daemon(srv->w[i].d);
		pthread_mutex_destroy(&srv->w[i].lock);
	}
	for (i = 0; i < IP_BUCKETS; i++)
		while (srv->ip[i]) {
			struct ip_count *e = srv->ip[i];

			srv->ip[i] = e->next;
			free(e);
		}
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	pthread_mutex_destroy(&srv->ip_lock);
	free(srv->w);
	free(srv);
}
