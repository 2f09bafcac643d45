/*
 * Building a lab's PKI (build.h): the plan (kept or to issue, differences
 * noted), then its application: keys from the keygen pool, the staging
 * directory of a new PKI, one issuing transaction, the final rename.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "pkilab/build.h"
#include "pkilab/cert.h"
#include "pkilab/certread.h"
#include "pkilab/crl.h"
#include "pkilab/file.h"
#include "pkilab/fileset.h"
#include "pkilab/issue.h"
#include "pkilab/key.h"
#include "pkilab/keygen.h"
#include "pkilab/name.h"

struct build_slot {
	struct pkl_build_item pub;
	EVP_PKEY *key;    /* pre-generated key for a new one */
	X509 *cert;       /* issued (new) or loaded (kept CA) */
	EVP_PKEY *ca_key; /* a kept CA's key, loaded when it signs something new */
};

struct pkl_build_plan {
	const struct pkl_lab *lab;
	char lab_path[PATH_MAX]; /* the lab file's absolute path (recorded, for messages) */
	char pki_dir[PATH_MAX];
	int fresh;
	int applied;
	size_t keygen_threads;
	struct pkl_pki *pki; /* the existing PKI (not fresh), open from plan to apply */
	struct build_slot *slots;
	size_t n;
	struct build_orphan {
		char name[PKL_NAME_MAX];
		int unknown; /* origin not recorded (db.h): not revoked, not drift */
	} * orphans;         /* from the lab, in the PKI, no longer in the lab */
	size_t n_orphans, n_known_orphans;
	int apply_changes, revoke_orphans;
	/* The CAs whose CRL the apply re-signs (each revoked something), in
	 * the order they were first concerned, and the CRLs it signed. */
	char (*crl_cas)[PKL_NAME_MAX];
	struct pkl_crl_info *crls;
	size_t n_crl_cas, n_crls;
};

/* 1 for an empty directory (or anything that is not a readable directory:
 * the rename will then fail with the precise reason). */
static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return 1;
	while (empty && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

/* One PKI, one lab (README, "One PKI, one lab"): the database records the
 * name of the lab that built it, and that lab file's absolute path for the
 * message, in the transaction of every build (pkl_build_apply). A lab of
 * another name would merge a second hierarchy under the first one's root,
 * so it is refused; the same lab moved or copied to another path is the
 * same lab. A PKI built before the record existed has none: the next build
 * adopts it. Checked when planning, before anything is written, and again
 * inside the transaction that records it. */
static enum pkl_rc check_lab(const struct pkl_build_plan *plan, struct pkl_db *db, struct pkl_err *err)
{
	char name[PKL_NAME_MAX * 4], path[PATH_MAX];
	enum pkl_rc rc;

	if ((rc = pkl_db_meta_get(db, PKL_BUILD_META_LAB_NAME, name, sizeof(name), err)) != PKL_OK ||
	    (rc = pkl_db_meta_get(db, PKL_BUILD_META_LAB_PATH, path, sizeof(path), err)) != PKL_OK)
		return rc;
	if (!name[0] || !strcmp(name, plan->lab->name))
		return PKL_OK;
	return pkl_err_set(err, PKL_EINPUT, plan->pki_dir,
			   "built from lab '%s' (%s); refusing to build lab '%s' (%s) into it: "
			   "give that lab its own PKI directory (--pki DIR)",
			   name, path[0] ? path : "path not recorded", plan->lab->name, plan->lab_path);
}

static enum pkl_rc record_lab(const struct pkl_build_plan *plan, struct pkl_db *db, struct pkl_err *err)
{
	enum pkl_rc rc = pkl_db_meta_put(db, PKL_BUILD_META_LAB_NAME, plan->lab->name, err);

	return rc == PKL_OK ? pkl_db_meta_put(db, PKL_BUILD_META_LAB_PATH, plan->lab_path, err) : rc;
}

/* Drift (README "Drift"): a kept certificate whose lab entry changed is
 * reported field by field, never re-issued by build. Each comparison reads
 * the issued certificate itself and computes the expected value the way
 * issuance would write it today (issue.c, cert.c).
 *
 * Not drift, since they write nothing into a certificate: max_validity,
 * san_required and outlive_issuer (the issuance policy, checked when the lab
 * loads), crl_lifetime (a CA's CRLs), encrypt_key (the key file),
 * description, and the lab's name, pki and templates. Nor what no setting
 * chooses: the serial (random), the key identifiers (from the keys), the
 * issuer DN (the issuer certificate's subject) and the signature algorithm,
 * the issuer key's default digest (key.c pkl_key_default_md): build never
 * re-keys an issuer, so a certificate issued today would be signed as the
 * kept one was, and a changed issuer `key` is the issuer's own drift. */

/* A list of certificate texts, as the reader (certread.c) prints them. */
struct textlist {
	size_t n;
	char v[PKL_MAX_SANS + PKL_MAX_CDP * 2 + PKL_MAX_EKU][PKL_URI_MAX + PKL_NAME_MAX + 16];
};

static void tl_add(struct textlist *l, const char *t)
{
	if (l->n < sizeof(l->v) / sizeof(l->v[0]))
		snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", t);
}

static int tl_has(const struct textlist *l, const char *t)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], t))
			return 1;
	return 0;
}

