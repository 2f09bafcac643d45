/*
 * Unit tests of issuance (ca/lib/issue.c, ca/lib/renew.c): the one policy
 * every certificate passes (pkl_issue_check_policy: a required SAN,
 * max_validity with equal allowed, a child outliving its issuer refused
 * unless allowed, each refusal naming the field and the caller's fix), the
 * `pkilab issue` verb (pkl_issue) and the `pkilab renew` verb (pkl_renew: a
 * new key by default, the same key with reuse_key, the old certificate kept
 * as superseded history and, with revoke_old, revoked as superseded; the
 * renewed certificate keeps the subject and the SANs), on a PKI built in a
 * private directory from templates written there.
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
#include <unistd.h>

#include <openssl/x509v3.h>

#include "pkilab/build.h"
#include "pkilab/issue.h"
#include "pkilab/revoke.h"
#include "fixture.h"

#define DAY 86400

static char dir[] = "/tmp/pkl-test-issue-XXXXXX";
static char pki_dir[PATH_MAX];
static char tmpl_dir[PATH_MAX]; /* issue and renew load templates by name from here */

/* A client: no maximum, so only the issuer's lifetime bounds it. */
static const char client_tmpl[] =
	"role = \"end-entity\";\nkey = \"ec:P-256\";\nvalidity = \"1y\";\nbackdate = \"1h\";\n"
	"key_usage = [ \"digitalSignature\" ];\nextended_key_usage = [ \"clientAuth\" ];\n";

static const char lab_text[] =
	"lab = { name = \"unit\"; cdp = [ \"http://127.0.0.1:18081\" ]; };\n"
	"cas = ( { name = \"root\"; template = \"t-root\"; subject = \"CN=Unit Root\"; },\n"
	"        { name = \"ca\"; template = \"t-int\"; issuer = \"root\"; subject = \"CN=Unit CA\"; } );\n";

static const struct pkl_issue_words words = {
	.where = "unit.cfg:7",
	.validity_where = "--validity",
	.label = "certs.gw",
	.san_fix = "add a SAN",
	.outlive_fix = "shorten it",
};

/* One PKI (root, ca) for every test; each test issues its own names. */
static int setup(void **state)
{
	struct pkl_err err = { 0 };
	struct pkl_build_opts opts = { 0 };
	struct pkl_build_plan *plan = NULL;
	struct pkl_lab *lab = NULL;
	char p[PATH_MAX];
	int ok = 0;

	(void)state;
	if (fx_mkdtemp(dir) != 0 || fx_templates(dir, "ec:P-256") != 0)
		return -1;
	/* issue and renew load templates by name, without a lab file beside them. */
	snprintf(tmpl_dir, sizeof(tmpl_dir), "%s/templates", dir);
	fx_write_in(dir, "templates/t-client.cfg", client_tmpl, NULL, 0);
	fx_write_in(dir, "lab.cfg", lab_text, NULL, 0);
	snprintf(p, sizeof(p), "%s/lab.cfg", dir);
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", dir);
	opts.pki_dir = pki_dir;
	if ((lab = pkl_lab_load(p, pkl_time_now(), NULL, &err)) &&
	    (plan = pkl_build_plan_new(lab, &opts, &err)) && pkl_build_apply(plan, &err) == PKL_OK)
		ok = 1;
	else
		fprintf(stderr, "setup: %s: %s\n", err.where, err.msg);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
	return ok ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return fx_rmtree(dir);
}

/* --- the policy -------------------------------------------------------- */

/* A gateway under "ca", valid for `days` from t0. */
static void gw_entity(struct pkl_entity *e, int64_t days)
{
	struct pkl_err err = { 0 };

	memset(e, 0, sizeof(*e));
	assert_int_equal(pkl_template_load("t-gw", NULL, tmpl_dir, &e->prof, &err), PKL_OK);
	snprintf(e->name, sizeof(e->name), "gw");
	snprintf(e->issuer, sizeof(e->issuer), "ca");
	assert_int_equal(pkl_san_parse("gw.test", &e->sans[e->n_sans++], &err), PKL_OK);
	e->not_before = 1000000000;
	e->not_after = e->not_before + days * DAY;
}

