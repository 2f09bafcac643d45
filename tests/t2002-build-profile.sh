#!/bin/sh
# t2002-build-profile: settings that the example labs do not exercise, with
# the clock fixed by PKILAB_NOW so every time is checked to the second:
#   - UTCTime through 2049 and GeneralizedTime from 2050, in certificates and
#     CRLs (RFC 5280 §4.1.2.5; RFC 5280 §5.1.2.4), for a lab built "in" 2049;
#   - notBefore = now - the template's backdate, overridden per entry (docs/profile.md);
#     absolute and relative not_before / not_after;
#   - every key algorithm the templates allow: RSA 2048/3072/4096, ECDSA
#     P-256/P-384 (+ P-521 and Ed25519, allowed), SHA-256 signatures and
#     SHA-384 under a P-384 issuer (§9), each leaf verified by openssl;
#   - serial uniqueness per CA enforced by the database itself (RFC 5280 §4.1.2.2).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-certcheck.sh"

# ---- a lab built in 2049 whose validity crosses 2050 ----------------------------------
cat >"$T/y2050.cfg" <<'EOF2'
lab = { name = "y2050"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; crl_lifetime = "400d"; subject = "CN=Y2050 Root"; },
  { name = "ca"; template = "intermediate-ca"; issuer = "root"; subject = "CN=Y2050 CA"; }
);
certs = (
  { name = "old"; template = "ipsec-client"; issuer = "ca"; subject = "CN=old.test"; san = [ "old.test" ];
    not_after = "2049-12-31T23:59:59Z"; },
  { name = "new"; template = "ipsec-client"; issuer = "ca"; subject = "CN=new.test"; san = [ "new.test" ];
    not_after = "2050-01-01T00:00:00Z"; }
);
EOF2
PKILAB_NOW="2049-06-01T00:00:00Z" expect_rc 0 "a lab built at 2049-06-01 builds" "$PKILAB" build "$T/y2050.cfg" --pki "$T/y2050"
tag_of() { # pem|crl-der field-index (1 = notBefore/thisUpdate, 2 = notAfter/nextUpdate)
	case "$1" in *.crl) _i="-inform DER" ;; *) _i= ;; esac
	# shellcheck disable=SC2086
	openssl asn1parse $_i -in "$1" | grep -E 'UTCTIME|GENERALIZEDTIME' | sed -n "${2}p" | sed 's/.*prim: *\([A-Z]*\) *:\(.*\)/\1 \2/' | tr -s ' '
}
# Each case: what is proven | file under the lab | field (1 = notBefore/thisUpdate,
# 2 = notAfter/nextUpdate) | "TAG value" wanted, a glob (* where the seconds vary).
# nextUpdate = thisUpdate (now - 5 min) + crl_lifetime, as for every CRL pkilab signs.
while IFS='|' read -r what file field want <&3; do
	got=$(tag_of "$T/y2050/$file" "$field" </dev/null)
	# $2 unquoted in the case pattern: $want is a glob on purpose
	check "$what" sh -c 'case "$1" in $2) exit 0 ;; esac; echo "got: $1"; exit 1' _ "$got" "$want"
done 3<<'EOF'
RFC 5280 §4.1.2.5 root notBefore 2049-05-31T23:00 is UTCTime|certs/root.pem|1|UTCTIME 490531230000Z
RFC 5280 §4.1.2.5 root notAfter 2059 (notBefore + 10 y) is GeneralizedTime|certs/root.pem|2|GENERALIZEDTIME 20590529230000Z
RFC 5280 §4.1.2.5 leaf notAfter 2049-12-31T23:59:59 is still UTCTime|certs/old.pem|2|UTCTIME 491231235959Z
RFC 5280 §4.1.2.5 leaf notAfter 2050-01-01T00:00:00 is GeneralizedTime|certs/new.pem|2|GENERALIZEDTIME 20500101000000Z
RFC 5280 §5.1.2.4 root CRL thisUpdate (2049) UTCTime|publish/crl/root.crl|1|UTCTIME 4905312355*
RFC 5280 §5.1.2.4 root CRL nextUpdate (thisUpdate + 400d = 2050-07-05T23:55) GeneralizedTime|publish/crl/root.crl|2|GENERALIZEDTIME 20500705235500Z
RFC 5280 §5.1.2.4 intermediate CRL nextUpdate (thisUpdate + 7d) UTCTime|publish/crl/ca.crl|2|UTCTIME 490607235500Z
EOF
for n in root ca old new; do
	check "RFC 5280 §4.1.2.5 $n: time types and syntax" c_times "$T/y2050/certs/$n.pem"
