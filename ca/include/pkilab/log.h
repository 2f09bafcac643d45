/*
 * Diagnostics for humans go through one replaceable sink, so the CLI prints
 * them to stderr, the server into its log format, and tests can capture them.
 */
#ifndef PKILAB_LOG_H
#define PKILAB_LOG_H

#include "err.h"

enum pkl_log_level {
	PKL_LOG_ERROR = 0,
	PKL_LOG_WARN,
	PKL_LOG_INFO,
	PKL_LOG_DEBUG
};

typedef void (*pkl_log_sink_fn)(enum pkl_log_level level, const char *msg, void *cls);

void pkl_log_set_sink(pkl_log_sink_fn fn, void *cls);
void pkl_log_set_level(enum pkl_log_level level);
enum pkl_log_level pkl_log_get_level(void);
void pkl_log(enum pkl_log_level level, const char *fmt, ...) PKL_PRINTF(2, 3);

#define pkl_warn(...)  pkl_log(PKL_LOG_WARN, __VA_ARGS__)
#define pkl_info(...)  pkl_log(PKL_LOG_INFO, __VA_ARGS__)
#define pkl_debug(...) pkl_log(PKL_LOG_DEBUG, __VA_ARGS__)

#endif
