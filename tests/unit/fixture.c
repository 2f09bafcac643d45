/*
 * The unit programs' shared set-up (see fixture.h): compiled once and linked
 * into every tests/unit/test_*.c program by the Makefile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/rsa.h>

#include "pkilab/key.h"
#include "fixture.h"

char fx_dir[64];

int fx_dir_setup(void **state)
{
	(void)state;
	snprintf(fx_dir, sizeof(fx_dir), "/tmp/pkl-unit-XXXXXX");
	return fx_mkdtemp(fx_dir);
}

int fx_dir_teardown(void **state)
{
	(void)state;
	return fx_rmtree(fx_dir);
}

int fx_mkdtemp(char *tmpl)
{
	return mkdtemp(tmpl) ? 0 : -1;
}

int fx_rmtree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

void fx_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

void fx_write_in(const char *dir, const char *name, const char *text, char *path, size_t plen)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fx_write(p, text, strlen(text));
	if (path)
		snprintf(path, plen, "%s", p);
}

void fx_log_silent(enum pkl_log_level level, const char *msg, void *cls)
{
	(void)level;
	(void)msg;
	(void)cls;
}

int fx_templates(const char *dir, const char *ca_key)
{
	char p[PATH_MAX], root[512], inter[512];
	static const char gw[] =
		"role = \"end-entity\";\nkey = \"ec:P-256\";\nvalidity = \"397d\";\nmax_validity = "
		"\"825d\";\n"
		"backdate = \"1h\";\nkey_usage = [ \"digitalSignature\" ];\nrsa_key_encipherment = true;\n"
		"extended_key_usage = [ \"serverAuth\", \"ikeIntermediate\", \"ipsecIKE\" ];\nsan_required = "
		"true;\n"
		"ip_as_dns = true;\n";

	snprintf(p, sizeof(p), "%s/templates", dir);
	if (mkdir(p, 0755) != 0)
		return -1;
	snprintf(root, sizeof(root),
		 "role = \"root\";\nkey = \"%s\";\nvalidity = \"10y\";\nbackdate = \"1h\";\npath_len = -1;\n"
		 "key_usage = [ \"keyCertSign\", \"cRLSign\" ];\nextended_key_usage = [ ];\ncdp = "
		 "false;\naia = false;\n"
		 "crl_lifetime = \"180d\";\n",
		 ca_key);
	snprintf(inter, sizeof(inter),
		 "role = \"intermediate\";\nkey = \"%s\";\nvalidity = \"5y\";\nbackdate = \"1h\";\npath_len "
		 "= 0;\n"
		 "key_usage = [ \"keyCertSign\", \"cRLSign\" ];\nextended_key_usage = [ ];\ncrl_lifetime = "
		 "\"7d\";\n",
		 ca_key);
	fx_write_in(dir, "templates/t-root.cfg", root, NULL, 0);
	fx_write_in(dir, "templates/t-int.cfg", inter, NULL, 0);
	fx_write_in(dir, "templates/t-gw.cfg", gw, NULL, 0);
	return 0;
}

void fx_entity(struct pkl_entity *e, const char *name, const char *issuer, int ca, pkl_time now,
	       const char *subject_prefix)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->issuer, sizeof(e->issuer), "%s", issuer);
	snprintf(e->subject, sizeof(e->subject), "%sCN=%s", subject_prefix, name);
	snprintf(e->where, sizeof(e->where), "unit:%s", name);
	pkl_key_spec_parse("ec:P-256", &e->prof.key, NULL);
	e->prof.role = ca ? PKL_ROLE_ROOT : PKL_ROLE_LEAF;
	e->prof.path_len = -1;
	e->prof.key_usage = ca ? (PKL_KU_KEY_CERT_SIGN | PKL_KU_CRL_SIGN) : PKL_KU_DIGITAL_SIGNATURE;
	e->prof.crl_lifetime = 7 * 86400;
	e->is_ca = ca;
	e->not_before = now - 3600;
	e->not_after = now + 86400L * 30;
}

EVP_PKEY *fx_key(const char *spec)
{
	if (!strcmp(spec, "rsa1024"))
		return EVP_RSA_gen(1024);
	if (!strcmp(spec, "rsa2048"))
		return EVP_RSA_gen(2048);
	if (!strcmp(spec, "ed25519"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return EVP_EC_gen(spec); /* "P-256", "P-384", "P-521" */
}

X509 *fx_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long nb, long na,
	      const struct fx_ext *exts, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;

	X509_set_version(x, 2);
	if (serial) {
		ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	} else {
		unsigned char s[16];
		BIGNUM *bn;
		for (int i = 0; i < 16; i++)
			s[i] = (unsigned char)(0x11 * (i + 1) + (unsigned)strlen(cn));
		s[0] &= 0x7f;
		bn = BN_bin2bn(s, 16, NULL);
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"pkilab Unit", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), nb);
	X509_gmtime_adj(X509_getm_notAfter(x), na);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; exts && exts[i].value; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
		if (e) {
			X509_add_ext(x, e, -1);
			X509_EXTENSION_free(e);
		}
	}
	X509_sign(x, ikey, EVP_PKEY_get_base_id(ikey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256());
	return x;
}

const struct fx_ext FX_ROOT[] = {
	{ NID_basic_constraints, "critical,CA:TRUE" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ 0, NULL },
};
const struct fx_ext FX_SUBCA[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_crl_distribution_points, "URI:http://127.0.0.1:8081/crl/root.crl" },
	{ NID_info_access, "caIssuers;URI:http://127.0.0.1:8081/aia/root.crt" },
	{ 0, NULL },
};
const struct fx_ext FX_GATEWAY[] = {
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth,1.3.6.1.5.5.8.2.2,1.3.6.1.5.5.7.3.17" },
	{ NID_subject_alt_name, "DNS:vpn.unit.test,IP:192.0.2.10,DNS:192.0.2.10" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_crl_distribution_points, "URI:http://127.0.0.1:8081/crl/ca.crl" },
	{ NID_info_access, "caIssuers;URI:http://127.0.0.1:8081/aia/ca.crt" },
	{ 0, NULL },
};

int fx_chain_new(struct fx_chain *c, const char *prefix)
{
	char root[64], ca[64];

	snprintf(root, sizeof(root), "%s Root", prefix);
	snprintf(ca, sizeof(ca), "%s CA", prefix);
	c->rk = fx_key("P-384");
	c->ck = fx_key("P-384");
	c->lk = fx_key("P-256");
	c->other = fx_key("P-384");
	c->root = fx_cert(root, c->rk, NULL, c->rk, -FX_DAY, 3650 * FX_DAY, FX_ROOT, 0);
	c->ca = fx_cert(ca, c->ck, c->root, c->rk, -FX_DAY, 1800 * FX_DAY, FX_SUBCA, 0);
	c->leaf = fx_cert("vpn.unit.test", c->lk, c->ca, c->ck, -3600, 397 * FX_DAY, FX_GATEWAY, 0);
	return c->root && c->ca && c->leaf ? 0 : -1;
}

void fx_chain_free(struct fx_chain *c)
{
	X509_free(c->root);
	X509_free(c->ca);
	X509_free(c->leaf);
	EVP_PKEY_free(c->rk);
	EVP_PKEY_free(c->ck);
	EVP_PKEY_free(c->lk);
	EVP_PKEY_free(c->other);
}