static void expect_refused(const struct pkl_entity *e, pkl_time issuer_not_after, const char *where,
			   const char *frag1, const char *frag2)
{
	struct pkl_err err = { 0 };

	assert_int_equal(pkl_issue_check_policy(e, issuer_not_after, &words, &err), PKL_EINPUT);
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_string_equal(err.where, where);
	if (!strstr(err.msg, frag1) || !strstr(err.msg, frag2))
		fail_msg("'%s' lacks '%s' or '%s'", err.msg, frag1, frag2);
}

static void expect_allowed(const struct pkl_entity *e, pkl_time issuer_not_after)
{
	struct pkl_err err = { 0 };

	if (pkl_issue_check_policy(e, issuer_not_after, &words, &err) != PKL_OK)
		fail_msg("refused: %s: %s", err.where, err.msg);
}

static void test_policy_max_validity(void **state)
{
	struct pkl_entity e;
	pkl_time far = 2000000000;

	(void)state;
	gw_entity(&e, 825);
	expect_allowed(&e, far); /* equal to max_validity is allowed */
	e.not_after++;
	expect_refused(&e, far, "--validity", "max_validity 825d 0h", "validity of certs.gw is 825d 0h");
	gw_entity(&e, 900);
	expect_refused(&e, far, "--validity", "more than the template's max_validity", "900d");
	e.prof.max_validity = 0; /* no limit */
	expect_allowed(&e, far);
}

static void test_policy_outlive_issuer(void **state)
{
	struct pkl_entity e;

	(void)state;
	gw_entity(&e, 30);
	expect_allowed(&e, e.not_after); /* ending with the issuer is allowed */
	expect_refused(&e, e.not_after - 1, "unit.cfg:7", "gw would outlive its issuer 'ca' (notAfter ",
		       "): shorten it");
	e.prof.outlive_issuer = 1;
	expect_allowed(&e, e.not_after - 1);
	/* A root has no issuer to outlive. */
	e.prof.outlive_issuer = 0;
	e.issuer[0] = '\0';
	expect_allowed(&e, e.not_after - DAY);
}

static void test_policy_san_required(void **state)
{
	struct pkl_entity e;

	(void)state;
	gw_entity(&e, 30);
	e.n_sans = 0;
	expect_refused(&e, e.not_after, "unit.cfg:7",
		       "certs.gw has no 'san' but template 't-gw' requires one", ": add a SAN");
	/* Checked first: a SAN-less gateway that is also too long names the SAN. */
	e.not_after += 900 * DAY;
	expect_refused(&e, e.not_after, "unit.cfg:7", "no 'san'", "add a SAN");
	e.prof.san_required = 0;
	expect_refused(&e, e.not_after, "--validity", "max_validity", "certs.gw");
	/* Only end-entities match an IKE identity against their SAN. */
	gw_entity(&e, 30);
	e.n_sans = 0;
	e.prof.role = PKL_ROLE_INTERMEDIATE;
	expect_allowed(&e, e.not_after);
}

/* --- the issue verb ---------------------------------------------------- */

static void row_of(const char *ref, struct pkl_cert_row *row)
{
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = pkl_pki_open(pki_dir, 0, &err);

	assert_non_null(pki);
	if (pkl_db_cert_find(pki->db, ref, row, &err) != PKL_OK)
		fail_msg("find %s: %s", ref, err.msg);
	pkl_pki_close(pki);
}

static int exists(const char *ref)
{
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = pkl_pki_open(pki_dir, 0, &err);
	struct pkl_cert_row row;
	int found;

	assert_non_null(pki);
	found = pkl_db_cert_find(pki->db, ref, &row, NULL) == PKL_OK;
	pkl_pki_close(pki);
	return found;
}

