/*
 * Revocation records, on top of the CA database.
 *
 * A revocation is one row update in `certs` (status, revoked_at, reason,
 * invalidity) and one audit event, in one transaction. The CRL that carries
 * it is signed and published by crl_publish.h; reasons are crl.h's table.
 */
#ifndef PKILAB_REVOKE_H
#define PKILAB_REVOKE_H

#include <stddef.h>
#include "crl.h"
#include "db.h"
#include "pki.h"

/* Parses a reason by its RFC 5280 name ("keyCompromise", ...; the list is
 * pkl_reason_names()). Refuses "unspecified" (omit the reason instead, RFC
 * 5280 §5.3.1) and "removeFromCRL" (delta CRLs only) and value 7. *warn is
 * set for certificateHold, which strongSwan treats as revoked. PKL_EINPUT
 * otherwise. */
enum pkl_rc pkl_revoke_reason_parse(const char *s, int *out, int *warn, struct pkl_err *err);

/* Checks that a NAME|SERIAL argument is either a plausible certificate name
 * or a serial in hex syntax ("0x..", colons allowed); PKL_EINPUT otherwise. */
enum pkl_rc pkl_revoke_check_ref(const char *ref, struct pkl_err *err);

struct pkl_revoke_req {
	const char *ref;     /* NAME or SERIAL */
	int reason;          /* enum pkl_reason; PKL_REASON_NONE: no reasonCode */
	pkl_time at;         /* when it is asked (0: now); recorded as at - PKL_CRL_BACKDATE */
	pkl_time invalidity; /* 0: none */
	int allow_ca;        /* revoking an intermediate CA needs this explicitly */
};

/* Records one revocation in one transaction. Revoking twice, an unknown
 * reference, a root, or a CA without allow_ca are PKL_EINPUT and change
 * nothing. On success *row (may be NULL) receives the revoked row. */
enum pkl_rc pkl_revoke_cert(struct pkl_pki *pki, const struct pkl_revoke_req *req, struct pkl_cert_row *row,
			    struct pkl_err *err);

#endif
