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
check "the moved clock is announced first, as a warning" \
  sh -c 'printf "%s\n" "$1" | head -n 1 | grep -q "^pkilab: warning: PKILAB_NOW sets the clock to"' _ "$ERR"
ERR=$(printf '%s\n' "$ERR" | sed 1d)
check "then the error, one line" one_line "$ERR"
check "names the clock problem" contains "$ERR" "clock behind the published CRL"
check "names the new thisUpdate (two days back)" contains "$ERR" "$(date -u -d "$behind - 5 minutes" +%Y-%m-%d)"
check "names the current thisUpdate" contains "$ERR" "$(date -u -d "$(echo "$tu_now" | sed 's/lastUpdate=//')" +%Y-%m-%d)"
check "names the flag that forces it" contains "$ERR" "--allow-clock-behind"
expect_rc 2 "crl (every CA) with the clock behind" env PKILAB_NOW="$behind" "$PKILAB" --pki "$PKI" crl
# With nothing pending, a CRL dated in the future of this clock is due all the
# same (cdpd refuses to serve it): --due must not answer "not due".
expect_rc 2 "crl --due with the CRL in force dated in the future" env PKILAB_NOW="$behind" "$PKILAB" -q --pki "$PKI" crl --due --ca vpn-ca
check "refused as a clock behind, not skipped" contains "$ERR" "clock behind the published CRL"
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

# Not a clock behind: another `pkilab crl` commits a newer CRL while this one
# waits for the database's write lock (t3004 met it under load). Stand-in for
# the other signer: a transaction held for 3 s that then records a CRL dated
# at its own commit time (thisUpdate = now - 5 min, as pkilab dates them).
# The waiting `crl` must read its clock after it gets the lock and sign.
python3 - "$db" "$T/locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(3)
c.execute("UPDATE cas SET crl_this_update = ? WHERE name = 'vpn-ca'", (int(time.time()) - 300,))
c.execute("COMMIT")
PY
holder=$!
check "the stand-in signer holds the write lock" until_ok test -e "$T/locked"
expect_rc 0 "crl waiting for the lock while a newer CRL is committed: signs, not 'clock behind'" \
  "$PKILAB" --pki "$PKI" crl --ca vpn-ca
wait "$holder"
finish
