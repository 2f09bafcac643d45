/*
 * Unit tests of name constraint matching (ca/lib/nameconstraints.c, RFC 5280
 * 4.2.1.10): each form inside and outside its subtree - dNSName (labels added
 * on the left, the leading-dot form), rfc822Name (mailbox, host, .domain), URI hosts,
 * iPAddress with IPv4 and IPv6 masks, directoryName (RDN prefix) - then whole
 * certificates (SAN, subject emailAddress, CN as host name), and the path
 * rule of chain.c: a self-issued intermediate is not checked, a leaf is
 * (RFC 5280 6.1.3(b)), and the constraints of every CA above hold together.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "pkilab/chain.h"
#include "pkilab/nameconstraints.h"
#include "fixture.h"

static int dns(const char *name, const char *base)
{
	return pkl_nc_dns_match(name, strlen(name), base, strlen(base));
}

static int email(const char *name, const char *base)
{
	return pkl_nc_email_match(name, strlen(name), base, strlen(base));
}

static void dns_forms(void **state)
{
	(void)state;
	assert_int_equal(dns("example.com", "example.com"), 1);
	assert_int_equal(dns("host.example.com", "example.com"), 1);
	assert_int_equal(dns("a.b.host.example.com", "example.com"), 1);
	assert_int_equal(dns("HOST.Example.COM", "example.com"), 1);
	assert_int_equal(dns("hostexample.com", "example.com"), 0); /* not a label boundary */
	assert_int_equal(dns("example.org", "example.com"), 0);
	assert_int_equal(dns("com", "example.com"), 0);
	assert_int_equal(dns("host.example.com", ".example.com"), 1);
	assert_int_equal(dns("example.com", ".example.com"), 0); /* the dot form needs a label more */
	assert_int_equal(dns("anything.test", ""), 1);
	/* a name with a NUL byte is in no subtree (chain.c's caller refuses it) */
	assert_int_equal(pkl_nc_dns_match("a.example.com\0", 14, "example.com", 11), 0);
	assert_int_equal(pkl_nc_dns_match("evil\0.example.com", 17, "example.com", 11), 0);
}

static void email_forms(void **state)
{
	(void)state;
	/* mailbox */
	assert_int_equal(email("alice@example.com", "alice@example.com"), 1);
	assert_int_equal(email("alice@EXAMPLE.com", "alice@example.com"), 1); /* host case-insensitive */
	assert_int_equal(email("Alice@example.com", "alice@example.com"), 0); /* local part exact */
	assert_int_equal(email("bob@example.com", "alice@example.com"), 0);
	assert_int_equal(email("alice@mail.example.com", "alice@example.com"), 0);
	/* host */
	assert_int_equal(email("bob@example.com", "example.com"), 1);
	assert_int_equal(email("bob@mail.example.com", "example.com"), 0);
	/* .domain */
	assert_int_equal(email("bob@mail.example.com", ".example.com"), 1);
	assert_int_equal(email("bob@example.com", ".example.com"), 0);
	assert_int_equal(email("bob@badexample.com", ".example.com"), 0);
	/* not a mailbox */
	assert_int_equal(email("example.com", "example.com"), 0);
	assert_int_equal(email("x@y", ""), 1);
}

static int uri(const char *name, const char *base)
{
	return pkl_nc_uri_match(name, strlen(name), base, strlen(base));
}

static void uri_hosts(void **state)
{
	(void)state;
	assert_int_equal(uri("http://vpn.example.com/crl", "vpn.example.com"), 1);
	assert_int_equal(uri("http://VPN.example.com:8080/", "vpn.example.com"), 1);
	assert_int_equal(uri("http://a.vpn.example.com/", "vpn.example.com"), 0); /* a host, not a domain */
	assert_int_equal(uri("http://a.example.com", ".example.com"), 1);
	assert_int_equal(uri("http://example.com/", ".example.com"), 0);
	assert_int_equal(uri("vpn.example.com", "vpn.example.com"), 0); /* no scheme://host */
	assert_int_equal(uri("http:///x", ""), 0);
}

