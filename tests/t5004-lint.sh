#!/bin/sh
# pkilab lint (docs/lint.md: L1-L20 and X1-X9) on certificates, CRLs and
# PKCS#12 files made by pkilab and, independently, by the openssl CLI with
# known defects: the right code fires, clean files pass, a line per check,
# exit 0/1/2.
. "$(dirname "$0")/lib.sh"

[ -x "$PKILAB" ] || skip_all "no $PKILAB"
command -v jq >/dev/null || skip_all "jq missing"

cd "$T" || exit 1
cp "$TOP/examples/lab.cfg" lab.cfg
"$PKILAB" build lab.cfg >/dev/null 2>&1
P=pki-example
check "example lab built" test -f $P/certs/gw-chain.pem

# ---- clean pkilab output ------------------------------------------------------
run "$PKILAB" lint --ascii $P/certs/gw-chain.pem
check "lint gateway chain: exit 0" test "$RC" -eq 0
for c in L1 L2 L3 L4 L5 L6 L7 L9 L10 L11 L12 L13 L14 L15 L16 L17 L18 X1 X2 X3 X5 X6 X4; do
  check "lint gateway chain: a line for $c" contains "$OUT" "[ok]   lint.$c "
done
check "the CA in the bundle is checked for L8 (CA keyUsage)" contains "$OUT" "[ok]   lint.L8 "
expect_rc 0 "lint root: exit 0" "$PKILAB" lint $P/certs/root.pem
expect_rc 0 "lint client: exit 0" "$PKILAB" lint $P/certs/alice.pem
run "$PKILAB" lint --issuer $P/certs/vpn-ca.pem $P/publish/crl/vpn-ca.crl
check "lint the VPN CA's CRL (DER) with its issuer: exit 0" test "$RC" -eq 0
check "CRL: L19, L20, X7, X8 lines" sh -c 'for c in L19 L20 X7 X8; do printf "%s" "$1" | grep -q "lint.$c " || exit 1; done' _ "$OUT"
expect_rc 1 "the VPN CA's CRL judged against the root: X7 fails" "$PKILAB" lint --issuer $P/certs/root.pem $P/publish/crl/vpn-ca.crl
check "X7: crl.issuer_mismatch and crl.aki_mismatch" sh -c 'printf "%s" "$1" | grep -q crl.issuer_mismatch && printf "%s" "$1" | grep -q crl.aki_mismatch' _ "$OUT"
openssl crl -inform DER -in $P/publish/crl/vpn-ca.crl -out vpn-ca-crl.pem
expect_rc 0 "lint a PEM CRL" "$PKILAB" lint --issuer $P/certs/vpn-ca.pem vpn-ca-crl.pem
run "$PKILAB" lint --json $P/certs/gw.pem
check "--json: verdict pass" test "$(printf '%s' "$OUT" | jq -r .verdict)" = pass
check "--json: command lint" test "$(printf '%s' "$OUT" | jq -r .command)" = lint

# ---- defects made with the openssl CLI -----------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 \
  -subj "/CN=CLI CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
mkleaf() { # name curve extfile-lines...
  lf_n=$1 lf_c=$2; shift 2
  printf '%s\n' "$@" >"$lf_n.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:"$lf_c" -nodes -keyout "$lf_n.key" -subj "/CN=$lf_n" -out "$lf_n.csr" 2>/dev/null
  openssl x509 -req -in "$lf_n.csr" -CA ca.pem -CAkey ca.key -set_serial 7 -days 30 -extfile "$lf_n.ext" -out "$lf_n.pem" 2>/dev/null
}
mkleaf ee-keycertsign P-256 "keyUsage=critical,digitalSignature,keyCertSign" "subjectAltName=DNS:ee.test" \
  "extendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2"
run "$PKILAB" lint --ascii ee-keycertsign.pem
check "EE with keyCertSign: exit 1" test "$RC" -eq 1
check "EE with keyCertSign: lint.L7 fails (RFC 5280 4.2.1.9)" contains "$OUT" "[FAIL] lint.L7"
check "serial 7: lint.L2 low-entropy warning (BR 7.1)" contains "$OUT" "[warn] lint.L2"
mkleaf https-cdp P-256 "keyUsage=critical,digitalSignature" "subjectAltName=DNS:h.test" \
  "extendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2" "crlDistributionPoints=URI:https://cdp.test/ca.crl"
