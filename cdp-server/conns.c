/*
 * Each connection's phase and the counts the limits are kept with. The
 * acceptor hands each new connection to the worker with the fewest: MHD's
 * own thread pool lets whichever worker wakes first accept a burst, so one
 * worker can end up owning most keep-alive clients and serve them slower
 * than the rest (long-lived CRL fetchers and load balancers' health checks
 * never move). The connection and per-IP limits are kept across all the
 * workers (t6007). A connection is waiting for a request head (from the
 * accept or the end of the previous response), busy in a handler, or
 * sending a response; the worker lists the waiting and the sending ones for
 * the sweeper. At the connection limit, a new client takes the place of the
 * connection that has waited longest for a request head, so connections that
 * send nothing useful cannot lock real clients out however many addresses
 * they come from. Closing is a shutdown(2) of the socket under the worker's
 * lock, which MHD then sees as a closed connection; the lock is also taken by
 * MHD's close notification, which comes before MHD closes the descriptor, so
 * it is never a stale one.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* The socket context of a connection that could not get its struct cdp_conn:
 * counted, never listed. */
static struct cdp_conn untracked;

int64_t cdp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void list_del(struct cdp_conn *c)
{
	struct cdp_conn_list *l = c->list;

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

static void list_add(struct cdp_conn_list *l, struct cdp_conn *c)
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
static struct cdp_conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct cdp_conn *c = ci ? ci->socket_context : NULL;

	return c == &untracked ? NULL : c;
}

/* Moves a connection to another phase (from its worker's thread). A
 * connection the server has cut stays out of the lists. */
static void conn_phase(struct cdp_conn *c, enum cdp_conn_phase p)
{
	struct cdp_worker *w;

	if (!c)
		return;
	w = c->w;
	pthread_mutex_lock(&w->lock);
	if (!c->cut) {
		list_del(c);
		c->phase = p;
		c->since = cdp_now_ms();
		c->window = 0;
		if (p == CDP_PH_HEAD)
			list_add(&w->heads, c);
		else if (p == CDP_PH_SEND)
			list_add(&w->sends, c);
	}
	pthread_mutex_unlock(&w->lock);
}

void cdp_conn_enter(struct MHD_Connection *mc, enum cdp_conn_phase p)
{
	conn_phase(conn_of(mc), p);
}

/* Closes a connection from outside MHD (worker's lock held): shutdown(2)
 * makes its worker see the end of the stream and close it. abort: reset
 * it instead, dropping whatever the kernel still holds for a client that
 * does not read (SO_LINGER 0). */
void cdp_conn_cut(struct cdp_server *srv, struct cdp_conn *c, int abort)
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

/* Takes one connection off a worker's, the server's and (key not NULL) its
 * address's counts: the inverse of what cdp_admit() counted. */
static void uncount(struct cdp_server *srv, struct cdp_worker *w, const unsigned char *key)
{
	atomic_fetch_sub_explicit(&w->conns, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&srv->total, 1, memory_order_relaxed);
	if (key)
		cdp_iplimit_release(&srv->ip, key);
}

/* STARTED: the connection's record, in the head phase. CLOSED (which MHD
 * reports only after STARTED, and before it closes the socket): undoes the
 * acceptor's counting. */
void cdp_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
		     enum MHD_ConnectionNotificationCode code)
{
	struct cdp_worker *w = cls;
	struct cdp_server *srv = w->srv;
	const union MHD_ConnectionInfo *ci;
	unsigned char key[16];
	struct cdp_conn *c;

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
		conn_phase(c, CDP_PH_HEAD);
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
	ci = srv->cfg->per_ip_limit > 0 ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) :
					  NULL;
	uncount(srv, w, ci && ci->client_addr && cdp_client_key(ci->client_addr, key) ? key : NULL);
}

/* At the connection limit: closes the connection that has waited longest
 * for a request head (a slow or idle client: one that is being served is
 * never chosen), so a new client gets its place. 1 if one was closed. */
static int evict_oldest_head(struct cdp_server *srv)
{
	struct cdp_worker *best = NULL;
	int64_t oldest = INT64_MAX;
	struct cdp_conn *c = NULL;
	size_t i;

	for (i = 0; i < srv->n_workers; i++) {
		struct cdp_worker *w = &srv->w[i];

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
		cdp_conn_cut(srv, c, 0);
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
void cdp_admit(struct cdp_server *srv, int cfd, const struct sockaddr *sa, socklen_t sl)
{
	const struct cdp_config *cfg = srv->cfg;
	struct cdp_worker *best = &srv->w[0];
	unsigned char key[16];
	int counted_ip = 0;
	size_t i;

	if (cfg->per_ip_limit > 0 && cdp_client_key(sa, key)) {
		if (!cdp_iplimit_take(&srv->ip, key, cfg->per_ip_limit)) {
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
			cdp_iplimit_release(&srv->ip, key);
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
