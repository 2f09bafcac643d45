/*
 * pkilab-cdpd settings: defaults, then a libconfig file (--config), then
 * command-line flags, which win. File settings and flags go through one
 * table and one function (apply), so a value is validated the same way
 * wherever it comes from, and every error names where it was written:
 * "cdpd.conf:7: ..." or "--max-age: ...".
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cdpd.h"
#include "pkilab/lab.h"

enum set_type {
	T_LIST,
	T_STR,
	T_LEVEL,
	T_BOOL,
	T_DURATION,
	T_LONG
};

struct setting {
	const char *name; /* in the file; the flag is the same with '-' for '_' */
	enum set_type type;
	size_t off;       /* into struct cdp_config */
	size_t count_off; /* T_LIST: offset of the count */
	long min, max;    /* T_LONG / T_DURATION bounds */
	const char *arg, *help;
	const char *def; /* the default, applied like a value and shown by --help;
			      * NULL: none, or one --help describes in words */
};

#define OFF(f) offsetof(struct cdp_config, f)
static const struct setting settings[] = {
	{ "publish", T_LIST, OFF(publish), OFF(n_publish), 0, 0, "DIR",
	  "publish directory to serve (crl/<ca>.crl, aia/<ca>.crt); repeatable", NULL },
	{ "listen", T_LIST, OFF(listen), OFF(n_listen), 0, 0, "ADDR:PORT",
	  "address to listen on; repeatable; [v6]:port for IPv6", "0.0.0.0:80" },
	{ "mirror", T_LIST, OFF(mirror), OFF(n_mirror), 0, 0, "URL",
	  "peer to pull CRLs from (http://host:port); repeatable", NULL },
	{ "trust", T_LIST, OFF(trust), OFF(n_trust), 0, 0, "PATH",
	  "CA certificate file or directory whose CRLs are accepted (default: each publish dir's aia/)",
	  NULL },
	{ "user", T_STR, OFF(user), 0, 0, 0, "USER", "drop to this user after binding (when started as root)",
	  NULL },
	{ "state_dir", T_STR, OFF(state_dir), 0, 0, 0, "DIR",
	  "keep the highest CRL number accepted per CA here, so rollback protection survives a restart",
	  NULL },
	{ "log_level", T_LEVEL, OFF(log_level), 0, 0, 0, "LEVEL", "error, warning, info, debug", "info" },
	{ "access_log", T_BOOL, OFF(access_log), 0, 0, 0, "BOOL", "one line per request", "true" },
	{ "max_age", T_DURATION, OFF(max_age), 0, 0, 366L * 86400, "DURATION",
	  "Cache-Control max-age cap: your re-publication interval", "1h" },
	{ "health_margin", T_DURATION, OFF(health_margin), 0, 0, 366L * 86400, "DURATION",
	  "/healthz fails, and the log warns, when a CRL's nextUpdate is closer than this", "1d" },
	{ "timeout", T_DURATION, OFF(timeout), 0, 1, 3600, "DURATION", "idle connection timeout", "10s" },
	{ "header_timeout", T_DURATION, OFF(header_timeout), 0, 1, 3600, "DURATION",
	  "whole request head, from the connection or the last response", "10s" },
	{ "min_send_rate", T_LONG, OFF(min_send_rate), 0, 0, 1L << 30, "BYTES",
	  "bytes/s a client must read a response at, over each timeout, 0 = off", "1K" },
	{ "mirror_interval", T_DURATION, OFF(mirror_interval), 0, 1, 86400, "DURATION",
	  "time between pulls from peers", "60s" },
	{ "mirror_timeout", T_DURATION, OFF(mirror_timeout), 0, 1, 300, "DURATION",
	  "bound on one pull, connection included", "5s" },
	{ "mirror_max_size", T_LONG, OFF(mirror_max_size), 0, 1024, 1L << 30, "BYTES",
	  "largest CRL accepted from a peer", "64M" },
	{ "max_crl_size", T_LONG, OFF(max_crl_size), 0, 1024, 1L << 30, "BYTES", "largest CRL read from disk",
	  "64M" },
	{ "threads", T_LONG, OFF(threads), 0, 1, 256, "N",
	  "worker threads, shared by every listen address (default: one per CPU, at most 64)", NULL },
	{ "connection_limit", T_LONG, OFF(connection_limit), 0, 1, 1000000, "N",
	  "concurrent connections, all listen addresses together", "10000" },
	{ "per_ip_limit", T_LONG, OFF(per_ip_limit), 0, 0, 1000000, "N",
	  "concurrent connections per client address, 0 = unlimited", "512" },
	{ "max_request_size", T_LONG, OFF(max_request_size), 0, 2048, 1L << 20, "BYTES",
	  "request line + headers", "8192" },
	{ "backlog", T_LONG, OFF(backlog), 0, 16, 65535, "N", "listen backlog", "4096" },
	{ "send_buffer", T_LONG, OFF(send_buffer), 0, 0, 64L << 20, "BYTES",
	  "socket send buffer per connection, 0 = kernel autotuning", "128K" },
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))
_Static_assert(N_SETTINGS <= CDP_SETTINGS_MAX, "struct cdp_config's `at` needs more rows");

