/*
 * Errors in pkilab are returned, never printed inside the library.
 *
 * Every fallible function returns an enum pkl_rc (or a pointer, NULL on
 * failure) and takes a last `struct pkl_err *err` that receives where the
 * failure is (a "file:line", a setting path, a file name) and a one-line,
 * lowercase message. The command prints it once, at the top, as
 *     pkilab: error: WHERE: MESSAGE
 * The rc doubles as the process exit code of the CLI contract.
 */
#ifndef PKILAB_ERR_H
#define PKILAB_ERR_H

#include <stddef.h>

enum pkl_rc {
	PKL_OK = 0,       /* success, nothing found */
	PKL_FOUND = 1,    /* a check found problems (doctor, expiring, lint) */
	PKL_EINPUT = 2,   /* usage or input error: bad option, malformed lab, unknown name */
	PKL_ERUNTIME = 3, /* runtime failure: I/O, crypto, database */
};

struct pkl_err {
	enum pkl_rc rc;
	char where[512]; /* "lab.cfg:12", "certs.gw1.validity", a path; may be empty */
	char msg[1024];
};

#if defined(__GNUC__)
#define PKL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PKL_PRINTF(a, b)
#endif

/* Records an error and returns rc, so callers can `return pkl_err_set(...)`.
 * A NULL err is allowed (the detail is dropped). */
enum pkl_rc pkl_err_set(struct pkl_err *err, enum pkl_rc rc, const char *where, const char *fmt, ...)
	PKL_PRINTF(4, 5);

/* Like pkl_err_set, then appends ": <reason>" from the OpenSSL error queue
 * and drains the queue so that no stale error leaks into a later message. */
enum pkl_rc pkl_err_ssl(struct pkl_err *err, enum pkl_rc rc, const char *where, const char *fmt, ...)
	PKL_PRINTF(4, 5);

/* Records errno's text: "open 'x': Permission denied". */
enum pkl_rc pkl_err_sys(struct pkl_err *err, const char *where, const char *fmt, ...) PKL_PRINTF(3, 4);

/* Prefixes err->where with a context when it has none ("lab.cfg: ..."). */
void pkl_err_where(struct pkl_err *err, const char *where);

void pkl_err_clear(struct pkl_err *err);

/* Formats "WHERE: MESSAGE" (or "MESSAGE") into buf. */
const char *pkl_err_str(const struct pkl_err *err, char *buf, size_t len);

#endif