static void tl_of_names(struct textlist *l, const struct pkl_certread_names *names)
{
	char t[sizeof(l->v[0])];

	for (size_t i = 0; i < names->n; i++) {
		pkl_certread_name_text(&names->v[i], 1, t, sizeof(t));
		tl_add(l, t);
	}
}

static struct pkl_build_change *change_add(struct pkl_build_item *it, const char *field)
{
	struct pkl_build_change *c;

	if (it->n_changes >= PKL_BUILD_MAX_CHANGES)
		return NULL;
	c = &it->changes[it->n_changes++];
	memset(c, 0, sizeof(*c));
	snprintf(c->field, sizeof(c->field), "%s", field);
	{
		size_t n = strlen(it->differs);
		snprintf(it->differs + n, sizeof(it->differs) - n, "%s ", field);
	}
	return c;
}

static void scalar(struct pkl_build_item *it, const char *field, const char *was, const char *now)
{
	struct pkl_build_change *c;

	if (!strcmp(was, now) || !(c = change_add(it, field)))
		return;
	snprintf(c->was, sizeof(c->was), "%s", was);
	snprintf(c->now, sizeof(c->now), "%s", now);
}

static void join_missing(char *out, size_t len, const struct textlist *from, const struct textlist *in)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < from->n && n < len; i++)
		if (!tl_has(in, from->v[i]))
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", from->v[i]);
}

/* Lists compare as sets: the order of SANs or URLs is not drift. */
static void list(struct pkl_build_item *it, const char *field, const struct textlist *was,
		 const struct textlist *now)
{
	char added[sizeof(it->changes[0].added)], removed[sizeof(it->changes[0].removed)];
	struct pkl_build_change *c;

	join_missing(added, sizeof(added), now, was);
	join_missing(removed, sizeof(removed), was, now);
	if ((!added[0] && !removed[0]) || !(c = change_add(it, field)))
		return;
	c->list = 1;
	snprintf(c->added, sizeof(c->added), "%s", added);
	snprintf(c->removed, sizeof(c->removed), "%s", removed);
}

/* "397d", "397d 1h", "3600s": a validity length as the lab writes one. */
static void duration_str(int64_t s, char *buf, size_t len)
{
	if (s % 3600)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s % 86400)
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

/* The EKU OIDs of x, dotted (RFC 5280 §4.2.1.12). */
static void eku_of(X509 *x, struct textlist *l)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	char t[128];

	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2txt(t, sizeof(t), sk_ASN1_OBJECT_value(eku, i), 1) > 0)
			tl_add(l, t);
	EXTENDED_KEY_USAGE_free(eku);
}

/* The keyUsage bits of x by name, in bit order (RFC 5280 §4.2.1.3); a bit
 * pkilab has no name for reads "bitN". No extension: an empty list. */
static void ku_of(X509 *x, struct textlist *l)
{
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
	const char *const *names = pkl_ku_names();
	int n_names = 0;
	char t[16];

	while (names[n_names])
		n_names++;
	for (int bit = 0; ku && bit < ASN1_STRING_length(ku) * 8; bit++) {
		if (!ASN1_BIT_STRING_get_bit(ku, bit))
			continue;
		if (bit < n_names) {
			tl_add(l, names[bit]);
		} else {
			snprintf(t, sizeof(t), "bit%d", bit);
			tl_add(l, t);
		}
	}
	ASN1_BIT_STRING_free(ku);
}

/* PKL_KU_* bits by name, as ku_of() reads them back (cert.c add_ku writes
 * bit n for 1 << n). */
static void ku_names_of(unsigned ku, struct textlist *l)
{
	const char *const *names = pkl_ku_names();

	for (unsigned bit = 0; names[bit]; bit++)
		if (ku & (1u << bit))
			tl_add(l, names[bit]);
}

/* cA and pathLenConstraint of x (RFC 5280 §4.2.1.9) as text: "true" or
 * "false", a number or "none". No extension reads as an end entity. */
static void bc_of(X509 *x, char *ca, size_t ca_len, char *path_len, size_t pl_len)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	int64_t n;

	snprintf(ca, ca_len, "%s", bc && bc->ca ? "true" : "false");
	if (bc && bc->pathlen && ASN1_INTEGER_get_int64(&n, bc->pathlen))
		snprintf(path_len, pl_len, "%lld", (long long)n);
	else
		snprintf(path_len, pl_len, "%s", bc && bc->pathlen ? "?" : "none");
	BASIC_CONSTRAINTS_free(bc);
}