static const struct setting *setting_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

static const char *const *setting_names(void)
{
	static const char *names[N_SETTINGS + 1];
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
		names[i] = settings[i].name;
	return names;
}

static enum pkl_rc parse_long(const char *v, long min, long max, long *out, const char *where,
			      const char *name, struct pkl_err *err)
{
	char *end;
	long mult = 1;
	long long x;

	x = strtoll(v, &end, 10);
	if (end == v)
		goto bad;
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1024L * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mult = 1024L * 1024 * 1024, end++;
	if (*end)
		goto bad;
	if (x < 0 || x > max || x * mult < min || x * mult > max)
		return pkl_err_set(err, PKL_EINPUT, where, "%s: %s out of range %ld..%ld", name, v, min, max);
	*out = (long)(x * mult);
	return PKL_OK;
bad:
	return pkl_err_set(err, PKL_EINPUT, where, "%s: '%s' is not a number", name, v);
}

static enum pkl_rc apply_value(struct cdp_config *cfg, const struct setting *s, const char *v,
			       const char *where, int fresh_list, struct pkl_err *err);

/* Validates and stores one value, and remembers where it was written
 * ("cdpd.conf:7", "--listen"; "" for a default) so that a check made after
 * parsing (the user, state_dir, binding an address) can name it too.
 * fresh_list: the first value for a list from this source, which replaces
 * what an earlier source set. */
static enum pkl_rc apply(struct cdp_config *cfg, const struct setting *s, const char *v, const char *where,
			 int fresh_list, struct pkl_err *err)
{
	size_t i = (size_t)(s - settings), k = 0;

	if (apply_value(cfg, s, v, where, fresh_list, err) != PKL_OK)
		return err->rc ? err->rc : PKL_EINPUT;
	if (s->type == T_LIST)
		k = *(size_t *)((char *)cfg + s->count_off) - 1;
	snprintf(cfg->at[i][k], sizeof(cfg->at[i][k]), "%s", where);
	return PKL_OK;
}

