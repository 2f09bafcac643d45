/*
 * Unit tests of pkl_doctor_run (ca/lib/doctor.c) on paths built in-process
 * (fixture.h, fx_chain_new): a good root -> CA -> gateway path, then one defect at
 * a time, each asserted by its stable finding code. Offline first
 * (no_fetch), then with the CDPs served by a server thread on 127.0.0.1
 * whose CRLs are signed by the product's own signer: a valid CRL, a revoked
 * leaf, an expired CRL, a CRL signed by another key, a missing CRL, a closed
 * port, a dead second mirror, a slow server against the budgets, and the
 * skew against the Date header measured on an injected clock. The fixtures'
 * CDP host (127.0.0.1:8081) is mapped to the test port with the fetch
 * resolve list, as `--resolve` does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "pkilab/crl.h"
#include "pkilab/doctor.h"
#include "fixture.h"

struct world {
	struct fx_chain c;
	STACK_OF(X509) * pool, *anchors;
	pkl_time now;
};
static struct world W;

static int setup(void **state)
{
	(void)state;
	W.now = (pkl_time)time(NULL);
	if (fx_chain_new(&W.c, "Doctor") != 0)
		return -1;
	W.pool = sk_X509_new_null();
	W.anchors = sk_X509_new_null();
	if (!W.pool || !W.anchors)
		return -1;
	X509_up_ref(W.c.ca);
	X509_up_ref(W.c.root);
	sk_X509_push(W.pool, W.c.ca);
	sk_X509_push(W.anchors, W.c.root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sk_X509_pop_free(W.pool, X509_free);
	sk_X509_pop_free(W.anchors, X509_free);
	fx_chain_free(&W.c);
	return 0;
}

/* The options of an offline run on leaf, judged now. */
static struct pkl_doctor_opts offline(X509 *leaf)
{
	struct pkl_doctor_opts o = { .leaf = leaf,
				     .pool = W.pool,
				     .anchors = W.anchors,
				     .platforms = PKL_PLAT_ALL,
				     .at = W.now,
				     .no_fetch = 1 };
	return o;
}

static const struct pkl_finding *has(const struct pkl_report *r, const char *code, enum pkl_sev sev)
{
	const struct pkl_finding *f = pkl_report_find(r, code, sev);
	if (!f || f->sev != sev)
		fail_msg("expected %s at severity %s", code, pkl_sev_name(sev));
	return f;
}

static void good_chain_offline_passes(void **state)
{
	(void)state;
	struct pkl_doctor_opts o = offline(W.c.leaf);
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_err e = { 0 };

	assert_int_equal(pkl_doctor_run(&o, &r, &e), PKL_OK);
	for (size_t i = 0; i < r.n; i++)
		if (r.v[i].sev == PKL_SEV_FAIL)
			fail_msg("unexpected failure %s: %s", r.v[i].code, r.v[i].msg);
	has(&r, "crl.skipped", PKL_SEV_INFO);
	has(&r, "lint", PKL_SEV_OK);    /* one summary line per certificate */
	has(&r, "lint.X2", PKL_SEV_OK); /* the leaf's platform lines are kept */
	assert_null(pkl_report_find(&r, "time.clock_skew", PKL_SEV_OK)); /* nothing fetched */
	assert_null(pkl_report_find(&r, "crl.budget", PKL_SEV_OK));
	pkl_report_free(&r);
}

static void expired_leaf(void **state)
{
	(void)state;
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, W.c.ca, W.c.ck, -30 * FX_DAY, -FX_DAY, FX_GATEWAY, 0);
	struct pkl_doctor_opts o = offline(leaf);
	struct pkl_report r = PKL_REPORT_INIT;

	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	has(&r, "time.expired", PKL_SEV_FAIL);
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_FAIL);
	pkl_report_free(&r);
	X509_free(leaf);
}

