/*
 * An all-or-nothing set of files: the one mechanism behind the PKI journal
 * (pki.c), exports (export.c) and a new PKI's staging directory (build.c).
 *
 * Every file of the set is written to a temporary name next to its final
 * one (".<name>.tmp-XXXXXX", see pkl_file_write_temp); a staged directory
 * is created as "<name>.new-<pid>-XXXXXX" beside its final name. Nothing in
 * the final layout changes until commit, which:
 *   1. makes the temporaries durable (an fsync per file, or with
 *      PKL_FILESET_BATCH_SYNC one syncfs for them all) and checks what it
 *      can foresee (a directory where a file goes) before any rename;
 *   2. records the list of renames still to do in a journal: the file
 *      "<dir>/.fileset-journal" written atomically, or, with
 *      PKL_FILESET_EXTERNAL_JOURNAL, the caller's own journal (pki.c commits
 *      the list in the same SQLite transaction as the rows, see
 *      pkl_fileset_each);
 *   3. renames every temporary into place and syncs the directories;
 *   4. forgets the journal.
 *
 * Invariant: after a crash at any step, the next open (pkl_fileset_recover
 * for a journal file; pkl_pki_open for the PKI's journal) sees either the
 * old set or the new set, never a mix. A crash before step 2 completes
 * leaves only temporaries, which are not part of the layout and which
 * recovery deletes (roll back); a crash after it leaves a journal, which
 * recovery finishes (roll forward; a set of one entry needs no journal, its
 * one rename being atomic; a rename already done is ENOENT on its
 * temporary name and counts as done). Recovery is idempotent, so a crash
 * during recovery is recovered by the next one.
 *
 * Without a crash, a failure at any step before the first rename changes
 * nothing on disk (directories the set created are removed again); only a
 * rename failure between renames can leave part of the set in place, and
 * then the journal still names the rest.
 */
#ifndef PKILAB_FILESET_H
#define PKILAB_FILESET_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"

enum {
	PKL_FILESET_MKDIRS = 1u << 0,           /* create missing parents; abort removes them */
	PKL_FILESET_BATCH_SYNC = 1u << 1,       /* no fsync per file: one syncfs at commit */
	PKL_FILESET_EXTERNAL_JOURNAL = 1u << 2, /* no journal file: the caller records the
						   entries between _prepare and _publish */
};

/* The journal file of a set without PKL_FILESET_EXTERNAL_JOURNAL. */
#define PKL_FILESET_JOURNAL ".fileset-journal"

struct pkl_fileset;

/* Called at each step of commit with a step number counting from 1 (tests
 * use it to crash at every step; production code never sets it). */
typedef void (*pkl_fileset_step_fn)(int step, void *cls);

/* A new, empty set whose names are relative to dir. */
struct pkl_fileset *pkl_fileset_begin(const char *dir, unsigned flags, struct pkl_err *err);

/* Stages a file: written now to a temporary name next to dir/name, renamed
 * over it at commit. Refuses like pkl_file_write_atomic when dir/name is not
 * replaceable. */
enum pkl_rc pkl_fileset_add(struct pkl_fileset *fs, const char *name, const void *data, size_t len,
			    mode_t mode, struct pkl_err *err);

/* Stages a directory: creates "path.new-<pid>-XXXXXX" (mode 0755; path is
 * the final path as the user named it, in the set's dir, which is created
 * when missing) and writes its path to staged; the caller fills it; commit
 * renames it over path, which must be missing or empty. Dead ones (their
 * pid gone) of earlier runs are removed first. */
enum pkl_rc pkl_fileset_add_dir(struct pkl_fileset *fs, const char *path, char *staged, size_t stagedlen,
				struct pkl_err *err);

/* Step 1 of commit (durability and foreseeable failures). */
enum pkl_rc pkl_fileset_prepare(struct pkl_fileset *fs, struct pkl_err *err);

/* Calls fn(tmp, final, cls) for every staged entry, in order; stops at the
 * first non-zero return. For a caller's own journal. */
int pkl_fileset_each(const struct pkl_fileset *fs, int (*fn)(const char *tmp, const char *final, void *cls),
		     void *cls);

/* Step 3: renames everything into place, appending each final path to
 * listing (when not NULL), and syncs the directories. */
enum pkl_rc pkl_fileset_publish(struct pkl_fileset *fs, struct pkl_buf *listing, struct pkl_err *err);

/* Steps 1 to 4. On a failure before the first rename nothing has changed
 * and the set is aborted. */
enum pkl_rc pkl_fileset_commit(struct pkl_fileset *fs, struct pkl_buf *listing, struct pkl_err *err);

/* Removes every staged temporary and the directories the set created.
 * Nothing happens after a successful commit. */
void pkl_fileset_abort(struct pkl_fileset *fs);

/* Aborts what is not committed and frees. NULL is a no-op. */
void pkl_fileset_free(struct pkl_fileset *fs);

void pkl_fileset_set_step_hook(struct pkl_fileset *fs, pkl_fileset_step_fn fn, void *cls);

/* Recovery of what a crash left in dir: finishes the renames of
 * dir/.fileset-journal, if present, and removes it; then removes stray
 * temporaries in dir. */
enum pkl_rc pkl_fileset_recover(const char *dir, struct pkl_err *err);

/* Finishes one journalled rename (for a caller's own journal): ENOENT on
 * tmp means done already. */
enum pkl_rc pkl_fileset_roll_forward(const char *tmp, const char *final, struct pkl_err *err);

/* Deletes (or, with dry_run, only counts) the temporaries of uncommitted
 * sets in the one directory dir. Names are unlinked relative to the opened
 * directory and never followed: a link or directory with such a name is
 * unlinked as itself or left alone, never its target. */
size_t pkl_fileset_sweep(const char *dir, int dry_run);

#endif
