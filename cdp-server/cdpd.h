/*
 * pkilab-cdpd internals: the pieces of the CDP/AIA server and how they meet.
 *
 *   config.c    settings from flags and/or a libconfig file (every error names file:line)
 *   readfile.c  the one reader of files the server serves or trusts
 *   blob.c      refcounted bodies (CRL and certificate bytes), memfd for sendfile
 *   snapshot.c  the immutable snapshot a request is answered from: entries, problems
 *   trust.c     the trust set: configured CA certificates and CAs learned from peers
 *   catalog.c   the catalog: the current snapshot swapped atomically, the reload
 *               (trust set, publish dirs), peers' offers, the rollback marks
 *   catalog.h   the parts snapshot.c, trust.c and catalog.c share
 *   routes.c    the route table (data) and strict URL matching
 *   httpdate.c  HTTP dates and ETags (validators, conditional requests)
 *   server.c    the listening sockets, the acceptor and the libmicrohttpd daemons
 *   conns.c     each connection's phase, the connection limit and its eviction
 *   iplimit.c   open connections per client address (per_ip_limit)
 *   sweeper.c   the header deadline and the minimum send rate
 *   request.c   a request from its head (framing, routing) to its access-log line
 *   server.h    the parts the five files above share
 *   serve.c     serving helpers: an entry with its caching headers and
 *               conditional requests (304), small text replies
 *   health.c    the health verdict (/healthz, /metrics, the status page)
 *   h_*.c       one handler per route
 *   mirror.c    pulls from peers (libcurl), feeding candidates through the same rules
 *   judge.c     the rules: whether a candidate CRL may replace the served one, and
 *               whether a CA certificate a peer offers was issued by a trusted CA
 *   state.c     the CRL-number high-water marks kept in state_dir across restarts
 *   watch.c     inotify on the publish directories
 *   cdplog.c    the log sink (one line per event, timestamped)
 *
 * Threads: MHD's worker pool answers requests from the current snapshot; the
 * main thread (signals, inotify) and the mirror thread build new snapshots
 * under the catalog's build lock. A response holds a reference to the
 * snapshot whose bytes it sends, so a swap never frees bytes in flight.
 */
#ifndef CDPD_H
#define CDPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "pkilab/crl_read.h"
#include "pkilab/err.h"
#include "pkilab/log.h"
#include "pkilab/ptime.h"

struct pkl_buf;

#define CDP_NAME_MAX     64 /* a CA name in a URL: [A-Za-z0-9._-]{1,64}, no leading dot */
#define CDP_LIST_MAX     16 /* publish dirs, listen addresses, peers, trust paths */
#define CDP_SOURCE_MAX   512
#define CDP_SETTINGS_MAX 32 /* rows of cdp_config.at: at least config.c's settings */

/* ---- configuration (config.c) ---- */

struct cdp_config {
	char *publish[CDP_LIST_MAX];
	size_t n_publish;
	char *listen[CDP_LIST_MAX];
	size_t n_listen;
	char *mirror[CDP_LIST_MAX]; /* peer base URLs, no trailing '/' */
	size_t n_mirror;
	char *trust[CDP_LIST_MAX]; /* CA certificate files or directories */
	size_t n_trust;
	char *user;      /* drop to this user after binding when root */
	char *state_dir; /* CRL-number high-water marks; NULL: kept in memory only */
	enum pkl_log_level log_level;
	int access_log;
	int64_t max_age;         /* Cache-Control cap: the re-publication interval */
	int64_t health_margin;   /* /healthz fails when a CRL is this close to nextUpdate */
	int64_t timeout;         /* connection (idle) timeout, seconds */
	int64_t header_timeout;  /* whole request head, seconds from accept or the last response */
	long min_send_rate;      /* bytes/s a response must be read at, per `timeout` window; 0: off */
	int64_t mirror_interval; /* seconds between pulls */
	int64_t mirror_timeout;  /* whole-transfer bound per pull, seconds */
	long mirror_max_size;    /* bytes */
	long max_crl_size;       /* bytes read from disk per file */
	long threads;            /* worker threads (MHD daemons), shared by every listen address */
	long connection_limit;
	long per_ip_limit;     /* 0: unlimited */
	long max_request_size; /* bytes of request line + headers */
	long backlog;
	long send_buffer; /* SO_SNDBUF bytes for every connection, 0: autotuning */
	char source[512]; /* the config file, "" for flags only */
	/* Where each value was set, by setting (config.c's table order) and list
	 * index: "cdpd.conf:7", "--listen", "" for a default. */
	char at[CDP_SETTINGS_MAX][CDP_LIST_MAX][160];
};

