/*
 * pkl_doctor_run: the checks of `pkilab doctor` (see pkilab/doctor.h for
 * their order and codes). The command loads the inputs and prints; this file
 * judges. Nothing here prints, reads the environment or reads a secret.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pkilab/certread.h"
#include "pkilab/chain.h"
#include "pkilab/crl.h"
#include "pkilab/crl_read.h"
#include "pkilab/crl_state.h"
#include "pkilab/doctor.h"
#include "pkilab/fetch.h"
#include "pkilab/file.h"
#include "pkilab/lint.h"
#include "pkilab/pki.h"
#include "pkilab/report.h"

#define MAX_URIS  16
#define SKEW_WARN PKL_DOCTOR_SKEW_WARN

/* One run's state: the options, the path, and what the fetches measured. */
/* A published CRL of the lab: a million entries fit (about 40 MB). */
#define PUBLISHED_CRL_MAX ((size_t)128 << 20)

struct doctor {
	const struct pkl_doctor_opts *o;
	unsigned platforms;
	enum pkl_lint_role leaf_role;
	long win_budget_ms, sws_budget_ms;
	struct pkl_chain chain;
	struct pkl_report *rep;
	long client_ms; /* what a client would spend fetching, first good URI per cert */
	long worst_uri_ms;
	size_t fetches;          /* CDP URIs tried: a loopback fetch can take 0 ms */
	int leaf_revoked_served; /* a CDP served a CRL that lists the leaf */
	char worst_uri[PKL_CHAIN_URI_MAX];
	int64_t max_skew; /* |Date - local clock|, seconds */
	char skew_uri[PKL_CHAIN_URI_MAX];
	pkl_time skew_date;
	int skew_seen;
	struct pkl_pki *pki;    /* --pki, opened once by pkl_doctor_run; NULL without or on failure */
	struct pkl_err pki_err; /* why it could not be opened */
};

enum pkl_rc pkl_doctor_lab_anchors(const char *pki, STACK_OF(X509) * anchors, struct pkl_err *err)
{
	char dir[4096];
	STACK_OF(X509) *all = sk_X509_new_null();
	enum pkl_rc rc;

	if (!all)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	rc = pkl_path_join(dir, sizeof(dir), err, "%s/certs", pki);
	if (rc == PKL_OK)
		rc = pkl_chain_load_certs(dir, all, err);
	while (rc == PKL_OK && sk_X509_num(all) > 0) {
		X509 *x = sk_X509_shift(all);
		int dup = 0;
		for (int i = 0; i < sk_X509_num(anchors); i++)
			dup |= X509_cmp(sk_X509_value(anchors, i), x) == 0;
		if (!dup && pkl_lint_self_signed(x) && sk_X509_push(anchors, x))
			continue;
		X509_free(x);
	}
	sk_X509_pop_free(all, X509_free);
	return rc;
}

/* ---------------------------------------------------------------- revocation */

static size_t cdp_uris(X509 *x, char uris[][PKL_CHAIN_URI_MAX], size_t max)
{
	struct pkl_certread_names cdp;
	size_t n = 0;

	if (pkl_certread_cdp(x, &cdp, NULL) != PKL_OK)
		return 0;
	for (size_t i = 0; i < cdp.n && n < max; i++)
		pkl_certread_name_text(&cdp.v[i], 0, uris[n++], PKL_CHAIN_URI_MAX);
	pkl_certread_names_free(&cdp);
	return n;
}

/* The skew is taken against the local clock when the answer arrives, not
 * against o->at (which --at may move away from now). */
static void note_skew(struct doctor *d, const char *url, pkl_time date)
{
	int64_t skew, a;

	if (!d->o->clock)
		return;
	skew = (int64_t)date - (int64_t)d->o->clock();
	a = skew < 0 ? -skew : skew;
	if (!d->skew_seen || a > (d->max_skew < 0 ? -d->max_skew : d->max_skew)) {
		d->max_skew = skew;
		d->skew_date = date;
		snprintf(d->skew_uri, sizeof(d->skew_uri), "%.*s", PKL_CHAIN_URI_MAX - 1, url);
	}
	d->skew_seen = 1;
}

/* One CDP URI: fetch, parse, verify, judge; findings go to `local`. Returns 1
 * when the URI delivered a usable CRL, and sets *revoked when it lists x. */
