#!/bin/sh
# t3001-revoke-crl-validators: after `pkilab revoke` and `pkilab crl`, three
# independent validators (OpenSSL, GnuTLS certtool, strongSwan pki) reject the
# revoked certificate for the stated reason and still accept the others, and
# every published CRL has the RFC 5280 profile (RFC 5280 §5.1-5.3,
# docs/profile.md "CRLs").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

# RSA: Debian's strongSwan without the openssl plugin parses no ECDSA keys.
life_lab "$T/lab" || { finish; exit 1; }
sed -i 's/ec:P-256/rsa:2048/g' "$T/lab/lab.cfg"
life_build "$T/lab" || { echo "rsa build failed"; exit 1; }
cd "$T" || exit 1
C=$PKI/certs

expect_rc 0 "revoke alice --reason keyCompromise --invalidity-date -2d" \
	"$PKILAB" --pki "$PKI" revoke alice --reason keyCompromise --invalidity-date -2d
check "the revocation is reported on stdout" contains "$OUT" "revoked alice"
expect_rc 0 "revoke bob by serial (colons, upper case) --reason superseded" \
	"$PKILAB" --pki "$PKI" revoke "$(openssl x509 -in "$C/bob.pem" -noout -serial | sed 's/.*=//; s/../&:/g; s/:$//')" --reason superseded
expect_rc 0 "pkilab crl signs every CA's CRL" "$PKILAB" --pki "$PKI" crl
check "the output names both CAs" sh -c 'echo "$1" | grep -q "^root: signed" && echo "$1" | grep -q "^vpn-ca: signed"' _ "$OUT"

crl_pem root root.crl && crl_pem vpn-ca vpn-ca.crl
cat root.crl vpn-ca.crl >crls.pem
cat "$C/alice.pem" "$C/vpn-ca.pem" "$C/root.pem" >alice-full.pem
cat "$C/gw.pem" "$C/vpn-ca.pem" "$C/root.pem" >gw-full.pem
cat "$C/bob.pem" "$C/vpn-ca.pem" "$C/root.pem" >bob-full.pem

