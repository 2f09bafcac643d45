/*
 * Rollback protection that survives a restart: the highest CRL number the
 * server has ever accepted for each CA, kept in <state_dir>/crl-numbers.
 *
 * The catalog refuses a candidate CRL with a lower number than the one it
 * serves; without this file a restart forgets that, and a replayed older CRL
 * (validly signed and not yet expired, so nothing else catches it) would be
 * served again. The marks are keyed by CA name AND the CA's key identity, so
 * a CA re-keyed under the same name (a new key whose CRLs start over at 1) is
 * not locked out, while a CA certificate merely renewed on the same key keeps
 * its mark (the old key still verifies the old CRLs, so they must stay
 * refused). RFC 5280 §5.2.3: CRL numbers strictly increase per issuer.
 *
 * One file for every CA, not one per CA: a lab has a handful of CAs and a
 * mark rises at most once per re-publication, so rewriting a few hundred
 * bytes is nothing; one rename makes every change all-or-nothing (no
 * half-updated set after a crash between two files); one line per mark lets
 * every parse error name its line; and an admin resets a CA by deleting one
 * line. The file is text, written atomically (temporary file, fsync, rename,
 * fsync of the directory) and only when a mark rises, from the threads that
 * rebuild the catalog, never from a request.
 *
 * The parser fails closed: a file that is not exactly what this code writes
 * (including a last line without its newline, which is what a truncated copy
 * looks like and could lower a mark: "123" cut to "12") stops the server at
 * start with the file and line, rather than weaken the protection silently.
 * The directory is flock()ed for the life of the process: two instances
 * rewriting one file would lose each other's marks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cdpd.h"
#include "pkilab/buf.h"
#include "pkilab/file.h"

#define HEADER       "pkilab-cdpd crl-numbers 1"
#define LINE_MAX_LEN 512
#define FILE_MAX     (16L << 20)
/* RFC 5280 §5.2.3: at most 20 octets, so 0 <= n <= 2^159 - 1. */
static const char number_max[] = "730750818665451459101842416358141509827966271487";

struct cdp_state *cdp_state_new(void)
{
	struct cdp_state *st = calloc(1, sizeof(*st));

	if (st)
		st->lock_fd = -1;
	return st;
}

void cdp_state_free(struct cdp_state *st)
{
	if (!st)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	free(st->v);
	free(st);
}

static struct cdp_state_mark *find(const struct cdp_state *st, const char *ca, const char *keyid)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->v[i].ca, ca) == 0 && strcmp(st->v[i].keyid, keyid) == 0)
			return &st->v[i];
	return NULL;
}

static struct cdp_state_mark *append(struct cdp_state *st)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct cdp_state_mark *v = realloc(st->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		st->v = v;
		st->cap = cap;
	}
	memset(&st->v[st->n], 0, sizeof(st->v[st->n]));
	return &st->v[st->n++];
}

/* A decimal CRL number in range, without its leading zeros, into out. */
static int number_ok(const char *s, char out[PKL_CRL_NUMBER_MAX])
{
	size_t n;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return 0;
	while (s[0] == '0' && s[1])
		s++;
	n = strlen(s);
	if (n > sizeof(number_max) - 1 || (n == sizeof(number_max) - 1 && strcmp(s, number_max) > 0))
		return 0;
	memcpy(out, s, n + 1);
	return 1;
}