/* The reason pkilab-cdpd gives in a 503 for a CRL it refused: the first line
 * of a text/plain body "503 this CRL is not served: REASON", printable ASCII
 * only (it is a remote server's text). 0 when the body is something else. */
static int served_refusal(const struct pkl_fetch_result *res, char *why, size_t len)
{
	static const char prefix[] = "503 this CRL is not served: ";
	const size_t pl = sizeof(prefix) - 1;
	size_t n = 0;

	if (strncasecmp(res->content_type, "text/plain", 10) != 0 || res->body.len <= pl ||
	    memcmp(res->body.data, prefix, pl) != 0)
		return 0;
	for (size_t i = pl; i < res->body.len && res->body.data[i] != '\n' && n + 1 < len; i++)
		why[n++] =
			res->body.data[i] >= 0x20 && res->body.data[i] < 0x7f ? (char)res->body.data[i] : '?';
	why[n] = '\0';
	return n > 0;
}

/* With --pki: a CDP that serves an older CRL of the issuer than publish/
 * holds (a mirror that has not pulled yet, a copy not made) shows clients
 * the old list, whatever pkilab.db and publish/ say. */
static void check_behind_publish(struct doctor *d, X509 *iss, const struct pkl_crlinfo *served,
				 const char *url, struct pkl_report *local)
{
	struct pkl_pki *pki = d->pki;
	struct pkl_buf der = { 0 };
	struct pkl_cert_row row;
	struct pkl_crlinfo pub;
	struct pkl_finding *f;
	X509_CRL *crl = NULL;
	char hex[41], path[PATH_MAX];

	pkl_serial_hex(iss, hex, sizeof(hex));
	if (!pki || pkl_db_cert_find(pki->db, hex, &row, NULL) != PKL_OK ||
	    pkl_pki_path(pki, PKL_FILE_CRL, row.name, path, sizeof(path), NULL) != PKL_OK ||
	    pkl_file_read(path, PUBLISHED_CRL_MAX, &der, NULL) != PKL_OK ||
	    pkl_crlcheck_parse(der.data, der.len, path, &pub, &crl, NULL) != PKL_OK)
		goto out;
	if (pkl_crlcheck_number_cmp(served->number, pub.number) < 0) {
		f = pkl_report_add(local, PKL_SEV_WARN, "crl.behind_publish", url,
				   "serves CRL number %s of %s; %s holds number %s", served->number, row.name,
				   path, pub.number);
		pkl_finding_cause(f, "this CDP has not received the newest CRL: a mirror that has not "
				     "pulled yet, or a copy not made; clients that ask it see the older "
				     "list of revocations");
		pkl_finding_fix(f, "copy publish/crl/ to this server (or wait for the mirror's next "
				   "pull, --mirror-interval) and check again");
	}
out:
	X509_CRL_free(crl);
	pkl_buf_free(&der);
}

