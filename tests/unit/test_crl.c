/* Unit tests: CRL signing (ca/lib/crl.c) against RFC 5280 §5
 * (CRLs): structure checked on the DER itself with a small reader, content
 * through OpenSSL's parser, signatures with X509_CRL_verify, and the openssl
 * and certtool CLIs as independent validators. Also times a 1,000,000-entry
 * CRL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pkilab/cert.h"
#include "pkilab/crl.h"
#include "pkilab/key.h"
#include "pkilab/name.h"

static char dir[] = "/tmp/pkl-test-crl-XXXXXX";
static const pkl_time T0 = 1798761600; /* 2027-01-01T00:00:00Z */

struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

static struct ca ec_ca, rsa_ca, ed_ca;

static EVP_PKEY *gen(const char *spec)
{
	struct pkl_key_spec s;
	struct pkl_err err = { 0 };

	if (pkl_key_spec_parse(spec, &s, &err) != PKL_OK)
		return NULL;
	return pkl_key_generate(&s, &err);
}

static int make_ca(struct ca *ca, const char *spec, const char *subject)
{
	struct pkl_err err = { 0 };
	struct pkl_cert_req r = { 0 };
	X509_NAME *n = pkl_name_parse(subject, &err);

	ca->key = gen(spec);
	if (!n || !ca->key)
		return -1;
	r.subject = n;
	r.pubkey = ca->key;
	r.not_before = (pkl_time)time(NULL) - 86400; /* certtool checks the CA is valid now */
	r.not_after = T0 + 3650 * 86400;
	r.is_ca = 1;
	r.path_len = -1;
	r.key_usage = PKL_KU_KEY_CERT_SIGN | PKL_KU_CRL_SIGN;
	ca->cert = pkl_cert_issue(&r, NULL, ca->key, &err);
	X509_NAME_free(n);
	return ca->cert ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	if (make_ca(&ec_ca, "ec:P-256", "C=CH, O=pkilab Test, CN=CRL Test CA EC") ||
	    make_ca(&rsa_ca, "rsa:2048", "C=CH, O=pkilab Test, CN=CRL Test CA RSA") ||
	    make_ca(&ed_ca, "ed25519", "C=CH, O=pkilab Test, CN=CRL Test CA Ed25519"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];
	struct ca *cas[] = { &ec_ca, &rsa_ca, &ed_ca };

	(void)state;
	for (int i = 0; i < 3; i++) {
		X509_free(cas[i]->cert);
		EVP_PKEY_free(cas[i]->key);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* ---- a minimal DER reader ------------------------------------------------ */

struct tlv {
	unsigned tag;
	const unsigned char *start; /* the tag byte */
	const unsigned char *val;   /* content */
	size_t len;
	const unsigned char *end; /* just after this element */
};

static struct tlv rd(const unsigned char *p, const unsigned char *limit)
{
	struct tlv t;
	size_t n;

	assert_true(limit - p >= 2);
	t.start = p;
	t.tag = p[0];
	n = p[1];
	p += 2;
	if (n & 0x80) {
		size_t k = n & 0x7f;
		assert_true(k >= 1 && k <= 4);
		n = 0;
		for (size_t i = 0; i < k; i++)
			n = (n << 8) | *p++;
		assert_true(n >= 0x80); /* DER: minimal length encoding */
	}
	assert_true((size_t)(limit - p) >= n);
	t.val = p;
	t.len = n;
	t.end = p + n;
	return t;
}

/* The elements of the TBSCertList, in order. */
struct tbs_parts {
	struct tlv all, version, alg, issuer, this_update, next_update, revoked, exts;
	int has_revoked;
	struct tlv outer_alg, sig;
};

static struct tbs_parts split(const struct pkl_buf *der)
{
	struct tbs_parts t;
	struct tlv outer = rd(der->data, der->data + der->len);
	const unsigned char *p;

	memset(&t, 0, sizeof(t));
	assert_int_equal(outer.tag, 0x30);
	assert_ptr_equal(outer.end, der->data + der->len); /* nothing trailing */
	t.all = rd(outer.val, outer.end);
	assert_int_equal(t.all.tag, 0x30);
	t.outer_alg = rd(t.all.end, outer.end);
	t.sig = rd(t.outer_alg.end, outer.end);
	assert_int_equal(t.sig.tag, 0x03);
	assert_ptr_equal(t.sig.end, outer.end);

	p = t.all.val;
	t.version = rd(p, t.all.end);
	t.alg = rd(t.version.end, t.all.end);
	t.issuer = rd(t.alg.end, t.all.end);
	t.this_update = rd(t.issuer.end, t.all.end);
	t.next_update = rd(t.this_update.end, t.all.end);
	p = t.next_update.end;
	if (p < t.all.end && *p == 0x30) {
		t.revoked = rd(p, t.all.end);
		t.has_revoked = 1;
		p = t.revoked.end;
	}
	t.exts = rd(p, t.all.end);
	assert_ptr_equal(t.exts.end, t.all.end);
	return t;
}

/* ---- helpers -------------------------------------------------------------- */

static void sign(const struct ca *ca, const struct pkl_crl_req *req, struct pkl_buf *out)
{
	struct pkl_err err = { 0 };

	if (pkl_crl_sign(req, ca->cert, ca->key, out, &err) != PKL_OK)
		fail_msg("pkl_crl_sign: %s", err.msg);
}

static X509_CRL *parse(const struct pkl_buf *der)
{
	const unsigned char *p = der->data;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der->len);

	assert_non_null(crl);
	assert_ptr_equal(p, der->data + der->len);
	return crl;
}

static void base_req(struct pkl_crl_req *r)
{
	memset(r, 0, sizeof(*r));
	r->this_update = T0 - 300;
	r->next_update = T0 + 7 * 86400;
	r->number[0] = 0x05;
	r->number_len = 1;
}

static void write_file(const char *name, const void *data, size_t len, char *path, size_t plen)
{
	FILE *f;

	snprintf(path, plen, "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void entries3(struct pkl_crl_entry e[3])
{
	memset(e, 0, 3 * sizeof(*e));
	/* serial 1: 16 bytes with the top bit set (needs a 0x00 pad) */
	memset(e[0].serial, 0xab, 16);
	e[0].serial_len = 16;
	e[0].revoked_at = T0 - 3600;
	e[0].reason = PKL_REASON_KEY_COMPROMISE;
	e[0].invalidity = T0 - 7200;
	/* serial 2: leading zero bytes in the input are not encoded */
	e[1].serial[0] = 0x00;
	e[1].serial[1] = 0x00;
	e[1].serial[2] = 0x42;
	e[1].serial_len = 3;
	e[1].revoked_at = T0 - 1800;
	e[1].reason = PKL_REASON_NONE;
	/* serial 3: superseded, no invalidity date */
	e[2].serial[0] = 0x01;
	e[2].serial[1] = 0x02;
	e[2].serial_len = 2;
	e[2].revoked_at = T0 - 600;
	e[2].reason = PKL_REASON_SUPERSEDED;
}

/* ---- tests ---------------------------------------------------------------- */

static void empty_crl_revoked_list_absent(void **state)
{
	struct pkl_crl_req r;
	struct pkl_buf der = PKL_BUF_INIT;
	struct tbs_parts t;
	X509_CRL *crl;

	(void)state;
	base_req(&r);
	sign(&ec_ca, &r, &der);
	t = split(&der);
	assert_int_equal(t.version.tag, 0x02); /* v2 = INTEGER 1 (RFC 5280 §5.1.2.1) */
	assert_int_equal(t.version.len, 1);
	assert_int_equal(t.version.val[0], 1);
	assert_int_equal(t.next_update.tag, 0x17); /* nextUpdate present (§5.1.2.5) */
	assert_false(t.has_revoked);               /* absent, not empty (§5.1.2.6) */
	assert_int_equal(t.exts.tag, 0xa0);        /* [0] crlExtensions follows nextUpdate */

	crl = parse(&der);
	assert_int_equal(X509_CRL_get_version(crl), 1);
	assert_null(X509_CRL_get_REVOKED(crl));
	assert_int_equal(X509_CRL_verify(crl, ec_ca.key), 1);
	X509_CRL_free(crl);
	pkl_buf_free(&der);
}

static void issuer_der_and_signature_algorithm_match(void **state)
{
	struct ca *cas[] = { &ec_ca, &rsa_ca, &ed_ca };
	int sig_nids[] = { NID_ecdsa_with_SHA256, NID_sha256WithRSAEncryption, NID_ED25519 };

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct pkl_crl_req r;
		struct pkl_buf der = PKL_BUF_INIT;
		struct tbs_parts t;
		unsigned char *name = NULL;
		int nlen;
		X509_CRL *crl;
		const X509_ALGOR *alg;
		const ASN1_BIT_STRING *sig;
		const void *pval;
		int ptype;

		base_req(&r);
		sign(cas[i], &r, &der);
		t = split(&der);
		nlen = i2d_X509_NAME(X509_get_subject_name(cas[i]->cert), &name);
		assert_int_equal(t.issuer.tag, 0x30);
		assert_int_equal(nlen, t.issuer.end - t.alg.end);   /* the whole Name element */
		assert_memory_equal(t.alg.end, name, (size_t)nlen); /* §5.1.2.3 byte-equal */
		OPENSSL_free(name);
		/* TBS signature == outer signatureAlgorithm, byte for byte (§5.1.1.2) */
		assert_int_equal(t.alg.end - t.alg.val, t.outer_alg.end - t.outer_alg.val);
		assert_memory_equal(t.alg.val, t.outer_alg.val, t.alg.len);

		crl = parse(&der);
		assert_int_equal(X509_CRL_get_signature_nid(crl), sig_nids[i]);
		X509_CRL_get0_signature(crl, &sig, &alg);
		X509_ALGOR_get0(NULL, &ptype, &pval, alg);
		/* RSA PKCS#1 v1.5 carries NULL parameters, ECDSA and EdDSA none */
		assert_int_equal(ptype, i == 1 ? V_ASN1_NULL : V_ASN1_UNDEF);
		assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(cas[i]->cert)),
				 0);
		assert_int_equal(X509_CRL_verify(crl, cas[i]->key), 1);
		/* and with another CA's key it fails */
		assert_true(X509_CRL_verify(crl, cas[(i + 1) % 3]->key) <= 0);
		X509_CRL_free(crl);
		pkl_buf_free(&der);
	}
}

static void aki_equals_ca_ski_and_number_round_trip(void **state)
{
	static const unsigned char numbers[][20] = {
		{ 0x05 },
		{ 0x00, 0x00, 0x80 },
		{ 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0x01, 0x8c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72 },
	};
	static const size_t lens[] = { 1, 3, 9, 8 };
	static const char *const want[] = { "5", "128", "2361183241434822606847", "111513836419309938" };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct pkl_crl_req r;
		struct pkl_buf der = PKL_BUF_INIT;
		X509_CRL *crl;
		AUTHORITY_KEYID *akid;
		ASN1_INTEGER *num;
		BIGNUM *bn;
		char *dec;
		int crit = -1, idx;

		base_req(&r);
		memcpy(r.number, numbers[i], lens[i]);
		r.number_len = lens[i];
		sign(&ec_ca, &r, &der);
		crl = parse(&der);

		akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
		assert_non_null(akid);
		assert_int_equal(crit, 0);
		assert_null(akid->issuer);
		assert_null(akid->serial);
		assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(ec_ca.cert)), 0);
		AUTHORITY_KEYID_free(akid);

		num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
		assert_non_null(num);
		assert_int_equal(crit, 0);
		bn = ASN1_INTEGER_to_BN(num, NULL);
		dec = BN_bn2dec(bn);
		assert_string_equal(dec, want[i]);
		OPENSSL_free(dec);
		BN_free(bn);
		ASN1_INTEGER_free(num);
		/* exactly these two crlExtensions */
		assert_int_equal(X509_CRL_get_ext_count(crl), 2);
		idx = X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1);
		assert_int_equal(idx, 0);
		X509_CRL_free(crl);
		pkl_buf_free(&der);
	}
}