static void ip_masks(void **state)
{
	(void)state;
	static const unsigned char net24[8] = { 192, 0, 2, 0, 255, 255, 255, 0 };
	static const unsigned char net8[8] = { 10, 0, 0, 0, 255, 0, 0, 0 };
	static const unsigned char host32[8] = { 192, 0, 2, 10, 255, 255, 255, 255 };
	static const unsigned char in[4] = { 192, 0, 2, 10 }, out[4] = { 192, 0, 3, 10 };
	static const unsigned char ten[4] = { 10, 200, 1, 1 };
	/* 2001:db8::/32 */
	static const unsigned char v6net[32] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
						 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const unsigned char v6in[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10
	};
	static const unsigned char v6out[16] = {
		0x20, 0x01, 0x0d, 0xb9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10
	};
	/* ::ffff:192.0.2.10 is IPv6: not in an IPv4 subtree */
	static const unsigned char mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10 };

	assert_int_equal(pkl_nc_ip_match(in, 4, net24, 8), 1);
	assert_int_equal(pkl_nc_ip_match(out, 4, net24, 8), 0);
	assert_int_equal(pkl_nc_ip_match(ten, 4, net8, 8), 1);
	assert_int_equal(pkl_nc_ip_match(in, 4, net8, 8), 0);
	assert_int_equal(pkl_nc_ip_match(in, 4, host32, 8), 1);
	assert_int_equal(pkl_nc_ip_match(out, 4, host32, 8), 0);
	assert_int_equal(pkl_nc_ip_match(v6in, 16, v6net, 32), 1);
	assert_int_equal(pkl_nc_ip_match(v6out, 16, v6net, 32), 0);
	assert_int_equal(pkl_nc_ip_match(mapped, 16, net24, 8), 0);
	assert_int_equal(pkl_nc_ip_match(in, 4, v6net, 32), 0);
	assert_int_equal(pkl_nc_ip_match(in, 3, net24, 6), 0); /* malformed lengths */
}

static X509_NAME *dn(const char *text)
{
	X509_NAME *n = X509_NAME_new();
	char buf[256], *save = NULL;

	assert_non_null(n);
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		char *eq = strchr(part, '=');
		int plus = part[0] == '+'; /* "+X=v": another value of the previous RDN */
		assert_non_null(eq);
		*eq = '\0';
		assert_true(X509_NAME_add_entry_by_txt(n, part + plus, MBSTRING_ASC, (unsigned char *)eq + 1,
						       -1, -1, plus ? -1 : 0));
	}
	return n;
}

static int dn_match(const char *name, const char *base)
{
	X509_NAME *a = dn(name), *b = dn(base);
	int m = pkl_nc_dn_match(a, b);

	X509_NAME_free(a);
	X509_NAME_free(b);
	return m;
}

static void dn_prefix(void **state)
{
	(void)state;
	assert_int_equal(dn_match("C=CH/O=Example/CN=vpn", "C=CH/O=Example"), 1);
	assert_int_equal(dn_match("C=CH/O=Example", "C=CH/O=Example"), 1);
	assert_int_equal(dn_match("C=CH/O=example/CN=vpn", "C=CH/O=Example"), 1); /* canonical: case */
	assert_int_equal(dn_match("C=CH/O=Other/CN=vpn", "C=CH/O=Example"), 0);
	assert_int_equal(dn_match("O=Example/C=CH/CN=vpn", "C=CH/O=Example"), 0); /* order matters */
	assert_int_equal(dn_match("C=CH", "C=CH/O=Example"), 0);
	assert_int_equal(dn_match("C=CH/O=Example/+OU=Ops/CN=vpn", "C=CH/O=Example/+OU=Ops"), 1);
	assert_int_equal(dn_match("C=CH/O=Example/CN=vpn", "C=CH/O=Example/+OU=Ops"), 0);
}

/* ---------------------------------------------------------------- certificates */

static NAME_CONSTRAINTS *nc_of(const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	NAME_CONSTRAINTS *nc;

	X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_name_constraints, value);
	assert_non_null(e);
	nc = X509V3_EXT_d2i(e);
	assert_non_null(nc);
	X509_EXTENSION_free(e);
	return nc;
}

static const struct fx_ext LEAF_NOSAN[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ 0, NULL },
};

static X509 *leaf_with(EVP_PKEY *k, const char *cn, const char *san)
{
	struct fx_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_subject_alt_name, san },
		{ 0, NULL },
	};
	return fx_cert(cn, k, NULL, k, -3600, 86400, san ? exts : LEAF_NOSAN, 1);
}

