/*
 * Reload on change: inotify on each publish directory and its crl/ and aia/
 * subdirectories. pkilab writes files atomically (temp + rename), which shows
 * up as IN_MOVED_TO; editors and cp show IN_CLOSE_WRITE. The main loop waits
 * for a short quiet period after the last event before rebuilding, so a
 * burst of renames becomes one reload.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cdpd.h"

#define WATCH_MASK                                                                               \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ATTRIB)

int cdp_watch_open(const struct cdp_config *cfg, int fd, struct pkl_err *err)
{
	static const char *const sub[] = { "", "/crl", "/aia" };
	char path[4096];
	size_t i, j;
	int n = 0, fresh = fd < 0;

	if (!cfg->n_publish && !cfg->n_trust)
		return fd;
	if (fresh)
		fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		pkl_err_sys(err, "", "inotify");
		return -1;
	}
	for (i = 0; i < cfg->n_publish; i++)
		for (j = 0; j < 3; j++) {
			if ((size_t)snprintf(path, sizeof(path), "%s%s", cfg->publish[i], sub[j]) >=
			    sizeof(path))
				continue;
			/* A missing crl/ or aia/ is fine: the parent's IN_CREATE triggers a
			 * reload, which re-arms the watches on the same fd (adding a watch
			 * twice is harmless, and no event is lost in between). */
			if (inotify_add_watch(fd, path, WATCH_MASK | IN_ONLYDIR) >= 0)
				n++;
		}
	for (i = 0; i < cfg->n_trust; i++)
		if (inotify_add_watch(fd, cfg->trust[i], WATCH_MASK) >= 0)
			n++;
	if (!n && fresh) {
		close(fd);
		return -1;
	}
	return fd;
}

int cdp_watch_drain(int fd)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;
	ssize_t r;

	for (;;) {
		char *p;

		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		for (p = buf; p < buf + r;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			/* Temporary files of an atomic write (".name.tmp-XXXXXX") are noise
			 * until renamed; anything else may change the catalog. */
			if (!(ev->len && ev->name[0] == '.'))
				any = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return any;
}