static void entries_reason_and_invalidity(void **state)
{
	struct pkl_crl_entry e[3];
	struct pkl_crl_req r;
	struct pkl_buf der = PKL_BUF_INIT;
	struct tbs_parts t;
	STACK_OF(X509_REVOKED) * rev;
	X509_CRL *crl;
	int crit;

	(void)state;
	entries3(e);
	base_req(&r);
	r.entries = e;
	r.n_entries = 3;
	sign(&ec_ca, &r, &der);
	t = split(&der);
	assert_true(t.has_revoked);
	crl = parse(&der);
	assert_int_equal(X509_CRL_verify(crl, ec_ca.key), 1);
	rev = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(rev), 3);

	{ /* entry 1: keyCompromise + invalidityDate (GeneralizedTime, §5.3.2) */
		const X509_REVOKED *x = sk_X509_REVOKED_value(rev, 0);
		const ASN1_INTEGER *sn = X509_REVOKED_get0_serialNumber(x);
		ASN1_ENUMERATED *reason;
		ASN1_GENERALIZEDTIME *inv;
		unsigned char *d = NULL;
		int n = i2d_ASN1_INTEGER(sn, &d);

		assert_int_equal(n, 2 + 17);
		assert_int_equal(d[2], 0x00); /* pad for the high bit */
		assert_int_equal(d[3], 0xab);
		OPENSSL_free(d);
		reason = X509_REVOKED_get_ext_d2i(x, NID_crl_reason, &crit, NULL);
		assert_non_null(reason);
		assert_int_equal(crit, 0);
		assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
		ASN1_ENUMERATED_free(reason);
		inv = X509_REVOKED_get_ext_d2i(x, NID_invalidity_date, &crit, NULL);
		assert_non_null(inv);
		assert_int_equal(crit, 0);
		assert_int_equal(ASN1_STRING_type(inv), V_ASN1_GENERALIZEDTIME);
		assert_memory_equal(ASN1_STRING_get0_data(inv), "20261231220000Z", 15);
		ASN1_GENERALIZEDTIME_free(inv);
		assert_int_equal(ASN1_STRING_type(X509_REVOKED_get0_revocationDate(x)), V_ASN1_UTCTIME);
		assert_memory_equal(ASN1_STRING_get0_data(X509_REVOKED_get0_revocationDate(x)),
				    "261231230000Z", 13);
	}
	{ /* entry 2: no reason, no extensions at all; serial 0x42 */
		const X509_REVOKED *x = sk_X509_REVOKED_value(rev, 1);
		assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(x)), 0x42);
		assert_int_equal(X509_REVOKED_get_ext_count(x), 0);
	}
	{ /* entry 3: superseded only */
		const X509_REVOKED *x = sk_X509_REVOKED_value(rev, 2);
		ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(x, NID_crl_reason, &crit, NULL);
		assert_int_equal(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(x)), 0x0102);
		assert_non_null(reason);
		assert_int_equal(ASN1_ENUMERATED_get(reason), 4);
		ASN1_ENUMERATED_free(reason);
		assert_int_equal(X509_REVOKED_get_ext_count(x), 1);
	}
	X509_CRL_free(crl);
	pkl_buf_free(&der);
}

