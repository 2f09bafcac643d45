/*
 * CRL inspection (see pkilab/crl_read.h). Used by the CDP server to decide
 * whether a CRL may be served and by `pkilab doctor` to explain why a chain
 * fails revocation checking, so messages name the exact defect and nothing
 * here assumes either caller.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "pkilab/buf.h"
#include "pkilab/crl_read.h"
#include "pkilab/name.h"

/* ---- the DER walker (RFC 5280 §5.1) ---- */

/* Reads one TLV header at *p (within end); on success *p points at the
 * contents, *len is their length. DER only: indefinite lengths are refused. */
static int tlv(const unsigned char **p, const unsigned char *end, long *len, int *tag, int *cls,
	       int *constructed)
{
	const unsigned char *q = *p;
	int r;

	if (q >= end)
		return -1;
	r = ASN1_get_object(&q, len, tag, cls, (long)(end - q));
	if ((r & 0x80) || (r & 0x01))
		return -1;
	if (*len < 0 || *len > end - q)
		return -1;
	*constructed = (r & V_ASN1_CONSTRUCTED) != 0;
	*p = q;
	return 0;
}

/* The Time TLV in [start, end) exactly. */
static int read_time(const unsigned char *start, const unsigned char *end, pkl_time *out)
{
	const unsigned char *q = start;
	ASN1_TIME *t = d2i_ASN1_TIME(NULL, &q, (long)(end - start));
	int ok;

	if (!t)
		return -1;
	ok = pkl_time_from_asn1(t, out) == PKL_OK && q == end;
	ASN1_TIME_free(t);
	return ok ? 0 : -1;
}

/* CRLNumber from the contents of crlExtensions [0]. */
static int read_number(const unsigned char *exts, size_t len, struct pkl_crl_tbs *r)
{
	const unsigned char *q = exts;
	STACK_OF(X509_EXTENSION) *sk = d2i_X509_EXTENSIONS(NULL, &q, (long)len);
	ASN1_INTEGER *num = NULL;
	BIGNUM *bn = NULL;
	int ok = 0;

	if (!sk || q != exts + len)
		goto out;
	num = X509V3_get_d2i(sk, NID_crl_number, NULL, NULL);
	if (num) {
		bn = ASN1_INTEGER_to_BN(num, NULL);
		if (!bn || BN_is_negative(bn) || BN_num_bytes(bn) > 20)
			goto out;
		r->number_len = (size_t)BN_bn2bin(bn, r->number);
		if (r->number_len == 0) { /* the number 0 */
			r->number[0] = 0;
			r->number_len = 1;
		}
	}
	ok = 1;
out:
	sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	ASN1_INTEGER_free(num);
	BN_free(bn);
	return ok;
}

enum pkl_rc pkl_crl_walk(const unsigned char *der, size_t len, struct pkl_crl_tbs *out, struct pkl_err *err)
{
	struct pkl_crl_tbs r;
	const unsigned char *p = der, *end, *tbs_end, *start;
	long l;
	int tag, cls, cons;
	enum pkl_rc rc = PKL_EINPUT;

