/*
 * The trust set: the CA certificates the catalog serves at /aia/ and judges
 * CRLs with. They come from the configured trust files and directories (or,
 * without any, every publish directory's aia/), plus, in mirror mode, CAs
 * learned from peers: each issued by a configured CA (cdp_judge_ca), kept
 * in the catalog for the process lifetime and merged into every rebuilt
 * snapshot. A configured CA whose file goes bad keeps serving its last good
 * certificate.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "catalog.h"
#include "pkilab/buf.h"

/* ---- loading the configured CAs ---- */

static X509 *load_cert(const unsigned char *d, size_t n)
{
	const unsigned char *p = d;
	X509 *x = NULL;
	BIO *bio;

	if (n > 10 && memcmp(d, "-----BEGIN", 10) == 0) {
		bio = BIO_new_mem_buf(d, (int)n);
		if (bio)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else if (n < 0x7fffffff) {
		x = d2i_X509(NULL, &p, (long)n);
		if (x && p != d + n) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	return x;
}

void cdp_trust_free(struct cdp_trust_ca *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		X509_free(v[i].cert);
		cdp_blob_unref(v[i].der);
	}
	free(v);
}

/* Adds one trusted CA certificate file (PEM or DER) named after its file;
 * dir: the directory it was found in (see cdp_file_read), NULL for a file
 * configured by path. */
static void trust_add_file(struct cdp_trust_ca **v, size_t *n, const char *path, const char *dir,
			   struct cdp_problems *pr)
{
	struct pkl_buf b = PKL_BUF_INIT;
	struct pkl_err err = { 0 };
	const char *base = strrchr(path, '/');
	char name[CDP_NAME_MAX + 1], msg[600], eb[1600];
	unsigned char *der = NULL;
	size_t nl, i;
	int dlen;
	X509 *x = NULL;
	struct cdp_trust_ca *nv;

	base = base ? base + 1 : path;
	/* "root.crt": the name is what precedes the last suffix (names may contain dots). */
	nl = strrchr(base, '.') ? (size_t)(strrchr(base, '.') - base) : strlen(base);
	if (!cdp_name_valid(base, nl)) {
		snprintf(msg, sizeof(msg), "file name is not a valid CA name ([A-Za-z0-9._-]{1,64})");
		cdp_problem_add(pr, "", path, msg, 0);
		return;
	}
	memcpy(name, base, nl);
	name[nl] = '\0';
	if (cdp_file_read(path, dir, 1 << 20, &b, NULL, &err) != PKL_OK) {
		cdp_problem_add(pr, name, path, pkl_err_str(&err, eb, sizeof(eb)), 1);
		return;
	}
	x = load_cert(b.data, b.len);
	if (!x) {
		cdp_problem_add(pr, name, path, "not a certificate (PEM or DER)", 1);
		goto out;
	}
	dlen = i2d_X509(x, &der);
	if (dlen <= 0) {
		cdp_problem_add(pr, name, path, "cannot encode the certificate", 1);
		goto out;
	}
	for (i = 0; i < *n; i++) {
		if (strcmp((*v)[i].name, name) != 0)
			continue;
		if ((*v)[i].der->len != (size_t)dlen || memcmp((*v)[i].der->data, der, (size_t)dlen) != 0)
			cdp_problem_add(pr, name, path,
					"a different certificate for this CA name is already trusted (kept "
					"the first)",
					1);
		goto out;
	}
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		goto out;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	snprintf(nv[*n].name, sizeof(nv[*n].name), "%s", name);
	snprintf(nv[*n].source, sizeof(nv[*n].source), "%s", path);
	nv[*n].der = cdp_blob_new(der, (size_t)dlen);
	if (!nv[*n].der)
		goto out;
	nv[*n].cert = x;
	x = NULL;
	(*n)++;
out:
	OPENSSL_free(der);
	X509_free(x);
	pkl_buf_free(&b);
}

static void trust_add_dir(struct cdp_trust_ca **v, size_t *n, const char *dir, const char *base,
			  struct cdp_problems *pr, int missing_ok)
{
	struct dirent **list = NULL;
	char path[4096], eb[300];
	int k, i;

	k = scandir(dir, &list, NULL, cdp_name_sort);
	if (k < 0) {
		if (!(missing_ok && errno == ENOENT)) {
			snprintf(eb, sizeof(eb), "cannot read the directory: %s", strerror(errno));
			cdp_problem_add(pr, "", dir, eb, 1);
		}
		return;
	}
	for (i = 0; i < k; i++) {
		const char *d = list[i]->d_name;

		if (d[0] != '.' &&
		    (cdp_has_suffix(d, ".crt") || cdp_has_suffix(d, ".pem") || cdp_has_suffix(d, ".der") ||
		     cdp_has_suffix(d, ".cer")) &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, d) < sizeof(path))
			trust_add_file(v, n, path, base, pr);
		free(list[i]);
	}
	free(list);
}

