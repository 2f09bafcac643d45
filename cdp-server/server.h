/*
 * The HTTP side's parts, shared by server.c (the daemons, the acceptor and
 * their setup), conns.c (each connection's phase and the counts the limits
 * are kept with), iplimit.c (open connections per client address),
 * sweeper.c (the header deadline and the minimum send rate) and request.c
 * (a request from its head to its access-log line); nothing else includes
 * this. The rest of the server sees struct cdp_server through cdpd.h.
 */
#ifndef CDP_SERVER_H
#define CDP_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "cdpd.h"

/* ---- open connections per client address (iplimit.c) ---- */

#define CDP_IP_BUCKETS 4096

struct cdp_ip_count;

/* Counts under a client key (cdp_client_key), all workers together. */
struct cdp_iplimit {
	pthread_mutex_t lock;
	struct cdp_ip_count *b[CDP_IP_BUCKETS];
};

void cdp_iplimit_init(struct cdp_iplimit *t);
/* Counts one more connection from key unless limit are open already (or the
 * count cannot be stored): 1 admitted, 0 refused. */
int cdp_iplimit_take(struct cdp_iplimit *t, const unsigned char key[16], long limit);
/* One connection from key closed; the entry goes with the last one. */
void cdp_iplimit_release(struct cdp_iplimit *t, const unsigned char key[16]);
/* Open connections counted under key (0 when it has no entry). */
long cdp_iplimit_count(struct cdp_iplimit *t, const unsigned char key[16]);
void cdp_iplimit_free(struct cdp_iplimit *t);

/* ---- connections (conns.c) ---- */

struct cdp_conn;

/* A worker's connections waiting for a request head (oldest first) or
 * sending a response. */
struct cdp_conn_list {
	struct cdp_conn *first, *last;
};

struct cdp_worker {
	struct MHD_Daemon *d;
	atomic_long conns;
	struct cdp_server *srv;
	pthread_mutex_t lock; /* the lists and every conn's phase fields */
	struct cdp_conn_list heads, sends;
};

enum cdp_conn_phase {
	CDP_PH_HEAD,
	CDP_PH_BUSY,
	CDP_PH_SEND
};

/* One connection (MHD's socket context), from MHD's STARTED to its CLOSED
 * notification. Fields below fd change under the worker's lock. */
struct cdp_conn {
	struct cdp_worker *w;
	int fd;
	enum cdp_conn_phase phase;
	int64_t since;              /* ms: the head phase began / the rate window began */
	uint64_t acked;             /* bytes acknowledged at the start of the window */
	int window;                 /* since/acked hold a rate window */
	int cut;                    /* shut down by the server; no longer listed */
	struct cdp_conn_list *list; /* &w->heads, &w->sends or NULL */
	struct cdp_conn *prev, *next;
};

struct cdp_server {
	const struct cdp_config *cfg;
	int fds[CDP_LIST_MAX];
	size_t n;
	struct cdp_worker *w;
	size_t n_workers;
	atomic_long total;
	struct cdp_iplimit ip;
	int stop_fd; /* eventfd: wakes the acceptor and the sweeper to exit */
	pthread_t acceptor, sweeper;
	int acceptor_running, sweeper_running;
	atomic_long cutting;                       /* shut down by the server, not yet closed by MHD */
	atomic_ulong cut_head, cut_slow, cut_full; /* why, since the last report */
	int64_t reported;                          /* ms of the last report (sweeper thread only) */
};

/* CLOCK_MONOTONIC in milliseconds. */
int64_t cdp_now_ms(void);
/* Moves the connection of mc to another phase (from its worker's thread). */
void cdp_conn_enter(struct MHD_Connection *mc, enum cdp_conn_phase p);
/* Closes a connection from outside MHD (worker's lock held); abort: reset
 * it (SO_LINGER 0). */
void cdp_conn_cut(struct cdp_server *srv, struct cdp_conn *c, int abort);
/* MHD_OPTION_NOTIFY_CONNECTION (cls: the worker). */
void cdp_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
		     enum MHD_ConnectionNotificationCode code);
/* Admits or refuses one accepted socket and hands it to a worker. */
void cdp_admit(struct cdp_server *srv, int cfd, const struct sockaddr *sa, socklen_t sl);

/* ---- the sweeper (sweeper.c) ---- */

/* Whether a client that acknowledged acked bytes over ms milliseconds reads
 * slower than min_rate bytes/s. */
int cdp_too_slow(uint64_t acked, int64_t ms, long min_rate);
/* The sweeper thread (arg: the server). */
void *cdp_sweeper_main(void *arg);

/* ---- requests (request.c): libmicrohttpd's callbacks (cls: the cdp_ctx) ---- */

enum MHD_Result cdp_http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				const char *version, const char *upload_data, size_t *upload_data_size,
				void **req_cls);
void cdp_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			enum MHD_RequestTerminationCode toe);
void *cdp_http_started(void *cls, const char *uri, struct MHD_Connection *conn);
size_t cdp_http_no_unescape(void *cls, struct MHD_Connection *c, char *s);

#endif
