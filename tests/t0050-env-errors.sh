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
PKILAB_NOW|+8x|bad time '+8x'
PKILAB_NOW|2026-13-45|bad time '2026-13-45'
PKILAB_NOW|2026-02-30|bad time '2026-02-30'
PKILAB_RESOLVE|junk|bad resolve entry 'junk'
PKILAB_RESOLVE|a.test:80:127.0.0.1,b.test:x:1.2.3.4|bad resolve entry 'b.test:x:1.2.3.4'
CASES

# empty values count as unset, as before
expect_rc 0 "empty PKILAB_NOW and PKILAB_RESOLVE are unset" env PKILAB_NOW= PKILAB_RESOLVE= "$PKILAB" --version

# good values are taken (t2002 and t3003 prove PKILAB_NOW is the clock)
expect_rc 0 "a good PKILAB_NOW and PKILAB_RESOLVE are accepted" \
	env PKILAB_NOW=2030-06-01T12:00:00Z PKILAB_RESOLVE="a.test:80:127.0.0.1 b.test:80:[::1]:81" "$PKILAB" --version

# PKILAB_NOW takes --at's syntax: relative to the system clock, and a moved
# clock is announced once on stderr (-q silences it). The announced time is
# bracketed by the clock read before and after the run, so load cannot fail it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=t0050 -days 30 \
	-keyout "$T/k.pem" -out "$T/c.pem" 2>/dev/null
before=$(date -u +%s)
expect_rc 1 "PKILAB_NOW=+8d is taken (lint runs; its finding L8 exits 1)" env PKILAB_NOW=+8d "$PKILAB" lint "$T/c.pem"
after=$(date -u +%s)
said=$(printf '%s\n' "$ERR" | sed -n 's/^pkilab: warning: PKILAB_NOW sets the clock to \([^ ]*\) (the system clock reads .*)$/\1/p')
check "the moved clock is announced once" test "$(printf '%s\n' "$ERR" | grep -c 'PKILAB_NOW sets the clock')" = 1
said_s=$(date -u -d "$said" +%s 2>/dev/null || echo 0)
check "eight days ahead of the system clock ($said)" \
	test "$said_s" -ge $((before + 8 * 86400)) -a "$said_s" -le $((after + 8 * 86400))
expect_rc 1 "PKILAB_NOW=-1h with -q (lint runs)" env PKILAB_NOW=-1h "$PKILAB" lint -q "$T/c.pem"
check "-q silences the announcement" not_contains "$ERR" "PKILAB_NOW"
expect_rc 1 "without PKILAB_NOW (lint runs)" "$PKILAB" lint "$T/c.pem"
check "nothing is announced when the clock is the system's" not_contains "$ERR" "PKILAB_NOW"

# cdpd reads PKILAB_NOW the same way (its config is parsed first)
mkdir -p "$T/pub"
expect_rc 2 "pkilab-cdpd refuses a bad PKILAB_NOW" env PKILAB_NOW=soon timeout 10 "$CDPD" --publish "$T/pub" --listen "127.0.0.1:1"
check "the cdpd error names PKILAB_NOW" contains "$ERR" "pkilab-cdpd: error: PKILAB_NOW: bad time 'soon'"

# and announces a moved clock once in its log
. "$(dirname "$0")/lib-cdpd.sh"
port=$(free_port)
PKILAB_NOW=+1d start_cdpd now --publish "$T/pub" --listen "127.0.0.1:$port"
check "cdpd announces the moved clock" wait_log now "PKILAB_NOW sets the clock to"
check "cdpd stops cleanly" stop_cdpd now
check "once" test "$(grep -c 'PKILAB_NOW sets the clock' "$T/now.log")" = 1

finish
