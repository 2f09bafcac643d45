/*
 * Name constraint matching (see pkilab/nameconstraints.h; RFC 5280 4.2.1.10).
 *
 * The rules follow RFC 5280 where it is precise and OpenSSL's
 * crypto/x509/v3_ncons.c where it is not (the leading-dot dNSName form, the
 * CN-as-host-name rule, the host of a URI), so that doctor's verdict is the
 * one an OpenSSL-based relying party reaches.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "pkilab/nameconstraints.h"

/* The most name-subtree comparisons one certificate may cost (OpenSSL's bound). */
#define NC_CHECK_MAX ((size_t)1 << 20)

static int tail_casecmp(const char *name, size_t nlen, const char *base, size_t blen)
{
	return nlen >= blen && strncasecmp(name + nlen - blen, base, blen) == 0 &&
	       !memchr(name + nlen - blen, '\0', blen) && !memchr(base, '\0', blen);
}

int pkl_nc_dns_match(const char *name, size_t nlen, const char *base, size_t blen)
{
	if (memchr(name, '\0', nlen))
		return 0;
	if (blen == 0)
		return 1;
	if (base[0] == '.')
		return nlen > blen && tail_casecmp(name, nlen, base, blen);
	if (nlen == blen)
		return tail_casecmp(name, nlen, base, blen);
	return nlen > blen && name[nlen - blen - 1] == '.' && tail_casecmp(name, nlen, base, blen);
}

static const char *last_at(const char *s, size_t len)
{
	const char *at = NULL;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;
	return at;
}

int pkl_nc_email_match(const char *name, size_t nlen, const char *base, size_t blen)
{
	const char *at = last_at(name, nlen), *bat;
	const char *host;
	size_t hlen;

	if (!at || memchr(name, '\0', nlen))
		return 0;
	if (blen == 0)
		return 1;
	host = at + 1;
	hlen = nlen - (size_t)(host - name);
	bat = last_at(base, blen);
	if (bat) {
		size_t llen = (size_t)(at - name), bllen = (size_t)(bat - base);
		return llen == bllen && memcmp(name, base, llen) == 0 && hlen == blen - bllen - 1 &&
		       tail_casecmp(host, hlen, bat + 1, hlen);
	}
	if (base[0] == '.')
		return hlen > blen && tail_casecmp(host, hlen, base, blen);
	return hlen == blen && tail_casecmp(host, hlen, base, blen);
}

int pkl_nc_uri_match(const char *uri, size_t ulen, const char *base, size_t blen)
{
	const char *sep, *host, *end = uri + ulen;
	size_t hlen;

	if (memchr(uri, '\0', ulen))
		return 0;
	for (sep = uri; sep + 3 <= end && memcmp(sep, "://", 3) != 0; sep++)
		;
	if (sep + 3 > end)
		return 0;
	host = sep + 3;
	for (hlen = 0; host + hlen < end && host[hlen] != ':' && host[hlen] != '/'; hlen++)
		;
	if (hlen == 0)
		return 0;
	if (blen == 0)
		return 1;
	if (base[0] == '.')
		return hlen > blen && tail_casecmp(host, hlen, base, blen);
	return hlen == blen && tail_casecmp(host, hlen, base, blen);
}

int pkl_nc_ip_match(const unsigned char *ip, size_t iplen, const unsigned char *base, size_t blen)
{
	if ((iplen != 4 && iplen != 16) || blen != 2 * iplen)
		return 0;
	for (size_t k = 0; k < iplen; k++)
		if ((ip[k] & base[iplen + k]) != (base[k] & base[iplen + k]))
			return 0;
	return 1;
}

/* The number of RDNs of n (entries of one multi-valued RDN share a set). */
static int rdn_count(const X509_NAME *n)
{
	int c = X509_NAME_entry_count(n);

	return c > 0 ? X509_NAME_ENTRY_set(X509_NAME_get_entry(n, c - 1)) + 1 : 0;
}