static int check_uri(struct doctor *d, X509 *x, X509 *iss, const char *url, const char *label,
		     const char *const *all_uris, size_t n_uris, struct pkl_report *local, long *ms,
		     int *revoked, char *revinfo, size_t revlen)
{
	char why[512];
	struct pkl_fetch_result res;
	struct pkl_err e = { 0 };
	struct pkl_crlinfo info;
	struct pkl_finding *f;
	X509_CRL *crl = NULL;
	char t1[32], t2[32], dur[32];
	size_t before = local->n;
	int good = 0;

	*ms = 0;
	if (pkl_fetch_get(url, d->o->fetch, &res, &e) != PKL_OK) {
		f = pkl_report_add(local, PKL_SEV_FAIL, "crl.unreachable", url, "%s", e.msg);
		/* EINPUT: the URL itself (not http://); anything else is our own failure. */
		if (e.rc == PKL_EINPUT) {
			pkl_finding_cause(f, "only http:// CDP URLs are fetched by every client");
			pkl_finding_fix(f, "re-issue %s with http:// CDP URLs", label);
		}
		return 0;
	}
	*ms = res.elapsed_ms;
	if (res.date)
		note_skew(d, url, res.date);
	if (!res.transferred) {
		f = pkl_report_add(local, PKL_SEV_FAIL, "crl.unreachable", url,
				   "CRL of %s not fetched after %ld ms: %s", label, res.elapsed_ms,
				   res.error);
		if (f)
			f->elapsed_ms = res.elapsed_ms;
		pkl_finding_cause(f, res.too_large ? "the server sends more than a CRL should be" :
				     res.timed_out ? "the server accepts but does not answer in time; "
						     "clients wait the same and run out of their "
						     "revocation budget" :
						     "nothing answers at this address (server down, wrong "
						     "host or port, firewall)");
		pkl_finding_fix(f, "start pkilab-cdpd (or the web server) on that address and make "
				   "sure clients reach it outside the tunnel; re-issue with a reachable "
				   "CDP if the URL is wrong");
		goto out;
	}
	if (res.status == 503 && served_refusal(&res, why, sizeof(why))) {
		/* pkilab-cdpd knows the CA but refused its CRL, and says why. */
		f = pkl_report_add(local, PKL_SEV_FAIL, "crl.http_status", url,
				   "HTTP 503: the server says %s", why);
		if (f)
			f->elapsed_ms = res.elapsed_ms;
		pkl_finding_cause(f, "the CDP server holds a CRL for this CA but refused to serve it "
				     "(wrong key, older than one it served, expired, too large)");
		pkl_finding_fix(f, "sign a valid CRL with the CA's current key (pkilab crl) and publish it; "
				   "the server's log names the file it refused");
		goto out;
	}
	if (res.status != 200) {
		f = pkl_report_add(local, PKL_SEV_FAIL, "crl.http_status", url, "HTTP %ld instead of 200%s",
				   res.status,
				   res.status >= 300 && res.status < 400 ? " (redirect not followed)" : "");
		if (f)
			f->elapsed_ms = res.elapsed_ms;
		pkl_finding_cause(f, res.status >= 300 && res.status < 400 ?
					     "CDP URLs must answer 200 directly: Windows' behaviour on "
					     "redirects is undefined and https targets are not allowed (RFC "
					     "5280 4.2.1.13)" :
					     "the server does not have this CRL");
		pkl_finding_fix(f, "publish the CRL at exactly this path (publish/crl/<ca>.crl served by "
				   "pkilab-cdpd)");
		goto out;
	}
	if (strncasecmp(res.content_type, "application/pkix-crl", 20) != 0)
		pkl_finding_fix(
			pkl_report_add(local, PKL_SEV_WARN, "crl.content_type", url,
				       "Content-Type '%s' instead of application/pkix-crl",
				       res.content_type[0] ? res.content_type : "(none)"),
			"serve .crl files as application/pkix-crl (RFC 5280 4.2.1.13); pkilab-cdpd does");
	if (pkl_crlcheck_parse(res.body.data, res.body.len, url, &info, &crl, &e) != PKL_OK) {
		f = pkl_report_add(local, PKL_SEV_FAIL, "crl.parse", url, "not a DER CRL: %s", e.msg);
		pkl_finding_cause(f, "clients cannot read what this URL serves (PEM instead of DER, an "
				     "HTML page, a truncated file)");
		pkl_finding_fix(f, "serve the DER file from publish/crl/ unchanged");
		goto out;
	}
	if (iss) {
		EVP_PKEY *k = X509_get0_pubkey(iss);
		char il[256];
		pkl_lint_label(iss, il, sizeof(il));
		if (!k || X509_CRL_verify(crl, k) != 1) {
			f = pkl_report_add(local, PKL_SEV_FAIL, "crl.bad_signature", url,
					   "CRL signature does not verify with the key of %s", il);
			pkl_finding_cause(f, "the CRL was signed by another key (a CA rebuilt under the "
					     "same name, a CRL copied from another PKI); clients reject it "
					     "and revocation status is unknown");
			pkl_finding_fix(f, "sign a fresh CRL with the issuing CA (pkilab crl --ca ...) "
					   "and publish it to every mirror");
		}
		ERR_clear_error();
		if (d->o->pki_dir && info.number[0])
			check_behind_publish(d, iss, &info, url, local);
		struct pkl_lint_crl_opts lo = {
			.issuer = iss, .cdp_uris = all_uris, .n_cdp = n_uris, .now = d->o->at
		};
		pkl_lint_crl(res.body.data, res.body.len, url, &lo, local, NULL);
	} else {
		pkl_report_add(local, PKL_SEV_INFO, "crl.unverified", url,
			       "issuer of %s unknown: CRL signature not checked", label);
	}
	pkl_time_fmt(info.this_update, t1, sizeof(t1));
	pkl_time_fmt(info.next_update, t2, sizeof(t2));
	if (info.this_update > d->o->at) {
		pkl_duration_fmt(info.this_update - d->o->at, dur, sizeof(dur));
		f = pkl_report_add(local, PKL_SEV_FAIL, "crl.not_yet_valid", url,
				   "thisUpdate %s is %s in the future", t1, dur);
		pkl_finding_cause(f, "the CA's clock is ahead or this machine's is behind; strongSwan "
				     "rejects a CRL that is not yet valid");
		pkl_finding_fix(f, "sync the clocks (NTP) and back-date thisUpdate a few minutes");
	}
	if (info.next_update && info.next_update <= d->o->at) {
		pkl_duration_fmt(d->o->at - info.next_update, dur, sizeof(dur));
		f = pkl_report_add(local, PKL_SEV_FAIL, "crl.expired", url,
				   "CRL expired %s (%s ago), thisUpdate %s", t2, dur, t1);
		pkl_finding_cause(f, "nobody re-signed the CRL before its nextUpdate: Windows with "
				     "strong CRL checking (CertAuthFlags=4) and strongSwan "
				     "(revocation=ifuri/strict) refuse every certificate of this CA");
		pkl_finding_fix(f, "publish a fresh CRL: pkilab crl, then reload pkilab-cdpd (SIGHUP) "
				   "or copy publish/crl/ to every mirror; schedule `pkilab crl` well "
				   "before half the CRL lifetime");
	}
	/* The status, whatever else is wrong: a revoked certificate is the headline. */
	{
		X509_REVOKED *rev = NULL;
		if (!*revoked &&
		    X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(x)) == 1 &&
		    rev) {
			pkl_time when = 0;
			ASN1_ENUMERATED *re = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
			long reason = re ? ASN1_ENUMERATED_get(re) : -1;
			ASN1_ENUMERATED_free(re);
			pkl_time_from_asn1(X509_REVOKED_get0_revocationDate(rev), &when);
			pkl_time_fmt(when, t1, sizeof(t1));
			*revoked = 1;
			snprintf(revinfo, revlen, "revoked %s%s%s (listed by %.200s)", t1,
				 reason >= 0 ? ", reason " : "",
				 reason >= 0 && reason <= 10 ? pkl_reason_name((int)reason) :
				 reason >= 0                 ? "unknown" :
							       "",
				 url);
		}
	}
	good = 1;
	for (size_t i = before; i < local->n; i++)
		good &= local->v[i].sev != PKL_SEV_FAIL;
	if (good)
		f = pkl_report_add(local, PKL_SEV_OK, "crl.valid", url,
				   "HTTP 200 in %ld ms, %zu bytes, thisUpdate %s, nextUpdate %s, "
				   "%zu entries",
				   res.elapsed_ms, res.body.len, t1, t2, info.revoked);
	if (good && f)
		f->elapsed_ms = res.elapsed_ms;
