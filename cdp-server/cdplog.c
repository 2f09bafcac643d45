/*
 * The server's log: one line per event on stderr (journald adds nothing
 * when run under systemd but a timestamp is useful everywhere else), each
 * written with a single write(2) so lines from worker threads never interleave.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdpd.h"

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return; /* nowhere to report a failing log */
		s += w;
		n -= (size_t)w;
	}
}

static void stamp(char out[64])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* One line "<time> pkilab-cdpd: <kind>: <msg>\n", cut (keeping its newline)
 * when too long, written at once. */
static void emit(const char *kind, const char *msg, size_t len)
{
	char line[2300], ts[64];
	int n;

	stamp(ts);
	n = snprintf(line, sizeof(line), "%s pkilab-cdpd: %s: %.*s\n", ts, kind,
		     (int)(len < sizeof(line) ? len : sizeof(line)), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	write_all(line, (size_t)n);
}

static void sink(enum pkl_log_level level, const char *msg, void *cls)
{
	static const char *const label[] = { "error", "warning", "info", "debug" };

	(void)cls;
	emit(label[(unsigned)level < 4 ? level : 3], msg, strlen(msg));
}

void cdp_log_init(enum pkl_log_level level)
{
	pkl_log_set_sink(sink, NULL);
	pkl_log_set_level(level);
}

void cdp_log_access(const char *msg, size_t len)
{
	emit("access", msg, len);
}

void cdp_log_escape(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			if (size - o < 5)
				break;
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			if (size - o < 2)
				break;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}
