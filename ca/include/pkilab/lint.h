/*
 * Standards and platform lints over certificates and CRLs (docs/lint.md):
 * L1-L20 (RFC 5280 profile, names after zlint/pkilint) and the IPsec checks
 * X1-X9 that no general linter has (RFC 4945, Windows, strongSwan, Apple).
 *
 * Every check adds findings to a pkl_report. L checks report under the code
 * "lint.L<n>"; the X checks report under the codes `pkilab doctor` documents
 * (X1 ku.missing_digital_signature, X2 eku.*, X3 san.*, X5 key.*,
 * X6 validity.apple_825, X7 crl.issuer_mismatch / crl.aki_mismatch /
 * crl.idp_mismatch) and "lint.X<n>" when they pass. With show_ok, every check
 * that found nothing adds one ok finding, so a report has a line per check.
 *
 * MUST violations are PKL_SEV_FAIL, SHOULDs and heuristics PKL_SEV_WARN.
 */
#ifndef PKILAB_LINT_H
#define PKILAB_LINT_H

#include <openssl/x509.h>
#include "ptime.h"
#include "report.h"

/* Target platforms: rules that only one of them enforces apply when it is selected. */
enum {
	PKL_PLAT_WINDOWS = 1 << 0,
	PKL_PLAT_STRONGSWAN = 1 << 1,
	PKL_PLAT_APPLE = 1 << 2,
	PKL_PLAT_ALL = 7,
};

enum pkl_lint_role {
	PKL_ROLE_AUTO = 0, /* decided from the certificate (pkl_lint_role_of) */
	PKL_ROLE_ROOT_CA,
	PKL_ROLE_SUB_CA,
	PKL_ROLE_GATEWAY, /* IKEv2 responder */
	PKL_ROLE_CLIENT,  /* IKEv2 initiator */
};

#define PKL_OID_SERVER_AUTH      "1.3.6.1.5.5.7.3.1"
#define PKL_OID_CLIENT_AUTH      "1.3.6.1.5.5.7.3.2"
#define PKL_OID_IPSEC_IKE        "1.3.6.1.5.5.7.3.17"
#define PKL_OID_IKE_INTERMEDIATE "1.3.6.1.5.5.8.2.2"
#define PKL_OID_ANY_EKU          "2.5.29.37.0"

struct pkl_lint_opts {
	unsigned platforms;      /* PKL_PLAT_*; 0 = all */
	enum pkl_lint_role role; /* PKL_ROLE_AUTO: from the certificate */
	X509 *issuer;            /* optional: enables the chain lints L12 (AKI) and L13 (DN) */
	const char *id;          /* optional IKE identity (X3): FQDN, IP, email or DN */
	int show_ok;             /* one ok finding per check that found nothing */
};

/* "windows", "strongswan", "apple", "all", or a comma list; PKL_EINPUT otherwise. */
enum pkl_rc pkl_lint_platforms_parse(const char *s, unsigned *out, struct pkl_err *err);
/* "gateway", "client", "ca" (root or sub CA decided by the certificate). */
enum pkl_rc pkl_lint_role_parse(const char *s, enum pkl_lint_role *out, struct pkl_err *err);
enum pkl_lint_role pkl_lint_role_of(X509 *cert);
const char *pkl_lint_role_name(enum pkl_lint_role role);

/* A short label for findings: the CN, else the one-line subject DN. */
const char *pkl_lint_label(X509 *cert, char *buf, size_t len);

/* Whether cert is self-issued and its signature verifies with its own key. */
int pkl_lint_self_signed(X509 *cert);

/* L1-L18 and X1-X3, X5, X6 over one certificate. PKL_OK unless out of memory. */
enum pkl_rc pkl_lint_cert(X509 *cert, const struct pkl_lint_opts *o, struct pkl_report *r,
			  struct pkl_err *err);

/* X4: chain length (leaf first, anchor included) and total DER size that IKE
 * carries in CERT payloads (all but the anchor). */
void pkl_lint_chain(X509 *const *certs, size_t n, int show_ok, struct pkl_report *r);

struct pkl_lint_crl_opts {
	X509 *issuer;                /* optional: X7 (issuer DN, AKI, IDP) */
	const char *const *cdp_uris; /* optional: the URIs of the CDP the CRL was fetched for (X7 IDP) */
	size_t n_cdp;
	pkl_time now; /* 0: X8 freshness not checked */
	int show_ok;
};

/* L19, L20, X7, X8 over a DER CRL. `label` names it in findings (a URL or
 * path). A CRL that does not parse is one crl.parse failure. */
enum pkl_rc pkl_lint_crl(const unsigned char *der, size_t len, const char *label,
			 const struct pkl_lint_crl_opts *o, struct pkl_report *r, struct pkl_err *err);

/* X9: a PKCS#12 file's protection profile against the targets (Windows
 * before Server 2019 and Apple need 3DES/SHA-1 MAC). */
void pkl_lint_p12(const unsigned char *der, size_t len, const char *label, unsigned platforms, int show_ok,
		  struct pkl_report *r);

#endif