	memset(&r, 0, sizeof(r));
	if (!der || len < 2 || len > (size_t)0x7fffffff)
		goto bad;
	end = der + len; /* only now: arithmetic on a NULL der is undefined */
	/* CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signature } */
	if (tlv(&p, end, &l, &tag, &cls, &cons) || tag != V_ASN1_SEQUENCE || !cons)
		goto bad;
	end = p + l;
	if (tlv(&p, end, &l, &tag, &cls, &cons) || tag != V_ASN1_SEQUENCE || !cons)
		goto bad;
	tbs_end = p + l;
	/* version INTEGER OPTIONAL (v2 = 1, §5.1.2.1) */
	if (tlv(&p, tbs_end, &l, &tag, &cls, &cons))
		goto bad;
	if (cls == V_ASN1_UNIVERSAL && tag == V_ASN1_INTEGER) {
		r.has_version = 1;
		r.version = l >= 1 && l <= 4 ? 0 : -1;
		for (long i = 0; l <= 4 && i < l; i++)
			r.version = r.version * 256 + p[i];
		p += l;
		if (tlv(&p, tbs_end, &l, &tag, &cls, &cons))
			goto bad;
	}
	/* signature AlgorithmIdentifier, issuer Name */
	if (tag != V_ASN1_SEQUENCE)
		goto bad;
	p += l;
	if (tlv(&p, tbs_end, &l, &tag, &cls, &cons) || tag != V_ASN1_SEQUENCE)
		goto bad;
	p += l;
	/* thisUpdate Time */
	start = p;
	if (tlv(&p, tbs_end, &l, &tag, &cls, &cons) ||
	    (tag != V_ASN1_UTCTIME && tag != V_ASN1_GENERALIZEDTIME))
		goto bad;
	p += l;
	if (read_time(start, p, &r.this_update))
		goto bad;
	/* nextUpdate OPTIONAL, revokedCertificates OPTIONAL, [0] crlExtensions OPTIONAL */
	while (p < tbs_end) {
		start = p;
		if (tlv(&p, tbs_end, &l, &tag, &cls, &cons))
			goto bad;
		if (cls == V_ASN1_UNIVERSAL && (tag == V_ASN1_UTCTIME || tag == V_ASN1_GENERALIZEDTIME)) {
			p += l;
			if (read_time(start, p, &r.next_update))
				goto bad;
		} else if (cls == V_ASN1_UNIVERSAL && tag == V_ASN1_SEQUENCE) {
			r.has_list = 1;
			r.has_entries = l > 0; /* skipped, never decoded */
			r.list = p;
			r.list_len = (size_t)l;
			p += l;
		} else if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0 && cons) {
			if (!read_number(p, (size_t)l, &r))
				goto bad;
			r.exts = p;
			r.exts_len = (size_t)l;
			p += l;
		} else {
			goto bad;
		}
	}
	*out = r;
	rc = PKL_OK;
	goto done;
bad:
	rc = pkl_err_set(err, PKL_EINPUT, NULL, "malformed CRL (%zu bytes)", len);
done:
	ERR_clear_error();
	return rc;
}

enum pkl_rc pkl_crl_walk_file(const char *path, struct pkl_crl_tbs *out, struct pkl_err *err)
{
	struct stat sb;
	void *map;
	enum pkl_rc rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pkl_err_sys(err, path, "cannot open");
		if (err)
			err->rc = PKL_EINPUT; /* a missing CRL is a condition, not a failure */
		return PKL_EINPUT;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 2) {
		close(fd);
		return pkl_err_set(err, PKL_EINPUT, path, "not a CRL file");
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return pkl_err_sys(err, path, "cannot map");
	rc = pkl_crl_walk(map, (size_t)sb.st_size, out, err);
	munmap(map, (size_t)sb.st_size);
	if (rc != PKL_OK)
		pkl_err_where(err, path);
	else
		out->list = out->exts = NULL; /* they pointed into the mapping */
	return rc;
}

/* Reason and invalidity date from crlEntryExtensions (§5.3.1, §5.3.2). */
static int read_entry_exts(const unsigned char *p, long l, struct pkl_crl_entry *e)
{
	const unsigned char *q = p;
	STACK_OF(X509_EXTENSION) *sk = d2i_X509_EXTENSIONS(NULL, &q, l);
	ASN1_ENUMERATED *reason = NULL;
	ASN1_GENERALIZEDTIME *inval = NULL;
	int crit = -1, ok = 0;

	if (!sk || q != p + l)
		goto out;
	reason = X509V3_get_d2i(sk, NID_crl_reason, &crit, NULL);
	if (!reason && crit != -1)
		goto out;
	if (reason) {
		long v = ASN1_ENUMERATED_get(reason);
		if (v < 0 || v > 10)
			goto out;
		e->reason = (int)v;
	}
	crit = -1;
	inval = X509V3_get_d2i(sk, NID_invalidity_date, &crit, NULL);
	if (!inval && crit != -1)
		goto out;
	if (inval && pkl_time_from_asn1(inval, &e->invalidity) != PKL_OK)
		goto out;
	ok = 1;
out:
	sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	ASN1_ENUMERATED_free(reason);
	ASN1_GENERALIZEDTIME_free(inval);
	return ok;
}

enum pkl_rc pkl_crl_read_entry(const unsigned char **pp, const unsigned char *end, struct pkl_crl_entry *out,
			       struct pkl_err *err)
{
	struct pkl_crl_entry e;
	const unsigned char *p = *pp, *ent_end, *start;
	long l;
	int tag, cls, cons;

