/*
 * Unit tests for cdp-server/state.c: the parser of <state_dir>/crl-numbers
 * (a good file; every way a file can be wrong, each an error naming
 * file:line: a corrupt line, a number beyond RFC 5280's 20 octets, a second
 * entry for one CA and key, a last line without its newline, a foreign
 * file), the rule that a mark only rises, the round trip through the file
 * (format -> parse), opening a state directory (missing, locked by a second
 * instance, corrupt file left untouched, a failed write retried), and the
 * key identity of a CA certificate (equal to its SKI when that was made
 * with the hash method).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cdpd.h"
#include "pkilab/buf.h"

#define HDR "pkilab-cdpd crl-numbers 1\n"
#define K1  "6d116a078536255596a6f23c5106527e9ad6fd5d"
#define K2  "00112233445566778899aabbccddeeff00112233"

/* Parses text into a fresh state; returns the rc, err filled. */
static enum pkl_rc parse(const char *text, struct cdp_state **out, struct pkl_err *err)
{
	struct cdp_state *st = cdp_state_new();
	enum pkl_rc rc;

	assert_non_null(st);
	memset(err, 0, sizeof(*err));
	rc = cdp_state_parse(st, text, strlen(text), "state/crl-numbers", err);
	if (out)
		*out = st;
	else
		cdp_state_free(st);
	return rc;
}

static void good_file(void **unused)
{
	struct cdp_state *st;
	struct pkl_err err;

	(void)unused;
	assert_int_equal(parse(HDR "# comment\n\n   \nroot " K1 " 7\n"
				   "vpn-ca\t" K1 "\t0012\n"
				   "root " K2 " 1\n"
				   "big.ca " K2 " 730750818665451459101842416358141509827966271487\n",
			       &st, &err),
			 PKL_OK);
	assert_int_equal(st->n, 4);
	assert_string_equal(cdp_state_get(st, "root", K1), "7");
	assert_string_equal(cdp_state_get(st, "root", K2), "1");
	assert_string_equal(cdp_state_get(st, "vpn-ca", K1), "12"); /* leading zeros dropped */
	assert_string_equal(cdp_state_get(st, "big.ca", K2),
			    "730750818665451459101842416358141509827966271487"); /* 2^159 - 1 */
	assert_null(cdp_state_get(st, "vpn-ca", K2));
	assert_null(cdp_state_get(st, "other", K1));
	assert_int_equal(st->dirty, 0);
	cdp_state_free(st);

	/* Key identifiers are compared in lowercase whatever the file says. */
	assert_int_equal(parse(HDR "root 6D116A078536255596A6F23C5106527E9AD6FD5D 3\n", &st, &err), PKL_OK);
	assert_string_equal(cdp_state_get(st, "root", K1), "3");
	cdp_state_free(st);

	/* No marks at all is a valid file (the header alone). */
	assert_int_equal(parse(HDR, &st, &err), PKL_OK);
	assert_int_equal(st->n, 0);
	cdp_state_free(st);
}

static void expect_error(const char *text, const char *where, const char *msg)
{
	struct pkl_err err;

	assert_int_equal(parse(text, NULL, &err), PKL_EINPUT);
	assert_string_equal(err.where, where);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
}

static void corrupt_lines(void **unused)
{
	(void)unused;
	expect_error(HDR "root " K1 " 7\nroot " K1 "\n", "state/crl-numbers:3",
		     "expected 'CA KEY-ID CRL-NUMBER'");
	expect_error(HDR "root " K1 " 7 extra\n", "state/crl-numbers:2", "expected 'CA KEY-ID CRL-NUMBER'");
	expect_error(HDR "root " K1 " 7x\n", "state/crl-numbers:2", "'7x' is not a CRL number");
	expect_error(HDR "root " K1 " -7\n", "state/crl-numbers:2", "'-7' is not a CRL number");
	expect_error(HDR "../x " K1 " 7\n", "state/crl-numbers:2", "'../x' is not a valid CA name");
	expect_error(HDR ".root " K1 " 7\n", "state/crl-numbers:2", "not a valid CA name");
	expect_error(HDR "root xyz 7\n", "state/crl-numbers:2", "'xyz' is not a key identifier");
	expect_error(HDR "root abc 7\n", "state/crl-numbers:2", "is not a key identifier"); /* odd */
	expect_error(HDR "root " K1 K1 " 7\n", "state/crl-numbers:2", "is not a key identifier");
	/* Not ours at all, or not this version. */
	expect_error("root " K1 " 7\n", "state/crl-numbers:1", "not a pkilab-cdpd state file");
	expect_error("pkilab-cdpd crl-numbers 2\n", "state/crl-numbers:1", "not a pkilab-cdpd state file");
	expect_error("\x7f"
		     "ELF\x02\x01\x01\n",
		     "state/crl-numbers:1", "not a pkilab-cdpd state file");
	expect_error("", "state/crl-numbers", "empty file");
	{
		/* A NUL inside a line (strlen would stop there: build the buffer by hand). */
		static const char t[] = HDR "root \0 7\n";
		struct cdp_state *st = cdp_state_new();
		struct pkl_err err = { 0 };

		assert_int_equal(cdp_state_parse(st, t, sizeof(t) - 1, "f", &err), PKL_EINPUT);
		assert_string_equal(err.where, "f:2");
		assert_non_null(strstr(err.msg, "NUL byte"));
		cdp_state_free(st);
	}
	{
		char big[1200];

		snprintf(big, sizeof(big), HDR "root %0700d 1\n", 0);
		expect_error(big, "state/crl-numbers:2", "line longer than");
	}
}

