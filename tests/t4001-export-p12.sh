#!/bin/sh
# t4001-export-p12: PKCS#12 export in both profiles (docs/profile.md,
# "PKCS#12 exports"): the algorithms inside as `openssl pkcs12 -info` reports
# them, import into an NSS database with pk12util, passwords never from argv,
# and every bad input a one-line error with nothing written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
printf 'correct horse\n' >pw
pkisum=$(tree_sum "$PKI")

# --- legacy (default): 3DES for both bags, HMAC-SHA1
expect_rc 0 "export gw --format p12 (default profile)" "$PKILAB" --pki "$PKI" export gw --format p12 --out legacy --password-file pw
check "it lists the file it wrote" contains "$OUT" "legacy/gw.p12"
info=$(openssl pkcs12 -info -in legacy/gw.p12 -passin pass:'correct horse' -nokeys -noout 2>&1)
check "legacy: MAC is HMAC-SHA1 (docs/profile.md)" contains "$info" "MAC: sha1"
check "legacy: certificate bag encrypted with PBE-SHA1-3DES (docs/profile.md: not RC2)" contains "$info" "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC"
check "legacy: key bag encrypted with PBE-SHA1-3DES (docs/profile.md)" contains "$info" "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"
check "legacy: no RC2, no AES inside" sh -c 'echo "$1" | grep -qiE "rc2|aes" && exit 1 || exit 0' _ "$info"
check "legacy: three certificate bags (gw, vpn-ca, root)" [ "$(echo "$info" | grep -c "Certificate bag")" = 3 ]
check "file mode 0600" [ "$(stat -c %a legacy/gw.p12)" = 600 ]
openssl pkcs12 -in legacy/gw.p12 -passin pass:'correct horse' -nodes -out legacy.pem 2>/dev/null
check "the key inside matches the certificate" sh -c '[ "$(openssl pkey -in "$1" -pubout)" = "$(openssl x509 -in "$2" -noout -pubkey)" ]' _ legacy.pem "$PKI/certs/gw.pem"
check "friendlyName is the certificate's name" sh -c 'grep -q "friendlyName: gw" "$1"' _ legacy.pem
run openssl pkcs12 -info -in legacy/gw.p12 -passin pass:wrong -noout
check "a wrong password does not open it (the check can fail)" [ "$RC" != 0 ]

# --- modern: PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC, HMAC-SHA256
expect_rc 0 "export gw --p12-profile modern (password from PKILAB_P12_PASSWORD)" \
  env PKILAB_P12_PASSWORD='correct horse' "$PKILAB" --pki "$PKI" export gw --format p12 --p12-profile modern --out modern
info=$(openssl pkcs12 -info -in modern/gw.p12 -passin pass:'correct horse' -nokeys -noout 2>&1)
check "modern: MAC is HMAC-SHA256 (docs/profile.md)" contains "$info" "MAC: sha256"
check "modern: certificate bag PBES2, PBKDF2, AES-256-CBC, PRF hmacWithSHA256 (docs/profile.md)" contains "$info" "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC"
check "modern: key bag PBES2, PBKDF2, AES-256-CBC, 300,000 iterations, PRF hmacWithSHA256" contains "$info" "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 300000, PRF hmacWithSHA256"
check "modern: no 3DES, no SHA-1 MAC" sh -c 'echo "$1" | grep -qE "TripleDES|MAC: sha1" && exit 1 || exit 0' _ "$info"

# --- NSS pk12util imports both into a fresh database
for prof in legacy modern; do
  mkdir -p "nss-$prof"
  certutil -N --empty-password -d "sql:$T/nss-$prof" >/dev/null 2>&1
  expect_rc 0 "pk12util imports the $prof file" pk12util -i "$prof/gw.p12" -d "sql:$T/nss-$prof" -W 'correct horse'
  check "$prof: NSS lists the certificate under its nickname gw" sh -c 'certutil -L -d "sql:$1" | grep -q "^gw "' _ "$T/nss-$prof"
  check "$prof: NSS holds its private key" sh -c 'certutil -K -d "sql:$1" 2>/dev/null | grep -q "gw"' _ "$T/nss-$prof"
  check "$prof: NSS also got the chain (root)" sh -c 'certutil -L -d "sql:$1" | grep -qi "Root"' _ "$T/nss-$prof"
done