int pkl_nc_dn_match(const X509_NAME *name, const X509_NAME *base)
{
	int want = rdn_count(base), last = -1, ok;
	X509_NAME *prefix;

	if (want == 0)
		return 1;
	if (rdn_count(name) < want)
		return 0;
	prefix = X509_NAME_new();
	if (!prefix)
		return -1;
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int set = X509_NAME_ENTRY_set(e);
		if (set >= want)
			break;
		/* a new RDN, or another value of the one just added */
		if (!X509_NAME_add_entry(prefix, e, -1, set == last ? -1 : 0)) {
			X509_NAME_free(prefix);
			return -1;
		}
		last = set;
	}
	ok = X509_NAME_cmp(prefix, base) == 0;
	X509_NAME_free(prefix);
	return ok;
}

/* A name to check: its form (GEN_*), and its value (string or DN). */
struct nc_name {
	int type;
	const unsigned char *data;
	size_t len;
	const X509_NAME *dn;
};

static int subtree_match(const GENERAL_NAME *b, const struct nc_name *n)
{
	switch (n->type) {
	case GEN_DNS:
		return pkl_nc_dns_match((const char *)n->data, n->len, (const char *)b->d.dNSName->data,
					(size_t)b->d.dNSName->length);
	case GEN_EMAIL:
		return pkl_nc_email_match((const char *)n->data, n->len, (const char *)b->d.rfc822Name->data,
					  (size_t)b->d.rfc822Name->length);
	case GEN_URI:
		return pkl_nc_uri_match((const char *)n->data, n->len,
					(const char *)b->d.uniformResourceIdentifier->data,
					(size_t)b->d.uniformResourceIdentifier->length);
	case GEN_IPADD:
		return pkl_nc_ip_match(n->data, n->len, b->d.iPAddress->data, (size_t)b->d.iPAddress->length);
	case GEN_DIRNAME: return pkl_nc_dn_match(n->dn, b->d.directoryName);
	}
	return 0;
}

static int processed(int type)
{
	return type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI || type == GEN_IPADD ||
	       type == GEN_DIRNAME;
}

/* Whether a subtree has a minimum other than 0 or any maximum (RFC 5280
 * 4.2.1.10: MUST NOT be used; OpenSSL refuses such a constraint too). */
static int min_max(const GENERAL_SUBTREE *st)
{
	return (st->minimum && ASN1_INTEGER_get(st->minimum) != 0) || st->maximum;
}

static enum pkl_nc_verdict check_name(const NAME_CONSTRAINTS *nc, const struct nc_name *n,
				      const GENERAL_SUBTREE **hit)
{
	int have_permitted = 0, permitted = 0;

	if (hit)
		*hit = NULL;
	/* A string name with a NUL byte would match an excluded subtree on one
	 * reading and not on another: constrained, it is refused outright. */
	if (n->data && n->type != GEN_IPADD && memchr(n->data, '\0', n->len)) {
		for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); i++)
			if (sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, i)->base->type == n->type)
				return PKL_NC_UNSUPPORTED;
		for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++)
			if (sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i)->base->type == n->type)
				return PKL_NC_UNSUPPORTED;
	}
	for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); i++) {
		const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, i);
		if (st->base->type != n->type)
			continue;
		if (!processed(n->type) || min_max(st))
			return PKL_NC_UNSUPPORTED;
		int m = subtree_match(st->base, n);
		if (m < 0)
			return PKL_NC_UNSUPPORTED;
		if (m) {
			if (hit)
				*hit = st;
			return PKL_NC_EXCLUDED;
		}
	}
	for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
		const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
		if (st->base->type != n->type)
			continue;
		if (!processed(n->type) || min_max(st))
			return PKL_NC_UNSUPPORTED;
		have_permitted = 1;
		int m = subtree_match(st->base, n);
		if (m < 0)
			return PKL_NC_UNSUPPORTED;
		permitted |= m;
	}
	return have_permitted && !permitted ? PKL_NC_NOT_PERMITTED : PKL_NC_OK;
}

/* A GENERAL_NAME as an nc_name; 0 for a form without a string value here
 * (otherName, x400Address, ediPartyName, registeredID: only their form is
 * compared, which is all check_name needs for them). */
