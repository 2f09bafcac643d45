/*
 * A test-only LD_PRELOAD shim that makes the Nth call of one filesystem
 * write step fail, for t2005-build-crash.sh (tests/crash/, not part of the
 * product; the Makefile's wildcards do not pick it up).
 *
 *   FAILPOINT_COUNT=FILE   count the calls of every step, append "step n" lines to FILE at exit
 *   FAILPOINT_STEP=step    the step to fail (write pwrite fsync fdatasync syncfs rename
 *   FAILPOINT_N=n          mkdir mkdtemp ftruncate), on its n-th call, with EIO
 *                          (ENOSPC for writes): one failure, later calls succeed
 *   FAILPOINT_ACTION=kill  instead of failing, die there with SIGKILL (a crash
 *                          exactly before that step reaches the disk)
 *
 * Writes to fds 0-2 are not counted: the final report on stdout is not a
 * step of the build.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum {
	S_WRITE,
	S_PWRITE,
	S_FSYNC,
	S_FDATASYNC,
	S_SYNCFS,
	S_RENAME,
	S_MKDIR,
	S_MKDTEMP,
	S_FTRUNCATE,
	S_N
};
static const char *const names[S_N] = { "write",  "pwrite", "fsync",   "fdatasync", "syncfs",
					"rename", "mkdir",  "mkdtemp", "ftruncate" };
static unsigned long counts[S_N];
static int fail_step = -1;
static unsigned long fail_n;
static int inited, kill_instead;

static void report(void)
{
	const char *f = getenv("FAILPOINT_COUNT");
	FILE *out;

	if (!f || !(out = fopen(f, "a")))
		return;
	for (int i = 0; i < S_N; i++)
		fprintf(out, "%s %lu\n", names[i], counts[i]);
	fclose(out);
}

static void init(void)
{
	const char *s = getenv("FAILPOINT_STEP"), *n = getenv("FAILPOINT_N");

	inited = 1;
	if (s && n)
		for (int i = 0; i < S_N; i++)
			if (!strcmp(s, names[i])) {
				fail_step = i;
				fail_n = strtoul(n, NULL, 10);
			}
	kill_instead = getenv("FAILPOINT_ACTION") && !strcmp(getenv("FAILPOINT_ACTION"), "kill");
	if (getenv("FAILPOINT_COUNT"))
		atexit(report);
}

/* Counts a call; returns 1 when this one must fail. Threads: the build only
 * writes from its main thread (key generation threads do not write). */
static int hit(int step)
{
	if (!inited)
		init();
	counts[step]++;
	if (step != fail_step || counts[step] != fail_n)
		return 0;
	if (kill_instead)
		raise(SIGKILL);
	return 1;
}

#define REAL(type, name, args)   \
	static type(*real) args; \
	if (!real)               \
	real = (type(*) args)dlsym(RTLD_NEXT, name)

ssize_t write(int fd, const void *buf, size_t len)
{
	REAL(ssize_t, "write", (int, const void *, size_t));
	if (fd > 2 && hit(S_WRITE)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(ssize_t, "pwrite", (int, const void *, size_t, off_t));
	if (hit(S_PWRITE)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	REAL(ssize_t, "pwrite64", (int, const void *, size_t, off_t));
	if (hit(S_PWRITE)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, len, off);
}

int fsync(int fd)
{
	REAL(int, "fsync", (int));
	if (hit(S_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int fdatasync(int fd)
{
	REAL(int, "fdatasync", (int));
	if (hit(S_FDATASYNC)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int syncfs(int fd)
{
	REAL(int, "syncfs", (int));
	if (hit(S_SYNCFS)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int rename(const char *a, const char *b)
{
	REAL(int, "rename", (const char *, const char *));
	if (hit(S_RENAME)) {
		errno = EIO;
		return -1;
	}
	return real(a, b);
}

int mkdir(const char *p, mode_t m)
{
	REAL(int, "mkdir", (const char *, mode_t));
	if (hit(S_MKDIR)) {
		errno = EIO;
		return -1;
	}
	return real(p, m);
}

char *mkdtemp(char *t)
{
	REAL(char *, "mkdtemp", (char *));
	if (hit(S_MKDTEMP)) {
		errno = EIO;
		return NULL;
	}
	return real(t);
}

int ftruncate(int fd, off_t len)
{
	REAL(int, "ftruncate", (int, off_t));
	if (hit(S_FTRUNCATE)) {
		errno = EIO;
		return -1;
	}
	return real(fd, len);
}

int ftruncate64(int fd, off_t len)
{
	REAL(int, "ftruncate64", (int, off_t));
	if (hit(S_FTRUNCATE)) {
		errno = EIO;
		return -1;
	}
	return real(fd, len);
}