# --- OpenSSL
run openssl verify -crl_check_all -CAfile "$C/root.pem" -untrusted "$C/vpn-ca.pem" -CRLfile crls.pem "$C/alice.pem"
check "openssl verify -crl_check_all rejects alice: certificate revoked (strongSwan swanctl.conf revocation)" sh -c '[ "$1" != 0 ] && echo "$2" | grep -q "certificate revoked"' _ "$RC" "$OUT$ERR"
check "openssl verify -crl_check_all accepts gw" openssl verify -crl_check_all -CAfile "$C/root.pem" -untrusted "$C/vpn-ca.pem" -CRLfile crls.pem "$C/gw.pem"
run openssl verify -crl_check_all -CAfile "$C/root.pem" -untrusted "$C/vpn-ca.pem" -CRLfile crls.pem "$C/bob.pem"
check "openssl verify rejects bob (revoked by serial)" sh -c '[ "$1" != 0 ]' _ "$RC"
check "openssl crl -verify accepts the root CRL" openssl crl -in root.crl -CAfile "$C/root.pem" -verify -noout
check "openssl crl -verify accepts the vpn-ca CRL" openssl crl -in vpn-ca.crl -CAfile "$C/vpn-ca.pem" -verify -noout
text=$(openssl crl -in vpn-ca.crl -noout -text)
alice_serial=$(openssl x509 -in "$C/alice.pem" -noout -serial | sed 's/.*=//')
check "alice's entry carries reason Key Compromise (RFC 5280 §5.3.1)" sh -c 'echo "$1" | grep -A6 "$2" | grep -q "Key Compromise"' _ "$text" "$alice_serial"
check "alice's entry carries an invalidity date (RFC 5280 §5.3.2)" sh -c 'echo "$1" | grep -A8 "$2" | grep -q "Invalidity Date"' _ "$text" "$alice_serial"
check "bob's entry carries reason Superseded" sh -c 'echo "$1" | grep -q "Superseded"' _ "$text"
check "CRL is version 2 (RFC 5280 §5.1.2.1)" contains "$text" "Version 2"
check "the root CRL has no revokedCertificates field (RFC 5280 §5.1.2.6)" contains "$(openssl crl -in root.crl -noout -text)" "No Revoked Certificates"
# AKI == CA SKI (RFC 5280 §5.2.1), issuer byte-equal to the CA subject (RFC 5280 §5.1.2.3)
ski=$(openssl x509 -in "$C/vpn-ca.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
aki=$(echo "$text" | grep -A1 "Authority Key Identifier" | tail -1 | tr -d ' ' | sed 's/^keyid://')
check "CRL AKI keyIdentifier equals the CA's SKI (RFC 5280 §5.2.1)" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$ski" "$aki"
# Issuer DER: openssl asn1parse gives offsets; compare the Name encodings.
ca_subj_der=$(openssl x509 -in "$C/vpn-ca.pem" -noout -subject -nameopt RFC2253)
crl_iss=$(openssl crl -in vpn-ca.crl -noout -issuer -nameopt RFC2253)
check "CRL issuer equals the CA subject (RFC 5280 §5.1.2.3)" sh -c '[ "${1#subject=}" = "${2#issuer=}" ]' _ "$ca_subj_der" "$crl_iss"
# The subject Name of the certificate: the 4th SEQUENCE at depth 2 of the
# TBSCertificate (signature, issuer, validity, subject); its DER bytes must
# occur verbatim in the CRL.
name_hex() {
  _l=$(openssl asn1parse -in "$1" | awk '/d=2/ && /SEQUENCE/ {c++} c==4 {print; exit}')
  _off=$(echo "$_l" | sed 's/:.*//' | tr -d ' ')
  _hl=$(echo "$_l" | sed 's/.*hl=\([0-9]*\).*/\1/')
  _len=$(echo "$_l" | sed 's/.*l= *\([0-9]*\) cons.*/\1/')
  openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n' | cut -c$((_off * 2 + 1))-$(((_off + _hl + _len) * 2))
}
subj_hex=$(name_hex "$C/vpn-ca.pem")
crl_hex=$(openssl crl -in vpn-ca.crl -outform DER | od -An -v -tx1 | tr -d ' \n')
check "CRL issuer DER is byte-equal to the CA subject DER (RFC 5280 §5.1.2.3)" sh -c '[ ${#1} -gt 40 ] && case "$2" in *"$1"*) exit 0 ;; esac; exit 1' _ "$subj_hex" "$crl_hex"
# thisUpdate back-dated (docs/profile.md), nextUpdate present (RFC 5280 §5.1.2.5) and = thisUpdate + 7d
lu=$(date -u -d "$(openssl crl -in vpn-ca.crl -noout -lastupdate | sed 's/.*=//')" +%s)
nu=$(date -u -d "$(openssl crl -in vpn-ca.crl -noout -nextupdate | sed 's/.*=//')" +%s)
now=$(date -u +%s)
check "thisUpdate is back-dated about 5 minutes (docs/profile.md)" sh -c '[ $(($2 - $1)) -ge 240 ] && [ $(($2 - $1)) -le 400 ]' _ "$lu" "$now"
check "nextUpdate is thisUpdate + the 7-day lifetime of intermediate-ca (RFC 5280 §5.1.2.5)" sh -c '[ $(($2 - $1)) -ge 604800 ] && [ $(($2 - $1)) -le 605200 ]' _ "$lu" "$nu"
rlu=$(date -u -d "$(openssl crl -in root.crl -noout -lastupdate | sed 's/.*=//')" +%s)
rnu=$(date -u -d "$(openssl crl -in root.crl -noout -nextupdate | sed 's/.*=//')" +%s)
check "root CRL lifetime is the template's 180 days" sh -c '[ $(($2 - $1)) -ge 15552000 ] && [ $(($2 - $1)) -le 15552400 ]' _ "$rlu" "$rnu"

# --- GnuTLS
run certtool --verify --load-ca-certificate "$C/root.pem" --load-crl vpn-ca.crl --infile alice-full.pem
check "certtool --verify (chain + CA + CRL) rejects alice as revoked" sh -c '[ "$1" != 0 ] && echo "$2" | grep -qi "revoked"' _ "$RC" "$OUT$ERR"
check "certtool --verify with the CRL accepts gw" certtool --verify --load-ca-certificate "$C/root.pem" --load-crl vpn-ca.crl --infile gw-full.pem
run certtool --verify --load-ca-certificate "$C/root.pem" --load-crl vpn-ca.crl --infile bob-full.pem
check "certtool --verify with the CRL rejects bob" sh -c '[ "$1" != 0 ]' _ "$RC"
check "certtool --verify-crl accepts the vpn-ca CRL" certtool --verify-crl --load-ca-certificate "$C/vpn-ca.pem" --infile vpn-ca.crl
check "certtool --verify-crl accepts the root CRL" certtool --verify-crl --load-ca-certificate "$C/root.pem" --infile root.crl
run certtool --verify-crl --load-ca-certificate "$C/root.pem" --infile vpn-ca.crl
check "certtool --verify-crl refuses the vpn-ca CRL against the wrong CA (the check can fail)" sh -c '[ "$1" != 0 ]' _ "$RC"
run certtool --crl-info --infile vpn-ca.crl
check "certtool --crl-info reads the CRL: 2 revoked, CRL number present" sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "Revoked certificates (2)" && echo "$2" | grep -q "CRL Number"' _ "$RC" "$OUT"

# --- strongSwan pki (private strongswan.conf: no network fetchers)
cat >ss.conf <<'EOC'
pki { load = random nonce pem pkcs1 pkcs8 x509 gmp sha1 sha2 revocation constraints pubkey }
EOC
pkiv() { STRONGSWAN_CONF=$T/ss.conf timeout 20 pki --verify --in "$C/$1.pem" --cacert "$C/root.pem" \
	--cacert "$C/vpn-ca.pem" --crl "$PKI/publish/crl/vpn-ca.crl" --crl "$PKI/publish/crl/root.crl"; }
run pkiv alice
check "pki --verify --crl rejects alice: revoked, reason key compromise" sh -c '[ "$1" != 0 ] && echo "$2" | grep -q "reason: key compromise"' _ "$RC" "$OUT$ERR"
run pkiv gw
check "pki --verify --crl accepts gw with status good" sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "certificate status is good"' _ "$RC" "$OUT$ERR"
check "pki reports the CRL correctly signed by the CA" contains "$OUT$ERR" 'crl correctly signed by "C=CH, O=pkilab lifecycle, CN=pkilab Lifecycle VPN CA"'

# --- an intermediate revoked through --ca-cert lands in the root's CRL
expect_rc 0 "revoke vpn-ca --ca-cert --reason cACompromise" "$PKILAB" --pki "$PKI" revoke vpn-ca --ca-cert --reason cACompromise
expect_rc 0 "pkilab crl --ca root" "$PKILAB" --pki "$PKI" crl --ca root
crl_pem root root2.crl
cat root2.crl vpn-ca.crl >crls2.pem
run openssl verify -crl_check_all -CAfile "$C/root.pem" -untrusted "$C/vpn-ca.pem" -CRLfile crls2.pem "$C/gw.pem"
check "with the intermediate revoked, gw no longer verifies" sh -c '[ "$1" != 0 ] && echo "$2" | grep -q "certificate revoked"' _ "$RC" "$OUT$ERR"
check "the root CRL entry says CA Compromise" contains "$(openssl crl -in root2.crl -noout -text)" "CA Compromise"
finish
