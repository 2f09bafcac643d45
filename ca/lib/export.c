/*
 * Exports (see pkilab/export.h): PEM/DER bundles, PKCS#12 in the two
 * profiles that matter (3DES/SHA-1 for Windows Server 2016 and Apple,
 * AES-256/SHA-256 for current systems), a Windows folder with an import
 * script for the machine stores, a strongSwan swanctl layout, and an
 * `openssl ca` index.txt.
 *
 * Files are staged under temporary names and renamed into place only when
 * every one of them was written; directories this export created are removed
 * again on failure. So "no change on disk" holds for every error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "pkilab/cert.h"
#include "pkilab/certread.h"
#include "pkilab/crl.h"
#include "pkilab/export.h"
#include "pkilab/file.h"
#include "pkilab/fileset.h"
#include "pkilab/key.h"
#include "pkilab/name.h"

#define MAX_FILES 48
#define MAX_CHAIN 8

static const struct {
	const char *name;
	enum pkl_export_format f;
} formats[] = {
	{ "pem", PKL_EXPORT_PEM },
	{ "der", PKL_EXPORT_DER },
	{ "p12", PKL_EXPORT_P12 },
	{ "windows", PKL_EXPORT_WINDOWS },
	{ "strongswan", PKL_EXPORT_STRONGSWAN },
	{ "openssl-index", PKL_EXPORT_OPENSSL_INDEX },
};
static const char *const format_names[] = { "pem",        "der",           "p12", "windows",
					    "strongswan", "openssl-index", NULL };

enum pkl_rc pkl_export_format_parse(const char *s, enum pkl_export_format *out, struct pkl_err *err)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(s, formats[i].name) == 0) {
			*out = formats[i].f;
			return PKL_OK;
		}
	const char *sug = pkl_suggest(s, format_names);
	if (sug)
		return pkl_err_set(err, PKL_EINPUT, "--format", "unknown format '%s' (did you mean '%s'?)", s,
				   sug);
	return pkl_err_set(err, PKL_EINPUT, "--format",
			   "unknown format '%s' (pem, der, p12, windows, strongswan, openssl-index)", s);
}

enum pkl_rc pkl_export_profile_parse(const char *s, enum pkl_p12_profile *out, struct pkl_err *err)
{
	if (strcmp(s, "legacy") == 0 || strcmp(s, "3des") == 0)
		*out = PKL_P12_LEGACY;
	else if (strcmp(s, "modern") == 0 || strcmp(s, "aes") == 0)
		*out = PKL_P12_MODERN;
	else
		return pkl_err_set(err, PKL_EINPUT, "--p12-profile",
				   "unknown PKCS#12 profile '%s' (legacy or modern)", s);
	return PKL_OK;
}

int pkl_export_needs_password(enum pkl_export_format f)
{
	return f == PKL_EXPORT_P12 || f == PKL_EXPORT_WINDOWS;
}

enum pkl_rc pkl_export_password_check(const char *pw, const char *source, struct pkl_err *err)
{
	size_t chars = 0;

	/* Characters, not bytes: a UTF-8 continuation byte (10xxxxxx) adds none. */
	for (const unsigned char *p = (const unsigned char *)pw; p && *p; p++)
		if ((*p & 0xC0) != 0x80)
			chars++;
	if (chars >= PKL_EXPORT_PASSWORD_MIN)
		return PKL_OK;
	return pkl_err_set(err, PKL_EINPUT, source,
			   "PKCS#12 password too short: at least %d characters are needed, because "
			   "whoever holds the file can test guesses offline against its MAC",
			   PKL_EXPORT_PASSWORD_MIN);
}

/* ---- staging: all files or none, through a pkl_fileset ---- */

struct stage {
	const char *out_dir;
	char out_buf[PATH_MAX]; /* --out without trailing slashes: listed paths read "dir/f" */
	struct pkl_fileset *fs;
	size_t n;
};

static enum pkl_rc stage_put(struct stage *s, const char *rel, const void *data, size_t len, mode_t mode,
			     struct pkl_err *err)
{
	enum pkl_rc rc;

	if (s->n >= MAX_FILES)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "too many files in one export");
	rc = pkl_fileset_add(s->fs, rel, data, len, mode, err);
	if (rc == PKL_OK)
		s->n++;
	return rc;
}

/* ---- the certificate and the CAs above it ---- */

struct chain {
	struct pkl_cert_row row; /* the exported certificate */
	X509 *cert;
	struct pkl_cert_row ca_row[MAX_CHAIN]; /* issuer first, root last */
	X509 *ca[MAX_CHAIN];
	size_t n_ca;
};

static void chain_free(struct chain *c)
{
	X509_free(c->cert);
	for (size_t i = 0; i < c->n_ca; i++)
		X509_free(c->ca[i]);
	memset(c, 0, sizeof(*c));
}

static X509 *load_x509(struct pkl_db *db, const struct pkl_cert_row *r, struct pkl_err *err)
{
	struct pkl_buf der = PKL_BUF_INIT;
	X509 *x = NULL;

	if (pkl_db_cert_der(db, r->id, &der, err) == PKL_OK)
		x = pkl_cert_from_der(der.data, der.len, r->name, err);
	pkl_buf_free(&der);
	return x;
}

static enum pkl_rc chain_load(struct pkl_pki *pki, const char *name, struct chain *c, struct pkl_err *err)
{
	struct pkl_cert_row cur;
	enum pkl_rc rc;