static void from_general_name(const GENERAL_NAME *gn, struct nc_name *n)
{
	memset(n, 0, sizeof(*n));
	n->type = gn->type;
	switch (gn->type) {
	case GEN_DNS:
	case GEN_EMAIL:
	case GEN_URI:
		n->data = gn->d.ia5->data;
		n->len = (size_t)gn->d.ia5->length;
		break;
	case GEN_IPADD:
		n->data = gn->d.iPAddress->data;
		n->len = (size_t)gn->d.iPAddress->length;
		break;
	case GEN_DIRNAME: n->dn = gn->d.directoryName; break;
	}
}

enum pkl_nc_verdict pkl_nc_name_check(const NAME_CONSTRAINTS *nc, const GENERAL_NAME *gn,
				      const GENERAL_SUBTREE **hit)
{
	struct nc_name n;

	from_general_name(gn, &n);
	return check_name(nc, &n, hit);
}

/* ---------------------------------------------------------------- text */

static void printable(char *out, size_t outlen, const unsigned char *s, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < len && k + 1 < outlen; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[k] = '\0';
}

static const char *form_name(int type)
{
	switch (type) {
	case GEN_DNS: return "dNSName";
	case GEN_EMAIL: return "rfc822Name";
	case GEN_IPADD: return "iPAddress";
	case GEN_DIRNAME: return "directoryName";
	case GEN_URI: return "uniformResourceIdentifier";
	case GEN_OTHERNAME: return "otherName";
	case GEN_RID: return "registeredID";
	}
	return "x400Address/ediPartyName";
}

static void ip_text(char *out, size_t outlen, const unsigned char *p, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?", m[INET6_ADDRSTRLEN] = "";
	int af = (len == 4 || len == 8) ? AF_INET : AF_INET6;
	size_t half = len == 8 || len == 32 ? len / 2 : len;

	if (len != 4 && len != 16 && len != 8 && len != 32) {
		snprintf(out, outlen, "(%zu octets)", len);
		return;
	}
	inet_ntop(af, p, a, sizeof(a));
	if (half != len)
		inet_ntop(af, p + half, m, sizeof(m));
	snprintf(out, outlen, "%s%s%s", a, m[0] ? "/" : "", m);
}

static void dn_text(char *out, size_t outlen, const X509_NAME *dn)
{
	char *s = X509_NAME_oneline(dn, NULL, 0);

	printable(out, outlen, (const unsigned char *)(s ? s : "?"), strlen(s ? s : "?"));
	OPENSSL_free(s);
}

static void name_text(char *out, size_t outlen, const struct nc_name *n)
{
	if (n->type == GEN_IPADD)
		ip_text(out, outlen, n->data, n->len);
	else if (n->type == GEN_DIRNAME)
		dn_text(out, outlen, n->dn);
	else if (n->data)
		printable(out, outlen, n->data, n->len);
	else
		snprintf(out, outlen, "(%s)", form_name(n->type));
}

static void subtree_text(char *out, size_t outlen, const GENERAL_NAME *b)
{
	struct nc_name n;

	from_general_name(b, &n);
	name_text(out, outlen, &n);
	if (out[0] == '\0' && b->type != GEN_DIRNAME)
		snprintf(out, outlen, "(any)");
}

