/*
 * CRL numbering and publication (see pkilab/crl_publish.h).
 *
 * Publishing walks the revoked rows of one CA (pkl_db_revoked_each) into a
 * flat array (no OpenSSL object per entry), hands it to pkl_crl_sign, and
 * stages the DER through a pkl_txn together with the `cas` row and a
 * `crl_log` row, so the file in publish/ and the database always agree. The
 * SQL is db.c's. The CRL in force is read with pkl_crl_walk_file, which
 * skips revokedCertificates: reading the number of a 35 MB CRL must not cost
 * what decoding a million entries costs. Only --due decodes it whole, to
 * judge it (crl_state.c: signer, listed revocations, times).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "pkilab/crl_publish.h"
#include "pkilab/crl_read.h"
#include "pkilab/crl_state.h"
#include "pkilab/file.h"

/* ---- CRL numbers ---- */

enum pkl_rc pkl_crl_next_number(const char *stored, const unsigned char *published, size_t published_len,
				uint64_t now_ms, char *out, size_t outlen, struct pkl_err *err)
{
	BIGNUM *best = BN_new(), *x = NULL;
	char *dec = NULL;
	enum pkl_rc rc = PKL_ERUNTIME;

	if (!best || !BN_set_word(best, (BN_ULONG)now_ms)) {
		rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot compute the CRL number");
		goto out;
	}
	if (stored && *stored) {
		if (BN_dec2bn(&x, stored) != (int)strlen(stored) || BN_is_negative(x)) {
			rc = pkl_err_set(err, PKL_ERUNTIME, "pkilab.db",
					 "stored CRL number '%s' is not a decimal number", stored);
			goto out;
		}
		if (!BN_add_word(x, 1))
			goto ssl;
		if (BN_cmp(x, best) > 0) {
			BN_free(best);
			best = x;
			x = NULL;
		}
		BN_free(x);
		x = NULL;
	}
	if (published && published_len) {
		x = BN_bin2bn(published, (int)published_len, NULL);
		if (!x || !BN_add_word(x, 1))
			goto ssl;
		if (BN_cmp(x, best) > 0) {
			BN_free(best);
			best = x;
			x = NULL;
		}
	}
	/* RFC 5280 5.2.3: at most 20 octets, i.e. below 2^159 as a positive INTEGER. */
	if (BN_num_bits(best) > 159) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "CRL number would exceed 20 octets");
		goto out;
	}
	dec = BN_bn2dec(best);
	if (!dec)
		goto ssl;
	if (strlen(dec) >= outlen) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "CRL number too long");
		goto out;
	}
	memcpy(out, dec, strlen(dec) + 1);
	rc = PKL_OK;
	goto out;
ssl:
	rc = pkl_err_ssl(err, PKL_ERUNTIME, NULL, "cannot compute the CRL number");
out:
	OPENSSL_free(dec);
	BN_free(best);
	BN_free(x);
	return rc;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void pkl_crl_number_from_time(pkl_time now_s, unsigned char out[8])
{
	struct timespec ts;
	uint64_t ms = (uint64_t)now_s * 1000;

	/* Sub-second part from the real clock so two CRLs in one second differ. */
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		ms += (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(ms & 0xff);
		ms >>= 8;
	}
	out[0] &= 0x7f;
}

static int dec_to_bin(const char *dec, unsigned char out[20], size_t *len)
{
	BIGNUM *bn = NULL;
	int ok = 0, n = BN_dec2bn(&bn, dec);

	/* n == 0 (an empty or non-decimal string) leaves bn NULL. */
	if (n <= 0 || (size_t)n != strlen(dec) || BN_num_bytes(bn) > 20)
		goto out;
	*len = (size_t)BN_bn2bin(bn, out);
	if (*len == 0) {
		out[0] = 0;
		*len = 1;
	}
	ok = 1;
out:
	BN_free(bn);
	return ok;
}

static int bin_to_dec(const unsigned char *bin, size_t len, char *out, size_t outlen)
{
	BIGNUM *bn = BN_bin2bn(bin, (int)len, NULL);
	char *dec = bn ? BN_bn2dec(bn) : NULL;
	int ok = dec && strlen(dec) < outlen;

	if (ok)
		memcpy(out, dec, strlen(dec) + 1);
	OPENSSL_free(dec);
	BN_free(bn);
	return ok;
}

