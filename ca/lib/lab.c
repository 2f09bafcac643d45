/*
 * Lab files and templates: parsing (libconfig), resolution and validation.
 *
 * A template is a flat list of profile settings; a lab entry starts from its
 * template and may override any of them. Every setting is checked for its
 * name (with a suggestion for a misspelling), its type and its value, and the
 * resolved hierarchy is validated as a whole (issuers exist, no cycles, roles
 * fit, children do not outlive issuers, path lengths hold). Every error names
 * the file and line of the setting at fault.
 */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "pkilab/file.h"
#include "pkilab/issue.h"
#include "pkilab/lab.h"
#include "pkilab/name.h"

#ifndef PKL_TEMPLATE_DIR
#define PKL_TEMPLATE_DIR "/usr/local/share/pkilab/templates"
#endif

/* ---- settings vocabulary ---------------------------------------------- */

/* One table per scope (a template or an entry's overrides, a lab entry, the
 * lab group, the file's top level), in the manner of cdp-server/config.c:
 * each row gives the name, the type, where the value goes (profile settings)
 * and the accepted range. The tables drive parsing, the unknown-setting error
 * with its suggestion, and the documentation check (pkl_lab_setting_name). */
enum set_kind {
	K_STR,
	K_BOOL,
	K_INT,
	K_DUR,
	K_LIST
};

/* A setting with its own syntax (role, key, usages): writes *p or refuses. */
typedef enum pkl_rc (*set_parse_fn)(struct pkl_profile *p, const config_setting_t *s, const char *str,
				    const char *ctx, const char *where, struct pkl_err *err);

struct set_def {
	const char *name;
	enum set_kind kind;
	size_t off;         /* profile settings: the field in struct pkl_profile */
	size_t size;        /* K_STR: the field's size */
	long long min, max; /* K_INT, K_DUR: accepted range, inclusive */
	const char *range;  /* out of range: "must ..." after the context, or the reason after "is V: " */
	set_parse_fn parse; /* non-NULL: the setting's own syntax */
	const char *help;
};

#define NO_FIELD 0
#define NO_MIN   LLONG_MIN
#define NO_MAX   LLONG_MAX
#define FIELD(f) offsetof(struct pkl_profile, f), sizeof(((struct pkl_profile *)0)->f)

static enum pkl_rc parse_role(struct pkl_profile *p, const config_setting_t *s, const char *str,
			      const char *ctx, const char *where, struct pkl_err *err);
static enum pkl_rc parse_key(struct pkl_profile *p, const config_setting_t *s, const char *str,
			     const char *ctx, const char *where, struct pkl_err *err);
static enum pkl_rc parse_ku(struct pkl_profile *p, const config_setting_t *s, const char *str,
			    const char *ctx, const char *where, struct pkl_err *err);
static enum pkl_rc parse_eku(struct pkl_profile *p, const config_setting_t *s, const char *str,
			     const char *ctx, const char *where, struct pkl_err *err);

/* Profile settings: allowed in templates and, as overrides, in lab entries. */
static const struct set_def profile_defs[] = {
	{ "description", K_STR, FIELD(description), 0, 0, NULL, NULL, "what the template is for" },
	{ "role", K_STR, FIELD(role), 0, 0, NULL, parse_role, "root, intermediate or end-entity" },
	{ "key", K_STR, FIELD(key), 0, 0, NULL, parse_key, "key type and size: rsa:2048, ec:P-256, ..." },
	{ "validity", K_DUR, FIELD(validity), 1, NO_MAX, "must be positive", NULL,
	  "validity window from the back-dated notBefore" },
	{ "max_validity", K_DUR, FIELD(max_validity), NO_MIN, NO_MAX, NULL, NULL,
	  "longest validity allowed" },
	{ "backdate", K_DUR, FIELD(backdate), NO_MIN, 7LL * 86400,
	  "more than 7 days is not a clock-drift allowance", NULL, "notBefore = issue time - backdate" },
	{ "path_len", K_INT, FIELD(path_len), -1, 16, "expected -1 (none) or 0..16", NULL,
	  "pathLenConstraint of a CA" },
	{ "key_usage", K_LIST, FIELD(key_usage), 0, 0, NULL, parse_ku, "key usage names" },
	{ "rsa_key_encipherment", K_BOOL, FIELD(rsa_key_encipherment), 0, 0, NULL, NULL,
	  "add keyEncipherment when the key is RSA" },
	{ "extended_key_usage", K_LIST, FIELD(eku), 0, 0, NULL, parse_eku, "EKU names or dotted OIDs" },
	{ "san_required", K_BOOL, FIELD(san_required), 0, 0, NULL, NULL, "a SAN is mandatory" },
	{ "ip_as_dns", K_BOOL, FIELD(ip_as_dns), 0, 0, NULL, NULL, "IP SANs also written as dNSName" },
	{ "cdp", K_BOOL, FIELD(cdp), 0, 0, NULL, NULL, "include CRL distribution points" },
	{ "aia", K_BOOL, FIELD(aia), 0, 0, NULL, NULL, "include AIA caIssuers" },
	{ "crl_lifetime", K_DUR, FIELD(crl_lifetime), 60, NO_MAX, "must be at least 1m", NULL,
	  "CAs: nextUpdate - thisUpdate of their CRLs" },
	{ "encrypt_key", K_BOOL, FIELD(encrypt_key), 0, 0, NULL, NULL, "store the private key encrypted" },
	{ "outlive_issuer", K_BOOL, FIELD(outlive_issuer), 0, 0, NULL, NULL,
	  "allow notAfter beyond the issuer's" },
};
#define N_PROFILE_DEFS (sizeof(profile_defs) / sizeof(profile_defs[0]))

