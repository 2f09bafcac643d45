/*
 * Reading the environment once (see pkilab/env.h): every variable is parsed
 * and checked here, at start, so a typo in PKILAB_NOW or PKILAB_RESOLVE is
 * refused with the variable's name instead of being ignored deep in a call.
 */
#include <string.h>
#include <time.h>

#include "pkilab/env.h"
#include "pkilab/fetch.h"
#include "pkilab/key.h"
#include "pkilab/report.h"

static const char *value(pkl_env_lookup lookup, const char *name)
{
	const char *v = lookup(name);

	return v && *v ? v : NULL;
}

/* Same separators as pkl_fetch_set_resolve's splitting. */
static enum pkl_rc check_resolve(const char *list, struct pkl_err *err)
{
	struct pkl_fetch_opts o;
	char entry[512];
	const char *p = list;

	memset(&o, 0, sizeof(o));
	while (*p) {
		size_t n;

		p += strspn(p, ", \t\n");
		n = strcspn(p, ", \t\n");
		if (n == 0)
			break;
		if (n >= sizeof(entry))
			return pkl_err_set(err, PKL_EINPUT, "PKILAB_RESOLVE", "entry too long: '%.40s...'",
					   p);
		memcpy(entry, p, n);
		entry[n] = '\0';
		o.n_resolve = 0; /* the count is not the question here */
		if (pkl_fetch_opts_resolve(&o, entry, err) != PKL_OK) {
			if (err)
				snprintf(err->where, sizeof(err->where), "PKILAB_RESOLVE");
			return PKL_EINPUT;
		}
		p += n;
	}
	return PKL_OK;
}

enum pkl_rc pkl_env_read_now(pkl_env_lookup lookup, int *set, pkl_time *now, struct pkl_err *err)
{
	const char *v = value(lookup, "PKILAB_NOW");

	*set = 0;
	if (!v)
		return PKL_OK;
	/* The syntax of --at: absolute, or relative to the system clock. */
	if (pkl_time_parse(v, (pkl_time)time(NULL), now, NULL) != PKL_OK)
		return pkl_err_set(
			err, PKL_EINPUT, "PKILAB_NOW",
			"bad time '%s' (expected an absolute UTC time such as "
			"2026-01-01T00:00:00Z or 2026-01-01, or one relative to now such as +8d or -1h)",
			v);
	*set = 1;
	return PKL_OK;
}

enum pkl_rc pkl_env_read(struct pkl_env *env, pkl_env_lookup lookup, struct pkl_err *err)
{
	struct pkl_env e;
	const char *loc = NULL;
	const char *locale_vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };

	pkl_err_clear(err);
	memset(env, 0, sizeof(*env));
	memset(&e, 0, sizeof(e));
	e.pki_dir = value(lookup, "PKILAB_DIR");
	e.templates = value(lookup, "PKILAB_TEMPLATES");
	if (pkl_env_read_now(lookup, &e.now_set, &e.now, err) != PKL_OK)
		return PKL_EINPUT;
	e.resolve = value(lookup, "PKILAB_RESOLVE");
	if (e.resolve && check_resolve(e.resolve, err) != PKL_OK)
		return PKL_EINPUT;
	e.key_passphrase = value(lookup, "PKILAB_KEY_PASSPHRASE");
	e.key_passphrase_file = value(lookup, "PKILAB_KEY_PASSPHRASE_FILE");
	e.p12_password = value(lookup, "PKILAB_P12_PASSWORD");
	e.tmpdir = value(lookup, "TMPDIR");
	/* POSIX precedence (XBD 8.2): LC_ALL, then LC_CTYPE, then LANG. */
	for (size_t i = 0; i < sizeof(locale_vars) / sizeof(locale_vars[0]) && !loc; i++)
		loc = value(lookup, locale_vars[i]);
	e.utf8 = loc &&
		 (strstr(loc, "UTF-8") || strstr(loc, "utf8") || strstr(loc, "UTF8") || strstr(loc, "utf-8"));
	*env = e;
	return PKL_OK;
}

void pkl_env_apply(const struct pkl_env *env)
{
	pkl_time_set_now(env->now_set ? &env->now : NULL);
	pkl_fetch_set_resolve(env->resolve);
	pkl_key_passphrase_set_source(env->key_passphrase, env->key_passphrase_file);
	pkl_report_set_utf8(env->utf8);
}