out:
	X509_CRL_free(crl);
	pkl_fetch_result_free(&res);
	return good;
}

static void check_revocation(struct doctor *d, size_t i)
{
	X509 *x = d->chain.certs[i];
	X509 *iss = i + 1 < d->chain.n ? d->chain.certs[i + 1] : NULL;
	char uris[MAX_URIS][PKL_CHAIN_URI_MAX];
	const char *ptrs[MAX_URIS];
	char label[256], revinfo[512] = "";
	size_t n = cdp_uris(x, uris, MAX_URIS), n_good = 0;
	int revoked = 0, first_good_seen = 0;
	struct pkl_report local = PKL_REPORT_INIT;
	struct pkl_finding *f;

	pkl_lint_label(x, label, sizeof(label));
	if (!n) {
		if (!pkl_lint_self_signed(x) && !(i + 1 == d->chain.n && d->chain.anchored))
			pkl_finding_fix(pkl_report_add(d->rep, PKL_SEV_WARN, "crl.no_cdp", label,
						       "no CRL distribution point: revocation cannot "
						       "be checked"),
					"re-issue with cdp = true so a revoked certificate can be refused");
		return;
	}
	for (size_t k = 0; k < n; k++)
		ptrs[k] = uris[k];
	for (size_t k = 0; k < n; k++) {
		long ms = 0;
		int good = check_uri(d, x, iss, uris[k], label, ptrs, n, &local, &ms, &revoked, revinfo,
				     sizeof(revinfo));
		d->fetches++;
		/* a client tries the URIs in order and stops at the first good CRL */
		if (!first_good_seen)
			d->client_ms += ms;
		first_good_seen |= good;
		n_good += good;
		if (ms > d->worst_uri_ms) {
			d->worst_uri_ms = ms;
			snprintf(d->worst_uri, sizeof(d->worst_uri), "%.*s", PKL_CHAIN_URI_MAX - 1, uris[k]);
		}
	}
	/* With a good CRL elsewhere, a broken mirror is a warning: clients still get an answer. */
	if (n_good)
		for (size_t k = 0; k < local.n; k++)
			if (local.v[k].sev == PKL_SEV_FAIL)
				local.v[k].sev = PKL_SEV_WARN;
	pkl_report_merge(d->rep, &local, PKL_SEV_OK);
	if (n_good && n_good < n) {
		f = pkl_report_add(d->rep, PKL_SEV_WARN, "crl.redundancy_lost", label,
				   "only %zu of %zu CDP URIs deliver a valid CRL", n_good, n);
		pkl_finding_cause(f, "a mirror is down or serves a bad CRL: clients that try it first "
				     "lose time from their revocation budget");
		pkl_finding_fix(f, "repair the failing mirror (see the crl.* findings above) so every "
				   "URI serves the same valid CRL");
	}
	if (revoked && i == 0)
		d->leaf_revoked_served = 1;
	if (revoked) {
		f = pkl_report_add(d->rep, PKL_SEV_FAIL, "cert.revoked", label, "%s", revinfo);
		pkl_finding_cause(f, "the CA revoked this certificate; every client that checks "
				     "revocation refuses it (CAPI2 0x80092010, strongSwan "
				     "\"certificate was revoked\")");
		pkl_finding_fix(f, "issue a new certificate (pkilab renew or issue) and install it%s",
				i == 0 ? "" : "; a revoked CA invalidates everything below it");
	} else if (n_good) {
		pkl_report_add(d->rep, PKL_SEV_OK, "cert.status", label, "not revoked (checked on %zu CRL%s)",
			       n_good, n_good > 1 ? "s" : "");
	}
	pkl_report_free(&local);
}