/* The same good leaf judged after its notAfter: o->at is the moment, not the clock. */
static void good_leaf_judged_later_is_expired(void **state)
{
	(void)state;
	struct pkl_doctor_opts o = offline(W.c.leaf);
	struct pkl_report r = PKL_REPORT_INIT;

	o.at = W.now + 400 * FX_DAY;
	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	has(&r, "time.expired", PKL_SEV_FAIL);
	pkl_report_free(&r);
}

static void leaf_not_yet_valid(void **state)
{
	(void)state;
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, W.c.ca, W.c.ck, 2 * FX_DAY, 90 * FX_DAY, FX_GATEWAY, 0);
	struct pkl_doctor_opts o = offline(leaf);
	struct pkl_report r = PKL_REPORT_INIT;

	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	has(&r, "time.not_yet_valid", PKL_SEV_FAIL);
	assert_null(pkl_report_find(&r, "time.expired", PKL_SEV_OK));
	pkl_report_free(&r);
	X509_free(leaf);
}

static void gateway_without_eku(void **state)
{
	(void)state;
	static const struct fx_ext no_eku[] = {
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_subject_alt_name, "DNS:vpn.unit.test" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ 0, NULL },
	};
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, W.c.ca, W.c.ck, -3600, 90 * FX_DAY, no_eku, 0);
	struct pkl_doctor_opts o = offline(leaf);
	struct pkl_report r = PKL_REPORT_INIT;

	o.leaf_role = PKL_ROLE_GATEWAY;
	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	has(&r, "eku.missing_server_auth", PKL_SEV_FAIL);
	/* strongSwan alone does not need serverAuth: no such failure */
	pkl_report_free(&r);
	r = (struct pkl_report)PKL_REPORT_INIT;
	o.platforms = PKL_PLAT_STRONGSWAN;
	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	assert_null(pkl_report_find(&r, "eku.missing_server_auth", PKL_SEV_OK));
	pkl_report_free(&r);
	X509_free(leaf);
}

static void identity_not_in_san(void **state)
{
	(void)state;
	struct pkl_doctor_opts o = offline(W.c.leaf);
	struct pkl_report r = PKL_REPORT_INIT;

	o.id = "other.unit.test";
	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	assert_int_equal(pkl_report_worst(&r), PKL_SEV_FAIL);
	assert_null(pkl_report_find(&r, "lint.X3", PKL_SEV_OK));
	pkl_report_free(&r);
	o.id = "vpn.unit.test";
	r = (struct pkl_report)PKL_REPORT_INIT;
	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	has(&r, "lint.X3", PKL_SEV_OK);
	pkl_report_free(&r);
}

static void missing_issuer_and_untrusted_root(void **state)
{
	(void)state;
	struct pkl_doctor_opts o = offline(W.c.leaf);
	struct pkl_report r = PKL_REPORT_INIT;

	o.pool = NULL;
	o.anchors = NULL;
	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	has(&r, "chain.issuer_missing", PKL_SEV_FAIL);
	pkl_report_free(&r);

	r = (struct pkl_report)PKL_REPORT_INIT;
	o = offline(W.c.leaf);
	o.anchors = NULL;
	STACK_OF(X509) *pool = sk_X509_new_null();
	sk_X509_push(pool, W.c.ca);
	sk_X509_push(pool, W.c.root);
	o.pool = pool;
	assert_int_equal(pkl_doctor_run(&o, &r, NULL), PKL_OK);
	has(&r, "chain.root_untrusted", PKL_SEV_FAIL);
	sk_X509_free(pool); /* borrowed references */
	pkl_report_free(&r);
}

static void bad_options_refused(void **state)
{
	(void)state;
	struct pkl_doctor_opts o = offline(NULL);
	struct pkl_report r = PKL_REPORT_INIT;
	struct pkl_err e = { 0 };

	assert_int_not_equal(pkl_doctor_run(&o, &r, &e), PKL_OK);
	assert_true(e.msg[0] != '\0');
	o = offline(W.c.leaf);
	o.no_fetch = 0; /* fetching without fetch settings */
	assert_int_not_equal(pkl_doctor_run(&o, &r, &e), PKL_OK);
	assert_int_equal(r.n, 0);
	pkl_report_free(&r);
}

