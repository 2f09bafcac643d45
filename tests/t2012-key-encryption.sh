#!/bin/sh
# t2012-key-encryption: keys at rest (encrypt_key = true) are PKCS#8 PBES2 with
# PBKDF2-HMAC-SHA256, 600,000 iterations, a 16-byte salt and AES-256-CBC, as
# the openssl CLI sees them; openssl decrypts them with the passphrase; a
# wrong passphrase is one line and exit 2 with nothing changed; keys in the
# formats written before (2,048 iterations, also with hmacWithSHA1) and by
# openssl's own encoder still load and sign. The modern PKCS#12 profile
# carries 300,000 iterations for both bags and its SHA-256 MAC and is read by
# openssl, NSS pk12util and GnuTLS certtool; the legacy profile is unchanged.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
mkdir lab
cat >lab/lab.cfg <<'EOF'
lab = { name = "kdf"; pki = "pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; encrypt_key = true;
    subject = "C=CH, O=pkilab kdf, CN=pkilab KDF Root CA"; },
  { name = "sub"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-384"; encrypt_key = true;
    subject = "C=CH, O=pkilab kdf, CN=pkilab KDF Sub CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "sub"; key = "ec:P-256";
    subject = "CN=gw.kdf.test"; san = [ "gw.kdf.test" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "sub"; key = "rsa:2048"; encrypt_key = true;
    subject = "CN=alice.kdf.test"; san = [ "alice.kdf.test" ]; }
);
EOF
printf 'ca pass phrase\n' >pass
printf 'not it\n' >wrong
cp pass pass.out # openssl reads two lines from one file given to -passin and -passout
PKI=$T/lab/pki
key=$PKI/private/sub.key
export PKILAB_KEY_PASSPHRASE_FILE="$T/pass"
unset PKILAB_KEY_PASSPHRASE

# milliseconds since the epoch, for the cost figures printed below
ms() { echo $(($(date +%s%N) / 1000000)); }

t0=$(ms)
expect_rc 0 "build a lab whose CAs and alice have encrypt_key = true (passphrase from PKILAB_KEY_PASSPHRASE_FILE)" "$PKILAB" build lab/lab.cfg
echo "# build with 3 encrypted keys: $(($(ms) - t0)) ms"

# --- the parameters as openssl asn1parse reads them from the PEM's DER
for k in root sub alice; do
  openssl pkey -in "$PKI/private/$k.key" -passin file:pass -outform DER -out /dev/null 2>/dev/null ||
    echo "# openssl cannot read $k.key"
  sed '1d;$d' "$PKI/private/$k.key" | base64 -d >"$k.der"
  a=$(openssl asn1parse -inform DER -in "$k.der")
  check "$k.key: PEM 'ENCRYPTED PRIVATE KEY'" grep -q "^-----BEGIN ENCRYPTED PRIVATE KEY-----" "$PKI/private/$k.key"
  check "$k.key: PBES2 with PBKDF2" sh -c 'echo "$1" | grep -q ":PBES2" && echo "$1" | grep -q ":PBKDF2"' _ "$a"
  check "$k.key: PRF hmacWithSHA256 (not the RFC 8018 default hmacWithSHA1)" contains "$a" ":hmacWithSHA256"
  check "$k.key: cipher aes-256-cbc" contains "$a" ":aes-256-cbc"
  # PBKDF2-params: the salt OCTET STRING and the count INTEGER that follow the PBKDF2 OID
  salt_len=$(echo "$a" | sed -n '/:PBKDF2/,/:hmacWithSHA256/p' | sed -n 's/.*l= *\([0-9]*\) prim: OCTET STRING.*/\1/p')
  iter_hex=$(echo "$a" | sed -n '/:PBKDF2/,/:hmacWithSHA256/p' | sed -n 's/.*prim: INTEGER *:\([0-9A-F]*\).*/\1/p')
  check "$k.key: 16-byte salt (got $salt_len)" [ "$salt_len" = 16 ]
  check "$k.key: 600000 iterations (got $((0x${iter_hex:-0})))" [ "$((0x${iter_hex:-0}))" = 600000 ]
  check "$k.key: mode 0600" [ "$(stat -c %a "$PKI/private/$k.key")" = 600 ]
