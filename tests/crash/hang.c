/*
 * A test-only LD_PRELOAD shim that makes opening a file hang, as a regular
 * file on a hard-mounted network filesystem that stops answering does (the
 * open(2) never returns), for t6017-cdpd-hung-reload.sh (tests/crash/, not
 * part of the product; the Makefile's wildcards do not pick it up).
 *
 *   HANG_MATCH=str   an open of a path containing str blocks ...
 *   HANG_FLAG=file   ... for as long as file exists (then the call proceeds)
 *
 * When a call starts blocking, "hang: blocking open of PATH" goes to stderr
 * (once per call), so a test can wait for the hang instead of guessing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void maybe_hang(const char *path)
{
	const char *match = getenv("HANG_MATCH"), *flag = getenv("HANG_FLAG");
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char msg[600];
	int n;

	if (!match || !flag || !*match || !path || !strstr(path, match) || access(flag, F_OK) != 0)
		return;
	n = snprintf(msg, sizeof(msg), "hang: blocking open of %s\n", path);
	if (n > 0)
		(void)!write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	while (access(flag, F_OK) == 0)
		nanosleep(&ts, NULL);
}

static int mode_of(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

#define WRAP_OPEN(name)                                                                  \
	int name(const char *path, int flags, ...)                                       \
	{                                                                                \
		static int (*real)(const char *, int, ...);                              \
		va_list ap;                                                              \
		int mode;                                                                \
		if (!real)                                                               \
			real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		va_start(ap, flags);                                                     \
		mode = mode_of(flags, ap);                                               \
		va_end(ap);                                                              \
		maybe_hang(path);                                                        \
		return real(path, flags, mode);                                          \
	}
#define WRAP_OPENAT(name)                                                                     \
	int name(int dirfd, const char *path, int flags, ...)                                 \
	{                                                                                     \
		static int (*real)(int, const char *, int, ...);                              \
		va_list ap;                                                                   \
		int mode;                                                                     \
		if (!real)                                                                    \
			real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		va_start(ap, flags);                                                          \
		mode = mode_of(flags, ap);                                                    \
		va_end(ap);                                                                   \
		maybe_hang(path);                                                             \
		return real(dirfd, path, flags, mode);                                        \
	}

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)

/* _FORTIFY_SOURCE's checked variants (no mode argument). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}
int __open64_2(const char *path, int flags)
{
	return open64(path, flags);
}