/* reason 0 (unspecified) is omitted rather than encoded (RFC 5280 §5.3.1); 7 and
 * removeFromCRL (8) are refused. */
static void unspecified_omitted_invalid_refused(void **state)
{
	struct pkl_crl_entry e[3];
	struct pkl_crl_req r;
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	X509_CRL *crl;

	(void)state;
	entries3(e);
	e[0].reason = 0;
	e[0].invalidity = 0;
	base_req(&r);
	r.entries = e;
	r.n_entries = 1;
	sign(&ec_ca, &r, &der);
	crl = parse(&der);
	assert_int_equal(X509_REVOKED_get_ext_count(sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), 0)), 0);
	X509_CRL_free(crl);
	pkl_buf_free(&der);

	for (int bad = 7; bad <= 8; bad++) {
		e[0].reason = bad;
		assert_int_equal(pkl_crl_sign(&r, ec_ca.cert, ec_ca.key, &der, &err), PKL_EINPUT);
		assert_non_null(strstr(err.msg, "invalid reason code"));
	}
	e[0].reason = 11;
	assert_int_equal(pkl_crl_sign(&r, ec_ca.cert, ec_ca.key, &der, &err), PKL_EINPUT);
	pkl_buf_free(&der);
}

static void time_encoding_2049_2050(void **state)
{
	const pkl_time end2049 = 2524607999; /* 2049-12-31T23:59:59Z */
	struct pkl_crl_entry e[3];
	struct pkl_crl_req r;
	struct pkl_buf der = PKL_BUF_INIT;
	struct tbs_parts t;
	struct tlv entry, serial, date;

	(void)state;
	entries3(e);
	e[0].revoked_at = end2049 + 1;
	base_req(&r);
	r.this_update = end2049;
	r.next_update = end2049 + 1;
	r.entries = e;
	r.n_entries = 1;
	sign(&ec_ca, &r, &der);
	t = split(&der);
	assert_int_equal(t.this_update.tag, 0x17);
	assert_int_equal(t.this_update.len, 13);
	assert_memory_equal(t.this_update.val, "491231235959Z", 13);
	assert_int_equal(t.next_update.tag, 0x18);
	assert_int_equal(t.next_update.len, 15);
	assert_memory_equal(t.next_update.val, "20500101000000Z", 15);
	entry = rd(t.revoked.val, t.revoked.end);
	serial = rd(entry.val, entry.end);
	date = rd(serial.end, entry.end);
	assert_int_equal(date.tag, 0x18);
	assert_memory_equal(date.val, "20500101000000Z", 15);
	pkl_buf_free(&der);
}

