/*
 * Distinguished names as people write them ("C=CH, O=pkilab Lab, CN=x" or
 * "/C=CH/O=pkilab Lab/CN=x") to and from X509_NAME.
 *
 * The order written is the order encoded (most significant first), because
 * that is how lab files are written and how chains must match byte for
 * byte (RFC 5280 §4.1.2.6, §6.1). String types are fixed per attribute so
 * that the same text always gives the same DER: countryName PrintableString
 * (RFC 5280 Appendix A.1),
 * serialNumber PrintableString (X.520), emailAddress and domainComponent
 * IA5String (PKCS#9, RFC 4519), everything else UTF8String.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "pkilab/lab.h"
#include "pkilab/name.h"

struct dn_attr {
	const char *name;  /* canonical short name, used for printing */
	const char *alias; /* long name also accepted, may be NULL */
	int nid;
	int type;      /* V_ASN1_* */
	size_t maxlen; /* upper bound in characters (RFC 5280 Appendix A) */
};

static const struct dn_attr dn_attrs[] = {
	{ "C", "countryName", NID_countryName, V_ASN1_PRINTABLESTRING, 2 },
	{ "ST", "stateOrProvinceName", NID_stateOrProvinceName, V_ASN1_UTF8STRING, 128 },
	{ "L", "localityName", NID_localityName, V_ASN1_UTF8STRING, 128 },
	{ "O", "organizationName", NID_organizationName, V_ASN1_UTF8STRING, 64 },
	{ "OU", "organizationalUnitName", NID_organizationalUnitName, V_ASN1_UTF8STRING, 64 },
	{ "CN", "commonName", NID_commonName, V_ASN1_UTF8STRING, 64 },
	{ "emailAddress", "E", NID_pkcs9_emailAddress, V_ASN1_IA5STRING, 255 },
	{ "serialNumber", NULL, NID_serialNumber, V_ASN1_PRINTABLESTRING, 64 },
	{ "DC", "domainComponent", NID_domainComponent, V_ASN1_IA5STRING, 63 },
	{ "UID", "userId", NID_userId, V_ASN1_UTF8STRING, 256 },
};
#define N_ATTRS (sizeof(dn_attrs) / sizeof(dn_attrs[0]))

/* For "did you mean": short names first so they win ties. */
static const char *const dn_attr_names[] = {
	"C",
	"ST",
	"L",
	"O",
	"OU",
	"CN",
	"emailAddress",
	"serialNumber",
	"DC",
	"UID",
	"countryName",
	"stateOrProvinceName",
	"localityName",
	"organizationName",
	"organizationalUnitName",
	"commonName",
	"domainComponent",
	"userId",
	NULL,
};

static const struct dn_attr *attr_by_name(const char *name)
{
	for (size_t i = 0; i < N_ATTRS; i++)
		if (strcasecmp(name, dn_attrs[i].name) == 0 ||
		    (dn_attrs[i].alias && strcasecmp(name, dn_attrs[i].alias) == 0))
			return &dn_attrs[i];
	return NULL;
}

static const struct dn_attr *attr_by_nid(int nid)
{
	for (size_t i = 0; i < N_ATTRS; i++)
		if (dn_attrs[i].nid == nid)
			return &dn_attrs[i];
	return NULL;
}

/* Number of code points if s is valid UTF-8 (no overlongs, no surrogates),
 * or (size_t)-1. */
static size_t utf8_chars(const unsigned char *s, size_t len)
{
	size_t n = 0, i = 0;

	while (i < len) {
		unsigned c = s[i], cp, need;
		if (c < 0x80) {
			i++;
			n++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			cp = c & 0x1f;
			need = 1;
		} else if ((c & 0xf0) == 0xe0) {
			cp = c & 0x0f;
			need = 2;
		} else if ((c & 0xf8) == 0xf0) {
			cp = c & 0x07;
			need = 3;
		} else {
			return (size_t)-1;
		}
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return (size_t)-1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
			return (size_t)-1;
		i += need + 1;
		n++;
	}
	return n;
}

static int printable_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!isalnum(c) && !strchr(" '()+,-./:=?", c))
			return 0;
	}
	return 1;
}

static int ia5_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (i)
		memmove(s, s + i, n - i + 1);
}

/* Checks one attribute value and adds it to name. */
static enum pkl_rc name_add(X509_NAME *name, const char *attr, const char *value, struct pkl_err *err)
{
	const struct dn_attr *a = attr_by_name(attr);
	size_t chars;

