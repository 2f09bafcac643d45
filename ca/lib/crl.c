/*
 * CRL signing, and the table of CRL reasons (RFC 5280 §5.1, §5.3.1).
 *
 * A CRL with a million entries must sign in well under a second and in
 * little memory, so no X509_REVOKED object is ever built: the TBSCertList is
 * written as DER in one pass straight into the output buffer. Lengths are
 * computed first (every entry's size is known from its fields), so each
 * byte is written once; the only copy is a final memmove of a few bytes'
 * worth of header slack. The fixed parts come from OpenSSL: the issuer Name
 * as its cached DER (byte-equal to the CA's subject, RFC 5280 §5.1.2.3), and the
 * AlgorithmIdentifier as the signature provider reports it for the key and
 * digest actually used (so TBS and outer algorithm always match, §5.1.1.2).
 *
 * Layout (RFC 5280 §5.1):
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, BIT STRING }
 *   TBSCertList ::= SEQUENCE { version v2, signature, issuer, thisUpdate,
 *       nextUpdate, revokedCertificates SEQUENCE OF ... OPTIONAL,
 *       [0] EXPLICIT Extensions }
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/x509v3.h>

#include "pkilab/cert.h"
#include "pkilab/crl.h"
#include "pkilab/key.h"

/* ---- reason table (RFC 5280 §5.3.1) ------------------------------------ */

/* The one table of CRL reasons: code, the RFC 5280 §5.3.1 name, which is
 * also the name `pkilab revoke --reason` takes and every listing prints.
 * unspecified (0) is never written (a reasonCode is omitted instead, RFC
 * 5280 §5.3.1), removeFromCRL (8) belongs to delta CRLs and 7 is
 * unassigned, so none of the three is here; "none" labels a revocation
 * recorded without a reason. */
static const int reason_codes[] = {
	PKL_REASON_KEY_COMPROMISE,      PKL_REASON_CA_COMPROMISE,          PKL_REASON_AFFILIATION_CHANGED,
	PKL_REASON_SUPERSEDED,          PKL_REASON_CESSATION_OF_OPERATION, PKL_REASON_CERTIFICATE_HOLD,
	PKL_REASON_PRIVILEGE_WITHDRAWN, PKL_REASON_AA_COMPROMISE,
};
#define N_REASONS (sizeof(reason_codes) / sizeof(reason_codes[0]))
static const char *const reason_names[N_REASONS + 1] = {
	"keyCompromise",   "cACompromise",       "affiliationChanged", "superseded", "cessationOfOperation",
	"certificateHold", "privilegeWithdrawn", "aACompromise",       NULL,
};
#define REASON_UNSPECIFIED "unspecified" /* code 0 and no reasonCode */
#define REASON_NONE_LABEL  "none"        /* no reason recorded */

int pkl_reason_from_name(const char *name)
{
	/* "unspecified" means no reasonCode extension at all (RFC 5280 §5.3.1). */
	if (strcasecmp(name, REASON_UNSPECIFIED) == 0 || strcasecmp(name, REASON_NONE_LABEL) == 0)
		return PKL_REASON_NONE;
	for (size_t i = 0; i < N_REASONS; i++)
		if (strcasecmp(name, reason_names[i]) == 0)
			return reason_codes[i];
	return -2;
}

const char *pkl_reason_name(int reason)
{
	if (reason == PKL_REASON_NONE || reason == 0)
		return REASON_UNSPECIFIED;
	for (size_t i = 0; i < N_REASONS; i++)
		if (reason_codes[i] == reason)
			return reason_names[i];
	return "unknown";
}

const char *pkl_reason_label(int reason)
{
	return reason == PKL_REASON_NONE ? REASON_NONE_LABEL : pkl_reason_name(reason);
}

const char *const *pkl_reason_names(void)
{
	return reason_names;
}

/* ---- a tiny DER writer ------------------------------------------------- */

/* Bytes needed for a DER length field. */
static size_t len_size(size_t n)
{
	if (n < 0x80)
		return 1;
	if (n < 0x100)
		return 2;
	if (n < 0x10000)
		return 3;
	if (n < 0x1000000)
		return 4;
	return 5;
}

/* Size of a TLV with content length n. */
static size_t tlv_size(size_t n)
{
	return 1 + len_size(n) + n;
}

static unsigned char *put_hdr(unsigned char *p, unsigned char tag, size_t n)
{
	*p++ = tag;
	if (n < 0x80) {
		*p++ = (unsigned char)n;
	} else {
		size_t k = len_size(n) - 1;
		*p++ = (unsigned char)(0x80 | k);
		while (k--)
			*p++ = (unsigned char)(n >> (8 * k));
	}
	return p;
}

