#!/bin/sh
# doctor's path validation against RFC 5280 §6.1 rules beyond the link checks,
# on chains made with the openssl CLI (no pkilab issuance involved), each
# verdict compared with `openssl verify -x509_strict`:
# - pathLenConstraint counts only non-self-issued intermediates (RFC 5280
#   §4.2.1.9, §6.1.4(l)): root(pathlen 0) -> self-issued rollover root' -> leaf
#   is valid; root(pathlen 0) -> intermediate -> leaf is not, nor is
#   root(pathlen 0) -> root' -> intermediate -> leaf.
# - a certificate with an unrecognised critical extension is rejected (RFC 5280
#   §4.2), in the leaf and in an intermediate (chain.unknown_critical).
# Doctor runs offline for strongSwan (--no-fetch --platform strongswan); GnuTLS
# certtool --verify-chain and strongSwan pki --verify are asked too where they
# judge the same thing (disagreements are stated beside the case).
. "$(dirname "$0")/lib.sh"

[ -x "$PKILAB" ] || skip_all "no $PKILAB"
command -v jq >/dev/null || skip_all "jq missing"

cd "$T" || exit 1
cat >ext.cnf <<'CNF'
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca_oddcrit]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
1.3.6.1.4.1.55555.1.2 = critical,DER:05:00
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,1.3.6.1.5.5.7.3.17
subjectAltName = DNS:vpn.example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_oddcrit]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,1.3.6.1.5.5.7.3.17
subjectAltName = DNS:vpn.example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
1.3.6.1.4.1.55555.1.1 = critical,DER:05:00
[leaf_oddnoncrit]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,1.3.6.1.5.5.7.3.17
subjectAltName = DNS:vpn.example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
1.3.6.1.4.1.55555.1.1 = DER:05:00
CNF
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
_serial=100
# issue NAME SUBJECT ISSUER-NAME EXT-SECTION: NAME.pem signed by ISSUER-NAME's key
issue() {
  _serial=$((_serial + 1))
  [ -f "$1.key" ] || key "$1"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null &&
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$_serial" -days 30 \
      -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
}
root() { # NAME SUBJECT EXT-SECTION
  key "$1"
  openssl req -x509 -new -key "$1.key" -subj "$2" -days 30 -config ext.cnf -extensions "$3" -out "$1.pem" 2>/dev/null
}
# doctor_on LEAF ROOT [INTERMEDIATES...]: offline, strongSwan; sets RC, FAILS (the fail codes)
doctor_on() {
  _leaf=$1 _root=$2; shift 2
  _args=""
  for _i in "$@"; do _args="$_args --chain $_i.pem"; done
  # shellcheck disable=SC2086 # one word per option on purpose
  run "$PKILAB" doctor --json --no-fetch --platform strongswan --trust "$_root.pem" $_args "$_leaf.pem"
  FAILS=$(printf '%s' "$OUT" | jq -r '.findings[] | select(.severity == "fail") | .code' | sort -u | tr '\n' ' ')
}
ossl_ok() { # LEAF ROOT [INTERMEDIATES...]
  _leaf=$1 _root=$2; shift 2
  cat /dev/null >untrusted.pem
  for _i in "$@"; do cat "$_i.pem" >>untrusted.pem; done
  openssl verify -x509_strict -CAfile "$_root.pem" -untrusted untrusted.pem "$_leaf.pem"
}
ossl_refuses() { ! ossl_ok "$@"; }
# GnuTLS: the chain as a peer sends it, root last (certtool --verify-chain)
gnutls_ok() { # LEAF ROOT [INTERMEDIATES...]
  _leaf=$1 _root=$2; shift 2
  cat "$_leaf.pem" >bundle.pem
  for _i in "$@"; do cat "$_i.pem" >>bundle.pem; done
  cat "$_root.pem" >>bundle.pem
  certtool --verify-chain --infile bundle.pem >gnutls.out 2>&1
  grep -q "Chain verification output: Verified" gnutls.out && ! grep -q "Not verified" gnutls.out
}
# strongSwan's own validator (pki --verify, the x509 plugin charon uses)
sws_ok() { # LEAF ROOT [INTERMEDIATES...]
  _leaf=$1 _root=$2; shift 2
  _args="--cacert $_root.pem"
  for _i in "$@"; do _args="$_args --cacert $_i.pem"; done
  # shellcheck disable=SC2086 # one word per option on purpose
  pki --verify --in "$_leaf.pem" $_args >sws.out 2>&1
  grep -q "certificate trusted" sws.out && ! grep -q "untrusted\|not trusted" sws.out
}
HAVE_GNUTLS=0 HAVE_SWS=0
command -v certtool >/dev/null && HAVE_GNUTLS=1
command -v pki >/dev/null && HAVE_SWS=1
gnutls_refuses() { ! gnutls_ok "$@"; }
sws_refuses() { ! sws_ok "$@"; }
# others GNUTLS SWS description LEAF ROOT [INTERMEDIATES...]: each of accept,
# refuse or - (not asked, the reason beside the call)
others() {
  _gv=$1 _sv=$2 _d=$3; shift 3
  if [ "$HAVE_GNUTLS" = 1 ] && [ "$_gv" != - ]; then
    if [ "$_gv" = accept ]; then _f=gnutls_ok; else _f=gnutls_refuses; fi
    check "$_d: certtool --verify-chain: $_gv" "$_f" "$@"
  fi
  if [ "$HAVE_SWS" = 1 ] && [ "$_sv" != - ]; then
    if [ "$_sv" = accept ]; then _f=sws_ok; else _f=sws_refuses; fi
    check "$_d: strongSwan pki --verify: $_sv" "$_f" "$@"
  fi
}