done
check "2050 leaf verifies at 2049-07-01 (openssl -attime)" sh -c 'openssl verify -x509_strict -attime 2508796800 -CAfile "$1/certs/root.pem" -untrusted "$1/certs/new-chain.pem" "$1/certs/new.pem"' _ "$T/y2050"

# ---- backdate and times -------------------------------------------------------------------
cat >"$T/times.cfg" <<'EOF2'
lab = { name = "times"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; subject = "CN=Times Root"; },
  { name = "ca"; template = "intermediate-ca"; issuer = "root"; backdate = "0s"; subject = "CN=Times CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "ca"; backdate = "30m"; subject = "CN=gw.test"; san = [ "gw.test" ]; },
  { name = "abs"; template = "ipsec-client"; issuer = "ca"; subject = "CN=abs.test"; san = [ "abs.test" ];
    not_before = "2026-02-01T08:00:00Z"; not_after = "2026-04-01T08:00:00Z"; },
  { name = "rel"; template = "ipsec-client"; issuer = "ca"; subject = "CN=rel.test"; san = [ "rel.test" ];
    not_before = "-2d"; not_after = "+10m"; },
  { name = "expired"; template = "ipsec-client"; issuer = "ca"; subject = "CN=expired.test"; san = [ "expired.test" ];
    not_before = "-90d"; not_after = "-1d"; }
);
EOF2
PKILAB_NOW="2026-03-01T12:00:00Z" expect_rc 0 "a lab with backdate overrides and absolute/relative times builds" "$PKILAB" build "$T/times.cfg" --pki "$T/times"
dates() { openssl x509 -in "$T/times/certs/$1.pem" -noout -startdate -enddate | tr '\n' ' ' | tr -s ' ' | sed 's/ $//'; }
# Each case: what is proven | certificate | "notBefore=... notAfter=..." wanted, a glob
# (a trailing * where only notBefore is checked).
while IFS='|' read -r what name want <&3; do
	got=$(dates "$name" </dev/null)
	# $2 unquoted in the case pattern: $want is a glob on purpose
	check "$what" sh -c 'case "$1" in $2) exit 0 ;; esac; echo "got: $1"; exit 1' _ "$got" "$want"
done 3<<'EOF'
docs/profile.md root notBefore = now - template backdate 1h|root|notBefore=Mar 1 11:00:00 2026 GMT notAfter=*
docs/profile.md intermediate backdate = 0s: notBefore = now|ca|notBefore=Mar 1 12:00:00 2026 GMT notAfter=*
docs/profile.md gateway backdate = 30m: notBefore = now - 30m, notAfter = notBefore + 397d|gw|notBefore=Mar 1 11:30:00 2026 GMT notAfter=Apr 2 11:30:00 2027 GMT
absolute not_before / not_after taken as written|abs|notBefore=Feb 1 08:00:00 2026 GMT notAfter=Apr 1 08:00:00 2026 GMT
relative -2d / +10m taken from PKILAB_NOW|rel|notBefore=Feb 27 12:00:00 2026 GMT notAfter=Mar 1 12:10:00 2026 GMT
an expired leaf (not_after -1d) is built as asked|expired|notBefore=Dec 1 12:00:00 2025 GMT notAfter=Feb 28 12:00:00 2026 GMT
EOF
check "the database records the same notBefore for gw" \
	test "$(sqlite3 "$T/times/pkilab.db" "select not_before from certs where name='gw'")" = "$(date -u -d 2026-03-01T11:30:00Z +%s)"

