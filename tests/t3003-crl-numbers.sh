#!/bin/sh
# t3003-crl-numbers: CRL numbers strictly increase across 100 consecutive
# signings and across a restore of the database from an older backup, and
# `pkilab crl --due` re-signs only the CRLs past half their lifetime
# (RFC 5280 §5.2.3; docs/crl-publication.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
db=$PKI/pkilab.db

# --- 100 consecutive signings: strictly increasing, each equal to the stored counter
prev=$(crl_number vpn-ca) ok=0 same_as_db=0
for _ in $(seq 1 100); do
  "$PKILAB" --pki "$PKI" -q crl --ca vpn-ca || break
  n=$(crl_number vpn-ca)
  [ "$(echo "$n > $prev" | bc)" = 1 ] && ok=$((ok + 1))
  [ "$(sqlite3 "$db" "SELECT crl_number FROM cas WHERE name='vpn-ca'")" = "$n" ] && same_as_db=$((same_as_db + 1))
  prev=$n
done
check "100 consecutive CRLs: each number greater than the one before (RFC 5280 §5.2.3)" [ "$ok" = 100 ]
check "the database counter always equals the published number" [ "$same_as_db" = 100 ]
check "100 signings logged in crl_log" [ "$(sqlite3 "$db" "SELECT count(*) FROM crl_log WHERE ca='vpn-ca'")" = 100 ]

# --- restore from an older backup: the published CRL keeps numbering above it
sqlite3 "$db" ".backup '$T/old.db'"
# Push the counter far ahead of the clock (a CRL signed by a future-dated
# counter, e.g. another machine): the next number must follow the published CRL.
big=9000000000000000
sqlite3 "$db" "UPDATE cas SET crl_number='$big' WHERE name='vpn-ca'"
expect_rc 0 "sign with a stored counter ahead of the clock" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
published=$(crl_number vpn-ca)
check "the number continues the stored counter: $((big + 1))" [ "$published" = "$((big + 1))" ]
# Restore: the old counter and the clock are both below the published number.
cp "$T/old.db" "$db"; rm -f "$db-wal" "$db-shm"
check "after the restore the database counter is behind the published CRL" \
  [ "$(echo "$(sqlite3 "$db" "SELECT crl_number FROM cas WHERE name='vpn-ca'") < $published" | bc)" = 1 ]
expect_rc 0 "sign after the restore" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
after=$(crl_number vpn-ca)
check "the number after the restore is above the published one, never reused ($after > $published)" \
  [ "$(echo "$after > $published" | bc)" = 1 ]
# And with the published CRL gone too (full loss): time keeps it increasing.
rm -f "$PKI/publish/crl/root.crl"
rootold=$(sqlite3 "$db" "SELECT crl_number FROM cas WHERE name='root'")
expect_rc 0 "sign the root CRL with its file missing" "$PKILAB" --pki "$PKI" crl --ca root
check "root number above its stored counter" [ "$(echo "$(crl_number root) > $rootold" | bc)" = 1 ]
ms=$(($(date +%s) * 1000 - 60000))
check "a lost counter still yields a number near the current time in ms" [ "$(echo "$(crl_number root) > $ms" | bc)" = 1 ]