/* Defaults, then the config file (--config), then flags: flags win. Returns
 * PKL_OK, PKL_EINPUT with err set, or -1 after --help/--version (printed). */
int cdp_config_parse(struct cdp_config *cfg, int argc, char **argv, struct pkl_err *err);
void cdp_config_free(struct cdp_config *cfg);
/* Where the value idx of setting name was written ("cdpd.conf:7",
 * "--user"), or NULL for a default or an unknown name. */
const char *cdp_config_where(const struct cdp_config *cfg, const char *name, size_t idx);
/* An error found after parsing (binding, the privilege drop, state_dir)
 * whose `where` is a setting's name or one of its values is rewritten to
 * name where that value was written and what it was: "cdpd.conf:7:
 * listen: '192.0.2.1:80': cannot bind: ...". Other errors are left as
 * they are (a file's own path and line, say). */
void cdp_config_locate(const struct cdp_config *cfg, struct pkl_err *err);
/* Splits "ADDR:PORT" / "[v6]:PORT" / ":PORT" / "PORT" into a sockaddr. */
struct sockaddr_storage;
enum pkl_rc cdp_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *sslen,
			     struct pkl_err *err);

/* ---- logging (cdplog.c) ---- */

void cdp_log_init(enum pkl_log_level level);
/* One access-log line, written with a single write(2). */
void cdp_log_access(const char *line, size_t len);
/* Copies s into out (size > 0, always terminated, cut to fit) with every
 * byte outside 0x20-0x7e, and '"' and '\\', written as \xHH: a client's
 * bytes can never end a quoted log field or reach a terminal. */
void cdp_log_escape(const char *s, char *out, size_t size);

/* ---- reading files (readfile.c) ---- */

/* The one way the server reads a file it serves or trusts (publish crl/ and
 * aia/, trust files and directories, the state file): a regular file only,
 * opened without blocking (O_NONBLOCK: a FIFO, a tty or /dev/ptmx never
 * hangs the control loop) and read up to max bytes. With base set (the
 * directory the file was found in), a symbolic link is followed only when
 * it resolves inside base; without base (a path an administrator
 * configured) links are followed. On failure err says why and *absent (when
 * given) is 1 only when the path does not exist (ENOENT): every other error
 * (EACCES, ENOTDIR, a device) is a problem, never "no file". */
enum pkl_rc cdp_file_read(const char *path, const char *base, size_t max, struct pkl_buf *out, int *absent,
			  struct pkl_err *err);
/* Whether s ends with suf (and is longer). */
int cdp_has_suffix(const char *s, const char *suf);
/* scandir(3) order: by name, bytewise. */
struct dirent;
int cdp_name_sort(const struct dirent **a, const struct dirent **b);

enum cdp_kind {
	CDP_CRL = 0,
	CDP_AIA = 1
};

/* ---- refcounted bodies (blob.c) ---- */

/* Immutable bytes shared by the snapshots that contain them. */
struct cdp_blob {
	atomic_long refs;
	int fd; /* a sealed memfd with the same bytes for large bodies (sendfile), or -1 */
	size_t len;
	unsigned char data[];
};
/* Bodies at least this large are also kept in a memfd so MHD can sendfile()
 * them: no copy through user space for a 4 MB CRL. */
#ifndef CDP_SENDFILE_MIN
#define CDP_SENDFILE_MIN ((size_t)64 * 1024)
#endif
struct cdp_blob *cdp_blob_new(const void *data, size_t len);
struct cdp_blob *cdp_blob_ref(struct cdp_blob *b);
void cdp_blob_unref(struct cdp_blob *b);

/* ---- the snapshot (snapshot.c) ---- */

