/*
 * pkilab graph [--out FILE] [--format dot|svg] [--all] [--at TIME] [--margin DURATION] [--no-legend]
 *              [--json]
 *
 * The hierarchy as Graphviz DOT: every CA and certificate with its validity
 * and revocation state, each CA's published CRL with its health, colour-coded
 * (ca/lib/graph.c). DOT goes to stdout by default; --out writes a file
 * atomically, as SVG when its name ends in .svg (or with --format svg), which
 * runs Graphviz's `dot -Tsvg` (exit 3 with a hint when it is not installed).
 * --json prints the same model (states, texts, CRL health) for scripts.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "pkilab/file.h"
#include "pkilab/graph.h"
#include "pkilab/pki.h"

extern char **environ;

#define DOT_DEADLINE_S 60 /* a layout of a lab-sized graph takes milliseconds */

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Runs `dot -Tsvg FILE` on the DOT text and collects its output, bounded by
 * DOT_DEADLINE_S. The DOT goes through a temporary file so that only one
 * pipe is in play and dot can never block us writing its input. */
static enum pkl_rc render_svg(const struct pkl_buf *dot, const char *tmpdir, struct pkl_buf *svg,
			      struct pkl_err *err)
{
	char in[4096];
	int fd = -1, pipefd[2] = { -1, -1 }, status, started = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	time_t deadline = time(NULL) + DOT_DEADLINE_S;
	enum pkl_rc rc = PKL_ERUNTIME;

	snprintf(in, sizeof(in), "%s/pkilab-graph.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if ((fd = mkstemp(in)) < 0) {
		pkl_err_sys(err, in, "mkstemp");
		in[0] = '\0';
		goto out;
	}
	if (write(fd, dot->data, dot->len) != (ssize_t)dot->len || close(fd) != 0) {
		fd = -1;
		pkl_err_sys(err, in, "write");
		goto out;
	}
	fd = -1;
	if (pipe(pipefd) != 0) {
		pkl_err_sys(err, "graph", "pipe");
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		pkl_err_sys(err, "graph", "posix_spawn_file_actions_init");
		goto out;
	}
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	{
		char *argv[] = { "dot", "-Tsvg", in, NULL };
		int e = posix_spawnp(&pid, "dot", &fa, NULL, argv, environ);

		posix_spawn_file_actions_destroy(&fa);
		if (e != 0) {
			pkl_err_set(err, PKL_ERUNTIME, "graph",
				    "cannot run graphviz 'dot' (%s): install graphviz, or write DOT with "
				    "--format dot",
				    strerror(e));
			goto out;
		}
	}
	started = 1;
	close(pipefd[1]);
	pipefd[1] = -1;
	for (;;) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		char chunk[65536];
		ssize_t n;
		time_t left = deadline - time(NULL);

		if (left <= 0) {
			pkl_err_set(err, PKL_ERUNTIME, "graph", "dot did not finish within %d s",
				    DOT_DEADLINE_S);
			kill(pid, SIGKILL);
			goto out;
		}
		if (poll(&p, 1, (int)left * 1000) < 0 && errno != EINTR) {
			pkl_err_sys(err, "graph", "poll");
			goto out;
		}
		n = read(pipefd[0], chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pkl_err_sys(err, "graph", "read from dot");
			goto out;
		}
		if (pkl_buf_append(svg, chunk, (size_t)n) != PKL_OK) {
			pkl_err_set(err, PKL_ERUNTIME, "graph", "out of memory");
			kill(pid, SIGKILL);
			goto out;
		}
	}
	rc = PKL_OK;
out:
	if (started) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (rc == PKL_OK && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
			/* 127: the shell convention posix_spawnp's child uses when exec fails */
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
				pkl_err_set(err, PKL_ERUNTIME, "graph",
					    "graphviz 'dot' not found: install graphviz, "
					    "or write DOT with --format dot");
			else
				pkl_err_set(err, PKL_ERUNTIME, "graph", "dot -Tsvg failed (status %d)",
					    status);
			rc = PKL_ERUNTIME;
		}
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (fd >= 0)
		close(fd);
	if (in[0])
		unlink(in);
	return rc;
}

int cmd_graph(int argc, char **argv, struct pkl_cli *cli)
{
	const char *out_path = NULL, *format = NULL, *at = NULL, *margin = "30d";
	int all = 0, no_legend = 0, npos, status, svg;
	const struct cli_opt opts[] = {
		{ "out", 'o', CLI_STR, &out_path, "FILE",
		  "write to FILE (atomically) instead of stdout; .svg means SVG" },
		{ "format", 'f', CLI_STR, &format, "FMT",
		  "dot or svg (default: from --out's name, else dot)" },
		{ "all", 'a', CLI_FLAG, &all, NULL, "also certificates superseded by renewals" },
		{ "at", 0, CLI_STR, &at, "TIME",
		  "judge validity at TIME (absolute or relative, default now)" },
		{ "margin", 0, CLI_STR, &margin, "DURATION",
		  "amber when a certificate expires within this (default 30d)" },
		{ "no-legend", 0, CLI_FLAG, &no_legend, NULL, "leave out the colour legend" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_graph_opts go = { 0 };
	struct pkl_buf dot = PKL_BUF_INIT, svgbuf = PKL_BUF_INIT;
	const struct pkl_buf *result = &dot;
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;

	status = cli_parse(
		argc, argv, opts, cli,
		"graph [--out FILE] [--format dot|svg] [--all] [--at TIME] [--margin DURATION] [--no-legend]",
		&npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (format && strcmp(format, "dot") != 0 && strcmp(format, "svg") != 0)
		return cli_usage_error(cli, "unknown format '%s' (dot or svg)", format);
	svg = format ? !strcmp(format, "svg") : out_path && ends_with(out_path, ".svg") && !cli->json;
	if (svg && cli->json)
		return cli_usage_error(cli, "--json and SVG output exclude each other");

	go.now = pkl_time_now();
	go.legend = !no_legend;
	go.all = all;
	if (at && pkl_time_parse(at, go.now, &go.now, &err) != PKL_OK) {
		pkl_err_where(&err, "--at");
		goto fail;
	}
	if (pkl_duration_parse(margin, 0, &go.margin, &err) != PKL_OK) {
		pkl_err_where(&err, "--margin");
		goto fail;
	}
	if (!(pki = pkl_pki_open(cli_pki_dir(cli), 0, &err)))
		goto fail;
	if ((cli->json ? pkl_graph_json(pki, &go, &dot, &err) : pkl_graph_dot(pki, &go, &dot, &err)) !=
	    PKL_OK)
		goto fail;
	if (svg) {
		if (render_svg(&dot, cli->env.tmpdir, &svgbuf, &err) != PKL_OK)
			goto fail;
		result = &svgbuf;
	}
	if (out_path) {
		if (pkl_file_write_atomic(out_path, result->data, result->len, 0644, &err) != PKL_OK)
			goto fail;
	} else if (fwrite(result->data, 1, result->len, stdout) != result->len || fflush(stdout) != 0) {
		pkl_err_sys(&err, "stdout", "write");
		goto fail;
	}
	pkl_buf_free(&dot);
	pkl_buf_free(&svgbuf);
	pkl_pki_close(pki);
	return 0;
fail:
	pkl_buf_free(&dot);
	pkl_buf_free(&svgbuf);
	pkl_pki_close(pki);
	return cli_fail(cli, &err);
}
