/*
 * Unit tests for ca/lib/crl_state.c: one case per state of a CA's published
 * CRL (pkilab/crl_state.h), on a real PKI in a temporary directory (a root
 * and two leaves; the root's 7-day CRL is what is judged), and `crl --due`
 * (pkl_crl_publish with PKL_PUBLISH_DUE) signing exactly when the state is
 * not up to date.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkilab/crl_publish.h"
#include "pkilab/crl_state.h"
#include "pkilab/file.h"
#include "pkilab/issue.h"
#include "pkilab/revoke.h"
#include "fixture.h"

#define DAY 86400

static char dir[] = "/tmp/pkl-test-crlstate-XXXXXX";
static struct pkl_pki *pki;
static X509 *root_cert;
static EVP_PKEY *root_key;
static char crl_path[PATH_MAX];
static struct pkl_buf good = PKL_BUF_INIT; /* the root's CRL as issued */
static pkl_time t0;                        /* when it was issued */

static int setup(void **state)
{
	struct pkl_issue_ctx ctx;
	struct pkl_entity e;
	struct pkl_txn *txn;
	struct pkl_err err = { 0 };
	const char *leaves[] = { "l1", "l2" };

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	pki = pkl_pki_open(dir, 1, &err);
	if (!pki)
		return -1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.now = t0 = pkl_time_now();
	fx_entity(&e, "root", "", 1, ctx.now, "C=CH, O=pkilab unit, ");
	txn = pkl_txn_begin(pki, &err);
	if (!txn ||
	    pkl_issue_entity(txn, pki, &ctx, &e, NULL, NULL, NULL, 1, &root_cert, &root_key, &err) != PKL_OK)
		return fprintf(stderr, "root: %s\n", err.msg), -1;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		X509 *c = NULL;
		fx_entity(&e, leaves[i], "root", 0, ctx.now, "C=CH, O=pkilab unit, ");
		if (pkl_issue_entity(txn, pki, &ctx, &e, root_cert, root_key, NULL, 1, &c, NULL, &err) !=
		    PKL_OK)
			return fprintf(stderr, "%s: %s\n", leaves[i], err.msg), -1;
		X509_free(c);
	}
	if (pkl_txn_commit(txn, &err) != PKL_OK)
		return -1;
	snprintf(crl_path, sizeof(crl_path), "%s/publish/crl/root.crl", dir);
	return pkl_file_read(crl_path, 0, &good, &err) == PKL_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	pkl_pki_close(pki);
	X509_free(root_cert);
	EVP_PKEY_free(root_key);
	pkl_buf_free(&good);
	return fx_rmtree(dir);
}

/* Puts the CRL the root was issued with back in publish/. */
static void restore(void)
{
	fx_write(crl_path, good.data, good.len);
}

static enum pkl_crl_state judge_at(pkl_time at, struct pkl_crl_status *st)
{
	struct pkl_err err = { 0 };

	assert_int_equal(pkl_crl_state_judge(pki, "root", at, st, NULL, &err), PKL_OK);
	return st->state;
}

static void describes(const struct pkl_crl_status *st, pkl_time at, const char *want)
{
	char line[512];

	pkl_crl_state_describe(st, at, line, sizeof(line));
	if (!strstr(line, want))
		fail_msg("'%s' does not say '%s'", line, want);
}

static void up_to_date(void **state)
{
	struct pkl_crl_status st;
	struct pkl_err err = { 0 };
	X509_CRL *crl = NULL;

	(void)state;
	restore();
	assert_int_equal(pkl_crl_state_judge(pki, "root", t0, &st, &crl, &err), PKL_OK);
	assert_int_equal(st.state, PKL_CRL_UP_TO_DATE);
	assert_false(pkl_crl_state_due(st.state));
	assert_string_equal(pkl_crl_state_name(st.state), "fresh");
	assert_true(st.parsed);
	assert_non_null(crl); /* the decoded CRL, for serial look-ups */
	X509_CRL_free(crl);
	/* Half-way from thisUpdate to nextUpdate (docs/crl-publication.md). */
	assert_int_equal(st.resign_at, st.info.this_update + (st.info.next_update - st.info.this_update) / 2);
	describes(&st, t0, "fresh");
	/* One second before the re-sign point: still up to date. */
	assert_int_equal(judge_at(st.resign_at - 1, &st), PKL_CRL_UP_TO_DATE);
}