struct cdp_entry {
	enum cdp_kind kind;
	char name[CDP_NAME_MAX + 1];
	struct cdp_blob *body;
	char etag[68];               /* "\"<sha-256 hex>\"": content-derived, identical on every mirror */
	pkl_time last_modified;      /* CRL thisUpdate; certificate notBefore */
	pkl_time expires;            /* CRL nextUpdate; 0 for certificates */
	char last_modified_http[32]; /* the same, as HTTP-dates */
	char expires_http[32];
	struct pkl_crlinfo info;     /* CRLs only */
	char source[CDP_SOURCE_MAX]; /* file or URL it came from */
	pkl_time loaded_at;
	/* Ready-made MHD responses (200, 304) with the steady-state headers,
	 * built on first use and shared by every request while this snapshot
	 * lives; NULL in a fresh snapshot. The one mutable part of a snapshot. */
	_Atomic(void *) cached[2];
	int learned; /* AIA: the CA certificate was learned from a peer
				      * (source is its URL, loaded_at when), not configured */
};

/* Why something on disk or at a peer is not being served. `fatal` problems
 * fail /healthz; the others (a peer that is down or behind) are warnings. */
struct cdp_problem {
	char ca[CDP_NAME_MAX + 1];
	char source[CDP_SOURCE_MAX];
	char msg[512];
	int fatal;
	int note; /* a catalog note (peer trouble, state file), re-added at every publish */
};

struct cdp_snapshot {
	atomic_long refs;
	uint64_t generation;
	pkl_time built_at;
	struct cdp_entry *entries; /* sorted by (kind, name) */
	size_t n_entries;
	struct cdp_problem *problems;
	size_t n_problems;
	int awaiting_pull; /* a mirror whose first pull has not reached a peer yet */
};

const struct cdp_entry *cdp_snapshot_find(const struct cdp_snapshot *s, enum cdp_kind kind, const char *name);
struct cdp_snapshot *cdp_snapshot_ref(struct cdp_snapshot *s);
void cdp_snapshot_release(struct cdp_snapshot *s);

/* ---- the judges (judge.c) ---- */

enum cdp_verdict {
	CDP_ACCEPT,     /* newer (or first): serve it */
	CDP_SAME,       /* byte-identical to what is served */
	CDP_OLDER,      /* valid but a lower CRL number: rollback refused */
	CDP_CONFLICT,   /* same CRL number, different bytes */
	CDP_STALE,      /* valid but expired while the served one is not */
	CDP_INVALID,    /* does not parse or verify */
	CDP_UNKNOWN_CA, /* no trusted certificate for that CA name */
	CDP_UNTRUSTED   /* a CA certificate not issued by a configured trusted CA (or a root) */
};
const char *cdp_verdict_name(enum cdp_verdict v);

/* The one rule for every candidate CRL, from disk or from a peer. cur is
 * the served entry (NULL if none); info is filled when it parsed. */
enum cdp_verdict cdp_judge_crl(const struct cdp_entry *cur, const unsigned char *der, size_t len, X509 *ca,
			       pkl_time now, const char *where, struct pkl_crlinfo *info,
			       struct pkl_err *err);

/* A CA certificate offered by a peer: DER with no trailing bytes, a CA
 * (basicConstraints cA, keyUsage keyCertSign), not self-issued, valid at
 * now, and issued by one of `issuers` (the configured trust set, never a
 * learned CA): issuer DN byte-equal to its subject, AKI equal to its SKI when
 * both are present, a signature its key verifies. On CDP_ACCEPT *out gets
 * the parsed certificate (caller frees); otherwise CDP_INVALID or
 * CDP_UNTRUSTED with err saying why. */
enum cdp_verdict cdp_judge_ca(const unsigned char *der, size_t len, X509 *const *issuers,
			      const char *const *issuer_names, size_t n_issuers, pkl_time now,
			      const char *where, X509 **out, struct pkl_err *err);

/* ---- the catalog (catalog.c; learned CAs: trust.c) ---- */

struct cdp_catalog;

/* trust may be empty: then every publish dir's aia/ is trusted. */
struct cdp_catalog *cdp_catalog_new(const struct cdp_config *cfg);
void cdp_catalog_free(struct cdp_catalog *cat);
/* The current snapshot with a reference the caller releases. Never NULL. */
struct cdp_snapshot *cdp_catalog_acquire(struct cdp_catalog *cat);
/* The current snapshot, borrowed: valid until this thread's next call (the
 * thread keeps one reference, dropped at thread exit). No lock and no
 * reference counting on the request path: a worker re-pins only when the
 * catalog's generation moved. Responses must hold their own references to
 * the bytes they send (blob references), never to the pinned snapshot.
 * NULL only when out of memory. */