static void check_time_and_budgets(struct doctor *d)
{
	struct pkl_finding *f;
	char dur[32], t[32];
	int64_t a = d->max_skew < 0 ? -d->max_skew : d->max_skew;

	if (d->skew_seen) {
		pkl_duration_fmt(d->max_skew, dur, sizeof(dur));
		if (a > SKEW_WARN) {
			pkl_time_fmt(d->skew_date, t, sizeof(t));
			f = pkl_report_add(d->rep, PKL_SEV_WARN, "time.clock_skew", d->skew_uri,
					   "local clock differs from the server's Date (%s) by %s", t, dur);
			pkl_finding_cause(f, "this machine's clock (or the CDP server's) is wrong; a "
					     "clock that is behind makes fresh certificates and CRLs "
					     "\"not yet valid\"");
			pkl_finding_fix(f, "sync both clocks with NTP (w32tm /resync, chronyc makestep)");
		} else {
			pkl_report_add(d->rep, PKL_SEV_OK, "time.clock_skew", d->skew_uri,
				       "local clock within %ds of the CDP servers' Date (largest skew %s)",
				       SKEW_WARN, dur);
		}
	}
	/* Each budget is one client's: judged only when that client is selected. */
	int sws_over = (d->platforms & PKL_PLAT_STRONGSWAN) && d->worst_uri_ms > d->sws_budget_ms;
	int win_over = (d->platforms & PKL_PLAT_WINDOWS) && d->client_ms > d->win_budget_ms;

	if (sws_over) {
		f = pkl_report_add(d->rep, PKL_SEV_WARN, "crl.budget_strongswan", d->worst_uri,
				   "fetch took %ld ms, more than strongSwan's %ld ms per URI",
				   d->worst_uri_ms, d->sws_budget_ms);
		if (f)
			f->elapsed_ms = d->worst_uri_ms;
		pkl_finding_cause(f, "strongSwan gives up on a CRL fetch after 10 s "
				     "(charon.plugins.revocation.timeout) and fails ifuri/strict peers");
		pkl_finding_fix(f, "make the CDP answer fast or refuse fast (no black-holed address); "
				   "put the most available mirror first");
	}
	if (win_over) {
		f = pkl_report_add(d->rep, PKL_SEV_WARN, "crl.budget_windows", NULL,
				   "revocation fetches take %ld ms in total, more than Windows' %ld ms",
				   d->client_ms, d->win_budget_ms);
		if (f)
			f->elapsed_ms = d->client_ms;
		pkl_finding_cause(f, "Windows stops revocation retrieval after 20 s cumulated over the "
				     "chain and then treats status as unknown (strong check: reject)");
		pkl_finding_fix(f, "fix or remove the slow CDP URIs; mirrors must refuse fast, not "
				   "black-hole");
	}
	if (!sws_over && !win_over && d->fetches) {
		/* Whenever a URI was tried, also at 0 ms: the same findings every run. */
		pkl_report_add(d->rep, PKL_SEV_OK, "crl.budget", NULL,
			       "revocation fetches %ld ms in total (Windows budget %ld ms), slowest URI "
			       "%ld ms (strongSwan %ld ms)",
			       d->client_ms, d->win_budget_ms, d->worst_uri_ms, d->sws_budget_ms);
	}
}

