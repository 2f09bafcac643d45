/*
 * Unit tests of building a lab's PKI (ca/lib/build.c) and of the key
 * generation pool it uses (ca/lib/keygen.c), on small labs with their own
 * templates written to a private directory: a plan alone writes nothing; a
 * fresh PKI appears by one rename and leaves no staging directory, also when
 * that rename fails; a re-plan keeps everything; a lab that grows plans
 * exactly what it added; a changed entry is kept and noted; the comparison
 * names each field that shapes a certificate; a removed entry is an orphan; a directory that
 * is not ours, or files without records, are refused; a PKI records the lab
 * that built it and refuses a lab of another name, accepts the same lab from
 * another path and adopts a PKI without the record; dead builds' staging
 * directories are swept, links named like them are not followed; the pool
 * gives every job its own key and reports the first failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "pkilab/build.h"
#include "pkilab/key.h"
#include "pkilab/file.h"
#include "pkilab/keygen.h"
#include "pkilab/pki.h"
#include "fixture.h"

static char dir[] = "/tmp/pkl-test-build-XXXXXX";
static int seq;

#define LAB_HEAD "lab = { name = \"unit\"; cdp = [ \"http://127.0.0.1:18081\" ]; };\n"
#define CAS                                                                                  \
	"cas = ( { name = \"root\"; template = \"t-root\"; subject = \"CN=Unit Root\"; },\n" \
	"        { name = \"ca\"; template = \"t-int\"; issuer = \"root\"; subject = \"CN=Unit CA\"; } );\n"
#define GW(n)                                                                         \
	"{ name = \"" n "\"; template = \"t-gw\"; issuer = \"ca\"; subject = \"CN=" n \
	".test\"; san = [ \"" n ".test\" ]; }"
#define LAB2 LAB_HEAD CAS "certs = ( " GW("gw1") ", " GW("gw2") " );\n"
#define LAB3 LAB_HEAD CAS "certs = ( " GW("gw1") ", " GW("gw2") ", " GW("gw3") " );\n"

static int setup(void **state)
{
	(void)state;
	return fx_mkdtemp(dir) != 0 ? -1 : fx_templates(dir, "ec:P-256");
}

static int teardown(void **state)
{
	(void)state;
	return fx_rmtree(dir);
}

static struct pkl_lab *load(const char *text)
{
	struct pkl_err err = { 0 };
	struct pkl_lab *lab;
	char p[PATH_MAX];

	fx_write_in(dir, "lab.cfg", text, NULL, 0);
	snprintf(p, sizeof(p), "%s/lab.cfg", dir);
	lab = pkl_lab_load(p, pkl_time_now(), NULL, &err);
	if (!lab)
		print_error("lab: %s: %s\n", err.where, err.msg);
	assert_non_null(lab);
	return lab;
}

/* A new PKI directory name per test (not created). */
static void new_pki_dir(char *out, size_t len)
{
	snprintf(out, len, "%s/pki%d", dir, ++seq);
}

static struct pkl_build_plan *plan_ok(const struct pkl_lab *lab, const char *pki_dir)
{
	struct pkl_build_opts opts = { .pki_dir = pki_dir };
	struct pkl_err err = { 0 };
	struct pkl_build_plan *plan = pkl_build_plan_new(lab, &opts, &err);

	if (!plan)
		print_error("plan: %s: %s\n", err.where, err.msg);
	assert_non_null(plan);
	return plan;
}

static void apply_ok(struct pkl_build_plan *plan)
{
	struct pkl_err err = { 0 };
	enum pkl_rc rc = pkl_build_apply(plan, &err);

	if (rc != PKL_OK)
		print_error("apply: %s: %s\n", err.where, err.msg);
	assert_int_equal(rc, PKL_OK);
}

/* Builds lab into pki_dir (fresh or not). */
static void build(const char *lab_text, const char *pki_dir)
{
	struct pkl_lab *lab = load(lab_text);
	struct pkl_build_plan *plan = plan_ok(lab, pki_dir);

	apply_ok(plan);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
}