const struct cdp_snapshot *cdp_catalog_pin(struct cdp_catalog *cat);
/* Re-reads trust and publish directories; swaps in a new snapshot. */
void cdp_catalog_reload(struct cdp_catalog *cat, const char *why);
/* A CRL fetched from a peer: judged like a file; swaps on acceptance.
 * Peer problems are warnings, recorded under `source`. */
enum cdp_verdict cdp_catalog_offer_crl(struct cdp_catalog *cat, const char *ca, const unsigned char *der,
				       size_t len, const char *source, struct pkl_err *err);
/* A CA certificate fetched from a peer under `name` (mirror mode). Refused
 * as CDP_CONFLICT when a configured CA has that name with other bytes (a
 * peer never replaces a configured CA), judged by cdp_judge_ca() otherwise.
 * A CA learned earlier is replaced only by one with a later notBefore
 * (CDP_OLDER / CDP_CONFLICT otherwise). An accepted CA is served at
 * /aia/<name>.crt, its CRLs are accepted like a configured CA's, and it is
 * kept across reloads for the process lifetime (dropped when a configured CA
 * takes its name or its issuer is no longer trusted). */
enum cdp_verdict cdp_catalog_offer_ca(struct cdp_catalog *cat, const char *name, const unsigned char *der,
				      size_t len, const char *source, struct pkl_err *err);
struct cdp_state;
/* Gives the catalog the high-water marks it enforces and raises (the
 * catalog owns st from then on). Call before the first cdp_catalog_reload. */
void cdp_catalog_set_state(struct cdp_catalog *cat, struct cdp_state *st);
/* Records or clears (msg NULL) a warning about a source, e.g. a peer that is
 * down. Returns 1 when that changed the warnings (news worth a log line). */
int cdp_catalog_note(struct cdp_catalog *cat, const char *ca, const char *source, const char *msg);
unsigned long cdp_catalog_reloads(struct cdp_catalog *cat);
/* The mirror's first pull reached a peer: a CA still without a CRL is an
 * error from now on (logged, and said so in /healthz), no longer "waiting
 * for the first pull". Called by the mirror thread; only the first call acts. */
void cdp_catalog_pulled(struct cdp_catalog *cat);

/* ---- rollback protection across restarts (state.c) ---- */

/* The highest CRL number ever accepted per (CA name, CA key), persisted in
 * <state_dir>/crl-numbers. Not thread-safe: the catalog uses it under its
 * build lock only, never from a request. */
#define CDP_STATE_FILE "crl-numbers"
#define CDP_KEYID_MAX  64 /* hex digits of a key identifier (SHA-1: 40) */

struct cdp_state_mark {
	char ca[CDP_NAME_MAX + 1];
	char keyid[CDP_KEYID_MAX + 1];   /* lowercase hex */
	char number[PKL_CRL_NUMBER_MAX]; /* decimal, no leading zeros */
};

struct cdp_state {
	char path[4096];          /* <dir>/crl-numbers ("" for a state that is never saved) */
	int lock_fd;              /* the directory, flock()ed: one instance per state_dir */
	struct cdp_state_mark *v; /* sorted by (ca, keyid) when saved */
	size_t n, cap;
	int dirty; /* raised since the last save */
};

/* An empty state that is never saved (tests, and the parser's target). */
struct cdp_state *cdp_state_new(void);
/* Checks that dir is a directory this process can write (PKL_EINPUT
 * otherwise), locks it against a second instance and loads its file if any:
 * a corrupt or unreadable file is an error naming the file (and line), never
 * ignored and never overwritten. Call after the privilege drop. */
struct cdp_state *cdp_state_open(const char *dir, struct pkl_err *err);
void cdp_state_free(struct cdp_state *st);
/* Parses the text of a state file into st (which must be empty); `path`
 * names it in errors ("PATH:LINE: ..."). */
enum pkl_rc cdp_state_parse(struct cdp_state *st, const char *text, size_t len, const char *path,
			    struct pkl_err *err);