/* Lints every certificate of the path; keeps problems, plus the platform
 * check lines (X2, X3, X5, X6) of the leaf, plus one summary line per certificate. */
static enum pkl_rc run_lints(struct doctor *d, struct pkl_err *err)
{
	for (size_t i = 0; i < d->chain.n; i++) {
		struct pkl_report lr = PKL_REPORT_INIT;
		struct pkl_lint_opts lo = { .platforms = d->platforms,
					    .role = i == 0 ? d->leaf_role : PKL_ROLE_AUTO,
					    .id = i == 0 ? d->o->id : NULL,
					    .show_ok = 1 };
		char label[256];
		size_t problems = 0;
		enum pkl_rc rc = pkl_lint_cert(d->chain.certs[i], &lo, &lr, err);

		if (rc != PKL_OK) {
			pkl_report_free(&lr);
			return rc;
		}
		for (size_t k = 0; k < lr.n; k++) {
			const struct pkl_finding *f = &lr.v[k];
			int x_ok = f->sev == PKL_SEV_OK && i == 0 && !strncmp(f->code, "lint.X", 6);
			if (f->sev == PKL_SEV_OK && !x_ok)
				continue;
			/* chain.* from the lint duplicates pkl_chain_check (no issuer is passed) */
			struct pkl_finding *g =
				pkl_report_add(d->rep, f->sev, f->code, f->subject, "%s", f->msg);
			if (g) {
				memcpy(g->cause, f->cause, sizeof(g->cause));
				memcpy(g->fix, f->fix, sizeof(g->fix));
			}
			problems += f->sev != PKL_SEV_OK;
		}
		if (!problems)
			pkl_report_add(d->rep, PKL_SEV_OK, "lint",
				       pkl_lint_label(d->chain.certs[i], label, sizeof(label)),
				       "%s: standards checks L1-L18%s pass",
				       pkl_lint_role_name(lo.role != PKL_ROLE_AUTO ?
								  lo.role :
								  pkl_lint_role_of(d->chain.certs[i])),
				       i == 0 ? ", X1-X6" : "");
		pkl_report_free(&lr);
	}
	pkl_lint_chain(d->chain.certs, d->chain.n, 1, d->rep);
	return PKL_OK;
}

/* Whether the DER CRL lists x's serial (crl_read.c's reader, then OpenSSL's
 * look-up, as check_uri does for a fetched CRL); -1 when it cannot be read. */
static int crl_lists(const struct pkl_buf *der, X509 *x)
{
	struct pkl_crlinfo info;
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	int found;

	if (pkl_crlcheck_parse(der->data, der->len, "crl", &info, &crl, NULL) != PKL_OK)
		return -1;
	found = X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(x)) == 1;
	X509_CRL_free(crl);
	return found;
}

/* With --pki, the lab's own records against what it publishes: a revocation
 * recorded in pkilab.db reaches no client until a CRL in publish/ lists it
 * (RFC 5280 §3.3: the CRL is how relying parties learn of it). Offline, the
 * CRL in publish/ stands in for the CDPs. */