static void permitted_text(char *out, size_t outlen, const NAME_CONSTRAINTS *nc, int type)
{
	size_t k = 0;

	out[0] = '\0';
	for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) && k + 1 < outlen; i++) {
		const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
		char one[256];
		if (st->base->type != type)
			continue;
		subtree_text(one, sizeof(one), st->base);
		int w = snprintf(out + k, outlen - k, "%s%s", k ? ", " : "", one);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

/* Checks one name; on a violation fills v and returns the verdict. */
static enum pkl_nc_verdict one(const NAME_CONSTRAINTS *nc, const struct nc_name *n, const char *where,
			       struct pkl_nc_violation *v)
{
	const GENERAL_SUBTREE *hit = NULL;
	enum pkl_nc_verdict verdict = check_name(nc, n, &hit);

	if (verdict == PKL_NC_OK)
		return verdict;
	memset(v, 0, sizeof(*v));
	v->verdict = verdict;
	snprintf(v->form, sizeof(v->form), "%s", form_name(n->type));
	snprintf(v->where, sizeof(v->where), "%s", where);
	name_text(v->name, sizeof(v->name), n);
	if (hit)
		subtree_text(v->subtree, sizeof(v->subtree), hit->base);
	permitted_text(v->permitted, sizeof(v->permitted), nc, n->type);
	return verdict;
}

/* A CN that reads as a host name: letters, digits, '-' and '.', at least one
 * dot, no empty label (OpenSSL's cn2dnsid test, in ASCII). */
static int host_like(const unsigned char *s, size_t len)
{
	int dot = 0;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c == '.') {
			if (s[i - 1] == '.')
				return 0;
			dot = 1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			     c == '-')) {
			return 0;
		}
	}
	return dot;
}

enum pkl_nc_verdict pkl_nc_cert_check(const NAME_CONSTRAINTS *nc, X509 *x, int cn_as_dns,
				      struct pkl_nc_violation *v)
{
	const X509_NAME *subj = X509_get_subject_name(x);
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	enum pkl_nc_verdict verdict = PKL_NC_OK;
	struct nc_name n;
	int has_dns = 0;
	size_t names = (size_t)X509_NAME_entry_count(subj) + (size_t)sk_GENERAL_NAME_num(san) + 1;
	size_t subtrees = (size_t)sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) +
			  (size_t)sk_GENERAL_SUBTREE_num(nc->excludedSubtrees);

	/* Both sides come from the certificates judged: bound the work as OpenSSL
	 * does (NAME_CHECK_MAX in v3_ncons.c) instead of comparing for minutes. */
	if (names * subtrees > NC_CHECK_MAX) {
		memset(v, 0, sizeof(*v));
		v->verdict = PKL_NC_UNSUPPORTED;
		snprintf(v->form, sizeof(v->form), "names");
		snprintf(v->where, sizeof(v->where), "certificate");
		snprintf(v->name, sizeof(v->name), "%zu names against %zu subtrees", names, subtrees);
		GENERAL_NAMES_free(san);
		return v->verdict;
	}
	if (X509_NAME_entry_count(subj) > 0) {
		memset(&n, 0, sizeof(n));
		n.type = GEN_DIRNAME;
		n.dn = subj;
		verdict = one(nc, &n, "subject", v);
	}
	/* RFC 5280 4.2.1.10: emailAddress attributes of the subject are rfc822Names */
	for (int i = -1; verdict == PKL_NC_OK &&
			 (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		memset(&n, 0, sizeof(n));
		n.type = GEN_EMAIL;
		n.data = ASN1_STRING_get0_data(s);
		n.len = (size_t)ASN1_STRING_length(s);
		verdict = one(nc, &n, "subject emailAddress", v);
	}
	for (int i = 0; verdict == PKL_NC_OK && i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		from_general_name(gn, &n);
		verdict = one(nc, &n, "subjectAltName", v);
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++)
		has_dns |= sk_GENERAL_NAME_value(san, i)->type == GEN_DNS;
	/* Not RFC 5280: OpenSSL and GnuTLS check a host-like CN as a dNSName when
	 * the certificate has no dNSName SAN (see the header). */
	for (int i = -1; cn_as_dns && !has_dns && verdict == PKL_NC_OK &&
			 (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		memset(&n, 0, sizeof(n));
		n.type = GEN_DNS;
		n.data = ASN1_STRING_get0_data(s);
		n.len = (size_t)ASN1_STRING_length(s);
		if (ASN1_STRING_type(s) != V_ASN1_BMPSTRING &&
		    ASN1_STRING_type(s) != V_ASN1_UNIVERSALSTRING && host_like(n.data, n.len))
			verdict = one(nc, &n, "subject CN", v);
	}
	GENERAL_NAMES_free(san);
	return verdict;
}
