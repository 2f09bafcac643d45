#!/bin/sh
# t5006-doctor-mirror-behind: doctor --pki reconciles publish/ with every CDP
# against two real pkilab-cdpd instances, a primary serving pki/publish and
# a mirror pulling from it, held behind on purpose (--mirror-interval 1h: it
# pulls once at start, before the revocation). Before issue 13 doctor said
# "not revoked (checked on 2 CRLs)" while the mirror served the old CRL. Now:
#   - crl.behind_publish names the mirror's URL and both CRL numbers, and
#     not the primary's URL;
#   - the leaf is reported revoked (the primary's CRL), exit 1;
#   - once the mirror has pulled (restarted: its first pull), crl.behind_publish
#     is gone.
# The lab's CDP hostnames are mapped to the test's addresses
# (PKILAB_RESOLVE), never resolved by the system resolver.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"
. "$(dirname "$0")/lib-cdpd.sh"

life_lab "$T/lab" || { finish; exit 1; }
PUB=$PKI/publish
mkdir -p "$T/trust"; cp "$PUB"/aia/*.crt "$T/trust/"
p1=$(free_port) p2=$(free_port)
A=http://127.0.0.1:$p1 M=http://127.0.0.2:$p2
serve_cdpd "primary answers" a "$A" --publish "$PUB" --listen "127.0.0.1:$p1"
serve_cdpd "mirror answers" m "$M" --mirror "$A" --trust "$T/trust" --listen "127.0.0.2:$p2" --mirror-interval 1h
check "the mirror pulled the CRL at start" same_as "$M/crl/vpn-ca.crl" "$PUB/crl/vpn-ca.crl"
export PKILAB_RESOLVE="127.0.0.1:18081:127.0.0.1:$p1,127.0.0.2:18081:127.0.0.2:$p2"

run "$PKILAB" --pki "$PKI" doctor alice --json --platform strongswan
check "in step: no crl.behind_publish ($RC)" sh -c '! echo "$1" | jq -e "[.findings[] | select(.code == \"crl.behind_publish\")] | any" >/dev/null' _ "$OUT"

old=$(crl_number vpn-ca)
cp "$PUB/crl/vpn-ca.crl" "$T/old.crl"
expect_rc 0 "revoke alice" "$PKILAB" -q --pki "$PKI" revoke alice --reason keyCompromise
expect_rc 0 "sign the CRL" "$PKILAB" -q --pki "$PKI" crl --ca vpn-ca
new=$(crl_number vpn-ca)
check "the primary serves the new CRL" same_as "$A/crl/vpn-ca.crl" "$PUB/crl/vpn-ca.crl"
hget "$M/crl/vpn-ca.crl"
check "the mirror still serves the old one" cmp -s "$T/body" "$T/old.crl"
run "$PKILAB" --pki "$PKI" doctor alice --json --platform strongswan
check "doctor exits 1 ($RC)" test "$RC" = 1
behind=$(echo "$OUT" | jq -r '[.findings[] | select(.code == "crl.behind_publish")] | map(.subject + " | " + .message) | .[]')
check "crl.behind_publish names the mirror's URL ($behind)" contains "$behind" "127.0.0.2:18081/crl/vpn-ca.crl"
check "and not the primary's" not_contains "$behind" "127.0.0.1:18081"
check "with both CRL numbers" sh -c 'echo "$1" | grep -q "number $2 .* number $3"' _ "$behind" "$old" "$new"
check "alice is reported revoked (from the primary's CRL)" sh -c 'echo "$1" | jq -e "[.findings[] | select(.severity == \"fail\" and (.code | test(\"revoked\")))] | any" >/dev/null' _ "$OUT"

kill_cdpd m
serve_cdpd "the mirror restarted (its first pull) answers" m "$M" --mirror "$A" --trust "$T/trust" --listen "127.0.0.2:$p2" --mirror-interval 1h
check "the mirror serves the new CRL" same_as "$M/crl/vpn-ca.crl" "$PUB/crl/vpn-ca.crl"
run "$PKILAB" --pki "$PKI" doctor alice --json --platform strongswan
check "caught up: no crl.behind_publish" sh -c '! echo "$1" | jq -e "[.findings[] | select(.code == \"crl.behind_publish\")] | any" >/dev/null' _ "$OUT"
check "alice still revoked: exit 1 ($RC)" test "$RC" = 1
stop_cdpd a; stop_cdpd m
finish
