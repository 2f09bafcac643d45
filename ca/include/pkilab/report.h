/*
 * Findings of `pkilab lint` and `pkilab doctor`, and how they are printed.
 *
 * A finding is one check's outcome about one subject (a certificate, a CRL,
 * a URL): a stable code ("chain.root_expired", "lint.L5") that scripts and
 * monitoring match on, a severity, a one-line message, and for problems the
 * cause and the fix in an administrator's words. The report keeps them in the
 * order the checks ran; printing is separate so the same list becomes text
 * with marks or JSON for CI.
 */
#ifndef PKILAB_REPORT_H
#define PKILAB_REPORT_H

#include <stddef.h>
#include "buf.h"
#include "err.h"

enum pkl_sev {
	PKL_SEV_OK = 0, /* the check passed */
	PKL_SEV_INFO,   /* worth knowing, not a problem (e.g. "issuer fetched via AIA") */
	PKL_SEV_WARN,   /* works, but fragile or against a SHOULD */
	PKL_SEV_FAIL,   /* a relying party will refuse this, or a MUST is violated */
};

struct pkl_finding {
	char code[64]; /* stable: "crl.expired" */
	enum pkl_sev sev;
	char subject[256]; /* what it is about: "gw (CN=vpn.example.test)", a URL */
	char msg[768];     /* the finding, one line */
	char cause[768];   /* why it fails, in admin words ("" for ok) */
	char fix[768];     /* what to do ("" for ok) */
	long elapsed_ms;   /* a fetch's duration, -1 when not a fetch */
};

/* At most this many findings are kept (a finding is about 2.6 KB): a hostile
 * certificate with a hundred thousand bad SANs must not cost gigabytes. */
#define PKL_REPORT_MAX 20000

struct pkl_report {
	struct pkl_finding *v;
	size_t n, cap;
	int oom;                    /* an add failed: the report is incomplete */
	size_t dropped;             /* adds beyond PKL_REPORT_MAX: counted, not kept */
	enum pkl_sev dropped_worst; /* the worst of them, still judged by pkl_report_worst */
};

#define PKL_REPORT_INIT                      \
	{                                    \
		NULL, 0, 0, 0, 0, PKL_SEV_OK \
	}

void pkl_report_free(struct pkl_report *r);

/* Appends a finding and returns it (borrowed, valid until the next add) so the
 * caller can set cause and fix; NULL when out of memory (r->oom is set) or
 * beyond PKL_REPORT_MAX (r->dropped counts it). */
struct pkl_finding *pkl_report_add(struct pkl_report *r, enum pkl_sev sev, const char *code,
				   const char *subject, const char *fmt, ...) PKL_PRINTF(5, 6);
/* Sets the cause / fix of f; a NULL f is ignored so calls can chain on add. */
void pkl_finding_cause(struct pkl_finding *f, const char *fmt, ...) PKL_PRINTF(2, 3);
void pkl_finding_fix(struct pkl_finding *f, const char *fmt, ...) PKL_PRINTF(2, 3);

/* Appends every finding of src (optionally only those at or above min_sev). */
void pkl_report_merge(struct pkl_report *dst, const struct pkl_report *src, enum pkl_sev min_sev);

size_t pkl_report_count(const struct pkl_report *r, enum pkl_sev sev);
/* The worst severity present, dropped findings included (PKL_SEV_OK for an
 * empty report). */
enum pkl_sev pkl_report_worst(const struct pkl_report *r);
/* The first finding with this code at or above min_sev, or NULL. */
const struct pkl_finding *pkl_report_find(const struct pkl_report *r, const char *code, enum pkl_sev min_sev);

const char *pkl_sev_name(enum pkl_sev sev); /* "ok" "info" "warn" "fail" */

/* Text: one line per finding, "<mark> <code>  <subject>: <msg>", then indented
 * "cause:" and "fix:" lines for warnings and failures, then a summary line.
 * utf8 selects the marks ✔ ✘ ! i, otherwise [ok] [FAIL] [warn] [info]. */
enum pkl_rc pkl_report_text(const struct pkl_report *r, int utf8, struct pkl_buf *out, struct pkl_err *err);

/* JSON: {<meta>..., "findings":[{code,severity,subject,message,cause,fix,elapsed_ms}...],
 * "summary":{"ok":n,"info":n,"warn":n,"fail":n},"verdict":"pass"|"fail"}.
 * meta is NULL or a NULL-terminated list of key, value strings put first. */
enum pkl_rc pkl_report_json(const struct pkl_report *r, const char *const *meta, struct pkl_buf *out,
			    struct pkl_err *err);

/* Whether the locale asks for UTF-8, as set by pkl_report_set_utf8 (main()
 * passes LC_ALL, LC_CTYPE, LANG through pkl_env_read); 0 until set. */
int pkl_report_locale_utf8(void);
void pkl_report_set_utf8(int utf8);

#endif