static enum pkl_rc apply_value(struct cdp_config *cfg, const struct setting *s, const char *v,
			       const char *where, int fresh_list, struct pkl_err *err)
{
	char *base = (char *)cfg;

	switch (s->type) {
	case T_LIST: {
		char **list = (char **)(base + s->off);
		size_t *n = (size_t *)(base + s->count_off), i;
		char *copy;

		if (fresh_list) {
			for (i = 0; i < *n; i++)
				free(list[i]);
			*n = 0;
		}
		if (*n == CDP_LIST_MAX)
			return pkl_err_set(err, PKL_EINPUT, where, "%s: at most %d values", s->name,
					   CDP_LIST_MAX);
		if (!*v)
			return pkl_err_set(err, PKL_EINPUT, where, "%s: empty value", s->name);
		if (strcmp(s->name, "listen") == 0) {
			struct sockaddr_storage ss;
			unsigned sl;

			if (cdp_parse_listen(v, &ss, &sl, err) != PKL_OK) {
				pkl_err_where(err, where);
				snprintf(err->where, sizeof(err->where), "%s", where);
				return PKL_EINPUT;
			}
		}
		if (strcmp(s->name, "publish") == 0) {
			struct stat st;

			if (stat(v, &st) != 0 || !S_ISDIR(st.st_mode))
				return pkl_err_set(err, PKL_EINPUT, where, "publish: '%s' is not a directory",
						   v);
		}
		if (strcmp(s->name, "trust") == 0) {
			struct stat st;

			if (stat(v, &st) != 0)
				return pkl_err_set(err, PKL_EINPUT, where, "trust: '%s' does not exist", v);
		}
		if (strcmp(s->name, "mirror") == 0) {
			size_t l = strlen(v);

			if (strncmp(v, "http://", 7) != 0 || l <= 7 || l > 200)
				return pkl_err_set(
					err, PKL_EINPUT, where,
					"mirror: '%s' is not an http:// URL (CDP is plain HTTP by design)",
					v);
		}
		copy = strdup(v);
		if (!copy)
			return pkl_err_set(err, PKL_ERUNTIME, where, "out of memory");
		if (strcmp(s->name, "mirror") == 0)
			while (strlen(copy) > 7 && copy[strlen(copy) - 1] == '/')
				copy[strlen(copy) - 1] = '\0';
		list[(*n)++] = copy;
		return PKL_OK;
	}
	case T_STR: {
		char **p = (char **)(base + s->off);

		if (strcmp(s->name, "state_dir") == 0) {
			struct stat st;

			/* Writability is checked at start, as the user the server runs as. */
			if (!*v || stat(v, &st) != 0 || !S_ISDIR(st.st_mode))
				return pkl_err_set(err, PKL_EINPUT, where,
						   "state_dir: '%s' is not a directory", v);
		}

		free(*p);
		*p = strdup(v);
		return *p ? PKL_OK : pkl_err_set(err, PKL_ERUNTIME, where, "out of memory");
	}
	case T_LEVEL: {
		enum pkl_log_level *p = (enum pkl_log_level *)(base + s->off);

		if (strcmp(v, "error") == 0)
			*p = PKL_LOG_ERROR;
		else if (strcmp(v, "warning") == 0 || strcmp(v, "warn") == 0)
			*p = PKL_LOG_WARN;
		else if (strcmp(v, "info") == 0)
			*p = PKL_LOG_INFO;
		else if (strcmp(v, "debug") == 0)
			*p = PKL_LOG_DEBUG;
		else
			return pkl_err_set(err, PKL_EINPUT, where,
					   "log_level: '%s' is not one of error, warning, info, debug", v);
		return PKL_OK;
	}
	case T_BOOL: {
		int *p = (int *)(base + s->off);

		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
			*p = 1;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
			*p = 0;
		else
			return pkl_err_set(err, PKL_EINPUT, where, "%s: '%s' is not true or false", s->name,
					   v);
		return PKL_OK;
	}
	case T_DURATION: {
		int64_t *p = (int64_t *)(base + s->off), d;
		struct pkl_err e2 = { 0 };

		if (pkl_duration_parse(v, 0, &d, &e2) != PKL_OK)
			return pkl_err_set(err, PKL_EINPUT, where,
					   "%s: '%s' is not a duration (e.g. 30s, 10m, 1h, 7d)", s->name, v);
		if (d < s->min || d > s->max)
			return pkl_err_set(err, PKL_EINPUT, where, "%s: %s out of range %lds..%lds", s->name,
					   v, s->min, s->max);
		*p = d;
		return PKL_OK;
	}
	case T_LONG: return parse_long(v, s->min, s->max, (long *)(base + s->off), where, s->name, err);
	}
	return PKL_EINPUT;
}

static enum pkl_rc load_file(struct cdp_config *cfg, const char *path, struct pkl_err *err)
{
	config_t c;
	config_setting_t *root, *st;
	enum pkl_rc rc = PKL_EINPUT;
	char where[600], num[32];
	int i, j, n;

