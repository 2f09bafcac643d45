#!/bin/sh
# t2008-build-crash-points: a crash (SIGKILL) exactly at each write step of a
# converging build -- the LD_PRELOAD shim of tests/crash/failpoint.c with
# FAILPOINT_ACTION=kill, at the n-th write/pwrite/fsync/fdatasync/syncfs/
# rename/mkdir/ftruncate for every n of a counted run -- leaves the database
# and the files consistent (tests/lib-consistency.sh, checked before any
# pkilab command runs recovery), and a re-run completes and settles. This
# reaches the instants random kills (t2007) rarely hit: between the commit
# and the renames, between two renames, inside SQLite's commit.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-consistency.sh"
[ -n "${PKL_SANITIZED:-}" ] && skip_all "LD_PRELOAD interposition does not mix with ASan"
command -v cc >/dev/null || skip_all "no C compiler"

cat >"$T/base.cfg" <<'EOF2'
lab = { name = "points"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=Points Root"; },
  { name = "ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256"; subject = "CN=Points CA"; }
);
EOF2
expect_rc 0 "base PKI (root + intermediate) builds" "$PKILAB" build "$T/base.cfg" --pki "$T/base"
new_rows() { sqlite3 "$1/pkilab.db" "select count(*) from certs where name glob 'c[0-9]*'"; }
cc -shared -fPIC -O1 -o "$T/failpoint.so" "$TOP/tests/crash/failpoint.c" -ldl
sed 's/^);$/XX/' "$T/base.cfg" | awk '/^XX$/ { n++; print ");"; next } { print } END {
	print "certs = ( { name = \"c1\"; template = \"ipsec-gateway\"; issuer = \"ca\"; subject = \"CN=c1.test\"; san = [ \"c1.test\" ]; } );" }' >"$T/small.cfg"
rm -rf "$T/s" "$T/counts"; cp -a "$T/base" "$T/s"
FAILPOINT_COUNT=$T/counts LD_PRELOAD=$T/failpoint.so "$PKILAB" build "$T/small.cfg" --pki "$T/s" >/dev/null 2>&1
check "counting run" test -s "$T/counts"
small_done() { # pki: c1 present or not, consistent; re-run completes
	pki_consistent "$1" || return 1
	"$PKILAB" build "$T/small.cfg" --pki "$1" >"$T/.o" 2>"$T/.e" || { echo "re-run failed: $(cat "$T/.e")"; return 1; }
	[ "$(new_rows "$1")" = 1 ] || { echo "c1 missing after re-run"; return 1; }
	pki_consistent "$1" settled
}
while read -r step n; do
	k=1
	while [ "$k" -le "$n" ]; do
		rm -rf "$T/s"; cp -a "$T/base" "$T/s"
		FAILPOINT_STEP=$step FAILPOINT_N=$k FAILPOINT_ACTION=kill LD_PRELOAD=$T/failpoint.so \
			"$PKILAB" build "$T/small.cfg" --pki "$T/s" >/dev/null 2>&1
		check "crash at $step #$k of $n: consistent before recovery, re-run completes" small_done "$T/s"
		k=$((k + 1))
	done
done <"$T/counts"
finish
