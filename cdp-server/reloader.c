/*
 * The reloader: one thread that runs cdp_catalog_reload() on request, so the
 * control loop (signals, inotify) never waits on the filesystem. A regular
 * file on a hard-mounted network filesystem that stops answering blocks
 * open(2) or read(2) in the kernel with no timeout (nfs(5), "hard" mount
 * option); on this thread such a hang delays the next snapshot, never
 * SIGTERM. Requests made while a reload runs coalesce into one more reload
 * (the last reason wins): each reload reads everything afresh.
 *
 * Safe from another thread: the catalog serialises builds under its
 * build_lock (the mirror thread already offers CRLs concurrently), and
 * readers take snapshots without that lock.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cdpd.h"

struct cdp_reloader {
	struct cdp_catalog *cat;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *why;    /* the pending request (a static string); NULL: none */
	unsigned long done; /* reloads completed */
	int stop;
	int efd; /* eventfd: counts completed reloads, for the control loop's poll */
	pthread_t thread;
};

static void *reloader_main(void *arg)
{
	struct cdp_reloader *r = arg;
	const char *why;
	uint64_t one = 1;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->why && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop)
			break;
		why = r->why;
		r->why = NULL;
		pthread_mutex_unlock(&r->lock);
		cdp_catalog_reload(r->cat, why);
		pthread_mutex_lock(&r->lock);
		r->done++;
		(void)!write(r->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct cdp_reloader *cdp_reloader_start(struct cdp_catalog *cat, struct pkl_err *err)
{
	struct cdp_reloader *r = calloc(1, sizeof(*r));
	int e;

	if (!r) {
		pkl_err_set(err, PKL_ERUNTIME, "", "out of memory");
		return NULL;
	}
	r->cat = cat;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		pkl_err_sys(err, "", "eventfd");
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	e = pthread_create(&r->thread, NULL, reloader_main, r);
	if (e != 0) {
		errno = e;
		pkl_err_sys(err, "", "cannot start the reloader thread");
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		close(r->efd);
		free(r);
		return NULL;
	}
	return r;
}

void cdp_reloader_request(struct cdp_reloader *r, const char *why)
{
	pthread_mutex_lock(&r->lock);
	r->why = why;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

int cdp_reloader_fd(const struct cdp_reloader *r)
{
	return r->efd;
}

unsigned long cdp_reloader_done(struct cdp_reloader *r)
{
	unsigned long n;
	uint64_t v;

	(void)!read(r->efd, &v, sizeof(v)); /* re-arms the poll; the count is r->done */
	pthread_mutex_lock(&r->lock);
	n = r->done;
	pthread_mutex_unlock(&r->lock);
	return n;
}

int cdp_reloader_stop(struct cdp_reloader *r, int seconds)
{
	struct timespec until;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	if (pthread_timedjoin_np(r->thread, NULL, &until) != 0)
		return -1; /* still inside a reload: r and the catalog stay allocated */
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	close(r->efd);
	free(r);
	return 0;
}