	config_init(&c);
	if (!config_read_file(&c, path)) {
		if (config_error_type(&c) == CONFIG_ERR_FILE_IO) {
			FILE *f = fopen(path, "r");

			if (!f)
				rc = pkl_err_sys(err, path, "cannot read the configuration");
			else
				rc = pkl_err_set(err, PKL_EINPUT, path, "cannot read the configuration");
			if (f)
				fclose(f);
		} else {
			snprintf(where, sizeof(where), "%s:%d",
				 config_error_file(&c) ? config_error_file(&c) : path, config_error_line(&c));
			rc = pkl_err_set(err, PKL_EINPUT, where, "%s", config_error_text(&c));
		}
		goto out;
	}
	snprintf(cfg->source, sizeof(cfg->source), "%s", path);
	root = config_root_setting(&c);
	n = config_setting_length(root);
	for (i = 0; i < n; i++) {
		const struct setting *s;
		const char *name;

		st = config_setting_get_elem(root, (unsigned)i);
		name = config_setting_name(st);
		snprintf(where, sizeof(where), "%s:%u", path, config_setting_source_line(st));
		s = setting_find(name ? name : "");
		if (!s) {
			const char *sug = pkl_suggest(name ? name : "", setting_names());

			rc = pkl_err_set(err, PKL_EINPUT, where, "unknown setting '%s'%s%s%s", name,
					 sug ? " (did you mean '" : "", sug ? sug : "", sug ? "')" : "");
			goto out;
		}
		switch (config_setting_type(st)) {
		case CONFIG_TYPE_STRING:
			rc = apply(cfg, s, config_setting_get_string(st), where, 1, err);
			break;
		case CONFIG_TYPE_INT:
		case CONFIG_TYPE_INT64:
			if (s->type == T_LIST || s->type == T_STR || s->type == T_LEVEL)
				goto badtype;
			snprintf(num, sizeof(num), "%lld", config_setting_get_int64(st));
			/* A bare number as a duration means seconds. */
			if (s->type == T_DURATION)
				strcat(num, "s");
			rc = apply(cfg, s, num, where, 1, err);
			break;
		case CONFIG_TYPE_BOOL:
			if (s->type != T_BOOL)
				goto badtype;
			rc = apply(cfg, s, config_setting_get_bool(st) ? "true" : "false", where, 1, err);
			break;
		case CONFIG_TYPE_ARRAY:
		case CONFIG_TYPE_LIST:
			if (s->type != T_LIST)
				goto badtype;
			rc = PKL_OK;
			for (j = 0; rc == PKL_OK && j < config_setting_length(st); j++) {
				config_setting_t *e = config_setting_get_elem(st, (unsigned)j);

				snprintf(where, sizeof(where), "%s:%u", path,
					 config_setting_source_line(e) ? config_setting_source_line(e) :
									 config_setting_source_line(st));
				if (config_setting_type(e) != CONFIG_TYPE_STRING) {
					rc = pkl_err_set(err, PKL_EINPUT, where,
							 "%s: every value must be a string", name);
					break;
				}
				rc = apply(cfg, s, config_setting_get_string(e), where, j == 0, err);
			}
			if (config_setting_length(st) == 0)
				rc = apply(cfg, s, "", where, 1, err);
			break;
		default: goto badtype;
		}
		if (rc != PKL_OK)
			goto out;
		continue;
badtype:
		rc = pkl_err_set(err, PKL_EINPUT, where, "%s: wrong type (expected %s)", name,
				 s->type == T_LIST ? "a string or a list of strings" :
				 s->type == T_BOOL ? "true or false" :
				 s->type == T_LONG ? "a number" :
						     "a string");
		goto out;
	}
	rc = PKL_OK;
out:
	config_destroy(&c);
	return rc;
}