/* Settings only a lab entry has (parse_entity reads them). */
static const struct set_def entity_defs[] = {
	{ "name", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "the entity's name in the PKI" },
	{ "template", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "the template it starts from" },
	{ "issuer", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "a CA of the lab; none for a root" },
	{ "subject", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "the subject DN" },
	{ "san", K_LIST, NO_FIELD, 0, 0, 0, NULL, NULL, "subjectAltName entries" },
	{ "not_before", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "absolute or relative time" },
	{ "not_after", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "absolute or relative time" },
};
#define N_ENTITY_DEFS (sizeof(entity_defs) / sizeof(entity_defs[0]))

/* The lab group (parse_lab_group reads them). */
static const struct set_def lab_defs[] = {
	{ "name", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "the lab's name" },
	{ "pki", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "the PKI directory, relative to the lab file" },
	{ "cdp", K_LIST, NO_FIELD, 0, 0, 0, NULL, NULL, "CDP/AIA base URLs, in priority order" },
	{ "cdp_layout", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "one-point or point-per-uri" },
	{ "templates", K_STR, NO_FIELD, 0, 0, 0, NULL, NULL, "a directory searched first for templates" },
};
#define N_LAB_DEFS (sizeof(lab_defs) / sizeof(lab_defs[0]))

/* The top level of a lab file. */
static const struct set_def top_defs[] = {
	{ "lab", K_LIST, NO_FIELD, 0, 0, 0, NULL, NULL, "the lab group" },
	{ "cas", K_LIST, NO_FIELD, 0, 0, 0, NULL, NULL, "the CAs" },
	{ "certs", K_LIST, NO_FIELD, 0, 0, 0, NULL, NULL, "the end-entity certificates" },
};
#define N_TOP_DEFS (sizeof(top_defs) / sizeof(top_defs[0]))

static const struct set_def *scope_defs(enum pkl_lab_scope scope, size_t *n)
{
	switch (scope) {
	case PKL_LAB_SCOPE_PROFILE: *n = N_PROFILE_DEFS; return profile_defs;
	case PKL_LAB_SCOPE_ENTRY: *n = N_ENTITY_DEFS; return entity_defs;
	case PKL_LAB_SCOPE_LAB: *n = N_LAB_DEFS; return lab_defs;
	case PKL_LAB_SCOPE_TOP: *n = N_TOP_DEFS; return top_defs;
	}
	*n = 0;
	return NULL;
}

const char *pkl_lab_setting_name(enum pkl_lab_scope scope, size_t i)
{
	size_t n;
	const struct set_def *defs = scope_defs(scope, &n);

	return i < n ? defs[i].name : NULL;
}

static const struct set_def *find_def(const struct set_def *defs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(defs[i].name, name))
			return &defs[i];
	return NULL;
}

/* " (did you mean 'x'?)" against the names of one or two tables, or "". */
static const char *suggest_in(const char *word, const struct set_def *a, size_t na, const struct set_def *b,
			      size_t nb, char *buf, size_t len)
{
	const char *names[N_PROFILE_DEFS + N_ENTITY_DEFS + 1];
	size_t k = 0;

	for (size_t i = 0; i < na && k < N_PROFILE_DEFS + N_ENTITY_DEFS; i++)
		names[k++] = a[i].name;
	for (size_t i = 0; i < nb && k < N_PROFILE_DEFS + N_ENTITY_DEFS; i++)
		names[k++] = b[i].name;
	names[k] = NULL;
	return pkl_suggest_hint(word, names, buf, len);
}

/* "file:line" of a setting (libconfig tracks both). */
static const char *loc(const config_setting_t *s, const char *fallback_file, char *buf, size_t len)
{
	const char *f = config_setting_source_file(s);
	unsigned line = config_setting_source_line(s);

	if (!f)
		f = fallback_file;
	if (line)
		snprintf(buf, len, "%s:%u", f, line);
	else
		snprintf(buf, len, "%s", f);
	return buf;
}

static const char *kind_hint(enum set_kind k)
{
	switch (k) {
	case K_STR: return "a string";
	case K_BOOL: return "true or false";
	case K_INT: return "an integer";
	case K_DUR: return "a duration string like \"397d\"";
	case K_LIST: return "a list of strings like [ \"a\", \"b\" ]";
	}
	return "?";
}

static int type_ok(const config_setting_t *s, enum set_kind k)
{
	int t = config_setting_type(s);

	switch (k) {
	case K_STR:
	case K_DUR: return t == CONFIG_TYPE_STRING;
	case K_BOOL: return t == CONFIG_TYPE_BOOL;
	case K_INT: return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
	case K_LIST: {
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
			return 0;
		for (int i = 0; i < config_setting_length(s); i++)
			if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) !=
			    CONFIG_TYPE_STRING)
				return 0;
		return 1;
	}
	}
	return 0;
}

/* ---- profile settings --------------------------------------------------- */

static enum pkl_rc parse_role(struct pkl_profile *p, const config_setting_t *s, const char *str,
			      const char *ctx, const char *where, struct pkl_err *err)
{
	if (!strcmp(str, "root"))
		p->role = PKL_ROLE_ROOT;
	else if (!strcmp(str, "intermediate"))
		p->role = PKL_ROLE_INTERMEDIATE;
	else if (!strcmp(str, "end-entity") || !strcmp(str, "leaf"))
		p->role = PKL_ROLE_LEAF;
	else
		return pkl_err_set(err, PKL_EINPUT, where,
				   "role '%s' in %s: expected \"root\", \"intermediate\" or \"end-entity\"",
				   str, ctx);
	return PKL_OK;
}

static enum pkl_rc parse_key(struct pkl_profile *p, const config_setting_t *s, const char *str,
			     const char *ctx, const char *where, struct pkl_err *err)
{
	struct pkl_err sub = { 0 };

	if (pkl_key_spec_parse(str, &p->key, &sub) != PKL_OK)
		return pkl_err_set(err, PKL_EINPUT, where, "key in %s: %s", ctx, sub.msg);
	return PKL_OK;
}

