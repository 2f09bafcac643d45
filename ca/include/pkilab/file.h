/*
 * Files are written atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. A failure at any step leaves the
 * previous file intact and no temporary file behind.
 */
#ifndef PKILAB_FILE_H
#define PKILAB_FILE_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"

/* Reads a whole file (at most max bytes; 0 = 64 MiB) into out (caller frees). */
enum pkl_rc pkl_file_read(const char *path, size_t max, struct pkl_buf *out, struct pkl_err *err);

/* Atomic replace of path with data, created with mode. */
enum pkl_rc pkl_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				  struct pkl_err *err);

/* Writes data to a new temporary file next to path ("dir/.name.tmp-XXXXXX"),
 * optionally without fsync (the caller batches durability with pkl_file_sync_fs).
 * The temporary name is written to tmp (size tmplen). */
enum pkl_rc pkl_file_write_temp(const char *path, const void *data, size_t len, mode_t mode,
				int do_fsync, char *tmp, size_t tmplen, struct pkl_err *err);

/* Creates a directory and its parents; the last component gets mode. */
enum pkl_rc pkl_file_mkdirs(const char *path, mode_t mode, struct pkl_err *err);

/* fsync of a directory (after renames in it). */
enum pkl_rc pkl_file_sync_dir(const char *dir, struct pkl_err *err);

/* One syncfs() for the filesystem holding path: cheaper than an fsync per file. */
enum pkl_rc pkl_file_sync_fs(const char *path, struct pkl_err *err);

int pkl_file_exists(const char *path);

/* snprintf into out, failing (PKL_EINPUT) when the path would be truncated. */
enum pkl_rc pkl_path_join(char *out, size_t outlen, struct pkl_err *err, const char *fmt, ...)
	PKL_PRINTF(4, 5);

#endif
