/*
 * Findings list and its two renderings (see pkilab/report.h). The text form
 * is for an administrator at a terminal: the mark and the code first so the
 * eye finds the failures, cause and fix indented below them. The JSON form
 * carries exactly the same findings for CI.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pkilab/report.h"

void pkl_report_free(struct pkl_report *r)
{
	if (!r)
		return;
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
	r->oom = 0;
	r->dropped = 0;
	r->dropped_worst = PKL_SEV_OK;
}

/* Length of the well-formed UTF-8 sequence at p (the checks jansson applies:
 * no overlong forms, no surrogates, nothing above U+10FFFF), 0 if none. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Finding texts quote what certificates, CRLs and CDP servers say, i.e.
 * untrusted bytes. Control characters would reach the terminal (escape
 * sequences from a hostile HTTP header) and invalid UTF-8 (also a sequence
 * cut by a truncating snprintf) makes json_string() fail, so the JSON report
 * silently lost the text. Both become '?'. */
static void sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n;
		if (*p >= 0x20 && *p < 0x7f)
			p++;
		else if (*p >= 0x80 && (n = utf8_len(p)) != 0)
			p += n;
		else
			*p++ = '?';
	}
}

static struct pkl_finding *report_slot(struct pkl_report *r, enum pkl_sev sev)
{
	if (r->n >= PKL_REPORT_MAX) {
		r->dropped++;
		if (sev > r->dropped_worst)
			r->dropped_worst = sev;
		return NULL;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct pkl_finding *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			r->oom = 1;
			return NULL;
		}
		r->v = v;
		r->cap = cap;
	}
	memset(&r->v[r->n], 0, sizeof(r->v[r->n]));
	r->v[r->n].elapsed_ms = -1;
	return &r->v[r->n++];
}

struct pkl_finding *pkl_report_add(struct pkl_report *r, enum pkl_sev sev, const char *code,
				   const char *subject, const char *fmt, ...)
{
	struct pkl_finding *f = report_slot(r, sev);
	va_list ap;

	if (!f)
		return NULL;
	f->sev = sev;
	snprintf(f->code, sizeof(f->code), "%s", code);
	snprintf(f->subject, sizeof(f->subject), "%s", subject ? subject : "");
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	sanitize(f->code);
	sanitize(f->subject);
	sanitize(f->msg);
	return f;
}

void pkl_finding_cause(struct pkl_finding *f, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(f->cause, sizeof(f->cause), fmt, ap);
	va_end(ap);
	sanitize(f->cause);
}

void pkl_finding_fix(struct pkl_finding *f, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(f->fix, sizeof(f->fix), fmt, ap);
	va_end(ap);
	sanitize(f->fix);
}

void pkl_report_merge(struct pkl_report *dst, const struct pkl_report *src, enum pkl_sev min_sev)
{
	for (size_t i = 0; i < src->n; i++) {
		if (src->v[i].sev < min_sev)
			continue;
		struct pkl_finding *f = report_slot(dst, src->v[i].sev);
		if (f)
			*f = src->v[i];
		else if (dst->oom)
			return;
	}
	if (src->oom)
		dst->oom = 1;
	dst->dropped += src->dropped;
	if (src->dropped_worst > dst->dropped_worst)
		dst->dropped_worst = src->dropped_worst;
}

size_t pkl_report_count(const struct pkl_report *r, enum pkl_sev sev)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].sev == sev;
	return n;
}

enum pkl_sev pkl_report_worst(const struct pkl_report *r)
{
	enum pkl_sev w = r->dropped ? r->dropped_worst : PKL_SEV_OK;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].sev > w)
			w = r->v[i].sev;
	return w;
}

const struct pkl_finding *pkl_report_find(const struct pkl_report *r, const char *code, enum pkl_sev min_sev)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].sev >= min_sev && !strcmp(r->v[i].code, code))
			return &r->v[i];
	return NULL;
}

const char *pkl_sev_name(enum pkl_sev sev)
{
	switch (sev) {
	case PKL_SEV_OK: return "ok";
	case PKL_SEV_INFO: return "info";
	case PKL_SEV_WARN: return "warn";
	case PKL_SEV_FAIL: return "fail";
	}
	return "?";
}

static const char *mark(enum pkl_sev sev, int utf8)
{
	static const char *const u[] = { "\xe2\x9c\x94", "i", "!", "\xe2\x9c\x98" };
	static const char *const a[] = { "[ok]  ", "[info]", "[warn]", "[FAIL]" };

	return utf8 ? u[sev] : a[sev];
}