static void input_errors(void **state)
{
	struct pkl_crl_req r;
	struct pkl_buf der = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	unsigned char big[20];

	(void)state;
	base_req(&r);
	r.next_update = r.this_update;
	assert_int_equal(pkl_crl_sign(&r, ec_ca.cert, ec_ca.key, &der, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "nextUpdate"));

	base_req(&r);
	memset(big, 0xff, sizeof(big)); /* 20 bytes + pad = 21 octets (§5.2.3) */
	memcpy(r.number, big, 20);
	r.number_len = 20;
	assert_int_equal(pkl_crl_sign(&r, ec_ca.cert, ec_ca.key, &der, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "20 octets"));

	base_req(&r); /* a key that is not the CA's */
	assert_int_equal(pkl_crl_sign(&r, ec_ca.cert, rsa_ca.key, &der, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "does not match"));
	assert_int_equal(der.len, 0);
	pkl_buf_free(&der);
}

static void reason_names(void **state)
{
	(void)state;
	assert_int_equal(pkl_reason_from_name("keyCompromise"), PKL_REASON_KEY_COMPROMISE);
	assert_int_equal(pkl_reason_from_name("cACompromise"), PKL_REASON_CA_COMPROMISE);
	assert_int_equal(pkl_reason_from_name("superseded"), PKL_REASON_SUPERSEDED);
	assert_int_equal(pkl_reason_from_name("cessationOfOperation"), PKL_REASON_CESSATION_OF_OPERATION);
	assert_int_equal(pkl_reason_from_name("privilegeWithdrawn"), PKL_REASON_PRIVILEGE_WITHDRAWN);
	assert_int_equal(pkl_reason_from_name("aACompromise"), PKL_REASON_AA_COMPROMISE);
	assert_int_equal(pkl_reason_from_name("unspecified"), PKL_REASON_NONE);
	assert_int_equal(pkl_reason_from_name("removeFromCRL"), -2);
	assert_int_equal(pkl_reason_from_name("bogus"), -2);
	assert_string_equal(pkl_reason_name(PKL_REASON_CERTIFICATE_HOLD), "certificateHold");
	assert_string_equal(pkl_reason_name(PKL_REASON_AFFILIATION_CHANGED), "affiliationChanged");
	assert_string_equal(pkl_reason_name(PKL_REASON_NONE), "unspecified");
	assert_string_equal(pkl_reason_name(7), "unknown");
	/* The label listings print: "none" only where no reason is recorded. */
	assert_string_equal(pkl_reason_label(PKL_REASON_NONE), "none");
	assert_string_equal(pkl_reason_label(PKL_REASON_SUPERSEDED), "superseded");
	assert_int_equal(pkl_reason_from_name("none"), PKL_REASON_NONE);
	{
		const char *const *names = pkl_reason_names();
		size_t n = 0;
		for (; names[n]; n++)
			assert_int_equal(pkl_reason_from_name(names[n]) > 0, 1);
		assert_int_equal(n, 8);
		assert_string_equal(names[0], "keyCompromise");
		assert_string_equal(names[7], "aACompromise");
	}
	for (int c = 1; c <= 10; c++) {
		if (c == 7 || c == 8)
			continue;
		assert_int_equal(pkl_reason_from_name(pkl_reason_name(c)), c);
	}
}