/* The criticality pkl_cert_issue (cert.c) gives an extension it writes:
 * basicConstraints (RFC 5280 §4.2.1.9) and keyUsage (§4.2.1.3) critical,
 * subjectAltName only when the subject is empty (§4.2.1.6), the
 * extendedKeyUsage (§4.2.1.12), key identifiers (§4.2.1.1, §4.2.1.2), CRL
 * distribution points (§4.2.1.13) and AIA (§4.2.2.1) not. -1 for an
 * extension pkilab never writes. No template setting changes these. */
static int critical_as_issued(int nid, const X509_NAME *subject)
{
	switch (nid) {
	case NID_basic_constraints:
	case NID_key_usage: return 1;
	case NID_subject_alt_name: return X509_NAME_entry_count(subject) == 0;
	case NID_ext_key_usage:
	case NID_subject_key_identifier:
	case NID_authority_key_identifier:
	case NID_crl_distribution_points:
	case NID_info_access: return 0;
	default: return -1;
	}
}

/* The critical extensions of x (was) and those of its extensions that
 * issuance marks critical (now), by short name. Only extensions x has are
 * compared: one the lab adds or drops is its own field's change (key_usage,
 * ca, eku, san, cdp, aia). */
static void critical_of(X509 *x, const X509_NAME *subject, struct textlist *was, struct textlist *now)
{
	for (int i = 0; i < X509_get_ext_count(x); i++) {
		X509_EXTENSION *ext = X509_get_ext(x, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
		int want = critical_as_issued(nid, subject);

		if (want < 0)
			continue;
		if (X509_EXTENSION_get_critical(ext))
			tl_add(was, OBJ_nid2sn(nid));
		if (want)
			tl_add(now, OBJ_nid2sn(nid));
	}
}

/* "-1h", "+10m", "now": an offset from the issue time, as a relative lab
 * time writes it (README "Times"), in the largest unit that divides it. */
static void offset_str(int64_t s, char *buf, size_t len)
{
	static const struct {
		int64_t secs;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	int64_t a = s < 0 ? -s : s;

	snprintf(buf, len, "now");
	for (size_t i = 0; s && i < sizeof(units) / sizeof(units[0]); i++)
		if (a % units[i].secs == 0) {
			snprintf(buf, len, "%c%lld%c", s < 0 ? '-' : '+', (long long)(a / units[i].secs),
				 units[i].unit);
			break;
		}
}

/* How many distribution points x has: one-point or point-per-uri
 * (README, cdp_layout). */
static int cdp_points(X509 *x)
{
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	int n = dps ? sk_DIST_POINT_num(dps) : 0;

	CRL_DIST_POINTS_free(dps);
	return n;
}

enum pkl_rc pkl_build_diff(const struct pkl_lab *lab, const struct pkl_entity *e,
			   const struct pkl_cert_row *row, X509 *cert, struct pkl_build_item *it,
			   struct pkl_err *err)
{
	struct pkl_certread_names names = PKL_CERTREAD_NAMES_INIT;
	struct textlist *was = calloc(1, sizeof(*was)), *now = calloc(1, sizeof(*now));
	struct pkl_key_spec spec;
	struct pkl_cert_req req = { 0 };
	const char *eku_ptrs[PKL_MAX_EKU];
	X509_NAME *subject = NULL;
	char a[64], b[64], c[64], d[64], t[sizeof(was->v[0])];
	pkl_time nb, na;
	int points;
	enum pkl_rc rc = PKL_OK;

	it->n_changes = 0;
	it->differs[0] = '\0';
	if (!was || !now) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto out;
	}

	/* subject: compared as names, printed as recorded and as written. */
	subject = pkl_name_parse(e->subject, err);
	if (!subject) {
		pkl_err_where(err, e->where);
		rc = PKL_EINPUT;
		goto out;
	}
	if (!pkl_name_der_equal(subject, X509_get_subject_name(cert)))
		scalar(it, "subject", row->subject, e->subject);

	/* san: the entry's names as cert.c writes them (an IP also as a
	 * dNSName when the template says ip_as_dns). */
	if ((rc = pkl_certread_san(cert, &names, err)) != PKL_OK)
		goto out;
	tl_of_names(was, &names);
	pkl_certread_names_free(&names);
	for (size_t i = 0; i < e->n_sans; i++) {
		const struct pkl_san *s = &e->sans[i];
		/* The same text as the certificate's names (certread's one writer). */
		struct pkl_certread_name g = { s->type,
					       s->type == PKL_SAN_IP ? (unsigned char *)s->ip :
								       (unsigned char *)s->value,
					       s->type == PKL_SAN_IP ? (size_t)s->ip_len : strlen(s->value) };

		pkl_certread_name_text(&g, 1, t, sizeof(t));
		tl_add(now, t);
		if (s->type == PKL_SAN_IP && e->prof.ip_as_dns) {
			pkl_certread_name_text(&g, 0, t + 4, sizeof(t) - 4);
			memcpy(t, "DNS:", 4);
			tl_add(now, t);
		}
	}
	list(it, "san", was, now);

	/* key: the spec of the certified public key. */
	if ((rc = pkl_key_spec_of(X509_get0_pubkey(cert), &spec, err)) != PKL_OK)
		goto out;
	pkl_key_spec_str(&spec, a, sizeof(a));
	pkl_key_spec_str(&e->prof.key, b, sizeof(b));
	scalar(it, "key", a, b);

	/* eku */
	was->n = now->n = 0;
	eku_of(cert, was);
	for (size_t i = 0; i < e->prof.n_eku; i++)
		tl_add(now, e->prof.eku[i]);
	list(it, "eku", was, now);

	/* key_usage, ca, path_len: the request fields issuance derives from the
	 * profile (lab.c pkl_profile_apply: keyEncipherment added for an RSA key
	 * when rsa_key_encipherment says so, basicConstraints on a CA only),
	 * for the key the lab asks for today. */
	pkl_profile_apply(&e->prof, &e->prof.key, &req, eku_ptrs);
	was->n = now->n = 0;
	ku_of(cert, was);
	ku_names_of(req.key_usage, now);
	list(it, "key_usage", was, now);
	bc_of(cert, a, sizeof(a), b, sizeof(b));
	scalar(it, "ca", a, req.is_ca ? "true" : "false");
	if (req.path_len >= 0)
		snprintf(c, sizeof(c), "%d", req.path_len);
	else
		snprintf(c, sizeof(c), "none");
	scalar(it, "path_len", b, c);

	/* critical: the criticality of each extension the certificate has. */
	was->n = now->n = 0;
	critical_of(cert, subject, was, now);
	list(it, "critical", was, now);

	/* not_before and validity. A bound matches when the certificate has
	 * the lab's date (an absolute time, which stays put) or the same
	 * offset from its issue time (backdate, relative times and the
	 * validity after them, whose dates move with every build). The issue
	 * time is the record's: the lab's `now` when build issued it. */
	if (pkl_time_from_asn1(X509_get0_notBefore(cert), &nb) != PKL_OK ||
	    pkl_time_from_asn1(X509_get0_notAfter(cert), &na) != PKL_OK) {
		rc = pkl_err_set(err, PKL_ERUNTIME, row->name, "unreadable validity");
		goto out;
	}
	if (nb != e->not_before && nb - row->issued_at != e->not_before - lab->now) {
		offset_str(nb - row->issued_at, c, sizeof(c));
		offset_str(e->not_before - lab->now, d, sizeof(d));
		scalar(it, "not_before", c, d);
	}
	if (na != e->not_after && na - nb != e->not_after - e->not_before) {
		duration_str(na - nb, a, sizeof(a));
		duration_str(e->not_after - e->not_before, b, sizeof(b));
		scalar(it, "validity", a, b);
	}

	scalar(it, "template", row->template_name, e->prof.template_name);
	scalar(it, "issuer", row->issuer_name, e->issuer[0] ? e->issuer : e->name);

	/* cdp, aia, cdp_layout: what the issuer writes today (issue.c). */
	was->n = now->n = 0;
	if ((rc = pkl_certread_cdp(cert, &names, err)) != PKL_OK)
		goto out;
	tl_of_names(was, &names);
	pkl_certread_names_free(&names);
	for (size_t i = 0; e->issuer[0] && e->prof.cdp && i < lab->n_cdp; i++) {
		char u[PKL_URI_MAX + PKL_NAME_MAX + 16];
		pkl_issue_url(u, sizeof(u), lab->cdp[i], 0, e->issuer);
		snprintf(t, sizeof(t), "URI:%s", u);
		tl_add(now, t);
	}
	list(it, "cdp", was, now);
	points = cdp_points(cert);
	if (now->n > 1 && points > 0)
		scalar(it, "cdp_layout", points == 1 ? "one-point" : "point-per-uri",
		       lab->cdp_point_per_uri ? "point-per-uri" : "one-point");
	was->n = now->n = 0;
	if ((rc = pkl_certread_aia(cert, PKL_AIA_CA_ISSUERS, &names, err)) != PKL_OK)
		goto out;
	tl_of_names(was, &names);
	pkl_certread_names_free(&names);
	for (size_t i = 0; e->issuer[0] && e->prof.aia && i < lab->n_cdp; i++) {
		char u[PKL_URI_MAX + PKL_NAME_MAX + 16];
		pkl_issue_url(u, sizeof(u), lab->cdp[i], 1, e->issuer);
		snprintf(t, sizeof(t), "URI:%s", u);
		tl_add(now, t);
	}
	list(it, "aia", was, now);
out:
	pkl_certread_names_free(&names);
	X509_NAME_free(subject);
	free(was);
	free(now);
	return rc;
}

/* Reads the kept certificate from the database and compares it. */
static enum pkl_rc note_differences(struct pkl_build_plan *plan, struct pkl_build_item *it,
				    struct pkl_err *err)
{
	struct pkl_buf der = PKL_BUF_INIT;
	X509 *x = NULL;
	enum pkl_rc rc = pkl_db_cert_der(plan->pki->db, it->row.id, &der, err);

	if (rc == PKL_OK && !(x = pkl_cert_from_der(der.data, der.len, it->row.name, err)))
		rc = err->rc;
	if (rc == PKL_OK)
		rc = pkl_build_diff(plan->lab, it->e, &it->row, x, it, err);
	X509_free(x);
	pkl_buf_free(&der);
	return rc;
}

/* With apply_changes: an end-entity that differs is re-issued. A CA that
 * differs is refused: re-issuing it would either change the key every
 * certificate below verifies with, or change its name, extensions or
 * issuer under the same key, and both are a rollover (RFC 4210 §4.4 names
 * the old-with-new certificates a key change needs), separate work. */
static enum pkl_rc plan_change(struct pkl_build_item *it, struct pkl_err *err)
{
	char fields[sizeof(it->differs)];
	size_t n;

	if (!it->n_changes)
		return PKL_OK;
	snprintf(fields, sizeof(fields), "%s", it->differs);
	n = strlen(fields);
	while (n && fields[n - 1] == ' ')
		fields[--n] = '\0';
	if (it->e->is_ca)
		return pkl_err_set(err, PKL_EINPUT, it->e->where,
				   "CA '%s' differs from the lab (%s): build --apply re-issues only "
				   "end-entity certificates; changing a CA is a rollover: restore its entry "
				   "in the lab, or build the lab into a new PKI (--pki DIR)",
				   it->e->name, fields);
	it->action = PKL_BUILD_REISSUE;
	snprintf(it->old_serial, sizeof(it->old_serial), "%s", it->row.serial);
	return PKL_OK;
}

/* Orphans: current, unrevoked certificates a lab issued whose name the lab
 * lost. `pkilab issue` certificates were never in the lab: not orphans. */
static int collect_orphan(const struct pkl_cert_row *row, void *cls)
{
	struct pkl_build_plan *plan = cls;
	struct build_orphan *v;

	if (row->status != PKL_STATUS_VALID || !strcmp(row->origin, PKL_ORIGIN_ISSUE) ||
	    pkl_lab_find(plan->lab, row->name))
		return 0;
	v = realloc(plan->orphans, (plan->n_orphans + 1) * sizeof(*plan->orphans));
	if (!v)
		return 1;
	plan->orphans = v;
	v = &plan->orphans[plan->n_orphans++];
	snprintf(v->name, sizeof(v->name), "%s", row->name);
	v->unknown = strcmp(row->origin, PKL_ORIGIN_LAB) != 0;
	plan->n_known_orphans += !v->unknown;
	return 0;
}

struct pkl_build_plan *pkl_build_plan_new(const struct pkl_lab *lab, const struct pkl_build_opts *opts,
					  struct pkl_err *err)
{
	struct pkl_build_plan *plan = calloc(1, sizeof(*plan));
	char dbpath[PATH_MAX + 16];

	if (!plan) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		return NULL;
	}
	plan->lab = lab;
	if (!realpath(lab->path, plan->lab_path))
		snprintf(plan->lab_path, sizeof(plan->lab_path), "%s", lab->path);
	plan->keygen_threads = opts ? opts->keygen_threads : 0;
	plan->apply_changes = opts && opts->apply_changes;
	plan->revoke_orphans = opts && opts->revoke_orphans;
	snprintf(plan->pki_dir, sizeof(plan->pki_dir), "%s",
		 opts && opts->pki_dir ? opts->pki_dir : lab->pki_dir);
	snprintf(dbpath, sizeof(dbpath), "%s/pkilab.db", plan->pki_dir);
	plan->fresh = !pkl_file_exists(dbpath);
	if (plan->fresh && pkl_file_exists(plan->pki_dir) && !dir_is_empty(plan->pki_dir)) {
		/* Only an empty directory may be built into: rename() replaces it
		 * atomically, and leaves it untouched when the build fails. */
		pkl_err_set(err, PKL_EINPUT, plan->pki_dir,
			    "exists, is not empty and holds no pkilab.db: refusing to build into it");
		goto fail;
	}
	plan->n = lab->n_ents;
	plan->slots = calloc(plan->n ? plan->n : 1, sizeof(*plan->slots));
	if (!plan->slots) {
		pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < plan->n; i++) {
		plan->slots[i].pub.e = &lab->ents[i];
		plan->slots[i].pub.action = PKL_BUILD_ISSUE;
	}
	if (plan->fresh)
		return plan;
	plan->pki = pkl_pki_open(plan->pki_dir, 0, err);
	if (!plan->pki || check_lab(plan, plan->pki->db, err) != PKL_OK)
		goto fail;
	for (size_t i = 0; i < plan->n; i++) {
		struct pkl_build_item *it = &plan->slots[i].pub;
		struct pkl_err none;
		if (pkl_db_cert_find(plan->pki->db, it->e->name, &it->row, &none) == PKL_OK) {
			it->action = PKL_BUILD_KEEP;
			if (note_differences(plan, it, err) != PKL_OK ||
			    (plan->apply_changes && plan_change(it, err) != PKL_OK))
				goto fail;
		} else if (pkl_pki_check_unrecorded(plan->pki, it->e->name, err) != PKL_OK) {
			/* Files without records: never overwritten (CA keys above all). */
			goto fail;
		}
	}
	if (pkl_db_cert_each(plan->pki->db, 0, collect_orphan, plan, err) != PKL_OK)
		goto fail;
	return plan;
fail:
	pkl_build_plan_free(plan);
	return NULL;
}