void cdp_trust_load(const struct cdp_config *cfg, struct cdp_trust_ca **v, size_t *n, struct cdp_problems *pr)
{
	char path[4096];
	struct stat st;
	size_t i;

	*v = NULL;
	*n = 0;
	if (cfg->n_trust) {
		for (i = 0; i < cfg->n_trust; i++) {
			if (stat(cfg->trust[i], &st) == 0 && S_ISDIR(st.st_mode))
				trust_add_dir(v, n, cfg->trust[i], cfg->trust[i], pr, 0);
			else
				trust_add_file(v, n, cfg->trust[i], NULL, pr);
		}
		return;
	}
	for (i = 0; i < cfg->n_publish; i++)
		if ((size_t)snprintf(path, sizeof(path), "%s/aia", cfg->publish[i]) < sizeof(path))
			trust_add_dir(v, n, path, cfg->publish[i], pr, 1);
}

const struct cdp_trust_ca *cdp_trust_find(const struct cdp_trust_ca *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* ---- changing the set ---- */

/* Replaces the entry of name in v (owned) with a copy of t holding its own
 * references, or appends one. Returns 0 when out of memory. */
static int trust_put(struct cdp_trust_ca **v, size_t *n, const struct cdp_trust_ca *t)
{
	struct cdp_trust_ca *nv;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, t->name) == 0)
			break;
	if (i == *n) {
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv)
			return 0;
		*v = nv;
		(*n)++;
	} else {
		X509 *old_cert = (*v)[i].cert;
		struct cdp_blob *old_der = (*v)[i].der;

		/* References first: t may share objects with the entry it replaces. */
		X509_up_ref(t->cert);
		cdp_blob_ref(t->der);
		(*v)[i] = *t;
		X509_free(old_cert);
		cdp_blob_unref(old_der);
		return 1;
	}
	X509_up_ref(t->cert);
	cdp_blob_ref(t->der);
	(*v)[i] = *t;
	return 1;
}

/* ---- the last good CAs ---- */

/* A configured CA certificate that was served and is missing from the set
 * just loaded (its file truncated, half rewritten, unreadable, replaced by
 * something that is not a certificate, or deleted) stays in service, as the
 * last good CRL does when its file goes bad: a glitch of one file must not
 * take /aia/<ca>.crt and /crl/<ca>.crl offline. A bad file is a fatal
 * problem (it needs fixing); a deleted one is a warning, and the CA is
 * retired at the next restart. A CA whose file now holds another valid
 * certificate is not missing: that certificate replaces it. Called with
 * build_lock, before cdp_merge_learned(). */
void cdp_keep_last_good_cas(struct cdp_catalog *cat, struct cdp_trust_ca **v, size_t *n,
			    struct cdp_problems *pr)
{
	const char *kept = ": the last good CA certificate stays in service";
	size_t i, k;