static void check_pki_records(struct doctor *d)
{
	struct pkl_err e = d->pki_err;
	struct pkl_pki *pki = d->pki;
	struct pkl_buf der = { 0 };
	struct pkl_cert_row row;
	struct pkl_finding *f;
	char hex[41], path[PATH_MAX], t[32], label[300];
	int listed;

	pkl_lint_label(d->o->leaf, label, sizeof(label));
	pkl_serial_hex(d->o->leaf, hex, sizeof(hex));
	if (!pki || pkl_db_cert_find(pki->db, hex, &row, &e) != PKL_OK) {
		pkl_report_add(d->rep, PKL_SEV_INFO, "pki.records", label, "not reconciled with %s: %s",
			       d->o->pki_dir, e.msg[0] ? e.msg : "not found");
		goto out;
	}
	if (row.status != PKL_STATUS_REVOKED) {
		pkl_report_add(d->rep, PKL_SEV_OK, "pki.records", label, "not revoked in %s/pkilab.db",
			       d->o->pki_dir);
		goto out;
	}
	pkl_time_fmt(row.revoked_at, t, sizeof(t));
	listed = pkl_pki_path(pki, PKL_FILE_CRL, row.issuer_name, path, sizeof(path), NULL) == PKL_OK &&
				 pkl_file_read(path, PUBLISHED_CRL_MAX, &der, NULL) == PKL_OK ?
			 crl_lists(&der, d->o->leaf) :
			 -1;
	if (listed == 1 && d->o->no_fetch) {
		f = pkl_report_add(d->rep, PKL_SEV_FAIL, "cert.revoked", label,
				   "revoked since %s (%s), listed in %s", t, pkl_reason_label(row.reason),
				   path);
		pkl_finding_cause(f, "the CA revoked this certificate; every client that checks "
				     "revocation refuses it (CAPI2 0x80092010, strongSwan "
				     "\"certificate was revoked\")");
		pkl_finding_fix(f, "issue a new certificate (pkilab renew or issue) and install it");
	} else if (listed == 1 && !d->leaf_revoked_served) {
		f = pkl_report_add(d->rep, PKL_SEV_FAIL, "pki.revocation_not_served", label,
				   "revoked since %s and listed in %s, but no CDP serves a CRL that lists it",
				   t, path);
		pkl_finding_cause(f, "the CDPs serve an older CRL than publish/ holds (see "
				     "crl.behind_publish): every client still accepts the certificate");
		pkl_finding_fix(f, "copy publish/crl/ to every CDP server, or let the mirrors pull, and "
				   "check again");
	} else if (listed == 1) {
		pkl_report_add(d->rep, PKL_SEV_OK, "pki.records", label,
			       "revoked in pkilab.db since %s, listed in the published CRL and served", t);
	} else {
		f = pkl_report_add(d->rep, PKL_SEV_FAIL, "pki.revocation_unpublished", label,
				   "revoked in pkilab.db since %s (%s), but %s %s", t,
				   pkl_reason_label(row.reason), path,
				   listed == 0 ? "does not list it" : "is missing or unreadable");
		pkl_finding_cause(f, "clients learn of a revocation only from a CRL; every CDP serves "
				     "a CRL without this one, so every client still accepts the "
				     "certificate");
		pkl_finding_fix(f, "run 'pkilab crl --ca %s' and let the CDPs pick the new CRL up",
				row.issuer_name);
	}
out:
	pkl_buf_free(&der);
}

/* With --pki, every CRL on the leaf's path in publish/ (its issuer's, then
 * up to the root's) judged as `pkilab crl --due`, show, list, graph and
 * expiring judge it (pkilab/crl_state.h). Fetched, the CDPs' crl.* findings
 * say what clients meet and a CRL not up to date here is a warning: run
 * `pkilab crl --due`. Offline (--no-fetch) publish/ stands in for the CDPs,
 * so a CRL relying parties refuse (missing, unreadable, wrong signer, dated
 * in the future, expired; RFC 5280 §6.3.3) fails. */
static enum pkl_rc check_pki_crls(struct doctor *d, struct pkl_err *err)
{
	struct pkl_cert_row row, ca;
	struct pkl_err e = { 0 };
	char hex[41], line[1024];
	enum pkl_rc rc = PKL_OK;

