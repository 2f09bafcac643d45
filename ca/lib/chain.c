/*
 * Path building and per-link checks (see pkilab/chain.h).
 *
 * The builder is deliberately simpler than a full RFC 4158 path builder: a
 * lab PKI has one path, and the point of doctor is to say which link of that
 * path is broken. So candidates are matched by issuer name (OpenSSL's
 * canonical comparison, so that a byte-level DN mismatch is still found and
 * reported by the checker rather than hiding the issuer), preferring one whose
 * key verifies the signature, then one whose SKI matches the AKI.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "pkilab/certread.h"
#include "pkilab/chain.h"
#include "pkilab/file.h"
#include "pkilab/lint.h"
#include "pkilab/name.h"
#include "pkilab/nameconstraints.h"

void pkl_chain_free(struct pkl_chain *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		X509_free(c->certs[i]);
	memset(c, 0, sizeof(*c));
}

static int signs(X509 *issuer, X509 *cert)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	int ok = k && X509_verify(cert, k) == 1;

	ERR_clear_error();
	return ok;
}

static int aki_matches(X509 *issuer, X509 *cert)
{
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);

	return aki && ski && !ASN1_OCTET_STRING_cmp(aki, ski);
}

/* Scores a candidate issuer: 4 verifies, 2 AKI match, 1 name match; 0 no. */
static int score(X509 *cand, X509 *cert)
{
	int s = 0;

	if (X509_NAME_cmp(X509_get_subject_name(cand), X509_get_issuer_name(cert)) == 0)
		s |= 1;
	if (aki_matches(cand, cert))
		s |= 2;
	if (!s)
		return 0;
	if (signs(cand, cert))
		s |= 4;
	return s;
}

static X509 *best_in(STACK_OF(X509) * sk, X509 *cert, int *best_score)
{
	X509 *best = NULL;

	for (int i = 0; sk && i < sk_X509_num(sk); i++) {
		X509 *cand = sk_X509_value(sk, i);
		int s;
		if (X509_cmp(cand, cert) == 0)
			continue;
		s = score(cand, cert);
		if (s > *best_score) {
			*best_score = s;
			best = cand;
		}
	}
	return best;
}

static int is_anchor(STACK_OF(X509) * anchors, X509 *x)
{
	for (int i = 0; anchors && i < sk_X509_num(anchors); i++)
		if (X509_cmp(sk_X509_value(anchors, i), x) == 0)
			return 1;
	return 0;
}

X509 *pkl_chain_parse_issuer(const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	X509 *x;
	BIO *b;

	/* An HTTP body of any size: the int of BIO_new_mem_buf bounds it. */
	if (!data || len == 0 || len > INT_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x)
		return x;
	ERR_clear_error();
	p = data;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (p7) {
		if (OBJ_obj2nid(p7->type) == NID_pkcs7_signed && p7->d.sign && p7->d.sign->cert &&
		    sk_X509_num(p7->d.sign->cert) > 0) {
			x = sk_X509_value(p7->d.sign->cert, 0);
			X509_up_ref(x);
		}
		PKCS7_free(p7);
		if (x)
			return x;
	}
	b = BIO_new_mem_buf(data, (int)len);
	if (b)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return x;
}

/* caIssuers URLs tried per certificate. The certificate is the untrusted
 * input: a thousand URLs that each take the whole fetch deadline would hold
 * doctor for hours, so the tries are bounded like the CDP URIs are. */
#define AIA_MAX_TRIES 8

/* Tries the caIssuers URLs of cert (at most AIA_MAX_TRIES); returns a new
 * reference or NULL. */
static X509 *fetch_issuer(X509 *cert, const struct pkl_chain_opts *o, char *from, size_t fromlen,
			  struct pkl_report *r)
{
	struct pkl_certread_names aia = PKL_CERTREAD_NAMES_INIT;
	X509 *found = NULL;
	char label[256];
	int tries = 0;

