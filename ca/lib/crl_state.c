/*
 * Whether a CA's published CRL is up to date (see pkilab/crl_state.h).
 *
 * The file is read whole and decoded once with crl_read.c's reader
 * (pkl_crlcheck_parse), verified on that decoded CRL
 * (pkl_crlcheck_verify_parsed), and every revocation pkilab.db records for
 * the CA's current certificate is looked up in it with
 * X509_CRL_get0_by_serial (OpenSSL sorts the entries once, then searches).
 * Nothing here prints or writes.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include "pkilab/cert.h"
#include "pkilab/crl_state.h"
#include "pkilab/db.h"
#include "pkilab/file.h"

/* A published CRL of the lab: a million entries fit (about 40 MB). */
#define CRL_STATE_MAX ((size_t)128 << 20)

static const char *const names[] = {
	[PKL_CRL_UP_TO_DATE] = "fresh",
	[PKL_CRL_MISSING] = "missing",
	[PKL_CRL_UNREADABLE] = "unreadable",
	[PKL_CRL_WRONG_SIGNER] = "wrong signer",
	[PKL_CRL_FUTURE] = "dated in the future",
	[PKL_CRL_EXPIRED] = "expired",
	[PKL_CRL_UNLISTED] = "missing revocations",
	[PKL_CRL_RESIGN] = "past re-sign point",
};

const char *pkl_crl_state_name(enum pkl_crl_state state)
{
	if ((size_t)state >= sizeof(names) / sizeof(names[0]) || !names[state])
		return "unknown";
	return names[state];
}

int pkl_crl_state_due(enum pkl_crl_state state)
{
	return state != PKL_CRL_UP_TO_DATE;
}

/* The walk over the recorded revocations: counts them and those the CRL
 * does not list. */
struct unlisted {
	X509_CRL *crl;
	size_t recorded, unlisted;
	struct pkl_err *err;
	enum pkl_rc rc;
};

static int count_one(const struct pkl_db_issued *c, void *cls)
{
	struct unlisted *u = cls;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	X509_REVOKED *rev = NULL;
	char hex[48];

	u->recorded++;
	if (!u->crl)
		return 0;
	if (!c->serial || c->serial_len == 0 || c->serial_len >= sizeof(hex)) {
		u->rc = pkl_err_set(u->err, PKL_ERUNTIME, "pkilab.db", "malformed serial '%s' in certs",
				    c->serial ? c->serial : "");
		return 1;
	}
	memcpy(hex, c->serial, c->serial_len);
	hex[c->serial_len] = '\0';
	if (!BN_hex2bn(&bn, hex) || !(ai = BN_to_ASN1_INTEGER(bn, NULL))) {
		u->rc = pkl_err_ssl(u->err, PKL_ERUNTIME, "pkilab.db", "cannot read serial '%s'", hex);
	} else if (X509_CRL_get0_by_serial(u->crl, &rev, ai) != 1) {
		u->unlisted++;
	}
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	ERR_clear_error();
	return u->rc != PKL_OK;
}

