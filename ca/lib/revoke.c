/*
 * Revocation records (see pkilab/revoke.h).
 *
 * Revocations live in the `certs` table (status, revoked_at, reason,
 * invalidity), so one UPDATE and one audit event in one transaction record
 * them; the SQL is db.c's. Signing and publishing the CRL that carries them
 * is crl_publish.c's, reading CRLs crl_read.c's.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pkilab/crl.h"
#include "pkilab/lab.h"
#include "pkilab/revoke.h"

enum pkl_rc pkl_revoke_reason_parse(const char *s, int *out, int *warn, struct pkl_err *err)
{
	int code;

	*warn = 0;
	if (strcasecmp(s, "unspecified") == 0 || strcmp(s, "0") == 0)
		return pkl_err_set(
			err, PKL_EINPUT, "--reason",
			"reason 'unspecified' is not used: omit --reason instead (RFC 5280 5.3.1)");
	if (strcasecmp(s, "removeFromCRL") == 0 || strcmp(s, "8") == 0)
		return pkl_err_set(
			err, PKL_EINPUT, "--reason",
			"reason 'removeFromCRL' belongs to delta CRLs, which pkilab does not issue");
	if (strcmp(s, "7") == 0)
		return pkl_err_set(err, PKL_EINPUT, "--reason", "reason code 7 is unassigned in RFC 5280");
	/* Case-insensitive: "keycompromise" is an obvious typo of intent, not another
	 * reason. "none" maps to PKL_REASON_NONE there: not a reason to record. */
	code = pkl_reason_from_name(s);
	if (code > 0) {
		*out = code;
		*warn = code == PKL_REASON_CERTIFICATE_HOLD;
		return PKL_OK;
	}
	const char *sug = pkl_suggest(s, pkl_reason_names());
	if (sug)
		return pkl_err_set(err, PKL_EINPUT, "--reason", "unknown reason '%s' (did you mean '%s'?)", s,
				   sug);
	{
		/* "one of ..." from crl.c's table, in its order. */
		char list[256] = "";
		size_t n = 0;
		for (const char *const *r = pkl_reason_names(); *r && n < sizeof(list); r++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", *r);
		return pkl_err_set(err, PKL_EINPUT, "--reason", "unknown reason '%s' (one of %s)", s, list);
	}
}

static int is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

enum pkl_rc pkl_revoke_check_ref(const char *ref, struct pkl_err *err)
{
	const char *p = ref;
	size_t digits = 0;

	if (!ref || !*ref)
		return pkl_err_set(err, PKL_EINPUT, NULL, "empty certificate name or serial");
	if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) || strchr(ref, ':')) {
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		for (; *p; p++) {
			if (*p == ':')
				continue;
			if (!is_hex((unsigned char)*p))
				return pkl_err_set(err, PKL_EINPUT, NULL,
						   "malformed serial '%s': expected hex digits, optionally "
						   "with '0x' and colons",
						   ref);
			digits++;
		}
		if (digits == 0 || digits > 40)
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "malformed serial '%s': 1 to 40 hex digits expected", ref);
		return PKL_OK;
	}
	if (strlen(ref) >= PKL_NAME_MAX)
		return pkl_err_set(err, PKL_EINPUT, NULL, "name or serial '%.40s...' is too long", ref);
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z')))
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "malformed name or serial '%s': names use letters, digits, "
					   "'.', '_' and '-'; serials are hex",
					   ref);
	}
	return PKL_OK;
}

enum pkl_rc pkl_revoke_cert(struct pkl_pki *pki, const struct pkl_revoke_req *req, struct pkl_cert_row *out,
			    struct pkl_err *err)
{
	struct pkl_db *db = pki->db;
	struct pkl_cert_row row;
	enum pkl_rc rc;
	pkl_time at = req->at ? req->at : pkl_time_now();
	char t1[32], detail[256];
	int began = 0, revoked = 0;

	rc = pkl_revoke_check_ref(req->ref, err);
	if (rc != PKL_OK)
		goto out;
	if (req->invalidity && req->invalidity > at) {
		rc = pkl_err_set(err, PKL_EINPUT, "--invalidity-date",
				 "invalidity date %s is after the revocation time",
				 pkl_time_fmt(req->invalidity, t1, sizeof(t1)));
		goto out;
	}
	rc = pkl_db_begin(db, err);
	if (rc != PKL_OK)
		goto out;
	began = 1;
	rc = pkl_db_cert_find(db, req->ref, &row, err);
	if (rc != PKL_OK)
		goto out;
	if (row.status == PKL_STATUS_REVOKED) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL,
				 "certificate '%s' (serial %s) is already revoked since %s (%s)", row.name,
				 row.serial, pkl_time_fmt(row.revoked_at, t1, sizeof(t1)),
				 pkl_reason_label(row.reason));
		goto out;
	}
	if (row.is_ca && row.issuer_id == row.id) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL,
				 "'%s' is a self-signed root: no CRL can revoke it; remove it from the "
				 "trust stores instead",
				 row.name);
		goto out;
	}
	if (row.is_ca && !req->allow_ca) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL,
				 "'%s' is a CA certificate: revoking it invalidates everything it "
				 "signed; pass --ca-cert to confirm",
				 row.name);
		goto out;
	}
	rc = pkl_db_cert_revoke(db, row.id, at - PKL_CRL_BACKDATE, req->reason, req->invalidity, &revoked,
				err);
	if (rc != PKL_OK)
		goto out;
	if (!revoked) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "certificate '%s' is already revoked", row.name);
		goto out;
	}
	snprintf(detail, sizeof(detail), "serial %s reason %s", row.serial, pkl_reason_label(req->reason));
	rc = pkl_db_event(db, "revoke", row.name, detail, err);
	if (rc != PKL_OK)
		goto out;
	rc = pkl_db_commit(db, err);
	began = 0;
	if (rc != PKL_OK)
		goto out;
	row.status = PKL_STATUS_REVOKED;
	row.revoked_at = at - PKL_CRL_BACKDATE;
	row.reason = req->reason;
	row.invalidity = req->invalidity;
	if (out)
		*out = row;
out:
	if (began)
		pkl_db_rollback(db);
	return rc;
}
