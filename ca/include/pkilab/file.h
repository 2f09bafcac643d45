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

/* Atomic replace of path with data, created with mode. Only a regular file
 * (or nothing) at path is replaced: a device node, FIFO, socket, directory or
 * symbolic link there is refused (PKL_EINPUT) and left as it is. rename()
 * would put a regular file in place of /dev/null or a FIFO, and a link may
 * have been planted by whoever can write the directory; a link is refused
 * rather than replaced or written through so that neither its target nor
 * the link changes behind the user's back (name the target instead). */
enum pkl_rc pkl_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				  struct pkl_err *err);

/* PKL_OK when path does not exist or is a regular file (not a symbolic
 * link); otherwise PKL_EINPUT naming what is there. */
enum pkl_rc pkl_file_check_replaceable(const char *path, struct pkl_err *err);

/* Writes data to a new temporary file next to path ("dir/.name.tmp-XXXXXX"),
 * refusing like pkl_file_write_atomic when path is not replaceable,
 * optionally without fsync (the caller batches durability with pkl_file_sync_fs).
 * The temporary name is written to tmp (size tmplen). */
enum pkl_rc pkl_file_write_temp(const char *path, const void *data, size_t len, mode_t mode, int do_fsync,
				char *tmp, size_t tmplen, struct pkl_err *err);

/* Creates a directory and its parents; the last component gets mode. */
enum pkl_rc pkl_file_mkdirs(const char *path, mode_t mode, struct pkl_err *err);

/* fsync of a directory (after renames in it). */
enum pkl_rc pkl_file_sync_dir(const char *dir, struct pkl_err *err);

/* One syncfs() for the filesystem holding path: cheaper than an fsync per file. */
enum pkl_rc pkl_file_sync_fs(const char *path, struct pkl_err *err);

int pkl_file_exists(const char *path);

/* Removes the entry name of the open directory dfd and, when it is a
 * directory, everything below it, without ever following a symbolic link: a
 * link is unlinked, directories are opened relative to their parent's
 * descriptor with O_NOFOLLOW, and the walk stays on dfd's filesystem. name
 * is one path component. Best effort: everything removable is removed and
 * the first failure is reported. pkl_file_remove_tree does the same for a
 * path (the directory part of which is resolved normally). */
enum pkl_rc pkl_file_remove_tree_at(int dfd, const char *name, struct pkl_err *err);
enum pkl_rc pkl_file_remove_tree(const char *path, struct pkl_err *err);

/* Removes, with pkl_file_remove_tree_at, every entry of dir for which
 * match(name, cls) is true AND that is a directory (not a link to one) owned
 * by the effective user: a sweep of our own litter in a directory others may
 * write to. *removed (when not NULL) receives the count. */
enum pkl_rc pkl_file_sweep(const char *dir, int (*match)(const char *name, void *cls), void *cls,
			   size_t *removed, struct pkl_err *err);

/* snprintf into out, failing (PKL_EINPUT) when the path would be truncated. */
enum pkl_rc pkl_path_join(char *out, size_t outlen, struct pkl_err *err, const char *fmt, ...)
	PKL_PRINTF(4, 5);

#endif