/* Entries of the test directory whose name starts with "<basename of pki_dir>.new-". */
static size_t count_staging(const char *pki_dir)
{
	const char *b = strrchr(pki_dir, '/') + 1;
	char prefix[NAME_MAX + 8];
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	snprintf(prefix, sizeof(prefix), "%s.new-", b);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

static int has_file(const char *pki_dir, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", pki_dir, rel);
	return pkl_file_exists(p);
}

static void fresh_plan_issues_everything_and_writes_nothing(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	char pki[PATH_MAX];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	lab = load(LAB2);
	plan = plan_ok(lab, pki);
	assert_string_equal(pkl_build_plan_pki_dir(plan), pki);
	assert_int_equal(pkl_build_plan_fresh(plan), 1);
	assert_int_equal(pkl_build_plan_count(plan), 4);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_ISSUE), 4);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_KEEP), 0);
	for (size_t i = 0; i < 4; i++) {
		const struct pkl_build_item *it = pkl_build_plan_item(plan, i);
		assert_int_equal(it->action, PKL_BUILD_ISSUE);
		assert_ptr_equal(it->e, &lab->ents[i]);
		assert_string_equal(it->row.serial, ""); /* nothing recorded yet */
		assert_string_equal(it->differs, "");
	}
	assert_null(pkl_build_plan_item(plan, 4));
	/* The plan is the dry run: nothing exists, not even the directory. */
	assert_false(pkl_file_exists(pki));
	assert_int_equal(count_staging(pki), 0);
	pkl_build_plan_free(plan);
	assert_false(pkl_file_exists(pki));
	pkl_lab_free(lab);
}

static void dry_run_of_an_existing_pki_writes_nothing(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	char pki[PATH_MAX], db[PATH_MAX + 16];
	struct pkl_buf before = PKL_BUF_INIT, after = PKL_BUF_INIT;

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	snprintf(db, sizeof(db), "%s/pkilab.db", pki);
	assert_int_equal(pkl_file_read(db, 0, &before, NULL), PKL_OK);
	lab = load(LAB3);
	plan = plan_ok(lab, pki);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_ISSUE), 1);
	pkl_build_plan_free(plan);
	assert_false(has_file(pki, "certs/gw3.pem"));
	assert_false(has_file(pki, "private/gw3.key"));
	assert_int_equal(pkl_file_read(db, 0, &after, NULL), PKL_OK);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	pkl_buf_free(&before);
	pkl_buf_free(&after);
	pkl_lab_free(lab);
}

static void apply_then_replan_keeps_everything(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	char pki[PATH_MAX], serials[4][41];
	struct pkl_err err = { 0 };

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	lab = load(LAB2);
	plan = plan_ok(lab, pki);
	apply_ok(plan);
	for (size_t i = 0; i < 4; i++) {
		const struct pkl_build_item *it = pkl_build_plan_item(plan, i);
		/* Still "issue" (that is what was done), now with its record. */
		assert_int_equal(it->action, PKL_BUILD_ISSUE);
		assert_string_equal(it->row.name, it->e->name);
		assert_string_equal(it->row.subject, it->e->subject);
		assert_true(strlen(it->row.serial) > 0);
		snprintf(serials[i], sizeof(serials[i]), "%s", it->row.serial);
	}
	/* Once only. */
	assert_int_equal(pkl_build_apply(plan, &err), PKL_EINPUT);
	pkl_build_plan_free(plan);

	assert_true(has_file(pki, "pkilab.db"));
	assert_true(has_file(pki, "private/root.key"));
	assert_true(has_file(pki, "publish/crl/ca.crl"));
	assert_true(has_file(pki, "publish/aia/ca.crt"));
	assert_true(has_file(pki, "certs/gw2-chain.pem"));
	assert_int_equal(count_staging(pki), 0);

	plan = plan_ok(lab, pki);
	assert_int_equal(pkl_build_plan_fresh(plan), 0);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_KEEP), 4);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_ISSUE), 0);
	for (size_t i = 0; i < 4; i++) {
		const struct pkl_build_item *it = pkl_build_plan_item(plan, i);
		assert_int_equal(it->action, PKL_BUILD_KEEP);
		assert_string_equal(it->row.serial, serials[i]);
		assert_string_equal(it->differs, "");
	}
	/* Applying a plan with nothing to issue changes no record. */
	apply_ok(plan);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(pkl_build_plan_item(plan, i)->row.serial, serials[i]);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
}