# ---- pathLenConstraint and self-issued certificates -----------------------------
root r0 "/CN=Rollover Root" ca0
key r0new
issue r0new "/CN=Rollover Root" r0 ca # same DN, new key, signed with the old key: self-issued
issue gw1 "/CN=vpn.example.test" r0new leaf
check "self-issued: openssl made root' with subject = issuer" \
  test "$(openssl x509 -in r0new.pem -noout -subject)" = "subject=$(openssl x509 -in r0new.pem -noout -issuer | sed 's/^issuer=//')"
check "root(pathlen 0) -> self-issued root' -> leaf: openssl verify accepts" ossl_ok gw1 r0 r0new
# GnuTLS 3.7 counts the self-issued certificate against pathLenConstraint
# ("The certificate chain violates the signer's constraints"): it does not
# apply RFC 5280 §6.1.4(l); doctor follows the RFC and OpenSSL. strongSwan's
# pki --verify makes every --cacert a trust anchor, so the path stops at root'
# and the root's constraint is never in play: not asked on path lengths.
others refuse - "rollover (GnuTLS disagrees, see above)" gw1 r0 r0new
doctor_on gw1 r0 r0new
check "root(pathlen 0) -> self-issued root' -> leaf: doctor accepts (exit $RC, failures: $FAILS)" test "$RC" -eq 0 -a -z "$FAILS"
check "... and says path lengths are respected" test "$(printf '%s' "$OUT" | jq -r '.findings[] | select(.code == "chain.ca_flags") | .severity')" = ok

issue mid "/CN=Issuing CA" r0 ca
issue gw2 "/CN=vpn.example.test" mid leaf
check "root(pathlen 0) -> intermediate -> leaf: openssl verify refuses" ossl_refuses gw2 r0 mid
others refuse - "pathlen 0 exceeded" gw2 r0 mid
doctor_on gw2 r0 mid
check "root(pathlen 0) -> intermediate -> leaf: doctor fails on chain.path_len (exit $RC)" \
  test "$RC" -eq 1 -a "$FAILS" = "chain.path_len "