	memset(c, 0, sizeof(*c));
	if ((rc = pkl_db_cert_find(pki->db, name, &c->row, err)) != PKL_OK)
		return rc;
	if (!(c->cert = load_x509(pki->db, &c->row, err)))
		return PKL_ERUNTIME;
	cur = c->row;
	while (cur.issuer_id != cur.id) {
		if (c->n_ca >= MAX_CHAIN)
			return pkl_err_set(err, PKL_ERUNTIME, "pkilab.db", "chain of '%s' is too long", name);
		if ((rc = pkl_db_cert_get(pki->db, cur.issuer_id, &c->ca_row[c->n_ca], err)) != PKL_OK)
			return rc;
		if (!(c->ca[c->n_ca] = load_x509(pki->db, &c->ca_row[c->n_ca], err)))
			return PKL_ERUNTIME;
		cur = c->ca_row[c->n_ca];
		c->n_ca++;
	}
	return PKL_OK;
}

/* ---- PKCS#12 ---- */

/* Iterations of every key derivation in a "modern" PKCS#12 file. Not the
 * 600,000 of encrypted keys (PKL_KEY_KDF_ITERATIONS): .NET's PKCS#12 loader
 * (X509CertificateLoader, Pkcs12LoaderLimits.Defaults since .NET 9) refuses
 * a file whose MAC or any single bag needs more than 300,000 iterations, or
 * more than 1,000,000 in all; 300,000 keeps our two bags at 600,000. A
 * PKCS#12 file is a transport container whose password travels with it
 * anyway; 300,000 is still 146 times OpenSSL's 2,048. Measured with OpenSSL
 * 3.0.19 on the lab machine (AMD EPYC): 0.06 s per PBKDF2 derivation,
 * 0.02 s for the MAC's PKCS#12 KDF, about 0.15 s per export. */
#define P12_MODERN_ITER 300000

enum pkl_rc pkl_export_p12(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, const char *friendly,
			   const char *password, enum pkl_p12_profile profile, struct pkl_buf *out,
			   struct pkl_err *err)
{
	/* Legacy: 3DES for both bags (never RC2-40, which OpenSSL 3 cannot read
	 * without the legacy provider, migration_guide(7)) and an HMAC-SHA1 MAC, with
	 * OpenSSL's 2,048 iterations: kept as Windows Server 2016 and Apple import
	 * it. Modern: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) and an HMAC-SHA256
	 * MAC, each key derivation - key bag, certificate bag, MAC - at
	 * P12_MODERN_ITER, with a 16-byte MAC salt (the bags get OpenSSL's 8: no
	 * parameter for them in PKCS12_create_ex). */
	int modern = profile == PKL_P12_MODERN;
	int nid = modern ? NID_aes_256_cbc : NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
	const EVP_MD *mac_md = modern ? EVP_sha256() : EVP_sha1();
	int iter = modern ? P12_MODERN_ITER : PKCS12_DEFAULT_ITER;
	int mac_salt_len = modern ? 16 : 0; /* 0: OpenSSL's default, 8 */
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int len = 0;
	enum pkl_rc rc = PKL_ERUNTIME;

	if (!password || !*password)
		return pkl_err_set(err, PKL_EINPUT, NULL, "an empty PKCS#12 password is not allowed");
	/* mac_iter -1: no MAC yet; it is added below with the profile's digest. */
	p12 = PKCS12_create_ex((char *)password, (char *)friendly, key, cert, chain, nid, nid, iter, -1, 0,
			       NULL, NULL);
	if (!p12) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot build the PKCS#12 file");
		goto out;
	}
	/* The MAC must cost as much as the bags: it alone lets a guess be checked. */
	if (!PKCS12_set_mac(p12, password, -1, NULL, mac_salt_len, iter, mac_md)) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot add the PKCS#12 MAC");
		goto out;
	}
	len = i2d_PKCS12(p12, &der);
	if (len <= 0) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot encode the PKCS#12 file");
		goto out;
	}
	if (pkl_buf_append(out, der, (size_t)len) != PKL_OK) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto out;
	}
	rc = PKL_OK;
out:
	if (der)
		OPENSSL_clear_free(der, (size_t)(len > 0 ? len : 0));
	PKCS12_free(p12);
	return rc;
}

static enum pkl_rc p12_of(struct chain *c, EVP_PKEY *key, const struct pkl_export_opts *o,
			  struct pkl_buf *out, struct pkl_err *err)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	enum pkl_rc rc;

	if (!sk)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	for (size_t i = 0; i < c->n_ca; i++)
		if (!sk_X509_push(sk, c->ca[i])) {
			sk_X509_free(sk);
			return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		}
	rc = pkl_export_p12(key, c->cert, sk, c->row.name, o->password, o->profile, out, err);
	sk_X509_free(sk); /* borrowed certificates: only the stack is ours */
	return rc;
}

/* ---- small helpers ---- */

static enum pkl_rc put_pem(struct stage *s, const char *rel, X509 *const *certs, size_t n,
			   struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	enum pkl_rc rc = PKL_OK;

	for (size_t i = 0; i < n && rc == PKL_OK; i++)
		rc = pkl_cert_to_pem(certs[i], &b, err);
	if (rc == PKL_OK)
		rc = stage_put(s, rel, b.data, b.len, 0644, err);
	pkl_buf_free(&b);
	return rc;
}

static enum pkl_rc put_der(struct stage *s, const char *rel, X509 *cert, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	enum pkl_rc rc = pkl_cert_to_der(cert, &b, err);

	if (rc == PKL_OK)
		rc = stage_put(s, rel, b.data, b.len, 0644, err);
	pkl_buf_free(&b);
	return rc;
}

