/*
 * The hierarchy of a PKI as a Graphviz DOT graph (`pkilab graph`).
 *
 * One node per certificate (CAs and end entities, issuer -> subject edges),
 * labelled with its subject, profile, key, validity and revocation state, and
 * one node per CA for the CRL it publishes, whose health is judged from the
 * file in publish/ alone (parsed, verified with the CA's certificate,
 * nextUpdate against the clock): no network is needed, so the picture can be
 * drawn anywhere the PKI directory is. Colours say the state at a glance:
 * green fine, amber soon a problem, red broken, grey superseded.
 */
#ifndef PKILAB_GRAPH_H
#define PKILAB_GRAPH_H

#include "buf.h"
#include "pki.h"
#include "ptime.h"

/* The state of one certificate or CRL, from good to bad; selects colours. */
enum pkl_graph_state {
	PKL_GRAPH_OK = 0,
	PKL_GRAPH_WARN,    /* expires within the margin; CRL past half its lifetime or missing a revocation */
	PKL_GRAPH_BAD,     /* expired, not yet valid, revoked; CRL missing, unreadable, wrong signer,
			      dated in the future, expired (pkilab/crl_state.h) */
	PKL_GRAPH_RETIRED, /* superseded by a renewal (only with all) */
};

struct pkl_graph_opts {
	pkl_time now;   /* the moment states are judged at */
	int64_t margin; /* "expires soon" window in seconds (e.g. 30 days) */
	int all;        /* include superseded certificates */
	int legend;     /* add a legend cluster */
};

/* Appends the DOT text for the PKI to out. Reads the database and
 * publish/crl/; never writes. */
enum pkl_rc pkl_graph_dot(struct pkl_pki *pki, const struct pkl_graph_opts *opts, struct pkl_buf *out,
			  struct pkl_err *err);

/* The same model as JSON (pretty-printed, one object): "at", "cdp" (bases),
 * "certificates" [{name, kind, issuer, subject, template, key, serial,
 * not_before, not_after, revoked, on_published_crl, current, state, detail}],
 * "crls" [{ca, state, crl_state, detail, published, number, revoked,
 * this_update, next_update, urls}]; state is "ok", "warn", "bad" or
 * "retired", crl_state the name pkl_crl_state_name gives (the word show and
 * list print). */
enum pkl_rc pkl_graph_json(struct pkl_pki *pki, const struct pkl_graph_opts *opts, struct pkl_buf *out,
			   struct pkl_err *err);

/* Escapes s for a double-quoted DOT string (quotes, backslashes, control
 * characters dropped) and appends it to out, without the quotes. */
enum pkl_rc pkl_graph_escape(struct pkl_buf *out, const char *s);

#endif
