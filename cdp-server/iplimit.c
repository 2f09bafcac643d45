/*
 * Open connections per client address, the count per_ip_limit is kept with.
 * The workers are separate libmicrohttpd daemons, so the count is kept here,
 * across all of them (t6007): the acceptor takes one before it hands a
 * socket to a worker, MHD's close notification gives it back. The key is
 * cdp_client_key's (IPv4 as v4-mapped IPv6, IPv6 per /64); an entry lives
 * while its address has a connection open.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct cdp_ip_count {
	unsigned char addr[16];
	long n;
	struct cdp_ip_count *next;
};

static unsigned ip_bucket(const unsigned char key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h & (CDP_IP_BUCKETS - 1);
}

void cdp_iplimit_init(struct cdp_iplimit *t)
{
	memset(t->b, 0, sizeof(t->b));
	pthread_mutex_init(&t->lock, NULL);
}

int cdp_iplimit_take(struct cdp_iplimit *t, const unsigned char key[16], long limit)
{
	struct cdp_ip_count **b = &t->b[ip_bucket(key)], *e;
	int ok = 0;

	pthread_mutex_lock(&t->lock);
	for (e = *b; e && memcmp(e->addr, key, 16) != 0; e = e->next)
		;
	if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
		memcpy(e->addr, key, 16);
		e->next = *b;
		*b = e;
	}
	if (e && e->n < limit) {
		e->n++;
		ok = 1;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void cdp_iplimit_release(struct cdp_iplimit *t, const unsigned char key[16])
{
	struct cdp_ip_count **p = &t->b[ip_bucket(key)], *e;

	pthread_mutex_lock(&t->lock);
	for (; (e = *p) != NULL; p = &e->next) {
		if (memcmp(e->addr, key, 16) == 0) {
			if (--e->n <= 0) {
				*p = e->next;
				free(e);
			}
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

long cdp_iplimit_count(struct cdp_iplimit *t, const unsigned char key[16])
{
	struct cdp_ip_count *e;
	long n = 0;

	pthread_mutex_lock(&t->lock);
	for (e = t->b[ip_bucket(key)]; e; e = e->next)
		if (memcmp(e->addr, key, 16) == 0) {
			n = e->n;
			break;
		}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void cdp_iplimit_free(struct cdp_iplimit *t)
{
	size_t i;

	for (i = 0; i < CDP_IP_BUCKETS; i++)
		while (t->b[i]) {
			struct cdp_ip_count *e = t->b[i];

			t->b[i] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&t->lock);
}