enum pkl_rc cdp_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *sslen, struct pkl_err *err)
{
	char host[128];
	const char *port, *colon;
	char *end;
	long p;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return pkl_err_set(err, PKL_EINPUT, "", "listen: '%s' is not [IPv6]:PORT", s);
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		port = rb + 2;
	} else if ((colon = strrchr(s, ':')) != NULL) {
		if ((size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon)
			return pkl_err_set(err, PKL_EINPUT, "", "listen: '%s' is not ADDR:PORT", s);
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	} else {
		host[0] = '\0';
		port = s;
	}
	p = strtol(port, &end, 10);
	if (!*port || *end || p < 0 || p > 65535)
		return pkl_err_set(err, PKL_EINPUT, "", "listen: bad port in '%s'", s);
	if (!host[0] || strcmp(host, "*") == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		in->sin_addr.s_addr = htonl(INADDR_ANY);
		*sslen = sizeof(*in);
	} else if (strchr(host, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return pkl_err_set(err, PKL_EINPUT, "", "listen: '%s' is not an IPv6 address", host);
		*sslen = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		/* Addresses only: the server must not depend on a resolver to start. */
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return pkl_err_set(err, PKL_EINPUT, "",
					   "listen: '%s' is not an IPv4 address (names are not resolved)",
					   host);
		*sslen = sizeof(*in);
	}
	return PKL_OK;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: pkilab-cdpd [--config FILE] [--publish DIR]... [--listen ADDR:PORT]...\n"
		"                   [--mirror URL]... [--trust PATH]... [options]\n"
		"Serves CRLs and CA certificates (CDP/AIA) over plain HTTP from validated\n"
		"in-memory snapshots of pkilab publish directories, or mirrors peers.\n\n"
		"  -c, %-27s %s\n",
		"--config FILE", "libconfig file with the settings below (flags win)");
	for (i = 0; i < N_SETTINGS; i++) {
		char flag[64], *p;

		snprintf(flag, sizeof(flag), "--%s %s", settings[i].name, settings[i].arg);
		for (p = flag + 2; *p && *p != ' '; p++)
			if (*p == '_')
				*p = '-';
		if (settings[i].def)
			fprintf(f, "      %-27s %s (default %s)\n", flag, settings[i].help, settings[i].def);
		else
			fprintf(f, "      %-27s %s\n", flag, settings[i].help);
	}
	fprintf(f, "  -h, %-27s this text\n      %-27s the version\n\n", "--help", "--version");
	fprintf(f, "Routes: GET|HEAD /crl/<ca>.crl /aia/<ca>.crt /healthz /metrics /\n"
		   "Signals: SIGHUP reloads (the publish dirs are also watched), SIGTERM stops.\n");
}

/* The table's defaults, applied like any value: --help shows the very
 * strings that set them, so the two cannot disagree. threads stays 0,
 * decided at start (one per CPU, at most 64). */
static enum pkl_rc defaults(struct cdp_config *cfg, struct pkl_err *err)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_SETTINGS; i++)
		if (settings[i].def && apply(cfg, &settings[i], settings[i].def, "", 1, err) != PKL_OK)
			return PKL_ERUNTIME;
	return PKL_OK;
}

const char *cdp_config_where(const struct cdp_config *cfg, const char *name, size_t idx)
{
	const struct setting *s = setting_find(name);

	if (!s || idx >= CDP_LIST_MAX || !cfg->at[s - settings][idx][0])
		return NULL;
	return cfg->at[s - settings][idx];
}

void cdp_config_locate(const struct cdp_config *cfg, struct pkl_err *err)
{
	char msg[sizeof(err->msg)];
	size_t i, k, nl;

	if (!err || !err->where[0])
		return;
	for (i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *const *vals;
		size_t n;

		if (s->type == T_LIST) {
			vals = (const char *const *)((const char *)cfg + s->off);
			n = *(const size_t *)((const char *)cfg + s->count_off);
		} else if (s->type == T_STR) {
			vals = (const char *const *)((const char *)cfg + s->off);
			n = 1;
		} else {
			continue;
		}
		for (k = 0; k < n; k++) {
			int by_name = k == 0 && strcmp(err->where, s->name) == 0;
			const char *rest = err->msg;

			if (!cfg->at[i][k][0] || !(by_name || (vals[k] && strcmp(err->where, vals[k]) == 0)))
				continue;
			nl = strlen(s->name);
			if (strncmp(rest, s->name, nl) == 0 && rest[nl] == ':' && rest[nl + 1] == ' ')
				rest += nl + 2;
			if (by_name)
				snprintf(msg, sizeof(msg), "%s: %s", s->name, rest);
			else
				snprintf(msg, sizeof(msg), "%s: '%s': %s", s->name, vals[k], rest);
			snprintf(err->msg, sizeof(err->msg), "%s", msg);
			snprintf(err->where, sizeof(err->where), "%s", cfg->at[i][k]);
			return;
		}
	}
}

