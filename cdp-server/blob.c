/*
 * Refcounted bodies: the immutable bytes of a CRL or a CA certificate,
 * shared by every snapshot that serves them and by every response still
 * sending them, so a reload does not copy a 4 MB CRL and a swap never frees
 * bytes in flight. Large bodies also live in a sealed memfd that MHD can
 * sendfile() from.
 */
#include <fcntl.h>
#include <linux/memfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cdpd.h"

/* glibc declares these only with _GNU_SOURCE; the values are the kernel ABI. */
#ifndef F_ADD_SEALS
#define F_ADD_SEALS   1033
#define F_SEAL_SEAL   0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW   0x0004
#define F_SEAL_WRITE  0x0008
#endif

/* A read-only in-memory file with the bytes, or -1 (then the buffer is used). */
static int blob_memfd(const unsigned char *d, size_t len)
{
	int fd = (int)syscall(SYS_memfd_create, "pkilab-cdpd-body", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, d + off, len - off);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	/* Sealed: nothing can change the bytes a response is sending. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	return fd;
}

struct cdp_blob *cdp_blob_new(const void *data, size_t len)
{
	struct cdp_blob *b = malloc(sizeof(*b) + (len ? len : 1));

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	b->fd = -1;
	if (len)
		memcpy(b->data, data, len);
	if (len >= CDP_SENDFILE_MIN)
		b->fd = blob_memfd(b->data, len);
	return b;
}

struct cdp_blob *cdp_blob_ref(struct cdp_blob *b)
{
	if (b)
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void cdp_blob_unref(struct cdp_blob *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
		if (b->fd >= 0)
			close(b->fd);
		free(b);
	}
}
