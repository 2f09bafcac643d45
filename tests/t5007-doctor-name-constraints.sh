#!/bin/sh
# doctor checks name constraints across the path (RFC 5280 §4.2.1.10, §6.1.3(b)(c),
# §6.1.4(g)): for each form - dNSName, iPAddress with mask (IPv4, IPv6),
# rfc822Name (and the subject's emailAddress), directoryName, URI - a CA with a
# permitted or an excluded subtree, a leaf inside and a leaf outside; the
# constraints of two CAs together; a self-issued intermediate (not checked) and
# a self-issued leaf (checked); the CN checked as a host name when no dNSName
# SAN exists (OpenSSL's rule, not RFC 5280's). Chains are made with the
# openssl CLI; doctor (--no-fetch --platform strongswan) must agree with
# `openssl verify -x509_strict` and GnuTLS `certtool --verify-chain` on each,
# or the disagreement is stated beside the case.
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
[ca_nc]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
nameConstraints = $ENV::NC
[ca_san]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,1.3.6.1.5.5.7.3.17
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_nosan]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,1.3.6.1.5.5.7.3.17
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[dn_example]
C = CH
O = Example
CNF
export NC=critical,permitted\;DNS:unused.test SAN=DNS:unused.test
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
_serial=100
# issue NAME SUBJECT ISSUER-NAME EXT-SECTION: NAME.pem signed by ISSUER-NAME's key ($NC, $SAN as set)
issue() {
  _serial=$((_serial + 1))
  [ -f "$1.key" ] || key "$1"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null &&
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$_serial" -days 30 \
      -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>err.txt || { cat err.txt; return 1; }
}
root() { # NAME SUBJECT EXT-SECTION
  key "$1"
  openssl req -x509 -new -key "$1.key" -subj "$2" -days 30 -config ext.cnf -extensions "$3" -out "$1.pem" 2>err.txt || cat err.txt
}
# verdicts of the three validators on LEAF ROOT [INTERMEDIATES...]; doctor's
# in DV, with its first chain.name_constraints message in NCMSG
doctor_verdict() {
  _leaf=$1 _root=$2; shift 2
  _args=""
  for _i in "$@"; do _args="$_args --chain $_i.pem"; done
  # shellcheck disable=SC2086 # one word per option on purpose
  run "$PKILAB" doctor --json --no-fetch --platform strongswan --trust "$_root.pem" $_args "$_leaf.pem"
  FAILS=$(printf '%s' "$OUT" | jq -r '.findings[] | select(.severity == "fail") | .code' | sort -u | tr '\n' ' ')
  NCMSG=$(printf '%s' "$OUT" | jq -r '.findings[] | select(.code == "chain.name_constraints" and .severity == "fail") | .message' | head -n 1)
  if [ "$RC" -eq 0 ] && [ -z "$FAILS" ]; then DV=accept
  elif [ "$RC" -eq 1 ] && [ "$FAILS" = "chain.name_constraints " ]; then DV=refuse
  else DV="other (exit $RC, failures: $FAILS)"; fi
}
openssl_verdict() {
  _leaf=$1 _root=$2; shift 2
  : >untrusted.pem
  for _i in "$@"; do cat "$_i.pem" >>untrusted.pem; done
  if openssl verify -x509_strict -CAfile "$_root.pem" -untrusted untrusted.pem "$_leaf.pem" >ossl.out 2>&1; then echo accept
  elif grep -q "name constraint\|permitted subtree\|excluded subtree\|subtree violation" ossl.out; then echo refuse
  else echo "other: $(tr '\n' ' ' <ossl.out)"; fi
}
gnutls_verdict() {
  _leaf=$1 _root=$2; shift 2
  cat "$_leaf.pem" >bundle.pem
  for _i in "$@"; do cat "$_i.pem" >>bundle.pem; done
  cat "$_root.pem" >>bundle.pem
  certtool --verify-chain --infile bundle.pem >gnutls.out 2>&1
  if grep -q "Chain verification output: Verified" gnutls.out && ! grep -q "Not verified" gnutls.out; then echo accept
  elif grep -q "Chain verification output: Not verified.*constraint" gnutls.out; then echo refuse
  else echo "other: $(grep 'Chain verification output' gnutls.out)"; fi
}
HAVE_GNUTLS=0
command -v certtool >/dev/null && HAVE_GNUTLS=1
# case EXPECT DESCRIPTION LEAF ROOT [INTERMEDIATES...]: doctor, openssl and
# GnuTLS each give EXPECT (accept|refuse); GNUTLS_EXPECT overrides GnuTLS's
# when it disagrees (stated at the call).
case_() {
  _want=$1 _d=$2; shift 2
  doctor_verdict "$@"
  check "$_d: doctor: $_want (got: $DV${NCMSG:+; $NCMSG})" test "$DV" = "$_want"
  _ov=$(openssl_verdict "$@")
  check "$_d: openssl verify: $_want (got: $_ov)" test "$_ov" = "$_want"
  if [ "$HAVE_GNUTLS" = 1 ]; then
    _gw=${GNUTLS_EXPECT:-$_want}
    _gv=$(gnutls_verdict "$@")
    check "$_d: certtool --verify-chain: $_gw (got: $_gv)" test "$_gv" = "$_gw"
  fi
  GNUTLS_EXPECT=""
}
GNUTLS_EXPECT="" NCMSG="" DV=""