	if (!a) {
		const char *hint = pkl_suggest(attr, dn_attr_names);
		if (hint)
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "unknown DN attribute '%s' (did you mean '%s'?)", attr, hint);
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "unknown DN attribute '%s' (known: C ST L O OU CN emailAddress "
				   "serialNumber DC UID)",
				   attr);
	}
	if (!*value)
		return pkl_err_set(err, PKL_EINPUT, NULL, "empty value for DN attribute '%s'", a->name);
	chars = utf8_chars((const unsigned char *)value, strlen(value));
	if (chars == (size_t)-1)
		return pkl_err_set(err, PKL_EINPUT, NULL, "DN attribute '%s' is not valid UTF-8", a->name);
	if (a->nid == NID_countryName) {
		if (strlen(value) != 2 || !isupper((unsigned char)value[0]) ||
		    !isupper((unsigned char)value[1]))
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "bad country 'C=%s': expected a 2-letter upper-case ISO 3166 "
					   "code such as CH",
					   value);
	}
	if (chars > a->maxlen)
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "DN attribute '%s' is %zu characters long (at most %zu allowed)", a->name,
				   chars, a->maxlen);
	if (a->type == V_ASN1_PRINTABLESTRING && !printable_ok(value))
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "DN attribute '%s' has characters not allowed in a PrintableString",
				   a->name);
	if (a->type == V_ASN1_IA5STRING && !ia5_ok(value))
		return pkl_err_set(err, PKL_EINPUT, NULL, "DN attribute '%s' must be ASCII", a->name);
	if (!X509_NAME_add_entry_by_NID(name, a->nid, a->type, (const unsigned char *)value,
					(int)strlen(value), -1, 0))
		return pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot add DN attribute '%s'", a->name);
	return PKL_OK;
}

X509_NAME *pkl_name_parse(const char *dn, struct pkl_err *err)
{
	X509_NAME *name = NULL;
	char *buf = NULL, *attr, *val;
	size_t n, ai = 0;
	const char *p;
	char sep = ',';
	int in_value = 0;

	while (*dn == ' ' || *dn == '\t')
		dn++;
	if (!*dn) {
		pkl_err_set(err, PKL_EINPUT, NULL, "empty distinguished name");
		return NULL;
	}
	if (*dn == '/') {
		sep = '/';
		dn++;
	}
	n = strlen(dn);
	/* Two scratch strings (attribute, value) each as long as the input. */
	buf = malloc(2 * n + 2);
	name = X509_NAME_new();
	if (!buf || !name) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto fail;
	}
	attr = buf;
	val = buf + n + 1;
	for (p = dn;; p++) {
		char c = *p;
		if (c == '\\' && p[1]) {
			/* An escaped character is taken literally, wherever it is. */
			p++;
			if (in_value)
				val[ai++] = *p;
			else
				attr[ai++] = *p;
			continue;
		}
		if (c == '\0' || c == sep) {
			if (!in_value) {
				attr[ai] = '\0';
				trim(attr);
				if (c == '\0' && !*attr && p != dn && sep == '/')
					break; /* trailing '/' */
				if (!*attr) {
					pkl_err_set(err, PKL_EINPUT, NULL,
						    "empty component in distinguished name '%s'", dn);
				} else {
					pkl_err_set(err, PKL_EINPUT, NULL,
						    "expected ATTRIBUTE=value in distinguished name, "
						    "got '%s'",
						    attr);
				}
				goto fail;
			}
			val[ai] = '\0';
			trim(val);
			if (name_add(name, attr, val, err) != PKL_OK)
				goto fail;
			if (c == '\0')
				break;
			in_value = 0;
			ai = 0;
			continue;
		}
		if (c == '=' && !in_value) {
			attr[ai] = '\0';
			trim(attr);
			in_value = 1;
			ai = 0;
			continue;
		}
		if (in_value)
			val[ai++] = c;
		else
			attr[ai++] = c;
	}
	free(buf);
	return name;
fail:
	free(buf);
	X509_NAME_free(name);
	return NULL;
}

/* Appends s to b escaping the characters that would change the parse. */
static void esc_append(struct pkl_buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == ',' || c == '\\' || c == '+' || c == '=' || ((i == 0 || i + 1 == len) && c == ' '))
			pkl_buf_append(b, "\\", 1);
		pkl_buf_append(b, &c, 1);
	}
}

char *pkl_name_str(const X509_NAME *name)
{
	struct pkl_buf b = PKL_BUF_INIT;
	int count = X509_NAME_entry_count(name), prev_set = -1;

	pkl_buf_cstr(&b);
	for (int i = 0; i < count; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		const struct dn_attr *a = attr_by_nid(nid);
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		int set = X509_NAME_ENTRY_set(e);
		char oid[80];

		if (i > 0)
			pkl_buf_append(&b, set == prev_set ? " + " : ", ", set == prev_set ? 3 : 2);
		prev_set = set;
		if (a) {
			pkl_buf_printf(&b, "%s=", a->name);
		} else {
			const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
			if (!sn) {
				OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(e), 1);
				sn = oid;
			}
			pkl_buf_printf(&b, "%s=", sn);
		}
		if (len >= 0)
			esc_append(&b, (const char *)utf8, (size_t)len);
		else
			pkl_buf_append(&b, "?", 1);
		OPENSSL_free(utf8);
	}
	if (!b.data)
		return strdup("");
	return (char *)b.data;
}

const char *pkl_name_cn(const X509_NAME *name, char *buf, size_t len)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n;

	if (len)
		buf[0] = '\0';
	if (idx < 0 || !len)
		return buf;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n >= 0)
		snprintf(buf, len, "%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
	return buf;
}

int pkl_name_der_equal(const X509_NAME *a, const X509_NAME *b)
{
	const unsigned char *da = NULL, *db = NULL;
	size_t la = 0, lb = 0;

	/* get0: the cached encoding, no allocation. */
	if (!a || !b || !X509_NAME_get0_der(a, &da, &la) || !X509_NAME_get0_der(b, &db, &lb))
		return 0;
	return la == lb && memcmp(da, db, la) == 0;
}
