/* A growable byte buffer. The struct owns `data`; pkl_buf_free() releases it. */
#ifndef PKILAB_BUF_H
#define PKILAB_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct pkl_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

#define PKL_BUF_INIT       \
	{                  \
		NULL, 0, 0 \
	}

/* Appends; returns PKL_ERUNTIME on allocation failure (aborting is not ours to do). */
enum pkl_rc pkl_buf_append(struct pkl_buf *b, const void *data, size_t len);
enum pkl_rc pkl_buf_printf(struct pkl_buf *b, const char *fmt, ...) PKL_PRINTF(2, 3);
enum pkl_rc pkl_buf_reserve(struct pkl_buf *b, size_t extra);
/* Keeps a NUL after the data without counting it, for text use. */
const char *pkl_buf_cstr(struct pkl_buf *b);
/* Wipes (OPENSSL_cleanse) then frees: use for anything that held a secret. */
void pkl_buf_wipe(struct pkl_buf *b);
void pkl_buf_free(struct pkl_buf *b);

/* Lowercase hex of n bytes into out, always NUL-terminated; stops at whole
 * bytes when outlen is short. Returns the number of characters written. */
size_t pkl_hex(const void *data, size_t n, char *out, size_t outlen);

#endif