	for (i = 0; i < cat->n_cas; i++) {
		const struct cdp_trust_ca *o = &cat->cas[i];
		struct stat st;
		int found = 0;

		if (o->learned || cdp_trust_find(*v, *n, o->name))
			continue;
		if (!trust_put(v, n, o))
			continue;
		for (k = 0; k < pr->n; k++)
			if (strcmp(pr->v[k].source, o->source) == 0 && pr->v[k].fatal) {
				size_t l = strlen(pr->v[k].msg);

				snprintf(pr->v[k].msg + l, sizeof(pr->v[k].msg) - l, "%s", kept);
				found = 1;
			}
		if (found)
			continue;
		if (lstat(o->source, &st) != 0 && errno == ENOENT) {
			cdp_problem_add(pr, o->name, o->source,
					"the CA certificate file is gone: the last good CA certificate stays "
					"in service until a restart",
					0);
		} else {
			char msg[512];

			/* E.g. its directory could not be listed (reported on its own). */
			snprintf(msg, sizeof(msg), "the CA certificate file was not loaded%s", kept);
			cdp_problem_add(pr, o->name, o->source, msg, 1);
		}
	}
}

/* ---- learned CAs ---- */

/* The configured (not learned) CAs of v: the only issuers a learned CA may
 * have. Arrays the caller frees; 0 with both NULL when out of memory. */
static size_t configured_issuers(const struct cdp_trust_ca *v, size_t n, X509 ***iss, const char ***names)
{
	size_t i, k = 0;

	*iss = calloc(n + 1, sizeof(X509 *));
	*names = calloc(n + 1, sizeof(const char *));
	if (!*iss || !*names) {
		free(*iss);
		free(*names);
		*iss = NULL;
		*names = NULL;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!v[i].learned) {
			(*iss)[k] = v[i].cert;
			(*names)[k++] = v[i].name;
		}
	return k;
}

/* Appends the learned CAs to the freshly loaded configured set v, judging
 * each again: one whose name a configured CA now has, or whose issuer is no
 * longer trusted (or which expired), is forgotten. Called with build_lock. */
void cdp_merge_learned(struct cdp_catalog *cat, struct cdp_trust_ca **v, size_t *n)
{
	X509 **iss = NULL;
	const char **names = NULL;
	size_t n_conf = configured_issuers(*v, *n, &iss, &names), i, k = 0;

	for (i = 0; i < cat->n_learned; i++) {
		struct cdp_trust_ca *l = &cat->learned[i], *nv;
		struct pkl_err err = { 0 };
		X509 *x = NULL;
		int keep = 0;

		if (cdp_trust_find(*v, *n, l->name))
			pkl_log(PKL_LOG_WARN,
				"aia '%s': a configured CA certificate now has this name: the one learned "
				"from %s is dropped",
				l->name, l->source);
		else if (cdp_judge_ca(l->der->data, l->der->len, iss, names, n_conf, pkl_time_now(),
				      l->source, &x, &err) != CDP_ACCEPT)
			pkl_log(PKL_LOG_WARN, "aia '%s': the CA certificate learned from %s is dropped: %s",
				l->name, l->source, err.msg);
		else
			keep = 1;
		X509_free(x);
		if (!keep) {
			X509_free(l->cert);
			cdp_blob_unref(l->der);
			continue;
		}
		cat->learned[k++] = *l;
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv)
			continue;
		*v = nv;
		nv[*n] = *l;
		X509_up_ref(nv[*n].cert);
		cdp_blob_ref(nv[*n].der);
		(*n)++;
	}
	cat->n_learned = k;
	free(iss);
	free(names);
}