enum pkl_rc pkl_crl_state_judge(struct pkl_pki *pki, const char *ca, pkl_time now, struct pkl_crl_status *out,
				X509_CRL **crl_out, struct pkl_err *err)
{
	struct pkl_crl_status st;
	struct pkl_ca_state cs;
	struct pkl_buf der = PKL_BUF_INIT, cder = PKL_BUF_INIT;
	struct pkl_err e = { 0 };
	struct unlisted u = { NULL, 0, 0, err, PKL_OK };
	X509_CRL *crl = NULL;
	X509 *cert = NULL;
	enum pkl_rc rc;

	memset(&st, 0, sizeof(st));
	if (crl_out)
		*crl_out = NULL;
	if ((rc = pkl_db_ca_get(pki->db, ca, &cs, err)) != PKL_OK ||
	    (rc = pkl_pki_path(pki, PKL_FILE_CRL, ca, st.path, sizeof(st.path), err)) != PKL_OK)
		goto out;
	/* The CA's current certificate, as stored: the key its CRLs must verify with. */
	if ((rc = pkl_db_cert_der(pki->db, cs.cert_id, &cder, err)) != PKL_OK)
		goto out;
	cert = pkl_cert_from_der(cder.data, cder.len, ca, err);
	if (!cert) {
		rc = err && err->rc ? err->rc : PKL_ERUNTIME;
		goto out;
	}
	if (!pkl_file_exists(st.path)) {
		st.state = PKL_CRL_MISSING;
	} else if (pkl_file_read(st.path, CRL_STATE_MAX, &der, &e) != PKL_OK ||
		   pkl_crlcheck_parse(der.data, der.len, st.path, &st.info, &crl, &e) != PKL_OK) {
		st.state = PKL_CRL_UNREADABLE;
		snprintf(st.why, sizeof(st.why), "%s", e.msg);
	} else {
		st.parsed = 1;
		st.resign_at = st.info.next_update > st.info.this_update ?
				       st.info.this_update + (st.info.next_update - st.info.this_update) / 2 :
				       st.info.this_update;
		if (pkl_crlcheck_verify_parsed(crl, &st.info, st.path, cert, &e) != PKL_OK) {
			st.state = PKL_CRL_WRONG_SIGNER;
			snprintf(st.why, sizeof(st.why), "%s", e.msg);
		} else {
			u.crl = crl;
		}
	}
	/* Counted whatever the file: callers print how many revocations wait. */
	if ((rc = pkl_db_revoked_each(pki->db, cs.cert_id, count_one, &u, err)) != PKL_OK ||
	    (rc = u.rc) != PKL_OK)
		goto out;
	st.n_recorded = u.recorded;
	st.n_unlisted = u.crl ? u.unlisted : 0;
	if (u.crl) {
		if (st.info.this_update > now)
			st.state = PKL_CRL_FUTURE;
		else if (!st.info.next_update || st.info.next_update <= now)
			st.state = PKL_CRL_EXPIRED;
		else if (st.n_unlisted)
			st.state = PKL_CRL_UNLISTED;
		else if (now >= st.resign_at)
			st.state = PKL_CRL_RESIGN;
		else
			st.state = PKL_CRL_UP_TO_DATE;
	}
	*out = st;
	if (crl_out) {
		*crl_out = crl;
		crl = NULL;
	}
out:
	X509_CRL_free(crl);
	X509_free(cert);
	pkl_buf_free(&der);
	pkl_buf_free(&cder);
	return rc;
}

const char *pkl_crl_state_describe(const struct pkl_crl_status *st, pkl_time now, char *buf, size_t len)
{
	char t[32], t2[32], d[32];

	switch (st->state) {
	case PKL_CRL_UP_TO_DATE:
		snprintf(buf, len, "fresh: re-sign point %s, nextUpdate %s (%s left)",
			 pkl_time_fmt(st->resign_at, t, sizeof(t)),
			 pkl_time_fmt(st->info.next_update, t2, sizeof(t2)),
			 pkl_duration_fmt(st->info.next_update - now, d, sizeof(d)));
		break;
	case PKL_CRL_MISSING: snprintf(buf, len, "missing: not published at %s", st->path); break;
	case PKL_CRL_UNREADABLE: snprintf(buf, len, "unreadable: %s", st->why); break;
	case PKL_CRL_WRONG_SIGNER:
		snprintf(buf, len, "wrong signer: not accepted for the CA's current certificate (%s)",
			 st->why);
		break;
	case PKL_CRL_FUTURE:
		snprintf(buf, len,
			 "dated in the future: thisUpdate %s lies in the future by %s; pkilab-cdpd and "
			 "strongSwan refuse it",
			 pkl_time_fmt(st->info.this_update, t, sizeof(t)),
			 pkl_duration_fmt(st->info.this_update - now, d, sizeof(d)));
		break;
	case PKL_CRL_EXPIRED:
		if (!st->info.next_update)
			snprintf(buf, len, "EXPIRED: no nextUpdate (RFC 5280 §5.1.2.5)");
		else
			snprintf(buf, len, "EXPIRED %s (%s ago): clients fail",
				 pkl_time_fmt(st->info.next_update, t, sizeof(t)),
				 pkl_duration_fmt(now - st->info.next_update, d, sizeof(d)));
		break;
	case PKL_CRL_UNLISTED:
		snprintf(buf, len,
			 "missing revocations: %zu revocation(s) not published yet (of %zu recorded in "
			 "pkilab.db)",
			 st->n_unlisted, st->n_recorded);
		break;
	case PKL_CRL_RESIGN:
		snprintf(buf, len,
			 "past re-sign point: past half its lifetime since %s, nextUpdate %s (%s left)",
			 pkl_time_fmt(st->resign_at, t, sizeof(t)),
			 pkl_time_fmt(st->info.next_update, t2, sizeof(t2)),
			 pkl_duration_fmt(st->info.next_update - now, d, sizeof(d)));
		break;
	default: snprintf(buf, len, "unknown state"); break;
	}
	return buf;
}
