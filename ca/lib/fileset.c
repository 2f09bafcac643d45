/*
 * All-or-nothing file sets (see pkilab/fileset.h for the crash-consistency
 * contract): staging under temporary names, a journal of the renames, the
 * renames, and recovery of what a crash left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkilab/file.h"
#include "pkilab/fileset.h"

struct entry {
	char tmp[PATH_MAX];
	char final[PATH_MAX];
	int is_dir;
};

struct pkl_fileset {
	char dir[PATH_MAX];
	unsigned flags;
	struct entry *e;
	size_t n, cap;
	char (*dirs)[PATH_MAX]; /* created by us, parents first */
	size_t n_dirs, cap_dirs;
	int committed;  /* past the journal: only going forward, abort is a no-op */
	int journalled; /* the renames are recorded (journal file or the caller's) */
	pkl_fileset_step_fn step;
	void *step_cls;
	int step_n;
};

static void step(struct pkl_fileset *fs)
{
	fs->step_n++;
	if (fs->step)
		fs->step(fs->step_n, fs->step_cls);
}

struct pkl_fileset *pkl_fileset_begin(const char *dir, unsigned flags, struct pkl_err *err)
{
	struct pkl_fileset *fs = calloc(1, sizeof(*fs));

	if (!fs) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		return NULL;
	}
	if (pkl_path_join(fs->dir, sizeof(fs->dir), err, "%s", dir) != PKL_OK) {
		free(fs);
		return NULL;
	}
	/* Without trailing slashes: listed paths read "dir/f". */
	for (size_t l = strlen(fs->dir); l > 1 && fs->dir[l - 1] == '/'; l--)
		fs->dir[l - 1] = '\0';
	fs->flags = flags;
	return fs;
}

void pkl_fileset_set_step_hook(struct pkl_fileset *fs, pkl_fileset_step_fn fn, void *cls)
{
	fs->step = fn;
	fs->step_cls = cls;
}

static struct entry *new_entry(struct pkl_fileset *fs, struct pkl_err *err)
{
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 16;
		struct entry *e = realloc(fs->e, cap * sizeof(*e));
		if (!e) {
			pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
			return NULL;
		}
		fs->e = e;
		fs->cap = cap;
	}
	memset(&fs->e[fs->n], 0, sizeof(fs->e[fs->n]));
	return &fs->e[fs->n];
}

static int track_dir(struct pkl_fileset *fs, const char *path)
{
	if (fs->n_dirs == fs->cap_dirs) {
		size_t cap = fs->cap_dirs ? fs->cap_dirs * 2 : 8;
		char(*d)[PATH_MAX] = realloc(fs->dirs, cap * sizeof(*d));
		if (!d)
			return -1;
		fs->dirs = d;
		fs->cap_dirs = cap;
	}
	snprintf(fs->dirs[fs->n_dirs++], PATH_MAX, "%s", path);
	return 0;
}

/* Creates path and missing parents, remembering what it created so that an
 * abort can remove exactly that. One prefix after the other, parents first:
 * no recursion per component (a deep path overflowed the stack), and a
 * trailing or doubled slash names no new directory. */
static enum pkl_rc mkdir_track(struct pkl_fileset *fs, const char *path, struct pkl_err *err)
{
	char buf[PATH_MAX];
	struct stat sb;
	size_t len;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return pkl_err_set(err, PKL_EINPUT, path, "output path too long");
	len = strlen(buf);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0'; /* buf is now the prefix up to this component */
		if (stat(buf, &sb) == 0) {
			if (!S_ISDIR(sb.st_mode))
				return pkl_err_set(err, PKL_EINPUT, buf,
						   "output path exists and is not a directory");
		} else if (mkdir(buf, 0755) == 0) {
			if (track_dir(fs, buf) != 0) {
				rmdir(buf);
				return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
			}
		} else if (errno != EEXIST) {
			return pkl_err_sys(err, buf, "cannot create directory");
		}
		if (c == '\0')
			break;
		*p = c;
	}
	return PKL_OK;
}