static void huge_numbers(void **unused)
{
	char t[300];

	(void)unused;
	/* 2^159: one more than 20 octets can hold (RFC 5280 §5.2.3). */
	expect_error(HDR "root " K1 " 730750818665451459101842416358141509827966271488\n",
		     "state/crl-numbers:2", "at most 20 octets");
	/* 49 and 100 digits. */
	expect_error(HDR "root " K1 " 1000000000000000000000000000000000000000000000000\n",
		     "state/crl-numbers:2", "is not a CRL number");
	snprintf(t, sizeof(t), HDR "root " K1 " 1%0100d\n", 0);
	expect_error(t, "state/crl-numbers:2", "...' is not a CRL number");
	/* Leading zeros do not make a number big. */
	snprintf(t, sizeof(t), HDR "root " K1 " %0100d7\n", 0);
	{
		struct cdp_state *st;
		struct pkl_err err;

		assert_int_equal(parse(t, &st, &err), PKL_OK);
		assert_string_equal(cdp_state_get(st, "root", K1), "7");
		cdp_state_free(st);
	}
}

static void duplicates(void **unused)
{
	(void)unused;
	expect_error(HDR "root " K1 " 7\n# x\nvpn " K1 " 2\nroot " K1 " 9\n", "state/crl-numbers:5",
		     "second entry for CA 'root' key " K1 " (first on line 2)");
	/* The same key in another case is the same key. */
	expect_error(HDR "root " K2 " 7\nroot 00112233445566778899AABBCCDDEEFF00112233 7\n",
		     "state/crl-numbers:3", "(first on line 2)");
}

static void missing_newline(void **unused)
{
	(void)unused;
	/* "123" cut to "12" would lower the mark: a last line without its
	 * newline is refused, not read. */
	expect_error(HDR "root " K1 " 12", "state/crl-numbers:2", "no newline");
	expect_error(HDR "# just a comment", "state/crl-numbers:2", "no newline");
	expect_error("pkilab-cdpd crl-numbers 1", "state/crl-numbers:1", "no newline");
}

static void raise_only_upwards(void **unused)
{
	struct cdp_state *st = cdp_state_new();
	struct pkl_buf b = PKL_BUF_INIT;
	struct cdp_state *back;
	struct pkl_err err;

	(void)unused;
	assert_int_equal(cdp_state_raise(st, "root", K1, "5"), 1);
	assert_int_equal(st->dirty, 1);
	st->dirty = 0;
	assert_int_equal(cdp_state_raise(st, "root", K1, "5"), 0);
	assert_int_equal(cdp_state_raise(st, "root", K1, "4"), 0);
	assert_int_equal(cdp_state_raise(st, "root", K1, "10"), 1); /* numerically, not as text */
	assert_int_equal(cdp_state_raise(st, "root", K1, "9"), 0);
	assert_int_equal(st->dirty, 1);
	assert_string_equal(cdp_state_get(st, "root", K1), "10");
	/* A re-keyed CA under the same name starts its own sequence. */
	assert_int_equal(cdp_state_raise(st, "root", K2, "1"), 1);
	assert_string_equal(cdp_state_get(st, "root", K2), "1");
	assert_string_equal(cdp_state_get(st, "root", K1), "10");
	/* What no CRL can carry is never recorded. */
	assert_int_equal(cdp_state_raise(st, "x", K1, ""), 0);
	assert_int_equal(cdp_state_raise(st, "x", K1, "1x"), 0);
	assert_null(cdp_state_get(st, "x", K1));
	/* Round trip: what is written parses back to the same marks, sorted. */
	assert_int_equal(cdp_state_format(st, &b), PKL_OK);
	back = cdp_state_new();
	memset(&err, 0, sizeof(err));
	assert_int_equal(cdp_state_parse(back, (const char *)b.data, b.len, "f", &err), PKL_OK);
	assert_int_equal(back->n, 2);
	assert_string_equal(cdp_state_get(back, "root", K1), "10");
	assert_string_equal(cdp_state_get(back, "root", K2), "1");
	assert_string_equal(back->v[0].keyid, K2); /* sorted by (ca, keyid) */
	cdp_state_free(back);
	pkl_buf_free(&b);
	/* A state that was never opened is never saved. */
	assert_int_equal(cdp_state_save(st, &err), PKL_OK);
	cdp_state_free(st);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(s);
	if (fread(s, 1, 65535, f) == 0)
		s[0] = '\0';
	fclose(f);
	return s;
}

