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

# A certificate from outside the lab: nothing to reconcile, said at info level.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=stranger -days 30 \
  -keyout "$T/k.pem" -out "$T/stranger.pem" 2>/dev/null
run "$PKILAB" --pki "$PKI" doctor "$T/stranger.pem" --no-fetch --json
check "a stranger's certificate is not reconciled, and says so" sh -c 'echo "$1" | grep -q "pki.records"' _ "$(codes info)"
finish
