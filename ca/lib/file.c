/* Atomic file writes and small filesystem helpers (see pkilab/file.h). */
#define _GNU_SOURCE /* syncfs() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkilab/file.h"

/* Deepest directory nesting pkl_file_remove_tree_at() descends into: a
 * staging directory is three levels deep; anything far deeper was not made
 * by pkilab and is left alone rather than exhausting the stack. */
#define REMOVE_TREE_MAX_DEPTH 32

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
	if (fstat(fd, &st) == 0 && (S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
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

static const char *file_kind(mode_t m)
{
	if (S_ISLNK(m))
		return "symbolic link";
	if (S_ISDIR(m))
		return "directory";
	if (S_ISCHR(m))
		return "character device";
	if (S_ISBLK(m))
		return "block device";
	if (S_ISFIFO(m))
		return "named pipe";
	if (S_ISSOCK(m))
		return "socket";
	return "special file";
}

enum pkl_rc pkl_file_check_replaceable(const char *path, struct pkl_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? PKL_OK : pkl_err_sys(err, path, "cannot inspect");
	if (S_ISREG(st.st_mode))
		return PKL_OK;
	return pkl_err_set(err, PKL_EINPUT, path,
			   "is a %s: refusing to replace it (only regular files are replaced; "
			   "name a regular file, or a link's target)",
			   file_kind(st.st_mode));
}

enum pkl_rc pkl_file_write_temp(const char *path, const void *data, size_t len, mode_t mode, int do_fsync,
				char *tmp, size_t tmplen, struct pkl_err *err)
{
	const char *slash = strrchr(path, '/');
	int fd;

	/* The rename that follows would replace whatever is at path: never a
	 * device node, FIFO, socket or symbolic link (see pkilab/file.h). */
	if (pkl_file_check_replaceable(path, err) != PKL_OK)
		return err ? err->rc : PKL_EINPUT;
	if (slash)
		fd = snprintf(tmp, tmplen, "%.*s/.%s.tmp-XXXXXX", (int)(slash - path), path, slash + 1);
	else
		fd = snprintf(tmp, tmplen, ".%s.tmp-XXXXXX", path);
	if (fd < 0 || (size_t)fd >= tmplen)
		return pkl_err_set(err, PKL_EINPUT, path, "path too long");
	fd = mkstemp(tmp);
	if (fd < 0)
		return pkl_err_sys(err, path, "cannot create a file next to it");
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != PKL_OK || (do_fsync && fsync(fd) != 0)) {
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
	/* Checked again just before the rename: the temporary file took time. */
	if (pkl_file_check_replaceable(path, err) != PKL_OK) {
		unlink(tmp);
		return err ? err->rc : PKL_EINPUT;
	}
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

/* ---- removal without following links ------------------------------------ */

struct rm_state {
	dev_t dev;        /* the filesystem the tree started on */
	int failed_errno; /* first failure */
	char failed[PATH_MAX];
};

static void rm_fail(struct rm_state *rs, const char *name)
{
	if (!rs->failed_errno) {
		rs->failed_errno = errno ? errno : EIO;
		snprintf(rs->failed, sizeof(rs->failed), "%s", name);
	}
}

/* Removes name (relative to dfd) and, for a directory, all below it. Every
 * step is relative to a descriptor of the directory already opened, links
 * are unlinked (never followed), and a directory is opened with O_NOFOLLOW,
 * so replacing a component with a link mid-way cannot redirect the removal. */
static void rm_at(int dfd, const char *name, int depth, struct rm_state *rs)
{
	struct stat st, st2;
	struct dirent *de;
	DIR *d;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			rm_fail(rs, name);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
			rm_fail(rs, name);
		return;
	}
	if (st.st_dev != rs->dev || depth > REMOVE_TREE_MAX_DEPTH) {
		errno = st.st_dev != rs->dev ? EXDEV : ELOOP;
		rm_fail(rs, name);
		return;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* Swapped for a link or a file since the fstatat: unlink that. */
		if ((errno == ELOOP || errno == ENOTDIR) && unlinkat(dfd, name, 0) == 0)
			return;
		rm_fail(rs, name);
		return;
	}
	if (fstat(fd, &st2) != 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		errno = EAGAIN; /* not the directory we looked at */
		rm_fail(rs, name);
		close(fd);
		return;
	}
	d = fdopendir(fd);
	if (!d) {
		rm_fail(rs, name);
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rm_at(dirfd(d), de->d_name, depth + 1, rs);
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rm_fail(rs, name);
}

enum pkl_rc pkl_file_remove_tree_at(int dfd, const char *name, struct pkl_err *err)
{
	struct rm_state rs = { 0 };
	struct stat st;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return pkl_err_set(err, PKL_EINPUT, name, "not a plain directory entry name");
	if (fstat(dfd, &st) != 0)
		return pkl_err_sys(err, name, "cannot remove");
	rs.dev = st.st_dev;
	rm_at(dfd, name, 0, &rs);
	if (rs.failed_errno) {
		errno = rs.failed_errno;
		return pkl_err_sys(err, rs.failed, "cannot remove");
	}
	return PKL_OK;
}

/* Opens the directory holding path and returns the last component in base. */
static int open_parent(const char *path, char *base, size_t baselen, struct pkl_err *err)
{
	char dir[PATH_MAX];
	const char *slash;
	size_t n = strlen(path);
	int fd;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= sizeof(dir)) {
		pkl_err_set(err, PKL_EINPUT, path, "path too long");
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	snprintf(base, baselen, "%s", slash ? slash + 1 : dir);
	if (slash == dir)
		snprintf(dir, sizeof(dir), "/");
	else if (slash)
		dir[slash - dir] = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		pkl_err_sys(err, dir, "cannot open directory");
	return fd;
}

enum pkl_rc pkl_file_remove_tree(const char *path, struct pkl_err *err)
{
	char base[NAME_MAX + 1];
	enum pkl_rc rc;
	int fd = open_parent(path, base, sizeof(base), err);

	if (fd < 0)
		return err ? err->rc : PKL_ERUNTIME;
	rc = pkl_file_remove_tree_at(fd, base, err);
	close(fd);
	return rc;
}

enum pkl_rc pkl_file_sweep(const char *dir, int (*match)(const char *name, void *cls), void *cls,
			   size_t *removed, struct pkl_err *err)
{
	struct dirent *de;
	enum pkl_rc rc = PKL_OK;
	size_t n = 0;
	DIR *d;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pkl_err_sys(err, dir, "cannot open directory");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return pkl_err_sys(err, dir, "cannot read directory");
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || !match(de->d_name, cls))
			continue;
		/* Only a real directory of ours: a link, a file or another user's
		 * directory with the same name is none of our business. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		if (pkl_file_remove_tree_at(dirfd(d), de->d_name, rc == PKL_OK ? err : NULL) != PKL_OK)
			rc = PKL_ERUNTIME;
		else
			n++;
	}
	closedir(d);
	if (removed)
		*removed = n;
	return rc;
}
