/* Typed option tables over getopt_long, shared by every command. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "pkilab/lab.h"
#include "pkilab/log.h"

#define MAX_OPTS 64

static const struct cli_opt common_opts[] = {
	{ "pki", 0, CLI_STR, NULL, "DIR", "the PKI directory (default $PKILAB_DIR, else ./pki)" },
	{ "json", 0, CLI_FLAG, NULL, NULL, "machine-readable output" },
	{ "verbose", 'v', CLI_FLAG, NULL, NULL, "more detail on stderr" },
	{ "quiet", 'q', CLI_FLAG, NULL, NULL, "only errors on stderr" },
	{ "help", 'h', CLI_FLAG, NULL, NULL, "this help" },
};
#define N_COMMON (sizeof(common_opts) / sizeof(common_opts[0]))

static void print_help(const struct pkl_cli *cli, const struct cli_opt *opts, const char *usage)
{
	printf("usage: %s %s\n\noptions:\n", cli->prog, usage);
	for (int pass = 0; pass < 2; pass++) {
		const struct cli_opt *o = pass ? common_opts : opts;
		size_t n = pass ? N_COMMON : SIZE_MAX;
		for (size_t i = 0; o && i < n && o[i].name; i++) {
			char left[64];
			snprintf(left, sizeof(left), "%s%c%s--%s%s%s", o[i].short_name ? "-" : "",
				 o[i].short_name ? o[i].short_name : ' ', o[i].short_name ? ", " : " ",
				 o[i].name, o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
			const char *help = o[i].help;
			if (pass && i == 0 && cli->pki_help) /* --pki: the command's own default */
				help = cli->pki_help;
			printf("  %-28s %s\n", left + (o[i].short_name ? 0 : 1), help);
		}
	}
}

/* A clock moved by PKILAB_NOW decides every validity and CRL date the
 * command reports or signs; say so once, where -q can silence it, so a
 * variable forgotten in a shell never passes unnoticed. */
