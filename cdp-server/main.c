/*
 * pkilab-cdpd: serves CRLs and CA certificates for pkilab's CDP and AIA URLs.
 *
 * main() reads the settings, loads the catalog, binds, drops privileges,
 * starts the HTTP daemons and the mirror thread, then runs the control loop:
 * signals (SIGHUP reload, SIGTERM/SIGINT stop) through a signalfd and
 * publish-directory changes through inotify. The loop only asks for reloads:
 * they run on the reloader thread (reloader.c), so a file that blocks in the
 * kernel (a hung network mount) never stops the loop from reading SIGTERM.
 * Exit codes follow the project's contract: 0 clean stop, 2 bad
 * configuration, 3 runtime failure.
 *
 * With state_dir, the CRL-number high-water marks are loaded after the
 * privilege drop (so the directory is proven usable by the user that will
 * write it) and before the first catalog build (so nothing below a mark is
 * ever served, not even for the first second).
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cdpd.h"
#include "pkilab/env.h"

static int fail(const struct pkl_err *err)
{
	char buf[1700];

	fprintf(stderr, "pkilab-cdpd: error: %s\n", pkl_err_str(err, buf, sizeof(buf)));
	return err->rc ? (int)err->rc : PKL_ERUNTIME;
}

/* After binding: a CDP reads public files and needs no privilege at all. */
static enum pkl_rc drop_privileges(const struct cdp_config *cfg, struct pkl_err *err)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (cfg->user)
			pkl_log(PKL_LOG_INFO, "not root: ignoring user '%s'", cfg->user);
		return PKL_OK;
	}
	if (!cfg->user) {
		pkl_log(PKL_LOG_WARN, "running as root: set 'user' (--user) to drop privileges");
		return PKL_OK;
	}
	if (strcmp(cfg->user, "root") == 0)
		return PKL_OK;
	pw = getpwnam(cfg->user);
	if (!pw)
		return pkl_err_set(err, PKL_EINPUT, "user", "unknown user '%s'", cfg->user);
	if (setgroups(0, NULL) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		return pkl_err_sys(err, "user", "cannot drop privileges to '%s'", cfg->user);
	if (setuid(0) == 0)
		return pkl_err_set(err, PKL_ERUNTIME, "user", "privileges were not dropped");
	pkl_log(PKL_LOG_INFO, "running as user '%s' (uid %u)", cfg->user, (unsigned)pw->pw_uid);
	return PKL_OK;
}

/* Each connection is a descriptor: lift the soft limit towards what the
 * connection limit needs (the hard limit caps it; a sandbox may forbid it). */
static void raise_fd_limit(const struct cdp_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->connection_limit + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		pkl_log(PKL_LOG_DEBUG, "cannot raise the descriptor limit: %s", strerror(errno));
	if (rl.rlim_cur < want)
		pkl_log(PKL_LOG_WARN,
			"descriptor limit %llu is below connection_limit: raise LimitNOFILE / ulimit -n",
			(unsigned long long)rl.rlim_cur);
}

/* The marks of state_dir, handed to the catalog; without state_dir, says
 * what is lost at a restart. */
static enum pkl_rc open_state(const struct cdp_config *cfg, struct cdp_catalog *cat, struct pkl_err *err)
{
	struct cdp_state *st;

	if (!cfg->state_dir) {
		pkl_log(PKL_LOG_INFO, "no state_dir: rollback protection (refusing a lower CRL number) lasts "
				      "only while the process runs");
		return PKL_OK;
	}
	st = cdp_state_open(cfg->state_dir, err);
	if (!st)
		return err->rc;
	pkl_log(PKL_LOG_INFO, "rollback protection: %zu CRL number high-water mark(s) in %s", st->n,
		st->path);
	cdp_catalog_set_state(cat, st);
	return PKL_OK;
}

/* Logs and handles the signals read from sfd during the start; returns 0
 * when asked to stop. A SIGHUP asks for one more reload. */
static int start_signals(int sfd, struct cdp_reloader *rl)
{
	struct signalfd_siginfo si;
	int running = 1;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			pkl_log(PKL_LOG_INFO, "SIGHUP: reloading");
			cdp_reloader_request(rl, "SIGHUP");
		} else {
			pkl_log(PKL_LOG_INFO, "%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			running = 0;
		}
	}
	return running;
}

/* Waits until the first reload completed (nothing is served before it),
 * reading signals meanwhile: SIGTERM stops a start blocked on a hung file.
 * Returns 1 when done, 0 when asked to stop, -1 on a poll error. */
static int wait_first_reload(int sfd, struct cdp_reloader *rl)
{
	for (;;) {
		struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { cdp_reloader_fd(rl), POLLIN, 0 } };

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((pfd[0].revents & POLLIN) && !start_signals(sfd, rl))
			return 0;
		if ((pfd[1].revents & POLLIN) && cdp_reloader_done(rl) > 0)
			return 1;
	}
}