static void issue_ok(struct pkl_issue_opts *o, struct pkl_issue_result *r)
{
	struct pkl_err err = { 0 };

	if (pkl_issue(pki_dir, o, r, &err) != PKL_OK)
		fail_msg("issue %s: %s: %s", o->name, err.where, err.msg);
}

static void issue_gw(const char *name, const char *const *sans, size_t n_sans, struct pkl_issue_result *r)
{
	char subject[128];
	struct pkl_issue_opts o = { .templates_dir = tmpl_dir,
				    .ca = "ca",
				    .template_name = "t-gw",
				    .name = name,
				    .subject = subject,
				    .sans = sans,
				    .n_sans = n_sans };

	snprintf(subject, sizeof(subject), "CN=%s.test", name);
	issue_ok(&o, r);
}

static void test_issue_verb(void **state)
{
	static const char *const sans[] = { "gw1.test", "IP:192.0.2.1" };
	struct pkl_issue_result r;
	struct pkl_cert_row row, ca;

	(void)state;
	issue_gw("gw1", sans, 2, &r);
	assert_string_equal(r.name, "gw1");
	assert_string_equal(r.issuer, "ca");
	assert_string_equal(r.subject, "CN=gw1.test");
	row_of("gw1", &row);
	row_of("ca", &ca);
	assert_string_equal(r.serial, row.serial);
	assert_int_equal(r.not_after, row.not_after);
	assert_int_equal(row.issuer_id, ca.id);
	assert_true(row.current);
	assert_string_equal(row.template_name, "t-gw");
	/* The template's validity from the back-dated notBefore. */
	assert_int_equal(row.not_before, row.issued_at - 3600);
	assert_int_equal(row.not_after - row.not_before, 397 * DAY);
}

static void test_issue_verb_policy(void **state)
{
	static const char *const san[] = { "x.test" };
	struct pkl_issue_opts o = { .templates_dir = tmpl_dir,
				    .ca = "ca",
				    .template_name = "t-gw",
				    .name = "toolong",
				    .subject = "CN=x",
				    .sans = san,
				    .n_sans = 1,
				    .validity = "826d" };
	struct pkl_issue_result r;
	struct pkl_err err = { 0 };

	(void)state;
	assert_int_equal(pkl_issue(pki_dir, &o, &r, &err), PKL_EINPUT);
	assert_string_equal(err.where, "--validity");
	assert_non_null(strstr(err.msg, "max_validity"));
	assert_false(exists("toolong"));

	/* Exactly max_validity is issued. */
	o.name = "justright";
	o.validity = "825d";
	issue_ok(&o, &r);
	assert_true(exists("justright"));

	/* Without a SAN: the command's fix. */
	memset(&err, 0, sizeof(err));
	o.name = "nosan";
	o.validity = NULL;
	o.n_sans = 0;
	assert_int_equal(pkl_issue(pki_dir, &o, &r, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "requires one"));
	assert_non_null(strstr(err.msg, "add --san"));
	assert_false(exists("nosan"));

	/* Beyond the CA's 5 years: refused, then issued with outlive_issuer. */
	struct pkl_issue_opts c = { .templates_dir = tmpl_dir,
				    .ca = "ca",
				    .template_name = "t-client",
				    .name = "late",
				    .subject = "CN=late",
				    .validity = "6y" };
	memset(&err, 0, sizeof(err));
	assert_int_equal(pkl_issue(pki_dir, &c, &r, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "late would outlive its issuer 'ca'"));
	assert_non_null(strstr(err.msg, "--outlive-issuer"));
	assert_false(exists("late"));
	c.outlive_issuer = 1;
	issue_ok(&c, &r);
	struct pkl_cert_row row, ca;
	row_of("late", &row);
	row_of("ca", &ca);
	assert_true(row.not_after > ca.not_after);
}

/* --- the renew verb ---------------------------------------------------- */