static int keyid_ok(const char *s, char out[CDP_KEYID_MAX + 1])
{
	size_t n = strlen(s), i;

	if (n < 2 || n > CDP_KEYID_MAX || n % 2 || strspn(s, "0123456789abcdefABCDEF") != n)
		return 0;
	for (i = 0; i <= n; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
	return 1;
}

/* One line (NUL-terminated, no newline) of the file. */
static enum pkl_rc parse_line(struct cdp_state *st, char *line, const char *where, const unsigned *lines,
			      struct pkl_err *err)
{
	char *tok[4], *save = NULL, *p;
	struct cdp_state_mark m, *dup;
	size_t nt = 0;

	p = line + strspn(line, " \t");
	if (!*p || *p == '#')
		return PKL_OK;
	for (p = strtok_r(line, " \t", &save); p && nt < 4; p = strtok_r(NULL, " \t", &save))
		tok[nt++] = p;
	if (nt != 3)
		return pkl_err_set(err, PKL_EINPUT, where, "expected 'CA KEY-ID CRL-NUMBER'");
	memset(&m, 0, sizeof(m));
	if (!cdp_name_valid(tok[0], strlen(tok[0])))
		return pkl_err_set(err, PKL_EINPUT, where, "'%.80s' is not a valid CA name", tok[0]);
	memcpy(m.ca, tok[0], strlen(tok[0]) + 1);
	if (!keyid_ok(tok[1], m.keyid))
		return pkl_err_set(err, PKL_EINPUT, where,
				   "'%.80s' is not a key identifier (2 to %d hex digits)", tok[1],
				   CDP_KEYID_MAX);
	if (!number_ok(tok[2], m.number))
		return pkl_err_set(
			err, PKL_EINPUT, where,
			"'%.80s%s' is not a CRL number (decimal, at most 20 octets: RFC 5280 §5.2.3)", tok[2],
			strlen(tok[2]) > 80 ? "..." : "");
	dup = find(st, m.ca, m.keyid);
	if (dup)
		return pkl_err_set(err, PKL_EINPUT, where,
				   "second entry for CA '%s' key %s (first on line %u)", m.ca, m.keyid,
				   lines[dup - st->v]);
	dup = append(st);
	if (!dup)
		return pkl_err_set(err, PKL_ERUNTIME, where, "out of memory");
	*dup = m;
	return PKL_OK;
}

enum pkl_rc cdp_state_parse(struct cdp_state *st, const char *text, size_t len, const char *path,
			    struct pkl_err *err)
{
	const char *p = text, *end = text + len;
	char line[LINE_MAX_LEN + 1], where[600];
	unsigned ln = 0, *lines = NULL, *nl_lines;
	enum pkl_rc rc = PKL_OK;

	if (!len)
		return pkl_err_set(err, PKL_EINPUT, path, "empty file (expected the first line '%s')",
				   HEADER);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		ln++;
		snprintf(where, sizeof(where), "%s:%u", path, ln);
		if (!nl) {
			rc = pkl_err_set(err, PKL_EINPUT, where,
					 "the last line has no newline (a truncated file?)");
			goto out;
		}
		n = (size_t)(nl - p);
		if (n > LINE_MAX_LEN) {
			rc = pkl_err_set(err, PKL_EINPUT, where, "line longer than %d bytes", LINE_MAX_LEN);
			goto out;
		}
		if (memchr(p, '\0', n)) {
			rc = pkl_err_set(err, PKL_EINPUT, where, "NUL byte in the line");
			goto out;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (ln == 1) {
			if (strcmp(line, HEADER) != 0) {
				rc = pkl_err_set(err, PKL_EINPUT, where,
						 "not a pkilab-cdpd state file (expected '%s')", HEADER);
				goto out;
			}
			continue;
		}
		/* lines[i]: where mark i was read, for "first on line N". */
		nl_lines = realloc(lines, (st->n + 1) * sizeof(*lines));
		if (!nl_lines) {
			rc = pkl_err_set(err, PKL_ERUNTIME, where, "out of memory");
			goto out;
		}
		lines = nl_lines;
		lines[st->n] = ln;
		rc = parse_line(st, line, where, lines, err);
		if (rc != PKL_OK)
			goto out;
	}
out:
	free(lines);
	return rc;
}

struct cdp_state *cdp_state_open(const char *dir, struct pkl_err *err)
{
	struct cdp_state *st = NULL;
	struct pkl_buf b = PKL_BUF_INIT;
	struct stat sb;
	int fd = -1;

	if (stat(dir, &sb) != 0) {
		pkl_err_set(err, PKL_EINPUT, dir, "state_dir: %s",
			    errno == ENOENT ? "no such directory" : strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(sb.st_mode)) {
		pkl_err_set(err, PKL_EINPUT, dir, "state_dir: not a directory");
		goto fail;
	}
	/* Checked as the user the server runs as (after the privilege drop):
	 * finding out at the first rising mark would be too late. */
	if (access(dir, W_OK | X_OK) != 0) {
		pkl_err_set(err, PKL_EINPUT, dir, "state_dir: not writable by uid %u (%s)",
			    (unsigned)geteuid(), strerror(errno));
		goto fail;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		pkl_err_set(err, PKL_EINPUT, dir, "state_dir: cannot open (%s)", strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		pkl_err_set(err, PKL_EINPUT, dir, "state_dir: %s",
			    errno == EWOULDBLOCK ?
				    "in use by another pkilab-cdpd (give each instance its own)" :
				    strerror(errno));
		goto fail;
	}
	st = cdp_state_new();
	if (!st) {
		pkl_err_set(err, PKL_ERUNTIME, dir, "out of memory");
		goto fail;
	}
	st->lock_fd = fd;
	fd = -1;
	if ((size_t)snprintf(st->path, sizeof(st->path), "%s/%s", dir, CDP_STATE_FILE) >= sizeof(st->path)) {
		pkl_err_set(err, PKL_EINPUT, dir, "state_dir: path too long");
		goto fail;
	}
	if (lstat(st->path, &sb) != 0 && errno == ENOENT)
		goto done; /* a first start: the file appears at the first mark */
	if (cdp_file_read(st->path, dir, FILE_MAX, &b, NULL, err) != PKL_OK) {
		/* cdp_file_read names the file; unreadable (or not a regular file)
		 * is a refusal to start too. */
		if (!err || !err->where[0])
			pkl_err_set(err, PKL_ERUNTIME, st->path, "cannot read the state file");
		goto fail;
	}
	if (cdp_state_parse(st, (const char *)(b.data ? b.data : (unsigned char *)""), b.len, st->path,
			    err) != PKL_OK)
		goto fail;
done:
	pkl_buf_free(&b);
	return st;
fail:
	if (fd >= 0)
		close(fd);
	cdp_state_free(st);
	pkl_buf_free(&b);
	return NULL;
}

const char *cdp_state_get(const struct cdp_state *st, const char *ca, const char *keyid)
{
	const struct cdp_state_mark *m = st ? find(st, ca, keyid) : NULL;

	return m ? m->number : NULL;
}

int cdp_state_raise(struct cdp_state *st, const char *ca, const char *keyid, const char *number)
{
	struct cdp_state_mark *m = find(st, ca, keyid);
	char num[PKL_CRL_NUMBER_MAX];

	if (!number_ok(number, num) || strlen(ca) > CDP_NAME_MAX || strlen(keyid) > CDP_KEYID_MAX)
		return 0; /* the CRL checks accept neither: nothing to record */
	if (m) {
		if (pkl_crlcheck_number_cmp(num, m->number) <= 0)
			return 0;
	} else {
		m = append(st);
		if (!m)
			return -1;
		memcpy(m->ca, ca, strlen(ca) + 1);
		memcpy(m->keyid, keyid, strlen(keyid) + 1);
	}
	memcpy(m->number, num, strlen(num) + 1);
	st->dirty = 1;
	return 1;
}

static int mark_cmp(const void *a, const void *b)
{
	const struct cdp_state_mark *x = a, *y = b;
	int c = strcmp(x->ca, y->ca);

	return c ? c : strcmp(x->keyid, y->keyid);
}

enum pkl_rc cdp_state_format(struct cdp_state *st, struct pkl_buf *out)
{
	enum pkl_rc rc;
	size_t i;

	/* Sorted: the same marks always make the same bytes (diffable, testable). */
	if (st->n)
		qsort(st->v, st->n, sizeof(*st->v), mark_cmp);
	rc = pkl_buf_printf(out,
			    "%s\n"
			    "# The highest CRL number pkilab-cdpd has accepted for each CA and CA key\n"
			    "# (KEY-ID: SHA-1 of the CA's public key, usually its subjectKeyIdentifier).\n"
			    "# A lower number is refused, after a restart too. Written by the server;\n"
			    "# to let a CA start over below its mark, stop the server, delete the line.\n"
			    "# CA KEY-ID CRL-NUMBER\n",
			    HEADER);
	for (i = 0; rc == PKL_OK && i < st->n; i++)
		rc = pkl_buf_printf(out, "%s %s %s\n", st->v[i].ca, st->v[i].keyid, st->v[i].number);
	return rc;
}

enum pkl_rc cdp_state_save(struct cdp_state *st, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	enum pkl_rc rc = PKL_OK;

	if (!st || !st->dirty || !st->path[0])
		goto out;
	rc = cdp_state_format(st, &b);
	if (rc != PKL_OK) {
		pkl_err_set(err, rc, st->path, "out of memory");
		goto out;
	}
	/* 0644: CRL numbers are public (they are in the CRLs served). */
	rc = pkl_file_write_atomic(st->path, b.data, b.len, 0644, err);
	if (rc == PKL_OK)
		st->dirty = 0;
out:
	pkl_buf_free(&b);
	return rc;
}

int cdp_state_keyid(X509 *ca, char out[CDP_KEYID_MAX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	out[0] = '\0';
	if (!ca || !X509_pubkey_digest(ca, EVP_sha1(), md, &len) || (size_t)len * 2 > CDP_KEYID_MAX)
		return 0;
	pkl_hex(md, len, out, CDP_KEYID_MAX + 1);
	return 1;
}
