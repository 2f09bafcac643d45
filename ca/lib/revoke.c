/*
 * Revocation records and CRL publication (see pkilab/revoke.h).
 *
 * Revocations live in the `certs` table (status, revoked_at, reason,
 * invalidity), so one UPDATE in one transaction records them. Publishing
 * walks the revoked rows of one CA (pkl_db_revoked_each) into a flat array
 * (no OpenSSL object per entry), hands it to pkl_crl_sign, and stages the DER
 * through a pkl_txn together with the `cas` row and a `crl_log` row, so the
 * file in publish/ and the database always agree. The SQL is db.c's.
 *
 * The published CRL is read back with a small DER walker that skips the
 * revokedCertificates SEQUENCE without decoding it: reading the number of a
 * 35 MB CRL must not cost what decoding a million entries costs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pkilab/cert.h"
#include "pkilab/crlcheck.h"
#include "pkilab/file.h"
#include "pkilab/revoke.h"

#define CRL_BACKDATE 300 /* thisUpdate = now - 5 min (standards #52) */

/* For suggestions; the code <-> name table itself is crl.c's. */
static const char *const reason_names[] = {
	"keyCompromise",	"cACompromise",	      "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold",    "privilegeWithdrawn", "aACompromise",
	NULL,
};

const char *const *pkl_revoke_reason_names(void)
{
	return reason_names;
}

enum pkl_rc pkl_revoke_reason_parse(const char *s, int *out, int *warn, struct pkl_err *err)
{
	int code;

	*warn = 0;
	if (strcasecmp(s, "unspecified") == 0 || strcmp(s, "0") == 0)
		return pkl_err_set(err, PKL_EINPUT, "--reason",
				   "reason 'unspecified' is not used: omit --reason instead (RFC 5280 5.3.1)");
	if (strcasecmp(s, "removeFromCRL") == 0 || strcmp(s, "8") == 0)
		return pkl_err_set(err, PKL_EINPUT, "--reason",
				   "reason 'removeFromCRL' belongs to delta CRLs, which pkilab does not issue");
	if (strcmp(s, "7") == 0)
		return pkl_err_set(err, PKL_EINPUT, "--reason", "reason code 7 is unassigned in RFC 5280");
	/* Case-insensitive: "keycompromise" is an obvious typo of intent, not another
	 * reason. "none" maps to PKL_REASON_NONE there: not a reason to record. */
	code = pkl_reason_from_name(s);
	if (code > 0) {
		*out = code;
		*warn = code == PKL_REASON_CERTIFICATE_HOLD;
		return PKL_OK;
	}
	const char *sug = pkl_suggest(s, reason_names);
	if (sug)
		return pkl_err_set(err, PKL_EINPUT, "--reason", "unknown reason '%s' (did you mean '%s'?)",
				   s, sug);
	return pkl_err_set(err, PKL_EINPUT, "--reason",
			   "unknown reason '%s' (one of keyCompromise, cACompromise, affiliationChanged, "
			   "superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise)",
			   s);
}

/* "none" where no reasonCode is recorded (pkl_reason_name says "unspecified"). */
static const char *reason_str(int code)
{
	return code == PKL_REASON_NONE ? "none" : pkl_reason_name(code);
}

static int is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

enum pkl_rc pkl_revoke_check_ref(const char *ref, struct pkl_err *err)
{
	const char *p = ref;
	size_t digits = 0;

	if (!ref || !*ref)
		return pkl_err_set(err, PKL_EINPUT, NULL, "empty certificate name or serial");
	if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) || strchr(ref, ':')) {
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		for (; *p; p++) {
			if (*p == ':')
				continue;
			if (!is_hex((unsigned char)*p))
				return pkl_err_set(err, PKL_EINPUT, NULL,
						   "malformed serial '%s': expected hex digits, optionally "
						   "with '0x' and colons", ref);
			digits++;
		}
		if (digits == 0 || digits > 40)
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "malformed serial '%s': 1 to 40 hex digits expected", ref);
		return PKL_OK;
	}
	if (strlen(ref) >= PKL_NAME_MAX)
		return pkl_err_set(err, PKL_EINPUT, NULL, "name or serial '%.40s...' is too long", ref);
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return pkl_err_set(err, PKL_EINPUT, NULL,
					   "malformed name or serial '%s': names use letters, digits, "
					   "'.', '_' and '-'; serials are hex", ref);
	}
	return PKL_OK;
}

