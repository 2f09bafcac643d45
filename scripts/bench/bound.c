/*
 * The in-process crypto bound of issuance (scripts/bench/issue.sh): on one
 * core, how many "leaves" per second key generation + one signature of a
 * certificate-sized TBS can do with the same algorithms pkilab uses -- key
 * generation through libpkilab (pkl_key_generate), signing with EVP as a CA
 * does (ECDSA P-256 + SHA-256 / RSA-2048 PKCS#1 v1.5 + SHA-256).
 *   bound SPEC SECONDS   e.g. bound ec:P-256 3   (CPU seconds per phase)
 * Prints "keygen_per_s=.. sign_per_s=.. leaves_per_s=.." per CPU-second of
 * one core, so a busy machine does not lower the bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "pkilab/key.h"

static double now_s(void)
{
	struct timespec t;

	/* CPU time of this (single) thread: the bound of one core, whatever
	 * else the machine is doing. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct pkl_key_spec spec;
	struct pkl_err err = { 0 };
	unsigned char tbs[600], sig[1024];
	double secs, t0, kg_rate, sg_rate;
	long n;
	EVP_PKEY *ca;

	if (argc != 3 || pkl_key_spec_parse(argv[1], &spec, &err) != PKL_OK) {
		fprintf(stderr, "usage: bound SPEC SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	memset(tbs, 0x5a, sizeof(tbs));
	ca = pkl_key_generate(&spec, &err);
	if (!ca)
		return 3;
	t0 = now_s();
	for (n = 0; now_s() - t0 < secs; n++) {
		EVP_PKEY *k = pkl_key_generate(&spec, &err);
		if (!k)
			return 3;
		EVP_PKEY_free(k);
	}
	kg_rate = (double)n / (now_s() - t0);
	t0 = now_s();
	for (n = 0; now_s() - t0 < secs; n++) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		size_t len = sizeof(sig);
		if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ca) != 1 ||
		    EVP_DigestSign(md, sig, &len, tbs, sizeof(tbs)) != 1)
			return 3;
		EVP_MD_CTX_free(md);
	}
	sg_rate = (double)n / (now_s() - t0);
	printf("keygen_per_s=%.1f sign_per_s=%.1f leaves_per_s=%.1f\n", kg_rate, sg_rate,
	       1.0 / (1.0 / kg_rate + 1.0 / sg_rate));
	EVP_PKEY_free(ca);
	return 0;
}
