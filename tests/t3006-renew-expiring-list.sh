#!/bin/sh
# t3006-renew-expiring-list: `pkilab renew` (same subject, SANs, template and
# issuer; new or reused key; old one optionally revoked as superseded),
# `pkilab expiring` (certificates, CRLs by nextUpdate, CAs that die before
# what they signed; exit 1 when anything is listed) and `pkilab list/show`
# (issue 3 items 3 and 4).
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
check "the same SANs (DNS, IP, and the IP as dNSName, #76)" [ "$(san "$C/gw.pem")" = "$(san gw-old.pem)" ]
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

# --- list / show
expect_rc 0 "list --json" "$PKILAB" --pki "$PKI" --json list
check "list --json: 5 current certificates, kinds root/intermediate/leaf" sh -c 'echo "$1" | python3 -c "
import json,sys; a=json.load(sys.stdin)
assert len(a)==5, a
k={d[\"name\"]: d[\"kind\"] for d in a}
assert k==dict(root=\"root\", **{\"vpn-ca\":\"intermediate\"}, gw=\"leaf\", alice=\"leaf\", bob=\"leaf\"), k"' _ "$OUT"
expect_rc 0 "show gw --json" "$PKILAB" --pki "$PKI" --json show gw
check "show: SANs, EKU, CDP, AIA, status, fingerprint" sh -c 'echo "$1" | python3 -c "
import json,sys; d=json.load(sys.stdin)
assert d[\"san\"]==[\"DNS:vpn.life.test\",\"IP:192.0.2.10\",\"DNS:192.0.2.10\"], d[\"san\"]
assert d[\"extended_key_usage\"]==[\"serverAuth\",\"ikeIntermediate\",\"ipsecIKE\"], d[\"extended_key_usage\"]
assert d[\"crl_distribution_points\"]==[\"http://127.0.0.1:18081/crl/vpn-ca.crl\",\"http://127.0.0.2:18081/crl/vpn-ca.crl\"]
assert d[\"ca_issuers\"][0]==\"http://127.0.0.1:18081/aia/vpn-ca.crt\"
assert d[\"status\"]==\"valid\" and d[\"issuer\"]==\"vpn-ca\" and len(d[\"sha256\"])==95"' _ "$OUT"
fp=$(openssl x509 -in "$C/gw.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
check "show's SHA-256 fingerprint is openssl's" contains "$OUT" "$fp"
expect_rc 0 "show vpn-ca --json" "$PKILAB" --pki "$PKI" --json show vpn-ca
check "show of a CA includes its CRL state, number = the published one" sh -c 'echo "$1" | python3 -c "
import json,sys; d=json.load(sys.stdin); assert d[\"crl\"][\"number\"]==sys.argv[1] and d[\"crl\"][\"published\"]==\"fresh\", d[\"crl\"]" "$2"' _ "$OUT" "$(crl_number vpn-ca)"
expect_rc 0 "show bob's old serial: revoked, keyCompromise" "$PKILAB" --pki "$PKI" show "$(sqlite3 "$PKI/pkilab.db" "SELECT serial FROM certs WHERE name = 'bob' AND current = 0")"
check "text output says revoked and the reason" sh -c 'echo "$1" | grep -q "^status  *revoked" && echo "$1" | grep -q "^reason  *keyCompromise"' _ "$OUT"
expect_rc 0 "show gw --pem" "$PKILAB" --pki "$PKI" show gw --pem
check "--pem prints the certificate file" sh -c 'printf "%s\n" "$1" | cmp -s - "$2"' _ "$OUT" "$C/gw.pem"
expect_rc 2 "show an unknown name: exit 2" "$PKILAB" --pki "$PKI" show carol

# --- expiring
expect_rc 0 "expiring --days 20 --crl-days 1 (nothing due): exit 0" "$PKILAB" --pki "$PKI" expiring --days 20 --crl-days 1
check "and prints nothing" [ -z "$OUT" ]
expect_rc 1 "expiring --days 20 (CRLs too): the 7-day CRL is listed, exit 1" "$PKILAB" --pki "$PKI" expiring --days 20
check "the vpn-ca CRL is listed by its nextUpdate" sh -c 'echo "$1" | grep -q "^crl  *vpn-ca  *expires in 6d"' _ "$OUT"
check "the 180-day root CRL is not" not_contains "$OUT" "crl          root"
expect_rc 1 "expiring --days 31: alice (renewed for 30 days) is listed" "$PKILAB" --pki "$PKI" expiring --days 31 --crl-days 0
check "alice listed as a certificate" sh -c 'echo "$1" | grep -q "^certificate  *alice  *expires in 2[89]d\|^certificate  *alice  *expires in 30d\|^certificate  *alice  *expires in 29d"' _ "$OUT"
check "gw not listed" not_contains "$OUT" " gw "
later=$(date -u -d "@$(($(date +%s) + 8 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
expect_rc 1 "eight days later the vpn-ca CRL has expired" env PKILAB_NOW="$later" "$PKILAB" --pki "$PKI" expiring --days 1 --crl-days 0
check "listed as expired" sh -c 'echo "$1" | grep -q "^crl  *vpn-ca  *expired"' _ "$OUT"
rm -f "$PKI/publish/crl/root.crl"
expect_rc 1 "a missing CRL is listed" "$PKILAB" --pki "$PKI" expiring --days 0 --crl-days 0
check "root CRL missing" sh -c 'echo "$1" | grep -q "^crl  *root .*missing"' _ "$OUT"
"$PKILAB" --pki "$PKI" -q crl --ca root
expect_rc 2 "expiring --days -1: exit 2" "$PKILAB" --pki "$PKI" expiring --days -1
expect_rc 2 "expiring --days x: exit 2" "$PKILAB" --pki "$PKI" expiring --days x

# A lab with a CA that dies before a leaf it signed, and a leaf due in 10 days.
mkdir -p x
cat >x/lab.cfg <<'EOC'
lab = { name = "x"; pki = "pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=X Root"; },
  { name = "short-ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256"; subject = "CN=X Short CA"; not_after = "+100d"; }
);
certs = (
  { name = "late"; template = "ipsec-client"; issuer = "short-ca"; key = "ec:P-256"; subject = "CN=late.x.test"; san = [ "late.x.test" ]; outlive_issuer = true; },
  { name = "soon"; template = "ipsec-client"; issuer = "short-ca"; key = "ec:P-256"; subject = "CN=soon.x.test"; san = [ "soon.x.test" ]; not_after = "+10d"; }
);
EOC
expect_rc 0 "build a lab with an outlived CA" "$PKILAB" build x/lab.cfg
expect_rc 1 "expiring --days 30 --crl-days 0" "$PKILAB" --pki x/pki expiring --days 30 --crl-days 0
check "soon is listed (10 days)" sh -c 'echo "$1" | grep -q "^certificate  *soon  *expires in 9d\|^certificate  *soon  *expires in 10d"' _ "$OUT"
check "short-ca is listed as expiring before 'late' it signed" sh -c 'echo "$1" | grep -q "^ca-outlived  *short-ca .*expires before .late. it signed"' _ "$OUT"
expect_rc 1 "expiring --days 1: the outlived CA is listed whatever the horizon" "$PKILAB" --pki x/pki expiring --days 1 --crl-days 0
check "only the outlived CA" sh -c '[ "$(echo "$1" | wc -l)" = 1 ] && echo "$1" | grep -q "^ca-outlived"' _ "$OUT"
expect_rc 1 "expiring --json" "$PKILAB" --pki x/pki --json expiring --days 30 --crl-days 0
check "--json: kinds certificate and ca-outlived with seconds_left" sh -c 'echo "$1" | python3 -c "
import json,sys; a=json.load(sys.stdin); k=sorted(d[\"kind\"] for d in a)
assert k==[\"ca-outlived\",\"certificate\"], k
assert all(d[\"seconds_left\"]>0 for d in a)"' _ "$OUT"
expect_rc 0 "revoke soon" "$PKILAB" --pki x/pki revoke soon
expect_rc 1 "a revoked certificate is no longer listed" "$PKILAB" --pki x/pki expiring --days 30 --crl-days 0
check "soon gone" not_contains "$OUT" "soon"
finish