	memset(&e, 0, sizeof(e));
	e.reason = PKL_REASON_NONE;
	/* SEQUENCE { userCertificate CertificateSerialNumber, revocationDate Time,
	 *            crlEntryExtensions Extensions OPTIONAL } */
	if (!p || !end || tlv(&p, end, &l, &tag, &cls, &cons) || cls != V_ASN1_UNIVERSAL ||
	    tag != V_ASN1_SEQUENCE || !cons)
		goto bad;
	ent_end = p + l;
	if (tlv(&p, ent_end, &l, &tag, &cls, &cons) || cls != V_ASN1_UNIVERSAL || tag != V_ASN1_INTEGER ||
	    cons || l < 1 || (p[0] & 0x80))
		goto bad;
	{
		const unsigned char *s = p;
		long n = l;
		while (n > 1 && s[0] == 0) {
			s++;
			n--;
		}
		if ((size_t)n > sizeof(e.serial))
			goto bad;
		memcpy(e.serial, s, (size_t)n);
		e.serial_len = (size_t)n;
	}
	p += l;
	start = p;
	if (tlv(&p, ent_end, &l, &tag, &cls, &cons) || cls != V_ASN1_UNIVERSAL ||
	    (tag != V_ASN1_UTCTIME && tag != V_ASN1_GENERALIZEDTIME))
		goto bad;
	p += l;
	if (read_time(start, p, &e.revoked_at))
		goto bad;
	if (p < ent_end) {
		start = p;
		if (tlv(&p, ent_end, &l, &tag, &cls, &cons) || cls != V_ASN1_UNIVERSAL ||
		    tag != V_ASN1_SEQUENCE || !cons || p + l != ent_end)
			goto bad;
		/* d2i_X509_EXTENSIONS reads the whole SEQUENCE, header included. */
		if (!read_entry_exts(start, (long)(ent_end - start), &e))
			goto bad;
	}
	*out = e;
	*pp = ent_end;
	ERR_clear_error();
	return PKL_OK;
bad:
	ERR_clear_error();
	return pkl_err_set(err, PKL_EINPUT, NULL, "malformed CRL entry");
}

/* Explains why d2i failed: PEM instead of DER, a short file, or bad bytes.
 * The outer SEQUENCE header tells how long the CRL claims to be. */
static enum pkl_rc explain_bad_der(const unsigned char *der, size_t len, const char *where,
				   struct pkl_err *err)
{
	const unsigned char *p = der;
	long clen = 0;
	int tag = 0, xclass = 0, r;

	ERR_clear_error();
	if (len == 0)
		return pkl_err_set(err, PKL_EINPUT, where, "empty file, expected a DER CRL");
	if (len >= 10 && memcmp(der, "-----BEGIN", 10) == 0)
		return pkl_err_set(err, PKL_EINPUT, where, "PEM, expected a DER CRL");
	if (der[0] != 0x30)
		return pkl_err_set(err, PKL_EINPUT, where,
				   "corrupt DER: not an ASN.1 SEQUENCE (first byte 0x%02x)", der[0]);
	r = ASN1_get_object(&p, &clen, &tag, &xclass, (long)(len > 0x7fffffff ? 0x7fffffff : len));
	ERR_clear_error();
	if (r & 0x80) {
		/* 0x80 is also set when the content runs past the buffer; tell the two apart. */
		if (p > der && clen > 0 && (size_t)(p - der) + (size_t)clen > len)
			return pkl_err_set(err, PKL_EINPUT, where,
					   "truncated DER: the CRL claims %zu bytes, only %zu present",
					   (size_t)(p - der) + (size_t)clen, len);
		if (len < 2 || (der[1] & 0x80 && len < 2 + (size_t)(der[1] & 0x7f)))
			return pkl_err_set(err, PKL_EINPUT, where, "truncated DER: %zu bytes", len);
		return pkl_err_set(err, PKL_EINPUT, where, "corrupt DER: bad length encoding");
	}
	return pkl_err_set(err, PKL_EINPUT, where, "corrupt DER: not a valid CRL structure");
}

static void number_to_dec(const ASN1_INTEGER *n, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(n, NULL);
	char *dec = bn ? BN_bn2dec(bn) : NULL;

	snprintf(out, outlen, "%s", dec ? dec : "");
	OPENSSL_free(dec);
	BN_free(bn);
}

