/*
 * libFuzzer harness over CRL loading (ca/lib/crl_read.c), the code every
 * byte from a publish directory or a peer goes through before it can be
 * served: parse and verify against a fixed CA must never crash, leak or
 * accept what does not verify. Number comparison is fuzzed alongside.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pkilab/crl_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *fixed_ca(void)
{
	static X509 *ca;
	EVP_PKEY *key;
	X509_NAME *n;

	if (ca)
		return ca;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ca = X509_new();
	n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"root", -1, -1, 0);
	X509_set_version(ca, 2);
	X509_set_issuer_name(ca, n);
	X509_set_subject_name(ca, n);
	X509_gmtime_adj(X509_getm_notBefore(ca), 0);
	X509_gmtime_adj(X509_getm_notAfter(ca), 86400);
	X509_set_pubkey(ca, key);
	X509_sign(ca, key, EVP_sha256());
	X509_NAME_free(n);
	EVP_PKEY_free(key);
	return ca;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkl_crlinfo info;
	struct pkl_err err = { 0 };
	X509_CRL *crl = NULL;
	char a[64], b[64];
	size_t h;

	if (pkl_crlcheck_parse(data, size, "fuzz", &info, &crl, &err) == PKL_OK) {
		if (!crl || info.size != size)
			abort();
		X509_CRL_free(crl);
		(void)pkl_crlcheck_fresh(&info, 1800000000, 0, "fuzz", &err);
	} else if (crl || !err.msg[0]) {
		abort();
	}
	/* Random bytes never carry the fixed CA's signature. */
	if (pkl_crlcheck_verify(data, size, "fuzz", fixed_ca(), &info, &err) == PKL_OK)
		abort();
	h = size / 2 < sizeof(a) - 1 ? size / 2 : sizeof(a) - 1;
	memcpy(a, data, h);
	a[h] = '\0';
	memcpy(b, data + h, size - h < sizeof(b) - 1 ? size - h : sizeof(b) - 1);
	b[size - h < sizeof(b) - 1 ? size - h : sizeof(b) - 1] = '\0';
	if (pkl_crlcheck_number_cmp(a, b) != -pkl_crlcheck_number_cmp(b, a))
		abort();
	return 0;
}
