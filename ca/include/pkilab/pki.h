/*
 * The PKI directory (README, "The PKI directory"):
 *   pkilab.db, private/<name>.key, certs/<name>.pem, certs/<name>-chain.pem,
 *   publish/crl/<ca>.crl, publish/aia/<ca>.crt
 *
 * Files and database rows change together through a pkl_txn: files are
 * written to temporary names, the filesystem is synced once, the database
 * transaction commits together with the list of pending renames, and the
 * renames are done. Opening a PKI finishes any renames a killed process left
 * (roll forward) and removes temporary files of transactions that never
 * committed (roll back), so the database and the files always agree.
 */
#ifndef PKILAB_PKI_H
#define PKILAB_PKI_H

#include <limits.h>
#include <openssl/x509.h>
#include "db.h"

enum pkl_pki_file {
	PKL_FILE_KEY,
	PKL_FILE_CERT,
	PKL_FILE_CHAIN,
	PKL_FILE_CRL,
	PKL_FILE_AIA
};

struct pkl_pki {
	char dir[PATH_MAX];
	struct pkl_db *db;
	int staging; /* a new PKI in a directory that appears atomically by rename
			(pkilab build): files are written straight to their names,
			without temporary names, renames or journal rows */
};

/* Opens dir/pkilab.db (creating the layout when create). Recovers interrupted
 * transactions. PKL_EINPUT "no PKI at 'dir'" when missing and !create. */
struct pkl_pki *pkl_pki_open(const char *dir, int create, struct pkl_err *err);
void pkl_pki_close(struct pkl_pki *pki);

/* The path of a file of the layout. */
enum pkl_rc pkl_pki_path(const struct pkl_pki *pki, enum pkl_pki_file kind, const char *name, char *out,
			 size_t outlen, struct pkl_err *err);

/* Loads the current certificate / private key of name. */
X509 *pkl_pki_load_cert(struct pkl_pki *pki, const char *name, struct pkl_err *err);
EVP_PKEY *pkl_pki_load_key(struct pkl_pki *pki, const char *name, struct pkl_err *err);

/* Loads the current certificate of the CA `name` for signing, after checking
 * it: SQLite keeps no page checksums, so one flipped byte in the stored DER
 * would otherwise be signed into every certificate's issuer and every CRL,
 * which relying parties and pkilab-cdpd then refuse. The certificate must
 * (1) verify with its issuer's public key (its own for a root; the issuer's
 * certificate from the database), and (2) be byte-equal to
 * publish/aia/<name>.crt, the copy relying parties and cdpd hold. Either
 * failing, or the AIA copy missing, is PKL_ERUNTIME naming the CA. */
X509 *pkl_pki_load_ca_cert(struct pkl_pki *pki, const char *name, struct pkl_err *err);

/* PKL_EINPUT when key's public key is that of a CA certificate in the
 * database (current or superseded): a certificate for a CA's own key, from
 * an external CSR, would let whoever asked present it as that CA's key. */
enum pkl_rc pkl_pki_check_not_ca_key(struct pkl_pki *pki, EVP_PKEY *key, struct pkl_err *err);

/* Before a name is issued for the first time: PKL_EINPUT when the database
 * has no certificate of that name but a file of the layout for it exists
 * (private/<name>.key, certs/<name>.pem, certs/<name>-chain.pem, the CRL or
 * AIA file). Such files belong to a PKI whose records are lost (a restored
 * or replaced pkilab.db); issuing would overwrite them, CA keys included. */
enum pkl_rc pkl_pki_check_unrecorded(struct pkl_pki *pki, const char *name, struct pkl_err *err);

/* The chain above a certificate (its issuers up to, not including, the root),
 * as PEM appended to out; the certificate itself first when with_self. */
enum pkl_rc pkl_pki_chain_pem(struct pkl_pki *pki, const char *name, int with_self, int with_root,
			      struct pkl_buf *out, struct pkl_err *err);

/* A transaction over the database and files. */
struct pkl_txn;
/* Begins (BEGIN IMMEDIATE). */
struct pkl_txn *pkl_txn_begin(struct pkl_pki *pki, struct pkl_err *err);
/* Stages a file: written now to a temporary name, renamed over `kind/name`
 * at commit. Overwrites only what the caller asked for. */
enum pkl_rc pkl_txn_put(struct pkl_txn *txn, enum pkl_pki_file kind, const char *name, const void *data,
			size_t len, struct pkl_err *err);
/* Syncs, commits, renames. Frees txn whatever the result; on failure nothing
 * is changed (temporary files removed, database rolled back). */
enum pkl_rc pkl_txn_commit(struct pkl_txn *txn, struct pkl_err *err);
/* Discards everything staged. Frees txn. NULL is a no-op. */
void pkl_txn_abort(struct pkl_txn *txn);

#endif