	pkl_serial_hex(d->o->leaf, hex, sizeof(hex));
	if (!d->pki || pkl_db_cert_find(d->pki->db, hex, &row, NULL) != PKL_OK)
		return PKL_OK; /* pki.records says why */
	for (int depth = 0; depth < 16 && row.issuer_id != row.id; depth++, row = ca) {
		struct pkl_crl_status st;
		struct pkl_finding *f;
		enum pkl_sev sev = PKL_SEV_WARN;

		if ((rc = pkl_db_cert_get(d->pki->db, row.issuer_id, &ca, err)) != PKL_OK)
			break;
		if (!ca.current)
			continue; /* a CA renewed since: publish/ holds its successor's CRL */
		if (pkl_crl_state_judge(d->pki, ca.name, d->o->at, &st, NULL, &e) != PKL_OK) {
			/* A damaged pkilab.db is reported, not a reason to stop the diagnosis. */
			pkl_report_add(d->rep, PKL_SEV_INFO, "pki.crl", ca.name, "CRL not judged: %s", e.msg);
			pkl_err_clear(&e);
			continue;
		}
		pkl_crl_state_describe(&st, d->o->at, line, sizeof(line));
		if (st.state == PKL_CRL_UP_TO_DATE) {
			pkl_report_add(d->rep, PKL_SEV_OK, "pki.crl", ca.name, "%s: %s", st.path, line);
			continue;
		}
		if (d->o->no_fetch && st.state != PKL_CRL_UNLISTED && st.state != PKL_CRL_RESIGN)
			sev = PKL_SEV_FAIL;
		f = pkl_report_add(d->rep, sev, "pki.crl", ca.name, "%s: %s", st.path, line);
		pkl_finding_cause(f, "the CRL in publish/ is not up to date: relying parties that "
				     "fetch it refuse it, miss a revocation, or soon will");
		pkl_finding_fix(f,
				"run 'pkilab crl --due' (or 'pkilab crl --ca %s') and let the CDPs "
				"pick the new CRL up",
				ca.name);
	}
	return rc;
}

enum pkl_rc pkl_doctor_run(const struct pkl_doctor_opts *o, struct pkl_report *r, struct pkl_err *err)
{
	struct doctor d = { .o = o, .rep = r };
	enum pkl_rc rc;

	if (!o || !o->leaf || !r || (!o->no_fetch && !o->fetch))
		return pkl_err_set(err, PKL_ERUNTIME, NULL,
				   "doctor: no certificate or no fetch settings given");
	d.platforms = o->platforms ? o->platforms : PKL_PLAT_ALL;
	d.leaf_role = o->leaf_role != PKL_ROLE_AUTO ? o->leaf_role : pkl_lint_role_of(o->leaf);
	d.win_budget_ms = o->windows_budget_ms ? o->windows_budget_ms : PKL_DOCTOR_WINDOWS_BUDGET_MS;
	d.sws_budget_ms = o->strongswan_budget_ms ? o->strongswan_budget_ms : PKL_DOCTOR_STRONGSWAN_BUDGET_MS;
	/* Opened once for every --pki check; a failure is reported by check_pki_records. */
	if (o->pki_dir)
		d.pki = pkl_pki_open(o->pki_dir, 0, &d.pki_err);
	/* X9: the bag's protection profile against the target platforms */
	if (o->p12)
		pkl_lint_p12(o->p12, o->p12_len, o->p12_label ? o->p12_label : "PKCS#12", d.platforms, 1, r);

	struct pkl_chain_opts co = { .pool = o->pool,
				     .anchors = o->anchors,
				     .fetch_aia = !o->no_fetch && !o->no_aia,
				     .fetch = o->fetch };
	rc = pkl_chain_build(o->leaf, &co, &d.chain, r, err);
	if (rc != PKL_OK)
		goto out;
	pkl_chain_check(&d.chain, o->at, 1, r);
	rc = run_lints(&d, err);
	if (rc != PKL_OK)
		goto out;
	if (!o->no_fetch)
		for (size_t i = 0; i < d.chain.n; i++)
			check_revocation(&d, i);
	else
		pkl_report_add(r, PKL_SEV_INFO, "crl.skipped", NULL,
			       o->pki_dir ?
				       "--no-fetch: the CDPs not asked; the leaf checked against publish/" :
				       "--no-fetch: revocation not checked");
	if (o->pki_dir) {
		check_pki_records(&d);
		if ((rc = check_pki_crls(&d, err)) != PKL_OK)
			goto out;
	}
	check_time_and_budgets(&d);
out:
	pkl_chain_free(&d.chain);
	pkl_pki_close(d.pki);
	return rc;
}
