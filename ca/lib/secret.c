/*
 * The secret reader (see pkilab/secret.h): file, value, then terminal.
 * Everything that held the secret on the way is wiped.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pkilab/buf.h"
#include "pkilab/file.h"
#include "pkilab/secret.h"

#define DEF_FILE_MAX   ((size_t)64 * 1024)
#define DEF_PROMPT_MAX 1023

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* One line from the terminal with echo off (termios(3)); the newline is not kept. */
static int read_tty_line(int fd, const char *prompt, char *out, size_t len)
{
	struct termios old, quiet;
	size_t n = 0;
	int echo_off;
	char c;

	if (write(fd, prompt, strlen(prompt)) < 0)
		return -1;
	echo_off = tcgetattr(fd, &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	while (read(fd, &c, 1) == 1 && c != '\n')
		if (n + 1 < len)
			out[n++] = c;
	out[n] = '\0';
	c = 0;
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		return -1;
	return 0;
}

static enum pkl_rc from_prompt(const struct pkl_secret_src *src, char **out, enum pkl_secret_from *from,
			       struct pkl_err *err)
{
	size_t len = (src->prompt_max ? src->prompt_max : DEF_PROMPT_MAX) + 1;
	char *pw = NULL, *again = NULL;
	enum pkl_rc rc = PKL_OK;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return PKL_OK; /* PKL_SECRET_NONE: the caller says what was needed */
	pw = calloc(1, len);
	again = calloc(1, len);
	if (!pw || !again)
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	else if (read_tty_line(fd, src->prompt, pw, len) != 0 ||
		 (src->confirm && read_tty_line(fd, "again: ", again, len) != 0))
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "cannot read the password from the terminal");
	else if (src->confirm && strcmp(pw, again) != 0)
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "the two passwords differ");
	close(fd);
	if (again) {
		OPENSSL_cleanse(again, len);
		free(again);
	}
	if (rc != PKL_OK) {
		if (pw)
			OPENSSL_cleanse(pw, len);
		free(pw);
		return rc;
	}
	*out = pw;
	*from = PKL_SECRET_PROMPT;
	return PKL_OK;
}

enum pkl_rc pkl_secret_read(const struct pkl_secret_src *src, char **out, enum pkl_secret_from *from,
			    struct pkl_err *err)
{
	enum pkl_secret_from where = PKL_SECRET_NONE;
	enum pkl_rc rc;
	char *s = NULL;

	*out = NULL;
	if (from)
		*from = PKL_SECRET_NONE;
	if (src->file) {
		struct pkl_buf b = PKL_BUF_INIT;

		rc = pkl_file_read(src->file, src->file_max ? src->file_max : DEF_FILE_MAX, &b, err);
		if (rc != PKL_OK)
			return rc;
		const char *t = pkl_buf_cstr(&b);

		s = dup_n(t, strcspn(t, "\r\n"));
		pkl_buf_wipe(&b);
		where = PKL_SECRET_FILE;
	} else if (src->value && *src->value) {
		s = strdup(src->value);
		where = PKL_SECRET_VALUE;
	} else if (src->prompt) {
		rc = from_prompt(src, out, from ? from : &where, err);
		return rc;
	} else {
		return PKL_OK;
	}
	if (!s)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	*out = s;
	if (from)
		*from = where;
	return PKL_OK;
}

void pkl_secret_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

void pkl_secret_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