enum cdp_verdict cdp_catalog_offer_ca(struct cdp_catalog *cat, const char *name, const unsigned char *der,
				      size_t len, const char *source, struct pkl_err *err)
{
	struct cdp_problems fatal = { 0 };
	struct cdp_snapshot *s;
	const struct cdp_trust_ca *ca;
	struct cdp_trust_ca nt;
	struct cdp_entry *entries = NULL;
	X509 **iss = NULL;
	const char **names = NULL;
	size_t n_conf, n, i;
	enum cdp_verdict v = CDP_INVALID;
	int has_crl = 0;

	memset(&nt, 0, sizeof(nt));
	pthread_mutex_lock(&cat->build_lock);
	s = cdp_catalog_acquire(cat);
	if (!cdp_name_valid(name, strlen(name))) {
		pkl_err_set(err, PKL_EINPUT, source, "not a valid CA name ([A-Za-z0-9._-]{1,64})");
		goto out;
	}
	ca = cdp_trust_find(cat->cas, cat->n_cas, name);
	if (ca && ca->der->len == len && memcmp(ca->der->data, der, len) == 0) {
		v = CDP_SAME;
		goto out;
	}
	if (ca && !ca->learned) {
		pkl_err_set(err, PKL_EINPUT, source,
			    "a different certificate is configured for '%s' (%s): a peer never replaces a "
			    "configured CA",
			    name, ca->source);
		v = CDP_CONFLICT;
		goto out;
	}
	n_conf = configured_issuers(cat->cas, cat->n_cas, &iss, &names);
	v = cdp_judge_ca(der, len, iss, names, n_conf, pkl_time_now(), source, &nt.cert, err);
	if (v != CDP_ACCEPT)
		goto out;
	if (ca) {
		/* A learned CA changes only forwards (a renewed intermediate), so
		 * two peers with different certificates cannot make it flap. */
		pkl_time nb_new = 0, nb_old = 0;

		pkl_time_from_asn1(X509_get0_notBefore(nt.cert), &nb_new);
		pkl_time_from_asn1(X509_get0_notBefore(ca->cert), &nb_old);
		if (nb_new <= nb_old) {
			pkl_err_set(err, PKL_EINPUT, source,
				    "%s than the certificate learned for '%s' from %s: keeping that one",
				    nb_new < nb_old ? "older (notBefore)" : "not newer (same notBefore)",
				    name, ca->source);
			v = nb_new < nb_old ? CDP_OLDER : CDP_CONFLICT;
			goto out;
		}
	}
	snprintf(nt.name, sizeof(nt.name), "%s", name);
	snprintf(nt.source, sizeof(nt.source), "%s", source);
	nt.learned = 1;
	nt.learned_at = pkl_time_now();
	nt.der = cdp_blob_new(der, len);
	entries = nt.der ? cdp_copy_entries(s, 1, &fatal) : NULL;
	if (!entries || !trust_put(&cat->learned, &cat->n_learned, &nt) ||
	    !trust_put(&cat->cas, &cat->n_cas, &nt)) {
		pkl_err_set(err, PKL_ERUNTIME, source, "out of memory");
		v = CDP_INVALID;
		goto out;
	}
	n = s->n_entries;
	i = cdp_entry_slot(entries, &n, CDP_AIA, name);
	cdp_make_aia_entry(&entries[i], &nt, cdp_lm_floor(cdp_snapshot_find(s, CDP_AIA, name)));
	/* A renewed CA: its served CRL stays only if the new key verifies it. */
	for (i = 0; i < n; i++) {
		struct pkl_crlinfo info;

		if (entries[i].kind != CDP_CRL || strcmp(entries[i].name, name) != 0)
			continue;
		if (pkl_crlcheck_verify(entries[i].body->data, entries[i].body->len, entries[i].source,
					nt.cert, &info, NULL) == PKL_OK) {
			has_crl = 1;
		} else {
			cdp_blob_unref(entries[i].body);
			entries[i] = entries[--n];
		}
		break;
	}
	if (!has_crl)
		cdp_problem_add(&fatal, name, "", cdp_catalog_no_crl_msg(cat), 1);
	pkl_log(PKL_LOG_INFO, "aia '%s': learned CA certificate from %s (issued by a trusted CA)", name,
		source);
	cdp_catalog_publish(cat, entries, n, &fatal);
	entries = NULL;
out:
	if (entries) {
		for (i = 0; i < s->n_entries; i++)
			cdp_blob_unref(entries[i].body);
		free(entries);
	}
	X509_free(nt.cert);
	cdp_blob_unref(nt.der);
	free(iss);
	free(names);
	free(fatal.v);
	cdp_snapshot_release(s);
	pthread_mutex_unlock(&cat->build_lock);
	return v;
}