static void write_pem(const char *dir, const char *name, X509 *a, X509 *b)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, a), 1);
	if (b)
		assert_int_equal(PEM_write_X509(f, b), 1);
	assert_int_equal(fclose(f), 0);
}

/* The lab's anchors are its self-signed certificates, each once. */
static void lab_anchors_are_the_roots(void **state)
{
	(void)state;
	char pki[64], certs[96];
	STACK_OF(X509) *a = sk_X509_new_null();
	struct pkl_err e = { 0 };

	snprintf(pki, sizeof(pki), "/tmp/pkl-doctor-XXXXXX");
	assert_non_null(mkdtemp(pki));
	snprintf(certs, sizeof(certs), "%s/certs", pki);
	assert_int_equal(mkdir(certs, 0700), 0);
	assert_int_equal(pkl_doctor_lab_anchors(pki, a, &e), PKL_EINPUT); /* no certificate */
	write_pem(certs, "root.pem", W.c.root, NULL);
	write_pem(certs, "ca-chain.pem", W.c.ca, W.c.root);
	write_pem(certs, "gw.pem", W.c.leaf, NULL);
	assert_int_equal(pkl_doctor_lab_anchors(pki, a, &e), PKL_OK);
	assert_int_equal(sk_X509_num(a), 1);
	assert_int_equal(X509_cmp(sk_X509_value(a, 0), W.c.root), 0);
	sk_X509_pop_free(a, X509_free);
	assert_int_equal(fx_rmtree(pki), 0);
}

/* ------------------------------------------------------------ served CDPs */

struct server {
	int fd, port;
	pthread_t th;
	struct pkl_buf root_crl, ca_crl; /* served at /crl/root.crl and /crl/ca.crl */
	pkl_time date;                   /* the Date header */
	useconds_t delay_us;             /* before each answer */
	size_t served;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		char req[2048] = "", hdr[256], date[64];
		time_t t = (time_t)s->date;
		struct tm tm;
		ssize_t n = read(c, req, sizeof(req) - 1);
		if (s->delay_us)
			usleep(s->delay_us);
		const struct pkl_buf *b = n > 0 && strstr(req, "GET /crl/root.crl ") ? &s->root_crl :
					  n > 0 && strstr(req, "GET /crl/ca.crl ")   ? &s->ca_crl :
										       NULL;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (b && b->data) {
			int l = snprintf(hdr, sizeof(hdr),
					 "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n"
					 "Date: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
					 date, b->len);
			(void)!send(c, hdr, (size_t)l, MSG_NOSIGNAL);
			(void)!send(c, b->data, b->len, MSG_NOSIGNAL);
		} else {
			int l = snprintf(hdr, sizeof(hdr),
					 "HTTP/1.1 404 Not Found\r\nDate: %s\r\nContent-Length: 0\r\n"
					 "Connection: close\r\n\r\n",
					 date);
			(void)!send(c, hdr, (size_t)l, MSG_NOSIGNAL);
		}
		s->served++;
		close(c);
	}
	return NULL;
}

static void start(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);

	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &l), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR); /* ends the blocking accept */
	pthread_join(s->th, NULL);
	close(s->fd);
	pkl_buf_free(&s->root_crl);
	pkl_buf_free(&s->ca_crl);
}

/* A CRL of (ca, key) valid from now+tu to now+nu, listing serial when given. */
static void sign_crl(struct pkl_buf *out, X509 *ca, EVP_PKEY *key, long tu, long nu,
		     const ASN1_INTEGER *serial)
{
	struct pkl_crl_entry ent = { .revoked_at = W.now - 60, .reason = PKL_REASON_KEY_COMPROMISE };
	struct pkl_crl_req req = {
		.this_update = W.now + tu, .next_update = W.now + nu, .number = { 1 }, .number_len = 1
	};

	if (serial) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
		ent.serial_len = (size_t)BN_bn2bin(bn, ent.serial);
		BN_free(bn);
		req.entries = &ent;
		req.n_entries = 1;
	}
	assert_int_equal(pkl_crl_sign(&req, ca, key, out, NULL), PKL_OK);
}

