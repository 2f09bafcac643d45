/*
 * Unit tests of the lints (ca/lib/lint.c, docs/lint.md): each test builds
 * a certificate or CRL with exactly one defect and asserts the code that
 * must fire - and that a clean one fires nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/pem.h>

#include "pkilab/lint.h"
#include "pkilab/lint_file.h"
#include "fixture.h"

static struct fx_chain W;

static int setup(void **state)
{
	(void)state;
	return fx_chain_new(&W, "Unit");
}

static int teardown(void **state)
{
	(void)state;
	fx_chain_free(&W);
	return 0;
}

/* Lints x and returns the report (caller frees). */
static struct pkl_report lint(X509 *x, unsigned platforms, enum pkl_lint_role role, X509 *issuer,
			      const char *id)
{
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_lint_opts o = {
		.platforms = platforms, .role = role, .issuer = issuer, .id = id, .show_ok = 1
	};
	struct pkl_err err = { 0 };

	assert_int_equal(pkl_lint_cert(x, &o, &r, &err), PKL_OK);
	return r;
}

static int has(const struct pkl_report *r, const char *code, enum pkl_sev sev)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].code, code) && r->v[i].sev == sev)
			return 1;
	return 0;
}

static X509 *leaf_with(const struct fx_ext *exts, EVP_PKEY *key, long nb, long na, long serial)
{
	return fx_cert("vpn.unit.test", key ? key : W.lk, W.ca, W.ck, nb, na, exts, serial);
}

/* A copy of FX_GATEWAY with one extension replaced (value NULL: removed). */
static void gateway_exts(struct fx_ext *out, int nid, const char *value)
{
	size_t n = 0;
	int done = 0;

	for (size_t i = 0; FX_GATEWAY[i].value; i++) {
		if (FX_GATEWAY[i].nid == nid) {
			done = 1;
			if (value)
				out[n++] = (struct fx_ext){ nid, value };
		} else {
			out[n++] = FX_GATEWAY[i];
		}
	}
	if (!done && value)
		out[n++] = (struct fx_ext){ nid, value };
	out[n] = (struct fx_ext){ 0, NULL };
}

static void clean_gateway_passes_everything(void **state)
{
	(void)state;
	X509 *x = leaf_with(FX_GATEWAY, NULL, -3600, 397 * FX_DAY, 0);
	struct pkl_report r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, W.ca, "vpn.unit.test");

	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	/* one ok line per check (L8 only applies to CAs) */
	const char *expect[] = { "lint.L1",  "lint.L2",  "lint.L3",  "lint.L4",  "lint.L5",  "lint.L6",
				 "lint.L7",  "lint.L9",  "lint.L10", "lint.L11", "lint.L12", "lint.L13",
				 "lint.L14", "lint.L15", "lint.L16", "lint.L17", "lint.L18", "lint.X1",
				 "lint.X2",  "lint.X3",  "lint.X5",  "lint.X6" };
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		assert_true(has(&r, expect[i], PKL_SEV_OK));
	assert_int_equal(pkl_lint_role_of(x), PKL_ROLE_GATEWAY);
	pkl_report_free(&r);
	X509_free(x);
}

