/*
 * One definition of "this CA's CRL is up to date", shared by `pkilab crl
 * --due`, show, list, graph, expiring and doctor --pki.
 *
 * The CRL in publish/crl/<ca>.crl is up to date at a moment `now` when it
 *  - is there and decodes (a relying party can only use a CRL it can read);
 *  - is accepted for the CA's current certificate: issuer name, AKI,
 *    signature and CRL number as pkl_crlcheck_verify checks them (RFC 5280
 *    §6.3.3 (f), (g): the CRL is verified with the key of the CA that issued
 *    the certificates it covers);
 *  - has a thisUpdate not after now (RFC 5280 §5.1.2.4: the date the CRL was
 *    issued; pkilab-cdpd and strongSwan refuse a CRL dated in the future);
 *  - has a nextUpdate after now (RFC 5280 §5.1.2.5, §6.3.3 (a)(2));
 *  - lists every revocation pkilab.db records for that CA (RFC 5280 §3.3:
 *    the CRL is how relying parties learn of one);
 *  - and is not past its re-sign point, half-way from thisUpdate to
 *    nextUpdate (docs/crl-publication.md, "Re-signing at half the lifetime").
 * A CRL that is not up to date is due: `pkilab crl --due` signs a new one.
 *
 * The checks are made in that order and the first that fails names the
 * state, so a CRL dated in the future is judged by that before anything
 * about its age: it is never "fresh".
 */
#ifndef PKILAB_CRL_STATE_H
#define PKILAB_CRL_STATE_H

#include <limits.h>
#include <stddef.h>
#include <openssl/x509.h>
#include "crl_read.h"
#include "err.h"
#include "pki.h"
#include "ptime.h"

/* From the worst for relying parties to up to date; names: pkl_crl_state_name. */
enum pkl_crl_state {
	PKL_CRL_UP_TO_DATE = 0, /* "fresh" */
	PKL_CRL_MISSING,        /* "missing": no file in publish/crl/ */
	PKL_CRL_UNREADABLE,     /* "unreadable": not a DER CRL (truncated, PEM, garbage) */
	PKL_CRL_WRONG_SIGNER,   /* "wrong signer": not accepted for the CA's current certificate */
	PKL_CRL_FUTURE,         /* "dated in the future": thisUpdate after now */
	PKL_CRL_EXPIRED,        /* "expired": nextUpdate at or before now, or none */
	PKL_CRL_UNLISTED,       /* "missing revocations": a recorded revocation not listed */
	PKL_CRL_RESIGN,         /* "past re-sign point": more than half its lifetime gone */
};

/* What was judged, and the detail callers print. Fields after `state` are
 * meaningful as their comments say. */
struct pkl_crl_status {
	enum pkl_crl_state state;
	char path[PATH_MAX];     /* publish/crl/<ca>.crl */
	int parsed;              /* the file decodes: info is filled */
	struct pkl_crlinfo info; /* number, thisUpdate, nextUpdate, entries (when parsed) */
	pkl_time resign_at;      /* thisUpdate + (nextUpdate - thisUpdate) / 2 (when parsed) */
	size_t n_recorded;       /* revocations pkilab.db records for the CA's current certificate */
	size_t n_unlisted;       /* ... of which the CRL does not list (when verified) */
	char why[256];           /* unreadable / wrong signer: the reader's one-line reason */
};

/* Judges the published CRL of CA `ca` at `now` (see above) into *out. When
 * crl is not NULL and the file decoded, *crl receives the parsed CRL (the
 * caller frees it with X509_CRL_free), else NULL. Errors (an unknown CA, a
 * database or memory failure, the CA's stored certificate unreadable) are
 * returned, never printed; a CRL that is missing or bad is a state, not an
 * error. */
enum pkl_rc pkl_crl_state_judge(struct pkl_pki *pki, const char *ca, pkl_time now, struct pkl_crl_status *out,
				X509_CRL **crl, struct pkl_err *err);

/* The state's short name, the one word every command prints for it
 * ("fresh", "missing", ..., see the enum). */
const char *pkl_crl_state_name(enum pkl_crl_state state);

/* One line: the state's name, then why, with the numbers and times
 * ("dated in the future: thisUpdate 2026-...Z lies in the future by 1d 0h;
 * ...", "missing revocations: 1 revocation(s) not published yet ..."). The
 * command to run is not included (callers add theirs). Returns buf. */
const char *pkl_crl_state_describe(const struct pkl_crl_status *st, pkl_time now, char *buf, size_t len);

/* Whether a CRL in this state must be re-signed (every state but up to date). */
int pkl_crl_state_due(enum pkl_crl_state state);

#endif
