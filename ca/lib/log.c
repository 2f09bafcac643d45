/* The replaceable diagnostic sink (see pkilab/log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "pkilab/log.h"

static void default_sink(enum pkl_log_level level, const char *msg, void *cls)
{
	static const char *const label[] = { "error", "warning", "info", "debug" };

	(void)cls;
	fprintf(stderr, "pkilab: %s: %s\n", label[level], msg);
}

/* Process-wide by nature: there is one stderr and one log level per process. */
static pkl_log_sink_fn sink = default_sink;
static void *sink_cls;
static enum pkl_log_level max_level = PKL_LOG_WARN;

void pkl_log_set_sink(pkl_log_sink_fn fn, void *cls)
{
	sink = fn ? fn : default_sink;
	sink_cls = cls;
}

void pkl_log_set_level(enum pkl_log_level level)
{
	max_level = level;
}

enum pkl_log_level pkl_log_get_level(void)
{
	return max_level;
}

void pkl_log(enum pkl_log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sink(level, msg, sink_cls);
}