int main(int argc, char **argv)
{
	struct cdp_config cfg;
	struct pkl_err err = { 0 };
	struct cdp_ctx *ctx = NULL;
	struct cdp_server *srv = NULL;
	struct cdp_reloader *rl = NULL;
	sigset_t mask;
	int rc, sfd = -1, wfd = -1, pending = 0, running = 1;

	rc = cdp_config_parse(&cfg, argc, argv, &err);
	if (rc == -1) {
		cdp_config_free(&cfg);
		return 0;
	}
	if (rc != PKL_OK) {
		rc = fail(&err);
		cdp_config_free(&cfg);
		return rc;
	}
	{
		/* The environment is read once, here (pkilab/env.h). */
		pkl_time now;
		int now_set;

		if (pkl_env_read_now(getenv, &now_set, &now, &err) != PKL_OK) {
			rc = fail(&err);
			cdp_config_free(&cfg);
			return rc;
		}
		pkl_time_set_now(now_set ? &now : NULL);
		cdp_log_init(cfg.log_level);
		if (now_set) {
			char fixed[32], real[32];

			/* Every CRL judged fresh or stale depends on it: say so once. */
			pkl_log(PKL_LOG_WARN, "PKILAB_NOW sets the clock to %s (the system clock reads %s)",
				pkl_time_fmt(now, fixed, sizeof(fixed)),
				pkl_time_fmt((pkl_time)time(NULL), real, sizeof(real)));
		}
	}
	raise_fd_limit(&cfg);
	/* Signals are taken synchronously by the control loop; worker threads
	 * inherit the blocked mask, and a closed client socket must not kill us. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		pkl_err_sys(&err, "", "signalfd");
		goto failed;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pkl_err_set(&err, PKL_ERUNTIME, "", "cannot initialise libcurl");
		goto failed;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		pkl_err_set(&err, PKL_ERUNTIME, "", "out of memory");
		goto failed;
	}
	ctx->cfg = &cfg;
	ctx->started = pkl_time_now();
	ctx->cat = cdp_catalog_new(&cfg);
	if (!ctx->cat) {
		pkl_err_set(&err, PKL_ERUNTIME, "", "out of memory");
		goto failed;
	}
	srv = cdp_server_bind(&cfg, &err);
	if (!srv)
		goto failed;
	if (drop_privileges(&cfg, &err) != PKL_OK)
		goto failed;
	if (open_state(&cfg, ctx->cat, &err) != PKL_OK)
		goto failed;
	/* Loaded after the drop: the files must be readable by the user we run as. */
	rl = cdp_reloader_start(ctx->cat, &err);
	if (!rl)
		goto failed;
	cdp_reloader_request(rl, "start");
	running = wait_first_reload(sfd, rl);
	if (running < 0) {
		pkl_err_sys(&err, "", "poll");
		goto failed;
	}
	if (!running) {
		rc = 0;
		goto out;
	}
	/* The watches are (re-)armed on this thread after each reload request:
	 * inotify_add_watch(2) resolves the directories, so a publish directory
	 * that itself hangs can still stall the loop there (files in it cannot). */
	wfd = cdp_watch_open(&cfg, -1, &err);
	ctx->server = srv;
	if (cdp_server_start(srv, ctx, &err) != PKL_OK)
		goto failed;
	ctx->mirror = cdp_mirror_start(&cfg, ctx->cat, &err);
	if (cfg.n_mirror && !ctx->mirror)
		goto failed;
	pkl_log(PKL_LOG_INFO, "started (pid %ld)", (long)getpid());

	while (running) {
		struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { wfd, POLLIN, 0 } };
		int n = poll(pfd, wfd >= 0 ? 2 : 1, pending ? 150 : 30000);

		if (n < 0 && errno != EINTR) {
			pkl_err_sys(&err, "", "poll");
			goto failed;
		}
		if (n == 0 && pending) {
			/* Quiet for 150 ms after a change: rebuild once, re-arm the watches
			 * (crl/ or aia/ may have been created or replaced). */
			pending = 0;
			cdp_reloader_request(rl, "publish directory changed");
			wfd = cdp_watch_open(&cfg, wfd, &err);
			continue;
		}
		if (n == 0) {
			/* A rescan now and then covers what inotify cannot see (NFS,
			 * a directory replaced wholesale); unchanged files cost a memcmp. */
			cdp_reloader_request(rl, "periodic rescan");
			wfd = cdp_watch_open(&cfg, wfd, &err);
			continue;
		}
		if (n > 0 && wfd >= 0 && (pfd[1].revents & POLLIN) && cdp_watch_drain(wfd))
			pending = 1;
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					pkl_log(PKL_LOG_INFO, "SIGHUP: reloading");
					cdp_reloader_request(rl, "SIGHUP");
					wfd = cdp_watch_open(&cfg, wfd, &err);
					cdp_mirror_wake(ctx->mirror);
				} else {
					pkl_log(PKL_LOG_INFO, "%s: stopping",
						si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
					running = 0;
				}
			}
		}
	}
	rc = 0;
	goto out;
failed:
	cdp_config_locate(&cfg, &err); /* "cdpd.conf:7: listen: ..." rather than the bare value */
	rc = fail(&err);
out:
	if (cdp_reloader_stop(rl, 5) != 0) {
		/* A reload is blocked in the kernel (a file on a hung mount). Its
		 * thread still uses the catalog and the settings: both are left
		 * allocated (a deliberate leak, on this path only), and the process
		 * ends with _exit(2) so that no atexit teardown (OpenSSL, libcurl)
		 * runs under that thread; the mirror may be waiting for the same
		 * build lock, so it is not joined either. */
		pkl_log(PKL_LOG_WARN, "a catalog reload is still blocked reading the publish directory (a "
				      "hung mount?): exiting without waiting for it");
		fflush(NULL);
		_exit(rc);
	}
	if (ctx)
		cdp_mirror_stop(ctx->mirror);
	cdp_server_stop(srv);
	if (ctx)
		cdp_catalog_free(ctx->cat);
	free(ctx);
	if (wfd >= 0)
		close(wfd);
	if (sfd >= 0)
		close(sfd);
	curl_global_cleanup();
	if (rc == 0)
		pkl_log(PKL_LOG_INFO, "stopped");
	cdp_config_free(&cfg);
	return rc;
}