static void cert_names(void **state)
{
	(void)state;
	EVP_PKEY *k = fx_key("P-256");
	NAME_CONSTRAINTS *nc =
		nc_of("critical,permitted;DNS:example.test,excluded;IP:192.0.2.0/255.255.255.0,"
		      "permitted;email:example.test");
	struct pkl_nc_violation v;
	X509 *x;

	x = leaf_with(k, "vpn.example.test", "DNS:vpn.example.test,IP:198.51.100.1,email:a@example.test");
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_OK);
	X509_free(x);

	x = leaf_with(k, "vpn.example.test", "DNS:vpn.example.test,IP:192.0.2.7");
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_EXCLUDED);
	assert_string_equal(v.form, "iPAddress");
	assert_string_equal(v.name, "192.0.2.7");
	assert_string_equal(v.subtree, "192.0.2.0/255.255.255.0");
	assert_string_equal(v.where, "subjectAltName");
	X509_free(x);

	x = leaf_with(k, "vpn.example.test", "DNS:vpn.other.test");
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_NOT_PERMITTED);
	assert_string_equal(v.name, "vpn.other.test");
	assert_string_equal(v.permitted, "example.test");
	X509_free(x);

	/* the CN as a host name, only without a dNSName SAN, only when asked */
	x = leaf_with(k, "vpn.other.test", NULL);
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_NOT_PERMITTED);
	assert_string_equal(v.where, "subject CN");
	assert_int_equal(pkl_nc_cert_check(nc, x, 0, &v), PKL_NC_OK);
	X509_free(x);
	x = leaf_with(k, "vpn.other.test", "DNS:vpn.example.test");
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_OK);
	X509_free(x);
	x = leaf_with(k, "not a host name", NULL);
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_OK);
	X509_free(x);

	/* the subject's emailAddress is an rfc822Name */
	X509_NAME *n = dn("CN=eve/emailAddress=eve@other.test");
	x = leaf_with(k, "eve", "DNS:vpn.example.test");
	X509_set_subject_name(x, n);
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_NOT_PERMITTED);
	assert_string_equal(v.where, "subject emailAddress");
	assert_string_equal(v.name, "eve@other.test");
	X509_NAME_free(n);
	X509_free(x);

	/* a constrained dNSName with a NUL byte: refused, not read past the NUL */
	struct fx_ext nul_ext[] = { { NID_basic_constraints, "critical,CA:FALSE" }, { 0, NULL } };
	x = fx_cert("vpn.example.test", k, NULL, k, -3600, 86400, nul_ext, 1);
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	assert_true(ASN1_STRING_set(ia5, "ok.example.test\0.other.test", 27));
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	sk_GENERAL_NAME_push(gens, gn);
	assert_true(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0));
	assert_int_equal(pkl_nc_cert_check(nc, x, 1, &v), PKL_NC_UNSUPPORTED);
	assert_string_equal(v.name, "ok.example.test?.other.test");
	GENERAL_NAMES_free(gens);
	X509_free(x);

	/* hostile sizes: 1,000 SANs against 1,100 subtrees are not compared one by one */
	{
		size_t cap = 40000;
		char *ncs = malloc(cap), *sans = malloc(cap);
		size_t a = 0, b = 0;
		assert_non_null(ncs);
		assert_non_null(sans);
		a += (size_t)snprintf(ncs, cap, "critical");
		for (int i = 0; i < 1100; i++)
			a += (size_t)snprintf(ncs + a, cap - a, ",permitted;DNS:a%d.test", i);
		for (int i = 0; i < 1000; i++)
			b += (size_t)snprintf(sans + b, cap - b, "%sDNS:h%d.test", i ? "," : "", i);
		NAME_CONSTRAINTS *big = nc_of(ncs);
		x = leaf_with(k, "h.test", sans);
		assert_int_equal(pkl_nc_cert_check(big, x, 1, &v), PKL_NC_UNSUPPORTED);
		assert_non_null(strstr(v.name, " names against "));
		X509_free(x);
		NAME_CONSTRAINTS_free(big);
		free(ncs);
		free(sans);
	}

	/* a form not processed (registeredID), constrained and present: must be rejected */
	NAME_CONSTRAINTS *rid = nc_of("critical,permitted;RID:1.2.3.4");
	x = leaf_with(k, "vpn.example.test", "RID:1.2.3.4");
	assert_int_equal(pkl_nc_cert_check(rid, x, 1, &v), PKL_NC_UNSUPPORTED);
	X509_free(x);
	x = leaf_with(k, "vpn.example.test", "DNS:vpn.example.test");
	assert_int_equal(pkl_nc_cert_check(rid, x, 1, &v), PKL_NC_OK);
	X509_free(x);
	NAME_CONSTRAINTS_free(rid);

	NAME_CONSTRAINTS_free(nc);
	EVP_PKEY_free(k);
}

/* ---------------------------------------------------------------- the path */