static pkl_time clock_value;
static pkl_time fake_clock(void)
{
	return clock_value;
}

/* A run on leaf with fetching: the fixtures' CDP host (127.0.0.1:8081) is
 * mapped to the server, 127.0.0.1:8082 (a second mirror) to closed_port. */
/* The --platform selection of run_on (0: all). */
static unsigned run_platforms;

static void run_on(X509 *leaf, struct server *s, int closed_port, pkl_time at, long budget_ms,
		   struct pkl_report *r)
{
	struct pkl_fetch_opts fo;
	char map[64], map2[64];
	struct pkl_doctor_opts o = offline(leaf);

	pkl_fetch_opts_init(&fo, NULL, 0);
	fo.timeout_ms = 10000;
	snprintf(map, sizeof(map), "127.0.0.1:8081:127.0.0.1:%d", s->port);
	assert_int_equal(pkl_fetch_opts_resolve(&fo, map, NULL), PKL_OK);
	if (closed_port) {
		snprintf(map2, sizeof(map2), "127.0.0.1:8082:127.0.0.1:%d", closed_port);
		assert_int_equal(pkl_fetch_opts_resolve(&fo, map2, NULL), PKL_OK);
	}
	o.no_fetch = 0;
	o.fetch = &fo;
	o.at = at;
	o.clock = fake_clock;
	o.windows_budget_ms = o.strongswan_budget_ms = budget_ms;
	o.platforms = run_platforms;
	assert_int_equal(pkl_doctor_run(&o, r, NULL), PKL_OK);
}

static void run_served(struct server *s, pkl_time at, struct pkl_report *r)
{
	run_on(W.c.leaf, s, 0, at, 0, r);
}

static void served_crls_valid(void **state)
{
	(void)state;
	struct server s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
	sign_crl(&s.ca_crl, W.c.ca, W.c.ck, -3600, 7 * FX_DAY, NULL);
	start(&s);
	clock_value = W.now + 10; /* within the 300 s tolerance */
	run_served(&s, W.now, &r);
	stop(&s);
	for (size_t i = 0; i < r.n; i++)
		if (r.v[i].sev == PKL_SEV_FAIL)
			fail_msg("unexpected failure %s: %s", r.v[i].code, r.v[i].msg);
	assert_int_equal(s.served, 2); /* the leaf's CDP and the CA's; the root has none */
	has(&r, "crl.valid", PKL_SEV_OK);
	has(&r, "cert.status", PKL_SEV_OK);
	has(&r, "time.clock_skew", PKL_SEV_OK);
	has(&r, "crl.budget", PKL_SEV_OK);
	assert_null(pkl_report_find(&r, "crl.skipped", PKL_SEV_OK));
	pkl_report_free(&r);
}

static void served_date_far_from_clock_is_skew(void **state)
{
	(void)state;
	struct server s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
	sign_crl(&s.ca_crl, W.c.ca, W.c.ck, -3600, 7 * FX_DAY, NULL);
	start(&s);
	clock_value = W.now + PKL_DOCTOR_SKEW_WARN + 600; /* this machine is 15 min ahead */
	run_served(&s, W.now, &r);
	stop(&s);
	has(&r, "time.clock_skew", PKL_SEV_WARN);
	pkl_report_free(&r);
}

static void served_crl_lists_the_leaf(void **state)
{
	(void)state;
	struct server s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
	sign_crl(&s.ca_crl, W.c.ca, W.c.ck, -3600, 7 * FX_DAY, X509_get0_serialNumber(W.c.leaf));
	start(&s);
	clock_value = W.now;
	run_served(&s, W.now, &r);
	stop(&s);
	const struct pkl_finding *f = has(&r, "cert.revoked", PKL_SEV_FAIL);
	assert_non_null(strstr(f->msg, "keyCompromise"));
	assert_non_null(strstr(f->subject, "vpn.unit.test"));
	pkl_report_free(&r);
}