int cdp_config_parse(struct cdp_config *cfg, int argc, char **argv, struct pkl_err *err)
{
	struct option longopts[N_SETTINGS + 4];
	char flagnames[N_SETTINGS][40];
	char where[600];
	const char *config_path = NULL;
	int fresh[N_SETTINGS] = { 0 };
	size_t i;
	int c, idx;

	if (defaults(cfg, err) != PKL_OK)
		return PKL_ERUNTIME;
	for (i = 0; i < N_SETTINGS; i++) {
		char *p;

		snprintf(flagnames[i], sizeof(flagnames[i]), "%s", settings[i].name);
		for (p = flagnames[i]; *p; p++)
			if (*p == '_')
				*p = '-';
		longopts[i].name = flagnames[i];
		longopts[i].has_arg = required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 1000 + (int)i;
	}
	longopts[N_SETTINGS] = (struct option){ "config", required_argument, NULL, 'c' };
	longopts[N_SETTINGS + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[N_SETTINGS + 2] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[N_SETTINGS + 3] = (struct option){ NULL, 0, NULL, 0 };

	/* First pass: only --config and --help, so the file loads before flags apply. */
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, &idx)) != -1) {
		if (c == 'c')
			config_path = optarg;
		else if (c == 'h') {
			usage(stdout);
			return -1;
		} else if (c == 'V') {
			printf("pkilab-cdpd %s\n", PKL_VERSION);
			return -1;
		}
	}
	if (config_path && load_file(cfg, config_path, err) != PKL_OK)
		return PKL_EINPUT;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:h", longopts, &idx)) != -1) {
		if (c == 'c')
			continue;
		if (c == '?')
			return pkl_err_set(err, PKL_EINPUT, "", "unknown option '%s' (see --help)",
					   argv[optind - 1]);
		if (c == ':')
			return pkl_err_set(err, PKL_EINPUT, "", "option '%s' needs a value",
					   argv[optind - 1]);
		if (c >= 1000 && c < 1000 + (int)N_SETTINGS) {
			i = (size_t)(c - 1000);
			snprintf(where, sizeof(where), "--%s", flagnames[i]);
			if (apply(cfg, &settings[i], optarg, where, !fresh[i], err) != PKL_OK)
				return PKL_EINPUT;
			fresh[i] = 1;
		}
	}
	if (optind < argc)
		return pkl_err_set(err, PKL_EINPUT, "", "unexpected argument '%s' (see --help)",
				   argv[optind]);
	/* What a whole configuration must satisfy. */
	snprintf(where, sizeof(where), "%s", cfg->source[0] ? cfg->source : "");
	if (!cfg->n_publish && !cfg->n_mirror)
		return pkl_err_set(err, PKL_EINPUT, where,
				   "nothing to serve: give --publish DIR or --mirror URL");
	if (cfg->n_mirror && !cfg->n_trust && !cfg->n_publish)
		return pkl_err_set(err, PKL_EINPUT, where,
				   "a mirror needs --trust (the CA certificates it accepts CRLs for)");
	if (!cfg->n_listen) {
		cfg->listen[0] = strdup("0.0.0.0:80");
		if (!cfg->listen[0])
			return pkl_err_set(err, PKL_ERUNTIME, "", "out of memory");
		cfg->n_listen = 1;
	}
	return PKL_OK;
}

void cdp_config_free(struct cdp_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_publish; i++)
		free(cfg->publish[i]);
	for (i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i]);
	for (i = 0; i < cfg->n_mirror; i++)
		free(cfg->mirror[i]);
	for (i = 0; i < cfg->n_trust; i++)
		free(cfg->trust[i]);
	free(cfg->user);
	free(cfg->state_dir);
	memset(cfg, 0, sizeof(*cfg));
}
