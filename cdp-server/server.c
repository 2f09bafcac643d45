/*
 * The HTTP side's setup: the listening sockets, an acceptor thread and a
 * pool of single-threaded libmicrohttpd epoll daemons (the workers) with
 * their limits (connection limit, idle timeout, request size), started and
 * stopped together with the sweeper. Sockets are bound first
 * (cdp_server_bind) so privileges can be dropped before any request is
 * read. The acceptor accepts in bounded bursts per listen address and hands
 * each socket to conns.c's cdp_admit, which keeps the limits across the
 * workers; what the workers do with a request is request.c's, the bounds on
 * slow clients sweeper.c's.
 */
#define _GNU_SOURCE /* accept4(): non-blocking, close-on-exec sockets in one call */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

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
	cdp_iplimit_init(&srv->ip);
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
				pkl_log(PKL_LOG_WARN, "%s: cannot set the send buffer: %s", cfg->listen[i],
					strerror(errno));
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
	cdp_iplimit_free(&srv->ip);
	free(srv);
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
					cdp_admit(srv, cfd, (struct sockaddr *)&ss, sl);
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
		struct cdp_worker *w = &srv->w[i];

		atomic_init(&w->conns, 0);
		w->srv = srv;
		pthread_mutex_init(&w->lock, NULL);
		srv->n_workers = i + 1;
		/* The acceptor enforces the limits; MHD's own connection limit is
		 * only a backstop, above the limit by the connections that were
		 * cut to make room and that this worker has not closed yet. */
		w->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
						MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG,
					0, NULL, NULL, cdp_http_access, ctx, MHD_OPTION_CONNECTION_LIMIT,
					(unsigned)cfg->connection_limit * 2, MHD_OPTION_CONNECTION_TIMEOUT,
					(unsigned)cfg->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					(size_t)cfg->max_request_size + 4096, MHD_OPTION_NOTIFY_COMPLETED,
					cdp_http_completed, ctx, MHD_OPTION_NOTIFY_CONNECTION,
					cdp_conn_notify, w, MHD_OPTION_URI_LOG_CALLBACK, cdp_http_started,
					NULL, MHD_OPTION_UNESCAPE_CALLBACK, cdp_http_no_unescape, NULL,
					/* Not MHD's strict mode: at level 1, 0.9.75 drops a request with
			 * a space in its target without an answer. Level 0 passes such
			 * requests on, and request.c refuses them at their head, with everything
			 * strict mode checked (Host, whitespace before a colon) and more,
			 * with a 400 (RFC 9112 §3.2, §5.1). */
					MHD_OPTION_STRICT_FOR_CLIENT, 0, MHD_OPTION_EXTERNAL_LOGGER,
					mhd_logger, NULL, MHD_OPTION_END);
		if (!w->d)
			return pkl_err_set(err, PKL_ERUNTIME, "", "cannot start HTTP worker %zu of %u", i + 1,
					   threads);
	}
	srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->stop_fd < 0)
		return pkl_err_sys(err, "", "eventfd");
	if (pthread_create(&srv->sweeper, NULL, cdp_sweeper_main, srv) != 0)
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
		if (!srv->acceptor_running && write(srv->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
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
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	cdp_iplimit_free(&srv->ip);
	free(srv->w);
	free(srv);
}
