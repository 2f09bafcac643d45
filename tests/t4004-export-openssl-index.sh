#!/bin/sh
# t4004-export-openssl-index: the index.txt from `pkilab export --format
# openssl-index` is read by `openssl ca -gencrl` (same serials, same reasons
# as pkilab's own CRL) and by `openssl ocsp`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
for n in c1 c2 c3 c4; do
  "$PKILAB" --pki "$PKI" issue --ca vpn-ca --template ipsec-client --name "$n" --subject "CN=$n.life.test, O=Comma\\, Inc" --san "$n.life.test" >/dev/null ||
    echo "# issue $n failed"
done
"$PKILAB" --pki "$PKI" revoke alice --reason keyCompromise --invalidity-date -3d >/dev/null
"$PKILAB" --pki "$PKI" revoke bob --reason superseded >/dev/null
"$PKILAB" --pki "$PKI" revoke c1 --reason cessationOfOperation >/dev/null
"$PKILAB" --pki "$PKI" revoke c2 >/dev/null
"$PKILAB" --pki "$PKI" revoke c3 --reason privilegeWithdrawn >/dev/null
"$PKILAB" --pki "$PKI" crl --ca vpn-ca >/dev/null

expect_rc 0 "export vpn-ca --format openssl-index" "$PKILAB" --pki "$PKI" export vpn-ca --format openssl-index --out idx
for f in index.txt index.txt.attr crlnumber openssl-ca.cnf; do check "idx/$f exists" [ -s "idx/$f" ]; done
check "index.txt has one line per certificate vpn-ca issued (7)" [ "$(wc -l <idx/index.txt)" = 7 ]
check "5 lines with status R, 2 with V" sh -c '[ "$(cut -f1 idx/index.txt | sort | uniq -c | tr -s " " | tr "\n" ";")" = " 5 R; 2 V;" ]'
alice=$(openssl x509 -in "$PKI/certs/alice.pem" -noout -serial | sed 's/.*=//')
check "alice's line: R, keyTime with the invalidity date (openssl's spelling of keyCompromise + invalidityDate)" \
  sh -c 'grep "	$1	" idx/index.txt | cut -f3 | grep -Eq "^[0-9]{12}Z,keyTime,[0-9]{14}Z$"' _ "$alice"
check "every line has 6 tab-separated fields" sh -c '! awk -F"\t" "NF != 6" idx/index.txt | grep -q .'
expect_rc 0 "the same export of a leaf name gives its issuer's index" "$PKILAB" --pki "$PKI" export gw --format openssl-index --out idx2
check "identical index.txt" cmp -s idx/index.txt idx2/index.txt

# openssl ca -gencrl reads it (with the CA key of the PKI)
expect_rc 0 "openssl ca -config openssl-ca.cnf -gencrl" openssl ca -config idx/openssl-ca.cnf -gencrl -out ossl.crl
check "openssl's CRL verifies with the CA" openssl crl -in ossl.crl -CAfile "$PKI/certs/vpn-ca.pem" -verify -noout
ours=$(openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -text)
theirs=$(openssl crl -in ossl.crl -noout -text)
serials() { echo "$1" | sed -n 's/^ *Serial Number: //p' | sort; }
check "openssl ca lists exactly the serials pkilab's CRL lists" [ "$(serials "$ours")" = "$(serials "$theirs")" ]
check "and there are 5" [ "$(serials "$theirs" | wc -l)" = 5 ]
for r in "Key Compromise" "Superseded" "Cessation Of Operation"; do
  check "openssl ca carries reason '$r' from index.txt" contains "$theirs" "$r"
done
check "openssl ca carries alice's invalidity date" contains "$theirs" "Invalidity Date"
check "the crlnumber file continues after pkilab's number" sh -c '
  ours=$(openssl crl -inform DER -in "$1" -noout -crlnumber | sed "s/.*=//; s/^0x//" | tr a-f A-F)
  theirs=$(openssl crl -in ossl.crl -noout -crlnumber | sed "s/.*=//; s/^0x//" | tr a-f A-F)
  [ "$(echo "ibase=16; $theirs - $ours" | bc)" = 1 ]' _ "$PKI/publish/crl/vpn-ca.crl"

# openssl ocsp answers from it (offline: request file in, response file out)
openssl ocsp -issuer "$PKI/certs/vpn-ca.pem" -cert "$PKI/certs/alice.pem" -cert "$PKI/certs/gw.pem" -reqout req.der -no_nonce >/dev/null 2>&1
expect_rc 0 "openssl ocsp -index index.txt answers a request" openssl ocsp -index idx/index.txt -CA "$PKI/certs/vpn-ca.pem" \
  -rsigner "$PKI/certs/vpn-ca.pem" -rkey "$PKI/private/vpn-ca.key" -reqin req.der -respout resp.der
run openssl ocsp -respin resp.der -issuer "$PKI/certs/vpn-ca.pem" -CAfile "$PKI/certs/root.pem" \
  -cert "$PKI/certs/alice.pem" -cert "$PKI/certs/gw.pem" -no_nonce
check "the OCSP response says alice: revoked" sh -c 'echo "$1" | grep -A1 "alice.pem" | grep -q "revoked"' _ "$OUT"
check "with reason keyCompromise" contains "$OUT" "Reason: keyCompromise"
check "and gw: good" sh -c 'echo "$1" | grep -q "gw.pem: good"' _ "$OUT"
finish
