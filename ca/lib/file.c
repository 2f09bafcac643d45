/* Atomic file writes and small filesystem helpers (see pkilab/file.h). */
#define _GNU_SOURCE /* syncfs() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkilab/file.h"

#define FILE_READ_DEFAULT_MAX (64u << 20)

enum pkl_rc pkl_file_read(const char *path, size_t max, struct pkl_buf *out, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	struct stat st;
	ssize_t n;
	int fd;

	if (!max)
		max = FILE_READ_DEFAULT_MAX;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer that never comes
	 * (lint, doctor --trust/--chain and --password-file take any path). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return pkl_err_sys(err, path, "cannot open");
	if (fstat(fd, &st) == 0 &&
	    (S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		close(fd);
		return pkl_err_set(err, PKL_EINPUT, path, "is a %s, expected a file",
				   S_ISDIR(st.st_mode) ? "directory" : "pipe or socket");
	}
	/* Regular files and devices: blocking reads again. */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	for (;;) {
		if (pkl_buf_reserve(&b, 65536) != PKL_OK) {
			close(fd);
			pkl_buf_free(&b);
			return pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
		}
		n = read(fd, b.data + b.len, 65536);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pkl_err_sys(err, path, "cannot read");
			close(fd);
			pkl_buf_free(&b);
			return PKL_ERUNTIME;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len > max) {
			close(fd);
			pkl_buf_free(&b);
			return pkl_err_set(err, PKL_EINPUT, path, "file larger than %zu bytes", max);
		}
	}
	close(fd);
	b.data[b.len] = '\0';
	*out = b;
	return PKL_OK;
}

static enum pkl_rc write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PKL_ERUNTIME;
		}
		p += n;
		len -= (size_t)n;
	}
	return PKL_OK;
}

enum pkl_rc pkl_file_write_temp(const char *path, const void *data, size_t len, mode_t mode,
				int do_fsync, char *tmp, size_t tmplen, struct pkl_err *err)
{
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash)
		fd = snprintf(tmp, tmplen, "%.*s/.%s.tmp-XXXXXX", (int)(slash - path), path, slash + 1);
	else
		fd = snprintf(tmp, tmplen, ".%s.tmp-XXXXXX", path);
	if (fd < 0 || (size_t)fd >= tmplen)
		return pkl_err_set(err, PKL_EINPUT, path, "path too long");
	fd = mkstemp(tmp);
	if (fd < 0)
		return pkl_err_sys(err, path, "cannot create a file next to it");
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != PKL_OK ||
	    (do_fsync && fsync(fd) != 0)) {
		pkl_err_sys(err, path, "cannot write");
		close(fd);
		unlink(tmp);
		return PKL_ERUNTIME;
	}
	if (close(fd) != 0) {
		pkl_err_sys(err, path, "cannot write");
		unlink(tmp);
		return PKL_ERUNTIME;
	}
	return PKL_OK;
}

enum pkl_rc pkl_file_sync_dir(const char *dir, struct pkl_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pkl_err_sys(err, dir, "cannot open directory");
	if (fsync(fd) != 0 && errno != EINVAL) {
		pkl_err_sys(err, dir, "cannot sync directory");
		close(fd);
		return PKL_ERUNTIME;
	}
	close(fd);
	return PKL_OK;
}

enum pkl_rc pkl_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				  struct pkl_err *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	enum pkl_rc rc;

	rc = pkl_file_write_temp(path, data, len, mode, 1, tmp, sizeof(tmp), err);
	if (rc != PKL_OK)
		return rc;
	if (rename(tmp, path) != 0) {
		pkl_err_sys(err, path, "cannot replace");
		unlink(tmp);
		return PKL_ERUNTIME;
	}
	slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	return pkl_file_sync_dir(dir[0] ? dir : "/", err);
}

enum pkl_rc pkl_file_mkdirs(const char *path, mode_t mode, struct pkl_err *err)
{
	char p[PATH_MAX];
	size_t len = strlen(path);
	struct stat st;

	if (len == 0 || len >= sizeof(p))
		return pkl_err_set(err, PKL_EINPUT, path, "bad directory path");
	memcpy(p, path, len + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return pkl_err_sys(err, p, "cannot create directory");
		*s = '/';
	}
	if (mkdir(p, mode) != 0) {
		if (errno != EEXIST)
			return pkl_err_sys(err, p, "cannot create directory");
		if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			return pkl_err_set(err, PKL_EINPUT, p, "exists and is not a directory");
	}
	return PKL_OK;
}

enum pkl_rc pkl_file_sync_fs(const char *path, struct pkl_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return pkl_err_sys(err, path, "cannot open");
	if (syncfs(fd) != 0) {
		pkl_err_sys(err, path, "cannot sync filesystem");
		close(fd);
		return PKL_ERUNTIME;
	}
	close(fd);
	return PKL_OK;
}

int pkl_file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

enum pkl_rc pkl_path_join(char *out, size_t outlen, struct pkl_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen)
		return pkl_err_set(err, PKL_EINPUT, NULL, "path too long");
	return PKL_OK;
}
