#!/bin/sh
# t2010-db-empty-file: a pkilab.db without pkilab's schema (truncated to 0
# bytes, or another program's SQLite file) is an error, never a new empty PKI.
# SQLite opens a 0-byte file as a valid empty database, so before the fix
# `list`, `crl --due` and `expiring` exited 0 reporting nothing (an hourly
# timer and an expiry watch stayed green while CRLs lapsed) and `build`
# re-issued the lab over the CA keys in private/. Now every command exits 3
# with one line, the file stays as it is, and `build` also refuses to issue
# a name whose key or certificate files exist without a record.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
db=$PKI/pkilab.db
keys_before=$(tree_sum "$PKI/private")
certs_before=$(tree_sum "$PKI/certs")

: >"$db"
rm -f "$db-wal" "$db-shm"
for cmd in "list" "crl --due" "crl" "expiring --days 30" "show gw" "revoke alice" "graph"; do
  # shellcheck disable=SC2086
  expect_rc 3 "a 0-byte pkilab.db: '$cmd' fails" "$PKILAB" --pki "$PKI" $cmd
  check "'$cmd': one line naming the database" sh -c 'printf "%s\n" "$1" | grep -q "pkilab.db: not a pkilab database" && [ "$(printf "%s\n" "$1" | wc -l)" = 1 ]' _ "$ERR"
done
expect_rc 3 "a 0-byte pkilab.db: build fails" "$PKILAB" build "$T/lab/lab.cfg"
check "build: one line naming the database" contains "$ERR" "not a pkilab database"
check "the CA and entity keys are untouched" [ "$(tree_sum "$PKI/private")" = "$keys_before" ]
check "the certificates are untouched" [ "$(tree_sum "$PKI/certs")" = "$certs_before" ]
check "the database file is still 0 bytes (nothing written)" [ ! -s "$db" ]

# Another program's SQLite database: same refusal.
rm -f "$db"
sqlite3 "$db" "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);"
expect_rc 3 "a foreign SQLite database: list fails" "$PKILAB" --pki "$PKI" list
check "names it" contains "$ERR" "not a pkilab database"
check "no pkilab table was added to it" [ "$(sqlite3 "$db" "SELECT count(*) FROM sqlite_master WHERE name='certs'")" = 0 ]

# A database that lost the record of a CA while its key is on disk: build
# converges, but must not issue that CA again over its key.
life_lab "$T/lab2" || { finish; exit 1; }
db=$PKI/pkilab.db
key_before=$(sha256sum <"$PKI/private/vpn-ca.key")
sqlite3 "$db" "PRAGMA foreign_keys=OFF; DELETE FROM cas WHERE name='vpn-ca'; DELETE FROM certs WHERE name IN ('vpn-ca','gw','alice','bob');"
expect_rc 2 "build with vpn-ca's key present but unrecorded" "$PKILAB" build "$T/lab2/lab.cfg"
check "names the file in the way" contains "$ERR" "private/vpn-ca.key: exists but pkilab.db has no record of 'vpn-ca'"
check "one line" one_line "$ERR"
check "vpn-ca's key is not replaced" [ "$(sha256sum <"$PKI/private/vpn-ca.key")" = "$key_before" ]
expect_rc 2 "issue over a leftover certificate file is refused" "$PKILAB" --pki "$PKI" issue --ca root \
  --template intermediate-ca --name vpn-ca --subject "CN=again"
check "issue names the file" contains "$ERR" "no record of 'vpn-ca'"
finish
