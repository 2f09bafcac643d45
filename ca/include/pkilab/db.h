/*
 * The CA database (SQLite, WAL). It is the source of truth for what was
 * issued, revoked and published; files in the PKI directory are written in
 * the same transaction through pkl_txn (pki.h).
 *
 * Concurrency: writers take BEGIN IMMEDIATE with a busy timeout, so several
 * pkilab processes serialise instead of failing; (issuer, serial) is UNIQUE.
 *
 * All SQL lives in db.c: callers use the verbs below, never SQLite itself.
 */
#ifndef PKILAB_DB_H
#define PKILAB_DB_H

#include <stdint.h>
#include "buf.h"
#include "lab.h"
#include "ptime.h"

struct pkl_db;

enum pkl_cert_status {
	PKL_STATUS_VALID = 0,
	PKL_STATUS_REVOKED = 1
};

struct pkl_cert_row {
	int64_t id;
	char name[PKL_NAME_MAX];
	int64_t issuer_id; /* == id for a self-signed root */
	char issuer_name[PKL_NAME_MAX];
	char serial[41]; /* lowercase hex, as pkl_serial_hex */
	int is_ca;
	int current; /* 1: the name's current certificate (renew keeps history) */
	char template_name[PKL_NAME_MAX];
	char subject[512];
	char key_spec[32]; /* "ec:P-256" */
	int key_encrypted;
	pkl_time not_before, not_after;
	pkl_time issued_at;
	enum pkl_cert_status status;
	pkl_time revoked_at;
	int reason;          /* enum pkl_reason, -1 none */
	pkl_time invalidity; /* 0 none */
	char origin[8];      /* what issued it: PKL_ORIGIN_LAB, PKL_ORIGIN_ISSUE, or ""
				(unknown: recorded before schema 3) */
};

/* The origin of a certificate: `pkilab build` from a lab entry (renew keeps
 * it), or `pkilab issue`. Only certificates from the lab can be orphans. */
#define PKL_ORIGIN_LAB   "lab"
#define PKL_ORIGIN_ISSUE "issue"

/* The schema version this build reads and writes (meta.schema). */
#define PKL_DB_SCHEMA 3

/* Opens path. Without create, a file without pkilab's schema is refused
 * (PKL_ERUNTIME, nothing written); with create, the schema is written into
 * a new or empty database. An older schema version is upgraded to
 * PKL_DB_SCHEMA in one transaction; a newer one is refused (PKL_ERUNTIME)
 * before anything is written. */
struct pkl_db *pkl_db_open(const char *path, int create, struct pkl_err *err);
void pkl_db_close(struct pkl_db *db);

/* BEGIN IMMEDIATE (waits up to the busy timeout for other writers). */
enum pkl_rc pkl_db_begin(struct pkl_db *db, struct pkl_err *err);
enum pkl_rc pkl_db_commit(struct pkl_db *db, struct pkl_err *err);
void pkl_db_rollback(struct pkl_db *db);

/* Inserts a certificate (row->id is set). A duplicate (issuer, serial) or a
 * second current certificate for a name is PKL_EINPUT. For a root pass
 * issuer_id 0: it is set to the row's own id. */
enum pkl_rc pkl_db_cert_insert(struct pkl_db *db, struct pkl_cert_row *row, const unsigned char *der,
			       size_t der_len, struct pkl_err *err);

/* Finds the current certificate by name, or any certificate by serial (hex,
 * optional "0x" and colons). PKL_EINPUT "unknown certificate 'x'" if none. */
enum pkl_rc pkl_db_cert_find(struct pkl_db *db, const char *name_or_serial, struct pkl_cert_row *row,
			     struct pkl_err *err);
enum pkl_rc pkl_db_cert_get(struct pkl_db *db, int64_t id, struct pkl_cert_row *row, struct pkl_err *err);
enum pkl_rc pkl_db_cert_der(struct pkl_db *db, int64_t id, struct pkl_buf *out, struct pkl_err *err);

/* Calls fn for every certificate (current ones only unless all), in issue order.
 * fn returning non-zero stops the walk. */
typedef int (*pkl_db_cert_fn)(const struct pkl_cert_row *row, void *cls);
enum pkl_rc pkl_db_cert_each(struct pkl_db *db, int all, pkl_db_cert_fn fn, void *cls, struct pkl_err *err);

/* Marks the current certificate of name as superseded (current = 0). */
enum pkl_rc pkl_db_cert_retire(struct pkl_db *db, int64_t id, struct pkl_err *err);

/* Records the revocation of certificate id (reason: enum pkl_reason,
 * invalidity 0 for none) if it is not revoked yet. *revoked (may be NULL):
 * 1 if this call revoked it, 0 if it already was (the row is unchanged). */
