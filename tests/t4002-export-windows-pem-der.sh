#!/bin/sh
# t4002-export-windows-pem-der: the `windows` folder (DER .cer per CA, the
# leaf as .pfx, an import script for the machine stores with time and CDP
# checks and CertAuthFlags as an opt-in), and the pem/der bundles
# (Windows certificate stores; MS AOVPN revocation; docs/profile.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
printf 'pfx-pass-long-enough\n' >pw

expect_rc 0 "export gw --format windows" "$PKILAB" --pki "$PKI" export gw --format windows --out win --password-file pw
for f in root.cer vpn-ca.cer gw.cer gw.pfx import.ps1 README.txt; do
  check "windows/$f exists" [ -s "win/$f" ]
done
# Each case: what is proven | DER file | a string its subject holds.
while IFS='|' read -r what file subject <&3; do
  check "$what" sh -c 'openssl x509 -inform DER -in "$1" -noout -subject </dev/null | grep -q "$2"' _ "$file" "$subject"
done 3<<'EOF'
root.cer is DER and is the root|win/root.cer|Lifecycle Root CA
vpn-ca.cer is DER and is the intermediate|win/vpn-ca.cer|Lifecycle VPN CA
EOF
check "gw.pfx is the 3DES/SHA-1 profile by default (Server 2016, docs/profile.md)" sh -c 'openssl pkcs12 -info -in win/gw.pfx -passin pass:pfx-pass-long-enough -noout 2>&1 | grep -q "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"'
ps=$(cat win/import.ps1)
# The store is -Store (LocalMachine by default, CurrentUser for a user tunnel:
# t4006); the CAs go to its Root and CA stores, the pfx to its My store.
# Each case: what is proven | how (grep: a basic regular expression matched in
# import.ps1; has: a fixed string it contains) | the pattern.
while IFS='|' read -r what how pattern <&3; do
  case $how in
    grep) check "$what" grep -q -- "$pattern" win/import.ps1 ;;
    has) check "$what" contains "$ps" "$pattern" ;;
    *) check "case table: unknown kind '$how'" false ;;
  esac
done 3<<'EOF'
import.ps1: root -> Cert:\<Store>\Root (Windows certificate stores)|grep|root.cer.*-CertStoreLocation "Cert:\\$Store\\Root"
import.ps1: intermediate -> Cert:\<Store>\CA (Windows certificate stores)|grep|vpn-ca.cer.*-CertStoreLocation "Cert:\\$Store\\CA"
import.ps1: leaf pfx -> Cert:\<Store>\My (Windows certificate stores)|grep|Import-PfxCertificate.*gw.pfx.*-CertStoreLocation "Cert:\\$Store\\My"
import.ps1: the store is LocalMachine unless asked otherwise|has|[string]$Store = 'LocalMachine'
import.ps1 shows time sync: w32tm /query /status|has|w32tm /query /status
import.ps1 checks CDP reachability: certutil -verify -urlfetch|has|certutil -verify -urlfetch
CertAuthFlags = 4 is documented (MS AOVPN revocation)|has|CertAuthFlags -PropertyType DWord -Value 4
EOF
# Every registry write sits inside the if block of the -StrongCrlCheck switch.
opt_in() {
  tr -d '\r' <win/import.ps1 | awk '
    /^if \(\$StrongCrlCheck\)/ { inside = 1 }
    /New-ItemProperty|Set-ItemProperty|reg add/ { if (inside) seen = 1; else outside = 1 }
    /^}/ { inside = 0 }
    END { exit !(seen && !outside) }'
}
check "and is opt-in: only inside 'if (\$StrongCrlCheck)'" opt_in
check "the switch is off by default ([switch], no default value)" contains "$ps" '[switch]$StrongCrlCheck'
check "root is imported before the intermediate, both before the leaf" sh -c '
  r=$(grep -n "Import-Certificate.*root.cer" win/import.ps1 | head -1 | cut -d: -f1)
  c=$(grep -n "Import-Certificate.*vpn-ca.cer" win/import.ps1 | head -1 | cut -d: -f1)
  m=$(grep -n "Import-PfxCertificate.*gw.pfx" win/import.ps1 | head -1 | cut -d: -f1)
  [ "$r" -lt "$c" ] && [ "$c" -lt "$m" ]'