static void cas_pass_and_have_roles(void **state)
{
	(void)state;
	struct pkl_report r = lint(W.root, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	assert_true(has(&r, "lint.L8", PKL_SEV_OK));
	pkl_report_free(&r);
	r = lint(W.ca, PKL_PLAT_ALL, PKL_ROLE_AUTO, W.root, NULL);
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	pkl_report_free(&r);
	assert_int_equal(pkl_lint_role_of(W.root), PKL_ROLE_ROOT_CA);
	assert_int_equal(pkl_lint_role_of(W.ca), PKL_ROLE_SUB_CA);
	assert_true(pkl_lint_self_signed(W.root));
	assert_false(pkl_lint_self_signed(W.ca));
}

/* X2: gateway EKU per platform (strongSwan windowsCertRequirements, RFC 4945 5.1.3.12) */
static void gateway_without_server_auth(void **state)
{
	(void)state;
	struct fx_ext e[16];
	gateway_exts(e, NID_ext_key_usage, "1.3.6.1.5.5.7.3.17");
	X509 *x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);

	struct pkl_report r = lint(x, PKL_PLAT_ALL, PKL_ROLE_GATEWAY, NULL, NULL);
	assert_true(has(&r, "eku.missing_server_auth", PKL_SEV_FAIL));
	assert_true(has(&r, "eku.missing_ike_intermediate", PKL_SEV_FAIL));
	pkl_report_free(&r);
	/* strongSwan alone does not require them */
	r = lint(x, PKL_PLAT_STRONGSWAN, PKL_ROLE_GATEWAY, NULL, NULL);
	assert_false(has(&r, "eku.missing_server_auth", PKL_SEV_FAIL));
	assert_false(has(&r, "eku.missing_ike_intermediate", PKL_SEV_FAIL));
	pkl_report_free(&r);
	/* Apple needs serverAuth but not ikeIntermediate */
	r = lint(x, PKL_PLAT_APPLE, PKL_ROLE_GATEWAY, NULL, NULL);
	assert_true(has(&r, "eku.missing_server_auth", PKL_SEV_FAIL));
	assert_false(has(&r, "eku.missing_ike_intermediate", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	gateway_exts(e, NID_ext_key_usage, "serverAuth,1.3.6.1.5.5.8.2.2");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "eku.missing_ipsec_ike", PKL_SEV_WARN));
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_WARN);
	pkl_report_free(&r);
	X509_free(x);
}

static void client_eku(void **state)
{
	(void)state;
	struct fx_ext e[16];
	gateway_exts(e, NID_ext_key_usage, "clientAuth,1.3.6.1.5.5.7.3.17");
	X509 *x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	assert_int_equal(pkl_lint_role_of(x), PKL_ROLE_CLIENT);
	struct pkl_report r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	pkl_report_free(&r);
	X509_free(x);
	/* a client whose EKU lacks clientAuth: Windows ignores it (strongSwan windowsCertRequirements) */
	gateway_exts(e, NID_ext_key_usage, "emailProtection");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_WINDOWS, PKL_ROLE_CLIENT, NULL, NULL);
	assert_true(has(&r, "eku.missing_client_auth", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
}

/* X5: key types per platform (NIST SP 800-57) */
static void keys_per_platform(void **state)
{
	(void)state;
	const char *bad_on_windows[] = { "P-521", "ed25519" };
	for (size_t i = 0; i < 2; i++) {
		EVP_PKEY *k = fx_key(bad_on_windows[i]);
		X509 *x = leaf_with(FX_GATEWAY, k, -3600, 397 * FX_DAY, 0);
		struct pkl_report r = lint(x, PKL_PLAT_WINDOWS, PKL_ROLE_AUTO, NULL, NULL);
		assert_true(has(&r, "key.unsupported_on_platform", PKL_SEV_FAIL));
		pkl_report_free(&r);
		r = lint(x, PKL_PLAT_STRONGSWAN | PKL_PLAT_APPLE, PKL_ROLE_AUTO, NULL, NULL);
		assert_false(has(&r, "key.unsupported_on_platform", PKL_SEV_FAIL));
		pkl_report_free(&r);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	EVP_PKEY *k = fx_key("rsa1024");
	X509 *x = leaf_with(FX_GATEWAY, k, -3600, 397 * FX_DAY, 0);
	struct pkl_report r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "key.too_small", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* X6: Apple's 825 days (Apple HT210176) */
static void apple_825_days(void **state)
{
	(void)state;
	X509 *x = leaf_with(FX_GATEWAY, NULL, -3600, 900 * FX_DAY, 0);
	struct pkl_report r = lint(x, PKL_PLAT_APPLE, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "validity.apple_825", PKL_SEV_FAIL));
	pkl_report_free(&r);
	r = lint(x, PKL_PLAT_WINDOWS, PKL_ROLE_AUTO, NULL, NULL);
	assert_false(has(&r, "validity.apple_825", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
}

/* X3: identity in the SAN (RFC 4945 3.1, strongSwan windowsCertRequirements) */
static void identity_matching(void **state)
{
	(void)state;
	struct fx_ext e[16];
	X509 *x = leaf_with(FX_GATEWAY, NULL, -3600, 397 * FX_DAY, 0);
	struct pkl_report r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, "vpn.other.test");
	assert_true(has(&r, "san.id_mismatch", PKL_SEV_FAIL));
	pkl_report_free(&r);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, "VPN.unit.TEST");
	assert_false(has(&r, "san.id_mismatch", PKL_SEV_FAIL)); /* DNS names compare case-insensitively */
	pkl_report_free(&r);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, "192.0.2.10");
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	pkl_report_free(&r);
	X509_free(x);

	/* an IP only as iPAddress: Windows needs the dNSName form too */
	gateway_exts(e, NID_subject_alt_name, "DNS:vpn.unit.test,IP:192.0.2.10");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_WINDOWS, PKL_ROLE_AUTO, NULL, "192.0.2.10");
	assert_true(has(&r, "san.ip_not_dns", PKL_SEV_FAIL));
	pkl_report_free(&r);
	r = lint(x, PKL_PLAT_STRONGSWAN, PKL_ROLE_AUTO, NULL, "192.0.2.10");
	assert_false(has(&r, "san.ip_not_dns", PKL_SEV_FAIL));
	pkl_report_free(&r);
	r = lint(x, PKL_PLAT_WINDOWS, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "san.ip_not_dns", PKL_SEV_WARN));
	pkl_report_free(&r);
	X509_free(x);

	/* no SAN at all: Apple refuses */
	gateway_exts(e, NID_subject_alt_name, NULL);
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_APPLE, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "san.missing", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
}

