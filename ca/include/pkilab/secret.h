/*
 * One reader for secrets (PKCS#12 passwords, key passphrases).
 *
 * A secret comes from the first source that is set, in this order: the first
 * line of a file, a value the caller took from the environment, or a prompt
 * on /dev/tty with echo off (optionally asked twice). Never from the command
 * line: it would show in ps(1) and shell history. Every buffer that held the
 * secret is wiped with OPENSSL_cleanse(); release the result with
 * pkl_secret_free().
 */
#ifndef PKILAB_SECRET_H
#define PKILAB_SECRET_H

#include <stddef.h>
#include "err.h"

enum pkl_secret_from {
	PKL_SECRET_NONE, /* no source set, or a prompt without a terminal */
	PKL_SECRET_FILE,
	PKL_SECRET_VALUE,
	PKL_SECRET_PROMPT,
};

struct pkl_secret_src {
	const char *file;   /* the first line of this file (up to CR or LF), if set */
	size_t file_max;    /* largest file read; 0: 64 KiB */
	const char *value;  /* else this value (e.g. from the environment), if set and non-empty */
	const char *prompt; /* else ask on /dev/tty with this text; NULL: never prompt */
	int confirm;        /* ask twice and require the same answer */
	size_t prompt_max;  /* longest answer kept (longer input is cut); 0: 1023 */
};

/* Reads the secret. On PKL_OK *out holds it (caller frees with
 * pkl_secret_free) and *from says where it came from, or *out is NULL and
 * *from is PKL_SECRET_NONE when nothing was set or no terminal could be
 * opened for the prompt: the caller words that case. An unreadable file
 * keeps pkl_file_read's error; a failed prompt is PKL_EINPUT
 * ("cannot read the password from the terminal", "the two passwords differ"). */
enum pkl_rc pkl_secret_read(const struct pkl_secret_src *src, char **out, enum pkl_secret_from *from,
			    struct pkl_err *err);
/* Wipes len bytes at p (a caller's own buffer that held a secret) in a way
 * the compiler cannot drop; NULL is a no-op. */
void pkl_secret_wipe(void *p, size_t len);
/* Wipes and frees; NULL is a no-op. */
void pkl_secret_free(char *s);

#endif
