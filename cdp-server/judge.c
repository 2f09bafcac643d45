/*
 * The judges: the one rule for every candidate CRL, read from a publish
 * directory or pulled from a peer (cdp_judge_crl), and the one for a CA
 * certificate a peer offers (cdp_judge_ca). The catalog applies their
 * verdicts; the rollback marks kept across restarts (state.c) are the
 * catalog's half of the CRL rule.
 *
 * A candidate CRL is parsed and verified against the trusted CA
 * certificate; a lower CRL number is refused (rollback), so is the same
 * number with other bytes, and an expired one while a fresh one is served.
 * The last good CRL stays in service otherwise.
 *
 * In mirror mode, a mirror may learn a CA certificate from a peer only when that certificate
 * is a CA issued directly by one of the CA certificates the mirror was
 * configured to trust: the peer can add an intermediate below a trusted root,
 * never a new root, never a CA of its own and never one chained through
 * something it learned earlier (only configured certificates are issuers
 * here). The checks mirror how a strict client chains (RFC 5280 6.1): the
 * issuer DN byte-equal to the issuer's subject, the authorityKeyIdentifier
 * equal to the issuer's subjectKeyIdentifier, the issuer allowed to sign a
 * CA below it, the signature, and a validity period that covers now.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cdpd.h"
#include "pkilab/name.h"

/* ---- CRLs ---- */