/* Independent validators: openssl crl -verify, and certtool when present. */
static void openssl_and_certtool_accept(void **state)
{
	struct ca *cas[] = { &ec_ca, &rsa_ca, &ed_ca };
	struct pkl_crl_entry e[3];

	(void)state;
	entries3(e);
	for (int i = 0; i < 3; i++) {
		struct pkl_crl_req r;
		struct pkl_buf der = PKL_BUF_INIT, pem = PKL_BUF_INIT;
		struct pkl_err err = { 0 };
		char crl_path[PATH_MAX], ca_path[PATH_MAX], other_path[PATH_MAX], cmd[4 * PATH_MAX];

		base_req(&r);
		/* certtool compares with the real clock: thisUpdate must not be ahead */
		r.this_update = (pkl_time)time(NULL) - 300;
		r.next_update = r.this_update + 7 * 86400;
		for (int j = 0; j < 3; j++) {
			e[j].revoked_at = r.this_update - 3600;
			if (e[j].invalidity)
				e[j].invalidity = r.this_update - 7200;
		}
		r.entries = e;
		r.n_entries = i == 0 ? 0 : 3; /* the empty CRL too */
		sign(cas[i], &r, &der);
		write_file("t.crl", der.data, der.len, crl_path, sizeof(crl_path));
		assert_int_equal(pkl_cert_to_pem(cas[i]->cert, &pem, &err), PKL_OK);
		write_file("ca.pem", pem.data, pem.len, ca_path, sizeof(ca_path));
		pem.len = 0;
		assert_int_equal(pkl_cert_to_pem(cas[(i + 1) % 3]->cert, &pem, &err), PKL_OK);
		write_file("other.pem", pem.data, pem.len, other_path, sizeof(other_path));

		snprintf(cmd, sizeof(cmd),
			 "openssl crl -inform DER -in %s -noout -CAfile %s 2>&1 | grep -qx 'verify OK'",
			 crl_path, ca_path);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd),
			 "openssl crl -inform DER -in %s -noout -CAfile %s 2>&1 | grep -qx 'verify OK'",
			 crl_path, other_path);
		assert_int_not_equal(system(cmd), 0);
		if (system("command -v certtool >/dev/null 2>&1") == 0) {
			/* --inder applies to --load-ca-certificate too: give it DER */
			der.len = 0;
			assert_int_equal(pkl_cert_to_der(cas[i]->cert, &der, &err), PKL_OK);
			write_file("ca.der", der.data, der.len, ca_path, sizeof(ca_path));
			snprintf(cmd, sizeof(cmd),
				 "certtool --crl-info --inder --infile %s >/dev/null 2>&1 && "
				 "certtool --verify-crl --inder --infile %s --load-ca-certificate %s "
				 "2>&1 | grep -q 'Verified'",
				 crl_path, crl_path, ca_path);
			assert_int_equal(system(cmd), 0);
		}
		pkl_buf_free(&der);
		pkl_buf_free(&pem);
	}
}

