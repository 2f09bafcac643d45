#!/bin/sh
# t4005-export-out-paths: --out as people type it. A trailing or doubled
# slash on a directory that does not exist yet works and lists "dir/file";
# a very deep --out is no crash, one beyond PATH_MAX a one-line input error
# (exit 2); a --out below a regular file is refused and creates nothing.
# (Found in review: "--out new/" failed with "File exists", exit 3, and a
# 2,000-level --out overflowed the stack of the recursive mkdir.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1

run "$PKILAB" --pki "$PKI" export gw --format der --out new/
check "--out new/ (not existing yet): exit 0" [ "$RC" = 0 ]
check "the three DER files are there" sh -c '[ -s new/gw.der ] && [ -s new/vpn-ca.der ] && [ -s new/root.der ]'
check "the listing says new/gw.der, no doubled slash" contains "$OUT" "new/gw.der"
check "no '//' in the listing" not_contains "$OUT" "//"
check "gw.der is the certificate (openssl reads it)" openssl x509 -inform DER -in new/gw.der -noout

run "$PKILAB" --pki "$PKI" export gw --format pem --out a//b///
check "--out a//b///: exit 0" [ "$RC" = 0 ]
check "a/b/gw.pem written" [ -s a/b/gw.pem ]

# 2,030 levels: the path still fits PATH_MAX (so the directories are made),
# and a recursion with a PATH_MAX buffer per level needs more than 8 MB of stack.
deep=$(python3 -c "print('d/' * 2030)")
run "$PKILAB" --pki "$PKI" export gw --format der --out "$deep"
check "--out 2,030 levels deep: exit 0 or 2, not a crash (was 139)" [ "$RC" = 0 ] || [ "$RC" = 2 ]
deep=$(python3 -c "print('e/' * 2100)")
run "$PKILAB" --pki "$PKI" export gw --format der --out "$deep"
check "--out beyond PATH_MAX: exit 2" [ "$RC" = 2 ]
check "one error line" one_line "$ERR"
check "it says the path is too long" contains "$ERR" "too long"
rm -rf d e

: > plain
run "$PKILAB" --pki "$PKI" export gw --format der --out plain/sub
check "--out below a regular file: exit 2" [ "$RC" = 2 ]
check "names the file that is in the way" contains "$ERR" "plain: output path exists and is not a directory"
check "plain is still an empty file" sh -c '[ -f plain ] && [ ! -s plain ]'

finish
