#!/bin/sh
# pkilab-cdpd serving a lab built by `pkilab build` (README.md: publish/crl and publish/aia behind the lab's CDP bases): every
# CDP and AIA URI written into the certificates resolves, on the primary and
# on a mirror, to the published DER that openssl verifies against the
# issuing CA; a revocation published with `pkilab crl` reaches both within
# seconds; with the primary killed, vfychain and pki --verify --online see
# the revocation through the second URI (docs/crl-publication.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

P=$(free_port_all)
A=http://127.0.0.1:$P M=http://127.0.0.2:$P
cat >"$T/lab.cfg" <<EOF
lab = {
  name = "cdpd-test";
  pki = "pki";
  cdp = [ "$A", "$M" ];
};
cas = (
  { name = "root"; template = "root-ca"; subject = "C=CH, O=pkilab Test, CN=cdpd Test Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "C=CH, O=pkilab Test, CN=cdpd Test VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=vpn.cdpd.test"; san = [ "vpn.cdpd.test", "192.0.2.10" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=alice.cdpd.test"; san = [ "alice.cdpd.test" ]; }
);
EOF
expect_rc 0 "pkilab build" "$PKILAB" build "$T/lab.cfg"
[ "$RC" = 0 ] || { echo "$ERR"; finish; exit 1; }
PKI=$T/pki
PUB=$PKI/publish
mkdir -p "$T/trust"; cp "$PUB"/aia/*.crt "$T/trust/"

start_cdpd a --publish "$PUB" --listen "127.0.0.1:$P"
start_cdpd m --mirror "$A" --trust "$T/trust" --listen "127.0.0.2:$P" --mirror-interval 1s
check "primary answers" wait_http "$A/healthz"
check "mirror answers" wait_http "$M/healthz"

for ca in root vpn-ca; do
  for base in "$A" "$M"; do
    check "$base/crl/$ca.crl is the published CRL" same_as "$base/crl/$ca.crl" "$PUB/crl/$ca.crl"
    check "$base: openssl verifies it with $ca's certificate" \
      openssl crl -inform DER -in "$T/body" -CAfile "$PKI/certs/$ca.pem" -noout
    check "$base/aia/$ca.crt is the CA certificate" same_as "$base/aia/$ca.crt" "$PUB/aia/$ca.crt"
  done
done
hget "$A/healthz"
check "primary healthy with pkilab's CRLs" test "$CODE" = 200
same_as "$M/crl/vpn-ca.crl" "$PUB/crl/vpn-ca.crl"
hget "$M/healthz"
check "mirror healthy with pkilab's CRLs" test "$CODE" = 200

# The URIs written into the certificates are the ones served.
for cert in gw alice vpn-ca; do
  uris=$(openssl x509 -in "$PKI/certs/$cert.pem" -noout -ext crlDistributionPoints,authorityInfoAccess |
         grep -o 'URI:http://[^ ]*' | sed 's/^URI://')
  check "$cert: has CDP and AIA URIs on both bases" test "$(echo "$uris" | wc -l)" -ge 4
  for u in $uris; do
    hget "$u"
    check "$cert: $u answers 200 with DER" test "$CODE" = 200 -a -s "$T/body"
  done
done

# Revoke alice and publish: both instances follow.
n0=$(openssl crl -inform DER -in "$PUB/crl/vpn-ca.crl" -noout -crlnumber)
serial=$(openssl x509 -in "$PKI/certs/alice.pem" -noout -serial | sed 's/serial=//')
expect_rc 0 "pkilab revoke alice" "$PKILAB" --pki "$PKI" revoke alice --reason keyCompromise
expect_rc 0 "pkilab crl" "$PKILAB" --pki "$PKI" crl
n1=$(openssl crl -inform DER -in "$PUB/crl/vpn-ca.crl" -noout -crlnumber)
check "a new CRL number was published ($n0 -> $n1)" test "$n0" != "$n1"
check "primary serves the new CRL (inotify, within 6 s)" same_as "$A/crl/vpn-ca.crl" "$PUB/crl/vpn-ca.crl"
check "mirror serves the new CRL (within 6 s)" same_as "$M/crl/vpn-ca.crl" "$PUB/crl/vpn-ca.crl"
check "the served CRL lists alice ($serial)" \
  sh -c "openssl crl -inform DER -in '$T/body' -noout -text | tr -d ':' | grep -qi 'Serial Number $serial'"

# Primary down: clients fetch through the second URI.
kill_cdpd a
if command -v vfychain >/dev/null && command -v certutil >/dev/null; then
  mkdir -p "$T/nss"; certutil -N -d "sql:$T/nss" --empty-password >/dev/null 2>&1
  for c in gw alice; do
    u=1; [ "$c" = alice ] && u=0   # SSL server / SSL client usage
    timeout 40 vfychain -d "sql:$T/nss" -pp -u "$u" -g leaf -m crl -s failIfNoInfo \
      -a "$PKI/certs/$c.pem" -a "$PKI/certs/vpn-ca.pem" -a -t "$PKI/certs/root.pem" >"$T/vfy-$c.out" 2>&1
    echo "$?" >"$T/vfy-$c.rc"
  done
  check "vfychain, primary dead: gw good" grep -q "Chain is good" "$T/vfy-gw.out"
  check "vfychain, primary dead: alice revoked (-8180)" grep -q -- "-8180" "$T/vfy-alice.out"
fi
if command -v pki >/dev/null; then
  timeout 60 pki --verify --in "$PKI/certs/alice.pem" --cacert "$PKI/certs/vpn-ca.pem" \
    --cacert "$PKI/certs/root.pem" --online >"$T/pki-alice.out" 2>&1
  check "pki --online, primary dead: fetched from the mirror" grep -q "fetching crl from '$M/crl/vpn-ca.crl'" "$T/pki-alice.out"
  check "pki --online, primary dead: alice revoked" grep -q "certificate was revoked" "$T/pki-alice.out"
  timeout 60 pki --verify --in "$PKI/certs/gw.pem" --cacert "$PKI/certs/vpn-ca.pem" \
    --cacert "$PKI/certs/root.pem" --online >"$T/pki-gw.out" 2>&1
  check "pki --online, primary dead: gw status good" grep -q "certificate status is good" "$T/pki-gw.out"
fi
stop_cdpd m
check "mirror: clean exit" test $? = 0
finish