void pkl_build_plan_free(struct pkl_build_plan *plan)
{
	if (!plan)
		return;
	pkl_pki_close(plan->pki);
	for (size_t i = 0; plan->slots && i < plan->n; i++) {
		EVP_PKEY_free(plan->slots[i].key);
		EVP_PKEY_free(plan->slots[i].ca_key);
		X509_free(plan->slots[i].cert);
	}
	free(plan->slots);
	free(plan->orphans);
	free(plan->crl_cas);
	free(plan->crls);
	free(plan);
}

const char *pkl_build_plan_pki_dir(const struct pkl_build_plan *plan)
{
	return plan->pki_dir;
}

int pkl_build_plan_fresh(const struct pkl_build_plan *plan)
{
	return plan->fresh;
}

size_t pkl_build_plan_count(const struct pkl_build_plan *plan)
{
	return plan->n;
}

const struct pkl_build_item *pkl_build_plan_item(const struct pkl_build_plan *plan, size_t i)
{
	return i < plan->n ? &plan->slots[i].pub : NULL;
}

size_t pkl_build_plan_n_orphans(const struct pkl_build_plan *plan)
{
	return plan->n_orphans;
}

const char *pkl_build_plan_orphan(const struct pkl_build_plan *plan, size_t i)
{
	return i < plan->n_orphans ? plan->orphans[i].name : NULL;
}