root root "/CN=NC Test Root" ca

# ---- dNSName, permitted -----------------------------------------------------------
NC="critical,permitted;DNS:example.test" issue cadns "/CN=DNS CA" root ca_nc
SAN="DNS:vpn.example.test" issue l_dns_in "/CN=vpn.example.test" cadns leaf
SAN="DNS:example.test" issue l_dns_eq "/CN=example.test" cadns leaf
SAN="DNS:vpn.other.test" issue l_dns_out "/CN=vpn.other.test" cadns leaf
SAN="DNS:vpnexample.test" issue l_dns_label "/CN=vpnexample.test" cadns leaf
case_ accept "DNS permitted example.test, leaf vpn.example.test" l_dns_in root cadns
case_ accept "DNS permitted example.test, leaf example.test" l_dns_eq root cadns
case_ refuse "DNS permitted example.test, leaf vpn.other.test" l_dns_out root cadns
check "... the finding names the name, the form and the CA" test "$NCMSG" = \
  "subjectAltName dNSName 'vpn.other.test' is outside the permitted subtrees of CN=DNS CA (example.test)"
case_ refuse "DNS permitted example.test, leaf vpnexample.test (not a label boundary)" l_dns_label root cadns
# Windows wants the gateway's IP also as a dNSName: a DNS-only constraint refuses it
SAN="DNS:vpn.example.test,IP:192.0.2.10,DNS:192.0.2.10" issue l_dns_ipdns "/CN=vpn.example.test" cadns leaf
case_ refuse "DNS permitted example.test, leaf with the IP as dNSName (Windows form)" l_dns_ipdns root cadns
check "... names the dNSName 192.0.2.10" contains "$NCMSG" "dNSName '192.0.2.10'"

# ---- dNSName, excluded, leading-dot form --------------------------------------------
NC="critical,excluded;DNS:.bad.test" issue cadnsx "/CN=DNS Excluding CA" root ca_nc
SAN="DNS:host.bad.test" issue l_dnsx_out "/CN=host.bad.test" cadnsx leaf
SAN="DNS:bad.test" issue l_dnsx_in "/CN=bad.test" cadnsx leaf
case_ refuse "DNS excluded .bad.test, leaf host.bad.test" l_dnsx_out root cadnsx
check "... the finding names the excluded subtree" contains "$NCMSG" "is in the excluded subtree '.bad.test' of CN=DNS Excluding CA"
case_ accept "DNS excluded .bad.test, leaf bad.test (the dot form needs a label more)" l_dnsx_in root cadnsx

