/*
 * Reading what the server serves or trusts: cdp_file_read(), the one
 * reader for files (see cdpd.h for its contract), and the helpers of the
 * directory scans (publish crl/ and aia/, trust directories).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdpd.h"
#include "pkilab/buf.h"

/* Symbolic links: pkilab writes real files, but administrators link
 * crl/<ca>.crl to a dated file or to another part of the tree, so a link is
 * followed when its target stays inside the directory the server was told
 * to publish (or trust). A link that leads elsewhere is refused: whoever can
 * write a publish directory must not make the server open /dev/ptmx, a file
 * on another (possibly hung) mount or a file it is not meant to read. The
 * object finally opened must be a regular file, whatever the path. A
 * regular file on a hard-mounted network filesystem that stops answering
 * still blocks open(2) or read(2) in the kernel (nfs(5), "hard"): that is
 * why reloads run on the reloader thread (reloader.c), where such a hang
 * delays the next snapshot but not the control loop or SIGTERM. */
static int open_regular(const char *path, const char *base, struct stat *st, int *absent, struct pkl_err *err)
{
	const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	char real[PATH_MAX], rbase[PATH_MAX];
	int fd = open(path, flags | O_NOFOLLOW);

	if (fd < 0 && errno == ELOOP) {
		if (!realpath(path, real)) {
			pkl_err_sys(err, path, "symbolic link to a file that cannot be opened");
			return -1;
		}
		if (base) {
			size_t bl;

			if (!realpath(base, rbase)) {
				pkl_err_sys(err, path, "cannot resolve '%s'", base);
				return -1;
			}
			bl = strlen(rbase);
			if (strncmp(real, rbase, bl) != 0 || (real[bl] != '/' && bl > 1)) {
				pkl_err_set(err, PKL_EINPUT, path,
					    "symbolic link leads out of %s (to %s): not read", base, real);
				return -1;
			}
		}
		fd = open(real, flags | O_NOFOLLOW);
	}
	if (fd < 0) {
		if (absent)
			*absent = errno == ENOENT;
		pkl_err_sys(err, path, "cannot open");
		return -1;
	}
	if (fstat(fd, st) != 0) {
		pkl_err_sys(err, path, "cannot stat");
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		pkl_err_set(err, PKL_EINPUT, path, "not a regular file (%s): not read",
			    S_ISDIR(st->st_mode)  ? "a directory" :
			    S_ISFIFO(st->st_mode) ? "a FIFO" :
			    S_ISCHR(st->st_mode)  ? "a character device" :
			    S_ISBLK(st->st_mode)  ? "a block device" :
			    S_ISSOCK(st->st_mode) ? "a socket" :
						    "not a file");
		close(fd);
		return -1;
	}
	return fd;
}

enum pkl_rc cdp_file_read(const char *path, const char *base, size_t max, struct pkl_buf *out, int *absent,
			  struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	struct stat st;
	int fd;

	if (absent)
		*absent = 0;
	fd = open_regular(path, base, &st, absent, err);
	if (fd < 0)
		return err ? err->rc ? err->rc : PKL_EINPUT : PKL_EINPUT;
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return pkl_err_set(err, PKL_EINPUT, path, "larger than %zu bytes: not read", max);
	}
	/* The bound holds even if the file grows while it is read. */
	for (;;) {
		ssize_t n;

		if (pkl_buf_reserve(&b, 65536) != PKL_OK) {
			close(fd);
			pkl_buf_free(&b);
			return pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
		}
		n = read(fd, b.data + b.len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
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
			return pkl_err_set(err, PKL_EINPUT, path, "larger than %zu bytes: not read", max);
		}
	}
	close(fd);
	pkl_buf_free(out);
	*out = b;
	return PKL_OK;
}

/* ---- directory scans ---- */
int cdp_has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a > b && strcmp(s + a - b, suf) == 0;
}

int cdp_name_sort(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}
