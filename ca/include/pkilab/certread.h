/*
 * One reader of what a certificate says: its subjectAltNames, its CRL
 * distribution point URIs, its authorityInfoAccess URIs and the IKE
 * identity a peer would present. Every caller that needs one of these reads
 * it here, so a name is turned into text ("DNS:x", "IP:192.0.2.1",
 * "email:x", "URI:x") in one place.
 *
 * An extension that is absent or does not decode reads as an empty list
 * (as X509_get_ext_d2i() reports both); the linter is where a malformed
 * extension is reported.
 */
#ifndef PKILAB_CERTREAD_H
#define PKILAB_CERTREAD_H

#include <stddef.h>
#include <openssl/x509.h>
#include "cert.h"
#include "err.h"

/* One GeneralName (RFC 5280 §4.2.1.6) as found in the certificate. */
struct pkl_certread_name {
	enum pkl_san_type type; /* 0: another form (otherName, directoryName, ...) */
	unsigned char *data;    /* the raw octets, NUL-terminated; an IP: the address */
	size_t len;             /* octets in data; may hold a NUL for IA5 forms */
};

struct pkl_certread_names {
	size_t n;
	struct pkl_certread_name *v;
};

#define PKL_CERTREAD_NAMES_INIT \
	{                       \
		0, NULL         \
	}

/* Which accessMethod of the authorityInfoAccess extension (RFC 5280 §4.2.2.1). */
enum pkl_certread_aia {
	PKL_AIA_CA_ISSUERS,
	PKL_AIA_OCSP
};

/* The subjectAltNames of x in certificate order, every form kept. On failure
 * (memory) *out is left empty. Release with pkl_certread_names_free(). */
enum pkl_rc pkl_certread_san(const X509 *x, struct pkl_certread_names *out, struct pkl_err *err);
/* The URIs of the fullName of every distribution point (RFC 5280 §4.2.1.13),
 * in order; relative names and other GeneralName forms are skipped. */
enum pkl_rc pkl_certread_cdp(const X509 *x, struct pkl_certread_names *out, struct pkl_err *err);
/* The URI locations of the access descriptions with the given method, in
 * order; other location forms are skipped. */
enum pkl_rc pkl_certread_aia(const X509 *x, enum pkl_certread_aia method, struct pkl_certread_names *out,
			     struct pkl_err *err);
/* Frees the entries and empties the list; an empty list is a no-op. */
void pkl_certread_names_free(struct pkl_certread_names *names);

/* The text pkilab prints for a name: with prefix "DNS:x", "email:x",
 * "URI:x", "IP:192.0.2.1"; without it the bare value. IA5 values stop at an
 * embedded NUL; the text is cut to fit len. Returns 1 when buf holds the text
 * of a well-formed name. Returns 0 otherwise: for an IP address that is
 * neither 4 nor 16 octets buf holds "IP:?" (or "?"), for another form "". */
int pkl_certread_name_text(const struct pkl_certread_name *g, int prefix, char *buf, size_t len);

/* The IKE identity a peer would use (RFC 7296 §3.5): the value of the first
 * dNSName, rfc822Name or well-formed iPAddress SAN, else the subject DN
 * quoted ("\"CN=x, O=y\""). out is "" when nothing fits in len. */
void pkl_certread_ike_id(const X509 *x, char *out, size_t len);

#endif