enum pkl_rc pkl_revoke_cert(struct pkl_pki *pki, const struct pkl_revoke_req *req,
			    struct pkl_cert_row *out, struct pkl_err *err)
{
	struct pkl_db *db = pki->db;
	struct pkl_cert_row row;
	enum pkl_rc rc;
	pkl_time at = req->at ? req->at : pkl_time_now();
	char t1[32], detail[256];
	int began = 0, revoked = 0;

	rc = pkl_revoke_check_ref(req->ref, err);
	if (rc != PKL_OK)
		goto out;
	if (req->invalidity && req->invalidity > at) {
		rc = pkl_err_set(err, PKL_EINPUT, "--invalidity-date",
				 "invalidity date %s is after the revocation time",
				 pkl_time_fmt(req->invalidity, t1, sizeof(t1)));
		goto out;
	}
	rc = pkl_db_begin(db, err);
	if (rc != PKL_OK)
		goto out;
	began = 1;
	rc = pkl_db_cert_find(db, req->ref, &row, err);
	if (rc != PKL_OK)
		goto out;
	if (row.status == PKL_STATUS_REVOKED) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL,
				 "certificate '%s' (serial %s) is already revoked since %s (%s)", row.name,
				 row.serial, pkl_time_fmt(row.revoked_at, t1, sizeof(t1)),
				 reason_str(row.reason));
		goto out;
	}
	if (row.is_ca && row.issuer_id == row.id) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL,
				 "'%s' is a self-signed root: no CRL can revoke it; remove it from the "
				 "trust stores instead", row.name);
		goto out;
	}
	if (row.is_ca && !req->allow_ca) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL,
				 "'%s' is a CA certificate: revoking it invalidates everything it "
				 "signed; pass --ca-cert to confirm", row.name);
		goto out;
	}
	rc = pkl_db_cert_revoke(db, row.id, at, req->reason, req->invalidity, &revoked, err);
	if (rc != PKL_OK)
		goto out;
	if (!revoked) {
		rc = pkl_err_set(err, PKL_EINPUT, NULL, "certificate '%s' is already revoked", row.name);
		goto out;
	}
	snprintf(detail, sizeof(detail), "serial %s reason %s", row.serial, reason_str(req->reason));
	rc = pkl_db_event(db, "revoke", row.name, detail, err);
	if (rc != PKL_OK)
		goto out;
	rc = pkl_db_commit(db, err);
	began = 0;
	if (rc != PKL_OK)
		goto out;
	row.status = PKL_STATUS_REVOKED;
	row.revoked_at = at;
	row.reason = req->reason;
	row.invalidity = req->invalidity;
	if (out)
		*out = row;
out:
	if (began)
		pkl_db_rollback(db);
	return rc;
}

/* ---- reading a published CRL without decoding its entries ---- */

/* Reads one TLV header at *p (within end); on success *p points at the
 * contents, *len is their length. DER only: indefinite lengths are refused. */
static int tlv(const unsigned char **p, const unsigned char *end, long *len, int *tag, int *cls,
	       int *constructed)
{
	const unsigned char *q = *p;
	int r;

	if (q >= end)
		return -1;
	r = ASN1_get_object(&q, len, tag, cls, (long)(end - q));
	if ((r & 0x80) || (r & 0x01))
		return -1;
	if (*len < 0 || *len > end - q)
		return -1;
	*constructed = (r & V_ASN1_CONSTRUCTED) != 0;
	*p = q;
	return 0;
}

static int scan_time(const unsigned char *start, const unsigned char *end, pkl_time *out)
{
	const unsigned char *q = start;
	ASN1_TIME *t = d2i_ASN1_TIME(NULL, &q, (long)(end - start));
	int ok;

	if (!t)
		return -1;
	ok = pkl_time_from_asn1(t, out) == PKL_OK && q == end;
	ASN1_TIME_free(t);
	return ok ? 0 : -1;
}