static const struct fx_ext CA_NC[] = {
	{ NID_basic_constraints, "critical,CA:TRUE" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_name_constraints, "critical,permitted;DNS:example.test" },
	{ 0, NULL },
};
static const struct fx_ext CA_SAN_OUTSIDE[] = {
	{ NID_basic_constraints, "critical,CA:TRUE" },   { NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },          { NID_authority_key_identifier, "keyid:always" },
	{ NID_subject_alt_name, "DNS:ca.outside.test" }, { 0, NULL },
};
static const struct fx_ext LEAF_IN[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_subject_alt_name, "DNS:vpn.example.test" },
	{ 0, NULL },
};
static const struct fx_ext LEAF_OUT[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_subject_alt_name, "DNS:leaf.outside.test" },
	{ 0, NULL },
};

static struct pkl_report judge(X509 *leaf, X509 *const *pool, size_t npool, X509 *root)
{
	STACK_OF(X509) *sk = sk_X509_new_null(), *anchors = sk_X509_new_null();
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_chain c;

	for (size_t i = 0; i < npool; i++)
		sk_X509_push(sk, pool[i]);
	sk_X509_push(anchors, root);
	struct pkl_chain_opts o = { .pool = sk, .anchors = anchors };
	assert_int_equal(pkl_chain_build(leaf, &o, &c, &r, NULL), PKL_OK);
	assert_true(c.anchored);
	assert_int_equal(c.n, npool + 2);
	pkl_chain_check(&c, (pkl_time)time(NULL), 1, &r);
	pkl_chain_free(&c);
	sk_X509_free(sk);
	sk_X509_free(anchors);
	return r;
}

static int nc_fails(const struct pkl_report *r)
{
	return pkl_report_find(r, "chain.name_constraints", PKL_SEV_FAIL) != NULL;
}

static void self_issued_and_intersection(void **state)
{
	(void)state;
	EVP_PKEY *rk = fx_key("P-256"), *ck = fx_key("P-256"), *ck2 = fx_key("P-256"), *lk = fx_key("P-256");
	X509 *root = fx_cert("NC Root", rk, NULL, rk, -3600, 86400, FX_ROOT, 1);
	X509 *ca = fx_cert("NC CA", ck, root, rk, -3600, 86400, CA_NC, 2);
	/* the CA's key rollover: same DN, new key, a SAN outside its own constraint */
	X509 *ca2 = fx_cert("NC CA", ck2, ca, ck, -3600, 86400, CA_SAN_OUTSIDE, 3);
	X509 *in = fx_cert("vpn.example.test", lk, ca2, ck2, -3600, 86400, LEAF_IN, 4);
	X509 *out = fx_cert("leaf.outside.test", lk, ca2, ck2, -3600, 86400, LEAF_OUT, 5);
	/* a leaf with its issuer's DN: self-issued, but the last certificate */
	X509 *si_leaf = fx_cert("NC CA", lk, ca, ck, -3600, 86400, LEAF_OUT, 6);
	X509 *pool[2] = { ca2, ca };
	struct pkl_report r;

	r = judge(in, pool, 2, root);
	assert_false(nc_fails(&r));
	assert_non_null(pkl_report_find(&r, "chain.name_constraints", PKL_SEV_OK));
	pkl_report_free(&r);

	r = judge(out, pool, 2, root);
	assert_true(nc_fails(&r));
	assert_non_null(strstr(pkl_report_find(&r, "chain.name_constraints", PKL_SEV_FAIL)->msg,
			       "dNSName 'leaf.outside.test' is outside the permitted subtrees of CN=NC CA"));
	pkl_report_free(&r);

	r = judge(si_leaf, pool + 1, 1, root);
	assert_true(nc_fails(&r));
	pkl_report_free(&r);

	/* intersection: a CA above with permitted other.test refuses vpn.example.test
	 * although the CA below permits it */
	static const struct fx_ext ROOT_NC[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_name_constraints, "critical,permitted;DNS:other.test" },
		{ 0, NULL },
	};
	X509 *root2 = fx_cert("NC Root", rk, NULL, rk, -3600, 86400, ROOT_NC, 7);
	r = judge(in, pool, 2, root2);
	assert_true(nc_fails(&r));
	assert_non_null(
		strstr(pkl_report_find(&r, "chain.name_constraints", PKL_SEV_FAIL)->msg, "of CN=NC Root"));
	pkl_report_free(&r);

	X509_free(root2);
	X509_free(si_leaf);
	X509_free(out);
	X509_free(in);
	X509_free(ca2);
	X509_free(ca);
	X509_free(root);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(ck2);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(rk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dns_forms),
		cmocka_unit_test(email_forms),
		cmocka_unit_test(uri_hosts),
		cmocka_unit_test(ip_masks),
		cmocka_unit_test(dn_prefix),
		cmocka_unit_test(cert_names),
		cmocka_unit_test(self_issued_and_intersection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