enum pkl_rc pkl_report_text(const struct pkl_report *r, int utf8, struct pkl_buf *out, struct pkl_err *err)
{
	enum pkl_rc rc = PKL_OK;

	for (size_t i = 0; i < r->n && rc == PKL_OK; i++) {
		const struct pkl_finding *f = &r->v[i];
		rc = pkl_buf_printf(out, "%s %-30s %s%s%s\n", mark(f->sev, utf8), f->code, f->subject,
				    f->subject[0] ? ": " : "", f->msg);
		if (rc == PKL_OK && f->sev >= PKL_SEV_WARN && f->cause[0])
			rc = pkl_buf_printf(out, "      cause: %s\n", f->cause);
		if (rc == PKL_OK && f->sev >= PKL_SEV_WARN && f->fix[0])
			rc = pkl_buf_printf(out, "      fix:   %s\n", f->fix);
	}
	if (rc == PKL_OK)
		rc = pkl_buf_printf(out, "%zu checks: %zu failed, %zu warnings, %zu passed%s\n", r->n,
				    pkl_report_count(r, PKL_SEV_FAIL), pkl_report_count(r, PKL_SEV_WARN),
				    pkl_report_count(r, PKL_SEV_OK) + pkl_report_count(r, PKL_SEV_INFO),
				    r->oom ? " (out of memory: report incomplete)" : "");
	if (rc == PKL_OK && r->dropped)
		rc = pkl_buf_printf(out,
				    "%zu more findings not shown (at most %d are kept), the "
				    "worst of them: %s\n",
				    r->dropped, PKL_REPORT_MAX, pkl_sev_name(r->dropped_worst));
	if (rc != PKL_OK)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory formatting the report");
	return PKL_OK;
}

enum pkl_rc pkl_report_json(const struct pkl_report *r, const char *const *meta, struct pkl_buf *out,
			    struct pkl_err *err)
{
	json_t *root = json_object(), *arr = json_array(), *sum = json_object();
	char *s = NULL;
	enum pkl_rc rc = PKL_ERUNTIME;

	if (!root || !arr || !sum)
		goto out;
	for (size_t i = 0; meta && meta[i] && meta[i + 1]; i += 2)
		json_object_set_new(root, meta[i], json_string(meta[i + 1]));
	for (size_t i = 0; i < r->n; i++) {
		const struct pkl_finding *f = &r->v[i];
		json_t *o = json_object();
		if (!o || json_array_append_new(arr, o))
			goto out;
		json_object_set_new(o, "code", json_string(f->code));
		json_object_set_new(o, "severity", json_string(pkl_sev_name(f->sev)));
		json_object_set_new(o, "subject", json_string(f->subject));
		json_object_set_new(o, "message", json_string(f->msg));
		if (f->cause[0])
			json_object_set_new(o, "cause", json_string(f->cause));
		if (f->fix[0])
			json_object_set_new(o, "fix", json_string(f->fix));
		if (f->elapsed_ms >= 0)
			json_object_set_new(o, "elapsed_ms", json_integer(f->elapsed_ms));
	}
	json_object_set_new(sum, "ok", json_integer((json_int_t)pkl_report_count(r, PKL_SEV_OK)));
	json_object_set_new(sum, "info", json_integer((json_int_t)pkl_report_count(r, PKL_SEV_INFO)));
	json_object_set_new(sum, "warn", json_integer((json_int_t)pkl_report_count(r, PKL_SEV_WARN)));
	json_object_set_new(sum, "fail", json_integer((json_int_t)pkl_report_count(r, PKL_SEV_FAIL)));
	json_object_set(root, "findings", arr);
	json_object_set(root, "summary", sum);
	json_object_set_new(root, "verdict",
			    json_string(pkl_report_worst(r) == PKL_SEV_FAIL ? "fail" : "pass"));
	if (r->oom || r->dropped)
		json_object_set_new(root, "incomplete", json_true());
	if (r->dropped)
		json_object_set_new(root, "dropped", json_integer((json_int_t)r->dropped));
	/* Every text went through sanitize(): json_string() cannot have failed on it. */
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s || pkl_buf_printf(out, "%s\n", s) != PKL_OK)
		goto out;
	rc = PKL_OK;
out:
	free(s);
	json_decref(arr);
	json_decref(sum);
	json_decref(root);
	if (rc != PKL_OK)
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory formatting the JSON report");
	return rc;
}

/* Set once at start from the locale variables (pkl_env_read, pkl_env_apply). */
static int locale_utf8;

void pkl_report_set_utf8(int utf8)
{
	locale_utf8 = utf8 != 0;
}

int pkl_report_locale_utf8(void)
{
	return locale_utf8;
}
