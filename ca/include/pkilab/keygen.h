/*
 * A key-generation pool: many keys generated on several threads at once.
 * Generating RSA keys dominates the time of issuing many certificates, and
 * each key is independent of the others, so `pkilab build` spreads them over
 * the cores before it opens its one transaction.
 */
#ifndef PKILAB_KEYGEN_H
#define PKILAB_KEYGEN_H

#include <stddef.h>
#include <openssl/evp.h>

#include "err.h"
#include "key.h"

/* The most threads a pool starts (the calling thread included). */
#define PKL_KEYGEN_MAX_THREADS 8

struct pkl_keygen_job {
	const struct pkl_key_spec *spec; /* in: what to generate; NULL: nothing */
	EVP_PKEY *key;                   /* out: a new key the caller frees */
	struct pkl_err err;              /* out: why this job's key failed */
};

/* Generates a key for every job with a spec, on up to `threads` threads
 * (0: one per online CPU), never more than PKL_KEYGEN_MAX_THREADS; the
 * calling thread works too, so a failure to start threads only costs speed.
 * PKL_OK when every such job has its key. Otherwise the rc of the first
 * failed job in array order, *failed (when not NULL) its index and its err
 * the reason; keys of the other jobs stay in place for the caller to free. */
enum pkl_rc pkl_keygen_run(struct pkl_keygen_job *jobs, size_t n, size_t threads, size_t *failed);

#endif