# ---- iPAddress, excluded, IPv4 and IPv6 with masks ----------------------------------
NC="critical,excluded;IP:192.0.2.0/255.255.255.0,excluded;IP:2001:db8::/ffff:ffff::" issue caip "/CN=IP CA" root ca_nc
SAN="DNS:gw.example.test,IP:192.0.2.10" issue l_ip4_out "/CN=gw.example.test" caip leaf
SAN="DNS:gw.example.test,IP:198.51.100.10" issue l_ip4_in "/CN=gw.example.test" caip leaf
SAN="DNS:gw.example.test,IP:2001:db8:1::10" issue l_ip6_out "/CN=gw.example.test" caip leaf
SAN="DNS:gw.example.test,IP:2001:db9::10" issue l_ip6_in "/CN=gw.example.test" caip leaf
case_ refuse "IP excluded 192.0.2.0/24, leaf 192.0.2.10" l_ip4_out root caip
check "... the finding gives address and mask" contains "$NCMSG" "iPAddress '192.0.2.10' is in the excluded subtree '192.0.2.0/255.255.255.0'"
case_ accept "IP excluded 192.0.2.0/24, leaf 198.51.100.10" l_ip4_in root caip
case_ refuse "IP excluded 2001:db8::/32, leaf 2001:db8:1::10" l_ip6_out root caip
case_ accept "IP excluded 2001:db8::/32, leaf 2001:db9::10" l_ip6_in root caip

# ---- iPAddress, permitted -------------------------------------------------------------
NC="critical,permitted;IP:10.0.0.0/255.0.0.0" issue caipp "/CN=IP Permitting CA" root ca_nc
SAN="DNS:gw.example.test,IP:10.1.2.3" issue l_ipp_in "/CN=gw.example.test" caipp leaf
SAN="DNS:gw.example.test,IP:11.1.2.3" issue l_ipp_out "/CN=gw.example.test" caipp leaf
SAN="DNS:gw.example.test,IP:::ffff:10.1.2.3" issue l_ipp_v6 "/CN=gw.example.test" caipp leaf
case_ accept "IP permitted 10/8, leaf 10.1.2.3" l_ipp_in root caipp
case_ refuse "IP permitted 10/8, leaf 11.1.2.3" l_ipp_out root caipp
# iPAddress is one name form (RFC 5280 §4.2.1.10): an IPv6 address is in none of
# the permitted IPv4 subtrees, and OpenSSL refuses it; GnuTLS 3.7 accepts it
# (it applies permitted iPAddress subtrees per address family).
GNUTLS_EXPECT=accept case_ refuse "IP permitted 10/8 (IPv4 only), leaf IPv6 ::ffff:10.1.2.3" l_ipp_v6 root caipp

# ---- rfc822Name: host, .domain and mailbox forms; the subject's emailAddress ----------
NC="critical,permitted;email:example.test,permitted;email:.corp.test,excluded;email:mallory@example.test" issue camail "/CN=Mail CA" root ca_nc
SAN="email:alice@example.test" issue l_mail_host "/CN=alice" camail leaf
SAN="email:bob@eu.corp.test" issue l_mail_dom "/CN=bob" camail leaf
SAN="email:carol@corp.test" issue l_mail_domonly "/CN=carol" camail leaf
SAN="email:dave@other.test" issue l_mail_out "/CN=dave" camail leaf
SAN="email:mallory@example.test" issue l_mail_box "/CN=mallory" camail leaf
SAN="DNS:unused.test" issue l_mail_subj "/CN=eve/emailAddress=eve@other.test" camail leaf_nosan
case_ accept "email permitted example.test, leaf alice@example.test" l_mail_host root camail
case_ accept "email permitted .corp.test, leaf bob@eu.corp.test" l_mail_dom root camail
case_ refuse "email permitted .corp.test, leaf carol@corp.test (the dot form is below the domain)" l_mail_domonly root camail
case_ refuse "email permitted example.test/.corp.test, leaf dave@other.test" l_mail_out root camail
case_ refuse "email excluded mailbox mallory@example.test" l_mail_box root camail
case_ refuse "email: subject emailAddress eve@other.test (RFC 5280 §4.2.1.10)" l_mail_subj root camail
check "... found in the subject's emailAddress" contains "$NCMSG" "subject emailAddress rfc822Name 'eve@other.test'"