static void past_resign_point(void **state)
{
	struct pkl_crl_status st;

	(void)state;
	restore();
	assert_int_equal(judge_at(t0 + 4 * DAY, &st), PKL_CRL_RESIGN);
	assert_true(pkl_crl_state_due(st.state));
	assert_string_equal(pkl_crl_state_name(st.state), "past re-sign point");
	describes(&st, t0 + 4 * DAY, "past half its lifetime");
	/* At the re-sign point exactly, it is due. */
	assert_int_equal(judge_at(st.resign_at, &st), PKL_CRL_RESIGN);
}

static void expired(void **state)
{
	struct pkl_crl_status st;

	(void)state;
	restore();
	assert_int_equal(judge_at(t0 + 8 * DAY, &st), PKL_CRL_EXPIRED);
	assert_string_equal(pkl_crl_state_name(st.state), "expired");
	describes(&st, t0 + 8 * DAY, "EXPIRED");
	/* nextUpdate itself is expired (RFC 5280 §5.1.2.5: the next CRL is due by then). */
	assert_int_equal(judge_at(st.info.next_update, &st), PKL_CRL_EXPIRED);
}

static void dated_in_the_future(void **state)
{
	struct pkl_crl_status st;

	(void)state;
	restore();
	/* A clock a day behind the one that signed it: never "fresh". */
	assert_int_equal(judge_at(t0 - DAY, &st), PKL_CRL_FUTURE);
	assert_true(pkl_crl_state_due(st.state));
	assert_string_equal(pkl_crl_state_name(st.state), "dated in the future");
	describes(&st, t0 - DAY, "thisUpdate");
	assert_int_equal(judge_at(st.info.this_update, &st), PKL_CRL_UP_TO_DATE);
	assert_int_equal(judge_at(st.info.this_update - 1, &st), PKL_CRL_FUTURE);
}

static void missing(void **state)
{
	struct pkl_crl_status st;
	struct pkl_err err = { 0 };
	X509_CRL *crl = (X509_CRL *)&st; /* must be reset to NULL */

	(void)state;
	assert_int_equal(unlink(crl_path), 0);
	assert_int_equal(pkl_crl_state_judge(pki, "root", t0, &st, &crl, &err), PKL_OK);
	assert_int_equal(st.state, PKL_CRL_MISSING);
	assert_null(crl);
	assert_false(st.parsed);
	describes(&st, t0, "not published");
	restore();
}

static void unreadable(void **state)
{
	struct pkl_crl_status st;

	(void)state;
	fx_write(crl_path, good.data, good.len / 2); /* truncated */
	assert_int_equal(judge_at(t0, &st), PKL_CRL_UNREADABLE);
	describes(&st, t0, "unreadable: truncated DER");
	fx_write(crl_path, "-----BEGIN X509 CRL-----\n", 25);
	assert_int_equal(judge_at(t0, &st), PKL_CRL_UNREADABLE);
	describes(&st, t0, "PEM");
	restore();
}

static void wrong_signer(void **state)
{
	struct pkl_crl_status st;
	struct pkl_err err = { 0 };
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_ca_state cs = { 0 };
	EVP_PKEY *other = fx_key("P-256");
	X509 *impostor = X509_dup(root_cert);

	(void)state;
	/* The same name and key identifier, another key: a CA rebuilt under its name. */
	assert_non_null(other);
	assert_non_null(impostor);
	assert_int_equal(X509_set_pubkey(impostor, other), 1);
	assert_true(X509_sign(impostor, other, EVP_sha256()) > 0);
	assert_int_equal(pkl_crl_publish_first(impostor, other, t0, 7 * DAY, "impostor", &der, &cs, &err),
			 PKL_OK);
	fx_write(crl_path, der.data, der.len);
	assert_int_equal(judge_at(t0, &st), PKL_CRL_WRONG_SIGNER);
	assert_true(pkl_crl_state_due(st.state));
	assert_string_equal(pkl_crl_state_name(st.state), "wrong signer");
	describes(&st, t0, "bad signature");
	/* The wrong signer is named before any question of time. */
	assert_int_equal(judge_at(t0 + 8 * DAY, &st), PKL_CRL_WRONG_SIGNER);
	pkl_buf_free(&der);
	X509_free(impostor);
	EVP_PKEY_free(other);
	restore();
}

