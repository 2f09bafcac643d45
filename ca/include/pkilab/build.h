/*
 * Building the PKI a lab describes (`pkilab build`), in two steps:
 *
 *   plan   compares the lab with the PKI: every entry is either kept (it is
 *          recorded already; every field in which its issued certificate
 *          differs from what the lab says today is listed, pkl_build_diff)
 *          or to be issued; certificates the lab no longer has are orphans.
 *          A kept entry that differs is drift (README "Drift"). Asked to
 *          apply changes (opts->apply_changes, `build --apply`), an
 *          end-entity that differs is to be re-issued instead, and a CA that
 *          differs refuses the plan (changing a CA is a rollover). Planning
 *          writes nothing, so a plan alone is a dry run.
 *   apply  carries the plan out all-or-nothing: keys are generated first
 *          (keygen.h), then everything is issued, re-issued and revoked, and
 *          the CRLs concerned re-signed, in one transaction. A new PKI is
 *          built in a staging directory "<dir>.new-<pid>-XXXXXX" beside it
 *          and renamed into place, so a failure or a kill leaves no PKI at
 *          all and success appears at once; staging directories of killed
 *          builds are swept. An existing PKI changes in a single transaction
 *          (pki.h): a kill leaves it as before or as after, never between.
 *
 * One PKI, one lab: the database records the name of the lab that built it
 * (meta PKL_BUILD_META_LAB_NAME) and its lab file's absolute path
 * (PKL_BUILD_META_LAB_PATH, for messages), written by every apply. Planning
 * a lab of another name into a PKI is refused; a PKI without the record
 * (built by an earlier pkilab) is adopted by its next build.
 *
 * The library prints nothing: the command walks the items to report.
 */
#ifndef PKILAB_BUILD_H
#define PKILAB_BUILD_H

#include <stddef.h>

#include "crl_publish.h"
#include "db.h"
#include "lab.h"

#include <openssl/x509.h>

enum pkl_build_action {
	PKL_BUILD_ISSUE = 1, /* not in the PKI: issued by pkl_build_apply */
	PKL_BUILD_KEEP,      /* already in the PKI: left as it is */
	PKL_BUILD_REISSUE,   /* an end-entity that differs from the lab, with
				apply_changes: re-issued with a new key, the one it
				replaces revoked (superseded) */
};

/* One field in which an issued certificate differs from its lab entry
 * (README "Drift"). Scalar fields (key, ca, path_len, not_before, validity,
 * template, issuer, subject, cdp_layout) have was/now; list fields (san,
 * eku, key_usage, critical, cdp, aia) have the values the lab adds and the
 * certificate has that the lab dropped, space-separated in certificate text
 * ("IP:192.0.2.10", dotted OIDs, keyUsage names, extension short names,
 * URLs). One slot per field pkl_build_diff compares. */
#define PKL_BUILD_MAX_CHANGES 15
struct pkl_build_change {
	char field[16];
	int list;           /* 1: added/removed; 0: was/now */
	char was[512];      /* what the issued certificate says */
	char now[512];      /* what the lab says today */
	char added[1024];   /* in the lab, not in the certificate */
	char removed[1024]; /* in the certificate, not in the lab */
};

struct pkl_build_item {
	const struct pkl_entity *e; /* the lab entry (borrowed from the lab) */
	enum pkl_build_action action;
	struct pkl_cert_row row;                                /* KEEP: the PKI's record; ISSUE: zero until
					 applied, then the new record */
	char differs[128];                                      /* KEEP: the changed fields' names, each
					 followed by a space ("san key "); "" none */
	struct pkl_build_change changes[PKL_BUILD_MAX_CHANGES]; /* KEEP, REISSUE: the fields that differ */
	size_t n_changes;
	char old_serial[41]; /* REISSUE: the serial of the certificate it replaces */
};

struct pkl_build_opts {
	const char *pki_dir;   /* NULL: the lab's `pki` directory */
	size_t keygen_threads; /* 0: one per online CPU (keygen.h) */
	int apply_changes;     /* re-issue end-entities that differ (REISSUE); a CA
				  that differs is refused when planning */
	int revoke_orphans;    /* revoke the orphans (cessationOfOperation) */
};

/* The meta keys of the lab a PKI was built from (db.h pkl_db_meta_get). */
#define PKL_BUILD_META_LAB_NAME "lab_name"
#define PKL_BUILD_META_LAB_PATH "lab_path"

struct pkl_build_plan;