static void added_leaf_plans_exactly_one_issue(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	const struct pkl_build_item *it;
	char pki[PATH_MAX];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	lab = load(LAB3);
	plan = plan_ok(lab, pki);
	assert_int_equal(pkl_build_plan_count(plan), 5);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_ISSUE), 1);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_KEEP), 4);
	for (size_t i = 0; i < 5; i++) {
		it = pkl_build_plan_item(plan, i);
		assert_int_equal(it->action, strcmp(it->e->name, "gw3") ? PKL_BUILD_KEEP : PKL_BUILD_ISSUE);
	}
	apply_ok(plan);
	for (size_t i = 0; i < 5; i++) {
		it = pkl_build_plan_item(plan, i);
		if (!strcmp(it->e->name, "gw3")) {
			assert_string_equal(it->row.issuer_name, "ca");
			assert_true(strlen(it->row.serial) > 0);
		}
	}
	pkl_build_plan_free(plan);
	assert_true(has_file(pki, "private/gw3.key"));
	assert_true(has_file(pki, "certs/gw3.pem"));
	assert_true(has_file(pki, "certs/gw3-chain.pem"));
	/* And then it converges. */
	plan = plan_ok(lab, pki);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_KEEP), 5);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
}

static void changed_entry_is_kept_and_noted(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	char pki[PATH_MAX];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	lab = load(LAB_HEAD CAS
		   "certs = ( " GW("gw1") ",\n"
					  "  { name = \"gw2\"; template = \"t-gw\"; issuer = \"root\"; "
					  "subject = \"CN=other.test\"; san = [ \"o.test\" ]; } );\n");
	plan = plan_ok(lab, pki);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_KEEP), 4);
	for (size_t i = 0; i < 4; i++) {
		const struct pkl_build_item *it = pkl_build_plan_item(plan, i);
		/* Moved under the root: its CDP and AIA URLs name the root now. */
		assert_string_equal(it->differs,
				    strcmp(it->e->name, "gw2") ? "" : "subject san issuer cdp aia ");
	}
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
}