static enum pkl_rc parse_ku(struct pkl_profile *p, const config_setting_t *s, const char *str,
			    const char *ctx, const char *where, struct pkl_err *err)
{
	unsigned ku = 0;

	for (int i = 0; i < config_setting_length(s); i++) {
		const char *n = config_setting_get_string_elem(s, i);
		unsigned bit = pkl_ku_from_name(n);
		if (!bit) {
			char hint[160];

			return pkl_err_set(err, PKL_EINPUT, where, "unknown key usage '%s' in %s%s", n, ctx,
					   pkl_suggest_hint(n, pkl_ku_names(), hint, sizeof(hint)));
		}
		ku |= bit;
	}
	p->key_usage = ku;
	return PKL_OK;
}

static enum pkl_rc parse_eku(struct pkl_profile *p, const config_setting_t *s, const char *str,
			     const char *ctx, const char *where, struct pkl_err *err)
{
	int n = config_setting_length(s);

	if (n > PKL_MAX_EKU)
		return pkl_err_set(err, PKL_EINPUT, where, "too many extended key usages in %s (max %d)", ctx,
				   PKL_MAX_EKU);
	p->n_eku = 0;
	for (int i = 0; i < n; i++) {
		const char *e = config_setting_get_string_elem(s, i);
		const char *oid = pkl_eku_oid(e);
		if (!oid) {
			const char *sug = pkl_suggest(e, pkl_eku_names());
			return pkl_err_set(
				err, PKL_EINPUT, where, "unknown extended key usage '%s' in %s%s%s%s", e, ctx,
				sug ? " (did you mean '" : " (use a name like 'serverAuth' or a dotted OID",
				sug ? sug : "", sug ? "'?)" : ")");
		}
		for (size_t j = 0; j < p->n_eku; j++)
			if (!strcmp(p->eku[j], oid))
				return pkl_err_set(err, PKL_EINPUT, where,
						   "extended key usage '%s' listed twice in %s", e, ctx);
		snprintf(p->eku[p->n_eku++], sizeof(p->eku[0]), "%s", oid);
	}
	return PKL_OK;
}

/* A value outside [min, max]: "NAME in CTX must ..." or "NAME in CTX is V: why". */
static enum pkl_rc out_of_range(const struct set_def *d, const char *value, const char *ctx,
				const char *where, struct pkl_err *err)
{
	if (!strncmp(d->range, "must ", 5))
		return pkl_err_set(err, PKL_EINPUT, where, "%s in %s %s", d->name, ctx, d->range);
	return pkl_err_set(err, PKL_EINPUT, where, "%s in %s is %s: %s", d->name, ctx, value, d->range);
}

/* Applies one profile setting through its table row; PKL_EINPUT without a
 * message when the name is not a profile setting (the caller decides). */
static enum pkl_rc apply_profile_setting(struct pkl_profile *p, const config_setting_t *s, const char *ctx,
					 const char *file, struct pkl_err *err)
{
	const char *name = config_setting_name(s);
	const struct set_def *d = find_def(profile_defs, N_PROFILE_DEFS, name);
	char where[PATH_MAX + 16], num[32];
	unsigned char *field = (unsigned char *)p;
	struct pkl_err sub = { 0 };
	const char *str = ""; /* set below for string settings, the only ones that read it */
	long long v;
	int64_t dur;
	int b;

	if (!d)
		return PKL_EINPUT;
	loc(s, file, where, sizeof(where));
	if (!type_ok(s, d->kind))
		return pkl_err_set(err, PKL_EINPUT, where, "setting '%s' in %s must be %s", name, ctx,
				   kind_hint(d->kind));
	if (d->kind == K_STR || d->kind == K_DUR) {
		str = config_setting_get_string(s);
		if (!str) /* type_ok() said string; never NULL, but say so */
			str = "";
	}
	if (d->parse)
		return d->parse(p, s, str, ctx, where, err);
	field += d->off;
	switch (d->kind) {
	case K_STR: snprintf((char *)field, d->size, "%s", str); break;
	case K_BOOL:
		b = config_setting_get_bool(s);
		memcpy(field, &b, sizeof(b));
		break;
	case K_INT:
		v = config_setting_type(s) == CONFIG_TYPE_INT ? config_setting_get_int(s) :
								config_setting_get_int64(s);
		snprintf(num, sizeof(num), "%lld", v);
		if (v < d->min || v > d->max)
			return out_of_range(d, num, ctx, where, err);
		b = (int)v;
		memcpy(field, &b, sizeof(b));
		break;
	case K_DUR:
		if (pkl_duration_parse(str, 0, &dur, &sub) != PKL_OK)
			return pkl_err_set(err, PKL_EINPUT, where, "%s in %s: %s", name, ctx, sub.msg);
		if (dur < d->min || dur > d->max)
			return out_of_range(d, str, ctx, where, err);
		memcpy(field, &dur, sizeof(dur));
		break;
	case K_LIST: /* every list has its own syntax (d->parse) */ break;
	}
	return PKL_OK;
}

/* ---- templates ----------------------------------------------------------- */

static void profile_defaults(struct pkl_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->role = PKL_ROLE_LEAF;
	p->key.type = PKL_KEY_EC;
	p->key.bits = 256;
	p->key.curve_nid = 0;
	pkl_key_spec_parse("ec:P-256", &p->key, NULL);
	p->validity = 365L * 86400;
	p->backdate = 3600;
	p->path_len = -1;
	p->key_usage = PKL_KU_DIGITAL_SIGNATURE;
	p->cdp = 1;
	p->aia = 1;
	p->crl_lifetime = 7L * 86400;
}

int pkl_lab_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PKL_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* The directory holding the running binary's directory (<prefix> for
 * <prefix>/bin/pkilab, the checkout for build/pkilab), from /proc/self/exe:
 * where the binary is now, not where it was built to go, so one build installs
 * to any PREFIX or DESTDIR and the tree moves freely. */