# ---- directoryName -------------------------------------------------------------------
NC="critical,permitted;dirName:dn_example" issue cadn "/C=CH/O=Example/CN=DN CA" root ca_nc
SAN="DNS:vpn.example.test" issue l_dn_in "/C=CH/O=Example/CN=vpn.example.test" cadn leaf
SAN="DNS:vpn.example.test" issue l_dn_out "/C=CH/O=Other/CN=vpn.example.test" cadn leaf
case_ accept "dirName permitted C=CH,O=Example, leaf C=CH,O=Example,CN=..." l_dn_in root cadn
# GnuTLS 3.7 processes dNSName, rfc822Name and iPAddress constraints only: it
# accepts a subject outside a directoryName constraint (OpenSSL refuses).
GNUTLS_EXPECT=accept case_ refuse "dirName permitted C=CH,O=Example, leaf C=CH,O=Other,CN=..." l_dn_out root cadn

# ---- uniformResourceIdentifier: the host of the URI ------------------------------------
NC="critical,permitted;URI:.example.test" issue cauri "/CN=URI CA" root ca_nc
SAN="DNS:vpn.example.test,URI:http://crl.example.test/x.crl" issue l_uri_in "/CN=vpn.example.test" cauri leaf
SAN="DNS:vpn.example.test,URI:http://crl.other.test/x.crl" issue l_uri_out "/CN=vpn.example.test" cauri leaf
case_ accept "URI permitted .example.test, leaf URI http://crl.example.test/" l_uri_in root cauri
# GnuTLS 3.7 does not process URI constraints (accepts); OpenSSL does (refuses)
GNUTLS_EXPECT=accept case_ refuse "URI permitted .example.test, leaf URI http://crl.other.test/" l_uri_out root cauri

# ---- two constrained CAs: both hold for the leaf (intersection) ------------------------
NC="critical,permitted;DNS:example.test" root rootnc "/CN=Constrained Root" ca_nc
NC="critical,permitted;DNS:other.test,permitted;DNS:vpn.example.test" issue casub "/CN=Sub CA" rootnc ca_nc
SAN="DNS:gw.vpn.example.test" issue l_both_in "/CN=gw.vpn.example.test" casub leaf
SAN="DNS:gw.other.test" issue l_root_out "/CN=gw.other.test" casub leaf
SAN="DNS:mail.example.test" issue l_sub_out "/CN=mail.example.test" casub leaf
case_ accept "root example.test + CA vpn.example.test, leaf gw.vpn.example.test" l_both_in rootnc casub
case_ refuse "root example.test + CA other.test, leaf gw.other.test (the root's constraint)" l_root_out rootnc casub
check "... blames the root" contains "$NCMSG" "of CN=Constrained Root"
case_ refuse "root example.test + CA vpn.example.test, leaf mail.example.test (the CA's constraint)" l_sub_out rootnc casub
check "... blames the CA" contains "$NCMSG" "of CN=Sub CA"

# ---- self-issued: an intermediate is not checked, the leaf is ---------------------------
# cadns (permitted example.test) -> cadns' (same DN, new key, SAN outside) -> leaf
SAN="DNS:ca.outside.test" issue cadns2 "/CN=DNS CA" cadns ca_san
SAN="DNS:vpn.example.test" issue l_si_in "/CN=vpn.example.test" cadns2 leaf
case_ accept "self-issued intermediate with a name outside, leaf inside" l_si_in root cadns cadns2
# a leaf whose subject is its issuer's DN: self-issued, but the last certificate
SAN="DNS:leaf.outside.test" issue l_si_leaf "/CN=DNS CA" cadns leaf
case_ refuse "self-issued leaf with a name outside" l_si_leaf root cadns

# ---- the CN as a host name when there is no dNSName SAN (OpenSSL's rule) ----------------
issue l_cn_out "/CN=vpn.other.test" cadns leaf_nosan
issue l_cn_in "/CN=vpn.example.test" cadns leaf_nosan
SAN="DNS:vpn.example.test" issue l_cn_san "/CN=vpn.other.test" cadns leaf
case_ refuse "no SAN, CN vpn.other.test under DNS example.test" l_cn_out root cadns
check "... says it is the CN read as a host name" contains "$NCMSG" "subject CN dNSName 'vpn.other.test'"
case_ accept "no SAN, CN vpn.example.test under DNS example.test" l_cn_in root cadns
case_ accept "dNSName SAN inside, CN outside: the CN is not checked" l_cn_san root cadns
finish