static double now_s(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* 1,000,000 entries (16-byte serials, a third with reasons, half with
 * invalidity dates): signing must stay well under `openssl ca -gencrl`'s
 * 5.4 s. The bound (2 s of CPU) is skipped under sanitizers; a parse of the
 * result by OpenSSL checks the entry count and the signature. */
static void million_entries(void **state)
{
	enum {
		N = 1000000
	};
	struct pkl_crl_entry *e = calloc(N, sizeof(*e));
	struct pkl_crl_req r;
	struct pkl_buf der = PKL_BUF_INIT;
	double t, cpu;
	struct tbs_parts t_parts;
	size_t count;
	EVP_MD_CTX *md;

	(void)state;
	assert_non_null(e);
	for (size_t i = 0; i < N; i++) {
		unsigned char *s = e[i].serial;
		s[0] = 0x40;
		for (int j = 1; j < 16; j++)
			s[j] = (unsigned char)(i >> ((j % 4) * 8)) ^ (unsigned char)(j * 29);
		s[12] = (unsigned char)(i >> 24);
		s[13] = (unsigned char)(i >> 16);
		s[14] = (unsigned char)(i >> 8);
		s[15] = (unsigned char)i;
		e[i].serial_len = 16;
		e[i].revoked_at = T0 - 86400 + (pkl_time)(i % 3600);
		e[i].reason = i % 3 == 0 ? PKL_REASON_NONE : (int)(i % 3);
		e[i].invalidity = i % 2 ? T0 - 2 * 86400 : 0;
	}
	base_req(&r);
	r.entries = e;
	r.n_entries = N;
	t = now_s(CLOCK_MONOTONIC);
	cpu = now_s(CLOCK_PROCESS_CPUTIME_ID);
	sign(&ec_ca, &r, &der);
	cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	t = now_s(CLOCK_MONOTONIC) - t;
	print_message("signed a CRL of %d entries (%zu bytes) in %.3f s CPU, %.3f s wall\n", N, der.len, cpu,
		      t);
	if (!getenv("PKL_SANITIZED"))
		assert_true(cpu < 2.0);
	free(e);
	/* Count the entries and check the signature over the TBS bytes without
	 * OpenSSL's CRL parser (a million X509_REVOKED objects would take
	 * ~1 GB under ASan); the small tests above cover that parser. */
	t_parts = split(&der);
	count = 0;
	for (const unsigned char *p = t_parts.revoked.val; p < t_parts.revoked.end; count++) {
		struct tlv entry = rd(p, t_parts.revoked.end);
		assert_int_equal(entry.tag, 0x30);
		p = entry.end;
	}
	assert_int_equal(count, N);
	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, ec_ca.key), 1);
	assert_int_equal(t_parts.sig.val[0], 0); /* no unused bits */
	assert_int_equal(EVP_DigestVerify(md, t_parts.sig.val + 1, t_parts.sig.len - 1, t_parts.all.start,
					  (size_t)(t_parts.all.end - t_parts.all.start)),
			 1);
	EVP_MD_CTX_free(md);
	pkl_buf_free(&der);
}