/* The recorded number for (ca, keyid), or NULL. */
const char *cdp_state_get(const struct cdp_state *st, const char *ca, const char *keyid);
/* Records number when it is higher than the mark (or the first one); returns
 * 1 when the mark rose (st becomes dirty), 0 otherwise, -1 out of memory. */
int cdp_state_raise(struct cdp_state *st, const char *ca, const char *keyid, const char *number);
/* Writes the file atomically (temp, fsync, rename, fsync dir) when dirty. */
enum pkl_rc cdp_state_save(struct cdp_state *st, struct pkl_err *err);
/* The text cdp_state_save writes (into out, appended). */
struct pkl_buf;
enum pkl_rc cdp_state_format(struct cdp_state *st, struct pkl_buf *out);
/* The key identity of a CA certificate: lowercase hex SHA-1 of its
 * subjectPublicKey (RFC 5280 §4.2.1.2 method 1, what `subjectKeyIdentifier =
 * hash` writes, so it usually equals the SKI). 0 on failure. */
int cdp_state_keyid(X509 *ca, char out[CDP_KEYID_MAX + 1]);

/* ---- routes (routes.c) ---- */

/* The methods a route answers (struct cdp_route.methods). */
#define CDP_M_GET  1u
#define CDP_M_HEAD 2u

/*
 * The route table: the whole public surface of the server (README.md,
 * "`pkilab-cdpd`: the CDP/AIA server", Routes), one row per route, in match
 * order:
 *
 *   X(id, methods, path, suffix, label, handler)
 *
 * path is the exact path, or the prefix of a name route whose suffix is set
 * ("/crl/" NAME ".crl"); methods are checked before the handler runs (405
 * otherwise, with Allow naming them); label names the route in /metrics;
 * handler answers it (h_*.c). A new route is one row here plus its handler:
 * this header makes the route ids and the handlers' prototypes of the rows,
 * routes.c makes cdp_routes[].
 */
#define CDP_ROUTES(X)                                                                        \
	X(CDP_R_CRL, CDP_M_GET | CDP_M_HEAD, "/crl/", ".crl", "crl", cdp_h_crl)              \
	X(CDP_R_AIA, CDP_M_GET | CDP_M_HEAD, "/aia/", ".crt", "aia", cdp_h_aia)              \
	X(CDP_R_HEALTH, CDP_M_GET | CDP_M_HEAD, "/healthz", NULL, "healthz", cdp_h_health)   \
	X(CDP_R_METRICS, CDP_M_GET | CDP_M_HEAD, "/metrics", NULL, "metrics", cdp_h_metrics) \
	X(CDP_R_STATUS, CDP_M_GET | CDP_M_HEAD, "/", NULL, "status", cdp_h_status)

#define CDP_ROUTE_ID(id, methods, path, suffix, label, handler) id,
enum cdp_route_id {
	CDP_ROUTES(CDP_ROUTE_ID) /* 0, 1, ...: the row's index in cdp_routes[] */
	CDP_R_NONE,              /* 404 */
	CDP_R_COUNT
};
#undef CDP_ROUTE_ID

/* A handler: the MHD_Result of queuing its response. name is the NAME of a
 * name route ("" otherwise); head is set for HEAD (MHD then sends only the
 * headers, with the GET Content-Length). */
struct cdp_ctx;
struct cdp_req;
struct MHD_Connection;
typedef int (*cdp_handler_fn)(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req,
			      const char *name, int head);
#define CDP_ROUTE_HANDLER(id, methods, path, suffix, label, handler)                                         \
	int handler(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, const char *name, \
		    int head);
CDP_ROUTES(CDP_ROUTE_HANDLER)
#undef CDP_ROUTE_HANDLER

struct cdp_route {
	enum cdp_route_id id;
	unsigned methods;   /* CDP_M_* */
	const char *path;   /* exact path, or the prefix when suffix is set */
	const char *suffix; /* "/crl/" + NAME + ".crl" */
	const char *label;  /* metrics label */
	cdp_handler_fn handler;
};