static void served_crl_expired(void **state)
{
	(void)state;
	struct server s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
	sign_crl(&s.ca_crl, W.c.ca, W.c.ck, -3600, 7 * FX_DAY, NULL);
	start(&s);
	clock_value = W.now;
	run_served(&s, W.now + 8 * FX_DAY, &r); /* judged after both nextUpdates */
	stop(&s);
	has(&r, "crl.expired", PKL_SEV_FAIL);
	assert_null(pkl_report_find(&r, "crl.valid", PKL_SEV_OK));
	pkl_report_free(&r);
}

static void served_crl_signed_by_another_key(void **state)
{
	(void)state;
	struct server s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	/* the CA rebuilt under the same name with another key signs the CRL */
	X509 *twin = fx_cert("Doctor CA", W.c.other, W.c.root, W.c.rk, -FX_DAY, 1800 * FX_DAY, FX_SUBCA, 0);

	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
	sign_crl(&s.ca_crl, twin, W.c.other, -3600, 7 * FX_DAY, NULL);
	X509_free(twin);
	start(&s);
	clock_value = W.now;
	run_served(&s, W.now, &r);
	stop(&s);
	has(&r, "crl.bad_signature", PKL_SEV_FAIL);
	pkl_report_free(&r);
}

static void served_crl_missing(void **state)
{
	(void)state;
	struct server s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL); /* no ca.crl: 404 */
	start(&s);
	clock_value = W.now;
	run_served(&s, W.now, &r);
	stop(&s);
	has(&r, "crl.http_status", PKL_SEV_FAIL);
	has(&r, "crl.valid", PKL_SEV_OK); /* the CA's own CDP still works */
	pkl_report_free(&r);
}

/* A closed port refuses at once: crl.unreachable for both CDPs. */
static void unreachable_cdp(void **state)
{
	(void)state;
	struct server s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	start(&s);
	stop(&s); /* the port is free again: nothing listens there */
	clock_value = W.now;
	run_served(&s, W.now, &r);
	const struct pkl_finding *f = has(&r, "crl.unreachable", PKL_SEV_FAIL);
	assert_non_null(strstr(f->subject, "/crl/"));
	assert_null(pkl_report_find(&r, "cert.status", PKL_SEV_OK));
	assert_null(pkl_report_find(&r, "time.clock_skew", PKL_SEV_OK)); /* no Date seen */
	has(&r, "crl.budget", PKL_SEV_OK);                               /* URIs were tried */
	pkl_report_free(&r);
}

/* A leaf with two CDP URIs, the second on a dead mirror: the good first one
 * answers, so the mirror's failure is a warning and redundancy is lost. */
static void dead_mirror_loses_redundancy(void **state)
{
	(void)state;
	static const struct fx_ext two_cdps[] = {
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "serverAuth,1.3.6.1.5.5.8.2.2,1.3.6.1.5.5.7.3.17" },
		{ NID_subject_alt_name, "DNS:vpn.unit.test" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ NID_crl_distribution_points,
		  "URI:http://127.0.0.1:8081/crl/ca.crl,URI:http://127.0.0.1:8082/crl/ca.crl" },
		{ 0, NULL },
	};
	X509 *leaf = fx_cert("vpn.unit.test", W.c.lk, W.c.ca, W.c.ck, -3600, 90 * FX_DAY, two_cdps, 0);
	struct server dead = { .date = W.now }, s = { .date = W.now };
	struct pkl_report r = PKL_REPORT_INIT;

	start(&dead);
	stop(&dead); /* nothing listens on its port any more */
	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
	sign_crl(&s.ca_crl, W.c.ca, W.c.ck, -3600, 7 * FX_DAY, NULL);
	start(&s);
	clock_value = W.now;
	run_on(leaf, &s, dead.port, W.now, 0, &r);
	stop(&s);
	has(&r, "crl.unreachable", PKL_SEV_WARN);
	has(&r, "crl.redundancy_lost", PKL_SEV_WARN);
	has(&r, "cert.status", PKL_SEV_OK);
	assert_int_not_equal(pkl_report_worst(&r), PKL_SEV_FAIL);
	pkl_report_free(&r);
	X509_free(leaf);
}