	pkl_lint_label(cert, label, sizeof(label));
	if (pkl_certread_aia(cert, PKL_AIA_CA_ISSUERS, &aia, NULL) != PKL_OK)
		return NULL;
	for (size_t i = 0; !found && i < aia.n; i++) {
		struct pkl_fetch_result res;
		const char *url = (const char *)aia.v[i].data;

		/* A NUL inside the IA5String would make us fetch another URL than the one
		 * clients see; such a URL is not fetched at all. */
		if (strlen(url) != aia.v[i].len) {
			pkl_report_add(r, PKL_SEV_WARN, "chain.aia_unreachable", label,
				       "AIA URL of %s contains a NUL byte: not fetched", label);
			continue;
		}
		if (++tries > AIA_MAX_TRIES) {
			pkl_report_add(r, PKL_SEV_WARN, "chain.aia_unreachable", label,
				       "more than %d caIssuers URLs in %s: the rest are not tried",
				       AIA_MAX_TRIES, label);
			break;
		}
		if (pkl_fetch_get(url, o->fetch, &res, NULL) != PKL_OK) {
			pkl_report_add(r, PKL_SEV_INFO, "chain.aia_unreachable", url,
				       "AIA URL of %s not fetched (not http://)", label);
			continue;
		}
		if (res.transferred && res.status == 200)
			found = pkl_chain_parse_issuer(res.body.data, res.body.len);
		if (found && !score(found, cert)) {
			X509_free(found);
			found = NULL;
			pkl_report_add(r, PKL_SEV_WARN, "chain.aia_wrong_cert", url,
				       "AIA URL of %s serves a certificate that is not its issuer", label);
		} else if (found) {
			snprintf(from, fromlen, "%s", url);
		} else {
			struct pkl_finding *f = pkl_report_add(
				r, PKL_SEV_INFO, "chain.aia_unreachable", url,
				"issuer of %s not available from AIA: %s", label,
				res.transferred ? (res.status == 200 ? "not a certificate" : "HTTP error") :
						  res.error);
			if (f && res.transferred && res.status != 200)
				snprintf(f->msg + strlen(f->msg), sizeof(f->msg) - strlen(f->msg), " %ld",
					 res.status);
		}
		pkl_fetch_result_free(&res);
	}
	pkl_certread_names_free(&aia);
	return found;
}

enum pkl_rc pkl_chain_build(X509 *leaf, const struct pkl_chain_opts *o, struct pkl_chain *c,
			    struct pkl_report *r, struct pkl_err *err)
{
	X509 *cur = leaf;

	memset(c, 0, sizeof(*c));
	X509_up_ref(leaf);
	c->certs[c->n++] = leaf;
	for (;;) {
		int best = 0, sa = 0, sp = 0;
		X509 *a, *p, *next = NULL;
		char from[PKL_CHAIN_URI_MAX] = "";

		if (is_anchor(o->anchors, cur)) {
			c->anchored = 1;
			c->complete = pkl_lint_self_signed(cur);
			break;
		}
		if (pkl_lint_self_signed(cur)) {
			c->complete = 1;
			break;
		}
		a = best_in(o->anchors, cur, &sa);
		p = best_in(o->pool, cur, &sp);
		/* an anchor wins unless an offered certificate verifies and the anchor does not */
		if (a && (sa & 4 || !(sp & 4)))
			next = a, best = sa;
		else if (p)
			next = p, best = sp;
		if (next) {
			X509_up_ref(next);
		} else if (o->fetch_aia && o->fetch) {
			next = fetch_issuer(cur, o, from, sizeof(from), r);
			if (next) {
				char label[256], il[256];
				struct pkl_finding *f =
					pkl_report_add(r, PKL_SEV_WARN, "chain.issuer_fetched",
						       pkl_lint_label(cur, label, sizeof(label)),
						       "issuer %s was not supplied; fetched from AIA %s",
						       pkl_lint_label(next, il, sizeof(il)), from);
				pkl_finding_cause(f, "Windows fetches a missing intermediate from AIA, "
						     "strongSwan and Apple clients do not");
				pkl_finding_fix(f, "send the intermediate with the leaf: configure the "
						   "gateway with the -chain.pem file (cert + intermediates)");
			}
		}
		(void)best;
		if (!next)
			break;
		for (size_t i = 0; i < c->n; i++)
			if (X509_cmp(c->certs[i], next) == 0) {
				c->loop = 1;
				break;
			}
		if (c->loop || c->n == PKL_CHAIN_MAX) {
			c->loop = 1;
			X509_free(next);
			break;
		}
		c->fetched[c->n] = from[0] != '\0';
		snprintf(c->fetched_from[c->n], sizeof(c->fetched_from[c->n]), "%s", from);
		c->certs[c->n++] = next;
		cur = next;
	}
	if (r->oom)
		return pkl_err_set(err, PKL_ERUNTIME, NULL, "out of memory building the chain");
	return PKL_OK;
}

