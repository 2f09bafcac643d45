#!/bin/sh
# t8002-expiring: `pkilab expiring` lists certificates by notAfter, CRLs by
# nextUpdate (expired or missing ones too) and CAs that expire before a
# certificate they signed; exit 1 when anything is listed, 0 when nothing is,
# 2 on a bad horizon. On a lab with a renewal history (lib-life.sh
# life_history: alice renewed for 30 days) and a lab with an outlived CA.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
check "history: gw renewed twice, alice renewed for 30 days, bob revoked and renewed" life_history

# life_history revokes bob after the last `crl`: vpn-ca's CRL is not up to
# date (pkilab/crl_state.h), whatever the horizon; signed, nothing is due.
expect_rc 1 "expiring --days 20 --crl-days 1 with bob's revocation unsigned: exit 1" "$PKILAB" --pki "$PKI" expiring --days 20 --crl-days 1
check "the vpn-ca CRL is listed as missing a revocation" sh -c 'echo "$1" | grep -q "^crl  *vpn-ca  *CRL missing revocations: 1 revocation"' _ "$OUT"
expect_rc 0 "sign vpn-ca's CRL" "$PKILAB" -q --pki "$PKI" crl --ca vpn-ca
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
# A CRL dated in the future of this clock (signed while a clock ran ahead) is
# refused by pkilab-cdpd and strongSwan: listed, exit 1, and show agrees.
before=$(date -u -d "@$(($(date +%s) - 2 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
expect_rc 1 "two days earlier the CRLs are dated in the future" env PKILAB_NOW="$before" "$PKILAB" --pki "$PKI" expiring --days 0 --crl-days 0
check "listed by their thisUpdate" sh -c 'echo "$1" | grep -q "^crl  *vpn-ca .*thisUpdate .* lies in the future"' _ "$OUT"
expect_rc 0 "show vpn-ca two days earlier" env PKILAB_NOW="$before" "$PKILAB" -q --pki "$PKI" show vpn-ca --json
check "show says the published CRL is dated in the future" sh -c 'echo "$1" | jq -e ".crl.published == \"dated in the future\"" >/dev/null' _ "$OUT"
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
