/*
 * The process environment, read once at the edge.
 *
 * Each program's main() calls pkl_env_read() with getenv (a test passes its
 * own lookup), which checks every variable pkilab understands and refuses a
 * malformed one, then pkl_env_apply() hands the values to the library's
 * setters (clock, resolve list, passphrase source, locale). Nothing under
 * ca/lib calls getenv(3) itself, so a library call behaves the same whatever
 * the environment of the process that links it.
 *
 * Variables (values are borrowed from the lookup, e.g. the environ block):
 *   PKILAB_DIR                    default for --pki ("" = unset)
 *   PKILAB_TEMPLATES              template directory ("" = unset)
 *   PKILAB_NOW                    fixed current time, absolute or relative to the
 *                                 system clock, as --at (ptime.h)
 *   PKILAB_RESOLVE                HOST:PORT:ADDR[:PORT2] entries, comma or space separated
 *   PKILAB_KEY_PASSPHRASE(_FILE)  passphrase for encrypted CA keys (key.h)
 *   PKILAB_P12_PASSWORD           PKCS#12 export password
 *   TMPDIR                        scratch directory ("" = unset)
 *   LC_ALL, LC_CTYPE, LANG        the first one set decides UTF-8 output
 */
#ifndef PKILAB_ENV_H
#define PKILAB_ENV_H

#include "err.h"
#include "ptime.h"

struct pkl_env {
	const char *pki_dir;             /* PKILAB_DIR or NULL */
	const char *templates;           /* PKILAB_TEMPLATES or NULL */
	int now_set;                     /* PKILAB_NOW was set */
	pkl_time now;                    /* its value when now_set */
	const char *resolve;             /* PKILAB_RESOLVE (checked) or NULL */
	const char *key_passphrase;      /* PKILAB_KEY_PASSPHRASE or NULL */
	const char *key_passphrase_file; /* PKILAB_KEY_PASSPHRASE_FILE or NULL */
	const char *p12_password;        /* PKILAB_P12_PASSWORD or NULL */
	const char *tmpdir;              /* TMPDIR or NULL */
	int utf8;                        /* the locale asks for UTF-8 */
};

/* The lookup: getenv(3), or a table in a test. */
typedef char *(*pkl_env_lookup)(const char *name);

/* Fills env from lookup. A malformed PKILAB_NOW or PKILAB_RESOLVE is
 * PKL_EINPUT, with the variable's name as the error's location; env is then
 * left zeroed. Empty values count as unset. */
enum pkl_rc pkl_env_read(struct pkl_env *env, pkl_env_lookup lookup, struct pkl_err *err);

/* PKILAB_NOW alone (what cdpd reads): *set is 0 when unset or empty. */
enum pkl_rc pkl_env_read_now(pkl_env_lookup lookup, int *set, pkl_time *now, struct pkl_err *err);

/* Passes env to the library's process-wide settings: pkl_time_set_now,
 * pkl_fetch_set_resolve, pkl_key_passphrase_set_source, pkl_report_set_utf8.
 * Call it once at start, before any thread; env's strings must outlive the
 * process' use of the library (the environ block does). */
void pkl_env_apply(const struct pkl_env *env);

#endif