static int is_ca(X509 *x, long *pathlen)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	int ca = bc && bc->ca;

	*pathlen = -1;
	if (ca && bc->pathlen)
		*pathlen = ASN1_INTEGER_get(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);
	return ca;
}

/* Self-issued: the same DN as subject and issuer (RFC 5280 6.1), whatever key
 * signed it; a self-signed root is one, so is a CA's key rollover certificate. */
static int self_issued(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

/* The extensions doctor recognises (RFC 5280 4.2: a relying party MUST reject
 * a certificate with a critical extension it does not recognise). These are
 * the ones doctor processes - basicConstraints, keyUsage, extKeyUsage,
 * subjectAltName, nameConstraints, subject/authority key identifiers, CRL
 * distribution points, authority information access - and the four policy
 * extensions (certificatePolicies, policyMappings, policyConstraints,
 * inhibitAnyPolicy, RFC 5280 4.2.1.4-4.2.1.14), which doctor does not evaluate
 * yet but which OpenSSL, strongSwan and CryptoAPI all process, so a critical
 * one does not make a platform refuse the chain.
 * Differences with OpenSSL's X509_supported_extension() (3.0): OpenSSL also
 * accepts a critical Netscape cert type, RFC 3779 address and AS blocks, OCSP
 * no-check and proxyCertInfo, which no IKE relying party of doctor's needs
 * (doctor reports them); it refuses a critical authority/subject key
 * identifier or AIA, which RFC 5280 4.2.1.1, 4.2.1.2, 4.2.2.1 require to be
 * non-critical but which doctor (and strongSwan) process. */
static const int known_nids[] = {
	NID_basic_constraints,
	NID_key_usage,
	NID_ext_key_usage,
	NID_subject_alt_name,
	NID_name_constraints,
	NID_subject_key_identifier,
	NID_authority_key_identifier,
	NID_crl_distribution_points,
	NID_info_access,
	NID_certificate_policies,
	NID_policy_mappings,
	NID_policy_constraints,
	NID_inhibit_any_policy,
};

static int known_extension(const ASN1_OBJECT *obj)
{
	int nid = OBJ_obj2nid(obj);

	for (size_t k = 0; nid != NID_undef && k < sizeof(known_nids) / sizeof(known_nids[0]); k++)
		if (known_nids[k] == nid)
			return 1;
	return 0;
}

/* chain.unknown_critical for every critical extension of x doctor does not
 * recognise; 1 if there was one. */
static int check_critical(X509 *x, const char *label, struct pkl_report *r)
{
	int bad = 0;

	for (int k = 0; k < X509_get_ext_count(x); k++) {
		X509_EXTENSION *e = X509_get_ext(x, k);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
		char oid[128], name[128];
		struct pkl_finding *f;

		if (!X509_EXTENSION_get_critical(e) || known_extension(obj))
			continue;
		if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
			snprintf(oid, sizeof(oid), "?");
		if (OBJ_obj2nid(obj) == NID_undef || OBJ_obj2txt(name, sizeof(name), obj, 0) <= 0)
			snprintf(name, sizeof(name), "unknown");
		f = pkl_report_add(r, PKL_SEV_FAIL, "chain.unknown_critical", label,
				   "critical extension %s (%s) is not recognised: the certificate must "
				   "be rejected",
				   oid, name);
		pkl_finding_cause(f, "RFC 5280 4.2: a relying party MUST reject a certificate with "
				     "a critical extension it does not recognise (OpenSSL: \"unhandled "
				     "critical extension\"; strongSwan refuses to load the "
				     "certificate)");
		pkl_finding_fix(f, "re-issue %s without extension %s, or with it non-critical", label, oid);
		bad = 1;
	}
	return bad;
}

static void check_time(const struct pkl_chain *c, size_t i, pkl_time at, const char *label,
		       struct pkl_report *r, int *bad)
{
	X509 *x = c->certs[i];
	pkl_time nb = 0, na = 0;
	char t1[32], d[32];
	struct pkl_finding *f;
	int top = i + 1 == c->n && c->complete;

	if (pkl_time_from_asn1(X509_get0_notBefore(x), &nb) != PKL_OK ||
	    pkl_time_from_asn1(X509_get0_notAfter(x), &na) != PKL_OK) {
		pkl_report_add(r, PKL_SEV_FAIL, "time.unparsable", label, "validity times do not parse");
		*bad = 1;
		return;
	}
	if (at < nb) {
		pkl_duration_fmt(nb - at, d, sizeof(d));
		pkl_time_fmt(nb, t1, sizeof(t1));
		if (nb - at <= PKL_CHAIN_DRIFT) {
			f = pkl_report_add(r, PKL_SEV_FAIL, "time.not_yet_valid", label,
					   "not valid before %s, %s from now: probable clock drift "
					   "(skew %s)",
					   t1, d, d);
			pkl_finding_cause(f,
					  "the certificate starts %s in the future: the issuing CA's "
					  "clock is ahead or this machine's clock is behind",
					  d);
			pkl_finding_fix(f, "sync the clocks with NTP (w32tm /resync on Windows, chronyc "
					   "makestep on Linux); issue certificates with a backdate "
					   "(notBefore 1 h in the past)");
		} else {
			f = pkl_report_add(r, PKL_SEV_FAIL, "time.not_yet_valid", label,
					   "not valid before %s (%s from now)", t1, d);
			pkl_finding_cause(f, "the certificate was issued for a later period");
			pkl_finding_fix(f, "wait until %s or re-issue with a current notBefore", t1);
		}
		*bad = 1;
	}
	if (at >= na) {
		pkl_duration_fmt(at - na, d, sizeof(d));
		pkl_time_fmt(na, t1, sizeof(t1));
		if (top) {
			f = pkl_report_add(r, PKL_SEV_FAIL, "chain.root_expired", label,
					   "root CA expired %s (%s ago)", t1, d);
			pkl_finding_cause(f, "every certificate below an expired root fails, however "
					     "valid it is itself");
			pkl_finding_fix(f, "create a new root generation (distinct CN), re-issue the "
					   "intermediate and leaves under it, import the new root into "
					   "Trusted Root Certification Authorities / swanctl/x509ca");
		} else {
			f = pkl_report_add(r, PKL_SEV_FAIL, "time.expired", label, "expired %s (%s ago)", t1,
					   d);
			pkl_finding_cause(f, "the certificate's notAfter has passed");
			pkl_finding_fix(f, "renew it (pkilab renew NAME) and install the new one");
		}
		*bad = 1;
	}
}

/* Name constraints across the path (RFC 5280 6.1.3(b)(c), 6.1.4(g)): the
 * constraints of every CA certificate of the path (the trust anchor's too, as
 * OpenSSL and GnuTLS apply them) hold for every certificate below it, so a
 * name must satisfy each CA's constraints: the intersection of the permitted
 * subtrees, the union of the excluded ones. A self-issued intermediate is not
 * checked (6.1.3(b)); the leaf is, self-issued or not. A host-like CN counts
 * as a dNSName for the leaf when it has no dNSName SAN: RFC 5280 does not say
 * so, OpenSSL and GnuTLS do (see pkilab/nameconstraints.h). Returns how many
 * CAs carried constraints; *bad is set on a violation. */
static size_t check_name_constraints(const struct pkl_chain *c, struct pkl_report *r, int *bad)
{
	size_t constrained = 0;

	for (size_t j = 1; j < c->n; j++) {
		int crit = -1;
		NAME_CONSTRAINTS *nc = X509_get_ext_d2i(c->certs[j], NID_name_constraints, &crit, NULL);
		char cal[256];
		struct pkl_finding *f;

		pkl_lint_label(c->certs[j], cal, sizeof(cal));
		if (!nc) {
			if (crit >= 0 || crit == -2) {
				f = pkl_report_add(r, PKL_SEV_FAIL, "chain.name_constraints", cal,
						   "nameConstraints extension does not decode (or appears "
						   "twice)");
				pkl_finding_fix(f, "re-issue %s with one well-formed nameConstraints", cal);
				*bad = 1;
			}
			ERR_clear_error();
			continue;
		}
		constrained++;
		for (size_t i = 0; i < j; i++) {
			struct pkl_nc_violation v;
			char label[256];
			enum pkl_nc_verdict verdict;

			if (i > 0 && self_issued(c->certs[i]))
				continue;
			verdict = pkl_nc_cert_check(nc, c->certs[i], i == 0, &v);
			if (verdict == PKL_NC_OK)
				continue;
			*bad = 1;
			pkl_lint_label(c->certs[i], label, sizeof(label));
			if (verdict == PKL_NC_EXCLUDED)
				f = pkl_report_add(r, PKL_SEV_FAIL, "chain.name_constraints", label,
						   "%s %s '%s' is in the excluded subtree '%s' of %s",
						   v.where, v.form, v.name, v.subtree, cal);
			else if (verdict == PKL_NC_NOT_PERMITTED)
				f = pkl_report_add(r, PKL_SEV_FAIL, "chain.name_constraints", label,
						   "%s %s '%s' is outside the permitted subtrees of %s (%s)",
						   v.where, v.form, v.name, cal, v.permitted);
			else
				f = pkl_report_add(r, PKL_SEV_FAIL, "chain.name_constraints", label,
						   "%s %s '%s': %s constrains this form in a way doctor does "
						   "not process (or with minimum/maximum)",
						   v.where, v.form, v.name, cal);
			if (!strcmp(v.where, "subject CN"))
				pkl_finding_cause(f,
						  "the certificate has no dNSName SAN, so OpenSSL and GnuTLS "
						  "check its CN as a host name against the constraints "
						  "(RFC 5280 4.2.1.10 itself does not)");
			else
				pkl_finding_cause(f, "RFC 5280 4.2.1.10, 6.1.3(b): a CA's name constraints "
						     "bind every certificate below it; relying parties "
						     "refuse the path");
			if (verdict == PKL_NC_UNSUPPORTED)
				pkl_finding_fix(f,
						"re-issue %s with constraints on dNSName, rfc822Name, "
						"URI, iPAddress or directoryName only, without "
						"minimum/maximum (for a name with a NUL byte: re-issue the "
						"certificate)",
						cal);
			else
				pkl_finding_fix(f,
						"issue %s with names inside %s's constraints, or re-issue %s "
						"with constraints that allow '%s'",
						label, cal, cal, v.name);
		}
		NAME_CONSTRAINTS_free(nc);
	}
	return constrained;
}

void pkl_chain_check(const struct pkl_chain *c, pkl_time at, int show_ok, struct pkl_report *r)
{
	char label[256], il[256];
	struct pkl_finding *f;
	int bad_time = 0, bad_sig = 0, bad_name = 0, bad_ca = 0, bad_ext = 0, bad_nc = 0;

	for (size_t i = 0; i < c->n; i++) {
		X509 *x = c->certs[i];
		pkl_lint_label(x, label, sizeof(label));
		check_time(c, i, at, label, r, &bad_time);
		bad_ext |= check_critical(x, label, r);
		if (i + 1 == c->n) {
			if (c->complete && !signs(x, x)) {
				f = pkl_report_add(r, PKL_SEV_FAIL, "chain.bad_signature", label,
						   "self-signature of the root does not verify");
				pkl_finding_fix(f, "the root file is corrupt: export it again from the CA");
				bad_sig = 1;
			}
			break;
		}
		X509 *iss = c->certs[i + 1];
		long pathlen;
		pkl_lint_label(iss, il, sizeof(il));
		if (!signs(iss, x)) {
			f = pkl_report_add(r, PKL_SEV_FAIL, "chain.bad_signature", label,
					   "signature does not verify with the key of %s", il);
			pkl_finding_cause(f, "the certificate was signed by another key than the one of "
					     "the issuer certificate found (re-created CA with the same "
					     "name, or a corrupted file); Windows reports 0x3602 "
					     "\"failed to verify signature\"");
			pkl_finding_fix(f, "install the issuer certificate that really signed it, or "
					   "re-issue the certificate from the current CA");
			bad_sig = 1;
		}
		if (!pkl_name_der_equal(X509_get_issuer_name(x), X509_get_subject_name(iss))) {
			f = pkl_report_add(r, PKL_SEV_FAIL, "chain.dn_mismatch", label,
					   "issuer DN is not byte-identical to the subject of %s", il);
			pkl_finding_cause(f, "same name, different encoding (string type or "
					     "attribute order): RFC 5280 6.1 chaining fails on "
					     "strict clients");
			pkl_finding_fix(f, "re-issue the certificate from the CA so the issuer DN "
					   "is copied byte for byte");
			bad_name = 1;
		}
		if (X509_get0_authority_key_id(x) && X509_get0_subject_key_id(iss) && !aki_matches(iss, x)) {
			f = pkl_report_add(r, PKL_SEV_FAIL, "chain.aki_mismatch", label,
					   "authorityKeyIdentifier is not the subjectKeyIdentifier of %s",
					   il);
			pkl_finding_cause(f, "clients look the issuer up by key identifier and will not "
					     "find this one (a CA re-keyed under the same name?)");
			pkl_finding_fix(f, "install the issuer that matches the AKI, or re-issue the "
					   "certificate from the current CA");
			bad_name = 1;
		}
		if (!is_ca(iss, &pathlen)) {
			f = pkl_report_add(r, PKL_SEV_FAIL, "chain.not_ca", il,
					   "issues %s but is not a CA (basicConstraints cA not TRUE)", label);
			pkl_finding_fix(f, "issue certificates only from a CA certificate");
			bad_ca = 1;
		} else {
			uint32_t ku = X509_get_key_usage(iss);
			if (ku != UINT32_MAX && !(ku & KU_KEY_CERT_SIGN)) {
				f = pkl_report_add(r, PKL_SEV_FAIL, "chain.not_ca", il,
						   "CA keyUsage lacks keyCertSign");
				pkl_finding_fix(f, "re-issue the CA with keyUsage keyCertSign, cRLSign");
				bad_ca = 1;
			}
			/* The intermediates below iss are certs[1..i]; only the ones that
			 * are not self-issued count against its pathLenConstraint (RFC 5280
			 * 4.2.1.9, 6.1.4(l)): a CA's rollover certificate (old key signs new,
			 * same DN) lengthens the path without adding a CA. */
			size_t below = 0, rollover = 0;
			for (size_t j = 1; j <= i; j++) {
				if (self_issued(c->certs[j]))
					rollover++;
				else
					below++;
			}
			if (pathlen >= 0 && below > (size_t)pathlen) {
				f = pkl_report_add(
					r, PKL_SEV_FAIL, "chain.path_len", il,
					"pathLenConstraint %ld but %zu CA certificate(s) follow it "
					"(self-issued ones not counted: %zu)",
					pathlen, below, rollover);
				pkl_finding_cause(f, "RFC 5280 4.2.1.9: a CA's pathLenConstraint is the "
						     "largest number of non-self-issued CA certificates "
						     "that may follow it in a path");
				pkl_finding_fix(f,
						"re-issue %s with path_len %zu or more, or issue the "
						"certificate from a CA nearer to it",
						il, below);
				bad_ca = 1;
			}
		}
	}
	size_t constrained = check_name_constraints(c, r, &bad_nc);
	pkl_lint_label(c->certs[c->n - 1], label, sizeof(label));
	if (!c->complete && !c->anchored) {
		f = pkl_report_add(r, PKL_SEV_FAIL, "chain.issuer_missing", label, "issuer not found%s",
				   c->loop ? " (path loops or is too long)" : "");
		{
			X509_NAME *in = X509_get_issuer_name(c->certs[c->n - 1]);
			char *s = X509_NAME_oneline(in, NULL, 0);
			if (f && s)
				snprintf(f->msg, sizeof(f->msg), "issuer '%s' not found%s", s,
					 c->loop ? " (path loops or is too long)" : "");
			OPENSSL_free(s);
		}
		pkl_finding_cause(f, "the intermediate CA certificate is neither supplied nor "
				     "reachable through AIA, so no path reaches a trusted root; clients "
				     "fail with 13801 (Windows) or \"no trusted issuer\" (strongSwan)");
		pkl_finding_fix(f, "send the full chain: configure the gateway with the -chain.pem "
				   "file, install the intermediate into Intermediate Certification "
				   "Authorities / swanctl/x509ca, or add a reachable AIA URL");
	} else if (!c->anchored) {
		f = pkl_report_add(r, PKL_SEV_FAIL, "chain.root_untrusted", label,
				   "the path ends at a root that is not a trust anchor");
		pkl_finding_cause(f, "the relying party does not trust this root");
		pkl_finding_fix(f, "import the root into the machine's Trusted Root Certification "
				   "Authorities (certutil -addstore Root root.crt), into "
				   "/etc/swanctl/x509ca/ for strongSwan, or as a trusted profile on Apple");
	}
	if (!show_ok)
		return;
	pkl_lint_label(c->certs[0], label, sizeof(label));
	if (c->anchored || c->complete) {
		if (c->anchored)
			pkl_report_add(r, PKL_SEV_OK, "chain.trust", label,
				       "path of %zu certificate(s) ends at a trust anchor", c->n);
	}
	if (!bad_sig)
		pkl_report_add(r, PKL_SEV_OK, "chain.signatures", label, "every signature verifies");
	if (!bad_name)
		pkl_report_add(r, PKL_SEV_OK, "chain.names", label,
			       "issuer DNs byte-identical, AKI = issuer SKI on every link");
	if (!bad_ca)
		pkl_report_add(r, PKL_SEV_OK, "chain.ca_flags", label,
			       "issuers are CAs with keyCertSign, path lengths respected");
	if (constrained && !bad_nc)
		pkl_report_add(r, PKL_SEV_OK, "chain.name_constraints", label,
			       "every name within the name constraints of %zu CA(s)", constrained);
	if (!bad_ext)
		pkl_report_add(r, PKL_SEV_OK, "chain.critical_extensions", label,
			       "every critical extension is recognised (RFC 5280 4.2)");
	if (!bad_time)
		pkl_report_add(r, PKL_SEV_OK, "chain.validity", label,
			       "every certificate valid at the judged moment");
}

int pkl_chain_failed(const struct pkl_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].sev == PKL_SEV_FAIL &&
		    (!strncmp(r->v[i].code, "chain.", 6) || !strncmp(r->v[i].code, "time.", 5)))
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- inputs */

