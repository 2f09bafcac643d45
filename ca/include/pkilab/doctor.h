/*
 * The checks of `pkilab doctor`: one certificate judged end to end, the way
 * an expert would with `certutil -verify -urlfetch`, `openssl verify` and a
 * packet capture, in one run. In the order they run:
 *   - the PKCS#12 bag's protection profile when the input was one (lint.X9);
 *   - the path: built from the leaf (chain.h), every link checked at o->at
 *     (signatures, names, key identifiers, CA flags, validity: chain.*, time.*);
 *   - the lints of every certificate of the path (lint.*, the leaf's platform
 *     rules X1-X6 with their ok lines), then the chain lints;
 *   - revocation for every CDP URI of every certificate in the path (crl.*,
 *     cert.revoked, cert.status), unless fetching is off (crl.skipped);
 *   - time and budgets: the largest skew between the local clock and the CDP
 *     servers' Date headers (time.clock_skew), the slowest URI against
 *     strongSwan's per-URI timeout and the client's total against Windows'
 *     cumulative budget (crl.budget*).
 * Every finding has a stable code; failures carry the cause and the fix.
 *
 * The library reads nothing from the environment: the moment judged, the
 * clock, the fetch settings (already holding $PKILAB_RESOLVE if the caller
 * wants it), the PKCS#12 bytes and the budgets are options; inputs are
 * loaded and secrets read by the caller. It never prints: the findings go to
 * a report the caller prints (pkl_report_text / pkl_report_json).
 */
#ifndef PKILAB_DOCTOR_H
#define PKILAB_DOCTOR_H

#include <stddef.h>
#include <openssl/x509.h>

#include "err.h"
#include "fetch.h"
#include "lint.h"
#include "ptime.h"
#include "report.h"

#define PKL_DOCTOR_SKEW_WARN            300   /* s: local clock vs a CDP's Date header */
#define PKL_DOCTOR_STRONGSWAN_BUDGET_MS 10000 /* charon.plugins.revocation.timeout, 10 s default */
#define PKL_DOCTOR_WINDOWS_BUDGET_MS    20000 /* wincrypt.h CERT_CHAIN_REV_ACCUMULATIVE_URL_RETRIEVAL_TIMEOUT */

struct pkl_doctor_opts {
	X509 *leaf;                         /* the certificate judged (borrowed, required) */
	STACK_OF(X509) * pool;              /* intermediates offered (borrowed; may be NULL) */
	STACK_OF(X509) * anchors;           /* trust anchors (borrowed; may be NULL) */
	unsigned platforms;                 /* PKL_PLAT_* (0: all) */
	enum pkl_lint_role leaf_role;       /* PKL_ROLE_AUTO: from the leaf's EKU */
	const char *id;                     /* the IKE identity to match the SAN against, or NULL */
	pkl_time at;                        /* the moment judged (certificates and CRLs) */
	pkl_time (*clock)(void);            /* the local clock, read when a Date header arrives
					 * (skew); NULL: no skew judged */
	int no_fetch;                       /* offline: no CRL and no AIA fetches */
	int no_aia;                         /* no AIA fetches of missing issuers */
	const struct pkl_fetch_opts *fetch; /* deadlines, sizes, resolve list (required
					     * unless no_fetch) */
	long windows_budget_ms;             /* 0: PKL_DOCTOR_WINDOWS_BUDGET_MS */
	long strongswan_budget_ms;          /* 0: PKL_DOCTOR_STRONGSWAN_BUDGET_MS */
	const unsigned char *p12;           /* the PKCS#12 input's bytes for lint.X9, or NULL */
	size_t p12_len;
	const char *p12_label; /* its name in the findings (the file name) */
	const char *pki_dir;   /* the lab PKI whose records are reconciled with what
				* is published (pki.*), or NULL */
};

/* Runs every check on o->leaf and appends the findings to r (which the caller
 * owns and frees). PKL_OK when the checks ran, whatever they found (look at
 * pkl_report_worst(r)); PKL_ERUNTIME (out of memory) or what a lint refused,
 * with err set, otherwise. */
enum pkl_rc pkl_doctor_run(const struct pkl_doctor_opts *o, struct pkl_report *r, struct pkl_err *err);

/* The lab's roots as trust anchors: the self-signed certificates of
 * <pki>/certs, each once, appended to anchors (which must exist). PKL_EINPUT
 * when the directory holds no certificate. */
enum pkl_rc pkl_doctor_lab_anchors(const char *pki, STACK_OF(X509) * anchors, struct pkl_err *err);

#endif