enum pkl_rc pkl_revoke_crl_scan(const unsigned char *der, size_t len, struct pkl_crl_scan *out,
				struct pkl_err *err)
{
	struct pkl_crl_scan r;
	const unsigned char *p = der, *end, *tbs_end, *start;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_INTEGER *num = NULL;
	BIGNUM *bn = NULL;
	long l;
	int tag, cls, cons;
	enum pkl_rc rc = PKL_EINPUT;

	memset(&r, 0, sizeof(r));
	if (!der || len < 2 || len > (size_t)0x7fffffff)
		goto bad;
	end = der + len; /* only now: arithmetic on a NULL der is undefined */
	/* CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signature } */
	if (tlv(&p, end, &l, &tag, &cls, &cons) || tag != V_ASN1_SEQUENCE || !cons)
		goto bad;
	end = p + l;
	if (tlv(&p, end, &l, &tag, &cls, &cons) || tag != V_ASN1_SEQUENCE || !cons)
		goto bad;
	tbs_end = p + l;
	/* version INTEGER OPTIONAL */
	if (tlv(&p, tbs_end, &l, &tag, &cls, &cons))
		goto bad;
	if (cls == V_ASN1_UNIVERSAL && tag == V_ASN1_INTEGER) {
		p += l;
		if (tlv(&p, tbs_end, &l, &tag, &cls, &cons))
			goto bad;
	}
	/* signature AlgorithmIdentifier, issuer Name */
	if (tag != V_ASN1_SEQUENCE)
		goto bad;
	p += l;
	if (tlv(&p, tbs_end, &l, &tag, &cls, &cons) || tag != V_ASN1_SEQUENCE)
		goto bad;
	p += l;
	/* thisUpdate Time */
	start = p;
	if (tlv(&p, tbs_end, &l, &tag, &cls, &cons) ||
	    (tag != V_ASN1_UTCTIME && tag != V_ASN1_GENERALIZEDTIME))
		goto bad;
	p += l;
	if (scan_time(start, p, &r.this_update))
		goto bad;
	while (p < tbs_end) {
		start = p;
		if (tlv(&p, tbs_end, &l, &tag, &cls, &cons))
			goto bad;
		if (cls == V_ASN1_UNIVERSAL && (tag == V_ASN1_UTCTIME || tag == V_ASN1_GENERALIZEDTIME)) {
			p += l;
			if (scan_time(start, p, &r.next_update))
				goto bad;
		} else if (cls == V_ASN1_UNIVERSAL && tag == V_ASN1_SEQUENCE) {
			r.has_entries = l > 0; /* skipped, never decoded */
			p += l;
		} else if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0 && cons) {
			const unsigned char *q = p;
			exts = d2i_X509_EXTENSIONS(NULL, &q, l);
			if (!exts || q != p + l)
				goto bad;
			p += l;
		} else {
			goto bad;
		}
	}
	if (exts) {
		num = X509V3_get_d2i(exts, NID_crl_number, NULL, NULL);
		if (num) {
			bn = ASN1_INTEGER_to_BN(num, NULL);
			if (!bn || BN_is_negative(bn) || BN_num_bytes(bn) > 20)
				goto bad;
			r.number_len = (size_t)BN_bn2bin(bn, r.number);
			if (r.number_len == 0) { /* the number 0 */
				r.number[0] = 0;
				r.number_len = 1;
			}
		}
	}
	*out = r;
	rc = PKL_OK;
	goto done;
bad:
	rc = pkl_err_set(err, PKL_EINPUT, NULL, "malformed CRL (%zu bytes)", len);
done:
	ERR_clear_error();
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_INTEGER_free(num);
	BN_free(bn);
	return rc;
}

enum pkl_rc pkl_revoke_crl_scan_file(const char *path, struct pkl_crl_scan *out, struct pkl_err *err)
{
	struct stat sb;
	void *map;
	enum pkl_rc rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pkl_err_sys(err, path, "cannot open");
		if (err)
			err->rc = PKL_EINPUT; /* a missing CRL is a condition, not a failure */
		return PKL_EINPUT;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 2) {
		close(fd);
		return pkl_err_set(err, PKL_EINPUT, path, "not a CRL file");
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return pkl_err_sys(err, path, "cannot map");
	rc = pkl_revoke_crl_scan(map, (size_t)sb.st_size, out, err);
	munmap(map, (size_t)sb.st_size);
	if (rc != PKL_OK)
		pkl_err_where(err, path);
	return rc;
}