extern const struct cdp_route cdp_routes[]; /* indexed by enum cdp_route_id */
extern const size_t cdp_n_routes;
/* The row of a route id, or NULL for CDP_R_NONE. */
const struct cdp_route *cdp_route_get(enum cdp_route_id id);
/* The CDP_M_* bit of a method name; 0 for any other method. */
unsigned cdp_method_bit(const char *method);
/* The Allow value of a route's methods ("GET, HEAD"; "" for none). */
void cdp_route_allow(enum cdp_route_id id, char out[32]);

/* Matches a raw (undecoded) request path. On a name route, name receives
 * the NAME. Anything that is not exactly a route is CDP_R_NONE. */
enum cdp_route_id cdp_route_match(const char *url, size_t len, char name[CDP_NAME_MAX + 1]);
/* [A-Za-z0-9._-]{1,64}, not starting with '.'. */
int cdp_name_valid(const char *s, size_t len);
const char *cdp_route_label(enum cdp_route_id id);

/* Request syntax (RFC 9110, RFC 9112). A method and a field name are tokens;
 * a request target is visible ASCII; Host is uri-host [":" port] or empty. */
int cdp_is_token(const char *s, size_t n);
int cdp_target_valid(const char *s, size_t n);
int cdp_host_valid(const char *value);
/* The key client connections are counted under: an IPv4 address (as
 * v4-mapped IPv6) or the /64 of an IPv6 address. 0 for other families. */
struct sockaddr;
int cdp_client_key(const struct sockaddr *sa, unsigned char key[16]);

/* The checks on a request head as libmicrohttpd 0.9.75 parsed it (in place,
 * routes.c says how): begin with the request line (target_len: the length of
 * the raw target as first seen, -1 if unknown; head_size: the head's size),
 * then every field line in order, then end, which returns why the head must
 * be refused with 400 (a constant string) or NULL. */
struct cdp_head {
	const char *base, *end; /* the head: [method, method + head_size) */
	const char *at;         /* where the last string checked ends */
	int layout;             /* the request line lies in the head as expected */
	const char *why;        /* the first problem, or NULL */
	unsigned hosts, content_lengths, transfer_encodings;
	unsigned long long content_length;
};
void cdp_head_begin(struct cdp_head *h, const char *method, const char *url, long target_len,
		    const char *version, size_t head_size);
void cdp_head_field(struct cdp_head *h, const char *name, const char *value);
const char *cdp_head_end(struct cdp_head *h, int http11);
/* Whether the head declares a body (RFC 9112 6.3). */
#define cdp_head_has_body(h) ((h)->transfer_encodings > 0 || (h)->content_length > 0)

/* ---- HTTP dates and ETags (httpdate.c) ---- */

/* HTTP-date (IMF-fixdate) both ways; parse returns -1 when malformed. */
void cdp_http_date(pkl_time t, char out[32]);
pkl_time cdp_http_date_parse(const char *s);
/* RFC 9110 §13.1.2 weak comparison of an If-None-Match list against etag. */
int cdp_etag_match(const char *if_none_match, const char *etag);
/* The strong ETag of n bytes at d: "\"<sha-256 hex>\"", content-derived, so
 * identical on every mirror. */
void cdp_etag_sha256(const unsigned char *d, size_t n, char out[68]);

/* ---- mirror (mirror.c) ---- */

struct cdp_peer_state {
	char url[256];
	int up; /* last pull reached the peer */
	pkl_time last_ok, last_try;
	char last_error[256];
	unsigned long pulls[5]; /* by outcome: accepted, not_modified, unchanged, rejected, error */
};
enum {
	CDP_PULL_ACCEPTED,
	CDP_PULL_NOT_MODIFIED,
	CDP_PULL_UNCHANGED,
	CDP_PULL_REJECTED,
	CDP_PULL_ERROR
};
extern const char *const cdp_pull_outcomes[5];

/* ---- reloader thread (reloader.c) ---- */

/* Runs cdp_catalog_reload() on its own thread, on request, so the control
 * loop stays responsive while a reload blocks in the kernel (a hung mount). */
struct cdp_reloader;
struct cdp_reloader *cdp_reloader_start(struct cdp_catalog *cat, struct pkl_err *err);
/* Asks for a reload (why: a static string). Requests made while one runs
 * coalesce into one more reload; the last reason wins. Never blocks on I/O. */
