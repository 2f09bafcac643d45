/*
 * CLI plumbing shared by every command: global options, typed option tables
 * over getopt_long, and printing an error once at the top.
 */
#ifndef PKILAB_CLI_H
#define PKILAB_CLI_H

#include <stdio.h>
#include "pkilab/env.h"
#include "pkilab/err.h"

struct pkl_cli {
	const char *prog;     /* "pkilab" */
	const char *command;  /* "build" */
	const char *pki_dir;  /* --pki, else $PKILAB_DIR, else NULL (command decides) */
	const char *pki_help; /* --help's line for --pki when the command decides; NULL: ./pki */
	int json;             /* --json */
	int verbose;          /* -v count; -q sets -1 */
	int output_failed;    /* a result could not be printed: main() exits 3 */
	struct pkl_env env;   /* the environment, read once by main() */
	int clock_announced;  /* the PKILAB_NOW warning was printed */
};

enum cli_opt_type {
	CLI_FLAG, /* int: set to 1 */
	CLI_STR,  /* const char *: the argument */
	CLI_INT,  /* long: a decimal number */
	CLI_LIST, /* struct cli_list: repeatable string */
};

#define CLI_LIST_MAX 32
struct cli_list {
	const char *v[CLI_LIST_MAX];
	size_t n;
};

struct cli_opt {
	const char *name; /* long name without "--" */
	int short_name;   /* 0 if none */
	enum cli_opt_type type;
	void *dest;
	const char *arg; /* argument name for help, e.g. "DIR" */
	const char *help;
};

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct pkl_cli *cli);
	const char *summary;
};

/* Parses argv (argv[0] is the command name) with opts plus the common ones
 * (--pki, --json, -v, -q, -h). Positional arguments are moved to the front:
 * on success *npos is their count and argv[1..npos] holds them.
 * Returns PKL_OK, PKL_EINPUT (error already printed), or -1 after --help. */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, struct pkl_cli *cli, const char *usage,
	      int *npos);

/* Prints "pkilab: error: WHERE: MESSAGE" and returns err->rc (the exit code). */
int cli_fail(const struct pkl_cli *cli, const struct pkl_err *err);
/* Prints a usage error and returns PKL_EINPUT. */
int cli_usage_error(const struct pkl_cli *cli, const char *fmt, ...) PKL_PRINTF(2, 3);

/* Prints a jansson value on stdout, indented, keys in insertion order (v
 * stays the caller's). A value that cannot be printed (NULL from a failed
 * json_pack, no memory) is an error line and exit status 3, never silence. */
struct json_t;
void cli_print_json(struct pkl_cli *cli, struct json_t *v);

/* The PKI directory for commands other than build: --pki, $PKILAB_DIR, ./pki. */
const char *cli_pki_dir(const struct pkl_cli *cli);

/* Every command: ca/commands/<name>.c */
int cmd_build(int argc, char **argv, struct pkl_cli *cli);
int cmd_issue(int argc, char **argv, struct pkl_cli *cli);
int cmd_list(int argc, char **argv, struct pkl_cli *cli);
int cmd_show(int argc, char **argv, struct pkl_cli *cli);
int cmd_revoke(int argc, char **argv, struct pkl_cli *cli);
int cmd_crl(int argc, char **argv, struct pkl_cli *cli);
int cmd_export(int argc, char **argv, struct pkl_cli *cli);
int cmd_expiring(int argc, char **argv, struct pkl_cli *cli);
int cmd_renew(int argc, char **argv, struct pkl_cli *cli);
int cmd_doctor(int argc, char **argv, struct pkl_cli *cli);
int cmd_lint(int argc, char **argv, struct pkl_cli *cli);
int cmd_graph(int argc, char **argv, struct pkl_cli *cli);

#endif
