#!/bin/sh
# t2019-db-schema-version: pkilab.db carries its schema version (meta.schema).
# A database written by an older pkilab (version 1: crl_log created only by
# the first `pkilab crl`) is upgraded on open, in one transaction, keeping
# every row; one from a newer pkilab is refused in one line with exit 3 and
# left as it is.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
db=$PKI/pkilab.db
q() { sqlite3 "$db" "$1"; }

check "a new database is at the current version" [ "$(q "SELECT value FROM meta WHERE key='schema'")" = 3 ]
check "every certificate of a build records its origin: the lab" [ "$(q "SELECT group_concat(DISTINCT origin) FROM certs")" = lab ]
check "crl_log is part of the schema" [ "$(q "SELECT count(*) FROM sqlite_master WHERE name='crl_log'")" = 1 ]

# Back to the version-1 layout: no crl_log yet, no certs.origin.
q "DROP TABLE crl_log; ALTER TABLE certs DROP COLUMN origin; UPDATE meta SET value='1' WHERE key='schema';"
rows_before=$(q "SELECT count(*) FROM certs; SELECT count(*) FROM events")
expect_rc 0 "list on a version-1 database" "$PKILAB" --pki "$PKI" list
check "upgraded to version 3" [ "$(q "SELECT value FROM meta WHERE key='schema'")" = 3 ]
check "certs.origin added, unknown ('') for the old rows" [ "$(q "SELECT count(*) FROM certs WHERE origin = ''")" = "$(q "SELECT count(*) FROM certs")" ]
check "crl_log created" [ "$(q "SELECT count(*) FROM crl_log")" = 0 ]
check "certificates and events kept" [ "$(q "SELECT count(*) FROM certs; SELECT count(*) FROM events")" = "$rows_before" ]
expect_rc 0 "revoke after the upgrade" "$PKILAB" --pki "$PKI" revoke alice
expect_rc 0 "crl after the upgrade" "$PKILAB" --pki "$PKI" crl
check "the CRL is logged" [ "$(q "SELECT count(*) FROM crl_log WHERE ca='vpn-ca'")" = 1 ]

# A newer pkilab's database.
q "UPDATE meta SET value='4' WHERE key='schema';"
sum_before=$(tree_sum "$PKI")
for cmd in "list" "crl --due" "expiring --days 30" "revoke bob"; do
  # shellcheck disable=SC2086
  expect_rc 3 "a version-4 database: '$cmd' is refused" "$PKILAB" --pki "$PKI" $cmd
  check "'$cmd': one line naming the database and both versions" sh -c \
    'printf "%s\n" "$1" | grep -q "pkilab.db: schema version 4 is newer than this pkilab.s (3)" && [ "$(printf "%s\n" "$1" | wc -l)" = 1 ]' _ "$ERR"
done
expect_rc 3 "build over it is refused too" "$PKILAB" build "$T/lab/lab.cfg"
check "nothing in the PKI changed" [ "$(tree_sum "$PKI")" = "$sum_before" ]
check "the version is left as it was" [ "$(q "SELECT value FROM meta WHERE key='schema'")" = 4 ]
finish