void cdp_reloader_request(struct cdp_reloader *r, const char *why);
/* Readable (poll) when a reload completed; cdp_reloader_done() re-arms it. */
int cdp_reloader_fd(const struct cdp_reloader *r);
/* The number of reloads completed so far. */
unsigned long cdp_reloader_done(struct cdp_reloader *r);
/* Stops the thread, waiting at most `seconds` for a reload in progress.
 * 0: stopped and freed. -1: a reload is still blocked; r and the catalog it
 * uses must stay allocated (the caller exits without freeing them). */
int cdp_reloader_stop(struct cdp_reloader *r, int seconds);

struct cdp_mirror;
struct cdp_mirror *cdp_mirror_start(const struct cdp_config *cfg, struct cdp_catalog *cat,
				    struct pkl_err *err);
void cdp_mirror_wake(struct cdp_mirror *m);
void cdp_mirror_stop(struct cdp_mirror *m);
/* A copy of the peers' state (n returned; at most max). */
size_t cdp_mirror_peers(struct cdp_mirror *m, struct cdp_peer_state *out, size_t max);

/* ---- watch (watch.c) ---- */

/* An inotify fd watching the publish dirs (and their crl/ aia/); -1 if none.
 * With fd >= 0, re-adds the watches to it (after directories were created). */
int cdp_watch_open(const struct cdp_config *cfg, int fd, struct pkl_err *err);
/* Drains pending events; returns 1 if any concerned the catalog. */
int cdp_watch_drain(int fd);

/* ---- server (server.c, request.c) and handlers ---- */

struct cdp_stats {
	atomic_ulong req[CDP_R_COUNT][8]; /* by route and status slot (cdp_status_slot) */
};
extern const int cdp_status_codes[8];
int cdp_status_slot(int status);

struct cdp_ctx {
	const struct cdp_config *cfg;
	struct cdp_catalog *cat;
	struct cdp_mirror *mirror; /* NULL when not a mirror */
	struct cdp_server *server; /* set once the workers run; read by /metrics */
	struct cdp_stats stats;
	pkl_time started;
};

/* Per-request state (MHD's req_cls): set on the first call of the access
 * handler, answered on the second so keep-alive is kept. */
struct cdp_req {
	enum cdp_route_id route;
	int status;
	int has_body;
	int seen;        /* the access handler saw the request (not refused by MHD) */
	int sending;     /* a response was queued */
	long target_len; /* the raw request target's length when MHD first read it */
	int target_ok;   /* ... and whether it is visible ASCII only */
	size_t bytes;
	struct timespec start;
	char method[16];
	char url[200];
};

/* The handlers (h_*.c) are declared with the route table (CDP_ROUTES). */

/* ---- serving helpers (serve.c) ---- */

/* Shared by the CRL and AIA handlers: the entry with every caching header,
 * or 304, or 404. */
int cdp_serve_entry(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, enum cdp_kind kind,
		    const char *name);
/* Queues a small text response (status, content type, body copied). */
int cdp_reply_text(struct MHD_Connection *conn, struct cdp_req *req, int status, const char *ctype,
		   const char *body, size_t len);
/* cdp_reply_text, plus Connection: close when close is set (MHD 0.9.75 then
 * closes the connection). Both send Cache-Control: no-store, and Allow on a
 * 405. */
int cdp_reply(struct MHD_Connection *conn, struct cdp_req *req, int status, const char *ctype,
	      const char *body, size_t len, int close);

/* ---- health (health.c) ---- */

/* The health verdict (shared by /healthz, /metrics and the status page):
 * fills a JSON document; returns 1 when healthy. */
struct pkl_buf;
int cdp_health_json(struct cdp_ctx *ctx, const struct cdp_snapshot *s, pkl_time now, struct pkl_buf *out);

struct cdp_server;
/* Binds every listen address (before privileges are dropped). */
struct cdp_server *cdp_server_bind(const struct cdp_config *cfg, struct pkl_err *err);
/* Starts the MHD daemons on the bound sockets. */
enum pkl_rc cdp_server_start(struct cdp_server *srv, struct cdp_ctx *ctx, struct pkl_err *err);
void cdp_server_stop(struct cdp_server *srv);
/* Open connections of each worker (at most max); the number of workers. */
size_t cdp_server_worker_conns(const struct cdp_server *srv, long *out, size_t max);

#endif