# ---- key algorithms ----------------------------------------------------------------------------------
cat >"$T/keys.cfg" <<'EOF2'
lab = { name = "keys"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "rsa:4096"; subject = "CN=Keys Root"; },
  { name = "ca-rsa"; template = "intermediate-ca"; issuer = "root"; key = "rsa:3072"; subject = "CN=Keys RSA CA"; },
  { name = "ca-p384"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-384"; subject = "CN=Keys P-384 CA"; },
  { name = "ca-p256"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256"; subject = "CN=Keys P-256 CA"; }
);
certs = (
  { name = "gw-rsa2048"; template = "ipsec-gateway"; issuer = "ca-rsa"; key = "rsa:2048"; subject = "CN=a.test"; san = [ "a.test", "192.0.2.1" ]; },
  { name = "gw-rsa4096"; template = "ipsec-gateway"; issuer = "ca-p384"; key = "rsa:4096"; subject = "CN=b.test"; san = [ "b.test" ]; },
  { name = "gw-p256"; template = "ipsec-gateway"; issuer = "ca-rsa"; key = "ec:P-256"; subject = "CN=c.test"; san = [ "c.test", "2001:db8::1" ]; },
  { name = "gw-p384"; template = "ipsec-gateway"; issuer = "ca-p256"; key = "ec:P-384"; subject = "CN=d.test"; san = [ "d.test" ]; },
  { name = "cl-p521"; template = "ipsec-client"; issuer = "ca-p384"; key = "ec:P-521"; subject = "CN=e.test"; san = [ "e.test" ]; },
  { name = "cl-ed25519"; template = "ipsec-client"; issuer = "ca-p256"; key = "ed25519"; subject = "CN=f.test"; san = [ "f.test" ]; }
);
EOF2
expect_rc 0 "a lab with RSA 2048/3072/4096, P-256/P-384/P-521 and Ed25519 keys builds" "$PKILAB" build "$T/keys.cfg" --pki "$T/keys"
pki_rows "$T/keys" >"$T/keys.rows"
while IFS='|' read -r n ca iss tmpl spec _; do
	ispec=$(sqlite3 "$T/keys/pkilab.db" "select key_spec from certs where current=1 and name='$iss'")
	check "§9 $n: $spec key matches its certificate" c_key "$T/keys/certs/$n.pem" "$T/keys/private/$n.key" "$spec"
	check "§9 $n: signed by a $ispec issuer with the right hash" c_sigalg "$T/keys/certs/$n.pem" "$ispec"
	[ "$n" = "$iss" ] && continue
	check "$n: openssl verify -x509_strict -purpose $(purpose_of "$tmpl")" v_openssl "$T/keys" "$n" "$tmpl"
done <"$T/keys.rows"
check "RFC 8813 §3 RSA-4096 gateway has keyEncipherment, P-384 gateway has not" \
	sh -c '[ "$1" = "Digital Signature, Key Encipherment" ] && [ "$2" = "Digital Signature" ]' _ \
	"$(ext_value "$T/keys/certs/gw-rsa4096.pem" "X509v3 Key Usage")" "$(ext_value "$T/keys/certs/gw-p384.pem" "X509v3 Key Usage")"
check "RFC 5280 §4.2.1.6; strongSwan Windows requirements IPv6 SAN: 16-octet iPAddress and also a dNSName" sh -c 'echo "$1" | grep -q "IP Address:2001:DB8:0:0:0:0:0:1" && echo "$1" | grep -q "DNS:2001:db8::1"' _ \
	"$(ext_value "$T/keys/certs/gw-p256.pem" "X509v3 Subject Alternative Name")"

# ---- serial uniqueness is the database's rule (RFC 5280 §4.1.2.2) ------------------------------------------------------
cp "$T/keys/pkilab.db" "$T/dup.db"
run sqlite3 "$T/dup.db" "insert into certs(name, issuer_id, serial, is_ca, current, subject, not_before, not_after, issued_at, der)
	select name || '-dup', issuer_id, serial, is_ca, 0, subject, not_before, not_after, issued_at, der from certs where name = 'gw-p256'"
check "RFC 5280 §4.1.2.2 the database refuses a second certificate with the same (issuer, serial)" sh -c '[ "$1" != 0 ] && echo "$2" | grep -qi unique' _ "$RC" "$ERR"
check "RFC 5280 §4.1.2.2 serials are all distinct across the lab" test "$(sqlite3 "$T/keys/pkilab.db" 'select count(distinct serial) = count(*) from certs')" = 1
finish
