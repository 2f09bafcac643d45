/* Distinguished names: "C=CH, O=pkilab Lab, CN=vpn.lab.example" <-> X509_NAME. */
#ifndef PKILAB_NAME_H
#define PKILAB_NAME_H

#include <openssl/x509.h>
#include "err.h"

/* Parses an RFC 4514-like DN in the order written (most significant first,
 * as people write "C=.., O=.., CN=.."), also "/C=../O=../CN=..". Attributes:
 * C ST L O OU CN emailAddress serialNumber DC UID. countryName is a 2-letter
 * PrintableString, everything else UTF8String. `\,` escapes a comma.
 * Caller frees with X509_NAME_free. */
X509_NAME *pkl_name_parse(const char *dn, struct pkl_err *err);

/* "C=CH, O=pkilab Lab, CN=x" in the same order; caller frees with free(). */
char *pkl_name_str(const X509_NAME *name);

/* The CN's UTF-8 value into buf, or "" if none. */
const char *pkl_name_cn(const X509_NAME *name, char *buf, size_t len);

#endif
