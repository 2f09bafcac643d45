/* Error records returned through the library (see pkilab/err.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "pkilab/err.h"

PKL_PRINTF(4, 0)
static void err_vset(struct pkl_err *err, enum pkl_rc rc, const char *where, const char *fmt, va_list ap)
{
	err->rc = rc;
	snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
	/* Every caller va_start()s ap; the analyzer cannot follow it here. */
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
}

enum pkl_rc pkl_err_set(struct pkl_err *err, enum pkl_rc rc, const char *where, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return rc;
	va_start(ap, fmt);
	err_vset(err, rc, where, fmt, ap);
	va_end(ap);
	return rc;
}

enum pkl_rc pkl_err_ssl(struct pkl_err *err, enum pkl_rc rc, const char *where, const char *fmt, ...)
{
	va_list ap;
	unsigned long e, last = 0;
	char reason[256];
	size_t n;

	/* The most recent queued error is usually the most specific one. */
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (!err)
		return rc;
	va_start(ap, fmt);
	err_vset(err, rc, where, fmt, ap);
	va_end(ap);
	if (last) {
		ERR_error_string_n(last, reason, sizeof(reason));
		/* "error:0480006C:PEM routines::no start line" -> keep the text after the codes */
		const char *r = strrchr(reason, ':');
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", r ? r + 1 : reason);
	}
	return rc;
}

enum pkl_rc pkl_err_sys(struct pkl_err *err, const char *where, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	if (!err)
		return PKL_ERUNTIME;
	va_start(ap, fmt);
	err_vset(err, PKL_ERUNTIME, where, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(saved));
	/* A missing or unreadable input is the user's to fix, not a crash. */
	if (saved == ENOENT || saved == EACCES || saved == ENOTDIR || saved == EISDIR || saved == EROFS ||
	    saved == EPERM)
		err->rc = PKL_EINPUT;
	errno = saved;
	return err->rc;
}

void pkl_err_where(struct pkl_err *err, const char *where)
{
	if (err && !err->where[0] && where)
		snprintf(err->where, sizeof(err->where), "%s", where);
}

void pkl_err_clear(struct pkl_err *err)
{
	if (!err)
		return;
	err->rc = PKL_OK;
	err->where[0] = '\0';
	err->msg[0] = '\0';
}

const char *pkl_err_str(const struct pkl_err *err, char *buf, size_t len)
{
	if (err->where[0])
		snprintf(buf, len, "%s: %s", err->where, err->msg);
	else
		snprintf(buf, len, "%s", err->msg[0] ? err->msg : "unknown error");
	return buf;
}