check "import.ps1 has CRLF line ends (Windows)" sh -c '[ "$(grep -c "$(printf "\r")\$" win/import.ps1)" = "$(wc -l <win/import.ps1)" ]'
check "the password is read as a SecureString, never written into the script" sh -c 'grep -q "Read-Host -AsSecureString" win/import.ps1 && ! grep -q "pfx-pass-long-enough" win/import.ps1'
check "README.txt documents CertAuthFlags as opt-in" grep -q "opt-in" win/README.txt
if command -v pwsh >/dev/null 2>&1; then
  check "import.ps1 parses in PowerShell" pwsh -NoProfile -Command "\$null = [System.Management.Automation.Language.Parser]::ParseFile('$T/win/import.ps1', [ref]\$null, [ref]\$e); if (\$e) { exit 1 }"
fi

# --- pem: certificate, chain without root, full chain, CA bundle, key
expect_rc 0 "export gw --format pem" "$PKILAB" --pki "$PKI" export gw --format pem --out pem
check "gw.pem is the certificate" cmp -s pem/gw.pem "$PKI/certs/gw.pem"
check "gw-chain.pem: certificate + intermediate, no root (2 certificates)" [ "$(grep -c "BEGIN CERTIFICATE" pem/gw-chain.pem)" = 2 ]
check "gw-chain.pem equals the PKI's chain file" cmp -s pem/gw-chain.pem "$PKI/certs/gw-chain.pem"
check "gw-fullchain.pem has 3 certificates" [ "$(grep -c "BEGIN CERTIFICATE" pem/gw-fullchain.pem)" = 3 ]
check "ca-bundle.pem + gw.pem verify with openssl" openssl verify -CAfile "$PKI/certs/root.pem" -untrusted pem/ca-bundle.pem pem/gw.pem
check "gw-chain.pem verifies against the root alone" openssl verify -CAfile "$PKI/certs/root.pem" -untrusted pem/gw-chain.pem pem/gw.pem
check "gw.key matches gw.pem" sh -c '[ "$(openssl pkey -in pem/gw.key -pubout)" = "$(openssl x509 -in pem/gw.pem -noout -pubkey)" ]'
check "gw.key has mode 0600" [ "$(stat -c %a pem/gw.key)" = 600 ]

# --- der
expect_rc 0 "export gw --format der" "$PKILAB" --pki "$PKI" export gw --format der --out der
check "gw.der is the certificate in DER" sh -c 'openssl x509 -inform DER -in der/gw.der | cmp -s - "$1"' _ "$PKI/certs/gw.pem"
check "vpn-ca.der and root.der parse as DER" sh -c 'openssl x509 -inform DER -in der/vpn-ca.der -noout && openssl x509 -inform DER -in der/root.der -noout'
check "the der folder verifies as a chain" sh -c 'openssl x509 -inform DER -in der/root.der >r.pem && openssl x509 -inform DER -in der/vpn-ca.der >i.pem && openssl x509 -inform DER -in der/gw.der >l.pem && openssl verify -CAfile r.pem -untrusted i.pem l.pem'

# --- re-exporting into the same folder replaces the files in place
expect_rc 0 "export again into the same folder" "$PKILAB" --pki "$PKI" export gw --format der --out der
check "still exactly 3 files" [ "$(find der -type f | wc -l)" = 3 ]
# --- a CA can be exported too (its chain up to the root)
expect_rc 0 "export vpn-ca --format pem" "$PKILAB" --pki "$PKI" export vpn-ca --format pem --out capem
check "vpn-ca-fullchain.pem has the CA and the root" [ "$(grep -c "BEGIN CERTIFICATE" capem/vpn-ca-fullchain.pem)" = 2 ]
# --- by serial, and --json lists the files
serial=$(openssl x509 -in "$PKI/certs/alice.pem" -noout -serial | sed 's/.*=//')
expect_rc 0 "export by serial with --json" "$PKILAB" --pki "$PKI" --json export "0x$serial" --format der --out byserial
check "--json is an array of the written paths" sh -c 'echo "$1" | python3 -c "import json,sys; a=json.load(sys.stdin); assert any(p.endswith(\"byserial/alice.der\") for p in a), a"' _ "$OUT"
finish
