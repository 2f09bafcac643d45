#!/bin/sh
# t3009-crl-clock-behind: `pkilab crl` with the clock behind the CRL in force
# (a VM restored from a snapshot, a dead RTC battery) used to sign a CRL
# dated before the one it replaces, its revocation dates clamped back with
# it, and exit 0. RFC 5280 §5.1.2.4: thisUpdate is when the CRL was issued;
# clients holding the newer one keep it. Now: exit 2, one line naming both
# times, nothing changed, unless --allow-clock-behind is given.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
db=$PKI/pkilab.db
expect_rc 0 "sign a CRL now" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
tu_now=$(openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -lastupdate)
before=$(tree_sum "$PKI/publish")
db_before=$(sqlite3 "$db" "SELECT crl_number, crl_this_update FROM cas ORDER BY name; SELECT count(*) FROM crl_log")

behind=$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ)
expect_rc 2 "crl --ca vpn-ca with the clock two days behind" env PKILAB_NOW="$behind" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
check "one line" one_line "$ERR"
check "names the clock problem" contains "$ERR" "clock behind the published CRL"
check "names the new thisUpdate (two days back)" contains "$ERR" "$(date -u -d "$behind - 5 minutes" +%Y-%m-%d)"
check "names the current thisUpdate" contains "$ERR" "$(date -u -d "$(echo "$tu_now" | sed 's/lastUpdate=//')" +%Y-%m-%d)"
check "names the flag that forces it" contains "$ERR" "--allow-clock-behind"
expect_rc 2 "crl (every CA) with the clock behind" env PKILAB_NOW="$behind" "$PKILAB" --pki "$PKI" crl
expect_rc 0 "revoke alice" "$PKILAB" --pki "$PKI" revoke alice --reason keyCompromise
expect_rc 2 "crl --due with a revocation pending and the clock behind" env PKILAB_NOW="$behind" "$PKILAB" --pki "$PKI" crl --due
check "publish/ unchanged by the refusals" [ "$(tree_sum "$PKI/publish")" = "$before" ]
check "CRL state in the database unchanged" [ "$(sqlite3 "$db" "SELECT crl_number, crl_this_update FROM cas ORDER BY name; SELECT count(*) FROM crl_log")" = "$db_before" ]
check "crl --help documents the flag" sh -c '"$1" crl --help 2>&1 | grep -q -- "--allow-clock-behind"' _ "$PKILAB"

expect_rc 0 "forced with --allow-clock-behind" env PKILAB_NOW="$behind" "$PKILAB" --pki "$PKI" crl --ca vpn-ca --allow-clock-behind
check "the forced CRL is dated by the (behind) clock" \
  sh -c 'openssl crl -inform DER -in "$1" -noout -lastupdate | grep -q "$2"' _ "$PKI/publish/crl/vpn-ca.crl" "$(date -u -d "$behind" '+%b %e')"
check "and lists alice" sh -c 'openssl crl -inform DER -in "$1" -noout -text | grep -q "Serial Number"' _ "$PKI/publish/crl/vpn-ca.crl"
expect_rc 0 "with the clock right again, crl signs normally" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
finish