enum pkl_rc pkl_crlcheck_parse(const unsigned char *der, size_t len, const char *where,
			       struct pkl_crlinfo *info, X509_CRL **out, struct pkl_err *err)
{
	const unsigned char *p = der;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num = NULL;
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_TIME *t;
	const STACK_OF(X509_REVOKED) * revoked;
	int crit = -1;
	enum pkl_rc rc = PKL_EINPUT;

	memset(info, 0, sizeof(*info));
	info->size = len;
	if (len == 0 || len > 0x7fffffff || !der) {
		rc = explain_bad_der(der ? der : (const unsigned char *)"", der ? len : 0, where, err);
		goto out;
	}
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (!crl) {
		rc = explain_bad_der(der, len, where, err);
		goto out;
	}
	if ((size_t)(p - der) != len) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "corrupt DER: %zu bytes of trailing data",
				 len - (size_t)(p - der));
		goto out;
	}
	info->version = X509_CRL_get_version(crl);
	info->sig_nid = X509_CRL_get_signature_nid(crl);
	{
		char *dn = X509_NAME_oneline(X509_CRL_get_issuer(crl), NULL, 0);

		snprintf(info->issuer, sizeof(info->issuer), "%s", dn ? dn : "");
		OPENSSL_free(dn);
	}
	t = X509_CRL_get0_lastUpdate(crl);
	if (!t || pkl_time_from_asn1(t, &info->this_update) != PKL_OK) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "corrupt CRL: unreadable thisUpdate");
		goto out;
	}
	t = X509_CRL_get0_nextUpdate(crl);
	if (t && pkl_time_from_asn1(t, &info->next_update) != PKL_OK) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "corrupt CRL: unreadable nextUpdate");
		goto out;
	}
	if (info->next_update && info->next_update < info->this_update) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "corrupt CRL: nextUpdate before thisUpdate");
		goto out;
	}
	revoked = X509_CRL_get_REVOKED(crl);
	info->revoked = revoked ? (size_t)sk_X509_REVOKED_num(revoked) : 0;

	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	if (!num && crit != -1) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "corrupt CRL: unreadable CRL number");
		goto out;
	}
	if (num) {
		if (ASN1_STRING_type(num) == V_ASN1_NEG_INTEGER) {
			rc = pkl_err_set(err, PKL_EINPUT, where, "CRL number is negative");
			goto out;
		}
		/* 20 octets of magnitude: the encoding may add a leading 0x00 we do not see here. */
		if (ASN1_STRING_length(num) > 20) {
			rc = pkl_err_set(err, PKL_EINPUT, where,
					 "CRL number longer than 20 octets (RFC 5280 §5.2.3)");
			goto out;
		}
		number_to_dec(num, info->number, sizeof(info->number));
	}
	crit = -1;
	akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
	if (!akid && crit != -1) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "corrupt CRL: unreadable authority key identifier");
		goto out;
	}
	if (akid && akid->keyid) {
		size_t n = (size_t)ASN1_STRING_length(akid->keyid);

		if (n > sizeof(info->aki))
			n = sizeof(info->aki);
		memcpy(info->aki, ASN1_STRING_get0_data(akid->keyid), n);
		info->aki_len = n;
		info->has_aki = 1;
	}
	rc = PKL_OK;
	if (out) {
		*out = crl;
		crl = NULL;
	}
out:
	ERR_clear_error();
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return rc;
}

enum pkl_rc pkl_crlcheck_verify(const unsigned char *der, size_t len, const char *where, X509 *ca,
				struct pkl_crlinfo *info, struct pkl_err *err)
{
	X509_CRL *crl = NULL;
	enum pkl_rc rc;

	rc = pkl_crlcheck_parse(der, len, where, info, &crl, err);
	if (rc == PKL_OK)
		rc = pkl_crlcheck_verify_parsed(crl, info, where, ca, err);
	X509_CRL_free(crl);
	return rc;
}