/* Plans building lab into the PKI directory. PKL_EINPUT when the directory
 * exists, is not empty and holds no pkilab.db (only an empty directory is
 * replaced by the rename), when the PKI was built from a lab of another
 * name (the message names both labs, err->where the PKI directory), and
 * when a lab entry has no record but files of the layout
 * (pkl_pki_check_unrecorded: never overwritten). lab must outlive the plan.
 * Free with pkl_build_plan_free. */
struct pkl_build_plan *pkl_build_plan_new(const struct pkl_lab *lab, const struct pkl_build_opts *opts,
					  struct pkl_err *err);
void pkl_build_plan_free(struct pkl_build_plan *plan);

/* The PKI directory the plan builds (opts->pki_dir or the lab's). */
const char *pkl_build_plan_pki_dir(const struct pkl_build_plan *plan);
/* 1 when the plan creates a new PKI (no pkilab.db yet). */
int pkl_build_plan_fresh(const struct pkl_build_plan *plan);
/* The items, one per lab entry, in lab order (issuers first). */
size_t pkl_build_plan_count(const struct pkl_build_plan *plan);
const struct pkl_build_item *pkl_build_plan_item(const struct pkl_build_plan *plan, size_t i);
/* How many items are planned for action. */
size_t pkl_build_plan_n(const struct pkl_build_plan *plan, enum pkl_build_action action);

/* Compares what the certificate cert (recorded as row) says with what the
 * lab entry e would give it today, field by field: subject (as DER, RFC
 * 5280 §7.1), SANs (with ip_as_dns), key spec (from the public key), EKU
 * OIDs, keyUsage (with rsa_key_encipherment), basicConstraints cA and
 * pathLenConstraint, each extension's criticality, notBefore (backdate or
 * not_before, against the record's issue time) and validity length
 * (notAfter - notBefore; an absolute time that did not move is no change),
 * template and issuer (the record), and for a certificate below a CA the
 * CRL distribution point and AIA caIssuers URLs the lab's `cdp` list gives
 * (RFC 5280 §4.2.1.13, §4.2.2.1) and the cdp_layout. Fills it->changes,
 * it->n_changes and it->differs. */
enum pkl_rc pkl_build_diff(const struct pkl_lab *lab, const struct pkl_entity *e,
			   const struct pkl_cert_row *row, X509 *cert, struct pkl_build_item *it,
			   struct pkl_err *err);

/* The names of the PKI's current, unrevoked certificates issued by a build
 * that the lab no longer has (orphans), in issue order; 0 for a fresh PKI.
 * Certificates from `pkilab issue` are never orphans (db.h origin). */
size_t pkl_build_plan_n_orphans(const struct pkl_build_plan *plan);
const char *pkl_build_plan_orphan(const struct pkl_build_plan *plan, size_t i);
/* 1 when orphan i has no recorded origin (a record from before pkilab.db
 * schema 3): it may be a `pkilab issue` certificate, so it is reported, but
 * neither drift nor revoked by revoke_orphans. */
int pkl_build_plan_orphan_unknown(const struct pkl_build_plan *plan, size_t i);
/* 1 when the PKI has drifted from the lab: a kept entry differs (a REISSUE
 * item is a difference being applied, not drift), or an orphan of known
 * origin is not being revoked (README "Drift"). */
int pkl_build_plan_drifted(const struct pkl_build_plan *plan);
/* 1 when the plan revokes orphans (opts->revoke_orphans and any of known
 * origin); how many it revokes. */
int pkl_build_plan_revokes_orphans(const struct pkl_build_plan *plan);
size_t pkl_build_plan_n_revoked_orphans(const struct pkl_build_plan *plan);

/* Applies the plan (see the top of this file): issues every ISSUE item;
 * re-issues every REISSUE item, retiring and revoking (superseded) the
 * certificate it replaces; revokes the orphans when asked
 * (cessationOfOperation); and re-signs the CRL of every CA that revoked
 * something, all in one transaction (RFC 5280 §5.3.1 reason codes). On
 * success the rows hold the new records. Once per plan (PKL_EINPUT on a
 * second call). On failure nothing is changed: no new PKI, or the existing
 * one as it was. */
enum pkl_rc pkl_build_apply(struct pkl_build_plan *plan, struct pkl_err *err);

/* The CRLs the apply re-signed, in CA issue order. */
size_t pkl_build_plan_n_crls(const struct pkl_build_plan *plan);
const struct pkl_crl_info *pkl_build_plan_crl(const struct pkl_build_plan *plan, size_t i);

#endif