/* A server that answers after 50 ms exceeds budgets of 1 ms: the delay is a
 * lower bound of the elapsed time, however busy the machine is. */
static void slow_cdp_exceeds_budgets(void **state)
{
	(void)state;
	struct server s = { .date = W.now, .delay_us = 50000 };
	struct pkl_report r = PKL_REPORT_INIT;

	sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
	sign_crl(&s.ca_crl, W.c.ca, W.c.ck, -3600, 7 * FX_DAY, NULL);
	start(&s);
	clock_value = W.now;
	run_on(W.c.leaf, &s, 0, W.now, 1, &r);
	stop(&s);
	has(&r, "crl.budget_strongswan", PKL_SEV_WARN);
	has(&r, "crl.budget_windows", PKL_SEV_WARN);
	assert_null(pkl_report_find(&r, "crl.budget", PKL_SEV_OK));
	pkl_report_free(&r);
}

/* --platform keeps each client's findings to that client: the same slow
 * server judged for Windows alone says nothing of strongSwan's budget or of
 * Apple's 825 days, and for strongSwan alone nothing of Windows' budget. */
static void platform_selects_its_findings(void **state)
{
	static const struct {
		unsigned platforms;
		const char *present, *absent[2];
	} cases[] = {
		{ PKL_PLAT_WINDOWS, "crl.budget_windows", { "crl.budget_strongswan", "lint.X6" } },
		{ PKL_PLAT_STRONGSWAN, "crl.budget_strongswan", { "crl.budget_windows", "lint.X6" } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct server s = { .date = W.now, .delay_us = 50000 };
		struct pkl_report r = PKL_REPORT_INIT;

		sign_crl(&s.root_crl, W.c.root, W.c.rk, -3600, 7 * FX_DAY, NULL);
		sign_crl(&s.ca_crl, W.c.ca, W.c.ck, -3600, 7 * FX_DAY, NULL);
		start(&s);
		clock_value = W.now;
		run_platforms = cases[i].platforms;
		run_on(W.c.leaf, &s, 0, W.now, 1, &r);
		run_platforms = 0;
		stop(&s);
		has(&r, cases[i].present, PKL_SEV_WARN);
		for (size_t j = 0; j < 2; j++)
			for (size_t k = 0; k < r.n; k++)
				assert_string_not_equal(r.v[k].code, cases[i].absent[j]);
		pkl_report_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_chain_offline_passes),
		cmocka_unit_test(platform_selects_its_findings),
		cmocka_unit_test(expired_leaf),
		cmocka_unit_test(good_leaf_judged_later_is_expired),
		cmocka_unit_test(leaf_not_yet_valid),
		cmocka_unit_test(gateway_without_eku),
		cmocka_unit_test(identity_not_in_san),
		cmocka_unit_test(missing_issuer_and_untrusted_root),
		cmocka_unit_test(bad_options_refused),
		cmocka_unit_test(lab_anchors_are_the_roots),
		cmocka_unit_test(served_crls_valid),
		cmocka_unit_test(served_date_far_from_clock_is_skew),
		cmocka_unit_test(served_crl_lists_the_leaf),
		cmocka_unit_test(served_crl_expired),
		cmocka_unit_test(served_crl_signed_by_another_key),
		cmocka_unit_test(served_crl_missing),
		cmocka_unit_test(unreachable_cdp),
		cmocka_unit_test(dead_mirror_loses_redundancy),
		cmocka_unit_test(slow_cdp_exceeds_budgets),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
