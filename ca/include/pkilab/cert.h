/*
 * Certificate issuance: one function that turns a fully resolved request
 * into a signed X.509 v3 certificate, plus the vocabulary (KU/EKU names,
 * SAN syntax) that lab files and templates use.
 */
#ifndef PKILAB_CERT_H
#define PKILAB_CERT_H

#include <openssl/x509.h>
#include "ptime.h"
#include "buf.h"

/* keyUsage bits, in our own numbering (mapped to the DER bit string inside). */
enum {
	PKL_KU_DIGITAL_SIGNATURE = 1 << 0,
	PKL_KU_NON_REPUDIATION = 1 << 1,
	PKL_KU_KEY_ENCIPHERMENT = 1 << 2,
	PKL_KU_DATA_ENCIPHERMENT = 1 << 3,
	PKL_KU_KEY_AGREEMENT = 1 << 4,
	PKL_KU_KEY_CERT_SIGN = 1 << 5,
	PKL_KU_CRL_SIGN = 1 << 6,
	PKL_KU_ENCIPHER_ONLY = 1 << 7,
	PKL_KU_DECIPHER_ONLY = 1 << 8,
};

/* "digitalSignature" -> PKL_KU_DIGITAL_SIGNATURE; 0 if unknown. */
unsigned pkl_ku_from_name(const char *name);
/* NULL-terminated list of the known names (for suggestions). */
const char *const *pkl_ku_names(void);

/* EKU by name ("serverAuth", "clientAuth", "ikeIntermediate" = 1.3.6.1.5.5.8.2.2,
 * "ipsecIKE" = 1.3.6.1.5.5.7.3.17, "codeSigning", "emailProtection",
 * "timeStamping", "OCSPSigning", "msSmartcardLogon", "anyExtendedKeyUsage")
 * or a dotted OID; returns the dotted OID, NULL if neither. */
const char *pkl_eku_oid(const char *name_or_oid);
/* The short name for a dotted OID, or the OID itself. */
const char *pkl_eku_name(const char *oid);
const char *const *pkl_eku_names(void);

enum pkl_san_type {
	PKL_SAN_DNS = 1,
	PKL_SAN_IP,
	PKL_SAN_EMAIL,
	PKL_SAN_URI
};

struct pkl_san {
	enum pkl_san_type type;
	char value[256];
	unsigned char ip[16]; /* PKL_SAN_IP: the address */
	int ip_len;           /* 4 or 16 */
};

/* "DNS:vpn.example", "IP:192.0.2.1", "email:a@b", "URI:http://..", or a bare
 * value: an IP literal becomes IP, something with '@' email, otherwise DNS.
 * Validates syntax (dNSName preferred-name syntax, <= 253 chars). */
enum pkl_rc pkl_san_parse(const char *s, struct pkl_san *out, struct pkl_err *err);

/* Everything needed to issue one certificate. Pointers are borrowed. */
struct pkl_cert_req {
	const X509_NAME *subject;
	EVP_PKEY *pubkey; /* the subject's key (only its public half is used) */
	const struct pkl_san *sans;
	size_t n_sans;
	int ip_as_dns; /* write each IP SAN also as a dNSName (Windows; docs/profile.md) */
	pkl_time not_before, not_after;
	int is_ca;
	int path_len;                /* -1: no pathLenConstraint */
	unsigned key_usage;          /* PKL_KU_* ; 0 = no keyUsage extension */
	const char *const *eku_oids; /* dotted OIDs; n_eku 0 = no EKU extension */
	size_t n_eku;
	const char *const *cdp_uris; /* full URIs, in priority order */
	size_t n_cdp;
	int cdp_point_per_uri;       /* 0: one DistributionPoint with n fullNames; 1: n points */
	const char *const *aia_uris; /* caIssuers URIs */
	size_t n_aia;
	const unsigned char *serial; /* big-endian, positive; NULL = 16 random bytes */
	size_t serial_len;
	const EVP_MD *md; /* NULL: pkl_key_default_md(issuer key) */
};

/* Issues a certificate signed by issuer_key. issuer NULL means self-signed
 * (issuer name = subject, AKI = own SKI). Caller frees with X509_free.
 * Speed: for end-entity certificates with EC or Ed25519 keys the
 * SubjectPublicKeyInfo is written directly (OpenSSL 3.0's encoder/decoder
 * path costs ~140 us per certificate), so X509_get0_pubkey() on the returned
 * leaf is NULL; DER/PEM output, signature and extensions are unaffected.
 * Reload it (pkl_cert_from_der) if you need the decoded key. CA and
 * self-signed certificates always carry the decoded key. */
X509 *pkl_cert_issue(const struct pkl_cert_req *req, X509 *issuer, EVP_PKEY *issuer_key, struct pkl_err *err);

/* 16 CSPRNG bytes, top bit cleared, never all-zero (RFC 5280 §4.1.2.2, CA/B BR §7.1). */
enum pkl_rc pkl_serial_random(unsigned char out[16], struct pkl_err *err);
/* Serial as lowercase hex without leading zero bytes, e.g. "3fa1..." */
const char *pkl_serial_hex(const X509 *cert, char *buf, size_t len);

/* The RFC 5280 4.2.1.2 method 1 key identifier (SHA-1 of the subjectPublicKey
 * bits) of pub: a new OCTET STRING the caller frees, NULL on failure. */
ASN1_OCTET_STRING *pkl_cert_key_id(X509_PUBKEY *pub);

/* PEM and DER helpers */
enum pkl_rc pkl_cert_to_pem(X509 *cert, struct pkl_buf *out, struct pkl_err *err);
enum pkl_rc pkl_cert_to_der(X509 *cert, struct pkl_buf *out, struct pkl_err *err);
/* Loads the first certificate of a PEM or DER file. */
X509 *pkl_cert_load(const char *path, struct pkl_err *err);
X509 *pkl_cert_from_der(const unsigned char *der, size_t len, const char *where, struct pkl_err *err);

#endif