/* ---- publication ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "3fa1.." -> big-endian bytes (an odd digit count gets a leading nibble 0). */
static int serial_from_hex(const char *s, size_t n, struct pkl_crl_entry *e)
{
	size_t i = 0, o = 0;

	if (n == 0 || n > 40)
		return -1;
	if (n & 1) {
		int v = hexval((unsigned char)s[0]);
		if (v < 0)
			return -1;
		e->serial[o++] = (unsigned char)v;
		i = 1;
	}
	for (; i < n; i += 2) {
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		e->serial[o++] = (unsigned char)(hi << 4 | lo);
	}
	e->serial_len = o;
	return 0;
}

struct entries {
	struct pkl_crl_entry *v;
	size_t n, cap;
};

/* The walk's state: the array, and the error that stopped it. */
struct load {
	struct entries *es;
	pkl_time this_update;
	struct pkl_err *err;
	enum pkl_rc rc;
};

static int load_one(const struct pkl_db_issued *c, void *cls)
{
	struct load *l = cls;
	struct entries *es = l->es;
	struct pkl_crl_entry *e;

	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 1024;
		void *nv = realloc(es->v, cap * sizeof(*es->v));
		if (!nv) {
			l->rc = pkl_err_set(l->err, PKL_ERUNTIME, NULL, "out of memory");
			return 1;
		}
		es->v = nv;
		es->cap = cap;
	}
	e = &es->v[es->n];
	if (!c->serial || serial_from_hex(c->serial, c->serial_len, e) != 0) {
		l->rc = pkl_err_set(l->err, PKL_ERUNTIME, "pkilab.db", "malformed serial '%s' in certs",
				    c->serial ? c->serial : "");
		return 1;
	}
	e->revoked_at = c->revoked_at;
	/* revocationDate <= thisUpdate (RFC 5280 §5.1.2.4, §5.1.2.6). Revocations are recorded
	 * back-dated like thisUpdate (PKL_CRL_BACKDATE), so only a clock set back since clamps. */
	if (e->revoked_at > l->this_update)
		e->revoked_at = l->this_update;
	e->reason = c->reason < 0 ? PKL_REASON_NONE : c->reason;
	if (e->reason == 0 || e->reason == 7 || e->reason < -1 || e->reason > 10)
		e->reason = PKL_REASON_NONE;
	e->invalidity = c->invalidity;
	es->n++;
	return 0;
}

static enum pkl_rc load_entries(struct pkl_db *db, int64_t ca_id, pkl_time this_update, struct entries *es,
				struct pkl_err *err)
{
	struct load l = { es, this_update, err, PKL_OK };
	enum pkl_rc rc = pkl_db_revoked_each(db, ca_id, load_one, &l, err);

	return rc != PKL_OK ? rc : l.rc;
}

/* The check pkilab-cdpd applies before it serves a CRL (cdp-server/snapshot.c):
 * issuer byte-equal to the CA subject, AKI, cRLSign, signature, CRL number,
 * then freshness at `now`. Run on every CRL pkilab signs, before it is
 * committed, so a CRL that relying parties or cdpd would refuse is never
 * published. */
enum pkl_rc pkl_crl_selfcheck(const struct pkl_buf *der, X509 *ca, const char *where, pkl_time now,
			      struct pkl_err *err)
{
	struct pkl_crlinfo ci;
	struct pkl_err sub = { 0 };

	if (pkl_crlcheck_verify(der->data, der->len, where, ca, &ci, &sub) != PKL_OK ||
	    pkl_crlcheck_fresh(&ci, now, 0, where, &sub) != PKL_OK)
		return pkl_err_set(err, PKL_ERUNTIME, where,
				   "the CRL just signed fails the check relying parties apply (%s): "
				   "not published",
				   sub.msg);
	return PKL_OK;
}

enum pkl_rc pkl_crl_publish_first(X509 *ca, EVP_PKEY *ca_key, pkl_time now, int64_t lifetime,
				  const char *where, struct pkl_buf *der, struct pkl_ca_state *st,
				  struct pkl_err *err)
{
	struct pkl_crl_req req = { 0 };
	enum pkl_rc rc;

	/* Back-dated a few minutes so a relying party with a slightly slow
	 * clock does not see it as not yet valid. */
	req.this_update = now - PKL_CRL_BACKDATE;
	req.next_update = req.this_update + lifetime; /* as pkl_crl_publish does */
	pkl_crl_number_from_time(now, req.number);
	req.number_len = 8;
	rc = pkl_crl_sign(&req, ca, ca_key, der, err);
	/* The check cdpd applies, before the CRL is committed. */
	if (rc == PKL_OK)
		rc = pkl_crl_selfcheck(der, ca, where, now, err);
	if (rc != PKL_OK)
		return rc;
	if (!bin_to_dec(req.number, req.number_len, st->crl_number, sizeof(st->crl_number)))
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "cannot compute the CRL number");
	st->crl_this_update = req.this_update;
	st->crl_next_update = req.next_update;
	return PKL_OK;
}