static int exe_parent_dir(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len);

	if (n <= 0 || (size_t)n >= len) /* readlink truncates silently */
		return 0;
	out[n] = '\0';
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(out, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
	return 1;
}

/* Appends the directory a + b unless it is listed from dedup_from on. */
static void dirs_add(struct pkl_template_dirs *d, size_t dedup_from, const char *a, const char *b)
{
	char dir[PATH_MAX];

	if (d->n == PKL_TEMPLATE_DIRS_MAX || snprintf(dir, sizeof(dir), "%s%s", a, b) >= (int)sizeof(dir))
		return;
	for (size_t i = dedup_from; i < d->n; i++)
		if (!strcmp(d->dir[i], dir))
			return;
	snprintf(d->dir[d->n++], PATH_MAX, "%s", dir);
}

/* The search list, in order: the lab's `templates` setting, beside the lab
 * file, its templates/ subdirectory, templates_dir (the caller's, from
 * $PKILAB_TEMPLATES), <prefix>/share/pkilab/templates relative to the running
 * binary (an install at any prefix), the directory compiled in
 * (PKL_TEMPLATE_DIR, for a binary copied elsewhere) and <checkout>/templates
 * (build/pkilab run from the source tree). */
void pkl_template_dirs_init(struct pkl_template_dirs *d, const char *lab_templates, const char *lab_dir,
			    const char *templates_dir)
{
	char exe[PATH_MAX];
	int have_exe = exe_parent_dir(exe, sizeof(exe));
	size_t from;

	memset(d, 0, sizeof(*d));
	/* The lab's own directory is listed as given, even when a later entry
	 * names it again: the not-found error shows the search as it ran. */
	if (lab_templates && lab_templates[0])
		dirs_add(d, 0, lab_templates, "");
	from = d->n;
	if (lab_dir) {
		dirs_add(d, from, lab_dir, "");
		dirs_add(d, from, lab_dir, "/templates");
	}
	if (templates_dir && templates_dir[0])
		dirs_add(d, from, templates_dir, "");
	if (have_exe)
		dirs_add(d, from, exe, "/share/pkilab/templates");
	dirs_add(d, from, PKL_TEMPLATE_DIR, "");
	if (have_exe)
		dirs_add(d, from, exe, "/templates");
}

/* The first <dir>/<name>.cfg that exists; the error lists every directory
 * searched, so a wrong install is seen at once. */
enum pkl_rc pkl_template_find(const char *name, const struct pkl_template_dirs *dirs, char *out,
			      size_t outlen, struct pkl_err *err)
{
	char list[sizeof(err->msg)];
	size_t used = 0;

	if (!pkl_lab_name_valid(name))
		return pkl_err_set(err, PKL_EINPUT, NULL, "bad template name '%s'", name);
	list[0] = '\0';
	for (size_t i = 0; i < dirs->n; i++) {
		if (snprintf(out, outlen, "%s/%s.cfg", dirs->dir[i], name) < (int)outlen &&
		    pkl_file_exists(out))
			return PKL_OK;
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", dirs->dir[i]);
		/* Truncated: nothing more is appended, so no entry is skipped silently. */
		used = w >= 0 && (size_t)w < sizeof(list) - used ? used + (size_t)w : sizeof(list) - 1;
	}
	return pkl_err_set(err, PKL_EINPUT, NULL, "template '%s' not found (looked in %s)", name, list);
}

static enum pkl_rc config_load(config_t *cfg, const char *path, struct pkl_err *err)
{
	struct pkl_buf probe = PKL_BUF_INIT;
	enum pkl_rc rc;

	/* Read it ourselves first: libconfig's message for a missing file is vague. */
	rc = pkl_file_read(path, 4u << 20, &probe, err);
	pkl_buf_free(&probe);
	if (rc != PKL_OK)
		return rc;
	config_init(cfg);
	if (!config_read_file(cfg, path)) {
		const char *f = config_error_file(cfg);
		char where[PATH_MAX + 16];
		snprintf(where, sizeof(where), "%s:%d", f ? f : path, config_error_line(cfg));
		pkl_err_set(err, PKL_EINPUT, where, "%s", config_error_text(cfg));
		config_destroy(cfg);
		return PKL_EINPUT;
	}
	return PKL_OK;
}

static enum pkl_rc template_load_path(const char *path, const char *name, struct pkl_profile *out,
				      struct pkl_err *err)
{
	config_t cfg;
	config_setting_t *root;
	char ctx[PKL_NAME_MAX + 16], where[PATH_MAX + 16], sug[96];
	enum pkl_rc rc;

	rc = config_load(&cfg, path, err);
	if (rc != PKL_OK)
		return rc;
	profile_defaults(out);
	snprintf(out->template_name, sizeof(out->template_name), "%s", name);
	snprintf(ctx, sizeof(ctx), "template '%s'", name);
	root = config_root_setting(&cfg);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		if (!find_def(profile_defs, N_PROFILE_DEFS, config_setting_name(s))) {
			suggest_in(config_setting_name(s), profile_defs, N_PROFILE_DEFS, NULL, 0, sug,
				   sizeof(sug));
			pkl_err_set(err, PKL_EINPUT, loc(s, path, where, sizeof(where)),
				    "unknown setting '%s' in %s%s", config_setting_name(s), ctx, sug);
			config_destroy(&cfg);
			return PKL_EINPUT;
		}
		rc = apply_profile_setting(out, s, ctx, path, err);
		if (rc != PKL_OK) {
			config_destroy(&cfg);
			return rc;
		}
	}
	config_destroy(&cfg);
	return PKL_OK;
}

enum pkl_rc pkl_template_load(const char *name, const char *lab_dir, const char *templates_dir,
			      struct pkl_profile *out, struct pkl_err *err)
{
	struct pkl_template_dirs *dirs = malloc(sizeof(*dirs));
	char path[PATH_MAX];
	enum pkl_rc rc;