/* X1: keyUsage for IKE signatures (RFC 4945 5.1.3.2) */
static void ku_without_digital_signature(void **state)
{
	(void)state;
	struct fx_ext e[16];
	EVP_PKEY *k = fx_key("rsa2048");
	gateway_exts(e, NID_key_usage, "critical,keyEncipherment");
	X509 *x = leaf_with(e, k, -3600, 397 * FX_DAY, 0);
	struct pkl_report r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "ku.missing_digital_signature", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* L-checks, one defect each */
static void l_checks(void **state)
{
	(void)state;
	struct fx_ext e[16];
	struct pkl_report r;
	X509 *x;

	/* L2: a sequential serial (1 octet) */
	x = leaf_with(FX_GATEWAY, NULL, -3600, 397 * FX_DAY, 1);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L2", PKL_SEV_WARN));
	assert_true(has(&r, "lint.L1", PKL_SEV_OK));
	pkl_report_free(&r);
	X509_free(x);

	/* L10: keyEncipherment on an ECDSA key (RFC 8813) */
	gateway_exts(e, NID_key_usage, "critical,digitalSignature,keyEncipherment");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L10", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	/* L7: keyCertSign on an end entity */
	gateway_exts(e, NID_key_usage, "critical,digitalSignature,keyCertSign");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L7", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	/* L15: an https CDP */
	gateway_exts(e, NID_crl_distribution_points, "URI:https://cdp.unit.test/ca.crl");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L15", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	/* L14 warn + L16 warn: no CDP, no AIA */
	gateway_exts(e, NID_crl_distribution_points, NULL);
	struct fx_ext e2[16];
	size_t k = 0;
	for (size_t i = 0; e[i].value; i++)
		if (e[i].nid != NID_info_access)
			e2[k++] = e[i];
	e2[k] = (struct fx_ext){ 0, NULL };
	x = leaf_with(e2, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L14", PKL_SEV_WARN));
	assert_true(has(&r, "lint.L16", PKL_SEV_WARN));
	pkl_report_free(&r);
	X509_free(x);

	/* L5: a CA whose basicConstraints is not critical */
	static const struct fx_ext soft_ca[] = {
		{ NID_basic_constraints, "CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ 0, NULL },
	};
	x = fx_cert("Soft CA", W.lk, W.root, W.rk, -3600, FX_DAY * 100, soft_ca, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L5", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	/* L8: a CA without cRLSign */
	static const struct fx_ext no_crlsign[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ 0, NULL },
	};
	x = fx_cert("No CRLSign CA", W.lk, W.root, W.rk, -3600, FX_DAY * 100, no_crlsign, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L8", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	/* L3: GeneralizedTime for a date before 2050 */
	x = leaf_with(FX_GATEWAY, NULL, -3600, 397 * FX_DAY, 0);
	assert_true(ASN1_GENERALIZEDTIME_set_string(X509_getm_notAfter(x), "20300101000000Z"));
	X509_sign(x, W.ck, EVP_sha256());
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L3", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	/* L4: notAfter before notBefore */
	x = leaf_with(FX_GATEWAY, NULL, FX_DAY, -FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, NULL, NULL);
	assert_true(has(&r, "lint.L4", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);

	/* L12/L13 chain lints: issued by the CA, judged against the root */
	x = leaf_with(FX_GATEWAY, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, W.root, NULL);
	assert_true(has(&r, "chain.aki_mismatch", PKL_SEV_FAIL));
	assert_true(has(&r, "chain.dn_mismatch", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
}

/* X4: chain length and IKE size */
static void chain_lint(void **state)
{
	(void)state;
	X509 *x = leaf_with(FX_GATEWAY, NULL, -3600, 397 * FX_DAY, 0);
	X509 *three[] = { x, W.ca, W.root };
	X509 *five[] = { x, W.ca, W.ca, W.ca, W.root };
	struct pkl_report r = PKL_REPORT_INIT;

	pkl_lint_chain(three, 3, 1, &r);
	assert_true(has(&r, "lint.X4", PKL_SEV_OK));
	pkl_report_free(&r);
	pkl_lint_chain(five, 5, 1, &r);
	assert_true(has(&r, "chain.too_long", PKL_SEV_WARN));
	pkl_report_free(&r);
	X509_free(x);
}

/* ------------------------------------------------------------------ CRLs */

static X509_CRL *mk_crl(X509 *ca, EVP_PKEY *key, long this_off, long next_off, int with_next, int with_number,
			long revoked_serial, long rev_off, int reason)
{
	X509_CRL *crl = X509_CRL_new();
	X509V3_CTX ctx;
	ASN1_TIME *t = ASN1_TIME_new();

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_gmtime_adj(t, this_off);
	X509_CRL_set1_lastUpdate(crl, t);
	if (with_next) {
		X509_gmtime_adj(t, next_off);
		X509_CRL_set1_nextUpdate(crl, t);
	}
	if (revoked_serial) {
		X509_REVOKED *rv = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_INTEGER_set(s, revoked_serial);
		X509_REVOKED_set_serialNumber(rv, s);
		X509_gmtime_adj(t, rev_off);
		X509_REVOKED_set_revocationDate(rv, t);
		if (reason >= 0) {
			ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
			ASN1_ENUMERATED_set(e, reason);
			X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, e, 0, 0);
			ASN1_ENUMERATED_free(e);
		}
		X509_CRL_add0_revoked(crl, rv);
		ASN1_INTEGER_free(s);
	}
	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	X509_CRL_add_ext(crl, e, -1);
	X509_EXTENSION_free(e);
	if (with_number) {
		ASN1_INTEGER *n = ASN1_INTEGER_new();
		ASN1_INTEGER_set(n, 42);
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0);
		ASN1_INTEGER_free(n);
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, key, EVP_sha384());
	return crl;
}

static struct pkl_report lint_crl(X509_CRL *crl, X509 *issuer, pkl_time now)
{
	struct pkl_report r = PKL_REPORT_INIT;
	unsigned char *der = NULL;
	int len = i2d_X509_CRL(crl, &der);
	struct pkl_lint_crl_opts o = { .issuer = issuer, .now = now, .show_ok = 1 };

	assert_true(len > 0);
	assert_int_equal(pkl_lint_crl(der, (size_t)len, "unit.crl", &o, &r, NULL), PKL_OK);
	OPENSSL_free(der);
	return r;
}

static void crl_lints(void **state)
{
	(void)state;
	pkl_time now = (pkl_time)time(NULL);
	X509_CRL *crl = mk_crl(W.ca, W.ck, -300, 7 * FX_DAY, 1, 1, 0, 0, -1);
	struct pkl_report r = lint_crl(crl, W.ca, now);

	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	assert_true(has(&r, "lint.L19", PKL_SEV_OK));
	assert_true(has(&r, "lint.L20", PKL_SEV_OK));
	assert_true(has(&r, "lint.X7", PKL_SEV_OK));
	assert_true(has(&r, "lint.X8", PKL_SEV_OK));
	pkl_report_free(&r);
	/* X7: the CA's CRL judged against another CA: issuer and AKI differ */
	r = lint_crl(crl, W.root, now);
	assert_true(has(&r, "crl.issuer_mismatch", PKL_SEV_FAIL));
	assert_true(has(&r, "crl.aki_mismatch", PKL_SEV_FAIL));
	pkl_report_free(&r);
	/* X8: past half its lifetime */
	r = lint_crl(crl, W.ca, now + 5 * FX_DAY);
	assert_true(has(&r, "crl.stale", PKL_SEV_WARN));
	pkl_report_free(&r);
	X509_CRL_free(crl);

	/* L19: no nextUpdate, no CRLNumber */
	crl = mk_crl(W.ca, W.ck, -300, 0, 0, 0, 0, 0, -1);
	r = lint_crl(crl, W.ca, now);
	assert_true(has(&r, "lint.L19", PKL_SEV_FAIL));
	size_t n19 = 0;
	for (size_t i = 0; i < r.n; i++)
		n19 += !strcmp(r.v[i].code, "lint.L19") && r.v[i].sev == PKL_SEV_FAIL;
	assert_int_equal(n19, 2);
	pkl_report_free(&r);
	X509_CRL_free(crl);

	/* L20: revoked after thisUpdate; reason unspecified(0) */
	crl = mk_crl(W.ca, W.ck, -300, 7 * FX_DAY, 1, 1, 77, 3600, 0);
	r = lint_crl(crl, W.ca, now);
	assert_true(has(&r, "lint.L20", PKL_SEV_FAIL));
	assert_true(has(&r, "lint.L20", PKL_SEV_WARN));
	pkl_report_free(&r);
	X509_CRL_free(crl);

	/* garbage is one crl.parse failure */
	struct pkl_lint_crl_opts o = { .show_ok = 1 };
	r = (struct pkl_report)PKL_REPORT_INIT;
	assert_int_equal(pkl_lint_crl((const unsigned char *)"<html>", 6, "x", &o, &r, NULL), PKL_OK);
	assert_true(has(&r, "crl.parse", PKL_SEV_FAIL));
	assert_int_equal(r.n, 1);
	pkl_report_free(&r);
}

static void parsers(void **state)
{
	(void)state;
	unsigned p = 0;
	enum pkl_lint_role role;
	struct pkl_err err = { 0 };

	assert_int_equal(pkl_lint_platforms_parse("windows", &p, &err), PKL_OK);
	assert_int_equal(p, PKL_PLAT_WINDOWS);
	assert_int_equal(pkl_lint_platforms_parse("strongswan,apple", &p, &err), PKL_OK);
	assert_int_equal(p, PKL_PLAT_STRONGSWAN | PKL_PLAT_APPLE);
	assert_int_equal(pkl_lint_platforms_parse("all", &p, &err), PKL_OK);
	assert_int_equal(p, PKL_PLAT_ALL);
	assert_int_equal(pkl_lint_platforms_parse("beos", &p, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "beos"));
	assert_int_equal(pkl_lint_platforms_parse("", &p, &err), PKL_EINPUT);
	assert_int_equal(pkl_lint_role_parse("client", &role, &err), PKL_OK);
	assert_int_equal(role, PKL_ROLE_CLIENT);
	assert_int_equal(pkl_lint_role_parse("router", &role, &err), PKL_EINPUT);
}

/* The report renderings carry the same findings. */
static void report_text_and_json(void **state)
{
	(void)state;
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_buf t = PKL_BUF_INIT, j = PKL_BUF_INIT;
	struct pkl_finding *f;

	pkl_report_add(&r, PKL_SEV_OK, "chain.trust", "CN=x", "fine");
	f = pkl_report_add(&r, PKL_SEV_FAIL, "crl.expired", "http://u/c.crl", "expired");
	pkl_finding_cause(f, "nobody re-signed it");
	pkl_finding_fix(f, "run pkilab crl");
	pkl_report_add(&r, PKL_SEV_WARN, "crl.redundancy_lost", "CN=x", "1 of 2");
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_FAIL);
	assert_non_null(pkl_report_find(&r, "crl.expired", PKL_SEV_FAIL));
	assert_null(pkl_report_find(&r, "crl.expired", PKL_SEV_FAIL + 1));
	assert_int_equal(pkl_report_text(&r, 0, &t, NULL), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&t), "[FAIL] crl.expired"));
	assert_non_null(strstr(pkl_buf_cstr(&t), "cause: nobody re-signed it"));
	assert_non_null(strstr(pkl_buf_cstr(&t), "fix:   run pkilab crl"));
	assert_non_null(strstr(pkl_buf_cstr(&t), "[ok]   chain.trust"));
	assert_non_null(strstr(pkl_buf_cstr(&t), "3 checks: 1 failed, 1 warnings, 1 passed"));
	pkl_buf_free(&t);
	assert_int_equal(pkl_report_text(&r, 1, &t, NULL), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&t), "\xe2\x9c\x98 crl.expired"));
	const char *meta[] = { "command", "unit", NULL };
	assert_int_equal(pkl_report_json(&r, meta, &j, NULL), PKL_OK);
	assert_non_null(strstr(pkl_buf_cstr(&j), "\"verdict\": \"fail\""));
	assert_non_null(strstr(pkl_buf_cstr(&j), "\"code\": \"crl.expired\""));
	assert_non_null(strstr(pkl_buf_cstr(&j), "\"fix\": \"run pkilab crl\""));
	assert_non_null(strstr(pkl_buf_cstr(&j), "\"command\": \"unit\""));
	pkl_buf_free(&t);
	pkl_buf_free(&j);
	pkl_report_free(&r);
}