enum pkl_rc pkl_crl_publish_in(struct pkl_txn *txn, struct pkl_pki *pki, const char *ca, int flags,
			       pkl_time now, struct pkl_crl_info *info, struct pkl_err *err)
{
	int due_only = (flags & PKL_PUBLISH_DUE) != 0;
	struct pkl_db *db = pki->db;
	struct pkl_ca_state cs;
	struct pkl_crl_tbs pub;
	struct pkl_crl_info res;
	struct pkl_crl_req req;
	struct pkl_buf der = PKL_BUF_INIT;
	struct entries es = { NULL, 0, 0 };
	struct pkl_err e2;
	X509 *cacert = NULL;
	EVP_PKEY *cakey = NULL;
	int have_pub;
	char number[64], detail[160];
	enum pkl_rc rc;

	memset(&res, 0, sizeof(res));
	memset(&req, 0, sizeof(req));
	snprintf(res.ca, sizeof(res.ca), "%s", ca);
	/* Its own message: "unknown CA" (input) or a database failure (runtime). */
	rc = pkl_db_ca_get(db, ca, &cs, err);
	if (rc != PKL_OK)
		goto out;
	rc = pkl_pki_path(pki, PKL_FILE_CRL, ca, res.path, sizeof(res.path), err);
	if (rc != PKL_OK)
		goto out;
	memset(&pub, 0, sizeof(pub)); /* read only when have_pub, but never garbage */
	have_pub = pkl_crl_walk_file(res.path, &pub, &e2) == PKL_OK;
	/* Not due while up to date (pkilab/crl_state.h): the one definition
	 * show, list, graph, expiring and doctor judge by too. */
	if (due_only) {
		struct pkl_crl_status st;

		rc = pkl_crl_state_judge(pki, ca, now, &st, NULL, err);
		if (rc != PKL_OK)
			goto out;
		if (!pkl_crl_state_due(st.state)) {
			snprintf(res.number, sizeof(res.number), "%s", st.info.number);
			res.this_update = st.info.this_update;
			res.next_update = st.info.next_update;
			res.n_entries = st.info.revoked;
			res.signed_now = 0;
			if (info)
				*info = res;
			rc = PKL_OK;
			goto out;
		}
	}

	res.this_update = now - PKL_CRL_BACKDATE;
	/* A clock behind the CRL in force would sign one dated before it, with
	 * every revocationDate clamped back too (RFC 5280 §5.1.2.4: thisUpdate is
	 * the issue date; a client holding the newer CRL keeps it, and the
	 * back-dated one looks older than what it replaces). Refused unless the
	 * operator says the clock was wrong before, not now. */
	{
		pkl_time prev = cs.crl_this_update;
		if (have_pub && pub.this_update > prev)
			prev = pub.this_update;
		if (res.this_update < prev && !(flags & PKL_PUBLISH_ALLOW_CLOCK_BEHIND)) {
			char a[32], b[32];
			rc = pkl_err_set(
				err, PKL_EINPUT, ca,
				"clock behind the published CRL: the new CRL would have thisUpdate %s, "
				"before the current one's %s; fix the clock, or pass --allow-clock-behind",
				pkl_time_fmt(res.this_update, a, sizeof(a)),
				pkl_time_fmt(prev, b, sizeof(b)));
			goto out;
		}
	}
	if (cs.crl_lifetime <= 0) {
		rc = pkl_err_set(err, PKL_ERUNTIME, "pkilab.db", "CA '%s' has no CRL lifetime", ca);
		goto out;
	}
	res.next_update = res.this_update + cs.crl_lifetime;
	/* nextUpdate never goes backwards between consecutive CRLs (RFC 5280 §5.1.2.5). */
	if (have_pub && pub.next_update > res.next_update)
		res.next_update = pub.next_update;
	rc = load_entries(db, cs.cert_id, res.this_update, &es, err);
	if (rc != PKL_OK)
		goto out;
	rc = pkl_crl_next_number(cs.crl_number, have_pub ? pub.number : NULL, have_pub ? pub.number_len : 0,
				 wall_ms(), number, sizeof(number), err);
	if (rc != PKL_OK)
		goto out;
	if (!dec_to_bin(number, req.number, &req.number_len)) {
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "bad CRL number '%s'", number);
		goto out;
	}
	/* Checked against its issuer and publish/aia/ before it signs anything. */
	cacert = pkl_pki_load_ca_cert(pki, ca, err);
	if (!cacert) {
		rc = err && err->rc ? err->rc : PKL_ERUNTIME;
		goto out;
	}
	cakey = pkl_pki_load_key(pki, ca, err);
	if (!cakey) {
		rc = err && err->rc ? err->rc : PKL_ERUNTIME;
		goto out;
	}
	req.this_update = res.this_update;
	req.next_update = res.next_update;
	req.entries = es.v;
	req.n_entries = es.n;
	req.md = NULL;
	rc = pkl_crl_sign(&req, cacert, cakey, &der, err);
	if (rc == PKL_OK)
		rc = pkl_crl_selfcheck(&der, cacert, res.path, now, err);
	if (rc != PKL_OK)
		goto out;
	/* The entries are no longer needed: free them before the file is staged
	 * so peak memory is entries or DER, not both plus the write. */
	free(es.v);
	es.v = NULL;
	rc = pkl_txn_put(txn, PKL_FILE_CRL, ca, der.data, der.len, err);
	if (rc != PKL_OK)
		goto out;
	snprintf(cs.crl_number, sizeof(cs.crl_number), "%s", number);
	cs.crl_this_update = res.this_update;
	cs.crl_next_update = res.next_update;
	rc = pkl_db_ca_put(db, &cs, err);
	if (rc != PKL_OK)
		goto out;
	{
		const struct pkl_db_crl_log log = {
			ca, number, res.this_update, res.next_update, (int64_t)es.n, now
		};
		rc = pkl_db_crl_log_add(db, &log, err);
		if (rc != PKL_OK)
			goto out;
	}
	snprintf(detail, sizeof(detail), "number %s, %zu entries", number, es.n);
	rc = pkl_db_event(db, "crl", ca, detail, err);
	if (rc != PKL_OK)
		goto out;
	snprintf(res.number, sizeof(res.number), "%s", number);
	res.n_entries = es.n;
	res.der_len = der.len;
	res.signed_now = 1;
	if (info)
		*info = res;