/* ---- CRL numbers ---- */

enum pkl_rc pkl_revoke_next_number(const char *stored, const unsigned char *published,
				   size_t published_len, uint64_t now_ms, char *out, size_t outlen,
				   struct pkl_err *err)
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
	/* revocationDate <= thisUpdate (standards #53): a revocation recorded during
	 * the back-dating window is dated at thisUpdate. */
	if (e->revoked_at > l->this_update)
		e->revoked_at = l->this_update;
	e->reason = c->reason < 0 ? PKL_REASON_NONE : c->reason;
	if (e->reason == 0 || e->reason == 7 || e->reason < -1 || e->reason > 10)
		e->reason = PKL_REASON_NONE;
	e->invalidity = c->invalidity;
	es->n++;
	return 0;
}

static enum pkl_rc load_entries(struct pkl_db *db, int64_t ca_id, pkl_time this_update,
				struct entries *es, struct pkl_err *err)
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
enum pkl_rc pkl_revoke_crl_selfcheck(const struct pkl_buf *der, X509 *ca, const char *where,
				     pkl_time now, struct pkl_err *err)
{
	struct pkl_crlinfo ci;
	struct pkl_err sub = { 0 };

	if (pkl_crlcheck_verify(der->data, der->len, where, ca, &ci, &sub) != PKL_OK ||
	    pkl_crlcheck_fresh(&ci, now, 0, where, &sub) != PKL_OK)
		return pkl_err_set(err, PKL_ERUNTIME, where,
				   "the CRL just signed fails the check relying parties apply (%s): "
				   "not published", sub.msg);
	return PKL_OK;
}

enum pkl_rc pkl_revoke_publish(struct pkl_pki *pki, const char *ca, int flags,
			       struct pkl_crl_info *info, struct pkl_err *err)
{
	int due_only = (flags & PKL_PUBLISH_DUE) != 0;
	struct pkl_db *db = pki->db;
	struct pkl_txn *txn = NULL;
	struct pkl_ca_state cs;
	struct pkl_crl_scan pub;
	struct pkl_crl_info res;
	struct pkl_crl_req req;
	struct pkl_buf der = PKL_BUF_INIT;
	struct entries es = { NULL, 0, 0 };
	struct pkl_err e2;
	X509 *cacert = NULL;
	EVP_PKEY *cakey = NULL;
	pkl_time now;
	int have_pub;
	int64_t n_revoked = 0; /* set by pkl_db_revoked_count (gcc cannot see it through the out parameter) */
	char number[64], detail[160];
	enum pkl_rc rc;

	memset(&res, 0, sizeof(res));
	memset(&req, 0, sizeof(req));
	snprintf(res.ca, sizeof(res.ca), "%s", ca);
	txn = pkl_txn_begin(pki, err);
	if (!txn)
		return err && err->rc ? err->rc : PKL_ERUNTIME;
	/* The clock is read once the write lock is held: a CRL another process
	 * committed while this one waited is then never dated after "now", which
	 * the clock-behind refusal below would take for a clock going back. */
	now = pkl_time_now();
	/* Its own message: "unknown CA" (input) or a database failure (runtime). */
	rc = pkl_db_ca_get(db, ca, &cs, err);
	if (rc != PKL_OK)
		goto out;
	rc = pkl_pki_path(pki, PKL_FILE_CRL, ca, res.path, sizeof(res.path), err);
	if (rc != PKL_OK)
		goto out;
	memset(&pub, 0, sizeof(pub)); /* read only when have_pub, but never garbage */
	have_pub = pkl_revoke_crl_scan_file(res.path, &pub, &e2) == PKL_OK;
	rc = pkl_db_revoked_count(db, cs.cert_id, &n_revoked, err);
	if (rc != PKL_OK)
		goto out;
	if (due_only && have_pub && pub.number_len && pub.next_update > pub.this_update) {
		pkl_time half = pub.this_update + (pub.next_update - pub.this_update) / 2;
		char pubnum[64] = "";
		int64_t logged = -1;

		bin_to_dec(pub.number, pub.number_len, pubnum, sizeof(pubnum));
		rc = pkl_db_crl_log_entries(db, ca, pubnum, &logged, err);
		if (rc != PKL_OK)
			goto out;
		/* Not due: young enough and no revocation since it was signed (an unknown
		 * count — a CRL signed by `build` — is judged by whether any exist). */
		if (now < half && (logged >= 0 ? logged == n_revoked : n_revoked == 0)) {
			snprintf(res.number, sizeof(res.number), "%s", pubnum);
			res.this_update = pub.this_update;
			res.next_update = pub.next_update;
			res.n_entries = (size_t)(logged >= 0 ? logged : 0);
			res.signed_now = 0;
			pkl_txn_abort(txn);
			txn = NULL;
			if (info)
				*info = res;
			rc = PKL_OK;
			goto out;
		}
	}