	if (!dirs)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	pkl_template_dirs_init(dirs, NULL, lab_dir, templates_dir);
	rc = pkl_template_find(name, dirs, path, sizeof(path), err);
	free(dirs);

	if (rc != PKL_OK)
		return rc;
	return template_load_path(path, name, out, err);
}

/* ---- lab file -------------------------------------------------------------- */

static const char *get_str_member(const config_setting_t *g, const char *name, const char *file,
				  const char *ctx, int required, struct pkl_err *err, enum pkl_rc *rc)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char where[PATH_MAX + 16];

	if (!s) {
		if (required)
			*rc = pkl_err_set(err, PKL_EINPUT, loc(g, file, where, sizeof(where)),
					  "%s has no '%s' setting", ctx, name);
		return NULL;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		*rc = pkl_err_set(err, PKL_EINPUT, loc(s, file, where, sizeof(where)),
				  "setting '%s' in %s must be a string", name, ctx);
		return NULL;
	}
	return config_setting_get_string(s);
}

static enum pkl_rc parse_lab_group(struct pkl_lab *lab, config_setting_t *g, const char *lab_dir,
				   char *tmpl_dir, size_t tmpl_len, struct pkl_err *err)
{
	char where[PATH_MAX + 16];
	enum pkl_rc rc = PKL_OK;
	const char *s;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return pkl_err_set(err, PKL_EINPUT, loc(g, lab->path, where, sizeof(where)),
				   "'lab' must be a group: lab = { name = \"...\"; ... };");
	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *n = config_setting_name(m);
		if (!find_def(lab_defs, N_LAB_DEFS, n)) {
			char hint[160];

			return pkl_err_set(err, PKL_EINPUT, loc(m, lab->path, where, sizeof(where)),
					   "unknown setting '%s' in lab%s", n,
					   suggest_in(n, lab_defs, N_LAB_DEFS, NULL, 0, hint, sizeof(hint)));
		}
	}
	s = get_str_member(g, "name", lab->path, "lab", 0, err, &rc);
	if (rc != PKL_OK)
		return rc;
	snprintf(lab->name, sizeof(lab->name), "%s", s ? s : "lab");
	s = get_str_member(g, "pki", lab->path, "lab", 0, err, &rc);
	if (rc != PKL_OK)
		return rc;
	if (!s)
		s = "pki";
	if (s[0] == '/')
		rc = pkl_path_join(lab->pki_dir, sizeof(lab->pki_dir), err, "%s", s);
	else
		rc = pkl_path_join(lab->pki_dir, sizeof(lab->pki_dir), err, "%s/%s", lab_dir, s);
	if (rc != PKL_OK)
		return rc;
	s = get_str_member(g, "templates", lab->path, "lab", 0, err, &rc);
	if (rc != PKL_OK)
		return rc;
	if (s)
		snprintf(tmpl_dir, tmpl_len, s[0] == '/' ? "%s%s" : "%s/%s", s[0] == '/' ? "" : lab_dir, s);
	s = get_str_member(g, "cdp_layout", lab->path, "lab", 0, err, &rc);
	if (rc != PKL_OK)
		return rc;
	if (s) {
		if (!strcmp(s, "point-per-uri"))
			lab->cdp_point_per_uri = 1;
		else if (strcmp(s, "one-point") != 0)
			return pkl_err_set(err, PKL_EINPUT,
					   loc(config_setting_get_member(g, "cdp_layout"), lab->path, where,
					       sizeof(where)),
					   "cdp_layout '%s': expected \"one-point\" or \"point-per-uri\"", s);
	}
	config_setting_t *cdp = config_setting_get_member(g, "cdp");
	if (cdp) {
		loc(cdp, lab->path, where, sizeof(where));
		if (!type_ok(cdp, K_LIST))
			return pkl_err_set(
				err, PKL_EINPUT, where,
				"'cdp' in lab must be a list of URLs like [ \"http://cdp1.example:80\" ]");
		if (config_setting_length(cdp) > PKL_MAX_CDP)
			return pkl_err_set(err, PKL_EINPUT, where, "at most %d CDP bases", PKL_MAX_CDP);
		for (int i = 0; i < config_setting_length(cdp); i++) {
			const char *u = config_setting_get_string_elem(cdp, i);
			size_t len = strlen(u);
			/* Plain HTTP only: a client must not need TLS to fetch the CRL that
			 * validates TLS (RFC 5280 4.2.1.13). */
			if (strncmp(u, "http://", 7) != 0 || len <= 7)
				return pkl_err_set(
					err, PKL_EINPUT, where,
					"CDP base '%s' must be a plain http:// URL (no https, ldap or file: "
					"clients fetch CRLs before they trust anything)",
					u);
			for (size_t c = 0; c < len; c++)
				if ((unsigned char)u[c] <= ' ' || u[c] == '"' || u[c] == '<' || u[c] == '>' ||
				    u[c] == '\\' || u[c] == '?' || u[c] == '#')
					return pkl_err_set(
						err, PKL_EINPUT, where,
						"CDP base '%s' contains a character not allowed in a URL", u);
			while (len > 7 && u[len - 1] == '/')
				len--;
			if (len + 32 >= PKL_URI_MAX)
				return pkl_err_set(err, PKL_EINPUT, where, "CDP base '%s' is too long", u);
			snprintf(lab->cdp[lab->n_cdp], PKL_URI_MAX, "%.*s", (int)len, u);
			for (size_t j = 0; j < lab->n_cdp; j++)
				if (!strcmp(lab->cdp[j], lab->cdp[lab->n_cdp]))
					return pkl_err_set(err, PKL_EINPUT, where,
							   "CDP base '%s' listed twice", u);
			lab->n_cdp++;
		}
	}
	return PKL_OK;
}

/* Templates resolved and parsed once per lab load: a lab of 1,000 leaves
 * names the same template 1,000 times. Within one load the search path is
 * fixed, so the name alone identifies the file. */