enum pkl_rc pkl_crlcheck_verify_parsed(X509_CRL *crl, const struct pkl_crlinfo *info, const char *where,
				       X509 *ca, struct pkl_err *err)
{
	EVP_PKEY *pub;
	const ASN1_OCTET_STRING *ski;
	enum pkl_rc rc;
	int r;

	if (!ca) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "no CA certificate to verify the CRL with");
		goto out;
	}
	/* RFC 5280 §6.3.3 (b)/(f): matching is by name, and clients compare bytes. */
	if (!pkl_name_der_equal(X509_CRL_get_issuer(crl), X509_get_subject_name(ca))) {
		char *dn = X509_NAME_oneline(X509_get_subject_name(ca), NULL, 0);

		rc = pkl_err_set(err, PKL_EINPUT, where,
				 "wrong issuer: CRL issuer '%s' is not byte-equal to the CA subject '%s'",
				 info->issuer, dn ? dn : "?");
		OPENSSL_free(dn);
		goto out;
	}
	ski = X509_get0_subject_key_id(ca);
	if (ski) {
		char h1[130], h2[130];

		if (!info->has_aki) {
			rc = pkl_err_set(err, PKL_EINPUT, where,
					 "no authority key identifier (the CA has a subject key identifier)");
			goto out;
		}
		if ((size_t)ASN1_STRING_length(ski) != info->aki_len ||
		    memcmp(ASN1_STRING_get0_data(ski), info->aki, info->aki_len) != 0) {
			pkl_hex(info->aki, info->aki_len, h1, sizeof(h1));
			pkl_hex(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski), h2, sizeof(h2));
			rc = pkl_err_set(err, PKL_EINPUT, where,
					 "wrong issuer key: CRL authority key identifier %s != CA subject "
					 "key identifier %s",
					 h1, h2);
			goto out;
		}
	}
	if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca) & KU_CRL_SIGN)) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "the CA certificate's keyUsage lacks cRLSign");
		goto out;
	}
	pub = X509_get0_pubkey(ca);
	if (!pub) {
		rc = pkl_err_ssl(err, PKL_EINPUT, where, "unreadable CA public key");
		goto out;
	}
	r = X509_CRL_verify(crl, pub);
	if (r != 1) {
		/* 0 is a plain mismatch; <0 a malformed signature or an algorithm mismatch. */
		rc = pkl_err_set(err, PKL_EINPUT, where,
				 r == 0 ? "bad signature: the CRL was not signed by the CA's key" :
					  "bad signature: malformed or unsupported signature");
		ERR_clear_error();
		goto out;
	}
	if (!info->number[0]) {
		rc = pkl_err_set(err, PKL_EINPUT, where, "no CRL number (RFC 5280 §5.2.3)");
		goto out;
	}
	rc = PKL_OK;
out:
	ERR_clear_error();
	return rc;
}

enum pkl_rc pkl_crlcheck_fresh(const struct pkl_crlinfo *info, pkl_time now, int64_t skew, const char *where,
			       struct pkl_err *err)
{
	char a[32], b[32];

	if (!info->next_update)
		return pkl_err_set(err, PKL_EINPUT, where, "no nextUpdate (RFC 5280 §5.1.2.5)");
	if (info->next_update <= now)
		return pkl_err_set(err, PKL_EINPUT, where, "expired: nextUpdate %s is past (now %s)",
				   pkl_time_fmt(info->next_update, a, sizeof(a)),
				   pkl_time_fmt(now, b, sizeof(b)));
	if (info->this_update > now + skew)
		return pkl_err_set(err, PKL_EINPUT, where, "not yet valid: thisUpdate %s (now %s)",
				   pkl_time_fmt(info->this_update, a, sizeof(a)),
				   pkl_time_fmt(now, b, sizeof(b)));
	return PKL_OK;
}

/* Digits without leading zeros; NULL when not a decimal number. */
static const char *dec_digits(const char *s, size_t *n)
{
	const char *p;

	if (!s || !*s)
		return NULL;
	for (p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return NULL;
	while (*s == '0' && s[1])
		s++;
	*n = strlen(s);
	return s;
}

int pkl_crlcheck_number_cmp(const char *a, const char *b)
{
	size_t na = 0, nb = 0;
	const char *da = dec_digits(a, &na), *db = dec_digits(b, &nb);
	int c;

	if (!da || !db)
		return (da != NULL) - (db != NULL);
	if (na != nb)
		return na < nb ? -1 : 1;
	c = strcmp(da, db);
	return (c > 0) - (c < 0);
}
