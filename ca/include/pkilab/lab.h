/*
 * Lab files and templates (libconfig syntax).
 *
 * A template is a certificate profile; a lab file names the lab, its PKI
 * directory, its CDP bases and its entities (CAs and end-entity certificates),
 * each from a template with any setting overridden. Loading resolves every
 * entity into a pkl_entity whose profile is final (template + overrides) and
 * whose times are absolute, and validates the whole lab: unknown settings,
 * wrong types, impossible values and hierarchy violations are PKL_EINPUT
 * errors naming file:line and the setting.
 */
#ifndef PKILAB_LAB_H
#define PKILAB_LAB_H

#include <limits.h>
#include "cert.h"
#include "key.h"
#include "ptime.h"

#define PKL_NAME_MAX 64
#define PKL_MAX_SANS 16
#define PKL_MAX_EKU  12
#define PKL_MAX_CDP  8
#define PKL_URI_MAX  256

enum pkl_role {
	PKL_ROLE_ROOT = 1,
	PKL_ROLE_INTERMEDIATE,
	PKL_ROLE_LEAF
};

/* A resolved certificate profile: a template with an entity's overrides applied. */
struct pkl_profile {
	char template_name[PKL_NAME_MAX];
	char description[256];
	enum pkl_role role;
	struct pkl_key_spec key;
	int64_t validity;          /* seconds, from notBefore */
	int64_t max_validity;      /* 0: unlimited (ipsec-gateway: 825 d, Apple) */
	int64_t backdate;          /* notBefore = issue time - backdate (clock drift allowance) */
	int path_len;              /* -1: no pathLenConstraint */
	unsigned key_usage;        /* PKL_KU_* */
	int rsa_key_encipherment;  /* add keyEncipherment when the key is RSA */
	char eku[PKL_MAX_EKU][64]; /* dotted OIDs */
	size_t n_eku;
	int san_required;
	int ip_as_dns;        /* IP SANs also written as dNSName (Windows) */
	int cdp;              /* include CRL distribution points */
	int aia;              /* include AIA caIssuers */
	int64_t crl_lifetime; /* CAs: nextUpdate - thisUpdate of their CRLs */
	int encrypt_key;      /* store the private key encrypted (PKCS#8 AES-256) */
	int outlive_issuer;   /* allow notAfter beyond the issuer's (broken labs) */
};

struct pkl_entity {
	char name[PKL_NAME_MAX];
	char issuer[PKL_NAME_MAX]; /* "" for a root */
	char subject[512];
	struct pkl_san sans[PKL_MAX_SANS];
	size_t n_sans;
	pkl_time not_before; /* resolved, backdate already applied */
	pkl_time not_after;
	struct pkl_profile prof;
	char where[PATH_MAX + 16]; /* "lab.cfg:12" of the entry */
	int is_ca;
	size_t depth; /* 0 root, 1 intermediate under it, ... */
};

struct pkl_lab {
	char name[PKL_NAME_MAX];
	char path[PATH_MAX];                /* the lab file */
	char pki_dir[PATH_MAX];             /* resolved against the lab file's directory */
	char cdp[PKL_MAX_CDP][PKL_URI_MAX]; /* base URLs, priority order, no trailing '/' */
	size_t n_cdp;
	int cdp_point_per_uri;   /* lab setting cdp_layout = "point-per-uri" */
	pkl_time now;            /* the moment relative times were resolved against */
	struct pkl_entity *ents; /* issuers before the entities they sign */
	size_t n_ents;
};

/* Loads and validates a lab file. Templates are looked up in the search list
 * of pkl_template_dirs_init (lab_templates: the lab's `templates` setting;
 * templates_dir: the caller's extra directory, NULL for none). Caller frees
 * with pkl_lab_free. */
struct pkl_lab *pkl_lab_load(const char *path, pkl_time now, const char *templates_dir, struct pkl_err *err);
void pkl_lab_free(struct pkl_lab *lab);
const struct pkl_entity *pkl_lab_find(const struct pkl_lab *lab, const char *name);

/* Where templates are searched, in order, as data: the not-found error lists
 * exactly these directories. */
#define PKL_TEMPLATE_DIRS_MAX 8
struct pkl_template_dirs {
	char dir[PKL_TEMPLATE_DIRS_MAX][PATH_MAX];
	size_t n;
};

/* Fills the search list: lab_templates (the lab's `templates` setting, or
 * NULL), lab_dir and lab_dir/templates (lab_dir may be NULL), templates_dir
 * (NULL: none), <prefix>/share/pkilab/templates beside the running binary,
 * the directory compiled in, <checkout>/templates. Repeats are dropped. */
void pkl_template_dirs_init(struct pkl_template_dirs *d, const char *lab_templates, const char *lab_dir,
			    const char *templates_dir);

/* Loads one template by name from the search list of (lab_dir, templates_dir). */
enum pkl_rc pkl_template_load(const char *name, const char *lab_dir, const char *templates_dir,
			      struct pkl_profile *out, struct pkl_err *err);

/* The first <dir>/<name>.cfg of dirs that exists; PKL_EINPUT naming every
 * directory searched if none does. */
enum pkl_rc pkl_template_find(const char *name, const struct pkl_template_dirs *dirs, char *out,
			      size_t outlen, struct pkl_err *err);

/* The settings of each scope, from the tables that drive parsing: name i of
 * the scope, NULL past the last (the documentation check walks them). */
enum pkl_lab_scope {
	PKL_LAB_SCOPE_PROFILE, /* a template, or an entry's overrides */
	PKL_LAB_SCOPE_ENTRY,   /* only a lab entry (name, template, issuer, ...) */
	PKL_LAB_SCOPE_LAB,     /* the lab group */
	PKL_LAB_SCOPE_TOP,     /* the top level of a lab file */
};
const char *pkl_lab_setting_name(enum pkl_lab_scope scope, size_t i);

/* Builds the issuance request fields that derive from a profile: KU (with
 * keyEncipherment for RSA when asked), EKU list, CA flags. Pointers in req
 * point into prof/ent, which must outlive req. */
void pkl_profile_apply(const struct pkl_profile *prof, const struct pkl_key_spec *key,
		       struct pkl_cert_req *req, const char **eku_ptrs);

/* Names of entities and templates: letters, digits, '.', '-', '_', at most
 * PKL_NAME_MAX - 1, not starting with '.' or '-' (they become file names). */
int pkl_lab_name_valid(const char *name);

/* The closest of `names` to `word` by edit distance (<= 3), or NULL. */
const char *pkl_suggest(const char *word, const char *const *names);
/* The same as a message fragment: " (did you mean 'x'?)", or "" when no name
 * is close. Writes into buf (20 bytes plus the longest name fit) and
 * returns it, so it can be passed straight to a "%s". */
const char *pkl_suggest_hint(const char *word, const char *const *names, char *buf, size_t len);

#endif
