/*
 * Issuing one entity into a PKI inside a transaction: key, certificate,
 * database row, key/cert/chain files and, for a CA, its CA state, its AIA
 * file and an initial empty CRL. Shared by build, issue and renew.
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
	pkl_time now;               /* issue time (CRL thisUpdate is derived from it) */
	struct pkl_issue_cache *cache; /* NULL, or from pkl_issue_cache_new(): issuers'
					  rows and chains, for many issues in one
					  transaction */
};

/* A cache of issuer rows and chain PEMs, valid within one transaction
 * (issuers do not change while it is open). Freed with pkl_issue_cache_free. */
struct pkl_issue_cache *pkl_issue_cache_new(void);
void pkl_issue_cache_free(struct pkl_issue_cache *cache);

/* The lab's publication settings, as recorded in the PKI by `pkilab build`
 * (so `issue` and `renew` stamp the same CDP/AIA URLs). */
enum pkl_rc pkl_issue_ctx_save(struct pkl_pki *pki, const struct pkl_issue_ctx *ctx, struct pkl_err *err);
enum pkl_rc pkl_issue_ctx_load(struct pkl_pki *pki, struct pkl_issue_ctx *ctx, struct pkl_err *err);

/* Issues e. issuer/issuer_key are NULL for a root. subject_key: NULL to
 * generate one from e->prof.key, or a given key (borrowed): a pre-generated
 * one (store_key 1: its private key file is written) or a CSR's public key
 * (store_key 0: no key file). On success *out_cert, and *out_key when
 * out_key is not NULL, are new references the caller frees. */
enum pkl_rc pkl_issue_entity(struct pkl_txn *txn, struct pkl_pki *pki, const struct pkl_issue_ctx *ctx,
			     const struct pkl_entity *e, X509 *issuer, EVP_PKEY *issuer_key,
			     EVP_PKEY *subject_key, int store_key, X509 **out_cert,
			     EVP_PKEY **out_key, struct pkl_err *err);

/* The initial (or any) empty-or-not CRL number for `now`: milliseconds since
 * the epoch, so numbers grow with time even across database restores. */
void pkl_crl_number_from_time(pkl_time now_s, unsigned char out[8]);

#endif