static unsigned char *put(unsigned char *p, const void *d, size_t n)
{
	memcpy(p, d, n);
	return p + n;
}

/* An INTEGER's content: magnitude without leading zeros, 0x00 pad when the
 * high bit is set, "00" for zero. Returns the content length; writes the pad
 * flag and the start of the significant bytes. */
static size_t int_content(const unsigned char *b, size_t len, const unsigned char **start, int *pad)
{
	while (len > 0 && b[0] == 0) {
		b++;
		len--;
	}
	*start = b;
	if (len == 0) {
		*pad = 1; /* zero is encoded as a single 0x00 */
		return 1;
	}
	*pad = (b[0] & 0x80) != 0;
	return len + (size_t)*pad;
}

static unsigned char *put_int(unsigned char *p, const unsigned char *b, size_t len)
{
	const unsigned char *s;
	int pad;
	size_t n = int_content(b, len, &s, &pad);

	p = put_hdr(p, 0x02, n);
	if (pad)
		*p++ = 0;
	return put(p, s, n - (size_t)pad);
}

/* Time per RFC 5280: UTCTime for 1950..2049, GeneralizedTime otherwise
 * (§5.1.2.4), or GeneralizedTime always (invalidityDate, §5.3.2). */
struct tcache {
	pkl_time t;
	int gen_only;
	unsigned char der[17]; /* tag, length, up to 15 characters */
	size_t len;
	int valid;
};

static void d2(unsigned char *p, int v)
{
	p[0] = (unsigned char)('0' + v / 10 % 10);
	p[1] = (unsigned char)('0' + v % 10);
}

static int time_der(struct tcache *c, pkl_time t, int gen_only)
{
	struct tm tm;
	time_t tt = (time_t)t;
	unsigned char *p;
	int year;

	if (c->valid && c->t == t && c->gen_only == gen_only)
		return 1;
	if (!gmtime_r(&tt, &tm))
		return 0;
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return 0;
	p = c->der;
	if (!gen_only && year >= 1950 && year <= 2049) {
		*p++ = 0x17;
		*p++ = 13;
		d2(p, year % 100);
		p += 2;
	} else {
		*p++ = 0x18;
		*p++ = 15;
		d2(p, year / 100);
		d2(p + 2, year % 100);
		p += 4;
	}
	d2(p, tm.tm_mon + 1);
	d2(p + 2, tm.tm_mday);
	d2(p + 4, tm.tm_hour);
	d2(p + 6, tm.tm_min);
	d2(p + 8, tm.tm_sec);
	p[10] = 'Z';
	p += 11;
	c->len = (size_t)(p - c->der);
	c->t = t;
	c->gen_only = gen_only;
	c->valid = 1;
	return 1;
}

/* ---- entries ----------------------------------------------------------- */

/* Extension { reasonCode (2.5.29.21), OCTET STRING { ENUMERATED r } }, non-critical */
static const unsigned char reason_ext_head[] = { 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d,
						 0x15, 0x04, 0x03, 0x0a, 0x01 };
/* Extension { invalidityDate (2.5.29.24), OCTET STRING { GeneralizedTime } } */
static const unsigned char inval_ext_head[] = { 0x30, 0x18, 0x06, 0x03, 0x55, 0x1d, 0x18, 0x04, 0x11 };
#define REASON_EXT_LEN (sizeof(reason_ext_head) + 1)
#define INVAL_EXT_LEN  (sizeof(inval_ext_head) + 17)

static int has_reason(const struct pkl_crl_entry *e)
{
	return e->reason > 0; /* -1 none; 0 unspecified is omitted too (RFC 5280 §5.3.1) */
}

/* Content length of the entry SEQUENCE, given its revocationDate length. */
static size_t entry_content(const struct pkl_crl_entry *e, size_t tlen)
{
	const unsigned char *s;
	int pad;
	size_t n = tlv_size(int_content(e->serial, e->serial_len, &s, &pad)) + tlen;
	size_t ext = (has_reason(e) ? REASON_EXT_LEN : 0) + (e->invalidity ? INVAL_EXT_LEN : 0);

	if (ext)
		n += tlv_size(ext);
	return n;
}

static int reason_ok(int r)
{
	return r == -1 || r == 0 || (r >= 1 && r <= 6) || r == 9 || r == 10;
}

/* ---- signing ----------------------------------------------------------- */

static ASN1_OCTET_STRING *ca_ski(X509 *ca)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);

	if (ski)
		return ASN1_OCTET_STRING_dup(ski);
	/* No SKI on the CA: the RFC 5280 method 1 value, as cert.c uses for AKI. */
	return pkl_cert_key_id(X509_get_X509_PUBKEY(ca));
}