static enum pkl_rc need_key(struct pkl_pki *pki, const struct chain *c, EVP_PKEY **key, struct pkl_err *err)
{
	char path[PATH_MAX];

	if (pkl_pki_path(pki, PKL_FILE_KEY, c->row.name, path, sizeof(path), err) != PKL_OK)
		return PKL_EINPUT;
	if (!c->row.current || !pkl_file_exists(path))
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "no private key for '%s' (serial %s): it was signed from a CSR or "
				   "superseded",
				   c->row.name, c->row.serial);
	*key = pkl_pki_load_key(pki, c->row.name, err);
	return *key ? PKL_OK : (err && err->rc ? err->rc : PKL_ERUNTIME);
}

/* Text for Windows: CRLF line ends. */
static enum pkl_rc put_crlf(struct stage *s, const char *rel, const struct pkl_buf *text, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	enum pkl_rc rc = PKL_OK;

	for (size_t i = 0; i < text->len && rc == PKL_OK; i++) {
		if (text->data[i] == '\n')
			rc = pkl_buf_append(&b, "\r\n", 2);
		else
			rc = pkl_buf_append(&b, &text->data[i], 1);
	}
	if (rc == PKL_OK)
		rc = stage_put(s, rel, b.data, b.len, 0644, err);
	else
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	pkl_buf_free(&b);
	return rc;
}

/* ---- formats ---- */

static enum pkl_rc export_pem(struct pkl_pki *pki, struct chain *c, struct stage *s, struct pkl_err *err)
{
	X509 *all[MAX_CHAIN + 1];
	char rel[PATH_MAX], keypath[PATH_MAX];
	struct pkl_buf key = PKL_BUF_INIT;
	/* One count for filling and reading all[]: clang-analyzer re-reads c->n_ca
	 * after every call and then sees slots it thinks were never filled. */
	const size_t n_ca = c->n_ca;
	size_t n_int = n_ca ? n_ca - 1 : 0; /* intermediates: every CA but the root */
	enum pkl_rc rc;

	all[0] = c->cert;
	for (size_t i = 0; i < n_ca; i++)
		all[i + 1] = c->ca[i];
	snprintf(rel, sizeof(rel), "%s.pem", c->row.name);
	if ((rc = put_pem(s, rel, all, 1, err)) != PKL_OK)
		return rc;
	snprintf(rel, sizeof(rel), "%s-chain.pem", c->row.name);
	if ((rc = put_pem(s, rel, all, 1 + n_int, err)) != PKL_OK)
		return rc;
	snprintf(rel, sizeof(rel), "%s-fullchain.pem", c->row.name);
	if ((rc = put_pem(s, rel, all, 1 + n_ca, err)) != PKL_OK)
		return rc;
	if (n_ca && (rc = put_pem(s, "ca-bundle.pem", all + 1, n_ca, err)) != PKL_OK)
		return rc;
	/* The key as stored (encrypted stays encrypted); none for CSR-signed certs. */
	if (c->row.current &&
	    pkl_pki_path(pki, PKL_FILE_KEY, c->row.name, keypath, sizeof(keypath), NULL) == PKL_OK &&
	    pkl_file_exists(keypath)) {
		if ((rc = pkl_file_read(keypath, 1u << 20, &key, err)) != PKL_OK)
			return rc;
		snprintf(rel, sizeof(rel), "%s.key", c->row.name);
		rc = stage_put(s, rel, key.data, key.len, 0600, err);
		pkl_buf_wipe(&key);
	}
	return rc;
}

static enum pkl_rc export_der(struct chain *c, struct stage *s, struct pkl_err *err)
{
	char rel[PATH_MAX];
	enum pkl_rc rc;

	snprintf(rel, sizeof(rel), "%s.der", c->row.name);
	if ((rc = put_der(s, rel, c->cert, err)) != PKL_OK)
		return rc;
	for (size_t i = 0; i < c->n_ca; i++) {
		snprintf(rel, sizeof(rel), "%s.der", c->ca_row[i].name);
		if ((rc = put_der(s, rel, c->ca[i], err)) != PKL_OK)
			return rc;
	}
	return PKL_OK;
}

/* <name>.<ext>: certificate, private key and chain as PKCS#12, mode 0600. */
static enum pkl_rc put_p12(struct pkl_pki *pki, struct chain *c, const struct pkl_export_opts *o,
			   struct stage *s, const char *ext, struct pkl_err *err)
{
	EVP_PKEY *key = NULL;
	struct pkl_buf p12 = PKL_BUF_INIT;
	char rel[PATH_MAX];
	enum pkl_rc rc;

	if ((rc = need_key(pki, c, &key, err)) != PKL_OK)
		goto out;
	if ((rc = p12_of(c, key, o, &p12, err)) != PKL_OK)
		goto out;
	snprintf(rel, sizeof(rel), "%s.%s", c->row.name, ext);
	rc = stage_put(s, rel, p12.data, p12.len, 0600, err);
out:
	pkl_buf_wipe(&p12);
	EVP_PKEY_free(key);
	return rc;
}

static enum pkl_rc export_p12(struct pkl_pki *pki, struct chain *c, const struct pkl_export_opts *o,
			      struct stage *s, struct pkl_err *err)
{
	return put_p12(pki, c, o, s, "p12", err);
}

static enum pkl_rc export_windows(struct pkl_pki *pki, struct chain *c, const struct pkl_export_opts *o,
				  struct stage *s, struct pkl_err *err)
{
	struct pkl_buf ps = PKL_BUF_INIT, rd = PKL_BUF_INIT;
	const char *n = c->row.name;
	char rel[PATH_MAX];
	enum pkl_rc rc;

