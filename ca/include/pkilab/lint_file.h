/*
 * Linting files as `pkilab lint` takes them: a certificate (PEM or DER), a
 * PEM bundle (each next certificate taken as the issuer of the one before,
 * so the chain lints L12/L13 run), a CRL (PEM or DER) or a PKCS#12 file
 * (its protection profile, X9). The type is found from the content, not
 * the file name.
 */
#ifndef PKILAB_LINT_FILE_H
#define PKILAB_LINT_FILE_H

#include <stddef.h>

#include "lint.h"

struct pkl_lint_file_opts {
	const char *issuer_file; /* optional: the issuing CA (L12/L13 for one certificate, X7 for a CRL) */
	const char *id;          /* optional IKE identity for the first certificate (X3) */
	unsigned platforms;      /* PKL_PLAT_*; 0 = all */
	enum pkl_lint_role role; /* role of the first certificate; PKL_ROLE_AUTO from its EKU */
	pkl_time at;             /* judge CRL freshness (X8) as of this time */
};

/* Lints every file of paths[0..n) into r, one ok finding per check that
 * found nothing. PKL_OK when every file could be read and linted (the
 * findings say whether they passed); a file that cannot be read or is none
 * of the types above stops the run with its path in err. */
enum pkl_rc pkl_lint_files(const char *const *paths, size_t n, const struct pkl_lint_file_opts *o,
			   struct pkl_report *r, struct pkl_err *err);

#endif
