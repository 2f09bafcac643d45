#!/bin/sh
# The environment is read once, at start (ca/include/pkilab/env.h): a
# malformed PKILAB_NOW or PKILAB_RESOLVE is refused before any command runs,
# with one line naming the variable and exit 2 (usage or input error).
. "$(dirname "$0")/lib.sh"

# variable, value, text expected in the error line
while IFS='|' read -r var val want; do
	[ -n "$var" ] || continue
	expect_rc 2 "pkilab refuses $var='$val'" env "$var=$val" "$PKILAB" list --pki "$T/none"
	check "the error names $var" contains "$ERR" "pkilab: error: $var: $want"
	check "the error is one line" one_line "$ERR"
	check "nothing on stdout" test -z "$OUT"
done <<'CASES'
PKILAB_NOW|tomorrow|bad time 'tomorrow'
PKILAB_NOW|30d|bad time '30d'
PKILAB_NOW|2026-02-30|bad time '2026-02-30'
PKILAB_RESOLVE|junk|bad resolve entry 'junk'
PKILAB_RESOLVE|a.test:80:127.0.0.1,b.test:x:1.2.3.4|bad resolve entry 'b.test:x:1.2.3.4'
CASES

# empty values count as unset, as before
expect_rc 0 "empty PKILAB_NOW and PKILAB_RESOLVE are unset" env PKILAB_NOW= PKILAB_RESOLVE= "$PKILAB" --version

# good values are taken (t2002 and t3003 prove PKILAB_NOW is the clock)
expect_rc 0 "a good PKILAB_NOW and PKILAB_RESOLVE are accepted" \
	env PKILAB_NOW=2030-06-01T12:00:00Z PKILAB_RESOLVE="a.test:80:127.0.0.1 b.test:80:[::1]:81" "$PKILAB" --version

# cdpd reads PKILAB_NOW the same way (its config is parsed first)
mkdir -p "$T/pub"
expect_rc 2 "pkilab-cdpd refuses a bad PKILAB_NOW" env PKILAB_NOW=soon timeout 10 "$CDPD" --publish "$T/pub" --listen "127.0.0.1:1"
check "the cdpd error names PKILAB_NOW" contains "$ERR" "pkilab-cdpd: error: PKILAB_NOW: bad time 'soon'"

finish
