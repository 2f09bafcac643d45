/*
 * Issuance, in one place: the policy every certificate passes before it is
 * signed (build, issue, renew), the engine that issues one entity into a PKI
 * inside a transaction (key, certificate, database row, key/cert/chain files
 * and, for a CA, its CA state, its AIA file and an initial empty CRL), and
 * the two verbs behind `pkilab issue` and `pkilab renew` (lib/issue.c,
 * lib/renew.c).
 */
#ifndef PKILAB_ISSUE_H
#define PKILAB_ISSUE_H

#include "lab.h"
#include "pki.h"

struct pkl_issue_cache;

struct pkl_issue_ctx {
	char cdp[PKL_MAX_CDP][PKL_URI_MAX]; /* CDP/AIA bases (lab order) */
	size_t n_cdp;
	int cdp_point_per_uri;
	pkl_time now;                  /* issue time (CRL thisUpdate is derived from it) */
	struct pkl_issue_cache *cache; /* NULL, or from pkl_issue_cache_new(): issuers'
					  rows and chains, for many issues in one
					  transaction */
	const char *origin;            /* recorded with each certificate (db.h
					  PKL_ORIGIN_*); NULL: "" */
};

/* A cache of issuer rows and chain PEMs, valid within one transaction
 * (issuers do not change while it is open). Freed with pkl_issue_cache_free. */
struct pkl_issue_cache *pkl_issue_cache_new(void);
void pkl_issue_cache_free(struct pkl_issue_cache *cache);

/* The lab's publication settings, as recorded in the PKI by `pkilab build`
 * (so `issue` and `renew` stamp the same CDP/AIA URLs). */
enum pkl_rc pkl_issue_ctx_save(struct pkl_pki *pki, const struct pkl_issue_ctx *ctx, struct pkl_err *err);
enum pkl_rc pkl_issue_ctx_load(struct pkl_pki *pki, struct pkl_issue_ctx *ctx, struct pkl_err *err);

/* The URL a certificate issued by the CA named issuer points at on one base
 * of the lab's `cdp` list: its CRL (aia 0: base/crl/ISSUER.crl, RFC 5280
 * §4.2.1.13) or its certificate (aia 1: base/aia/ISSUER.crt, caIssuers,
 * RFC 5280 §4.2.2.1). pkl_issue_entity writes these; build compares them. */
void pkl_issue_url(char *buf, size_t len, const char *base, int aia, const char *issuer);

/* Issues e. issuer/issuer_key are NULL for a root. subject_key: NULL to
 * generate one from e->prof.key, or a given key (borrowed): a pre-generated
 * one (store_key 1: its private key file is written) or a CSR's public key
 * (store_key 0: no key file). On success *out_cert, and *out_key when
 * out_key is not NULL, are new references the caller frees. */
enum pkl_rc pkl_issue_entity(struct pkl_txn *txn, struct pkl_pki *pki, const struct pkl_issue_ctx *ctx,
			     const struct pkl_entity *e, X509 *issuer, EVP_PKEY *issuer_key,
			     EVP_PKEY *subject_key, int store_key, X509 **out_cert, EVP_PKEY **out_key,
			     struct pkl_err *err);

/* The words a refusal of the issuance policy uses, so that it names what its
 * reader can change: a lab file's entry and settings, or a command's options. */
struct pkl_issue_words {
	const char *where;          /* location of the entity: its lab line ("lab.cfg:12"), or NULL */
	const char *validity_where; /* location of its validity: the lab line, or "--validity" */
	const char *label;          /* the entity as its reader wrote it: "certs.gw", or "gw" */
	const char *san_fix;        /* how to give it the SAN its template requires */
	const char *outlive_fix;    /* how to keep it within its issuer's lifetime (or allow it not to) */
};

/* The issuance policy, checked for every certificate before it is signed: by
 * `pkilab build` for each lab entry below a root, by `issue` and by `renew`.
 * In this order:
 * - an end-entity whose template says san_required has a SAN: IKE peers match
 *   the identity against it (RFC 4945 section 3.1; Apple requires a SAN
 *   matching the server's IKEv2 identity since iOS 13, HT210176);
 * - notAfter - notBefore is at most the template's max_validity (0: no limit;
 *   825 days for Apple clients, HT210176): equal is allowed;
 * - notAfter is not beyond issuer_not_after, the notAfter of e->issuer, unless
 *   e->prof.outlive_issuer: RFC 5280 does not forbid it, but a path is only
 *   valid while every certificate in it is (RFC 5280 section 6.1.3 (a)(2)), so
 *   an expiring issuer silently cuts the child's lifetime. Not checked for a
 *   root (e->issuer is "").
 * PKL_EINPUT naming w's locations and fixes on the first rule broken. */