enum pkl_rc pkl_crl_sign(const struct pkl_crl_req *req, X509 *ca, EVP_PKEY *ca_key, struct pkl_buf *der_out,
			 struct pkl_err *err)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	ASN1_OCTET_STRING *ski = NULL;
	unsigned char *name_der = NULL, *p, *tbs, *start;
	unsigned char alg[128];
	size_t alg_len = 0, name_len, aki_len, crlnum_len, exts_len, list_len = 0, tbs_len;
	size_t sig_max = 0, sig_len, total, hdr, base;
	struct tcache tc = { 0 }, ic = { 0 }, this_tc = { 0 }, next_tc = { 0 };
	const unsigned char *ns;
	int npad, n;
	const EVP_MD *md;
	OSSL_PARAM params[2];
	enum pkl_rc rc = PKL_ERUNTIME;
	const size_t slack = 6; /* room for the outer SEQUENCE header */

	if (req->next_update <= req->this_update)
		return pkl_err_set(err, PKL_EINPUT, NULL, "CRL nextUpdate must be later than thisUpdate");
	if (req->number_len > sizeof(req->number))
		return pkl_err_set(err, PKL_EINPUT, NULL, "CRL number longer than 20 octets");
	crlnum_len = int_content(req->number, req->number_len, &ns, &npad);
	if (crlnum_len > 20) /* RFC 5280 §5.2.3 */
		return pkl_err_set(err, PKL_EINPUT, NULL, "CRL number longer than 20 octets");
	if (X509_check_private_key(ca, ca_key) != 1)
		return pkl_err_ssl(err, PKL_EINPUT, NULL, "the CA key does not match the CA certificate");

	/* The signature algorithm as the provider will write it. */
	md = req->md ? req->md : pkl_key_default_md(ca_key);
	mctx = EVP_MD_CTX_new();
	if (!mctx || EVP_DigestSignInit(mctx, &pctx, md, NULL, ca_key) != 1) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot initialise CRL signature");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, alg, sizeof(alg));
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_get_params(pctx, params) != 1 || !OSSL_PARAM_modified(&params[0]) ||
	    params[0].return_size == 0 || params[0].return_size > sizeof(alg)) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "signature algorithm has no identifier");
		goto out;
	}
	alg_len = params[0].return_size;

	n = i2d_X509_NAME(X509_get_subject_name(ca), &name_der);
	if (n <= 0) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot encode the CA name");
		goto out;
	}
	name_len = (size_t)n;
	ski = ca_ski(ca);
	if (!ski) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot compute the CA key identifier");
		goto out;
	}
	if (!time_der(&this_tc, req->this_update, 0) || !time_der(&next_tc, req->next_update, 0)) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "CRL time out of range");
		goto out;
	}

	/* Pass 1: sizes. */
	for (size_t i = 0; i < req->n_entries; i++) {
		const struct pkl_crl_entry *e = &req->entries[i];
		if (e->serial_len > sizeof(e->serial) || !reason_ok(e->reason)) {
			rc = pkl_err_set(err, PKL_EINPUT, NULL, "CRL entry %zu: %s", i,
					 !reason_ok(e->reason) ? "invalid reason code" : "serial too long");
			goto out;
		}
		if (!time_der(&tc, e->revoked_at, 0) || (e->invalidity && !time_der(&ic, e->invalidity, 1))) {
			rc = pkl_err_set(err, PKL_EINPUT, NULL, "CRL entry %zu: time out of range", i);
			goto out;
		}
		list_len += tlv_size(entry_content(e, tc.len));
	}
	/* put_hdr writes at most 4 length octets: far below that, not wrapped above. */
	if (list_len > ((size_t)1 << 31)) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "CRL of %zu entries is larger than 2 GiB",
				 req->n_entries);
		goto out;
	}
	/* AKI: Extension { 2.5.29.35, OCTET STRING { SEQUENCE { [0] keyid } } } */
	{
		size_t kid = (size_t)ASN1_STRING_length(ski);
		size_t val = tlv_size(tlv_size(kid)); /* SEQUENCE { [0] } */
		aki_len = tlv_size(5 + tlv_size(val));
	}
	/* CRLNumber: Extension { 2.5.29.20, OCTET STRING { INTEGER } } */
	crlnum_len = tlv_size(5 + tlv_size(tlv_size(crlnum_len)));
	exts_len = tlv_size(tlv_size(aki_len + crlnum_len)); /* [0] { SEQUENCE { ... } } */
	tbs_len = 3 + alg_len + name_len + this_tc.len + next_tc.len +
		  (req->n_entries ? tlv_size(list_len) : 0) + exts_len;
	/* Maximum signature size (a query: nothing is signed yet). */
	if (EVP_DigestSign(mctx, NULL, &sig_max, NULL, 0) != 1 || sig_max == 0) {
		ERR_clear_error();
		sig_max = 1024;
	}

	base = der_out->len;
	if (pkl_buf_reserve(der_out, slack + tlv_size(tbs_len) + alg_len + tlv_size(sig_max + 1)) != PKL_OK) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory for a CRL of %zu entries",
				 req->n_entries);
		goto out;
	}

	/* Pass 2: write the TBSCertList after the slack. */
	tbs = der_out->data + base + slack;
	p = put_hdr(tbs, 0x30, tbs_len);
	p = put(p, "\x02\x01\x01", 3); /* version v2 (§5.1.2.1) */
	p = put(p, alg, alg_len);
	p = put(p, name_der, name_len);
	p = put(p, this_tc.der, this_tc.len);
	p = put(p, next_tc.der, next_tc.len); /* always present (§5.1.2.5) */
	if (req->n_entries) {                 /* absent, not empty, when there are none (§5.1.2.6) */
		p = put_hdr(p, 0x30, list_len);
		for (size_t i = 0; i < req->n_entries; i++) {
			const struct pkl_crl_entry *e = &req->entries[i];
			size_t ext =
				(has_reason(e) ? REASON_EXT_LEN : 0) + (e->invalidity ? INVAL_EXT_LEN : 0);
			time_der(&tc, e->revoked_at, 0);
			p = put_hdr(p, 0x30, entry_content(e, tc.len));
			p = put_int(p, e->serial, e->serial_len);
			p = put(p, tc.der, tc.len);
			if (ext) {
				p = put_hdr(p, 0x30, ext);
				if (has_reason(e)) {
					p = put(p, reason_ext_head, sizeof(reason_ext_head));
					*p++ = (unsigned char)e->reason;
				}
				if (e->invalidity) {
					time_der(&ic, e->invalidity, 1); /* checked in pass 1 */
					p = put(p, inval_ext_head, sizeof(inval_ext_head));
					p = put(p, ic.der, ic.len);
				}
			}
		}
	}
	p = put_hdr(p, 0xa0, tlv_size(aki_len + crlnum_len));
	p = put_hdr(p, 0x30, aki_len + crlnum_len);
	{
		size_t kid = (size_t)ASN1_STRING_length(ski);
		size_t val = tlv_size(tlv_size(kid));
		p = put_hdr(p, 0x30, 5 + tlv_size(val)); /* non-critical: no BOOLEAN (§5.2.1) */
		p = put(p, "\x06\x03\x55\x1d\x23", 5);
		p = put_hdr(p, 0x04, val);
		p = put_hdr(p, 0x30, tlv_size(kid));
		p = put_hdr(p, 0x80, kid);
		p = put(p, ASN1_STRING_get0_data(ski), kid);
	}
	{
		size_t ilen = int_content(req->number, req->number_len, &ns, &npad);
		p = put_hdr(p, 0x30, 5 + tlv_size(tlv_size(ilen))); /* non-critical (§5.2.3) */
		p = put(p, "\x06\x03\x55\x1d\x14", 5);
		p = put_hdr(p, 0x04, tlv_size(ilen));
		p = put_int(p, req->number, req->number_len);
	}
	if ((size_t)(p - tbs) != tlv_size(tbs_len)) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "internal error: CRL length mismatch");
		goto out;
	}

	/* Sign, then append signatureAlgorithm and the BIT STRING. */
	p = put(p, alg, alg_len);
	sig_len = sig_max;
	{
		/* The signature goes after its BIT STRING header, whose size depends
		 * on the final length: write it at the worst-case offset, then move. */
		size_t hmax = 1 + len_size(sig_max + 1) + 1;
		if (EVP_DigestSign(mctx, p + hmax, &sig_len, tbs, tlv_size(tbs_len)) != 1) {
			rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot sign the CRL");
			goto out;
		}
		unsigned char *h = put_hdr(p, 0x03, sig_len + 1);
		*h++ = 0; /* no unused bits */
		memmove(h, p + hmax, sig_len);
		p = h + sig_len;
	}

	/* Outer SEQUENCE header into the slack, then close the gap. */
	total = (size_t)(p - tbs);
	hdr = 1 + len_size(total);
	start = der_out->data + base + slack - hdr;
	put_hdr(start, 0x30, total);
	memmove(der_out->data + base, start, hdr + total);
	der_out->len = base + hdr + total;
	der_out->data[der_out->len] = '\0';
	rc = PKL_OK;
out:
	EVP_MD_CTX_free(mctx);
	ASN1_OCTET_STRING_free(ski);
	OPENSSL_free(name_der);
	return rc;
}
