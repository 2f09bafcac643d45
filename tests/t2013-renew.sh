#!/bin/sh
# t2013-renew: `pkilab renew` issues the successor of a certificate with the
# same subject, SANs, template and issuer; a new key or the old one
# (--reuse-key, refused after keyCompromise); the old certificate optionally
# revoked as superseded (--revoke-old, RFC 5280 §5.3.1 reason superseded);
# refusals (unknown name, a CA, a superseded serial, a validity beyond the
# template's maximum) exit 2 and change nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
C=$PKI/certs
san() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | tr -d ' '; }
eku() { openssl x509 -in "$1" -noout -ext extendedKeyUsage | tail -n +2 | tr -d ' '; }
pub() { openssl x509 -in "$1" -noout -pubkey; }
ser() { openssl x509 -in "$1" -noout -serial | sed 's/.*=//'; }

# --- renew with a new key
cp "$C/gw.pem" gw-old.pem
expect_rc 0 "renew gw" "$PKILAB" --pki "$PKI" renew gw
check "it reports old and new serial" sh -c 'echo "$1" | grep -q "renewed gw: serial .* (was .*), new key"' _ "$OUT"
check "a new serial" [ "$(ser "$C/gw.pem")" != "$(ser gw-old.pem)" ]
check "the same subject" [ "$(openssl x509 -in "$C/gw.pem" -noout -subject)" = "$(openssl x509 -in gw-old.pem -noout -subject)" ]
check "the same SANs (DNS, IP, and the IP as dNSName, strongSwan Windows requirements)" [ "$(san "$C/gw.pem")" = "$(san gw-old.pem)" ]
check "... which are not empty" [ "$(san gw-old.pem)" = "DNS:vpn.life.test,IPAddress:192.0.2.10,DNS:192.0.2.10" ]
check "the same EKU (template ipsec-gateway)" [ "$(eku "$C/gw.pem")" = "$(eku gw-old.pem)" ]
check "the same issuer" [ "$(openssl x509 -in "$C/gw.pem" -noout -issuer)" = "$(openssl x509 -in gw-old.pem -noout -issuer)" ]
check "the same CDP URLs" [ "$(openssl x509 -in "$C/gw.pem" -noout -ext crlDistributionPoints)" = "$(openssl x509 -in gw-old.pem -noout -ext crlDistributionPoints)" ]
check "a new key" [ "$(pub "$C/gw.pem")" != "$(pub gw-old.pem)" ]
check "the key file holds the new key" [ "$(openssl pkey -in "$PKI/private/gw.key" -pubout)" = "$(pub "$C/gw.pem")" ]
check "the chain file starts with the new certificate" sh -c 'openssl x509 -in "$1/gw-chain.pem" | cmp -s - "$1/gw.pem"' _ "$C"
check "the new certificate verifies" openssl verify -CAfile "$C/root.pem" -untrusted "$C/vpn-ca.pem" "$C/gw.pem"
check "the old one stays as superseded history (not revoked)" \
  [ "$(sqlite3 "$PKI/pkilab.db" "SELECT current || status FROM certs WHERE serial = lower('$(ser gw-old.pem)')")" = "00" ]
run "$PKILAB" --pki "$PKI" list --all
check "list --all shows both gw certificates" [ "$(echo "$OUT" | grep -c "^gw ")" = 2 ]
run "$PKILAB" --pki "$PKI" list
check "list shows one gw" [ "$(echo "$OUT" | grep -c "^gw ")" = 1 ]

# --- renew with the same key
cp "$C/gw.pem" gw-2.pem
expect_rc 0 "renew gw --reuse-key" "$PKILAB" --pki "$PKI" renew gw --reuse-key
check "same key" [ "$(pub "$C/gw.pem")" = "$(pub gw-2.pem)" ]
check "new serial" [ "$(ser "$C/gw.pem")" != "$(ser gw-2.pem)" ]

# --- renew and revoke the old one as superseded
cp "$C/alice.pem" alice-old.pem
expect_rc 0 "renew alice --revoke-old --validity 30d" "$PKILAB" --pki "$PKI" renew alice --revoke-old --validity 30d
na=$(date -u -d "$(openssl x509 -in "$C/alice.pem" -noout -enddate | sed 's/.*=//')" +%s)
check "--validity 30d: notAfter about 30 days ahead" sh -c '[ $(($1 - $2)) -gt $((29 * 86400)) ] && [ $(($1 - $2)) -le $((30 * 86400 + 60)) ]' _ "$na" "$(date +%s)"
expect_rc 0 "pkilab crl" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
crl_pem vpn-ca v.crl
check "the old alice is on the CRL as Superseded" sh -c 'openssl crl -in v.crl -noout -text | grep -A4 "$1" | grep -q Superseded' _ "$(ser alice-old.pem)"
check "the new alice verifies with the CRL" openssl verify -crl_check -CAfile "$C/root.pem" -untrusted "$C/vpn-ca.pem" -CRLfile v.crl "$C/alice.pem"
run openssl verify -crl_check -CAfile "$C/root.pem" -untrusted "$C/vpn-ca.pem" -CRLfile v.crl alice-old.pem
check "the old alice does not" [ "$RC" != 0 ]

# --- renew refusals
sum=$(tree_sum "$PKI")
expect_rc 2 "renew an unknown name: exit 2" "$PKILAB" --pki "$PKI" renew carol
check "one line" one_line "$ERR"
expect_rc 2 "renew a CA: exit 2" "$PKILAB" --pki "$PKI" renew vpn-ca
check "says CAs are not renewed this way" contains "$ERR" "is a CA"
expect_rc 2 "renew by the serial of a superseded certificate: exit 2" "$PKILAB" --pki "$PKI" renew "0x$(ser gw-old.pem)"
expect_rc 0 "revoke bob for keyCompromise" "$PKILAB" --pki "$PKI" revoke bob --reason keyCompromise
sum=$(tree_sum "$PKI")
expect_rc 2 "renew bob --reuse-key after keyCompromise: exit 2" "$PKILAB" --pki "$PKI" renew bob --reuse-key
check "says the key must not be reused" contains "$ERR" "must not be reused"
expect_rc 2 "renew gw --validity 9999d beyond the template maximum: exit 2" "$PKILAB" --pki "$PKI" renew gw --validity 900d
check "the refusals changed nothing" [ "$(tree_sum "$PKI")" = "$sum" ]
expect_rc 0 "renew bob with a new key after keyCompromise is fine" "$PKILAB" --pki "$PKI" renew bob
finish
