/* Distinguished names: "C=CH, O=pkilab Lab, CN=vpn.lab.example" <-> X509_NAME. */
#ifndef PKILAB_NAME_H
#define PKILAB_NAME_H

#include <openssl/x509.h>
#include "err.h"

/* Parses an RFC 4514-like DN in the order written (most significant first,
 * as people write "C=.., O=.., CN=.."), also "/C=../O=../CN=..". Attributes:
 * C ST L O OU CN emailAddress serialNumber DC UID (long names such as
 * commonName are accepted too). countryName is a 2-letter upper-case
 * PrintableString, serialNumber PrintableString (X.520), emailAddress and DC
 * IA5String (PKCS#9, RFC 4519), everything else UTF8String; lengths are
 * bounded as in RFC 5280 Appendix A (CN, O, OU <= 64 characters). `\,`
 * escapes a comma (a backslash escapes any character).
 * Caller frees with X509_NAME_free. */
X509_NAME *pkl_name_parse(const char *dn, struct pkl_err *err);

/* "C=CH, O=pkilab Lab, CN=x" in the same order; caller frees with free(). */
char *pkl_name_str(const X509_NAME *name);

/* The CN's UTF-8 value into buf, or "" if none. */
const char *pkl_name_cn(const X509_NAME *name, char *buf, size_t len);

/* 1 when both names have the same DER encoding, 0 otherwise (also when one
 * cannot be encoded). RFC 5280 6.1 chains by name and strict clients compare
 * the bytes: this is that comparison, not OpenSSL's canonical X509_NAME_cmp. */
int pkl_name_der_equal(const X509_NAME *a, const X509_NAME *b);

#endif
