#!/bin/sh
# t8001-show-list: `pkilab list` (current certificates, --all with history,
# --json with kinds root/intermediate/leaf) and `pkilab show` (SANs, EKU, CDP,
# AIA, status, SHA-256 fingerprint, a CA's CRL state, a revoked certificate's
# reason, --pem) on a lab with a renewal history (lib-life.sh life_history).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
C=$PKI/certs
check "history: gw renewed twice, alice renewed and revoked, bob revoked and renewed" life_history
run "$PKILAB" --pki "$PKI" list --all
check "list --all shows the three gw certificates" [ "$(echo "$OUT" | grep -c "^gw ")" = 3 ]
run "$PKILAB" --pki "$PKI" list
check "list shows one gw" [ "$(echo "$OUT" | grep -c "^gw ")" = 1 ]

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
# life_history revokes bob after the last `crl`: the CRL in publish/ lacks
# him, which show and list say alike (pkilab/crl_state.h); signed, it is fresh.
expect_rc 0 "show vpn-ca --json, bob's revocation not yet on a CRL" "$PKILAB" --pki "$PKI" --json show vpn-ca
check "show: the CRL misses a revocation, and says how many" sh -c 'echo "$1" | jq -e ".crl.published == \"missing revocations\" and (.crl.detail | test(\"^missing revocations: 1 revocation\"))" >/dev/null' _ "$OUT"
expect_rc 0 "list --json, the same moment" "$PKILAB" --pki "$PKI" --json list
check "list --json says the same of vpn-ca's CRL" sh -c 'echo "$1" | jq -e "[.[] | select(.name == \"vpn-ca\") | .crl.state] == [\"missing revocations\"]" >/dev/null' _ "$OUT"
expect_rc 0 "sign vpn-ca's CRL" "$PKILAB" -q --pki "$PKI" crl --ca vpn-ca
expect_rc 0 "show vpn-ca --json" "$PKILAB" --pki "$PKI" --json show vpn-ca
check "show of a CA includes its CRL state, number = the published one" sh -c 'echo "$1" | python3 -c "
import json,sys; d=json.load(sys.stdin); assert d[\"crl\"][\"number\"]==sys.argv[1] and d[\"crl\"][\"published\"]==\"fresh\", d[\"crl\"]" "$2"' _ "$OUT" "$(crl_number vpn-ca)"
expect_rc 0 "show bob's old serial: revoked, keyCompromise" "$PKILAB" --pki "$PKI" show "$(sqlite3 "$PKI/pkilab.db" "SELECT serial FROM certs WHERE name = 'bob' AND current = 0")"
check "text output says revoked and the reason" sh -c 'echo "$1" | grep -q "^status  *revoked" && echo "$1" | grep -q "^reason  *keyCompromise"' _ "$OUT"
expect_rc 0 "show gw --pem" "$PKILAB" --pki "$PKI" show gw --pem
check "--pem prints the certificate file" sh -c 'printf "%s\n" "$1" | cmp -s - "$2"' _ "$OUT" "$C/gw.pem"
expect_rc 2 "show an unknown name: exit 2" "$PKILAB" --pki "$PKI" show carol
finish
