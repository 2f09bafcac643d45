#!/bin/sh
# t5005-doctor-pki-records: with --pki, doctor reconciles the lab's records
# with what it publishes. `pkilab revoke gw` followed by `pkilab doctor --pki
# pki gw` before `pkilab crl` used to report 0 failed, although pkilab.db
# says revoked: no client can know until a CRL in publish/ lists it.
# Offline (--no-fetch), the CRL in publish/ stands in for the CDPs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }

doc() { # name -> OUT (JSON findings), RC
  run "$PKILAB" --pki "$PKI" doctor "$1" --no-fetch --json
}
codes() { echo "$OUT" | jq -r --arg s "$1" '.findings[] | select(.severity == $s) | .code' | sort -u | tr '\n' ' '; }

doc alice
check "an unrevoked certificate: exit 0 ($RC)" test "$RC" = 0
check "its records are reconciled (pki.records ok)" sh -c 'echo "$1" | grep -q "pki.records"' _ "$(codes ok)"

cp -R "$PKI/publish" "$T/stale" # what a mirror that never pulls again holds
expect_rc 0 "revoke alice" "$PKILAB" -q --pki "$PKI" revoke alice --reason keyCompromise
doc alice
check "revoked but not published: exit 1 ($RC)" test "$RC" = 1
check "pki.revocation_unpublished fails" sh -c 'echo "$1" | grep -q "pki.revocation_unpublished"' _ "$(codes fail)"
check "its fix names the command and the CA" sh -c 'echo "$1" | jq -e ".findings[] | select(.code == \"pki.revocation_unpublished\") | .fix | test(\"pkilab crl --ca vpn-ca\")" >/dev/null' _ "$OUT"

expect_rc 0 "publish the CRL" "$PKILAB" -q --pki "$PKI" crl --ca vpn-ca
doc alice
check "published: still exit 1, now as revoked ($RC)" test "$RC" = 1
check "cert.revoked from publish/ offline" sh -c 'echo "$1" | grep -q "cert.revoked"' _ "$(codes fail)"
check "and no longer unpublished" not_contains "$(codes fail)" "pki.revocation_unpublished"

# A CRL pkilab-cdpd refused (signed by another key: the same lab built twice)
# is answered 503 with the reason, and doctor shows it instead of advising to
# "publish the CRL at exactly this path" (examples/broken/wrong-key-crl).
. "$(dirname "$0")/lib-cdpd.sh"
PKI_A=$PKI
life_lab "$T/other" || { finish; exit 1; }
mkdir -p "$T/pub"
cp -R "$PKI_A/publish/." "$T/pub/"
cp "$T/other/pki/publish/crl/vpn-ca.crl" "$T/pub/crl/vpn-ca.crl"
PKI=$PKI_A
port=$(free_port)
serve_cdpd "cdpd serving a wrong-key CRL answers" wk "http://127.0.0.1:$port" --publish "$T/pub" --listen "127.0.0.1:$port"
hget "http://127.0.0.1:$port/crl/vpn-ca.crl"
check "cdpd: 503 and the reason for a known CA's refused CRL (HTTP $CODE)" refused_503
run env PKILAB_RESOLVE="127.0.0.1:18081:127.0.0.1:$port,127.0.0.2:18081:127.0.0.1:$port" \
  "$PKILAB" --pki "$PKI" doctor bob --json --platform strongswan
check "doctor exits 1 ($RC)" test "$RC" = 1
check "doctor shows the server's reason" sh -c 'echo "$1" | jq -e "[.findings[] | select(.code == \"crl.http_status\") | .message | test(\"HTTP 503: the server says\")] | any" >/dev/null' _ "$OUT"
check "and no longer advises publishing at this path" sh -c '! echo "$1" | jq -e "[.findings[] | select(.code == \"crl.http_status\") | (.fix // \"\") | test(\"exactly this path\")] | any" >/dev/null' _ "$OUT"
stop_cdpd wk

# A CDP serving an older CRL than publish/ holds (a mirror behind): named,
# with the URL and both numbers, while publish/ lists alice as revoked.
port=$(free_port)
serve_cdpd "cdpd serving the CRLs from before the revocation answers" st "http://127.0.0.1:$port" \
  --publish "$T/stale" --listen "127.0.0.1:$port"
run env PKILAB_RESOLVE="127.0.0.1:18081:127.0.0.1:$port,127.0.0.2:18081:127.0.0.1:$port" \
  "$PKILAB" --pki "$PKI" doctor alice --json --platform strongswan
old=$(openssl crl -inform DER -in "$T/stale/crl/vpn-ca.crl" -noout -crlnumber | sed 's/.*=//')
new=$(openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -crlnumber | sed 's/.*=//')
check "crl.behind_publish names the URL" sh -c 'echo "$1" | jq -e "[.findings[] | select(.code == \"crl.behind_publish\") | .subject | test(\"/crl/vpn-ca.crl\")] | any" >/dev/null' _ "$OUT"
msg=$(echo "$OUT" | jq -r '[.findings[] | select(.code == "crl.behind_publish")][0].message')
check "and both CRL numbers ($msg)" sh -c 'echo "$1" | grep -q "number $(printf "%d" "$2") .* number $(printf "%d" "$3")"' _ "$msg" "$old" "$new"
check "alice, revoked and published but served by no CDP: pki.revocation_not_served fails" \
  sh -c 'echo "$1" | grep -q "pki.revocation_not_served"' _ "$(codes fail)"
stop_cdpd st

# A certificate from outside the lab: nothing to reconcile, said at info level.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=stranger -days 30 \
  -keyout "$T/k.pem" -out "$T/stranger.pem" 2>/dev/null
run "$PKILAB" --pki "$PKI" doctor "$T/stranger.pem" --no-fetch --json
check "a stranger's certificate is not reconciled, and says so" sh -c 'echo "$1" | grep -q "pki.records"' _ "$(codes info)"
finish