struct tmpl_cache {
	char name[PKL_NAME_MAX];
	struct pkl_profile prof;
};
#define TMPL_CACHE_MAX 32

struct load_state {
	struct tmpl_cache cache[TMPL_CACHE_MAX];
	size_t n_cache;
	struct pkl_template_dirs dirs;
};

static const struct pkl_profile *template_cached(const struct load_state *ls, const char *name)
{
	for (size_t i = 0; i < ls->n_cache; i++)
		if (!strcmp(ls->cache[i].name, name))
			return &ls->cache[i].prof;
	return NULL;
}

static void template_remember(struct load_state *ls, const char *name, const struct pkl_profile *prof)
{
	if (ls->n_cache == TMPL_CACHE_MAX)
		return;
	snprintf(ls->cache[ls->n_cache].name, PKL_NAME_MAX, "%s", name);
	ls->cache[ls->n_cache++].prof = *prof;
}

static enum pkl_rc parse_entity(struct pkl_lab *lab, struct load_state *ls, config_setting_t *e,
				const char *section, int index, struct pkl_entity *out, struct pkl_err *err)
{
	char where[PATH_MAX + 16], ctx[PKL_NAME_MAX + 32], sug[96];
	const char *name, *tmpl, *s;
	enum pkl_rc rc = PKL_OK;
	struct pkl_err sub = { 0 };
	int has_nb = 0, has_na = 0;
	pkl_time nb = 0, na = 0;

	loc(e, lab->path, where, sizeof(where));
	snprintf(out->where, sizeof(out->where), "%s", where);
	if (config_setting_type(e) != CONFIG_TYPE_GROUP)
		return pkl_err_set(
			err, PKL_EINPUT, where,
			"entry %d of '%s' must be a group: { name = \"...\"; template = \"...\"; ... }",
			index + 1, section);
	snprintf(ctx, sizeof(ctx), "%s[%d]", section, index);
	name = get_str_member(e, "name", lab->path, ctx, 1, err, &rc);
	if (rc != PKL_OK)
		return rc;
	if (!pkl_lab_name_valid(name))
		return pkl_err_set(err, PKL_EINPUT, where,
				   "bad name '%s' in %s: use letters, digits, '.', '-', '_' (max %d)", name,
				   section, PKL_NAME_MAX - 1);
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(ctx, sizeof(ctx), "%s.%s", section, name);

	tmpl = get_str_member(e, "template", lab->path, ctx, 1, err, &rc);
	if (rc != PKL_OK)
		return rc;
	const struct pkl_profile *known = template_cached(ls, tmpl);
	if (known) {
		out->prof = *known;
	} else {
		char tpath[PATH_MAX];
		if (pkl_template_find(tmpl, &ls->dirs, tpath, sizeof(tpath), &sub) != PKL_OK)
			return pkl_err_set(err, PKL_EINPUT,
					   loc(config_setting_get_member(e, "template"), lab->path, where,
					       sizeof(where)),
					   "%s: %s", ctx, sub.msg);
		rc = template_load_path(tpath, tmpl, &out->prof, err);
		if (rc != PKL_OK)
			return rc;
		template_remember(ls, tmpl, &out->prof);
	}

	/* Overrides and entity settings. */
	for (int i = 0; i < config_setting_length(e); i++) {
		config_setting_t *m = config_setting_get_elem(e, (unsigned)i);
		const char *n = config_setting_name(m);
		const struct set_def *ed = find_def(entity_defs, N_ENTITY_DEFS, n);

		loc(m, lab->path, where, sizeof(where));
		if (ed) {
			if (!type_ok(m, ed->kind))
				return pkl_err_set(err, PKL_EINPUT, where, "setting '%s' in %s must be %s", n,
						   ctx, kind_hint(ed->kind));
			continue;
		}
		if (!find_def(profile_defs, N_PROFILE_DEFS, n)) {
			suggest_in(n, profile_defs, N_PROFILE_DEFS, entity_defs, N_ENTITY_DEFS, sug,
				   sizeof(sug));
			return pkl_err_set(err, PKL_EINPUT, where, "unknown setting '%s' in %s%s", n, ctx,
					   sug);
		}
		rc = apply_profile_setting(&out->prof, m, ctx, lab->path, err);
		if (rc != PKL_OK)
			return rc;
	}

	s = get_str_member(e, "issuer", lab->path, ctx, 0, err, &rc);
	if (s)
		snprintf(out->issuer, sizeof(out->issuer), "%s", s);
	s = get_str_member(e, "subject", lab->path, ctx, 1, err, &rc);
	if (rc != PKL_OK)
		return rc;
	{
		X509_NAME *dn = pkl_name_parse(s, &sub);
		if (!dn)
			return pkl_err_set(
				err, PKL_EINPUT,
				loc(config_setting_get_member(e, "subject"), lab->path, where, sizeof(where)),
				"subject of %s: %s", ctx, sub.msg);
		if (X509_NAME_entry_count(dn) == 0) {
			X509_NAME_free(dn);
			return pkl_err_set(
				err, PKL_EINPUT,
				loc(config_setting_get_member(e, "subject"), lab->path, where, sizeof(where)),
				"subject of %s is empty", ctx);
		}
		X509_NAME_free(dn);
		snprintf(out->subject, sizeof(out->subject), "%s", s);
	}

	config_setting_t *san = config_setting_get_member(e, "san");
	if (san) {
		loc(san, lab->path, where, sizeof(where));
		if (config_setting_length(san) > PKL_MAX_SANS)
			return pkl_err_set(err, PKL_EINPUT, where, "too many SAN entries in %s (max %d)", ctx,
					   PKL_MAX_SANS);
		for (int i = 0; i < config_setting_length(san); i++) {
			const char *v = config_setting_get_string_elem(san, i);
			if (pkl_san_parse(v, &out->sans[out->n_sans], &sub) != PKL_OK)
				return pkl_err_set(err, PKL_EINPUT, where, "san of %s: %s", ctx, sub.msg);
			out->n_sans++;
		}
	}

	/* Times: relative ones are taken from the lab's "now". */
	config_setting_t *t;
	if ((t = config_setting_get_member(e, "not_before"))) {
		if (pkl_time_parse(config_setting_get_string(t), lab->now, &nb, &sub) != PKL_OK)
			return pkl_err_set(err, PKL_EINPUT, loc(t, lab->path, where, sizeof(where)),
					   "not_before of %s: %s", ctx, sub.msg);
		has_nb = 1;
	}
	if ((t = config_setting_get_member(e, "not_after"))) {
		if (pkl_time_parse(config_setting_get_string(t), lab->now, &na, &sub) != PKL_OK)
			return pkl_err_set(err, PKL_EINPUT, loc(t, lab->path, where, sizeof(where)),
					   "not_after of %s: %s", ctx, sub.msg);
		has_na = 1;
	}
	pkl_issue_window(out, lab->now, has_nb ? &nb : NULL, has_na ? &na : NULL);
	if (out->not_after <= out->not_before)
		return pkl_err_set(err, PKL_EINPUT, out->where, "%s: notAfter must be after notBefore", ctx);
	out->is_ca = out->prof.role != PKL_ROLE_LEAF;
	return PKL_OK;
}