const char *cdp_verdict_name(enum cdp_verdict v)
{
	static const char *const names[] = { "accepted", "unchanged", "older",      "conflict",
					     "stale",    "invalid",   "unknown-ca", "untrusted" };

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

enum cdp_verdict cdp_judge_crl(const struct cdp_entry *cur, const unsigned char *der, size_t len, X509 *ca,
			       pkl_time now, const char *where, struct pkl_crlinfo *info, struct pkl_err *err)
{
	int cmp;

	if (cur && cur->body && cur->body->len == len && memcmp(cur->body->data, der, len) == 0) {
		*info = cur->info;
		return CDP_SAME;
	}
	if (pkl_crlcheck_verify(der, len, where, ca, info, err) != PKL_OK)
		return CDP_INVALID;
	if (!cur)
		return CDP_ACCEPT;
	cmp = pkl_crlcheck_number_cmp(info->number, cur->info.number);
	if (cmp < 0) {
		pkl_err_set(err, PKL_EINPUT, where,
			    "CRL number %s is lower than the served %s: rollback refused", info->number,
			    cur->info.number);
		return CDP_OLDER;
	}
	if (cmp == 0) {
		pkl_err_set(err, PKL_EINPUT, where,
			    "CRL number %s is already served with different content: keeping the served one",
			    info->number);
		return CDP_CONFLICT;
	}
	/* A newer number that is already expired is a publishing accident: do
	 * not replace a CRL clients can still use with one they cannot. */
	if (pkl_crlcheck_fresh(info, now, 0, where, err) != PKL_OK &&
	    pkl_crlcheck_fresh(&cur->info, now, 0, where, NULL) == PKL_OK)
		return CDP_STALE;
	pkl_err_clear(err);
	return CDP_ACCEPT;
}

/* ---- CA certificates ---- */

/* basicConstraints cA TRUE and keyUsage keyCertSign (both present). */
static int is_ca(X509 *x)
{
	uint32_t fl = X509_get_extension_flags(x);

	if (fl & EXFLAG_INVALID)
		return 0;
	return (fl & EXFLAG_BCONS) && (fl & EXFLAG_CA) && (fl & EXFLAG_KUSAGE) &&
	       (X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
}

/* Why `iss` cannot have issued the CA certificate x, or NULL when it did. */
static const char *issued_by(X509 *x, X509 *iss)
{
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(iss);
	uint32_t fl = X509_get_extension_flags(iss);
	EVP_PKEY *pk;

	if (!pkl_name_der_equal(X509_get_issuer_name(x), X509_get_subject_name(iss)))
		return "issuer name differs";
	if (aki && ski && ASN1_OCTET_STRING_cmp(aki, ski) != 0)
		return "authorityKeyIdentifier does not match the trusted CA's subjectKeyIdentifier";
	if ((fl & EXFLAG_KUSAGE) && !(X509_get_key_usage(iss) & KU_KEY_CERT_SIGN))
		return "the trusted CA may not sign certificates (keyUsage)";
	if ((fl & EXFLAG_BCONS) && !(fl & EXFLAG_CA))
		return "the trusted certificate is not a CA";
	if (X509_get_pathlen(iss) == 0)
		return "the trusted CA's pathLenConstraint 0 allows no CA below it";
	pk = X509_get0_pubkey(iss);
	if (!pk || X509_verify(x, pk) != 1) {
		ERR_clear_error();
		return "bad signature";
	}
	return NULL;
}

enum cdp_verdict cdp_judge_ca(const unsigned char *der, size_t len, X509 *const *issuers,
			      const char *const *issuer_names, size_t n_issuers, pkl_time now,
			      const char *where, X509 **out, struct pkl_err *err)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	pkl_time nb = 0, na = 0;
	const char *why = NULL;
	char nbuf[32], abuf[32];
	enum cdp_verdict v = CDP_INVALID;
	size_t i;

	if (len == 0 || len > INT_MAX || !(x = d2i_X509(NULL, &p, (long)len))) {
		pkl_err_set(err, PKL_EINPUT, where, "not a DER certificate");
		goto out;
	}
	if (p != der + len) {
		pkl_err_set(err, PKL_EINPUT, where, "%zu trailing bytes after the certificate",
			    (size_t)(der + len - p));
		goto out;
	}
	if (!is_ca(x)) {
		pkl_err_set(err, PKL_EINPUT, where,
			    "not a CA certificate (needs basicConstraints cA and keyUsage keyCertSign)");
		goto out;
	}
	if (pkl_name_der_equal(X509_get_issuer_name(x), X509_get_subject_name(x))) {
		pkl_err_set(err, PKL_EINPUT, where, "self-issued (a root): a peer never adds a root");
		v = CDP_UNTRUSTED;
		goto out;
	}
	if (pkl_time_from_asn1(X509_get0_notBefore(x), &nb) != PKL_OK ||
	    pkl_time_from_asn1(X509_get0_notAfter(x), &na) != PKL_OK) {
		pkl_err_set(err, PKL_EINPUT, where, "unreadable validity period");
		goto out;
	}
	if (now < nb || now > na) {
		pkl_err_set(err, PKL_EINPUT, where, "not valid now (%s .. %s)",
			    pkl_time_fmt(nb, nbuf, sizeof(nbuf)), pkl_time_fmt(na, abuf, sizeof(abuf)));
		goto out;
	}
	v = CDP_UNTRUSTED;
	for (i = 0; i < n_issuers; i++) {
		const char *r = issued_by(x, issuers[i]);

		if (!r) {
			*out = x;
			x = NULL;
			pkl_err_clear(err);
			v = CDP_ACCEPT;
			goto out;
		}
		/* The most telling reason: from a CA whose name matched. */
		if (strcmp(r, "issuer name differs") != 0 || !why) {
			why = r;
			if (strcmp(r, "issuer name differs") != 0) {
				pkl_err_set(err, PKL_EINPUT, where, "not issued by trusted CA '%s': %s",
					    issuer_names[i], r);
			}
		}
	}
	if (!why || strcmp(why, "issuer name differs") == 0) {
		char *iname = pkl_name_str(X509_get_issuer_name(x));

		pkl_err_set(err, PKL_EINPUT, where, "issuer '%s' is not a trusted CA", iname ? iname : "?");
		free(iname);
	}
out:
	X509_free(x);
	ERR_clear_error();
	return v;
}