enum pkl_rc pkl_fileset_add(struct pkl_fileset *fs, const char *name, const void *data, size_t len,
			    mode_t mode, struct pkl_err *err)
{
	struct entry *e = new_entry(fs, err);
	char dir[PATH_MAX], *slash;
	enum pkl_rc rc;

	if (!e)
		return PKL_ERUNTIME;
	rc = pkl_path_join(e->final, sizeof(e->final), err, "%s/%s", fs->dir, name);
	if (rc != PKL_OK)
		return rc;
	if (fs->flags & PKL_FILESET_MKDIRS) {
		snprintf(dir, sizeof(dir), "%s", e->final);
		slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			if ((rc = mkdir_track(fs, dir, err)) != PKL_OK)
				return rc;
		}
	}
	rc = pkl_file_write_temp(e->final, data, len, mode, !(fs->flags & PKL_FILESET_BATCH_SYNC), e->tmp,
				 sizeof(e->tmp), err);
	if (rc != PKL_OK)
		return err ? err->rc : PKL_ERUNTIME;
	fs->n++;
	return PKL_OK;
}

struct staging_match {
	char prefix[NAME_MAX + 8]; /* "<name>.new-" */
};

/* "<name>.new-<pid>-XXXXXX" (mkdtemp's six characters) whose pid is gone. */
static int is_dead_staging(const char *name, void *cls)
{
	const struct staging_match *m = cls;
	size_t plen = strlen(m->prefix);
	const char *p = name + plen, *dash;
	char *end;
	long pid;

	if (strncmp(name, m->prefix, plen) != 0 || *p < '1' || *p > '9')
		return 0;
	pid = strtol(p, &end, 10);
	dash = end;
	if (*dash != '-' || strlen(dash + 1) != 6 || pid <= 0 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Staging directories of runs that were killed are removed, so a kill -9
 * leaves no litter for long. The parent directory may be writable by others
 * (a shared workspace): pkl_file_sweep only removes real directories this
 * user owns and never follows a link, so a planted "<name>.new-0-x -> victim"
 * costs nothing but its own name. */
static void sweep_dead_staging(const char *final)
{
	char parent[PATH_MAX], tmp[PATH_MAX];
	struct staging_match m;

	snprintf(tmp, sizeof(tmp), "%s", final);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s", final);
	snprintf(m.prefix, sizeof(m.prefix), "%s.new-", basename(tmp));
	(void)pkl_file_sweep(parent, is_dead_staging, &m, NULL, NULL);
}

enum pkl_rc pkl_fileset_add_dir(struct pkl_fileset *fs, const char *path, char *staged, size_t stagedlen,
				struct pkl_err *err)
{
	struct entry *e = new_entry(fs, err);
	enum pkl_rc rc;

	if (!e)
		return PKL_ERUNTIME;
	rc = pkl_path_join(e->final, sizeof(e->final), err, "%s", path);
	if (rc != PKL_OK)
		return rc;
	if (pkl_file_mkdirs(fs->dir, 0755, err) != PKL_OK)
		return err ? err->rc : PKL_ERUNTIME;
	sweep_dead_staging(e->final);
	if (pkl_path_join(e->tmp, sizeof(e->tmp), err, "%s.new-%ld-XXXXXX", e->final, (long)getpid()) !=
	    PKL_OK)
		return PKL_EINPUT;
	if (!mkdtemp(e->tmp))
		return pkl_err_sys(err, fs->dir, "cannot create the PKI directory here");
	chmod(e->tmp, 0755);
	if (pkl_path_join(staged, stagedlen, err, "%s", e->tmp) != PKL_OK) {
		(void)pkl_file_remove_tree(e->tmp, NULL);
		return PKL_EINPUT;
	}
	e->is_dir = 1;
	fs->n++;
	return PKL_OK;
}

enum pkl_rc pkl_fileset_prepare(struct pkl_fileset *fs, struct pkl_err *err)
{
	struct stat sb;

	/* The one rename failure we can foresee (a directory in the way of a
	 * file) is checked for every file before the first rename, so it
	 * changes nothing. */
	for (size_t i = 0; i < fs->n; i++)
		if (!fs->e[i].is_dir && lstat(fs->e[i].final, &sb) == 0 && S_ISDIR(sb.st_mode))
			return pkl_err_set(err, PKL_EINPUT, fs->e[i].final,
					   "is a directory: cannot write the exported file there");
	if ((fs->flags & PKL_FILESET_BATCH_SYNC) && fs->n)
		return pkl_file_sync_fs(fs->dir, err);
	return PKL_OK;
}

int pkl_fileset_each(const struct pkl_fileset *fs, int (*fn)(const char *tmp, const char *final, void *cls),
		     void *cls)
{
	for (size_t i = 0; i < fs->n; i++) {
		int r = fn(fs->e[i].tmp, fs->e[i].final, cls);
		if (r)
			return r;
	}
	return 0;
}

static void sync_parent(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	pkl_file_sync_dir(dirname(tmp), NULL);
}

static int same_parent(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');

	return sa && sb && sa - a == sb - b && strncmp(a, b, (size_t)(sa - a)) == 0;
}

enum pkl_rc pkl_fileset_publish(struct pkl_fileset *fs, struct pkl_buf *listing, struct pkl_err *err)
{
	enum pkl_rc rc = PKL_OK;

	/* Once journalled, a failure below leaves the temporaries for recovery
	 * to finish, never removes them. Unjournalled (one entry), its rename
	 * failing changed nothing and abort still cleans up. */
	if (fs->flags & PKL_FILESET_EXTERNAL_JOURNAL)
		fs->journalled = 1;
	fs->committed = fs->journalled;
	for (size_t i = 0; i < fs->n; i++) {
		/* ENOENT: already renamed, by us or by a concurrent recovery. */
		if (rename(fs->e[i].tmp, fs->e[i].final) != 0 && !(errno == ENOENT && !fs->e[i].is_dir)) {
			rc = pkl_err_sys(err, fs->e[i].final,
					 fs->e[i].is_dir ? "cannot move the new PKI into place" :
							   "cannot rename into place");
			break;
		}
		fs->committed = 1;
		step(fs);
		if (listing)
			pkl_buf_printf(listing, "%s\n", fs->e[i].final);
	}
	if (rc != PKL_OK)
		return rc;
	/* One sync per run of entries in the same directory. */
	for (size_t i = 0; i < fs->n; i++)
		if (i == 0 || !same_parent(fs->e[i].final, fs->e[i - 1].final))
			sync_parent(fs->e[i].final);
	return PKL_OK;
}

/* The journal file: NUL-terminated tmp and final paths, in pairs. */
static enum pkl_rc write_journal(struct pkl_fileset *fs, char *path, size_t pathlen, struct pkl_err *err)
{
	struct pkl_buf j = PKL_BUF_INIT;
	enum pkl_rc rc;

	rc = pkl_path_join(path, pathlen, err, "%s/%s", fs->dir, PKL_FILESET_JOURNAL);
	for (size_t i = 0; i < fs->n && rc == PKL_OK; i++)
		if (pkl_buf_append(&j, fs->e[i].tmp, strlen(fs->e[i].tmp) + 1) != PKL_OK ||
		    pkl_buf_append(&j, fs->e[i].final, strlen(fs->e[i].final) + 1) != PKL_OK)
			rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	if (rc == PKL_OK)
		rc = pkl_file_write_atomic(path, j.data, j.len, 0600, err);
	if (rc == PKL_OK) {
		pkl_file_sync_dir(fs->dir, NULL);
		fs->journalled = 1;
	}
	pkl_buf_free(&j);
	return rc;
}

enum pkl_rc pkl_fileset_commit(struct pkl_fileset *fs, struct pkl_buf *listing, struct pkl_err *err)
{
	char journal[PATH_MAX] = "";
	enum pkl_rc rc;

	rc = pkl_fileset_prepare(fs, err);
	if (rc == PKL_OK)
		step(fs);
	/* One entry needs no journal: its rename alone is atomic. */
	if (rc == PKL_OK && !(fs->flags & PKL_FILESET_EXTERNAL_JOURNAL) && fs->n > 1)
		rc = write_journal(fs, journal, sizeof(journal), err);
	if (rc != PKL_OK) {
		pkl_fileset_abort(fs);
		return rc;
	}
	step(fs);
	rc = pkl_fileset_publish(fs, listing, err);
	if (rc != PKL_OK)
		return rc; /* the journal names what is left; recovery finishes it */
	if (journal[0]) {
		unlink(journal);
		pkl_file_sync_dir(fs->dir, NULL);
		step(fs);
	}
	return PKL_OK;
}

void pkl_fileset_abort(struct pkl_fileset *fs)
{
	if (!fs || fs->committed)
		return;
	for (size_t i = 0; i < fs->n; i++) {
		if (fs->e[i].is_dir)
			(void)pkl_file_remove_tree(fs->e[i].tmp, NULL);
		else
			unlink(fs->e[i].tmp);
	}
	fs->n = 0;
	for (size_t i = fs->n_dirs; i > 0; i--)
		rmdir(fs->dirs[i - 1]);
	fs->n_dirs = 0;
}

void pkl_fileset_free(struct pkl_fileset *fs)
{
	if (!fs)
		return;
	pkl_fileset_abort(fs);
	free(fs->e);
	free(fs->dirs);
	free(fs);
}

enum pkl_rc pkl_fileset_roll_forward(const char *tmp, const char *final, struct pkl_err *err)
{
	/* Already renamed before the crash: nothing to do. */
	if (rename(tmp, final) != 0 && errno != ENOENT)
		return pkl_err_sys(err, final, "cannot rename into place");
	return PKL_OK;
}

size_t pkl_fileset_sweep(const char *dir, int dry_run)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-") &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
			n++;
			if (!dry_run)
				(void)unlinkat(dirfd(d), e->d_name, 0);
		}
	closedir(d);
	return n;
}