check "... naming the count and the path_len the fix needs" contains "$OUT" "re-issue CN=Rollover Root with path_len 1 or more"

issue mid2 "/CN=Issuing CA 2" r0new ca
issue gw3 "/CN=vpn.example.test" mid2 leaf
check "root(pathlen 0) -> root' -> intermediate -> leaf: openssl verify refuses" ossl_refuses gw3 r0 r0new mid2
others refuse - "pathlen 0 exceeded below a rollover" gw3 r0 r0new mid2
doctor_on gw3 r0 r0new mid2
check "root(pathlen 0) -> root' -> intermediate -> leaf: doctor fails on chain.path_len (exit $RC)" \
  test "$RC" -eq 1 -a "$FAILS" = "chain.path_len "
check "... the self-issued one is not counted, the intermediate is" contains "$OUT" "pathLenConstraint 0 but 1 CA certificate(s) follow it (self-issued ones not counted: 1)"

# ---- unknown critical extensions (RFC 5280 §4.2) ---------------------------------
# 1.3.6.1.4.1.55555.1.x: an arbitrary private OID no validator recognises, value NULL
root r1 "/CN=Plain Root" ca
issue ica "/CN=Plain Issuing CA" r1 ca
issue gw4 "/CN=vpn.example.test" ica leaf
check "control: root -> CA -> leaf: openssl verify accepts" ossl_ok gw4 r1 ica
others accept accept "control" gw4 r1 ica
doctor_on gw4 r1 ica
check "control: doctor accepts (exit $RC, failures: $FAILS)" test "$RC" -eq 0 -a -z "$FAILS"
check "control: chain.critical_extensions ok" test "$(printf '%s' "$OUT" | jq -r '.findings[] | select(.code == "chain.critical_extensions") | .severity')" = ok

issue gw5 "/CN=vpn.example.test" ica leaf_oddcrit
check "unknown critical extension in the leaf: openssl verify refuses" ossl_refuses gw5 r1 ica
others refuse refuse "critical extension in the leaf" gw5 r1 ica
check "... with 'unhandled critical extension'" sh -c "openssl verify -CAfile r1.pem -untrusted ica.pem gw5.pem 2>&1 | grep -q 'unhandled critical extension'"
doctor_on gw5 r1 ica
check "unknown critical extension in the leaf: doctor fails on chain.unknown_critical (exit $RC)" \
  test "$RC" -eq 1 -a "$FAILS" = "chain.unknown_critical "
check "... naming the OID and the certificate" test "$(printf '%s' "$OUT" | jq -r '.findings[] | select(.code == "chain.unknown_critical") | "\(.subject) \(.message)"')" = \
  "CN=vpn.example.test critical extension 1.3.6.1.4.1.55555.1.1 (unknown) is not recognised: the certificate must be rejected"

issue ica2 "/CN=Odd Issuing CA" r1 ca_oddcrit
issue gw6 "/CN=vpn.example.test" ica2 leaf
check "unknown critical extension in the intermediate: openssl verify refuses" ossl_refuses gw6 r1 ica2
others refuse refuse "critical extension in the intermediate" gw6 r1 ica2
doctor_on gw6 r1 ica2
check "unknown critical extension in the intermediate: doctor fails on chain.unknown_critical (exit $RC)" \
  test "$RC" -eq 1 -a "$FAILS" = "chain.unknown_critical "
check "... about the intermediate" test "$(printf '%s' "$OUT" | jq -r '.findings[] | select(.code == "chain.unknown_critical") | .subject')" = "CN=Odd Issuing CA"

issue gw7 "/CN=vpn.example.test" ica leaf_oddnoncrit
check "the same extension non-critical: openssl verify accepts" ossl_ok gw7 r1 ica
others accept accept "non-critical" gw7 r1 ica
doctor_on gw7 r1 ica
check "the same extension non-critical: doctor accepts (exit $RC, failures: $FAILS)" test "$RC" -eq 0 -a -z "$FAILS"
finish