/* L17: an IPv6 address written as dNSName is the copy Windows needs (strongSwan windowsCertRequirements)
 * when it mirrors an iPAddress entry; on its own it is not a host name. */
static void ipv6_as_dns(void **state)
{
	struct fx_ext e[16];
	struct pkl_report r;
	X509 *x;

	(void)state;
	gateway_exts(e, NID_subject_alt_name, "DNS:vpn.unit.test,IP:2001:db8::1,DNS:2001:db8::1");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, W.ca, NULL);
	assert_false(has(&r, "lint.L17", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
	gateway_exts(e, NID_subject_alt_name, "DNS:vpn.unit.test,IP:2001:db8::2,DNS:2001:db8::1");
	x = leaf_with(e, NULL, -3600, 397 * FX_DAY, 0);
	r = lint(x, PKL_PLAT_ALL, PKL_ROLE_AUTO, W.ca, NULL);
	assert_true(has(&r, "lint.L17", PKL_SEV_FAIL));
	pkl_report_free(&r);
	X509_free(x);
}

/* ------------------------------------------------------------ lint files */

/* Writes objs[0..n) with put into dir/name; out receives the path. */
static void write_tmp(char out[512], const char *dir, const char *name, int (*put)(BIO *, void *),
		      void *const *objs, size_t n)
{
	BIO *b;

	snprintf(out, 512, "%s/%s", dir, name);
	b = BIO_new_file(out, "wb");
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		assert_true(put(b, objs[i]) > 0);
	BIO_free(b);
}

static int put_pem_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}
static int put_pem_crl(BIO *b, void *c)
{
	return PEM_write_bio_X509_CRL(b, c);
}
static int put_der_crl(BIO *b, void *c)
{
	return i2d_X509_CRL_bio(b, c);
}
static int put_junk(BIO *b, void *s)
{
	return BIO_puts(b, s);
}

