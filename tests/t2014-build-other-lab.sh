#!/bin/sh
# t2014-build-other-lab: one PKI, one lab (README "The PKI directory").
# Before the fix, `PKILAB_DIR=x pkilab build other-lab.cfg` into a PKI built
# from another lab exited 0 and merged the second lab's hierarchy into it
# (its root beside the first lab's root, in one database). Now:
#   - the first build records the lab's name and the lab file's absolute
#     path in pkilab.db (meta lab_name, lab_path);
#   - building a lab of another name into it, through PKILAB_DIR or --pki,
#     dry run or not, is exit 2 with one line naming both labs and the PKI
#     directory, and nothing is written: the PKI tree has the same checksum,
#     no staging directory is left;
#   - the same lab from another path (the file copied elsewhere) is accepted,
#     and the record follows it;
#   - a PKI built before the record existed is adopted by its next build;
#   - `build --help` states build's real default directory, which is used.
. "$(dirname "$0")/lib.sh"

# lab NAME DIR ROOT-CN: a small ECDSA lab file DIR/lab.cfg named NAME.
lab() {
  mkdir -p "$2"
  cat >"$2/lab.cfg" <<EOF
lab = { name = "$1"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root-$1"; template = "root-ca"; key = "ec:P-256"; subject = "C=CH, O=t2014, CN=$3"; },
  { name = "ca-$1"; template = "intermediate-ca"; issuer = "root-$1"; key = "ec:P-256";
    subject = "C=CH, O=t2014, CN=$3 Issuing CA"; }
);
certs = (
  { name = "gw-$1"; template = "ipsec-gateway"; issuer = "ca-$1"; key = "ec:P-256";
    subject = "CN=gw.$1.test"; san = [ "gw.$1.test" ]; }
);
EOF
}
meta() { sqlite3 "$P/pkilab.db" "SELECT value FROM meta WHERE key = '$1'"; }
names() { sqlite3 "$P/pkilab.db" "SELECT name FROM certs ORDER BY id" | tr '\n' ' '; }
no_staging() { test -z "$(find "$T" -name 'pki.new-*')"; }

lab alpha "$T/a" "Alpha Root"
lab beta "$T/b" "Beta Root"
A=$(realpath "$T/a/lab.cfg")
B=$(realpath "$T/b/lab.cfg")
P=$T/pki

expect_rc 0 "PKILAB_DIR=pki pkilab build alpha" env PKILAB_DIR="$P" "$PKILAB" build "$T/a/lab.cfg"
check "the database records the lab's name" [ "$(meta lab_name)" = alpha ]
check "the database records the lab file's absolute path" [ "$(meta lab_path)" = "$A" ]
names_before=$(names)
sum_before=$(tree_sum "$P")

expect_rc 2 "PKILAB_DIR=pki pkilab build beta (another lab) is refused" \
  env PKILAB_DIR="$P" "$PKILAB" build "$T/b/lab.cfg"
check "one line on stderr" one_line "$ERR"
check "it names the lab that built the PKI" contains "$ERR" "lab 'alpha' ($A)"
check "it names the lab being built" contains "$ERR" "lab 'beta' ($B)"
check "it names the PKI directory" contains "$ERR" "pkilab: error: $P:"
check "nothing on stdout" [ -z "$OUT" ]
check "the PKI tree is unchanged (checksum of names, modes, contents)" [ "$(tree_sum "$P")" = "$sum_before" ]
check "no staging directory left" no_staging
check "no certificate of beta recorded" [ "$(names)" = "$names_before" ]

expect_rc 2 "the same through --pki" "$PKILAB" build "$T/b/lab.cfg" --pki "$P"
check "--pki: one line" one_line "$ERR"
check "--pki: naming both labs" contains "$ERR" "built from lab 'alpha' ($A); refusing to build lab 'beta' ($B)"
expect_rc 2 "and as a dry run" "$PKILAB" build "$T/b/lab.cfg" --pki "$P" --dry-run
check "--dry-run: refused before planning anything" contains "$ERR" "refusing to build lab 'beta'"
check "the PKI tree is still unchanged" [ "$(tree_sum "$P")" = "$sum_before" ]

# The same lab, its file copied elsewhere: accepted, the record follows it.
mkdir -p "$T/moved/deeper"
cp "$T/a/lab.cfg" "$T/moved/deeper/lab.cfg"
M=$(realpath "$T/moved/deeper/lab.cfg")
expect_rc 0 "the same lab from another path converges" "$PKILAB" build "$M" --pki "$P"
check "nothing issued, everything kept" contains "$OUT" "build: 0 issued, 3 kept"
check "the record names the lab file used last" [ "$(meta lab_path)" = "$M" ]
check "still lab alpha" [ "$(meta lab_name)" = alpha ]
expect_rc 2 "beta is still refused, the message names the new path" "$PKILAB" build "$B" --pki "$P"
check "names alpha's current file" contains "$ERR" "lab 'alpha' ($M)"

# A PKI built before the record existed: adopted by its next build.
sqlite3 "$P/pkilab.db" "DELETE FROM meta WHERE key IN ('lab_name', 'lab_path')"
check "the record is gone (a PKI of an earlier pkilab)" [ -z "$(meta lab_name)$(meta lab_path)" ]
expect_rc 0 "build alpha adopts the unrecorded PKI" "$PKILAB" build "$A" --pki "$P"
check "adopted: nothing issued" contains "$OUT" "build: 0 issued, 3 kept"
check "the adoption records the lab" [ "$(meta lab_name)|$(meta lab_path)" = "alpha|$A" ]
expect_rc 2 "after adoption, beta is refused" "$PKILAB" build "$B" --pki "$P"

# build's default directory, as its --help states it.
expect_rc 0 "build --help" "$PKILAB" build --help
check "--help: \$PKILAB_DIR first" contains "$OUT" "default \$PKILAB_DIR, else the lab's 'pki' setting"
check "--help: does not claim ./pki" not_contains "$OUT" "else ./pki"
expect_rc 0 "list --help" "$PKILAB" list --help
check "other commands keep ./pki" contains "$OUT" "default \$PKILAB_DIR, else ./pki"
lab gamma "$T/c" "Gamma Root"
mkdir "$T/elsewhere"
expect_rc 0 "without PKILAB_DIR or --pki, from another directory" \
  sh -c 'cd "$1" && env -u PKILAB_DIR "$2" build "$3"' _ "$T/elsewhere" "$PKILAB" "$T/c/lab.cfg"
check "the PKI is beside the lab file" test -s "$T/c/pki/pkilab.db"
check "nothing in the current directory" [ -z "$(ls -A "$T/elsewhere")" ]
check "no staging directory left" no_staging

finish