int pkl_build_plan_orphan_unknown(const struct pkl_build_plan *plan, size_t i)
{
	return i < plan->n_orphans && plan->orphans[i].unknown;
}

int pkl_build_plan_drifted(const struct pkl_build_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->slots[i].pub.action == PKL_BUILD_KEEP && plan->slots[i].pub.n_changes)
			return 1;
	return plan->n_known_orphans && !plan->revoke_orphans;
}

int pkl_build_plan_revokes_orphans(const struct pkl_build_plan *plan)
{
	return plan->revoke_orphans && plan->n_known_orphans;
}

size_t pkl_build_plan_n_revoked_orphans(const struct pkl_build_plan *plan)
{
	return plan->revoke_orphans ? plan->n_known_orphans : 0;
}

size_t pkl_build_plan_n_crls(const struct pkl_build_plan *plan)
{
	return plan->n_crls;
}

const struct pkl_crl_info *pkl_build_plan_crl(const struct pkl_build_plan *plan, size_t i)
{
	return i < plan->n_crls ? &plan->crls[i] : NULL;
}

size_t pkl_build_plan_n(const struct pkl_build_plan *plan, enum pkl_build_action action)
{
	size_t k = 0;

	for (size_t i = 0; i < plan->n; i++)
		if (plan->slots[i].pub.action == action)
			k++;
	return k;
}