static void announce_clock(struct pkl_cli *cli)
{
	char fixed[32], real[32];

	if (!cli->env.now_set || cli->clock_announced)
		return;
	cli->clock_announced = 1;
	pkl_warn("PKILAB_NOW sets the clock to %s (the system clock reads %s)",
		 pkl_time_fmt(cli->env.now, fixed, sizeof(fixed)),
		 pkl_time_fmt((pkl_time)time(NULL), real, sizeof(real)));
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, struct pkl_cli *cli, const char *usage,
	      int *npos)
{
	struct option lopts[MAX_OPTS + N_COMMON + 1];
	const struct cli_opt *map[MAX_OPTS + N_COMMON];
	const char *names[MAX_OPTS + N_COMMON + 1];
	char shorts[2 * (MAX_OPTS + N_COMMON) + 3] = "+:"; /* '+': stop at nothing, we permute below */
	size_t n = 0, sl = 2;
	char *pos[256];
	int np = 0, c, idx;

	shorts[0] = ':';
	shorts[1] = '\0';
	sl = 1;
	for (int pass = 0; pass < 2; pass++) {
		const struct cli_opt *o = pass ? common_opts : opts;
		size_t lim = pass ? N_COMMON : MAX_OPTS;
		for (size_t i = 0; i < lim && o && o[i].name; i++) {
			lopts[n].name = o[i].name;
			lopts[n].has_arg = o[i].type == CLI_FLAG ? no_argument : required_argument;
			lopts[n].flag = NULL;
			lopts[n].val = 1000 + (int)n;
			map[n] = &o[i];
			names[n] = o[i].name;
			if (o[i].short_name) {
				shorts[sl++] = (char)o[i].short_name;
				if (o[i].type != CLI_FLAG)
					shorts[sl++] = ':';
			}
			n++;
		}
	}
	memset(&lopts[n], 0, sizeof(lopts[n]));
	names[n] = NULL;
	shorts[sl] = '\0';

	optind = 1;
	opterr = 0;
	for (;;) {
		const struct cli_opt *o = NULL;
		idx = -1;
		/* Collect positionals ourselves so options may follow them. */
		while (optind < argc && (argv[optind][0] != '-' || !argv[optind][1])) {
			if (np < (int)(sizeof(pos) / sizeof(pos[0])))
				pos[np++] = argv[optind];
			optind++;
		}
		if (optind < argc && !strcmp(argv[optind], "--")) {
			for (optind++; optind < argc; optind++)
				if (np < (int)(sizeof(pos) / sizeof(pos[0])))
					pos[np++] = argv[optind];
			break;
		}
		c = getopt_long(argc, argv, shorts, lopts, &idx);
		if (c == -1)
			break;
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			if (c == ':')
				return cli_usage_error(cli, "option '%s' needs an argument", bad);
			const char *word = bad;
			while (*word == '-')
				word++;
			char stem[64];
			snprintf(stem, sizeof(stem), "%.*s", (int)strcspn(word, "="), word);
			const char *s = pkl_suggest(stem, names);
			if (s)
				return cli_usage_error(cli, "unknown option '%s' (did you mean '--%s'?)", bad,
						       s);
			return cli_usage_error(cli, "unknown option '%s'", bad);
		}
		if (c >= 1000) {
			o = map[c - 1000];
			/* getopt_long accepts unique prefixes; we do not: "--password"
			 * must never be taken for "--password-file". */
			const char *typed = argv[optind - 1];
			if (o->type != CLI_FLAG && optarg == argv[optind - 1])
				typed = argv[optind - 2];
			if (!strncmp(typed, "--", 2)) {
				size_t tl = strcspn(typed + 2, "=");
				if (tl != strlen(o->name) || strncmp(typed + 2, o->name, tl) != 0)
					return cli_usage_error(cli,
							       "unknown option '%.*s' (did you mean '--%s'?)",
							       (int)(tl + 2), typed, o->name);
			}
		} else
			for (size_t i = 0; i < n; i++)
				if (map[i]->short_name == c)
					o = map[i];
		if (!o)
			return cli_usage_error(cli, "bad option");
		if (o >= common_opts && o < common_opts + N_COMMON) {
			switch (o - common_opts) {
			case 0: cli->pki_dir = optarg; break;
			case 1: cli->json = 1; break;
			case 2: cli->verbose++; break;
			case 3: cli->verbose = -1; break;
			case 4: print_help(cli, opts, usage); return -1;
			}
			continue;
		}
		switch (o->type) {
		case CLI_FLAG: *(int *)o->dest = 1; break;
		case CLI_STR: *(const char **)o->dest = optarg; break;
		case CLI_INT: {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || !*optarg || *end)
				return cli_usage_error(cli, "option '--%s' expects a number, not '%s'",
						       o->name, optarg);
			*(long *)o->dest = v;
			break;
		}
		case CLI_LIST: {
			struct cli_list *l = o->dest;
			if (l->n >= CLI_LIST_MAX)
				return cli_usage_error(cli, "too many '--%s' options", o->name);
			l->v[l->n++] = optarg;
			break;
		}
		}
	}
	for (int i = 0; i < np; i++)
		argv[1 + i] = pos[i];
	*npos = np;
	if (cli->verbose < 0)
		pkl_log_set_level(PKL_LOG_ERROR);
	else if (cli->verbose == 1)
		pkl_log_set_level(PKL_LOG_INFO);
	else if (cli->verbose > 1)
		pkl_log_set_level(PKL_LOG_DEBUG);
	announce_clock(cli);
	return PKL_OK;
}

int cli_fail(const struct pkl_cli *cli, const struct pkl_err *err)
{
	char buf[2048];

	fprintf(stderr, "%s: error: %s\n", cli->prog, pkl_err_str(err, buf, sizeof(buf)));
	return err->rc ? (int)err->rc : PKL_ERUNTIME;
}

int cli_usage_error(const struct pkl_cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: error: %s: ", cli->prog, cli->command ? cli->command : "usage");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return PKL_EINPUT;
}

const char *cli_pki_dir(const struct pkl_cli *cli)
{
	return cli->pki_dir ? cli->pki_dir : "pki";
}

void cli_print_json(struct pkl_cli *cli, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	if (!s || puts(s) < 0) {
		fprintf(stderr, "%s: error: %s: cannot print the JSON result\n", cli->prog,
			cli->command ? cli->command : "output");
		cli->output_failed = 1;
	}
	free(s);
}