static void open_dir(void **unused)
{
	char dir[] = "/tmp/test_cdp_state.XXXXXX", path[600], *before, *after;
	struct cdp_state *st, *second;
	struct pkl_err err = { 0 };
	FILE *f;

	(void)unused;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_null(cdp_state_open(path, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_non_null(strstr(err.msg, "no such directory"));

	/* A first start: no file yet; it appears at the first rising mark. */
	st = cdp_state_open(dir, &err);
	assert_non_null(st);
	assert_int_equal(st->n, 0);
	snprintf(path, sizeof(path), "%s/crl-numbers", dir);
	assert_int_equal(access(path, F_OK), -1);
	/* A second instance on the same directory is refused. */
	memset(&err, 0, sizeof(err));
	second = cdp_state_open(dir, &err);
	assert_null(second);
	assert_non_null(strstr(err.msg, "in use by another pkilab-cdpd"));
	assert_int_equal(cdp_state_raise(st, "root", K1, "3"), 1);
	assert_int_equal(cdp_state_save(st, &err), PKL_OK);
	assert_int_equal(st->dirty, 0);
	/* A failed write keeps the mark dirty, so the next rebuild retries it. */
	{
		char saved[sizeof(st->path)];

		memcpy(saved, st->path, sizeof(saved));
		snprintf(st->path, sizeof(st->path), "%s/gone/crl-numbers", dir);
		assert_int_equal(cdp_state_raise(st, "root", K1, "4"), 1);
		assert_int_not_equal(cdp_state_save(st, &err), PKL_OK);
		assert_int_equal(st->dirty, 1);
		memcpy(st->path, saved, sizeof(saved));
		assert_int_equal(cdp_state_save(st, &err), PKL_OK);
		assert_int_equal(st->dirty, 0);
		assert_int_equal(cdp_state_raise(st, "root", K1, "3"), 0); /* back down: no write */
		assert_int_equal(st->dirty, 0);
	}
	cdp_state_free(st);

	st = cdp_state_open(dir, &err);
	assert_non_null(st);
	assert_string_equal(cdp_state_get(st, "root", K1), "4");
	cdp_state_free(st);

	/* A corrupt file stops the start and is left exactly as it was. */
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("root " K2 " oops\n", f);
	fclose(f);
	before = slurp(path);
	memset(&err, 0, sizeof(err));
	assert_null(cdp_state_open(dir, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	snprintf(path, sizeof(path), "%s/crl-numbers:8", dir);
	assert_string_equal(err.where, path);
	snprintf(path, sizeof(path), "%s/crl-numbers", dir);
	after = slurp(path);
	assert_string_equal(before, after);
	free(before);
	free(after);
	unlink(path);
	rmdir(dir);
}

static void keyid_is_the_hash_ski(void **unused)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	ASN1_OCTET_STRING *ski;
	char kid[CDP_KEYID_MAX + 1], hex[CDP_KEYID_MAX + 1];
	int i;

	(void)unused;
	assert_non_null(key);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	assert_non_null(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	/* Read from the extension itself: the certificate is not signed, so
	 * OpenSSL's cached view of its extensions may be incomplete. */
	ski = X509_get_ext_d2i(x, NID_subject_key_identifier, NULL, NULL);
	assert_non_null(ski);
	for (i = 0; i < ASN1_STRING_length(ski); i++)
		snprintf(hex + 2 * i, 3, "%02x", ASN1_STRING_get0_data(ski)[i]);
	ASN1_OCTET_STRING_free(ski);
	assert_int_equal(cdp_state_keyid(x, kid), 1);
	assert_string_equal(kid, hex);
	assert_int_equal(cdp_state_keyid(NULL, kid), 0);
	X509_free(x);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file),       cmocka_unit_test(corrupt_lines),
		cmocka_unit_test(huge_numbers),    cmocka_unit_test(duplicates),
		cmocka_unit_test(missing_newline), cmocka_unit_test(raise_only_upwards),
		cmocka_unit_test(open_dir),        cmocka_unit_test(keyid_is_the_hash_ski),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