const struct pkl_entity *pkl_lab_find(const struct pkl_lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->n_ents; i++)
		if (!strcmp(lab->ents[i].name, name))
			return &lab->ents[i];
	return NULL;
}

static ssize_t find_index(const struct pkl_entity *ents, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ents[i].name, name))
			return (ssize_t)i;
	return -1;
}

/* Validates the hierarchy and orders entities so issuers come first. */
static enum pkl_rc resolve_hierarchy(struct pkl_lab *lab, struct pkl_err *err)
{
	size_t n = lab->n_ents;
	struct pkl_entity *sorted = NULL;

	for (size_t i = 0; i < n; i++) {
		struct pkl_entity *e = &lab->ents[i];
		const char *sec = e->is_ca ? "cas" : "certs";
		ssize_t j;

		if (find_index(lab->ents, i, e->name) >= 0)
			return pkl_err_set(err, PKL_EINPUT, e->where, "name '%s' is used twice", e->name);
		if (e->prof.role == PKL_ROLE_ROOT) {
			if (e->issuer[0] && strcmp(e->issuer, e->name) != 0)
				return pkl_err_set(err, PKL_EINPUT, e->where,
						   "%s.%s uses root template '%s' but names issuer '%s': a "
						   "root is self-signed",
						   sec, e->name, e->prof.template_name, e->issuer);
			e->issuer[0] = '\0';
			continue;
		}
		if (!e->issuer[0])
			return pkl_err_set(err, PKL_EINPUT, e->where, "%s.%s has no 'issuer' setting", sec,
					   e->name);
		j = find_index(lab->ents, n, e->issuer);
		if (j < 0)
			return pkl_err_set(err, PKL_EINPUT, e->where,
					   "issuer '%s' of %s.%s is not defined in cas", e->issuer, sec,
					   e->name);
		if (!lab->ents[j].is_ca)
			return pkl_err_set(err, PKL_EINPUT, e->where,
					   "issuer '%s' of %s.%s is an end-entity certificate, not a CA",
					   e->issuer, sec, e->name);
		if (e->prof.role == PKL_ROLE_LEAF && e->prof.path_len >= 0)
			return pkl_err_set(err, PKL_EINPUT, e->where,
					   "path_len on end-entity certs.%s: only CAs have a path length",
					   e->name);
	}
	/* Depth by walking issuers; a walk longer than n is a cycle. */
	for (size_t i = 0; i < n; i++) {
		size_t depth = 0;
		const struct pkl_entity *cur = &lab->ents[i];
		while (cur->issuer[0]) {
			if (++depth > n)
				return pkl_err_set(err, PKL_EINPUT, lab->ents[i].where,
						   "issuer cycle: %s is (indirectly) its own issuer",
						   lab->ents[i].name);
			cur = &lab->ents[find_index(lab->ents, n, cur->issuer)];
		}
		lab->ents[i].depth = depth;
		if (lab->ents[i].is_ca && depth == 0 && lab->ents[i].prof.role != PKL_ROLE_ROOT)
			return pkl_err_set(err, PKL_EINPUT, lab->ents[i].where, "%s has no issuer",
					   lab->ents[i].name);
	}
	/* The issuance policy (lib/issue.c, as for `pkilab issue` and `renew`:
	 * SAN, max_validity, validity nesting) and path lengths. */
	for (size_t i = 0; i < n; i++) {
		const struct pkl_entity *e = &lab->ents[i];
		if (!e->issuer[0])
			continue;
		const struct pkl_entity *iss = &lab->ents[find_index(lab->ents, n, e->issuer)];
		char label[PKL_NAME_MAX + 8];
		const struct pkl_issue_words w = {
			.where = e->where,
			.validity_where = e->where,
			.label = label,
			.san_fix = "san = [ \"vpn.example.com\" ]",
			.outlive_fix =
				"shorten its validity, or set outlive_issuer = true to build this on purpose",
		};
		snprintf(label, sizeof(label), "%s.%s", e->is_ca ? "cas" : "certs", e->name);
		enum pkl_rc rc = pkl_issue_check_policy(e, iss->not_after, &w, err);
		if (rc != PKL_OK)
			return rc;
		/* Every CA above e must allow the number of CAs between it and e. */
		size_t cas_below = e->is_ca ? 1 : 0;
		const struct pkl_entity *up = iss;
		for (;;) {
			if (up->prof.path_len >= 0 && cas_below > (size_t)up->prof.path_len && e->is_ca)
				return pkl_err_set(
					err, PKL_EINPUT, e->where,
					"CA '%s' under '%s' violates its path_len %d (%zu CA(s) below it)",
					e->name, up->name, up->prof.path_len, cas_below);
			if (!up->issuer[0])
				break;
			cas_below++;
			up = &lab->ents[find_index(lab->ents, n, up->issuer)];
		}
	}
	/* Stable order: by depth, CAs before leaves at the same depth. */
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!sorted)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	size_t k = 0;
	for (size_t depth = 0; depth <= n; depth++)
		for (int ca = 1; ca >= 0; ca--)
			for (size_t i = 0; i < n; i++)
				if (lab->ents[i].depth == depth && lab->ents[i].is_ca == ca)
					sorted[k++] = lab->ents[i];
	free(lab->ents);
	lab->ents = sorted;
	return PKL_OK;
}