enum pkl_rc pkl_fileset_recover(const char *dir, struct pkl_err *err)
{
	struct pkl_buf j = PKL_BUF_INIT;
	char path[PATH_MAX];
	enum pkl_rc rc;
	struct stat st;

	rc = pkl_path_join(path, sizeof(path), err, "%s/%s", dir, PKL_FILESET_JOURNAL);
	if (rc != PKL_OK)
		return rc;
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return pkl_err_set(err, PKL_EINPUT, path, "is not a regular file");
		rc = pkl_file_read(path, 0, &j, err);
		/* Pairs of NUL-terminated paths; the file was written atomically,
		 * so it is whole or absent. */
		for (size_t off = 0; rc == PKL_OK && off < j.len;) {
			const char *tmp = (const char *)j.data + off;
			size_t tl = strnlen(tmp, j.len - off);
			const char *final = tmp + tl + 1;
			size_t fl;

			if (off + tl + 1 >= j.len)
				break;
			fl = strnlen(final, j.len - off - tl - 1);
			if (off + tl + 1 + fl >= j.len)
				break;
			rc = pkl_fileset_roll_forward(tmp, final, err);
			if (rc == PKL_OK)
				sync_parent(final);
			off += tl + 1 + fl + 1;
		}
		pkl_buf_free(&j);
		if (rc != PKL_OK)
			return rc;
		if (unlink(path) != 0 && errno != ENOENT)
			return pkl_err_sys(err, path, "cannot remove");
		pkl_file_sync_dir(dir, NULL);
	}
	pkl_fileset_sweep(dir, 0);
	return PKL_OK;
}
