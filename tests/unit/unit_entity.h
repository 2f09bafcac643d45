/*
 * A lab entity with a hand-made profile (P-256, a root or a leaf, valid from
 * an hour before `now` for 30 days), so unit tests that issue through the CA
 * engine need no template files. Subjects are "<prefix>CN=<name>".
 */
#ifndef UNIT_ENTITY_H
#define UNIT_ENTITY_H

#include <stdio.h>
#include <string.h>

#include "pkilab/lab.h"

static inline void unit_entity(struct pkl_entity *e, const char *name, const char *issuer, int ca,
			       pkl_time now, const char *subject_prefix)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->issuer, sizeof(e->issuer), "%s", issuer);
	snprintf(e->subject, sizeof(e->subject), "%sCN=%s", subject_prefix, name);
	snprintf(e->where, sizeof(e->where), "unit:%s", name);
	pkl_key_spec_parse("ec:P-256", &e->prof.key, NULL);
	e->prof.role = ca ? PKL_ROLE_ROOT : PKL_ROLE_LEAF;
	e->prof.path_len = -1;
	e->prof.key_usage = ca ? (PKL_KU_KEY_CERT_SIGN | PKL_KU_CRL_SIGN) : PKL_KU_DIGITAL_SIGNATURE;
	e->prof.crl_lifetime = 7 * 86400;
	e->is_ca = ca;
	e->not_before = now - 3600;
	e->not_after = now + 86400 * 30;
}

#endif
