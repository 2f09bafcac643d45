/*
 * cdp-server/config.c: defaults come from the settings table (the strings
 * --help shows), every value remembers where it was written, and an error
 * found after parsing is rewritten to name that place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdpd.h"

static void test_defaults(void **state)
{
	static struct cdp_config cfg; /* large: not on the stack */
	struct pkl_err err = { 0 };
	char *argv[] = { "pkilab-cdpd", "--publish", "/tmp", NULL };

	(void)state;
	assert_int_equal(cdp_config_parse(&cfg, 3, argv, &err), PKL_OK);
	assert_int_equal(cfg.max_age, 3600);
	assert_int_equal(cfg.health_margin, 86400);
	assert_int_equal(cfg.timeout, 10);
	assert_int_equal(cfg.mirror_interval, 60);
	assert_int_equal(cfg.mirror_timeout, 5);
	assert_int_equal(cfg.mirror_max_size, 64L << 20);
	assert_int_equal(cfg.max_crl_size, 64L << 20);
	assert_int_equal(cfg.threads, 0);
	assert_int_equal(cfg.connection_limit, 10000);
	assert_int_equal(cfg.per_ip_limit, 512);
	assert_int_equal(cfg.max_request_size, 8192);
	assert_int_equal(cfg.backlog, 4096);
	assert_int_equal(cfg.send_buffer, 128L * 1024);
	assert_int_equal(cfg.access_log, 1);
	assert_int_equal(cfg.log_level, PKL_LOG_INFO);
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(cfg.listen[0], "0.0.0.0:80");
	/* A default was written nowhere; a flag was. */
	assert_null(cdp_config_where(&cfg, "listen", 0));
	assert_string_equal(cdp_config_where(&cfg, "publish", 0), "--publish");
	cdp_config_free(&cfg);
}

static void test_where_and_locate(void **state)
{
	static struct cdp_config cfg;
	struct pkl_err err = { 0 };
	char path[] = "/tmp/pkl-unit-config.XXXXXX";
	char *argv[] = { "pkilab-cdpd", "--config", path, "--listen", "127.0.0.1:8080", NULL };
	char where[600];
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("publish = [ \"/tmp\" ];\n\nuser = \"someone\";\nlisten = [ \"127.0.0.1:1\" ];\n", f);
	fclose(f);
	assert_int_equal(cdp_config_parse(&cfg, 5, argv, &err), PKL_OK);
	snprintf(where, sizeof(where), "%s:3", path);
	assert_string_equal(cdp_config_where(&cfg, "user", 0), where);
	/* The flag's list replaced the file's. */
	assert_string_equal(cdp_config_where(&cfg, "listen", 0), "--listen");

	/* An error named by the setting ("user"): the place and the name. */
	pkl_err_set(&err, PKL_EINPUT, "user", "unknown user '%s'", cfg.user);
	cdp_config_locate(&cfg, &err);
	assert_string_equal(err.where, where);
	assert_string_equal(err.msg, "user: unknown user 'someone'");
	/* An error named by a value: the place, the setting and the value. */
	pkl_err_set(&err, PKL_ERUNTIME, "127.0.0.1:8080", "cannot bind: Address already in use");
	cdp_config_locate(&cfg, &err);
	assert_string_equal(err.where, "--listen");
	assert_string_equal(err.msg, "listen: '127.0.0.1:8080': cannot bind: Address already in use");
	/* Anything else is left alone. */
	pkl_err_set(&err, PKL_EINPUT, "/var/lib/x/crl-numbers:3", "bad line");
	cdp_config_locate(&cfg, &err);
	assert_string_equal(err.where, "/var/lib/x/crl-numbers:3");
	assert_string_equal(err.msg, "bad line");
	cdp_config_free(&cfg);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_where_and_locate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