# --- --due: nothing due right after a signing
life_lab "$T/due" || { finish; exit 1; }
sum0=$(tree_sum "$PKI/publish")
expect_rc 0 "crl --due right after build" "$PKILAB" --pki "$PKI" crl --due
check "nothing re-signed: both 'not due'" sh -c '[ "$(echo "$1" | grep -c "not due")" = 2 ]' _ "$OUT"
check "publish/ untouched" [ "$(tree_sum "$PKI/publish")" = "$sum0" ]
# 4 days later: the 7-day intermediate CRL is past half-life, the 180-day root CRL is not.
later=$(date -u -d "@$(($(date +%s) + 4 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
expect_rc 0 "crl --due four days later" env PKILAB_NOW="$later" "$PKILAB" --pki "$PKI" crl --due
check "vpn-ca re-signed (past half of 7 days, docs/crl-publication.md)" sh -c 'echo "$1" | grep -q "^vpn-ca: signed"' _ "$OUT"
check "root not due (4 of 180 days)" sh -c 'echo "$1" | grep -q "^root: not due"' _ "$OUT"
nu=$(date -u -d "$(openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -nextupdate | sed 's/.*=//')" +%s)
check "the new vpn-ca CRL runs 7 days from four days later" [ "$nu" -gt $(($(date +%s) + 10 * 86400)) ]
sum1=$(tree_sum "$PKI/publish")
expect_rc 0 "crl --due again at the same moment" env PKILAB_NOW="$later" "$PKILAB" --pki "$PKI" crl --due
check "nothing due twice in a row (no CRL-number churn)" [ "$(tree_sum "$PKI/publish")" = "$sum1" ]
# A revocation makes the issuing CA's CRL due at once.
expect_rc 0 "revoke alice" env PKILAB_NOW="$later" "$PKILAB" --pki "$PKI" revoke alice --reason superseded
expect_rc 0 "crl --due after a revocation" env PKILAB_NOW="$later" "$PKILAB" --pki "$PKI" crl --due
check "vpn-ca re-signed because a revocation is not yet published" sh -c 'echo "$1" | grep -q "^vpn-ca: signed.*1 revoked"' _ "$OUT"
check "root still not due" sh -c 'echo "$1" | grep -q "^root: not due"' _ "$OUT"
# A missing CRL is due.
rm -f "$PKI/publish/crl/root.crl"
# (--ca root: back at the real time, vpn-ca's CRL from "four days later" is
# dated in the future, which is due and refused as a clock behind; t3009.)
expect_rc 0 "crl --due with root.crl missing" "$PKILAB" --pki "$PKI" crl --due --ca root
check "root re-signed because its CRL is missing" sh -c 'echo "$1" | grep -q "^root: signed"' _ "$OUT"
# nextUpdate never goes backwards (docs/crl-publication.md): back at the real time the vpn-ca CRL keeps the later one.
# The clock is now behind the CRL signed "four days later": forced (t3009 covers the refusal).
expect_rc 0 "crl --ca vpn-ca at the real time (--allow-clock-behind)" "$PKILAB" --pki "$PKI" crl --ca vpn-ca --allow-clock-behind
nu2=$(date -u -d "$(openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -nextupdate | sed 's/.*=//')" +%s)
check "nextUpdate did not go backwards (docs/crl-publication.md)" [ "$nu2" -ge "$nu" ]
# --json
expect_rc 0 "crl --json" "$PKILAB" --pki "$PKI" --json crl --ca vpn-ca --allow-clock-behind
check "--json: one object with number, entries, next_update" sh -c 'echo "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[0][\"ca\"]==\"vpn-ca\" and d[0][\"entries\"]==1 and d[0][\"signed\"]"' _ "$OUT"
expect_rc 2 "crl --ca for an unknown CA: exit 2" "$PKILAB" --pki "$PKI" crl --ca nosuch
check "one-line error" one_line "$ERR"
check "naming the CA" contains "$ERR" "unknown CA 'nosuch'"
# --- an encrypted CA key: a missing or wrong passphrase is one line, nothing changes
mkdir -p "$T/enc"
sed '/name = "vpn-ca"/s/key = "ec:P-256";/key = "ec:P-256"; encrypt_key = true;/' "$T/lab/lab.cfg" >"$T/enc/lab.cfg"
expect_rc 0 "build a lab whose vpn-ca key is encrypted" env PKILAB_KEY_PASSPHRASE=ca-secret "$PKILAB" build "$T/enc/lab.cfg"
check "the vpn-ca key is stored encrypted" grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$T/enc/pki/private/vpn-ca.key"
"$PKILAB" --pki "$T/enc/pki" -q revoke alice
esum=$(tree_sum "$T/enc/pki/publish")
dbnum=$(sqlite3 "$T/enc/pki/pkilab.db" "SELECT crl_number FROM cas WHERE name = 'vpn-ca'")
expect_rc 2 "crl --ca vpn-ca without the passphrase: exit 2" env -u PKILAB_KEY_PASSPHRASE "$PKILAB" --pki "$T/enc/pki" crl --ca vpn-ca
check "one line" one_line "$ERR"
check "saying a passphrase is needed" sh -c 'echo "$1" | grep -qi "passphrase"' _ "$ERR"
expect_rc 2 "crl --ca vpn-ca with a wrong passphrase: exit 2" env PKILAB_KEY_PASSPHRASE=wrong "$PKILAB" --pki "$T/enc/pki" crl --ca vpn-ca
check "one line" one_line "$ERR"
check "publish/ unchanged" [ "$(tree_sum "$T/enc/pki/publish")" = "$esum" ]
check "the stored CRL number unchanged" [ "$(sqlite3 "$T/enc/pki/pkilab.db" "SELECT crl_number FROM cas WHERE name = 'vpn-ca'")" = "$dbnum" ]
check "no temporary file left" [ -z "$(find "$T/enc/pki" -name '.*tmp-*')" ]
expect_rc 0 "crl --ca vpn-ca with the right passphrase" env PKILAB_KEY_PASSPHRASE=ca-secret "$PKILAB" --pki "$T/enc/pki" crl --ca vpn-ca
check "the new CRL verifies and lists alice" sh -c 'openssl crl -inform DER -in "$1/publish/crl/vpn-ca.crl" -CAfile "$1/certs/vpn-ca.pem" -verify -noout -text 2>&1 | grep -q "Serial Number"' _ "$T/enc/pki"
finish