/* Key generation dominates RSA issuance: every new key comes from the pool
 * before the transaction begins. */
static enum pkl_rc generate_keys(struct pkl_build_plan *plan, struct pkl_err *err)
{
	struct pkl_keygen_job *jobs = calloc(plan->n ? plan->n : 1, sizeof(*jobs));
	size_t failed = 0;
	enum pkl_rc rc;

	if (!jobs)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	for (size_t i = 0; i < plan->n; i++)
		if (plan->slots[i].pub.action != PKL_BUILD_KEEP)
			jobs[i].spec = &plan->slots[i].pub.e->prof.key;
	rc = pkl_keygen_run(jobs, plan->n, plan->keygen_threads, &failed);
	for (size_t i = 0; i < plan->n; i++)
		plan->slots[i].key = jobs[i].key;
	if (rc != PKL_OK) {
		*err = jobs[failed].err;
		pkl_err_where(err, plan->slots[failed].pub.e->where);
		err->rc = rc;
	}
	free(jobs);
	return rc;
}

static struct build_slot *find_slot(struct pkl_build_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (!strcmp(plan->slots[i].pub.e->name, name))
			return &plan->slots[i];
	return NULL;
}

/* A CA whose CRL must be re-signed because it revoked something. */
static enum pkl_rc concern_ca(struct pkl_build_plan *plan, const char *ca, struct pkl_err *err)
{
	void *v;

	for (size_t i = 0; i < plan->n_crl_cas; i++)
		if (!strcmp(plan->crl_cas[i], ca))
			return PKL_OK;
	if (!(v = realloc(plan->crl_cas, (plan->n_crl_cas + 1) * sizeof(*plan->crl_cas))))
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	plan->crl_cas = v;
	snprintf(plan->crl_cas[plan->n_crl_cas++], PKL_NAME_MAX, "%s", ca);
	return PKL_OK;
}

/* Revokes the current certificate `row` in the transaction (reason: enum
 * pkl_reason), dated like `pkilab revoke` (crl.h PKL_CRL_BACKDATE), and
 * notes its CA. */