run "$PKILAB" lint --ascii https-cdp.pem
check "https CDP: lint.L15 fails (docs/crl-publication.md)" contains "$OUT" "[FAIL] lint.L15"
mkleaf p521 P-521 "keyUsage=critical,digitalSignature" "subjectAltName=DNS:p.test" "extendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2"
expect_rc 1 "P-521 for Windows: exit 1" "$PKILAB" lint --platform windows p521.pem
check "P-521 for Windows: key.unsupported_on_platform" contains "$OUT" "key.unsupported_on_platform"
expect_rc 0 "P-521 for strongSwan only: passes" "$PKILAB" lint --platform strongswan p521.pem
mkleaf noeku P-256 "keyUsage=critical,digitalSignature" "subjectAltName=DNS:n.test" "extendedKeyUsage=1.3.6.1.5.5.7.3.17"
expect_rc 1 "gateway with ipsecIKE only: exit 1" "$PKILAB" lint --role gateway noeku.pem
check "gateway without serverAuth: eku.missing_server_auth" contains "$OUT" "eku.missing_server_auth"
check "gateway without ikeIntermediate: eku.missing_ike_intermediate" contains "$OUT" "eku.missing_ike_intermediate"
mkleaf ec-keyenc P-256 "keyUsage=critical,digitalSignature,keyEncipherment" "subjectAltName=DNS:k.test" "extendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2"
run "$PKILAB" lint --ascii ec-keyenc.pem
check "ECDSA key with keyEncipherment: lint.L10 fails (RFC 8813)" contains "$OUT" "[FAIL] lint.L10"
mkleaf ipsan P-256 "keyUsage=critical,digitalSignature" "subjectAltName=DNS:i.test,IP:192.0.2.7" "extendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2"
expect_rc 1 "IP identity only as iPAddress, Windows: exit 1" "$PKILAB" lint --platform windows --id 192.0.2.7 ipsan.pem
check "IP identity: san.ip_not_dns (strongSwan Windows requirements)" contains "$OUT" "san.ip_not_dns"
expect_rc 1 "identity not in SAN: exit 1" "$PKILAB" lint --id other.test ipsan.pem
check "identity not in SAN: san.id_mismatch" contains "$OUT" "san.id_mismatch"
mkleaf long P-256 "keyUsage=critical,digitalSignature" "subjectAltName=DNS:l.test" "extendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2"
openssl x509 -req -in long.csr -CA ca.pem -CAkey ca.key -set_serial 0x7a1b2c3d4e5f60718293a4b5c6d7e8f9 -days 900 -extfile long.ext -out long.pem 2>/dev/null
expect_rc 1 "900-day leaf for Apple: exit 1" "$PKILAB" lint --platform apple long.pem
check "900-day leaf: validity.apple_825 (Apple 103769)" contains "$OUT" "validity.apple_825"

# a CRL made by `openssl ca` without crl_extensions: no CRLNumber, no AKI (L19)
cat >ca.cnf <<EOF
[ca]
default_ca = d
[d]
database = $T/index.txt
default_md = sha256
default_crl_days = 7
EOF
: >index.txt
openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.pem -out bare.crl 2>/dev/null
check "openssl ca made a bare CRL" test -s bare.crl
run "$PKILAB" lint --issuer ca.pem bare.crl
check "bare CRL: exit 1" test "$RC" -eq 1
check "bare CRL: no CRLNumber (L19)" contains "$OUT" "CRL has no CRLNumber"
check "bare CRL: no AKI (L19)" contains "$OUT" "no authorityKeyIdentifier"

# ---- PKCS#12 profile (X9) -----------------------------------------------------------
openssl pkcs12 -export -in ipsan.pem -inkey ipsan.key -passout pass:x -out modern.p12 2>/dev/null
openssl pkcs12 -export -in ipsan.pem -inkey ipsan.key -passout pass:x -macalg sha1 \
  -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -out legacy.p12 2>/dev/null
expect_rc 0 "PKCS#12 (AES/SHA-256): a warning, not a failure" "$PKILAB" lint --platform windows modern.p12
check "PKCS#12 AES/SHA-256 for Windows: p12.modern_profile warning (docs/profile.md)" contains "$OUT" "p12.modern_profile"
expect_rc 0 "PKCS#12 3DES/SHA-1: X9 ok" "$PKILAB" lint --platform windows legacy.p12
check "PKCS#12 3DES/SHA-1: lint.X9 ok" contains "$OUT" "lint.X9"
check "PKCS#12 3DES/SHA-1: no warning" not_contains "$OUT" "p12.modern_profile"

# ---- bad input ---------------------------------------------------------------------
head -c 500 /dev/urandom >garbage
expect_rc 2 "garbage: exit 2" "$PKILAB" lint garbage
check "garbage: one-line error" one_line "$ERR"
expect_rc 2 "no file: exit 2" "$PKILAB" lint
expect_rc 2 "missing file: exit 2" "$PKILAB" lint nosuch.pem
finish