static X509 *cert_of_row(int64_t id)
{
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = pkl_pki_open(pki_dir, 0, &err);
	struct pkl_buf der = PKL_BUF_INIT;
	X509 *x;

	assert_non_null(pki);
	assert_int_equal(pkl_db_cert_der(pki->db, id, &der, &err), PKL_OK);
	x = pkl_cert_from_der(der.data, der.len, "unit", &err);
	assert_non_null(x);
	pkl_buf_free(&der);
	pkl_pki_close(pki);
	return x;
}

/* Whether two certificates carry the same public key. */
static int same_key(X509 *a, X509 *b)
{
	return EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

/* The SAN extension, DER, for comparing two certificates' SANs entry by entry. */
static void san_der(X509 *x, struct pkl_buf *out)
{
	int i = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
	const ASN1_OCTET_STRING *v;

	assert_true(i >= 0);
	v = X509_EXTENSION_get_data(X509_get_ext(x, i));
	*out = (struct pkl_buf)PKL_BUF_INIT;
	assert_int_equal(pkl_buf_append(out, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v)),
			 PKL_OK);
}

static void renew_ok(const struct pkl_renew_opts *o, struct pkl_renew_result *r)
{
	struct pkl_err err = { 0 };

	if (pkl_renew(pki_dir, o, r, &err) != PKL_OK)
		fail_msg("renew %s: %s: %s", o->ref, err.where, err.msg);
}

static void test_renew_new_key_keeps_subject_and_sans(void **state)
{
	static const char *const sans[] = { "rn1.test", "IP:192.0.2.7", "2001:db8::7", "email:ops@rn1.test" };
	struct pkl_renew_opts o = { .templates_dir = tmpl_dir, .ref = "rn1" };
	struct pkl_issue_result ir;
	struct pkl_renew_result r;
	struct pkl_cert_row before, now, old;
	struct pkl_buf s1, s2;
	char ref[48];
	X509 *x1, *x2;

	(void)state;
	issue_gw("rn1", sans, 4, &ir);
	row_of("rn1", &before);
	renew_ok(&o, &r);
	assert_string_equal(r.name, "rn1");
	assert_string_equal(r.issuer, "ca");
	assert_string_equal(r.old_serial, ir.serial);
	assert_string_not_equal(r.serial, ir.serial);
	assert_true(r.new_key);
	assert_false(r.old_revoked);

	row_of("rn1", &now);
	assert_string_equal(now.serial, r.serial);
	assert_true(now.current);
	assert_string_equal(now.subject, before.subject);
	assert_string_equal(now.template_name, "t-gw");
	assert_int_equal(now.issuer_id, before.issuer_id);
	/* The old row stays, as superseded history, not revoked. */
	snprintf(ref, sizeof(ref), "0x%s", before.serial);
	row_of(ref, &old);
	assert_int_equal(old.id, before.id);
	assert_false(old.current);
	assert_int_equal(old.status, PKL_STATUS_VALID);

	x1 = cert_of_row(before.id);
	x2 = cert_of_row(now.id);
	assert_false(same_key(x1, x2));
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x1), X509_get_subject_name(x2)), 0);
	/* The same SANs in the same order: the IP ones once as iPAddress and once
	 * as dNSName (ip_as_dns), not doubled by reading them back. */
	san_der(x1, &s1);
	san_der(x2, &s2);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	pkl_buf_free(&s1);
	pkl_buf_free(&s2);
	X509_free(x1);
	X509_free(x2);
}

static void test_renew_reuse_key(void **state)
{
	static const char *const sans[] = { "rn2.test" };
	struct pkl_renew_opts o = { .templates_dir = tmpl_dir, .ref = "rn2", .reuse_key = 1 };
	struct pkl_issue_result ir;
	struct pkl_renew_result r;
	struct pkl_cert_row before, now;
	X509 *x1, *x2;

	(void)state;
	issue_gw("rn2", sans, 1, &ir);
	row_of("rn2", &before);
	renew_ok(&o, &r);
	assert_false(r.new_key);
	row_of("rn2", &now);
	assert_int_not_equal(now.id, before.id);
	x1 = cert_of_row(before.id);
	x2 = cert_of_row(now.id);
	assert_true(same_key(x1, x2));
	X509_free(x1);
	X509_free(x2);
}