static X509 *read_cert(const char *pki, const char *name)
{
	char p[PATH_MAX];
	FILE *f;
	X509 *x;

	snprintf(p, sizeof(p), "%s/certs/%s.pem", pki, name);
	f = fopen(p, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static struct pkl_build_item diff_out;
static struct pkl_entity diff_e;

/* Compares gw1's issued certificate with e (and lab) and returns the only
 * change, which must be field. */
static const struct pkl_build_change *diff_one(const struct pkl_lab *lab, const struct pkl_cert_row *row,
					       X509 *x, const char *field, size_t n_changes)
{
	struct pkl_err err = { 0 };

	assert_int_equal(pkl_build_diff(lab, &diff_e, row, x, &diff_out, &err), PKL_OK);
	if (diff_out.n_changes != n_changes)
		print_error("changes: '%s'\n", diff_out.differs);
	assert_int_equal(diff_out.n_changes, n_changes);
	assert_string_equal(diff_out.changes[0].field, field);
	return &diff_out.changes[0];
}

/* pkl_build_diff, one field at a time: the issued certificate against its
 * entry changed in that field only. */
static void diff_names_every_field_that_shapes_a_certificate(void **state)
{
	struct pkl_lab *lab, lab2;
	struct pkl_build_plan *plan;
	const struct pkl_build_item *it = NULL;
	const struct pkl_build_change *c;
	struct pkl_err err = { 0 };
	char pki[PATH_MAX];
	X509 *x;

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	lab = load(LAB2);
	plan = plan_ok(lab, pki);
	for (size_t i = 0; i < pkl_build_plan_count(plan); i++)
		if (!strcmp(pkl_build_plan_item(plan, i)->e->name, "gw1"))
			it = pkl_build_plan_item(plan, i);
	assert_non_null(it);
	assert_int_equal(it->n_changes, 0);
	assert_int_equal(pkl_build_plan_drifted(plan), 0);
	x = read_cert(pki, "gw1");

	diff_e = *it->e;
	assert_int_equal(pkl_build_diff(lab, &diff_e, &it->row, x, &diff_out, &err), PKL_OK);
	assert_int_equal(diff_out.n_changes, 0);

	assert_int_equal(pkl_san_parse("new.test", &diff_e.sans[0], &err), PKL_OK);
	c = diff_one(lab, &it->row, x, "san", 1);
	assert_int_equal(c->list, 1);
	assert_string_equal(c->added, "DNS:new.test");
	assert_string_equal(c->removed, "DNS:gw1.test");

	/* An RSA key: t-gw's rsa_key_encipherment adds keyEncipherment. */
	diff_e = *it->e;
	assert_int_equal(pkl_key_spec_parse("rsa:2048", &diff_e.prof.key, &err), PKL_OK);
	c = diff_one(lab, &it->row, x, "key", 2);
	assert_string_equal(c->was, "ec:P-256");
	assert_string_equal(c->now, "rsa:2048");
	assert_string_equal(diff_out.changes[1].field, "key_usage");
	assert_string_equal(diff_out.changes[1].added, "keyEncipherment");
	assert_string_equal(diff_out.changes[1].removed, "");

	diff_e = *it->e;
	diff_e.prof.key_usage = PKL_KU_DIGITAL_SIGNATURE | PKL_KU_NON_REPUDIATION;
	c = diff_one(lab, &it->row, x, "key_usage", 1);
	assert_int_equal(c->list, 1);
	assert_string_equal(c->added, "nonRepudiation");
	assert_string_equal(c->removed, "");

	/* No keyUsage at all: the bit goes, not the extension's criticality. */
	diff_e = *it->e;
	diff_e.prof.key_usage = 0;
	c = diff_one(lab, &it->row, x, "key_usage", 1);
	assert_string_equal(c->removed, "digitalSignature");

	/* A CA with a path length: basicConstraints, which gw1 lacks. */
	diff_e = *it->e;
	diff_e.prof.role = PKL_ROLE_INTERMEDIATE;
	diff_e.prof.path_len = 2;
	c = diff_one(lab, &it->row, x, "ca", 2);
	assert_string_equal(c->was, "false");
	assert_string_equal(c->now, "true");
	assert_string_equal(diff_out.changes[1].field, "path_len");
	assert_string_equal(diff_out.changes[1].was, "none");
	assert_string_equal(diff_out.changes[1].now, "2");

	/* backdate: notBefore two hours before the issue time, not one; the
	 * validity length is the same. */
	diff_e = *it->e;
	diff_e.not_before -= 3600;
	diff_e.not_after -= 3600;
	c = diff_one(lab, &it->row, x, "not_before", 1);
	assert_string_equal(c->was, "-1h");
	assert_string_equal(c->now, "-2h");

	/* The certificate's notAfter as an absolute time, loaded 30 days
	 * later: the default notBefore moved with the lab's now, the date did
	 * not, so the length differs but nothing changed. */
	lab2 = *lab;
	lab2.now += 30 * 86400;
	diff_e = *it->e;
	diff_e.not_before = lab2.now - 3600;
	assert_int_equal(pkl_time_from_asn1(X509_get0_notAfter(x), &diff_e.not_after), PKL_OK);
	assert_int_equal(pkl_build_diff(&lab2, &diff_e, &it->row, x, &diff_out, &err), PKL_OK);
	assert_int_equal(diff_out.n_changes, 0);

	/* keyUsage written non-critical (RFC 5280 §4.2.1.3 asks critical, as
	 * issuance writes it): the only change is its criticality. */
	{
		X509 *y = X509_dup(x);
		int i;

		assert_non_null(y);
		i = X509_get_ext_by_NID(y, NID_key_usage, -1);
		assert_true(i >= 0);
		assert_int_equal(X509_EXTENSION_set_critical(X509_get_ext(y, i), 0), 1);
		diff_e = *it->e;
		c = diff_one(lab, &it->row, y, "critical", 1);
		assert_string_equal(c->added, "keyUsage");
		assert_string_equal(c->removed, "");
		X509_free(y);
	}

	diff_e = *it->e;
	snprintf(diff_e.prof.eku[diff_e.prof.n_eku++], sizeof(diff_e.prof.eku[0]), "1.3.6.1.5.5.7.3.4");
	c = diff_one(lab, &it->row, x, "eku", 1);
	assert_string_equal(c->added, "1.3.6.1.5.5.7.3.4");
	assert_string_equal(c->removed, "");

	diff_e = *it->e;
	diff_e.not_after += 3 * 86400;
	c = diff_one(lab, &it->row, x, "validity", 1);
	assert_string_equal(c->was, "397d");
	assert_string_equal(c->now, "400d");

	diff_e = *it->e;
	snprintf(diff_e.prof.template_name, sizeof(diff_e.prof.template_name), "t-other");
	c = diff_one(lab, &it->row, x, "template", 1);
	assert_string_equal(c->was, "t-gw");
	assert_string_equal(c->now, "t-other");

	diff_e = *it->e;
	snprintf(diff_e.subject, sizeof(diff_e.subject), "CN=other.test");
	c = diff_one(lab, &it->row, x, "subject", 1);
	assert_string_equal(c->was, "CN=gw1.test");
	assert_string_equal(c->now, "CN=other.test");

	/* Another issuer: its URLs name the new issuer too. */
	diff_e = *it->e;
	snprintf(diff_e.issuer, sizeof(diff_e.issuer), "root");
	c = diff_one(lab, &it->row, x, "issuer", 3);
	assert_string_equal(c->was, "ca");
	assert_string_equal(c->now, "root");
	assert_string_equal(diff_out.changes[1].field, "cdp");
	assert_string_equal(diff_out.changes[1].added, "URI:http://127.0.0.1:18081/crl/root.crl");
	assert_string_equal(diff_out.changes[1].removed, "URI:http://127.0.0.1:18081/crl/ca.crl");

	/* The lab's cdp list: CDP and AIA URLs. */
	diff_e = *it->e;
	lab2 = *lab;
	snprintf(lab2.cdp[0], sizeof(lab2.cdp[0]), "http://crl.example.test");
	c = diff_one(&lab2, &it->row, x, "cdp", 2);
	assert_string_equal(c->added, "URI:http://crl.example.test/crl/ca.crl");
	assert_string_equal(c->removed, "URI:http://127.0.0.1:18081/crl/ca.crl");
	assert_string_equal(diff_out.changes[1].field, "aia");
	assert_string_equal(diff_out.changes[1].added, "URI:http://crl.example.test/aia/ca.crt");

	X509_free(x);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
}

/* A certificate a build issued whose name the lab lost is an orphan, and
 * drift (pkilab.db records each certificate's origin: the lab). */
static void removed_entry_is_an_orphan(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	char pki[PATH_MAX];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	lab = load(LAB_HEAD CAS "certs = ( " GW("gw1") " );\n");
	plan = plan_ok(lab, pki);
	assert_int_equal(pkl_build_plan_n_orphans(plan), 1);
	assert_string_equal(pkl_build_plan_orphan(plan, 0), "gw2");
	assert_null(pkl_build_plan_orphan(plan, 1));
	assert_int_equal(pkl_build_plan_orphan_unknown(plan, 0), 0);
	assert_int_equal(pkl_build_plan_drifted(plan), 1);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
}

static void nonempty_foreign_directory_is_refused(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_opts opts = { 0 };
	struct pkl_err err = { 0 };
	char pki[PATH_MAX], keep[PATH_MAX + 16];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	assert_int_equal(mkdir(pki, 0755), 0);
	snprintf(keep, sizeof(keep), "%s/notes.txt", pki);
	assert_int_equal(pkl_file_write_atomic(keep, "mine\n", 5, 0644, NULL), PKL_OK);
	lab = load(LAB2);
	opts.pki_dir = pki;
	assert_null(pkl_build_plan_new(lab, &opts, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_string_equal(err.where, pki);
	assert_non_null(strstr(err.msg, "not empty"));
	assert_true(pkl_file_exists(keep));
	assert_false(has_file(pki, "pkilab.db"));
	pkl_lab_free(lab);

	/* An empty directory is replaced. */
	new_pki_dir(pki, sizeof(pki));
	assert_int_equal(mkdir(pki, 0755), 0);
	build(LAB2, pki);
	assert_true(has_file(pki, "certs/gw1.pem"));
}

static void files_without_records_are_refused(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_opts opts = { 0 };
	struct pkl_err err = { 0 };
	char pki[PATH_MAX], planted[PATH_MAX + 32];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	snprintf(planted, sizeof(planted), "%s/private/gw3.key", pki);
	assert_int_equal(pkl_file_write_atomic(planted, "old key\n", 8, 0600, NULL), PKL_OK);
	lab = load(LAB3);
	opts.pki_dir = pki;
	assert_null(pkl_build_plan_new(lab, &opts, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_false(has_file(pki, "certs/gw3.pem"));
	pkl_lab_free(lab);
}

/* Loads text written to <dir>/<sub>/lab.cfg (sub created). */
static struct pkl_lab *load_at(const char *sub, const char *text)
{
	struct pkl_err err = { 0 };
	struct pkl_lab *lab;
	char d[PATH_MAX], p[PATH_MAX + 16], t[PATH_MAX];

	snprintf(d, sizeof(d), "%s/%s", dir, sub);
	snprintf(t, sizeof(t), "%s/templates", dir); /* fx_templates */
	assert_true(mkdir(d, 0755) == 0 || pkl_file_exists(d));
	fx_write_in(d, "lab.cfg", text, NULL, 0);
	snprintf(p, sizeof(p), "%s/lab.cfg", d);
	lab = pkl_lab_load(p, pkl_time_now(), t, &err);
	if (!lab)
		print_error("lab: %s: %s\n", err.where, err.msg);
	assert_non_null(lab);
	return lab;
}

/* The meta value key of the PKI in pki_dir ("" when unset). */
static void meta_of(const char *pki_dir, const char *key, char *out, size_t len)
{
	struct pkl_err err = { 0 };
	struct pkl_pki *pki = pkl_pki_open(pki_dir, 0, &err);

	assert_non_null(pki);
	assert_int_equal(pkl_db_meta_get(pki->db, key, out, len, &err), PKL_OK);
	pkl_pki_close(pki);
}

#define OTHER_HEAD "lab = { name = \"other\"; cdp = [ \"http://127.0.0.1:18081\" ]; };\n"
#define OTHER                                                                                               \
	OTHER_HEAD "cas = ( { name = \"oroot\"; template = \"t-root\"; subject = \"CN=Other Root\"; } );\n" \
		   "certs = ( );\n"

static void build_records_its_lab(void **state)
{
	char pki[PATH_MAX], v[PATH_MAX], want[PATH_MAX + 16], real[PATH_MAX];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	meta_of(pki, PKL_BUILD_META_LAB_NAME, v, sizeof(v));
	assert_string_equal(v, "unit");
	snprintf(want, sizeof(want), "%s/lab.cfg", dir);
	assert_non_null(realpath(want, real));
	meta_of(pki, PKL_BUILD_META_LAB_PATH, v, sizeof(v));
	assert_string_equal(v, real);
}

static void other_lab_is_refused_before_anything_is_written(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_opts opts = { 0 };
	struct pkl_err err = { 0 };
	char pki[PATH_MAX], v[64];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	lab = load_at("other", OTHER);
	opts.pki_dir = pki;
	assert_null(pkl_build_plan_new(lab, &opts, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	assert_string_equal(err.where, pki);
	assert_non_null(strstr(err.msg, "built from lab 'unit' ("));
	assert_non_null(strstr(err.msg, "refusing to build lab 'other' ("));
	assert_non_null(strstr(err.msg, "/other/lab.cfg)"));
	assert_int_equal(count_staging(pki), 0);
	assert_false(has_file(pki, "certs/oroot.pem"));
	assert_false(has_file(pki, "private/oroot.key"));
	meta_of(pki, PKL_BUILD_META_LAB_NAME, v, sizeof(v));
	assert_string_equal(v, "unit");
	pkl_lab_free(lab);
}

static void same_lab_from_another_path_is_accepted(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	char pki[PATH_MAX], v[PATH_MAX];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	build(LAB2, pki);
	lab = load_at("moved", LAB3);
	plan = plan_ok(lab, pki);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_KEEP), 4);
	assert_int_equal(pkl_build_plan_n(plan, PKL_BUILD_ISSUE), 1);
	apply_ok(plan);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
	meta_of(pki, PKL_BUILD_META_LAB_NAME, v, sizeof(v));
	assert_string_equal(v, "unit");
	meta_of(pki, PKL_BUILD_META_LAB_PATH, v, sizeof(v));
	assert_non_null(strstr(v, "/moved/lab.cfg"));
	assert_int_equal(v[0], '/');
}

/* A PKI of an earlier pkilab has no record: the next build adopts it. */
static void unrecorded_pki_is_adopted(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	struct pkl_build_opts opts = { 0 };
	struct pkl_err err = { 0 };
	struct pkl_pki *pki;
	char dirp[PATH_MAX], v[64];

	(void)state;
	new_pki_dir(dirp, sizeof(dirp));
	build(LAB2, dirp);
	pki = pkl_pki_open(dirp, 0, &err);
	assert_non_null(pki);
	assert_int_equal(pkl_db_meta_put(pki->db, PKL_BUILD_META_LAB_NAME, "", &err), PKL_OK);
	assert_int_equal(pkl_db_meta_put(pki->db, PKL_BUILD_META_LAB_PATH, "", &err), PKL_OK);
	pkl_pki_close(pki);
	lab = load_at("adopt", OTHER);
	plan = plan_ok(lab, dirp);
	apply_ok(plan);
	pkl_build_plan_free(plan);
	pkl_lab_free(lab);
	meta_of(dirp, PKL_BUILD_META_LAB_NAME, v, sizeof(v));
	assert_string_equal(v, "other");
	/* From now on it is that lab's PKI. */
	lab = load(LAB2);
	opts.pki_dir = dirp;
	assert_null(pkl_build_plan_new(lab, &opts, &err));
	assert_int_equal(err.rc, PKL_EINPUT);
	pkl_lab_free(lab);
}

/* The final rename of a fresh build fails (the directory filled up after the
 * plan): nothing is left, neither in the directory nor beside it. */
static void failed_rename_leaves_no_pki_and_no_staging(void **state)
{
	struct pkl_lab *lab;
	struct pkl_build_plan *plan;
	struct pkl_err err = { 0 };
	char pki[PATH_MAX], keep[PATH_MAX + 16];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	lab = load(LAB2);
	plan = plan_ok(lab, pki);
	assert_int_equal(mkdir(pki, 0755), 0);
	snprintf(keep, sizeof(keep), "%s/notes.txt", pki);
	assert_int_equal(pkl_file_write_atomic(keep, "mine\n", 5, 0644, NULL), PKL_OK);
	assert_int_equal(pkl_build_apply(plan, &err), PKL_ERUNTIME);
	assert_string_equal(err.where, pki);
	assert_non_null(strstr(err.msg, "cannot move the new PKI into place"));
	pkl_build_plan_free(plan);
	assert_true(pkl_file_exists(keep));
	assert_false(has_file(pki, "pkilab.db"));
	assert_false(has_file(pki, "private"));
	assert_int_equal(count_staging(pki), 0);
	pkl_lab_free(lab);
}

/* A process id that is not running: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void dead_staging_is_swept_links_are_not_followed(void **state)
{
	char pki[PATH_MAX], dead[PATH_MAX + 32], link[PATH_MAX + 32], live[PATH_MAX + 32];
	char victim[PATH_MAX + 16], victim_file[PATH_MAX + 32];

	(void)state;
	new_pki_dir(pki, sizeof(pki));
	snprintf(victim, sizeof(victim), "%s/victim%d", dir, seq);
	assert_int_equal(mkdir(victim, 0755), 0);
	snprintf(victim_file, sizeof(victim_file), "%s/keep.txt", victim);
	assert_int_equal(pkl_file_write_atomic(victim_file, "x\n", 2, 0644, NULL), PKL_OK);
	snprintf(dead, sizeof(dead), "%s.new-%ld-aaaaaa", pki, (long)dead_pid());
	assert_int_equal(mkdir(dead, 0755), 0);
	snprintf(link, sizeof(link), "%s.new-%ld-bbbbbb", pki, (long)dead_pid());
	assert_int_equal(symlink(victim, link), 0);
	/* Our own pid is alive: that directory belongs to a running build. */
	snprintf(live, sizeof(live), "%s.new-%ld-cccccc", pki, (long)getpid());
	assert_int_equal(mkdir(live, 0755), 0);

	build(LAB2, pki);
	assert_false(pkl_file_exists(dead));
	assert_true(pkl_file_exists(live));
	assert_int_equal(access(victim_file, F_OK), 0);
	struct stat st;
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(count_staging(pki), 2); /* the link and the live one */
}

static void keygen_pool_gives_every_job_its_own_key(void **state)
{
	enum {
		N = 12
	};
	struct pkl_key_spec ec = { 0 }, ed = { 0 };
	struct pkl_keygen_job jobs[N];
	size_t threads[] = { 1, 4, 0 };

	(void)state;
	assert_int_equal(pkl_key_spec_parse("ec:P-256", &ec, NULL), PKL_OK);
	assert_int_equal(pkl_key_spec_parse("ed25519", &ed, NULL), PKL_OK);
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		memset(jobs, 0, sizeof(jobs));
		for (size_t i = 0; i < N; i++)
			jobs[i].spec = i == 5 ? NULL : i % 3 == 0 ? &ed : &ec;
		assert_int_equal(pkl_keygen_run(jobs, N, threads[t], NULL), PKL_OK);
		for (size_t i = 0; i < N; i++) {
			if (!jobs[i].spec) {
				assert_null(jobs[i].key);
				continue;
			}
			assert_non_null(jobs[i].key);
			assert_true(EVP_PKEY_is_a(jobs[i].key, i % 3 == 0 ? "ED25519" : "EC"));
			for (size_t j = 0; j < i; j++)
				if (jobs[j].key)
					assert_int_not_equal(EVP_PKEY_eq(jobs[i].key, jobs[j].key), 1);
		}
		for (size_t i = 0; i < N; i++)
			EVP_PKEY_free(jobs[i].key);
	}
}

static void keygen_pool_reports_the_first_failure(void **state)
{
	struct pkl_key_spec ec = { 0 }, bad = { .type = PKL_KEY_RSA, .bits = 1024 };
	struct pkl_keygen_job jobs[6];
	size_t failed = 99;

	(void)state;
	assert_int_equal(pkl_key_spec_parse("ec:P-256", &ec, NULL), PKL_OK);
	memset(jobs, 0, sizeof(jobs));
	for (size_t i = 0; i < 6; i++)
		jobs[i].spec = i == 2 || i == 4 ? &bad : &ec;
	assert_int_equal(pkl_keygen_run(jobs, 6, 3, &failed), PKL_EINPUT);
	assert_int_equal(failed, 2);
	assert_non_null(strstr(jobs[2].err.msg, "1024"));
	for (size_t i = 0; i < 6; i++) {
		if (jobs[i].spec == &ec)
			assert_non_null(jobs[i].key); /* the others still done, for the caller to free */
		else
			assert_null(jobs[i].key);
		EVP_PKEY_free(jobs[i].key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh_plan_issues_everything_and_writes_nothing),
		cmocka_unit_test(dry_run_of_an_existing_pki_writes_nothing),
		cmocka_unit_test(apply_then_replan_keeps_everything),
		cmocka_unit_test(added_leaf_plans_exactly_one_issue),
		cmocka_unit_test(changed_entry_is_kept_and_noted),
		cmocka_unit_test(diff_names_every_field_that_shapes_a_certificate),
		cmocka_unit_test(removed_entry_is_an_orphan),
		cmocka_unit_test(nonempty_foreign_directory_is_refused),
		cmocka_unit_test(files_without_records_are_refused),
		cmocka_unit_test(build_records_its_lab),
		cmocka_unit_test(other_lab_is_refused_before_anything_is_written),
		cmocka_unit_test(same_lab_from_another_path_is_accepted),
		cmocka_unit_test(unrecorded_pki_is_adopted),
		cmocka_unit_test(failed_rename_leaves_no_pki_and_no_staging),
		cmocka_unit_test(dead_staging_is_swept_links_are_not_followed),
		cmocka_unit_test(keygen_pool_gives_every_job_its_own_key),
		cmocka_unit_test(keygen_pool_reports_the_first_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
