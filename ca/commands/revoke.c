/*
 * pkilab revoke NAME|SERIAL [--reason R] [--invalidity-date T] [--ca-cert]
 *
 * Records a revocation in the database (one transaction). Publishing it is
 * `pkilab crl`'s job, so several revocations can go out in one CRL.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "../cli/cli.h"
#include "pkilab/log.h"
#include "pkilab/revoke.h"

int cmd_revoke(int argc, char **argv, struct pkl_cli *cli)
{
	const char *reason_s = NULL, *inval_s = NULL;
	int allow_ca = 0, npos, status, warn = 0;
	const struct cli_opt opts[] = {
		{ "reason", 'r', CLI_STR, &reason_s, "R",
		  "RFC 5280 reason: keyCompromise, cACompromise, affiliationChanged, superseded, "
		  "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise (default: none)" },
		{ "invalidity-date", 0, CLI_STR, &inval_s, "T",
		  "when the key is known or suspected to have been compromised (absolute or relative, e.g. "
		  "-2d)" },
		{ "ca-cert", 0, CLI_FLAG, &allow_ca, NULL,
		  "confirm revoking an intermediate CA certificate (invalidates everything it signed)" },
		{ NULL, 0, 0, NULL, NULL, NULL },
	};
	struct pkl_revoke_req req = { .reason = PKL_REASON_NONE };
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = NULL;
	struct pkl_cert_row row;
	const char *reason;
	char t[32];

	status = cli_parse(argc, argv, opts, cli,
			   "revoke NAME|SERIAL [--reason R] [--invalidity-date T] [--ca-cert]", &npos);
	if (status)
		return status < 0 ? 0 : status;
	if (npos != 1)
		return cli_usage_error(cli, npos ? "one certificate at a time" :
						   "which certificate? (NAME or SERIAL)");
	req.ref = argv[1];
	req.allow_ca = allow_ca;
	/* Validate everything before touching the PKI: bad input changes nothing. */
	if (pkl_revoke_check_ref(req.ref, &err) != PKL_OK)
		return cli_fail(cli, &err);
	if (reason_s && pkl_revoke_reason_parse(reason_s, &req.reason, &warn, &err) != PKL_OK)
		return cli_fail(cli, &err);
	req.at = pkl_time_now();
	if (inval_s) {
		if (pkl_time_parse(inval_s, req.at, &req.invalidity, &err) != PKL_OK) {
			pkl_err_where(&err, "--invalidity-date");
			return cli_fail(cli, &err);
		}
	}
	pki = pkl_pki_open(cli_pki_dir(cli), 0, &err);
	if (!pki)
		return cli_fail(cli, &err);
	if (pkl_revoke_cert(pki, &req, &row, &err) != PKL_OK)
		goto out;
	/* The canonical spelling, not what was typed ("keycompromise" is accepted). */
	reason = pkl_reason_label(req.reason);
	if (warn)
		pkl_warn("certificateHold: strongSwan treats a certificate on hold as revoked "
			 "(it fails the peer like any other reason)");
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", row.name, "serial", row.serial,
				      "issuer", row.issuer_name, "revoked_at",
				      pkl_time_fmt(row.revoked_at, t, sizeof(t)), "reason", reason);
		cli_print_json(cli, o);
		json_decref(o);
	} else if (cli->verbose >= 0) {
		printf("revoked %s (serial %s) of %s%s%s; run 'pkilab crl' to publish it\n", row.name,
		       row.serial, row.issuer_name, reason_s ? ", reason " : "", reason_s ? reason : "");
	}
out:
	pkl_pki_close(pki);
	return err.rc ? cli_fail(cli, &err) : 0;
}