	res.this_update = now - CRL_BACKDATE;
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
			rc = pkl_err_set(err, PKL_EINPUT, ca,
					 "clock behind the published CRL: the new CRL would have thisUpdate %s, "
					 "before the current one's %s; fix the clock, or pass --allow-clock-behind",
					 pkl_time_fmt(res.this_update, a, sizeof(a)), pkl_time_fmt(prev, b, sizeof(b)));
			goto out;
		}
	}
	if (cs.crl_lifetime <= 0) {
		rc = pkl_err_set(err, PKL_ERUNTIME, "pkilab.db", "CA '%s' has no CRL lifetime", ca);
		goto out;
	}
	res.next_update = res.this_update + cs.crl_lifetime;
	/* nextUpdate never goes backwards between consecutive CRLs (standards #51). */
	if (have_pub && pub.next_update > res.next_update)
		res.next_update = pub.next_update;
	rc = load_entries(db, cs.cert_id, res.this_update, &es, err);
	if (rc != PKL_OK)
		goto out;
	rc = pkl_revoke_next_number(cs.crl_number, have_pub ? pub.number : NULL,
				    have_pub ? pub.number_len : 0, wall_ms(), number, sizeof(number), err);
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
		rc = pkl_revoke_crl_selfcheck(&der, cacert, res.path, now, err);
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
		const struct pkl_db_crl_log log = { ca, number, res.this_update, res.next_update,
						    (int64_t)es.n, now };
		rc = pkl_db_crl_log_add(db, &log, err);
		if (rc != PKL_OK)
			goto out;
	}
	snprintf(detail, sizeof(detail), "number %s, %zu entries", number, es.n);
	rc = pkl_db_event(db, "crl", ca, detail, err);
	if (rc != PKL_OK)
		goto out;
	rc = pkl_txn_commit(txn, err);
	txn = NULL;
	if (rc != PKL_OK)
		goto out;
	snprintf(res.number, sizeof(res.number), "%s", number);
	res.n_entries = es.n;
	res.der_len = der.len;
	res.signed_now = 1;
	if (info)
		*info = res;
out:
	pkl_txn_abort(txn);
	free(es.v);
	pkl_buf_free(&der);
	X509_free(cacert);
	EVP_PKEY_free(cakey);
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

enum pkl_rc pkl_revoke_publish_all(struct pkl_pki *pki, int flags, pkl_revoke_publish_fn fn,
				   void *cls, struct pkl_err *err)
{
	struct names ns = { NULL, 0, 0, 0 };
	enum pkl_rc rc;

	rc = pkl_db_ca_each(pki->db, add_name, &ns, err);
	if (rc == PKL_OK && ns.oom)
		rc = pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory");
	for (size_t i = 0; rc == PKL_OK && i < ns.n; i++) {
		struct pkl_crl_info info;
		rc = pkl_revoke_publish(pki, ns.v[i], flags, &info, err);
		if (rc == PKL_OK && fn)
			fn(&info, cls);
	}
	free(ns.v);
	return rc;
}
