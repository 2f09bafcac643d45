/*
 * The key-generation pool (keygen.h): worker threads take the next job from
 * a shared counter until none is left. Each job is written by exactly one
 * thread and read only after every thread has been joined.
 */
#include <pthread.h>
#include <unistd.h>

#include "pkilab/keygen.h"

struct keygen_pool {
	struct pkl_keygen_job *jobs;
	size_t n;
	size_t next;
	pthread_mutex_t lock;
};

static void *keygen_worker(void *arg)
{
	struct keygen_pool *pool = arg;

	for (;;) {
		pthread_mutex_lock(&pool->lock);
		size_t i = pool->next++;
		pthread_mutex_unlock(&pool->lock);
		if (i >= pool->n)
			return NULL;
		struct pkl_keygen_job *job = &pool->jobs[i];
		if (job->spec)
			job->key = pkl_key_generate(job->spec, &job->err);
	}
}

enum pkl_rc pkl_keygen_run(struct pkl_keygen_job *jobs, size_t n, size_t threads, size_t *failed)
{
	struct keygen_pool pool = { .jobs = jobs, .n = n };
	pthread_t th[PKL_KEYGEN_MAX_THREADS];
	size_t started = 0;

	if (threads == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu > 1 ? (size_t)ncpu : 1;
	}
	if (threads > PKL_KEYGEN_MAX_THREADS)
		threads = PKL_KEYGEN_MAX_THREADS;
	pthread_mutex_init(&pool.lock, NULL);
	for (size_t t = 1; t < threads; t++)
		if (pthread_create(&th[started], NULL, keygen_worker, &pool) == 0)
			started++;
	keygen_worker(&pool);
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&pool.lock);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].spec && !jobs[i].key) {
			if (failed)
				*failed = i;
			return jobs[i].err.rc ? jobs[i].err.rc : PKL_ERUNTIME;
		}
	return PKL_OK;
}
