/*
 * Exports: bundles of a certificate (and its key and chain) in the shapes the
 * places they get installed expect.
 *
 *   pem            NAME.pem, NAME.key (as stored), NAME-chain.pem (cert +
 *                  intermediates), NAME-fullchain.pem (+ root), ca-bundle.pem
 *   der            NAME.der and <ca>.der for every CA above it
 *   p12            NAME.p12: key, certificate and chain
 *   windows        <ca>.cer (DER), NAME.cer, NAME.pfx, import.ps1, README.txt
 *   strongswan     x509ca/<ca>.pem, x509/NAME.pem, private/NAME.pem,
 *                  swanctl.conf (revocation = strict, send_cert = always)
 *   openssl-index  index.txt (+ .attr), crlnumber, openssl-ca.cnf for the CA
 *                  NAME (or NAME's issuer), readable by `openssl ca -gencrl`
 *                  and `openssl ocsp`
 *
 * Every file is first written under a temporary name; only when all of them
 * are written are they renamed into place, so a failure (an unwritable
 * folder, a wrong passphrase) leaves the output folder as it was.
 */
#ifndef PKILAB_EXPORT_H
#define PKILAB_EXPORT_H

#include <openssl/x509.h>
#include "buf.h"
#include "pki.h"

enum pkl_export_format {
	PKL_EXPORT_PEM = 1,
	PKL_EXPORT_DER,
	PKL_EXPORT_P12,
	PKL_EXPORT_WINDOWS,
	PKL_EXPORT_STRONGSWAN,
	PKL_EXPORT_OPENSSL_INDEX,
};

/* PKCS#12 profiles (Microsoft: PFX profiles TripleDES-SHA1 and AES256-SHA256). */
enum pkl_p12_profile {
	PKL_P12_LEGACY = 0, /* PBE-SHA1-3DES for key and cert bags, HMAC-SHA1 MAC:
			     * Windows Server 2016 and older, Windows 10 < 1709, Apple */
	PKL_P12_MODERN,     /* PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC, HMAC-SHA256 MAC */
};

enum pkl_rc pkl_export_format_parse(const char *s, enum pkl_export_format *out, struct pkl_err *err);
enum pkl_rc pkl_export_profile_parse(const char *s, enum pkl_p12_profile *out, struct pkl_err *err);
/* 1 when the format contains a PKCS#12 file and so needs a password. */
int pkl_export_needs_password(enum pkl_export_format f);

/* The shortest PKCS#12 password export accepts, in characters. Whoever holds
 * a .p12/.pfx can test password guesses offline, as fast as the hardware
 * allows: the MAC key is derived from the password and salt alone (RFC 7292
 * section 5.1 and appendix B), with 2,048 SHA-1 iterations in the legacy
 * profile. Nothing rate-limits the attempts, so length is the defence.
 * NIST SP 800-63B-4 section 3.1.1.2 asks for at least 15 characters of a
 * password used as the only factor and 8 of one that is part of several; a
 * PFX password is a transport secret, typed once on the machine the file is
 * imported on (then the file is deleted), so 12 is the floor here: past the
 * reach of offline guessing for anything but a dictionary word, and short
 * enough to type at a console. Longer is better and always accepted. */
#define PKL_EXPORT_PASSWORD_MIN 12

/* PKL_OK when pw has at least PKL_EXPORT_PASSWORD_MIN characters (UTF-8
 * code points); else PKL_EINPUT with source (a file path, a variable name)
 * as the error's place. The password itself never appears in the error. */
enum pkl_rc pkl_export_password_check(const char *pw, const char *source, struct pkl_err *err);

struct pkl_export_opts {
	enum pkl_export_format format;
	enum pkl_p12_profile profile;
	const char *password; /* PKCS#12 password (p12, windows); never from argv */
	const char *out_dir;  /* created when missing */
};

/* Writes the bundle of certificate `name` (current name or serial) into
 * opts->out_dir. On success, when listing is not NULL, it receives the
 * written paths, one per line. Unknown names are PKL_EINPUT; nothing is
 * written unless everything could be. */
enum pkl_rc pkl_export(struct pkl_pki *pki, const char *name, const struct pkl_export_opts *opts,
		       struct pkl_buf *listing, struct pkl_err *err);

/* A PKCS#12 (DER) of key, cert and chain (may be NULL) under friendly name. */
enum pkl_rc pkl_export_p12(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, const char *friendly,
			   const char *password, enum pkl_p12_profile profile, struct pkl_buf *out,
			   struct pkl_err *err);

/* The `openssl ca` database (index.txt) of every certificate CA ca_id issued. */
enum pkl_rc pkl_export_index(struct pkl_pki *pki, int64_t ca_id, struct pkl_buf *out, struct pkl_err *err);

#endif