# --- passwords never come from argv; missing ones are a clear error
# (abbreviated long options are refused, so --password is not taken for
# --password-file: there is no way to pass the password itself in argv.)
expect_rc 2 "a password on the command line is never used as the password" "$PKILAB" --pki "$PKI" export gw --format p12 --out x1 --password secret
check "--password is refused as an unknown option, pointing to --password-file" contains "$ERR" "unknown option '--password' (did you mean '--password-file'?)"
run env -u PKILAB_P12_PASSWORD setsid -w "$PKILAB" --pki "$PKI" export gw --format p12 --out x2 </dev/null
check "no password file, no variable, no terminal: exit 2" [ "$RC" = 2 ]
check "one line naming the two ways to give it" sh -c 'one_line_() { [ "$(printf "%s\n" "$1" | wc -l)" = 1 ]; }; one_line_ "$1" && echo "$1" | grep -q "password-file" && echo "$1" | grep -q PKILAB_P12_PASSWORD' _ "$ERR"
: >empty
expect_rc 2 "an empty password file: exit 2" "$PKILAB" --pki "$PKI" export gw --format p12 --out x3 --password-file empty
expect_rc 2 "a missing password file: exit 2" "$PKILAB" --pki "$PKI" export gw --format p12 --out x4 --password-file nosuch
check "nothing was created for the refused exports" sh -c '! ls -d x1 x2 x3 x4 2>/dev/null | grep -q .'

# --- bad input: unknown names, formats, profiles; unwritable folders
expect_rc 2 "export of an unknown name: exit 2" "$PKILAB" --pki "$PKI" export carol --format p12 --out x5 --password-file pw
check "one line: unknown certificate 'carol'" sh -c '[ "$(printf "%s\n" "$1" | wc -l)" = 1 ] && echo "$1" | grep -q "unknown certificate '"'"'carol'"'"'"' _ "$ERR"
check "its output folder was not created" [ ! -e x5 ]
expect_rc 2 "unknown format: exit 2 with a suggestion" "$PKILAB" --pki "$PKI" export gw --format pk12 --out x6
check "suggests p12" contains "$ERR" "did you mean 'p12'"
expect_rc 2 "unknown p12 profile: exit 2" "$PKILAB" --pki "$PKI" export gw --format p12 --p12-profile strong --out x7 --password-file pw
: >afile
run "$PKILAB" --pki "$PKI" export gw --format p12 --out afile/sub --password-file pw
check "an output folder below a regular file: an error (exit $RC)" sh -c '[ "$1" = 2 ] || [ "$1" = 3 ]' _ "$RC"
check "as one line" sh -c '[ "$(printf "%s\n" "$1" | wc -l)" = 1 ] && case "$1" in "pkilab: error: "*) ;; *) exit 1 ;; esac' _ "$ERR"
check "the file is untouched" [ ! -s afile ]
# A directory in the way of one file of a multi-file export: nothing at all is written.
mkdir -p win/README.txt
run "$PKILAB" --pki "$PKI" export gw --format windows --out win --password-file pw
check "windows export with README.txt blocked by a directory fails" [ "$RC" != 0 ]
check "and leaves no other file behind (all or nothing)" [ "$(find win -type f | wc -l)" = 0 ]
check "no temporary files left" [ -z "$(find . -name '.*tmp-*')" ]
check "the PKI is unchanged by all exports" [ "$(tree_sum "$PKI")" = "$pkisum" ]

# --- keys at rest: an encrypted key needs its passphrase
mkdir -p enc
sed '/name = "alice"/s/key = "ec:P-256";/key = "ec:P-256"; encrypt_key = true;/' "$T/lab/lab.cfg" >enc/lab.cfg
expect_rc 0 "build a lab whose alice key is stored encrypted" env PKILAB_KEY_PASSPHRASE=s3cret "$PKILAB" build enc/lab.cfg
check "alice's key file is an encrypted PKCS#8" grep -q "BEGIN ENCRYPTED PRIVATE KEY" enc/pki/private/alice.key
encsum=$(tree_sum enc/pki)
expect_rc 2 "export alice p12 with a wrong key passphrase: exit 2" env PKILAB_KEY_PASSPHRASE=wrong "$PKILAB" --pki enc/pki export alice --format p12 --out e1 --password-file pw
check "one line" one_line "$ERR"
check "nothing written" [ ! -e e1 ]
check "PKI unchanged after the wrong passphrase" [ "$(tree_sum enc/pki)" = "$encsum" ]
expect_rc 2 "export alice p12 with no key passphrase at all: exit 2" env -u PKILAB_KEY_PASSPHRASE "$PKILAB" --pki enc/pki export alice --format p12 --out e2 --password-file pw
check "one line" one_line "$ERR"
check "nothing written" [ ! -e e2 ]
expect_rc 0 "export alice p12 with the right passphrase" env PKILAB_KEY_PASSPHRASE=s3cret "$PKILAB" --pki enc/pki export alice --format p12 --out e3 --password-file pw
openssl x509 -in enc/pki/certs/alice.pem -noout -pubkey >alice.pub
openssl pkcs12 -in e3/alice.p12 -passin pass:"correct horse" -nodes -nocerts 2>/dev/null | openssl pkey -pubout >e3.pub
check "the exported key matches alice's certificate" cmp -s e3.pub alice.pub
finish