struct pkl_lab *pkl_lab_load(const char *path, pkl_time now, const char *templates_dir, struct pkl_err *err)
{
	struct pkl_lab *lab = NULL;
	struct load_state *ls = NULL;
	config_t cfg;
	config_setting_t *root, *g;
	char lab_dir[PATH_MAX], tmpl_dir[PATH_MAX] = "", where[PATH_MAX + 16], tmp[PATH_MAX];
	enum pkl_rc rc;

	if (config_load(&cfg, path, err) != PKL_OK)
		return NULL;
	lab = calloc(1, sizeof(*lab));
	if (!lab) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto fail;
	}
	snprintf(lab->path, sizeof(lab->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(lab_dir, sizeof(lab_dir), "%s", dirname(tmp));
	lab->now = now;

	root = config_root_setting(&cfg);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
		const char *n = config_setting_name(m);
		if (!find_def(top_defs, N_TOP_DEFS, n)) {
			char hint[160];

			pkl_err_set(err, PKL_EINPUT, loc(m, path, where, sizeof(where)),
				    "unknown top-level setting '%s'%s (a lab file has lab, cas and certs)", n,
				    suggest_in(n, top_defs, N_TOP_DEFS, NULL, 0, hint, sizeof(hint)));
			goto fail;
		}
	}
	g = config_lookup(&cfg, "lab");
	if (!g) {
		snprintf(lab->name, sizeof(lab->name), "lab");
		if (pkl_path_join(lab->pki_dir, sizeof(lab->pki_dir), err, "%s/pki", lab_dir) != PKL_OK)
			goto fail;
	} else if (parse_lab_group(lab, g, lab_dir, tmpl_dir, sizeof(tmpl_dir), err) != PKL_OK)
		goto fail;

	size_t total = 0;
	for (int sec = 0; sec < 2; sec++) {
		config_setting_t *l = config_lookup(&cfg, sec ? "certs" : "cas");
		if (!l)
			continue;
		if (config_setting_type(l) != CONFIG_TYPE_LIST &&
		    config_setting_type(l) != CONFIG_TYPE_ARRAY) {
			pkl_err_set(err, PKL_EINPUT, loc(l, path, where, sizeof(where)),
				    "'%s' must be a list: %s = ( { name = \"...\"; ... } );",
				    sec ? "certs" : "cas", sec ? "certs" : "cas");
			goto fail;
		}
		total += (size_t)config_setting_length(l);
	}
	if (total == 0) {
		pkl_err_set(err, PKL_EINPUT, path, "the lab defines no certificates (add cas = ( ... );)");
		goto fail;
	}
	lab->ents = calloc(total, sizeof(*lab->ents));
	ls = calloc(1, sizeof(*ls));
	if (!lab->ents || !ls) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto fail;
	}
	pkl_template_dirs_init(&ls->dirs, tmpl_dir, lab_dir, templates_dir);
	for (int sec = 0; sec < 2; sec++) {
		const char *secname = sec ? "certs" : "cas";
		config_setting_t *l = config_lookup(&cfg, secname);
		for (int i = 0; l && i < config_setting_length(l); i++) {
			struct pkl_entity *e = &lab->ents[lab->n_ents];
			rc = parse_entity(lab, ls, config_setting_get_elem(l, (unsigned)i), secname, i, e,
					  err);
			if (rc != PKL_OK)
				goto fail;
			if (sec == 0 && !e->is_ca) {
				pkl_err_set(err, PKL_EINPUT, e->where,
					    "cas.%s uses end-entity template '%s': put it under certs",
					    e->name, e->prof.template_name);
				goto fail;
			}
			if (sec == 1 && e->is_ca) {
				pkl_err_set(err, PKL_EINPUT, e->where,
					    "certs.%s uses CA template '%s': put it under cas", e->name,
					    e->prof.template_name);
				goto fail;
			}
			lab->n_ents++;
		}
	}
	if (resolve_hierarchy(lab, err) != PKL_OK)
		goto fail;
	config_destroy(&cfg);
	free(ls);
	return lab;
fail:
	config_destroy(&cfg);
	free(ls);
	pkl_lab_free(lab);
	return NULL;
}

void pkl_lab_free(struct pkl_lab *lab)
{
	if (!lab)
		return;
	free(lab->ents);
	free(lab);
}

void pkl_profile_apply(const struct pkl_profile *prof, const struct pkl_key_spec *key,
		       struct pkl_cert_req *req, const char **eku_ptrs)
{
	req->is_ca = prof->role != PKL_ROLE_LEAF;
	req->path_len = req->is_ca ? prof->path_len : -1;
	req->key_usage = prof->key_usage;
	/* keyEncipherment only makes sense for RSA (RFC 8813 3, RFC 3279 2.3.1). */
	if (key->type == PKL_KEY_RSA && prof->rsa_key_encipherment && !req->is_ca)
		req->key_usage |= PKL_KU_KEY_ENCIPHERMENT;
	for (size_t i = 0; i < prof->n_eku; i++)
		eku_ptrs[i] = prof->eku[i];
	req->eku_oids = eku_ptrs;
	req->n_eku = prof->n_eku;
	req->ip_as_dns = prof->ip_as_dns;
}