#define INPUT_MAX ((size_t)4 << 20)

static int looks_pem(const struct pkl_buf *b)
{
	for (size_t i = 0; i + 11 <= b->len; i++)
		if (b->data[i] == '-' && !memcmp(b->data + i, "-----BEGIN ", 11))
			return 1;
	return 0;
}

/* Every certificate of a PEM buffer onto out; returns how many. */
static int pem_certs(const struct pkl_buf *b, STACK_OF(X509) * out)
{
	BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
	X509 *x;
	int n = 0;

	if (!bio)
		return 0;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(out, x)) {
			X509_free(x);
			break;
		}
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	return n;
}

enum pkl_rc pkl_chain_load_input(const char *path, const char *password, X509 **leaf, STACK_OF(X509) * extra,
				 int *is_p12, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	STACK_OF(X509) *all = sk_X509_new_null(), *cas = NULL;
	PKCS12 *p12 = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	enum pkl_rc rc;

	*is_p12 = 0;
	if (!all) {
		rc = pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
		goto out;
	}
	rc = pkl_file_read(path, INPUT_MAX, &b, err);
	if (rc != PKL_OK)
		goto out;
	rc = PKL_EINPUT;
	if (looks_pem(&b)) {
		if (pem_certs(&b, all) == 0) {
			pkl_err_set(err, PKL_EINPUT, path, "PEM file without a certificate");
			goto out;
		}
	} else {
		const unsigned char *p = b.data;
		x = d2i_X509(NULL, &p, (long)b.len);
		if (x && p == b.data + b.len) {
			if (!sk_X509_push(all, x)) {
				rc = pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
				goto out;
			}
			x = NULL;
		} else {
			X509_free(x);
			x = NULL;
			ERR_clear_error();
			p = b.data;
			p12 = d2i_PKCS12(NULL, &p, (long)b.len);
			if (!p12) {
				ERR_clear_error();
				pkl_err_set(err, PKL_EINPUT, path,
					    "not a certificate (PEM, DER or PKCS#12 expected)");
				goto out;
			}
			*is_p12 = 1;
			const char *pw = password ? password : "";
			if (!PKCS12_verify_mac(p12, pw, -1) &&
			    !(password == NULL && PKCS12_verify_mac(p12, NULL, 0))) {
				ERR_clear_error();
				pkl_err_set(err, PKL_EINPUT, path,
					    password ? "wrong PKCS#12 password" :
						       "PKCS#12 file needs a password (--password-file or "
						       "--password-env)");
				goto out;
			}
			if (!PKCS12_parse(p12, pw, &key, &x, &cas) || !x) {
				pkl_err_ssl(err, PKL_EINPUT, path, "cannot read the PKCS#12 file");
				goto out;
			}
			if (!sk_X509_push(all, x)) { /* x still ours: freed at out */
				rc = pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
				goto out;
			}
			x = NULL;
			while (cas && sk_X509_num(cas) > 0) {
				x = sk_X509_shift(cas);
				if (!sk_X509_push(all, x)) {
					rc = pkl_err_set(err, PKL_ERUNTIME, path, "out of memory");
					goto out;
				}
				x = NULL;
			}
		}
	}
	*leaf = sk_X509_shift(all);
	while (sk_X509_num(all) > 0) {
		X509 *y = sk_X509_shift(all);
		if (!sk_X509_push(extra, y))
			X509_free(y);
	}
	rc = PKL_OK;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	PKCS12_free(p12);
	sk_X509_pop_free(cas, X509_free);
	sk_X509_pop_free(all, X509_free);
	pkl_buf_free(&b);
	return rc;
}

