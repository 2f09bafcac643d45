/*
 * The sweeper: the bounds on slow clients (slowloris, slow readers) that
 * MHD's timeout cannot give, since it is only an inactivity timeout that
 * every byte resets. A thread wakes every 250 ms and closes a connection
 * whose request head is not complete within header_timeout (like nginx's
 * client_header_timeout), and one whose client reads a response slower
 * than min_send_rate over a `timeout` window, measured as the bytes the
 * client acknowledged (TCP_INFO). What it closed goes to the log, at most
 * one line per reason every 10 s.
 */
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (glibc's lacks it) */
#include <netinet/in.h>
#include <poll.h>
#include <string.h>

#include "server.h"

int cdp_too_slow(uint64_t acked, int64_t ms, long min_rate)
{
	return acked * 1000 < (uint64_t)min_rate * (uint64_t)ms;
}

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

static void sweep(struct cdp_server *srv, struct cdp_worker *w, int64_t now)
{
	const struct cdp_config *cfg = srv->cfg;
	int64_t head_ms = cfg->header_timeout * 1000, window_ms = cfg->timeout * 1000;
	struct cdp_conn *c, *next;

	pthread_mutex_lock(&w->lock);
	/* Oldest first: the head list is in the order the waits began. */
	while ((c = w->heads.first) != NULL && now - c->since >= head_ms) {
		cdp_conn_cut(srv, c, 0);
		atomic_fetch_add_explicit(&srv->cut_head, 1, memory_order_relaxed);
	}
	for (c = cfg->min_send_rate > 0 ? w->sends.first : NULL; c; c = next) {
		uint64_t acked;

		next = c->next;
		if (c->window && now - c->since < window_ms)
			continue;
		if (!tcp_acked(c->fd, &acked))
			continue;
		if (c->window && cdp_too_slow(acked - c->acked, now - c->since, cfg->min_send_rate)) {
			cdp_conn_cut(srv, c, 1);
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
			"closed %lu connection(s): response read slower than %ld bytes/s over %llds "
			"(min_send_rate)",
			n, cfg->min_send_rate, (long long)cfg->timeout);
		any = 1;
	}
	if ((n = atomic_exchange(&srv->cut_full, 0)) != 0) {
		pkl_log(PKL_LOG_WARN,
			"closed %lu connection(s) still waiting for a request head, to admit new clients at "
			"connection_limit (%ld)",
			n, cfg->connection_limit);
		any = 1;
	}
	if (any)
		srv->reported = now;
}

void *cdp_sweeper_main(void *arg)
{
	struct cdp_server *srv = arg;
	struct pollfd pfd = { .fd = srv->stop_fd, .events = POLLIN };
	size_t i;

	for (;;) {
		int64_t now;

		if (poll(&pfd, 1, 250) > 0)
			break;
		now = cdp_now_ms();
		for (i = 0; i < srv->n_workers; i++)
			sweep(srv, &srv->w[i], now);
		report(srv, now);
	}
	return NULL;
}
