/*
 * Bounded HTTP GET for CRLs and AIA certificates (libcurl).
 *
 * A relying party fetches revocation data from servers it does not control,
 * so every fetch here is bounded: connect time, total time (a stalled or
 * endlessly streaming server ends at the deadline), body size, redirects
 * (none by default: a CDP must answer 200 directly, RFC 5280 4.2.1.13), plain
 * http only, no proxies from the environment. A network failure is not an
 * error of the call: it is a result the caller reports (crl.unreachable).
 *
 * Lab host names are never looked up in the system resolver by tests: a
 * resolve list maps HOST:PORT to ADDR (curl's CURLOPT_RESOLVE), or to
 * ADDR:PORT2 (CURLOPT_CONNECT_TO) so a lab URL with a fixed port can be
 * served from a free test port.
 */
#ifndef PKILAB_FETCH_H
#define PKILAB_FETCH_H

#include <stddef.h>
#include "buf.h"
#include "ptime.h"

#define PKL_FETCH_MAX_RESOLVE 16

struct pkl_fetch_opts {
	long connect_timeout_ms;                    /* 0: 5000 */
	long timeout_ms;                            /* whole transfer; 0: 15000 */
	size_t max_size;                            /* body bytes; 0: 16 MiB */
	long max_redirects;                         /* 0: refuse redirects (reported as a 3xx status) */
	const char *resolve[PKL_FETCH_MAX_RESOLVE]; /* "HOST:PORT:ADDR[:PORT2]" */
	size_t n_resolve;
};

struct pkl_fetch_result {
	int transferred;        /* a complete HTTP response was received */
	long status;            /* HTTP status, 0 when none */
	char content_type[128]; /* "" when absent */
	pkl_time date;          /* the Date header; 0 when absent */
	long elapsed_ms;        /* wall time of the whole attempt */
	int too_large;          /* body exceeded max_size (transfer aborted) */
	int timed_out;          /* the deadline cut the transfer */
	long redirects;         /* redirects followed */
	char error[256];        /* why the transfer failed, one line ("" when transferred) */
	struct pkl_buf body;    /* owned */
};

/* Fills opts with the defaults and the entries of the default resolve list
 * (pkl_fetch_set_resolve; comma or space separated). The list is copied into
 * storage (size storage_len); entries beyond PKL_FETCH_MAX_RESOLVE are dropped. */
void pkl_fetch_opts_init(struct pkl_fetch_opts *o, char *storage, size_t storage_len);
/* Sets the default resolve list (borrowed; NULL: none). main() passes
 * PKILAB_RESOLVE through pkl_env_apply, which has checked every entry. */
void pkl_fetch_set_resolve(const char *list);

/* Adds one "HOST:PORT:ADDR[:PORT2]" entry (borrowed); PKL_EINPUT if malformed. */
enum pkl_rc pkl_fetch_opts_resolve(struct pkl_fetch_opts *o, const char *entry, struct pkl_err *err);

/* GETs url. Returns PKL_OK whenever the attempt was made (look at res), and
 * PKL_EINPUT for a URL that is not http:// or PKL_ERUNTIME when curl cannot
 * be set up. res is always initialised; free it with pkl_fetch_result_free. */
enum pkl_rc pkl_fetch_get(const char *url, const struct pkl_fetch_opts *o, struct pkl_fetch_result *res,
			  struct pkl_err *err);
void pkl_fetch_result_free(struct pkl_fetch_result *res);

#endif