enum pkl_rc pkl_issue_check_policy(const struct pkl_entity *e, pkl_time issuer_not_after,
				   const struct pkl_issue_words *w, struct pkl_err *err);

/* notBefore and notAfter of e, for a lab entry and for issue and renew
 * alike: notBefore = *not_before, or now - the profile's backdate; notAfter =
 * *not_after, or notBefore + the profile's validity. NULL: not given. The
 * caller refuses notAfter <= notBefore in its own words. */
void pkl_issue_window(struct pkl_entity *e, pkl_time now, const pkl_time *not_before,
		      const pkl_time *not_after);

/* notBefore and notAfter of e from its profile, relative to now, as a lab
 * entry's are (lab.c): notBefore = now - backdate, unless not_before (an
 * absolute or relative time, as typed) is given; notAfter = notBefore +
 * validity, unless not_after is given. validity (a duration as typed, NULL
 * for the template's) replaces e->prof.validity. Refusals name the options
 * --validity, --not-before and --not-after. */
enum pkl_rc pkl_issue_times(struct pkl_entity *e, pkl_time now, const char *validity, const char *not_before,
			    const char *not_after, struct pkl_err *err);

/* `pkilab issue`: one certificate from a template into an existing PKI, with
 * a key generated here or for the public key of an external PKCS#10 request
 * (its signature is checked, its key must pass the key policy and must not be
 * a CA's; its requested extensions are ignored: the template decides). */
struct pkl_issue_opts {
	const char *ca;            /* the issuing CA, a name in the PKI */
	const char *template_name; /* an end-entity or intermediate template */
	const char *name;          /* the new certificate's name in the PKI */
	const char *subject;       /* DN; NULL: the request's */
	const char *const *sans;   /* as typed: "DNS:x", "IP:x", "email:x", "URI:x" or bare */
	size_t n_sans;
	const char *csr_path;      /* NULL: generate a key (from the template) */
	const char *validity;      /* NULL: the template's */
	const char *templates_dir; /* searched for the template (pkl_template_dirs_init); NULL: none */
	const char *not_before;    /* NULL: now - backdate */
	const char *not_after;     /* NULL: notBefore + validity */
	int outlive_issuer;        /* allow notAfter beyond the issuer's */
};

struct pkl_issue_result {
	char name[PKL_NAME_MAX];
	char issuer[PKL_NAME_MAX];
	char serial[41]; /* lowercase hex */
	char subject[512];
	pkl_time not_after;
};

/* Opens the PKI in pki_dir, checks everything (template, name, SANs, request,
 * issuer, policy), then issues in one transaction. *out is written on success
 * only. */
enum pkl_rc pkl_issue(const char *pki_dir, const struct pkl_issue_opts *o, struct pkl_issue_result *out,
		      struct pkl_err *err);

/* `pkilab renew`: a new certificate for the same name, subject, SANs,
 * template and issuer as the current one (lib/renew.c). */
struct pkl_renew_opts {
	const char *ref;           /* NAME, or the serial ("0x..") of the current certificate */
	int reuse_key;             /* keep the current private key (default: a new one) */
	int revoke_old;            /* revoke the old certificate as superseded */
	const char *validity;      /* NULL: the template's */
	const char *templates_dir; /* searched for the template (pkl_template_dirs_init); NULL: none */
	/* Not NULL (renew --lab): the subject, SANs, key type, template and
	 * issuer come from this lab's entry of the same name, as `build --apply`
	 * would issue it, not from the current certificate. The PKI must have
	 * been built from this lab (build.h, "One PKI, one lab"). */
	const struct pkl_lab *lab;
};

struct pkl_renew_result {
	char name[PKL_NAME_MAX];
	char issuer[PKL_NAME_MAX];
	char serial[41]; /* the new certificate's, lowercase hex */
	char old_serial[41];
	int new_key;     /* !reuse_key */
	int old_revoked; /* revoke_old was asked (the old one is revoked now) */
	pkl_time not_after;
};

/* Renews o->ref in the PKI in pki_dir. The old row stays as superseded
 * history; retiring it, revoking it (revoke_old), the new row, the key,
 * certificate and chain files are one transaction. CAs are refused (their
 * CRL and everything they signed depend on them), and so is reusing a key
 * revoked for keyCompromise. *out is written on success only. */
enum pkl_rc pkl_renew(const char *pki_dir, const struct pkl_renew_opts *o, struct pkl_renew_result *out,
		      struct pkl_err *err);

#endif