/* Last: it revokes l1 and re-signs, which the cases above do not expect. */
static void missing_revocations(void **state)
{
	struct pkl_revoke_req req = { .reason = PKL_REASON_KEY_COMPROMISE };
	struct pkl_crl_status st;
	struct pkl_crl_info info;
	struct pkl_err err = { 0 };
	pkl_time now = pkl_time_now();

	(void)state;
	restore();
	req.ref = "l1";
	assert_int_equal(pkl_revoke_cert(pki, &req, NULL, &err), PKL_OK);
	assert_int_equal(judge_at(now, &st), PKL_CRL_UNLISTED);
	assert_string_equal(pkl_crl_state_name(st.state), "missing revocations");
	assert_int_equal(st.n_recorded, 1);
	assert_int_equal(st.n_unlisted, 1);
	describes(&st, now, "1 revocation(s) not published yet");
	/* Expired and dated in the future outrank it: relying parties refuse those outright. */
	assert_int_equal(judge_at(t0 + 8 * DAY, &st), PKL_CRL_EXPIRED);
	/* --due signs because of it, and the new CRL is up to date. */
	assert_int_equal(pkl_crl_publish(pki, "root", PKL_PUBLISH_DUE, &info, &err), PKL_OK);
	assert_true(info.signed_now);
	assert_int_equal(judge_at(pkl_time_now(), &st), PKL_CRL_UP_TO_DATE);
	assert_int_equal(st.n_recorded, 1);
	assert_int_equal(st.n_unlisted, 0);
	/* Up to date: --due leaves it alone. */
	assert_int_equal(pkl_crl_publish(pki, "root", PKL_PUBLISH_DUE, &info, &err), PKL_OK);
	assert_false(info.signed_now);
}

/* --due signs a CRL past its re-sign point, expired, missing or wrong-signed. */
static void due_signs_what_is_not_up_to_date(void **state)
{
	struct pkl_crl_info info;
	struct pkl_err err = { 0 };
	pkl_time later = pkl_time_now() + 4 * DAY;

	(void)state;
	pkl_time_set_now(&later);
	assert_int_equal(pkl_crl_publish(pki, "root", PKL_PUBLISH_DUE, &info, &err), PKL_OK);
	assert_true(info.signed_now);
	pkl_time_set_now(NULL);
	/* Back at the real time that CRL lies 4 days ahead: due, and refused as a clock behind. */
	assert_int_equal(pkl_crl_publish(pki, "root", PKL_PUBLISH_DUE, &info, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "clock behind"));
	assert_int_equal(
		pkl_crl_publish(pki, "root", PKL_PUBLISH_DUE | PKL_PUBLISH_ALLOW_CLOCK_BEHIND, &info, &err),
		PKL_OK);
	assert_true(info.signed_now);
	assert_int_equal(unlink(crl_path), 0);
	assert_int_equal(pkl_crl_publish(pki, "root", PKL_PUBLISH_DUE, &info, &err), PKL_OK);
	assert_true(info.signed_now);
}

static void unknown_ca_is_an_error(void **state)
{
	struct pkl_crl_status st;
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_crl_state_judge(pki, "nosuch", t0, &st, NULL, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "unknown CA 'nosuch'"));
	assert_string_equal(pkl_crl_state_name((enum pkl_crl_state)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(up_to_date),
		cmocka_unit_test(past_resign_point),
		cmocka_unit_test(expired),
		cmocka_unit_test(dated_in_the_future),
		cmocka_unit_test(missing),
		cmocka_unit_test(unreadable),
		cmocka_unit_test(wrong_signer),
		cmocka_unit_test(missing_revocations),
		cmocka_unit_test(due_signs_what_is_not_up_to_date),
		cmocka_unit_test(unknown_ca_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