out:
	free(es.v);
	pkl_buf_free(&der);
	X509_free(cacert);
	EVP_PKEY_free(cakey);
	return rc;
}

enum pkl_rc pkl_crl_publish(struct pkl_pki *pki, const char *ca, int flags, struct pkl_crl_info *info,
			    struct pkl_err *err)
{
	struct pkl_crl_info res = { 0 };
	struct pkl_txn *txn = pkl_txn_begin(pki, err);
	enum pkl_rc rc;

	if (!txn)
		return err && err->rc ? err->rc : PKL_ERUNTIME;
	/* The clock is read once the write lock is held: a CRL another process
	 * committed while this one waited is then never dated after "now", which
	 * the clock-behind refusal would take for a clock going back. */
	rc = pkl_crl_publish_in(txn, pki, ca, flags, pkl_time_now(), &res, err);
	if (rc != PKL_OK || !res.signed_now) {
		pkl_txn_abort(txn);
	} else if ((rc = pkl_txn_commit(txn, err)) != PKL_OK) {
		return rc;
	}
	if (rc == PKL_OK && info)
		*info = res;
	return rc;
}

/* CA names collected before any is published: each publication is its own
 * transaction, which must not start while the list is being read. */
struct names {
	char (*v)[PKL_NAME_MAX];
	size_t n, cap;
	int oom;
};

static int add_name(const char *name, void *cls)
{
	struct names *ns = cls;

	if (ns->n == ns->cap) {
		size_t nc = ns->cap ? ns->cap * 2 : 16;
		void *nv = realloc(ns->v, nc * sizeof(*ns->v));
		if (!nv) {
			ns->oom = 1;
			return 1;
		}
		ns->v = nv;
		ns->cap = nc;
	}
	snprintf(ns->v[ns->n++], PKL_NAME_MAX, "%s", name);
	return 0;
}

enum pkl_rc pkl_crl_publish_all(struct pkl_pki *pki, int flags, pkl_crl_publish_fn fn, void *cls,
				struct pkl_err *err)
{
	struct names ns = { NULL, 0, 0, 0 };
	enum pkl_rc rc;

	rc = pkl_db_ca_each(pki->db, add_name, &ns, err);
	if (rc == PKL_OK && ns.oom)
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	for (size_t i = 0; rc == PKL_OK && i < ns.n; i++) {
		struct pkl_crl_info info;
		rc = pkl_crl_publish(pki, ns.v[i], flags, &info, err);
		if (rc == PKL_OK && fn)
			fn(&info, cls);
	}
	free(ns.v);
	return rc;
}
