/*
 * The issuance rate of pkl_cert_issue (ca/lib/cert.c) for P-256 leaves, and
 * in the same run its reference: one ECDSA P-256 + SHA-256 signature of a
 * certificate-sized buffer with EVP_DigestSign, the floor of any issuance.
 * Keys are generated beforehand, so pure issuance is measured; times are CPU
 * time of this (single) thread, so a busy machine does not lower the figures.
 *   certrate [N]   (default 1000 leaves)
 * Prints "issue_per_s=.. sign_per_s=.. ratio=.." (ratio = issue/sign: 1.0
 * would be issuance costing nothing beyond its signature).
 * Benchmark helper, not part of pkilab; scripts/bench/cert.sh runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "pkilab/cert.h"
#include "pkilab/key.h"
#include "pkilab/name.h"

static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static EVP_PKEY *gen(const char *spec)
{
	struct pkl_key_spec s;
	struct pkl_err err = { 0 };

	if (pkl_key_spec_parse(spec, &s, &err) != PKL_OK)
		return NULL;
	return pkl_key_generate(&s, &err);
}

int main(int argc, char **argv)
{
	static const char *const cdp[] = { "http://127.0.0.1:8081/crl/vpn-ca.crl",
					   "http://127.0.0.2:8081/crl/vpn-ca.crl" };
	static const char *const aia[] = { "http://127.0.0.1:8081/aia/vpn-ca.crt" };
	const char *eku[3];
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	struct pkl_err err = { 0 };
	struct pkl_san sans[2];
	struct pkl_cert_req r;
	unsigned char tbs[600], sig[128];
	EVP_PKEY *ca_key, **keys;
	X509_NAME *ca_name, *leaf_name;
	X509 *ca;
	double t, issue_s, sign_s;

	if (n <= 0)
		n = 1000;
	keys = calloc((size_t)n, sizeof(*keys));
	ca_key = gen("ec:P-256");
	ca_name = pkl_name_parse("CN=Bench CA", &err);
	leaf_name = pkl_name_parse("CN=vpn.example.test", &err);
	if (!keys || !ca_key || !ca_name || !leaf_name) {
		fprintf(stderr, "certrate: set-up failed: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (!(keys[i] = gen("ec:P-256"))) {
			fprintf(stderr, "certrate: key generation failed\n");
			return 1;
		}
	memset(&r, 0, sizeof(r));
	r.subject = ca_name;
	r.pubkey = ca_key;
	r.not_before = 1798761600 - 3600;
	r.not_after = 1798761600 + 10 * 365 * 86400;
	r.is_ca = 1;
	r.path_len = 0;
	r.key_usage = PKL_KU_KEY_CERT_SIGN | PKL_KU_CRL_SIGN;
	if (!(ca = pkl_cert_issue(&r, NULL, ca_key, &err))) {
		fprintf(stderr, "certrate: CA: %s\n", err.msg);
		return 1;
	}
	if (pkl_san_parse("vpn.example.test", &sans[0], &err) != PKL_OK ||
	    pkl_san_parse("192.0.2.10", &sans[1], &err) != PKL_OK) {
		fprintf(stderr, "certrate: san: %s\n", err.msg);
		return 1;
	}
	eku[0] = pkl_eku_oid("serverAuth");
	eku[1] = pkl_eku_oid("ikeIntermediate");
	eku[2] = pkl_eku_oid("ipsecIKE");
	memset(&r, 0, sizeof(r));
	r.subject = leaf_name;
	r.sans = sans;
	r.n_sans = 2;
	r.ip_as_dns = 1;
	r.not_before = 1798761600 - 3600;
	r.not_after = 1798761600 + 397 * 86400;
	r.path_len = -1;
	r.key_usage = PKL_KU_DIGITAL_SIGNATURE;
	r.eku_oids = eku;
	r.n_eku = 3;
	r.cdp_uris = cdp;
	r.n_cdp = 2;
	r.aia_uris = aia;
	r.n_aia = 1;

	t = cpu_s();
	for (int i = 0; i < n; i++) {
		X509 *x;

		r.pubkey = keys[i];
		if (!(x = pkl_cert_issue(&r, ca, ca_key, &err))) {
			fprintf(stderr, "certrate: issue: %s\n", err.msg);
			return 1;
		}
		X509_free(x);
	}
	issue_s = cpu_s() - t;

	memset(tbs, 0x5a, sizeof(tbs));
	t = cpu_s();
	for (int i = 0; i < n; i++) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		size_t len = sizeof(sig);

		tbs[i % sizeof(tbs)] ^= 1;
		if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ca_key) != 1 ||
		    EVP_DigestSign(md, sig, &len, tbs, sizeof(tbs)) != 1) {
			fprintf(stderr, "certrate: reference signature failed\n");
			return 1;
		}
		EVP_MD_CTX_free(md);
	}
	sign_s = cpu_s() - t;
	if (issue_s <= 0)
		issue_s = 1e-9;
	if (sign_s <= 0)
		sign_s = 1e-9;
	printf("issue_per_s=%.0f sign_per_s=%.0f ratio=%.2f\n", n / issue_s, n / sign_s, sign_s / issue_s);

	for (int i = 0; i < n; i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
	X509_free(ca);
	X509_NAME_free(ca_name);
	X509_NAME_free(leaf_name);
	EVP_PKEY_free(ca_key);
	return 0;
}
