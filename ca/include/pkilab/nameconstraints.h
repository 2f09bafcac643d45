/*
 * Name constraints (RFC 5280 4.2.1.10): whether a name lies inside a CA's
 * permitted and outside its excluded subtrees, for the forms IPsec relying
 * parties meet - dNSName, rfc822Name, iPAddress, directoryName, and URIs. The matching
 * functions are pure; pkl_nc_cert_check applies one CA's constraints to every
 * name of one certificate. Which certificates a CA's constraints apply to
 * (every one below it, self-issued intermediates excepted, RFC 5280 6.1.3(b))
 * is the path checker's business (chain.c).
 *
 * Names of a certificate, as RFC 5280 4.2.1.10 lists them: the subject DN (as
 * a directoryName, unless empty), each emailAddress attribute of the subject
 * DN (as an rfc822Name), every subjectAltName entry. And one rule RFC 5280
 * does not have: when the certificate has no dNSName in its subjectAltName,
 * each subject CN that looks like a host name is checked as a dNSName. OpenSSL
 * (for the leaf) and GnuTLS do this, so a leaf relying on its CN would be
 * refused by them; pkl_nc_cert_check does it when asked (cn_as_dns).
 */
#ifndef PKILAB_NAMECONSTRAINTS_H
#define PKILAB_NAMECONSTRAINTS_H

#include <stddef.h>
#include <openssl/x509v3.h>

enum pkl_nc_verdict {
	PKL_NC_OK = 0,        /* inside every constraint of its form */
	PKL_NC_NOT_PERMITTED, /* the form has permitted subtrees and the name is in none */
	PKL_NC_EXCLUDED,      /* the name is in an excluded subtree */
	PKL_NC_UNSUPPORTED,   /* constraints on a form (or minimum/maximum) not processed,
			       * or a constrained name with a NUL byte: RFC 5280 4.2.1.10
			       * then requires rejecting the certificate */
};

/* dNSName: base "example.com" holds example.com and any name made by adding
 * labels on the left (host.example.com, not hostexample.com); base
 * ".example.com" only names with at least one label added; "" every name.
 * Case-insensitive; a name with a NUL byte is in no subtree. 1 inside, 0
 * outside. */
int pkl_nc_dns_match(const char *name, size_t nlen, const char *base, size_t blen);

/* rfc822Name: base "user@host" that mailbox only (local part exact, host
 * case-insensitive); base "host" every mailbox at that host; base ".domain"
 * every mailbox at a host below domain (not at domain itself); "" every
 * mailbox. A name without '@' is in no subtree. 1 inside, 0 outside. */
int pkl_nc_email_match(const char *name, size_t nlen, const char *base, size_t blen);

/* uniformResourceIdentifier: the host of "scheme://host[:port][/...]"; base
 * "host" that host only, ".domain" every host below domain; a URI without
 * "://" or a host is in no subtree. Case-insensitive. 1 inside, 0 outside. */
int pkl_nc_uri_match(const char *uri, size_t ulen, const char *base, size_t blen);

/* iPAddress: base is address then mask (8 octets for IPv4, 32 for IPv6), the
 * name 4 or 16 octets; another family is outside. 1 inside, 0 outside. */
int pkl_nc_ip_match(const unsigned char *ip, size_t iplen, const unsigned char *base, size_t blen);

/* directoryName: name begins with the RDNs of base (compared as OpenSSL's
 * X509_NAME_cmp does, on the canonical encoding). 1 inside, 0 outside, -1 out
 * of memory. */
int pkl_nc_dn_match(const X509_NAME *name, const X509_NAME *base);

/* One name against one CA's constraints; *hit (may be NULL) gets the excluded
 * subtree that matched, or NULL. PKL_NC_UNSUPPORTED also when out of memory. */
enum pkl_nc_verdict pkl_nc_name_check(const NAME_CONSTRAINTS *nc, const GENERAL_NAME *gn,
				      const GENERAL_SUBTREE **hit);

/* What the first violation was, as text for a finding (control characters
 * replaced by '?'). */
struct pkl_nc_violation {
	enum pkl_nc_verdict verdict;
	char form[32];       /* "dNSName", "rfc822Name", "iPAddress", "directoryName", ... */
	char name[256];      /* the name */
	char where[32];      /* "subjectAltName", "subject", "subject emailAddress", "subject CN" */
	char subtree[256];   /* the excluded subtree it is in ("" otherwise) */
	char permitted[256]; /* the permitted subtrees of that form ("" when none) */
};

/* Every name of x (see above; CNs as dNSNames when cn_as_dns and x has no
 * dNSName SAN) against nc. The first violation goes to *v. More than 2^20
 * name-subtree pairs are not compared: PKL_NC_UNSUPPORTED (OpenSSL refuses
 * them too). */
enum pkl_nc_verdict pkl_nc_cert_check(const NAME_CONSTRAINTS *nc, X509 *x, int cn_as_dns,
				      struct pkl_nc_violation *v);

#endif
