/*
 * The set-up every unit program shares, compiled once (tests/unit/fixture.c)
 * and linked into each tests/unit/test_*.c program:
 *  - a temporary directory and its removal, files written whole;
 *  - the standard lab templates (root, intermediate, gateway) for tests that
 *    load or build a lab;
 *  - a lab entity with a hand-made profile, for tests that issue through the
 *    CA engine without template files;
 *  - keys, certificates built in-process for the lint/chain/doctor tests: each
 *    test states exactly the defect it wants (an extension value, a time, a
 *    key) instead of depending on the CA engine it is meant to judge.
 * Helpers that write assert through cmocka (the caller is a test); those that
 * return an int return 0 or -1 so a cmocka group set-up can return them.
 */
#ifndef PKL_UNIT_FIXTURE_H
#define PKL_UNIT_FIXTURE_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pkilab/lab.h"
#include "pkilab/log.h"

/* --- directories and files ---------------------------------------------- */

/* The one temporary directory of a program whose tests share it: give
 * fx_dir_setup and fx_dir_teardown to cmocka_run_group_tests; fx_dir_setup
 * makes it (/tmp/pkl-unit-XXXXXX), fx_dir_teardown removes it. */
extern char fx_dir[];
int fx_dir_setup(void **state);
int fx_dir_teardown(void **state);

/* mkdtemp(3) on tmpl ("/tmp/pkl-test-x-XXXXXX"): 0, or -1. */
int fx_mkdtemp(char *tmpl);
/* Removes dir and everything below it: 0, or -1. */
int fx_rmtree(const char *dir);
/* Writes len bytes to path (created or truncated); asserts on failure. */
void fx_write(const char *path, const void *data, size_t len);
/* Writes text to dir/name; the joined path goes to path[plen] when path is
 * not NULL. Asserts on failure. */
void fx_write_in(const char *dir, const char *name, const char *text, char *path, size_t plen);

/* A log sink that drops every message: pkl_log_set_sink(fx_log_silent, NULL)
 * keeps the library's log lines out of a test's output. */
void fx_log_silent(enum pkl_log_level level, const char *msg, void *cls);

/* --- lab templates ------------------------------------------------------ */

/* A root (path_len -1, no CDP/AIA, 180-day CRLs), an intermediate (path_len 0,
 * 7-day CRLs) and a gateway (397 days, at most 825 (Apple), a SAN required,
 * IP SANs also as dNSName) as dir/templates/t-root.cfg, t-int.cfg, t-gw.cfg.
 * ca_key is the key of both CA templates ("ec:P-256"). 0, or -1. */
int fx_templates(const char *dir, const char *ca_key);

/* --- a lab entity without templates -------------------------------------- */

/* P-256, a root (ca) or a leaf, valid from an hour before now for 30 days;
 * the subject is "<subject_prefix>CN=<name>". */
void fx_entity(struct pkl_entity *e, const char *name, const char *issuer, int ca, pkl_time now,
	       const char *subject_prefix);

/* --- keys and certificates built in-process ------------------------------ */

struct fx_ext {
	int nid;
	const char *value; /* openssl config syntax: "critical,CA:TRUE" */
};

/* "rsa1024", "rsa2048", "ed25519" or an EC curve ("P-256", "P-384", "P-521"). */
EVP_PKEY *fx_key(const char *spec);

/* A certificate for cn with key, signed by (issuer, ikey) or self-signed when
 * issuer is NULL (ikey then signs too). Validity from now+nb to now+na seconds.
 * exts end with {0, NULL}. serial 0 means a 16-byte random-looking one. */
X509 *fx_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long nb, long na,
	      const struct fx_ext *exts, long serial);

extern const struct fx_ext FX_ROOT[];    /* CA:TRUE, keyCertSign+cRLSign, SKI, AKI */
extern const struct fx_ext FX_SUBCA[];   /* the same with pathlen:0, a CDP and an AIA */
extern const struct fx_ext FX_GATEWAY[]; /* an IKE gateway: EKUs, SANs, CDP, AIA */

#define FX_DAY 86400L

/* A chain for the lint/chain/doctor tests: a root (P-384, FX_ROOT, "<prefix>
 * Root"), a sub-CA under it (P-384, FX_SUBCA, "<prefix> CA") and a gateway leaf
 * under the sub-CA (P-256, FX_GATEWAY, "vpn.unit.test"); other is a spare
 * P-384 key for impostors. */
struct fx_chain {
	EVP_PKEY *rk, *ck, *lk, *other;
	X509 *root, *ca, *leaf;
};
/* 0, or -1 when a key or certificate could not be made. */
int fx_chain_new(struct fx_chain *c, const char *prefix);
void fx_chain_free(struct fx_chain *c);

#endif
