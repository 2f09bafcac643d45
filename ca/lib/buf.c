/* Growable byte buffer (see pkilab/buf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "pkilab/buf.h"

enum pkl_rc pkl_buf_reserve(struct pkl_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len - 1)
		return PKL_ERUNTIME;
	need = b->len + extra + 1; /* room for the NUL of pkl_buf_cstr */
	if (need <= b->cap)
		return PKL_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return PKL_ERUNTIME;
	b->data = p;
	b->cap = cap;
	return PKL_OK;
}

enum pkl_rc pkl_buf_append(struct pkl_buf *b, const void *data, size_t len)
{
	if (pkl_buf_reserve(b, len) != PKL_OK)
		return PKL_ERUNTIME;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return PKL_OK;
}

enum pkl_rc pkl_buf_printf(struct pkl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || pkl_buf_reserve(b, (size_t)n) != PKL_OK)
		return PKL_ERUNTIME;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return PKL_OK;
}

const char *pkl_buf_cstr(struct pkl_buf *b)
{
	if (!b->data && pkl_buf_reserve(b, 0) != PKL_OK)
		return "";
	b->data[b->len] = '\0';
	return (const char *)b->data;
}

void pkl_buf_wipe(struct pkl_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	pkl_buf_free(b);
}

size_t pkl_hex(const void *data, size_t n, char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = data;
	size_t i, o = 0;

	if (!outlen)
		return 0;
	for (i = 0; i < n && o + 2 < outlen; i++) {
		out[o++] = digits[b[i] >> 4];
		out[o++] = digits[b[i] & 15];
	}
	out[o] = '\0';
	return o;
}

void pkl_buf_free(struct pkl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