done
check "each key has its own salt" sh -c '[ "$(openssl asn1parse -inform DER -in root.der | grep -m1 "OCTET STRING")" != "$(openssl asn1parse -inform DER -in sub.der | grep -m1 "OCTET STRING")" ]'
check "the unencrypted gw key stays a plain PKCS#8" grep -q "^-----BEGIN PRIVATE KEY-----" "$PKI/private/gw.key"

# --- openssl decrypts it with the passphrase (and only with it)
t0=$(ms)
run openssl pkey -in "$key" -passin file:pass -pubout
echo "# openssl pkey decrypting sub.key: $(($(ms) - t0)) ms"
check "openssl pkey -passin file:pass decrypts sub.key" [ "$RC" = 0 ]
check "to the public key of sub's certificate" [ "$OUT" = "$(openssl x509 -in "$PKI/certs/sub.pem" -noout -pubkey)" ]
run openssl pkey -in "$key" -passin file:wrong -noout
check "openssl refuses the wrong passphrase" [ "$RC" != 0 ]

# --- pkilab: wrong passphrase is one line, exit 2, nothing changed
"$PKILAB" --pki "$PKI" -q revoke gw --reason superseded
pubsum=$(tree_sum "$PKI/publish")
dbnum=$(sqlite3 "$PKI/pkilab.db" "SELECT crl_number FROM cas WHERE name = 'sub'")
t0=$(ms)
expect_rc 2 "crl --ca sub with a wrong passphrase file: exit 2" env PKILAB_KEY_PASSPHRASE_FILE="$T/wrong" "$PKILAB" --pki "$PKI" crl --ca sub
echo "# crl refused for a wrong passphrase: $(($(ms) - t0)) ms"
check "one line" one_line "$ERR"
check "saying the passphrase is wrong, naming the key" contains "$ERR" "pkilab: error: cannot decrypt key '$key': wrong passphrase"
check "publish/ unchanged" [ "$(tree_sum "$PKI/publish")" = "$pubsum" ]
check "stored CRL number unchanged" [ "$(sqlite3 "$PKI/pkilab.db" "SELECT crl_number FROM cas WHERE name = 'sub'")" = "$dbnum" ]
expect_rc 2 "issue under sub with a wrong passphrase: exit 2" env PKILAB_KEY_PASSPHRASE_FILE="$T/wrong" "$PKILAB" --pki "$PKI" issue --ca sub -t ipsec-client -n bob -s CN=bob.kdf.test --san bob.kdf.test
check "one line" one_line "$ERR"
check "bob was not issued" [ ! -e "$PKI/certs/bob.pem" ]

# --- the right passphrase signs
t0=$(ms)
expect_rc 0 "crl --ca sub with the right passphrase" "$PKILAB" --pki "$PKI" crl --ca sub
echo "# crl with the encrypted CA key (one decryption): $(($(ms) - t0)) ms"
openssl crl -inform DER -in "$PKI/publish/crl/sub.crl" -out sub.crl.pem
check "the CRL verifies with sub's certificate and lists gw" sh -c 'openssl crl -in sub.crl.pem -noout -CAfile "$1" 2>&1 | grep -q "verify OK" && openssl crl -in sub.crl.pem -noout -text | grep -q "Serial Number"' _ "$PKI/certs/sub.pem"