/* The output is appended to what the buffer already holds. */
static void appends_to_buffer(void **state)
{
	struct pkl_crl_req r;
	struct pkl_buf der = PKL_BUF_INIT;
	const unsigned char *p;
	X509_CRL *crl;

	(void)state;
	assert_int_equal(pkl_buf_append(&der, "xyz", 3), PKL_OK);
	base_req(&r);
	sign(&rsa_ca, &r, &der);
	assert_memory_equal(der.data, "xyz", 3);
	p = der.data + 3;
	crl = d2i_X509_CRL(NULL, &p, (long)der.len - 3);
	assert_non_null(crl);
	assert_ptr_equal(p, der.data + der.len);
	assert_int_equal(X509_CRL_verify(crl, rsa_ca.key), 1);
	X509_CRL_free(crl);
	pkl_buf_free(&der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_crl_revoked_list_absent),
		cmocka_unit_test(issuer_der_and_signature_algorithm_match),
		cmocka_unit_test(aki_equals_ca_ski_and_number_round_trip),
		cmocka_unit_test(entries_reason_and_invalidity),
		cmocka_unit_test(unspecified_omitted_invalid_refused),
		cmocka_unit_test(time_encoding_2049_2050),
		cmocka_unit_test(input_errors),
		cmocka_unit_test(reason_names),
		cmocka_unit_test(openssl_and_certtool_accept),
		cmocka_unit_test(appends_to_buffer),
		cmocka_unit_test(million_entries),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