/* pkl_lint_files tells the file types apart by content: a PEM bundle runs
 * the chain lints, a CRL (PEM or DER) the CRL lints with --issuer's X7, and
 * an unreadable file stops the run naming its path. */
static void lint_files_by_content(void **state)
{
	(void)state;
	char dir[] = "/tmp/pkl-lintfile-XXXXXX";
	X509 *x = leaf_with(FX_GATEWAY, NULL, -3600, 397 * FX_DAY, 0);
	X509_CRL *crl = mk_crl(W.ca, W.ck, -300, 7 * FX_DAY, 1, 1, 0, 0, -1);
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_err err = { 0 };
	struct pkl_lint_file_opts o = { .at = (pkl_time)time(NULL) };

	char bundle[512], ca[512], pem_crl[512], der_crl[512], junk[512];
	void *chain[] = { x, W.ca, W.root }, *one_ca[] = { W.ca }, *one_crl[] = { crl };
	void *text[] = { "not a certificate" };

	assert_non_null(mkdtemp(dir));
	write_tmp(bundle, dir, "bundle.pem", put_pem_cert, chain, 3);
	write_tmp(ca, dir, "ca.pem", put_pem_cert, one_ca, 1);
	write_tmp(pem_crl, dir, "a.crl.pem", put_pem_crl, one_crl, 1);
	write_tmp(der_crl, dir, "b.crl", put_der_crl, one_crl, 1);
	write_tmp(junk, dir, "junk.bin", put_junk, text, 1);

	const char *bundles[] = { bundle };
	assert_int_equal(pkl_lint_files(bundles, 1, &o, &r, &err), PKL_OK);
	assert_true(has(&r, "lint.L12", PKL_SEV_OK));
	assert_true(has(&r, "lint.X4", PKL_SEV_OK));
	assert_null(pkl_report_find(&r, "lint.L19", PKL_SEV_OK));
	pkl_report_free(&r);

	o.issuer_file = ca;
	const char *crls[] = { pem_crl, der_crl };
	assert_int_equal(pkl_lint_files(crls, 2, &o, &r, &err), PKL_OK);
	assert_true(has(&r, "lint.L19", PKL_SEV_OK));
	assert_true(has(&r, "lint.X7", PKL_SEV_OK));
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_OK);
	pkl_report_free(&r);

	const char *junks[] = { junk };
	assert_int_not_equal(pkl_lint_files(junks, 1, &o, &r, &err), PKL_OK);
	assert_non_null(strstr(err.where, "junk.bin"));
	pkl_report_free(&r);

	o.issuer_file = "/nonexistent/ca.pem";
	assert_int_not_equal(pkl_lint_files(crls, 1, &o, &r, &err), PKL_OK);
	assert_int_equal(r.n, 0);
	pkl_report_free(&r);

	const char *written[] = { bundle, ca, pem_crl, der_crl, junk };
	for (size_t i = 0; i < 5; i++)
		unlink(written[i]);
	rmdir(dir);
	X509_CRL_free(crl);
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_gateway_passes_everything),
		cmocka_unit_test(cas_pass_and_have_roles),
		cmocka_unit_test(gateway_without_server_auth),
		cmocka_unit_test(client_eku),
		cmocka_unit_test(keys_per_platform),
		cmocka_unit_test(apple_825_days),
		cmocka_unit_test(identity_matching),
		cmocka_unit_test(ku_without_digital_signature),
		cmocka_unit_test(l_checks),
		cmocka_unit_test(chain_lint),
		cmocka_unit_test(crl_lints),
		cmocka_unit_test(parsers),
		cmocka_unit_test(ipv6_as_dns),
		cmocka_unit_test(report_text_and_json),
		cmocka_unit_test(lint_files_by_content),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