static void test_renew_revoke_old(void **state)
{
	static const char *const sans[] = { "rn3.test" };
	struct pkl_renew_opts o = { .templates_dir = tmpl_dir, .ref = "rn3", .revoke_old = 1 };
	struct pkl_issue_result ir;
	struct pkl_renew_result r;
	struct pkl_cert_row before, now, old;
	char ref[48];

	(void)state;
	issue_gw("rn3", sans, 1, &ir);
	row_of("rn3", &before);
	renew_ok(&o, &r);
	assert_true(r.old_revoked);
	row_of("rn3", &now);
	assert_int_equal(now.status, PKL_STATUS_VALID);
	snprintf(ref, sizeof(ref), "0x%s", before.serial);
	row_of(ref, &old);
	assert_int_equal(old.id, before.id);
	assert_false(old.current);
	assert_int_equal(old.status, PKL_STATUS_REVOKED);
	assert_int_equal(old.reason, PKL_REASON_SUPERSEDED);

	/* The superseded serial is refused as a renew target. */
	struct pkl_err err = { 0 };
	struct pkl_renew_opts again = { .templates_dir = tmpl_dir, .ref = ref };
	assert_int_equal(pkl_renew(pki_dir, &again, &r, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "superseded"));
}

/* A renewal is held to the same policy as an issue, with the same times:
 * validity counts from the back-dated notBefore, so a --validity equal to
 * max_validity is allowed and one day more is refused. */
static void test_renew_policy(void **state)
{
	static const char *const sans[] = { "rn4.test" };
	struct pkl_renew_opts o = { .templates_dir = tmpl_dir, .ref = "rn4", .validity = "826d" };
	struct pkl_issue_result ir;
	struct pkl_renew_result r;
	struct pkl_cert_row before, now;
	struct pkl_err err = { 0 };

	(void)state;
	issue_gw("rn4", sans, 1, &ir);
	row_of("rn4", &before);
	assert_int_equal(pkl_renew(pki_dir, &o, &r, &err), PKL_EINPUT);
	assert_string_equal(err.where, "--validity");
	assert_non_null(strstr(err.msg, "max_validity"));
	row_of("rn4", &now);
	assert_int_equal(now.id, before.id); /* nothing changed */

	o.validity = "825d";
	renew_ok(&o, &r);
	row_of("rn4", &now);
	assert_int_not_equal(now.id, before.id);
	assert_int_equal(now.not_after - now.not_before, 825 * DAY);
	assert_int_equal(now.not_before, now.issued_at - 3600);

	/* Beyond the issuer: the renew command's fix. */
	struct pkl_issue_opts c = { .templates_dir = tmpl_dir,
				    .ca = "ca",
				    .template_name = "t-client",
				    .name = "rn5",
				    .subject = "CN=rn5" };
	struct pkl_renew_opts o5 = { .templates_dir = tmpl_dir, .ref = "rn5", .validity = "6y" };
	issue_ok(&c, &ir);
	memset(&err, 0, sizeof(err));
	assert_int_equal(pkl_renew(pki_dir, &o5, &r, &err), PKL_EINPUT);
	assert_non_null(strstr(err.msg, "rn5 would outlive its issuer 'ca'"));
	assert_non_null(strstr(err.msg, "shorter --validity"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_max_validity),
		cmocka_unit_test(test_policy_outlive_issuer),
		cmocka_unit_test(test_policy_san_required),
		cmocka_unit_test(test_issue_verb),
		cmocka_unit_test(test_issue_verb_policy),
		cmocka_unit_test(test_renew_new_key_keeps_subject_and_sans),
		cmocka_unit_test(test_renew_reuse_key),
		cmocka_unit_test(test_renew_revoke_old),
		cmocka_unit_test(test_renew_policy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