static enum pkl_rc revoke_row(struct pkl_build_plan *plan, struct pkl_db *db, const struct pkl_cert_row *row,
			      pkl_time now, int reason, const char *why, struct pkl_err *err)
{
	char detail[256];
	int revoked = 0;
	enum pkl_rc rc = pkl_db_cert_revoke(db, row->id, now - PKL_CRL_BACKDATE, reason, 0, &revoked, err);

	if (rc != PKL_OK || !revoked)
		return rc;
	snprintf(detail, sizeof(detail), "serial %s, reason %s: %s", row->serial, pkl_reason_name(reason),
		 why);
	if ((rc = pkl_db_event(db, "revoke", row->name, detail, err)) != PKL_OK)
		return rc;
	return concern_ca(plan, row->issuer_name, err);
}

/* A REISSUE item, before its new certificate is issued: the certificate it
 * replaces leaves the current set and is revoked as superseded. */
static enum pkl_rc retire_replaced(struct pkl_build_plan *plan, struct pkl_db *db,
				   const struct pkl_build_item *it, pkl_time now, struct pkl_err *err)
{
	struct pkl_cert_row again;
	char why[sizeof(it->differs) + 64];
	enum pkl_rc rc;

	/* Re-read under the write lock: another process may have renewed it. */
	if ((rc = pkl_db_cert_find(db, it->e->name, &again, err)) != PKL_OK)
		return rc;
	if (again.id != it->row.id)
		return pkl_err_set(err, PKL_EINPUT, it->e->where,
				   "'%s' was re-issued concurrently (serial %s): build again", it->e->name,
				   again.serial);
	if ((rc = pkl_db_cert_retire(db, again.id, err)) != PKL_OK)
		return rc;
	snprintf(why, sizeof(why), "re-issued by build --apply (%s)", it->differs);
	return revoke_row(plan, db, &again, now, PKL_REASON_SUPERSEDED, why, err);
}

/* With revoke_orphans: each orphan revoked as cessationOfOperation. */
static enum pkl_rc revoke_orphans(struct pkl_build_plan *plan, struct pkl_db *db, pkl_time now,
				  struct pkl_err *err)
{
	enum pkl_rc rc = PKL_OK;

	for (size_t i = 0; plan->revoke_orphans && i < plan->n_orphans && rc == PKL_OK; i++) {
		struct pkl_cert_row row;
		if (plan->orphans[i].unknown)
			continue;
		if ((rc = pkl_db_cert_find(db, plan->orphans[i].name, &row, err)) == PKL_OK)
			rc = revoke_row(plan, db, &row, now, PKL_REASON_CESSATION_OF_OPERATION,
					"not in the lab (build --revoke-orphans)", err);
	}
	return rc;
}

/* The CRL of every concerned CA, signed in the same transaction. */
static enum pkl_rc resign_crls(struct pkl_build_plan *plan, struct pkl_txn *txn, struct pkl_pki *pki,
			       pkl_time now, struct pkl_err *err)
{
	enum pkl_rc rc = PKL_OK;

	free(plan->crls);
	plan->n_crls = 0;
	if (!plan->n_crl_cas)
		return PKL_OK;
	if (!(plan->crls = calloc(plan->n_crl_cas, sizeof(*plan->crls))))
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	for (size_t i = 0; i < plan->n_crl_cas && rc == PKL_OK; i++)
		if ((rc = pkl_crl_publish_in(txn, pki, plan->crl_cas[i], 0, now, &plan->crls[i], err)) ==
		    PKL_OK)
			plan->n_crls++;
	return rc;
}

/* Everything new in one transaction, issuers (first in lab order) loaded
 * from the PKI when they are kept. */
static enum pkl_rc issue_all(struct pkl_build_plan *plan, struct pkl_pki *pki, struct pkl_err *err)
{
	const struct pkl_lab *lab = plan->lab;
	struct pkl_issue_ctx ctx = { .n_cdp = lab->n_cdp,
				     .cdp_point_per_uri = lab->cdp_point_per_uri,
				     .now = lab->now,
				     .origin = PKL_ORIGIN_LAB };
	struct pkl_txn *txn;
	enum pkl_rc rc;

