#!/bin/sh
# t4007-export-weak-password: a PKCS#12 password shorter than 12 characters
# is refused at export time, from every source (--password-file,
# $PKILAB_P12_PASSWORD, the terminal prompt): the file's MAC lets whoever
# holds the .p12/.pfx test guesses offline (RFC 7292 section 5 and appendix
# B: the MAC key is derived from the password alone, 2,048 SHA-1 iterations
# in the legacy profile), so length is the only defence. One line naming the
# source and saying why, exit 2, nothing written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
pkisum=$(tree_sum "$PKI")

printf 'abc\n' >pw3
printf '12345678901\n' >pw11
printf '123456789012\n' >pw12
# 11 characters, 22 bytes: characters are counted, not bytes
printf '\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\n' >pw11u

for f in p12 windows; do
  expect_rc 2 "$f: a 3-character password file is refused (exit 2)" "$PKILAB" --pki "$PKI" export gw --format "$f" --out "w3$f" --password-file pw3
  check "$f: one line" one_line "$ERR"
  check "$f: it names the file" contains "$ERR" "pw3"
  check "$f: and says why (at least 12 characters, offline guessing)" \
    sh -c 'echo "$1" | grep -q "at least 12 characters" && echo "$1" | grep -q "offline"' _ "$ERR"
  check "$f: nothing written" [ ! -e "w3$f" ]
done
expect_rc 2 "an 11-character password file is refused" "$PKILAB" --pki "$PKI" export gw --format p12 --out w11 --password-file pw11
check "nothing written" [ ! -e w11 ]
expect_rc 2 "11 non-ASCII characters (22 bytes) are refused: characters count" "$PKILAB" --pki "$PKI" export gw --format p12 --out w11u --password-file pw11u
expect_rc 0 "12 characters are accepted" "$PKILAB" --pki "$PKI" export gw --format p12 --out w12 --password-file pw12
check "and the file opens with them" openssl pkcs12 -info -in w12/gw.p12 -passin file:pw12 -noout

expect_rc 2 "a short \$PKILAB_P12_PASSWORD is refused" env PKILAB_P12_PASSWORD=Xq7zz "$PKILAB" --pki "$PKI" export gw --format p12 --out wenv
check "one line naming PKILAB_P12_PASSWORD" sh -c '[ "$(printf "%s\n" "$1" | wc -l)" = 1 ] && echo "$1" | grep -q PKILAB_P12_PASSWORD' _ "$ERR"
check "the error does not echo the password" not_contains "$ERR" "Xq7zz"
check "nothing written" [ ! -e wenv ]

# The prompt: pkilab reads /dev/tty; tests/pty-answer.py gives it a pseudo-
# terminal and types the same short password at both prompts.
run env -u PKILAB_P12_PASSWORD python3 "$TOP/tests/pty-answer.py" abc "$PKILAB" --pki "$PKI" export gw --format p12 --out wtty
check "a short password typed at the prompt is refused (exit $RC)" [ "$RC" = 2 ]
check "naming the prompt" contains "$OUT" "terminal"
check "nothing written" [ ! -e wtty ]
check "the PKI is unchanged" [ "$(tree_sum "$PKI")" = "$pkisum" ]
finish