	if ((rc = put_p12(pki, c, o, s, "pfx", err)) != PKL_OK)
		goto out;
	snprintf(rel, sizeof(rel), "%s.cer", n);
	if ((rc = put_der(s, rel, c->cert, err)) != PKL_OK)
		goto out;
	for (size_t i = 0; i < c->n_ca; i++) {
		snprintf(rel, sizeof(rel), "%s.cer", c->ca_row[i].name);
		if ((rc = put_der(s, rel, c->ca[i], err)) != PKL_OK)
			goto out;
	}

	/* import.ps1: meant to run unattended (Intune, SCCM, Invoke-Command) as
	 * well as by hand, so it takes the password as a parameter or a file, prints
	 * each certificate it imported, and never deletes a registry key.
	 * tests/t4006 holds it to PSScriptAnalyzer's rules and those defects. */
	pkl_buf_printf(&ps,
		       "# Imports the pkilab certificate '%s' and its CAs into a certificate store.\n"
		       "# Generated by 'pkilab export %s --format windows'. Run in PowerShell 5.1 or later:\n"
		       "#   powershell -ExecutionPolicy Bypass -File .\\import.ps1 [-Store "
		       "LocalMachine|CurrentUser]\n"
		       "#       [-PfxPasswordFile FILE | -PfxPassword SECURESTRING] [-StrongCrlCheck]\n"
		       "# Unattended (Intune, SCCM, Invoke-Command, -NonInteractive) it needs\n"
		       "# -PfxPasswordFile or -PfxPassword; otherwise it asks for the password.\n"
		       "# Every imported certificate is printed as: thumbprint, store, subject.\n"
		       "[CmdletBinding()]\n"
		       "param(\n"
		       "    # LocalMachine (default: RRAS gateway, device tunnel, machine certificate;\n"
		       "    # needs an elevated session) or CurrentUser (Always On VPN user tunnel).\n"
		       "    [ValidateSet('LocalMachine', 'CurrentUser')]\n"
		       "    [string]$Store = 'LocalMachine',\n"
		       "    # The PFX password as a SecureString, e.g. (Get-Credential).Password.\n"
		       "    [SecureString]$PfxPassword,\n"
		       "    # A file whose first line is the PFX password (as pkilab's --password-file);\n"
		       "    # readable only by the account that runs this script, deleted afterwards.\n"
		       "    [string]$PfxPasswordFile,\n"
		       "    # Opt-in (RRAS only): reject IKEv2 clients unless their CRL can be fetched\n"
		       "    # and says unrevoked. CertAuthFlags = 4 is IKEEXT strong CRL checking; with it\n"
		       "    # an unreachable or expired CRL makes EVERY client fail, so keep the CDP up.\n"
		       "    [switch]$StrongCrlCheck\n"
		       ")\n"
		       "Set-StrictMode -Version 2.0\n"
		       "$ErrorActionPreference = 'Stop'\n"
		       "$here = $PSScriptRoot  # the bundle's folder (PowerShell 3.0+)\n"
		       "\n"
		       "# Elevation is needed for the machine stores and the RRAS key, not otherwise\n"
		       "# (no #Requires -RunAsAdministrator: it would refuse -Store CurrentUser too).\n"
		       "if ($Store -eq 'LocalMachine' -or $StrongCrlCheck) {\n"
		       "    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()\n"
		       "    $principal = New-Object -TypeName Security.Principal.WindowsPrincipal "
		       "-ArgumentList $identity\n"
		       "    if (-not "
		       "$principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {\n"
		       "        throw 'Cert:\\LocalMachine and -StrongCrlCheck need an elevated PowerShell "
		       "(Run as administrator); a user tunnel certificate needs none: -Store CurrentUser.'\n"
		       "    }\n"
		       "}\n"
		       "\n"
		       "# The PFX password: -PfxPassword, else the first line of -PfxPasswordFile,\n"
		       "# else a prompt - never when there is no one to answer it.\n"
		       "if ($PfxPassword -and $PfxPasswordFile) {\n"
		       "    throw 'Give -PfxPassword or -PfxPasswordFile, not both.'\n"
		       "}\n"
		       "if ($PfxPasswordFile) {\n"
		       "    $line = Get-Content -LiteralPath $PfxPasswordFile -TotalCount 1\n"
		       "    if (-not $line) {\n"
		       "        throw \"The first line of $PfxPasswordFile must hold the PFX password.\"\n"
		       "    }\n"
		       "    # One character at a time into a SecureString (the file is plain text by\n"
		       "    # nature; ConvertTo-SecureString -AsPlainText adds nothing to that).\n"
		       "    $PfxPassword = New-Object -TypeName System.Security.SecureString\n"
		       "    foreach ($ch in $line.ToCharArray()) {\n"
		       "        $PfxPassword.AppendChar($ch)\n"
		       "    }\n"
		       "    $PfxPassword.MakeReadOnly()\n"
		       "    Remove-Variable -Name line\n"
		       "}\n"
		       "if (-not $PfxPassword) {\n"
		       "    $nonInteractive = [Environment]::GetCommandLineArgs() -match '^-NonI'\n"
		       "    if (-not [Environment]::UserInteractive -or $nonInteractive) {\n"
		       "        throw 'No one to ask for the PFX password (non-interactive session): give "
		       "-PfxPasswordFile FILE or -PfxPassword.'\n"
		       "    }\n"
		       "    $PfxPassword = Read-Host -AsSecureString -Prompt 'Password of %s.pfx'\n"
		       "}\n"
		       "\n"
		       "# Prints what went where: the thumbprint finds the certificate again in\n"
		       "# certlm.msc / certmgr.msc, netsh, and an Intune or SCCM log.\n"
		       "function Write-Imported {\n"
		       "    param([object[]]$Certificate, [string]$Location)\n"
		       "    foreach ($c in $Certificate) {\n"
		       "        Write-Output ('{0}  {1}  {2}' -f $c.Thumbprint, $Location, $c.Subject)\n"
		       "    }\n"
		       "}\n"
		       "\n",
		       n, n, n);
	if (c->n_ca) {
		const char *root = c->ca_row[c->n_ca - 1].name;
		pkl_buf_printf(
			&ps,
			"# Root CA -> Trusted Root Certification Authorities. A user tunnel's root is\n"
			"# usually in the machine store already (Intune trusted certificate profile,\n"
			"# GPO); it is then left there: Windows asks the user to confirm every root\n"
			"# added to Cert:\\CurrentUser\\Root, which no unattended run can answer.\n"
			"$rootCert = New-Object -TypeName "
			"System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList "
			"(Join-Path -Path $here -ChildPath '%s.cer')\n"
			"if ($Store -eq 'CurrentUser' -and (Test-Path -LiteralPath "
			"('Cert:\\LocalMachine\\Root\\' + $rootCert.Thumbprint))) {\n"
			"    Write-Output ('{0}  {1}  {2}' -f $rootCert.Thumbprint, "
			"'Cert:\\LocalMachine\\Root (already there)', $rootCert.Subject)\n"
			"} else {\n"
			"    $imported = Import-Certificate -FilePath (Join-Path -Path $here -ChildPath "
			"'%s.cer') -CertStoreLocation \"Cert:\\$Store\\Root\"\n"
			"    Write-Imported -Certificate $imported -Location \"Cert:\\$Store\\Root\"\n"
			"}\n",
			root, root);
		for (size_t i = c->n_ca - 1; i > 0; i--)
			pkl_buf_printf(
				&ps,
				"# Intermediate CA -> Intermediate Certification Authorities\n"
				"$imported = Import-Certificate -FilePath (Join-Path -Path $here -ChildPath "
				"'%s.cer') -CertStoreLocation \"Cert:\\$Store\\CA\"\n"
				"Write-Imported -Certificate $imported -Location \"Cert:\\$Store\\CA\"\n",
				c->ca_row[i - 1].name);
	}
	pkl_buf_printf(
		&ps,
		"\n"
		"# Certificate and private key -> Personal: the machine store for RRAS and\n"
		"# machine authentication (IKEv2 only looks there), the user's for a user tunnel.\n"
		"$imported = Import-PfxCertificate -FilePath (Join-Path -Path $here -ChildPath '%s.pfx') "
		"-CertStoreLocation \"Cert:\\$Store\\My\" -Password $PfxPassword\n"
		"Write-Imported -Certificate $imported -Location \"Cert:\\$Store\\My\"\n"
		"\n"
		"if ($StrongCrlCheck) {\n"
		"    $key = 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\RemoteAccess\\Parameters\\Ikev2'\n"
		"    # The key is created only when missing, and never with -Force: on an\n"
		"    # existing registry key New-Item -Force deletes it, with every other IKEv2\n"
		"    # setting in it, and creates an empty one. Only CertAuthFlags is set.\n"
		"    if (-not (Test-Path -LiteralPath $key)) {\n"
		"        $null = New-Item -Path $key\n"
		"    }\n"
		"    $old = Get-ItemProperty -LiteralPath $key -Name CertAuthFlags -ErrorAction "
		"SilentlyContinue\n"
		"    if ($null -eq $old) {\n"
		"        $null = New-ItemProperty -LiteralPath $key -Name CertAuthFlags -PropertyType DWord "
		"-Value 4\n"
		"        Write-Output \"$key\\CertAuthFlags = 4 (was not set)\"\n"
		"    } else {\n"
		"        Set-ItemProperty -LiteralPath $key -Name CertAuthFlags -Type DWord -Value 4\n"
		"        Write-Output (\"$key\\CertAuthFlags = 4 (was {0})\" -f $old.CertAuthFlags)\n"
		"    }\n"
		"    Restart-Service -Name RemoteAccess\n"
		"    Write-Output 'RRAS now rejects IKEv2 clients whose revocation status cannot be "
		"checked.'\n"
		"    Write-Output 'Undo: set CertAuthFlags back to the value it had (2, or delete it) and "
		"restart RemoteAccess.'\n"
		"}\n"
		"\n"
		"# Checks: a CRL is only valid inside its thisUpdate..nextUpdate window, so the\n"
		"# clock must be right, and every CDP URL must answer from this machine.\n"
		"# After a revocation Windows keeps a cached CRL until its nextUpdate: see\n"
		"# README.txt (certutil -urlcache CRL delete).\n"
		"w32tm /query /status\n"
		"certutil -verify -urlfetch (Join-Path -Path $here -ChildPath '%s.cer')\n",
		n, n);
	if ((rc = put_crlf(s, "import.ps1", &ps, err)) != PKL_OK)
		goto out;
	pkl_buf_printf(&rd,
		       "pkilab export of '%s' for Windows\n\n"
		       "%s.pfx  certificate + private key + chain, PKCS#12 %s\n"
		       "%s.cer  the certificate alone (DER), for certutil -verify\n",
		       n, n,
		       o->profile == PKL_P12_MODERN ?
			       "AES-256-CBC/PBKDF2/HMAC-SHA256 (Windows 10 1709+, Server 2019+)" :
			       "3DES/SHA-1 (imports on every Windows, including Server 2016)",
		       n);
	for (size_t i = 0; i < c->n_ca; i++)
		pkl_buf_printf(&rd, "%s.cer  %s CA certificate (DER) -> Cert:\\<Store>\\%s\n",
			       c->ca_row[i].name, i + 1 == c->n_ca ? "root" : "intermediate",
			       i + 1 == c->n_ca ? "Root" : "CA");
	pkl_buf_printf(&rd,
		       "import.ps1  imports all of them (default: the machine stores, elevated), prints\n"
		       "            thumbprint, store and subject of each, then runs\n"
		       "            w32tm /query /status and certutil -verify -urlfetch.\n"
		       "\n"
		       "  .\\import.ps1                                 asks for the PFX password\n"
		       "  .\\import.ps1 -PfxPasswordFile C:\\secure\\pfx.txt   first line of the file\n"
		       "  .\\import.ps1 -PfxPassword $securestring      e.g. (Get-Credential).Password\n"
		       "  .\\import.ps1 -Store CurrentUser              Always On VPN user tunnel: the\n"
		       "            user's stores, no elevation (a root already in the machine's\n"
		       "            Trusted Root store is left there)\n"
		       "\n"
		       "Unattended (Intune, SCCM, Invoke-Command, powershell -NonInteractive): give\n"
		       "-PfxPasswordFile or -PfxPassword, else the script stops with an error instead\n"
		       "of waiting for a prompt no one sees. Keep the password file readable only by\n"
		       "the account that runs the script and delete it afterwards.\n"
		       "\n"
		       "Strong CRL checking on RRAS is opt-in: .\\import.ps1 -StrongCrlCheck sets\n"
		       "HKLM\\SYSTEM\\CurrentControlSet\\Services\\RemoteAccess\\Parameters\\Ikev2\\CertAuthF"
		       "lags = 4\n"
		       "(REG_DWORD; the key is created only when missing, other values in it are\n"
		       "kept) and restarts RemoteAccess. With it, an unreachable or expired CRL\n"
		       "rejects every client; set the value it printed (2, or delete it) to undo.\n"
		       "\n"
		       "After a revocation: Windows caches each CRL it fetched until that CRL's\n"
		       "nextUpdate and keeps trusting a just-revoked certificate until then. On the\n"
		       "machine that must see the new CRL now, as administrator:\n"
		       "  certutil -urlcache CRL delete\n"
		       "  certutil -setreg chain\\ChainCacheResyncFiletime @now\n"
		       "(the first empties the URL cache of CRLs, the second makes the chain engine\n"
		       "drop what it holds in memory); then certutil -verify -urlfetch %s.cer.\n",
		       n);
	rc = put_crlf(s, "README.txt", &rd, err);
out:
	pkl_buf_free(&ps);
	pkl_buf_free(&rd);
	return rc;
}

