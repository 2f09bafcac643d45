/*
 * Times in lab files: absolute ("2026-01-01T00:00:00Z", "2026-01-01") or
 * relative to a reference moment ("397d", "-30d", "+10m", "1h", "2y", "now").
 * Durations ("7d", "825d", "90m") use the same units: s m h d w y (y = 365 d).
 * All times are seconds since the Unix epoch, UTC.
 */
#ifndef PKILAB_PTIME_H
#define PKILAB_PTIME_H

#include <stdint.h>
#include <stddef.h>
#include "err.h"

typedef int64_t pkl_time;

/* Parses an absolute or relative time; relative ones are taken from `now`. */
enum pkl_rc pkl_time_parse(const char *s, pkl_time now, pkl_time *out, struct pkl_err *err);
/* Parses a duration; negative values allowed only if allow_negative. */
enum pkl_rc pkl_duration_parse(const char *s, int allow_negative, int64_t *out, struct pkl_err *err);
/* "2026-11-27T17:01:39Z" */
const char *pkl_time_fmt(pkl_time t, char *buf, size_t len);
/* "3d 4h", "-12m": for reports. */
const char *pkl_duration_fmt(int64_t secs, char *buf, size_t len);
/* The current time, or the one fixed by pkl_time_set_now (PKILAB_NOW, read by
 * the programs' main through pkl_env_read, for tests and fixtures). */
pkl_time pkl_time_now(void);
/* Fixes the current time (NULL: the system clock again). Call before threads. */
void pkl_time_set_now(const pkl_time *fixed);
/* An absolute time only ("2026-01-01T00:00:00Z", "2026-01-01"); PKL_EINPUT otherwise. */
enum pkl_rc pkl_time_parse_absolute(const char *s, pkl_time *out);

/* Converts from OpenSSL's ASN1_TIME; returns PKL_EINPUT if unparsable. */
struct asn1_string_st;
enum pkl_rc pkl_time_from_asn1(const struct asn1_string_st *t, pkl_time *out);

#endif