static enum pkl_rc load_cert_file(const char *path, STACK_OF(X509) * out, struct pkl_err *err)
{
	struct pkl_buf b = PKL_BUF_INIT;
	enum pkl_rc rc = pkl_file_read(path, INPUT_MAX, &b, err);
	int n = 0;

	if (rc != PKL_OK)
		return rc;
	if (looks_pem(&b)) {
		n = pem_certs(&b, out);
	} else {
		const unsigned char *p = b.data;
		X509 *x = d2i_X509(NULL, &p, (long)b.len);
		if (x && sk_X509_push(out, x))
			n = 1;
		else
			X509_free(x);
		ERR_clear_error();
	}
	pkl_buf_free(&b);
	if (!n)
		return pkl_err_set(err, PKL_EINPUT, path, "no certificate in this file");
	return PKL_OK;
}

enum pkl_rc pkl_chain_load_certs(const char *path, STACK_OF(X509) * out, struct pkl_err *err)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (stat(path, &st) != 0)
		return pkl_err_sys(err, path, "cannot read");
	if (!S_ISDIR(st.st_mode))
		return load_cert_file(path, out, err);
	d = opendir(path);
	if (!d)
		return pkl_err_sys(err, path, "cannot open directory");
	while ((e = readdir(d)) != NULL) {
		const char *dot = strrchr(e->d_name, '.');
		char full[PATH_MAX];
		if (!dot || (strcmp(dot, ".pem") != 0 && strcmp(dot, ".crt") != 0 &&
			     strcmp(dot, ".cer") != 0 && strcmp(dot, ".der") != 0))
			continue;
		if (pkl_path_join(full, sizeof(full), NULL, "%s/%s", path, e->d_name) != PKL_OK)
			continue;
		if (load_cert_file(full, out, NULL) == PKL_OK)
			found = 1;
	}
	closedir(d);
	if (!found)
		return pkl_err_set(err, PKL_EINPUT, path, "no certificate in this directory");
	return PKL_OK;
}