	memcpy(ctx.cdp, lab->cdp, sizeof(ctx.cdp));
	txn = pkl_txn_begin(pki, err);
	if (!txn)
		return err->rc;
	ctx.cache = pkl_issue_cache_new(); /* NULL only costs speed */
	/* The lab's current publication settings apply to what is issued later. */
	rc = pkl_issue_ctx_save(pki, &ctx, err);
	if (rc == PKL_OK && (rc = check_lab(plan, pki->db, err)) == PKL_OK)
		rc = record_lab(plan, pki->db, err);
	for (size_t i = 0; i < plan->n && rc == PKL_OK; i++) {
		struct build_slot *it = &plan->slots[i], *iss = NULL;
		const struct pkl_entity *e = it->pub.e;
		if (it->pub.action == PKL_BUILD_KEEP)
			continue;
		if (it->pub.action == PKL_BUILD_REISSUE &&
		    (rc = retire_replaced(plan, pki->db, &it->pub, ctx.now, err)) != PKL_OK)
			break;
		if (e->issuer[0]) {
			iss = find_slot(plan, e->issuer);
			if (!iss->cert && !(iss->cert = pkl_pki_load_ca_cert(pki, iss->pub.e->name, err))) {
				rc = err->rc;
				break;
			}
			if (!iss->ca_key && !(iss->ca_key = pkl_pki_load_key(pki, iss->pub.e->name, err))) {
				rc = err->rc;
				break;
			}
		}
		rc = pkl_issue_entity(txn, pki, &ctx, e, iss ? iss->cert : NULL, iss ? iss->ca_key : NULL,
				      it->key, 1, &it->cert, e->is_ca ? &it->ca_key : NULL, err);
		if (rc == PKL_OK)
			rc = pkl_db_cert_find(pki->db, e->name, &it->pub.row, err);
	}
	if (rc == PKL_OK)
		rc = revoke_orphans(plan, pki->db, ctx.now, err);
	if (rc == PKL_OK)
		rc = resign_crls(plan, txn, pki, ctx.now, err);
	pkl_issue_cache_free(ctx.cache);
	if (rc != PKL_OK) {
		pkl_txn_abort(txn);
		return rc;
	}
	return pkl_txn_commit(txn, err);
}

/* A new PKI: issued into a staging directory "<dir>.new-<pid>-XXXXXX" beside
 * it (a pkl_fileset entry), which then replaces the (missing or empty) PKI
 * directory in one rename, so that a failure leaves nothing behind and
 * success appears at once. */
static enum pkl_rc apply_fresh(struct pkl_build_plan *plan, struct pkl_err *err)
{
	char staging[PATH_MAX], parent[PATH_MAX], tmp[PATH_MAX];
	struct pkl_fileset *fs = NULL;
	struct pkl_pki *pki = NULL;
	enum pkl_rc rc;

	snprintf(tmp, sizeof(tmp), "%s", plan->pki_dir);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	fs = pkl_fileset_begin(parent, 0, err);
	if (!fs)
		return err->rc;
	rc = pkl_fileset_add_dir(fs, plan->pki_dir, staging, sizeof(staging), err);
	if (rc != PKL_OK)
		goto out;
	pki = pkl_pki_open(staging, 1, err);
	if (!pki) {
		rc = err->rc;
		goto out;
	}
	pki->staging = 1;
	rc = issue_all(plan, pki, err);
	if (rc != PKL_OK)
		goto out;
	pkl_pki_close(pki);
	pki = NULL;
	rc = pkl_fileset_commit(fs, NULL, err);
out:
	pkl_pki_close(pki);
	pkl_fileset_free(fs);
	return rc;
}

/* 1 when applying would change nothing: every entry kept, no orphan to
 * revoke, and the PKI already records this lab (record_lab) and its
 * publication settings (pkl_issue_ctx_save). A rebuild that converged
 * writes not a byte, so running it from cron or CI leaves pkilab.db as it
 * was. Any doubt (a read failing) means "write". */
static int nothing_to_apply(const struct pkl_build_plan *plan)
{
	const struct pkl_lab *lab = plan->lab;
	char name[PKL_NAME_MAX * 4], path[PATH_MAX];
	struct pkl_issue_ctx saved;
	struct pkl_err ignored = { 0 };

	if (plan->fresh || pkl_build_plan_n(plan, PKL_BUILD_KEEP) != plan->n ||
	    pkl_build_plan_revokes_orphans(plan))
		return 0;
	if (pkl_db_meta_get(plan->pki->db, PKL_BUILD_META_LAB_NAME, name, sizeof(name), &ignored) != PKL_OK ||
	    pkl_db_meta_get(plan->pki->db, PKL_BUILD_META_LAB_PATH, path, sizeof(path), &ignored) != PKL_OK ||
	    strcmp(name, lab->name) != 0 || strcmp(path, plan->lab_path) != 0)
		return 0;
	if (pkl_issue_ctx_load(plan->pki, &saved, &ignored) != PKL_OK || saved.n_cdp != lab->n_cdp ||
	    saved.cdp_point_per_uri != lab->cdp_point_per_uri)
		return 0;
	for (size_t i = 0; i < lab->n_cdp; i++)
		if (strcmp(saved.cdp[i], lab->cdp[i]) != 0)
			return 0;
	return 1;
}

enum pkl_rc pkl_build_apply(struct pkl_build_plan *plan, struct pkl_err *err)
{
	enum pkl_rc rc;

	if (plan->applied)
		return pkl_err_set(err, PKL_EINPUT, plan->pki_dir, "this build plan was applied already");
	plan->applied = 1;
	if (nothing_to_apply(plan))
		return PKL_OK;
	rc = generate_keys(plan, err);
	if (rc != PKL_OK)
		return rc;
	if (plan->fresh)
		return apply_fresh(plan, err);
	return issue_all(plan, plan->pki, err);
}
