#!/bin/sh
# t2007-build-kill: `kill -9` in the middle of a build leaves the database
# and the files consistent, and a re-run completes.
#
# Consistency is defined in tests/lib-consistency.sh (J1-J4: every recorded
# certificate has its key, certificate and chain files -- in place, or named
# by a committed `pending` row whose temporary file exists --, no file the
# database does not know, certificate files equal to the recorded DER) and is
# checked right after the kill, BEFORE any pkilab command runs (opening the
# PKI would run recovery and hide the state the crash left).
#
#   A. a large build (300 ECDSA P-256 leaves added to an existing PKI, one
#      transaction) killed at random delays: consistent, all-or-nothing (0 or
#      300 new rows; when 0, every layout file byte-identical to before), and
#      a re-run completes and settles (no journal, no temporary files);
#   B. the same for a fresh build of 302 certificates: no PKI, or a complete one;
# t2008-build-crash-points crashes the build exactly at each write step.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-consistency.sh"

cat >"$T/base.cfg" <<'EOF2'
lab = { name = "big"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=Big Root"; },
  { name = "ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256"; subject = "CN=Big CA"; }
);
EOF2
{
	cat "$T/base.cfg"; echo "certs = ("
	i=1; while [ $i -le 300 ]; do
		sep=,; [ $i = 300 ] && sep=
		echo "  { name = \"c$i\"; template = \"ipsec-client\"; issuer = \"ca\"; subject = \"CN=c$i.test\"; san = [ \"c$i.test\" ]; }$sep"
		i=$((i + 1))
	done
	echo ");"
} >"$T/big.cfg"
expect_rc 0 "base PKI (root + intermediate) builds" "$PKILAB" build "$T/base.cfg" --pki "$T/base"
layout_sum() { (cd "$1" && find private certs publish -type f ! -name '.*.tmp-*' | LC_ALL=C sort | xargs sha256sum); }
layout_sum "$T/base" >"$T/base.sum"
new_rows() { sqlite3 "$1/pkilab.db" "select count(*) from certs where name glob 'c[0-9]*'"; }

# Time a full run to spread the kills over it.
cp -a "$T/base" "$T/timing"
t0=$(date +%s%N)
"$PKILAB" build "$T/big.cfg" --pki "$T/timing" >/dev/null 2>&1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# a 300-leaf converging build takes $ms ms"
check "timing run issued 300 leaves" test "$(new_rows "$T/timing")" = 300

rand_ms() { od -An -N2 -tu2 /dev/urandom | awk -v m="$1" '{ printf "%d", ($1 / 65535) * m }'; }
sleep_ms() { sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"; }
# A build of CFG into PKI killed with SIGKILL after a random delay, up to
# 1.25 x the measured length of a whole build; the delay is left in $d (ms).
build_killed() { # cfg pki
	d=$(rand_ms $((ms + ms / 4)))
	"$PKILAB" build "$1" --pki "$2" >/dev/null 2>&1 &
	pid=$!
	sleep_ms "$d"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

after_kill() { # pki: consistent, all or nothing
	pki_consistent "$1" || return 1
	_r=$(new_rows "$1")
	case "$_r" in
	0) layout_sum "$1" | cmp -s - "$T/base.sum" || { echo "nothing committed but layout files changed"; return 1; } ;;
	300) ;;
	*) echo "$_r of 300 rows: not all-or-nothing"; return 1 ;;
	esac
	echo "state after kill: $_r new rows, $(sqlite3 "$1/pkilab.db" 'select count(*) from pending') pending"
}
rerun_completes() { # lab pki
	"$PKILAB" build "$1" --pki "$2" >"$T/.o" 2>"$T/.e" || { echo "re-run failed: $(cat "$T/.e")"; return 1; }
	[ "$(new_rows "$2")" = 300 ] || { echo "re-run did not complete: $(new_rows "$2") rows"; return 1; }
	pki_consistent "$2" settled
}

# ---- A. converging build killed at random delays --------------------------------------------------
for try in 1 2 3; do
	rm -rf "$T/k"; cp -a "$T/base" "$T/k"
	build_killed "$T/big.cfg" "$T/k"
	check "A$try: kill -9 after ${d} ms: consistent before recovery, all or nothing" after_kill "$T/k"
	check "A$try: a re-run completes the build and settles" rerun_completes "$T/big.cfg" "$T/k"
done

# ---- B. fresh build killed at random delays ---------------------------------------------------------------
for try in 1 2; do
	rm -rf "$T/fw"; mkdir "$T/fw"
	build_killed "$T/big.cfg" "$T/fw/pki"
	if [ -e "$T/fw/pki" ]; then
		check "B$try: kill -9 after ${d} ms: the PKI appeared whole (302 certificates, consistent)" \
			sh -c '[ "$(sqlite3 "$1/pkilab.db" "select count(*) from certs")" = 302 ]' _ "$T/fw/pki"
		check "B$try: ... and consistent" pki_consistent "$T/fw/pki"
	else
		check "B$try: kill -9 after ${d} ms: no PKI directory (the build was in its staging directory)" test ! -e "$T/fw/pki"
	fi
	left=$(find "$T/fw" -maxdepth 1 -name 'pki.new-*' | wc -l)
	[ "$left" -gt 0 ] && echo "# note: B$try left $left staging directory(ies) beside the PKI"
	check "B$try: a re-run completes" rerun_completes "$T/big.cfg" "$T/fw/pki"
done

finish