/* swanctl connection names: letters, digits, '-' and '_'. */
static void conn_name(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		out[i] = (char)((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
						(ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ?
					ch :
					'_');
	}
	out[i] = '\0';
}

static enum pkl_rc export_strongswan(struct pkl_pki *pki, struct chain *c, struct stage *s,
				     struct pkl_err *err)
{
	EVP_PKEY *key = NULL;
	struct pkl_buf pem = PKL_BUF_INIT, conf = PKL_BUF_INIT;
	char rel[PATH_MAX], id[300], cn[PKL_NAME_MAX];
	const char *n = c->row.name;
	enum pkl_rc rc;

	if ((rc = need_key(pki, c, &key, err)) != PKL_OK)
		goto out;
	for (size_t i = 0; i < c->n_ca; i++) {
		snprintf(rel, sizeof(rel), "x509ca/%s.pem", c->ca_row[i].name);
		if ((rc = put_pem(s, rel, &c->ca[i], 1, err)) != PKL_OK)
			goto out;
	}
	snprintf(rel, sizeof(rel), "x509/%s.pem", n);
	if ((rc = put_pem(s, rel, &c->cert, 1, err)) != PKL_OK)
		goto out;
	/* private/ takes PKCS#8 of any key type; unencrypted so charon can load it
	 * unattended (the file is 0600, like /etc/swanctl/private). */
	if ((rc = pkl_key_to_pem(key, NULL, &pem, err)) != PKL_OK)
		goto out;
	snprintf(rel, sizeof(rel), "private/%s.pem", n);
	if ((rc = stage_put(s, rel, pem.data, pem.len, 0600, err)) != PKL_OK)
		goto out;
	pkl_certread_ike_id(c->cert, id, sizeof(id));
	conn_name(n, cn, sizeof(cn));
	pkl_buf_printf(&conf,
		       "# strongSwan (swanctl) configuration for '%s', generated by pkilab.\n"
		       "# Install: copy x509ca/, x509/ and private/ into /etc/swanctl/ and this\n"
		       "# file to /etc/swanctl/conf.d/%s.conf, then 'swanctl --load-all'.\n"
		       "connections {\n"
		       "    %s {\n"
		       "        version = 2\n"
		       "        # Send our certificate even without a CERTREQ: Apple clients send none.\n"
		       "        send_cert = always\n"
		       "        local {\n"
		       "            auth = pubkey\n"
		       "            certs = %s.pem\n"
		       "            id = %s\n"
		       "        }\n"
		       "        remote {\n"
		       "            auth = pubkey\n",
		       n, cn, cn, n, id);
	if (c->n_ca)
		pkl_buf_printf(&conf, "            cacerts = %s.pem\n", c->ca_row[c->n_ca - 1].name);
	pkl_buf_printf(&conf,
		       "            # Fail unless a CRL proves the peer's certificate unrevoked.\n"
		       "            revocation = strict\n"
		       "        }\n"
		       "        children {\n"
		       "            %s {\n"
		       "                local_ts = 0.0.0.0/0, ::/0\n"
		       "            }\n"
		       "        }\n"
		       "    }\n"
		       "}\n",
		       cn);
	rc = stage_put(s, "swanctl.conf", conf.data, conf.len, 0644, err);
out:
	pkl_buf_wipe(&pem);
	pkl_buf_free(&conf);
	EVP_PKEY_free(key);
	return rc;
}

/* `openssl ca` dates: UTCTime through 2049, GeneralizedTime from 2050. */
static void ossl_date(pkl_time t, int generalized, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (generalized || tm.tm_year + 1900 >= 2050)
		snprintf(out, len, "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		snprintf(out, len, "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The revocation field of index.txt: "date[,reason]", with keyCompromise and
 * cACompromise carrying the invalidity date the way `openssl ca` spells it. */
static void ossl_revinfo(pkl_time at, int reason, pkl_time invalidity, char *out, size_t len)
{
	char d[32], inv[32];
	const char *r = NULL;

	ossl_date(at, 0, d, sizeof(d));
	switch (reason) {
	case PKL_REASON_KEY_COMPROMISE: r = invalidity ? "keyTime" : "keyCompromise"; break;
	case PKL_REASON_CA_COMPROMISE: r = invalidity ? "CAkeyTime" : "CACompromise"; break;
	case PKL_REASON_AFFILIATION_CHANGED: r = "affiliationChanged"; break;
	case PKL_REASON_SUPERSEDED: r = "superseded"; break;
	case PKL_REASON_CESSATION_OF_OPERATION: r = "cessationOfOperation"; break;
	case PKL_REASON_CERTIFICATE_HOLD: r = "certificateHold"; break;
	default: r = NULL; /* privilegeWithdrawn, aACompromise: openssl ca has no name for them */
	}
	if (r && invalidity && (reason == PKL_REASON_KEY_COMPROMISE || reason == PKL_REASON_CA_COMPROMISE)) {
		ossl_date(invalidity, 1, inv, sizeof(inv));
		snprintf(out, len, "%s,%s,%s", d, r, inv);
	} else if (r) {
		snprintf(out, len, "%s,%s", d, r);
	} else {
		snprintf(out, len, "%s", d);
	}
}

struct index_walk {
	struct pkl_buf *out;
	pkl_time now;
	struct pkl_err *err;
	enum pkl_rc rc;
};

/* One index.txt line per certificate the CA signed. */
static int index_line(const struct pkl_db_issued *c, void *cls)
{
	struct index_walk *w = cls;
	const unsigned char *der = c->der;
	const char *hex = c->serial;
	/* A NULL blob (a row without DER) must not reach d2i as a NULL buffer. */
	X509 *x = der ? d2i_X509(NULL, &der, (long)c->der_len) : NULL;
	char exp[32], rev[96] = "", subj[1024], serial[48];
	size_t hl = hex ? strlen(hex) : 0, o = 0;
	int revoked = c->status == PKL_STATUS_REVOKED;
	char status = (char)(revoked ? 'R' : c->not_after < w->now ? 'E' : 'V');

	if (!x || !hex || hl + 2 > sizeof(serial)) {
		X509_free(x);
		w->rc = pkl_err_set(w->err, PKL_ERUNTIME, "pkilab.db", "unreadable certificate row");
		return 1;
	}
	/* openssl writes serials as upper-case hex with an even digit count. */
	if (hl & 1)
		serial[o++] = '0';
	for (size_t i = 0; i < hl; i++)
		serial[o++] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 32 : hex[i]);
	serial[o] = '\0';
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	X509_free(x);
	ossl_date(c->not_after, 0, exp, sizeof(exp));
	if (revoked)
		ossl_revinfo(c->revoked_at, c->reason, c->invalidity, rev, sizeof(rev));
	if (pkl_buf_printf(w->out, "%c\t%s\t%s\t%s\tunknown\t%s\n", status, exp, rev, serial, subj)) {
		w->rc = pkl_err_set(w->err, PKL_ERUNTIME, NULL, "out of memory");
		return 1;
	}
	return 0;
}

enum pkl_rc pkl_export_index(struct pkl_pki *pki, int64_t ca_id, struct pkl_buf *out, struct pkl_err *err)
{
	struct index_walk w = { out, pkl_time_now(), err, PKL_OK };
	enum pkl_rc rc = pkl_db_issued_each(pki->db, ca_id, index_line, &w, err);

	return rc != PKL_OK ? rc : w.rc;
}

static enum pkl_rc export_index(struct pkl_pki *pki, struct chain *c, struct stage *s, struct pkl_err *err)
{
	const struct pkl_cert_row *ca = c->row.is_ca ? &c->row : &c->ca_row[0];
	struct pkl_buf idx = PKL_BUF_INIT, cnf = PKL_BUF_INIT;
	struct pkl_ca_state cs;
	char outabs[PATH_MAX], pkiabs[PATH_MAX], num[64] = "01";
	BIGNUM *bn = NULL;
	char *hex = NULL;
	enum pkl_rc rc;

	if (!c->row.is_ca && c->n_ca == 0)
		return pkl_err_set(err, PKL_EINPUT, NULL, "'%s' has no issuer", c->row.name);
	if ((rc = pkl_db_ca_get(pki->db, ca->name, &cs, err)) != PKL_OK)
		return rc;
	if ((rc = pkl_export_index(pki, ca->id, &idx, err)) != PKL_OK)
		goto out;
	if ((rc = stage_put(s, "index.txt", idx.data ? (void *)idx.data : (void *)"", idx.len, 0644, err)) !=
	    PKL_OK)
		goto out;
	/* Renewals keep the subject: openssl ca must not insist on unique ones. */
	if ((rc = stage_put(s, "index.txt.attr", "unique_subject = no\n", 20, 0644, err)) != PKL_OK)
		goto out;
	/* openssl's crlnumber file is hex: continue after our last number. */
	if (cs.crl_number[0] && BN_dec2bn(&bn, cs.crl_number) && BN_add_word(bn, 1) && (hex = BN_bn2hex(bn)))
		snprintf(num, sizeof(num), "%s%s", strlen(hex) & 1 ? "0" : "", hex);
	pkl_buf_printf(&cnf, "%s\n", num);
	rc = stage_put(s, "crlnumber", cnf.data, cnf.len, 0644, err);
	cnf.len = 0;
	if (rc != PKL_OK)
		goto out;
	if (!realpath(s->out_dir, outabs) || !realpath(pki->dir, pkiabs)) {
		rc = pkl_err_sys(err, s->out_dir, "cannot resolve path");
		goto out;
	}
	pkl_buf_printf(&cnf,
		       "# openssl ca configuration over the index.txt exported by pkilab for CA '%s'.\n"
		       "#   openssl ca -config openssl-ca.cnf -gencrl -out %s.crl\n"
		       "#   openssl ocsp -index index.txt -CA <ca.pem> -rsigner <cert> -rkey <key> -port N\n"
		       "# The CRL numbers of this file do not continue pkilab's: publish only\n"
		       "# pkilab's own CRLs.\n"
		       "[ ca ]\n"
		       "default_ca = pkilab_ca\n\n"
		       "[ pkilab_ca ]\n"
		       "dir = %s\n"
		       "database = $dir/index.txt\n"
		       "crlnumber = $dir/crlnumber\n"
		       "certificate = %s/certs/%s.pem\n"
		       "private_key = %s/private/%s.key\n"
		       "new_certs_dir = $dir\n"
		       "default_crl_days = %lld\n"
		       "default_md = default\n"
		       "unique_subject = no\n"
		       "crl_extensions = crl_ext\n\n"
		       "[ crl_ext ]\n"
		       "authorityKeyIdentifier = keyid:always\n",
		       ca->name, ca->name, outabs, pkiabs, ca->name, pkiabs, ca->name,
		       (long long)(cs.crl_lifetime > 86400 ? cs.crl_lifetime / 86400 : 1));
	rc = stage_put(s, "openssl-ca.cnf", cnf.data, cnf.len, 0644, err);
out:
	OPENSSL_free(hex);
	BN_free(bn);
	pkl_buf_free(&idx);
	pkl_buf_free(&cnf);
	return rc;
}

enum pkl_rc pkl_export(struct pkl_pki *pki, const char *name, const struct pkl_export_opts *o,
		       struct pkl_buf *listing, struct pkl_err *err)
{
	struct stage *s = calloc(1, sizeof(*s));
	char jpath[PATH_MAX];
	struct chain c;
	enum pkl_rc rc;

	memset(&c, 0, sizeof(c));
	if (!s)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	if (!o->out_dir || !*o->out_dir) {
		rc = pkl_err_set(err, PKL_EINPUT, "--out", "an output directory is required");
		goto out;
	}
	if (snprintf(s->out_buf, sizeof(s->out_buf), "%s", o->out_dir) >= (int)sizeof(s->out_buf)) {
		rc = pkl_err_set(err, PKL_EINPUT, "--out", "output path too long");
		goto out;
	}
	for (size_t l = strlen(s->out_buf); l > 1 && s->out_buf[l - 1] == '/'; l--)
		s->out_buf[l - 1] = '\0';
	s->out_dir = s->out_buf;
	/* A crash in an earlier export's renames: finish them first. */
	if (snprintf(jpath, sizeof(jpath), "%s/%s", s->out_dir, PKL_FILESET_JOURNAL) < (int)sizeof(jpath) &&
	    pkl_file_exists(jpath) && (rc = pkl_fileset_recover(s->out_dir, err)) != PKL_OK)
		goto out;
	if (!(s->fs = pkl_fileset_begin(s->out_dir, PKL_FILESET_MKDIRS, err))) {
		rc = err ? err->rc : PKL_ERUNTIME;
		goto out;
	}
	if ((rc = chain_load(pki, name, &c, err)) != PKL_OK)
		goto out;
	if (pkl_export_needs_password(o->format) && (!o->password || !*o->password)) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "a PKCS#12 password is required");
		goto out;
	}
	switch (o->format) {
	case PKL_EXPORT_PEM: rc = export_pem(pki, &c, s, err); break;
	case PKL_EXPORT_DER: rc = export_der(&c, s, err); break;
	case PKL_EXPORT_P12: rc = export_p12(pki, &c, o, s, err); break;
	case PKL_EXPORT_WINDOWS: rc = export_windows(pki, &c, o, s, err); break;
	case PKL_EXPORT_STRONGSWAN: rc = export_strongswan(pki, &c, s, err); break;
	case PKL_EXPORT_OPENSSL_INDEX: rc = export_index(pki, &c, s, err); break;
	default: rc = pkl_err_set(err, PKL_EINPUT, NULL, "bad export format");
	}
	if (rc == PKL_OK)
		rc = pkl_fileset_commit(s->fs, listing, err);
out:
	pkl_fileset_free(s->fs);
	chain_free(&c);
	free(s);
	return rc;
}