enum pkl_rc pkl_db_cert_revoke(struct pkl_db *db, int64_t id, pkl_time at, int reason, pkl_time invalidity,
			       int *revoked, struct pkl_err *err);

/* One certificate issued by a CA, as the CRL and index.txt need it. The
 * pointers are valid only during the callback; serial may be NULL in a
 * damaged row, der is NULL unless asked for (or when the row has none). */
struct pkl_db_issued {
	const char *serial; /* lowercase hex as stored */
	size_t serial_len;
	pkl_time not_after;
	enum pkl_cert_status status;
	pkl_time revoked_at;
	int reason; /* -1 when none recorded */
	pkl_time invalidity;
	const unsigned char *der;
	size_t der_len;
};
typedef int (*pkl_db_issued_fn)(const struct pkl_db_issued *c, void *cls);
/* Calls fn for every certificate the CA certificate ca_id signed, itself
 * excluded: revoked ones only (no DER, for a CRL) or all of them in issue
 * order with their DER (for index.txt). fn returning non-zero stops the walk
 * (PKL_OK). */
enum pkl_rc pkl_db_revoked_each(struct pkl_db *db, int64_t ca_id, pkl_db_issued_fn fn, void *cls,
				struct pkl_err *err);
enum pkl_rc pkl_db_issued_each(struct pkl_db *db, int64_t ca_id, pkl_db_issued_fn fn, void *cls,
			       struct pkl_err *err);
/* The number of revoked certificates ca_id signed. */
enum pkl_rc pkl_db_revoked_count(struct pkl_db *db, int64_t ca_id, int64_t *out, struct pkl_err *err);

/* Appends to the audit trail. */
enum pkl_rc pkl_db_event(struct pkl_db *db, const char *kind, const char *subject, const char *detail,
			 struct pkl_err *err);

/* Per-CA state (CRL lifetime, last CRL number and times). */
struct pkl_ca_state {
	char name[PKL_NAME_MAX];
	int64_t cert_id;
	int64_t crl_lifetime; /* seconds */
	char crl_number[48];  /* decimal, last signed; "" if none yet */
	pkl_time crl_this_update, crl_next_update;
};
enum pkl_rc pkl_db_ca_put(struct pkl_db *db, const struct pkl_ca_state *st, struct pkl_err *err);
enum pkl_rc pkl_db_ca_get(struct pkl_db *db, const char *name, struct pkl_ca_state *st, struct pkl_err *err);
/* Calls fn with every CA's name, in the order their certificates were
 * issued; fn returning non-zero stops the walk. The walk holds a read
 * statement: start no transaction from fn. */
typedef int (*pkl_db_name_fn)(const char *name, void *cls);
enum pkl_rc pkl_db_ca_each(struct pkl_db *db, pkl_db_name_fn fn, void *cls, struct pkl_err *err);

/* The log of signed CRLs (one row per `pkilab crl` signature). */
struct pkl_db_crl_log {
	const char *ca;
	const char *number; /* decimal */
	pkl_time this_update, next_update;
	int64_t n_entries;
	pkl_time signed_at;
};
enum pkl_rc pkl_db_crl_log_add(struct pkl_db *db, const struct pkl_db_crl_log *e, struct pkl_err *err);
/* The entry count logged for CRL number of ca (the latest such row), or -1
 * when that CRL was not logged (e.g. signed by `build`). */
enum pkl_rc pkl_db_crl_log_entries(struct pkl_db *db, const char *ca, const char *number, int64_t *out,
				   struct pkl_err *err);

/* Pending file renames written in the same transaction as the rows that
 * need them (see pki.h). */
enum pkl_rc pkl_db_pending_add(struct pkl_db *db, const char *tmp, const char *final, struct pkl_err *err);
typedef int (*pkl_db_pending_fn)(const char *tmp, const char *final, void *cls);
enum pkl_rc pkl_db_pending_each(struct pkl_db *db, pkl_db_pending_fn fn, void *cls, struct pkl_err *err);
enum pkl_rc pkl_db_pending_clear(struct pkl_db *db, struct pkl_err *err);
/* Removes one transaction's own entry (others may be mid-commit). */
enum pkl_rc pkl_db_pending_remove(struct pkl_db *db, const char *tmp, struct pkl_err *err);

/* Small key/value settings (the lab's CDP bases, layout...). get: "" when unset. */
enum pkl_rc pkl_db_meta_put(struct pkl_db *db, const char *key, const char *value, struct pkl_err *err);
enum pkl_rc pkl_db_meta_get(struct pkl_db *db, const char *key, char *out, size_t outlen,
			    struct pkl_err *err);

#endif