# --- keys as written before: 2,048 iterations (with hmacWithSHA256 as
# pkilab wrote them, with hmacWithSHA1 as OpenSSL 1.0 did), and openssl's own
# encoder (what `openssl genpkey -aes256` writes): each still loads and signs.
cp "$key" sub.key.new
chain="$T/chain.pem"
cat "$PKI/certs/root.pem" >"$chain"
for fmt in sha256-2048 sha1-2048 pkey-aes256; do
  case $fmt in
    sha256-2048) openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 2048 -in sub.key.new -passin file:pass -passout file:pass.out -out "$fmt.key" ;;
    sha1-2048) openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA1 -iter 2048 -in sub.key.new -passin file:pass -passout file:pass.out -out "$fmt.key" ;;
    pkey-aes256) openssl pkey -in sub.key.new -passin file:pass -aes256 -passout file:pass.out -out "$fmt.key" ;;
  esac
  a=$(openssl asn1parse -in "$fmt.key")
  check "$fmt: the converted key has 2,048 iterations (INTEGER 0800)" sh -c 'echo "$1" | grep -q "prim: INTEGER *:0800$"' _ "$a"
  case $fmt in sha1-2048) check "$fmt: PRF hmacWithSHA1 (absent, the default)" sh -c '! echo "$1" | grep -q hmacWithSHA256' _ "$a" ;; esac
  install -m 0600 "$fmt.key" "$key"
  expect_rc 0 "$fmt: crl --ca sub signs with it" "$PKILAB" --pki "$PKI" crl --ca sub
  openssl crl -inform DER -in "$PKI/publish/crl/sub.crl" -out "$fmt.crl.pem"
  check "$fmt: the CRL verifies with sub's certificate" sh -c 'openssl crl -in "$1" -noout -CAfile "$2" 2>&1 | grep -q "verify OK"' _ "$fmt.crl.pem" "$PKI/certs/sub.pem"
  expect_rc 0 "$fmt: issue under sub signs with it" "$PKILAB" --pki "$PKI" issue --ca sub -t ipsec-client -n "c-$fmt" -s "CN=c-$fmt.kdf.test" --san "c-$fmt.kdf.test"
  check "$fmt: the new certificate verifies up to the root" openssl verify -CAfile "$chain" -untrusted "$PKI/certs/sub.pem" "$PKI/certs/c-$fmt.pem"
  expect_rc 2 "$fmt: a wrong passphrase is still exit 2" env PKILAB_KEY_PASSPHRASE_FILE="$T/wrong" "$PKILAB" --pki "$PKI" crl --ca sub
  check "$fmt: as one line" one_line "$ERR"
  check "$fmt: saying the passphrase is wrong" contains "$ERR" "wrong passphrase"
done
install -m 0600 sub.key.new "$key"

# --- PKCS#12: modern at 300,000 iterations with a SHA-256 MAC, legacy unchanged
printf 'p12 pass phrase\n' >p12pw
t0=$(ms)
expect_rc 0 "export alice (encrypted key) --p12-profile modern" "$PKILAB" --pki "$PKI" export alice --format p12 --p12-profile modern --out modern --password-file p12pw
echo "# modern p12 export (key decryption + 3 derivations): $(($(ms) - t0)) ms"
info=$(openssl pkcs12 -info -in modern/alice.p12 -passin file:p12pw -noout 2>&1)
check "modern: MAC HMAC-SHA256 with 300000 iterations" contains "$info" "MAC: sha256, Iteration 300000"
check "modern: MAC salt of 16 bytes" contains "$info" "MAC length: 32, salt length: 16"
check "modern: certificate bag PBES2/PBKDF2/AES-256-CBC, 300000, hmacWithSHA256" contains "$info" "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 300000, PRF hmacWithSHA256"
check "modern: key bag PBES2/PBKDF2/AES-256-CBC, 300000, hmacWithSHA256" contains "$info" "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 300000, PRF hmacWithSHA256"
run pk12util -l modern/alice.p12 -W 'p12 pass phrase'
check "NSS pk12util -l reads the modern file" sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "alice.kdf.test"' _ "$RC" "$OUT"
check "pk12util sees its key bag" contains "$OUT" "Key(shrouded)"
run certtool --p12-info --inder --infile modern/alice.p12 --password 'p12 pass phrase'
check "GnuTLS certtool --p12-info reads the modern file, key bag included" sh -c '[ "$1" = 0 ] && [ "$(echo "$2" | grep -c "Friendly name: alice")" = 2 ]' _ "$RC" "$OUT"
check "certtool: MAC SHA256, 300000 iterations" sh -c 'echo "$1" | grep -A4 "MAC info" | grep -q "MAC: SHA256" && echo "$1" | grep -A4 "MAC info" | grep -q "Iteration count: 300000"' _ "$OUT"
expect_rc 0 "export alice --p12-profile legacy" "$PKILAB" --pki "$PKI" export alice --format p12 --out legacy --password-file p12pw
info=$(openssl pkcs12 -info -in legacy/alice.p12 -passin file:p12pw -noout 2>&1)
check "legacy: unchanged, HMAC-SHA1 MAC with 2048 iterations" contains "$info" "MAC: sha1, Iteration 2048"
check "legacy: unchanged, 3DES bags with 2048 iterations" contains "$info" "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"
finish
