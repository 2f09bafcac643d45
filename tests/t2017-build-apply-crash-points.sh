#!/bin/sh
# t2017-build-apply-crash-points: `pkilab build --apply --revoke-orphans` is
# one transaction (README "Drift"): it re-issues a changed certificate,
# revokes the one it replaces and an orphan, and re-signs the CA's CRL. A
# crash (SIGKILL) exactly at each write step -- tests/crash/failpoint.c with
# FAILPOINT_ACTION=kill at the n-th write/pwrite/fsync/fdatasync/syncfs/
# rename/mkdir/ftruncate, for every n of a counted run -- leaves:
#   - the database and the files consistent before any recovery
#     (tests/lib-consistency.sh);
#   - after recovery (the next pkilab command), the PKI either as before (gw's
#     old certificate current, nothing revoked, the old CRL) or as after (a
#     new gw, the old one and the orphan revoked in pkilab.db AND listed in
#     the CRL in publish/), never between;
#   - and a re-run that completes, after which the PKI is as after.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-consistency.sh"
[ -n "${PKL_SANITIZED:-}" ] && skip_all "LD_PRELOAD interposition does not mix with ASan"
command -v cc >/dev/null || skip_all "no C compiler"

cat >"$T/base.cfg" <<'EOF2'
lab = { name = "apply-points"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=Apply Points Root"; },
  { name = "ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256"; subject = "CN=Apply Points CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "ca"; subject = "CN=gw.test"; san = [ "gw.test", "192.0.2.10" ]; },
  { name = "old"; template = "ipsec-client"; issuer = "ca"; subject = "CN=old.test"; san = [ "old.test" ]; }
);
EOF2
# The lab as changed: gw's SAN, and `old` removed.
sed 's/192.0.2.10/192.0.2.99/; /name = "old"/d; s/192.0.2.99" \]; },/192.0.2.99" ]; }/' "$T/base.cfg" >"$T/new.cfg"
check "the changed lab loads" sh -c '"$1" build "$2" --pki "$3/none" --dry-run >/dev/null' _ "$PKILAB" "$T/new.cfg" "$T"
expect_rc 0 "base PKI builds" "$PKILAB" build "$T/base.cfg" --pki "$T/base"
gw_old=$(sqlite3 "$T/base/pkilab.db" "select serial from certs where name = 'gw'")
old=$(sqlite3 "$T/base/pkilab.db" "select serial from certs where name = 'old'")
cc -shared -fPIC -O1 -o "$T/failpoint.so" "$TOP/tests/crash/failpoint.c" -ldl

# The CRL's entries as "serial:reason" lines, upper-case hex.
crl_entries() {
	openssl crl -inform DER -in "$1/publish/crl/ca.crl" -noout -text |
		awk '/Serial Number:/ { s = $3 } /CRL Reason Code/ { getline; sub(/^ +/, ""); print s ":" $0 }' | LC_ALL=C sort
}
U() { echo "$1" | tr a-f A-F; }
after_crl=$(printf '%s\n' "$(U "$gw_old"):Superseded" "$(U "$old"):Cessation Of Operation" | LC_ALL=C sort)
state() { # pki -> before | after | "between: ..."
	_gw=$(sqlite3 "$1/pkilab.db" "select serial from certs where name = 'gw' and current = 1")
	_rev=$(sqlite3 "$1/pkilab.db" "select serial || ':' || reason from certs where status = 1 order by serial" | tr '\n' ' ')
	_crl=$(crl_entries "$1")
	if [ "$_gw" = "$gw_old" ] && [ -z "$_rev" ] && [ -z "$_crl" ]; then
		echo before
	elif [ "$_gw" != "$gw_old" ] && [ "$_crl" = "$after_crl" ] &&
		[ "$_rev" = "$(printf '%s\n' "$gw_old:4" "$old:5" | LC_ALL=C sort | tr '\n' ' ')" ] &&
		openssl x509 -in "$1/certs/gw.pem" -noout -ext subjectAltName | grep -q 192.0.2.99; then
		echo after
	else
		echo "between: gw $_gw, revoked in db: $_rev, in the CRL: $(echo "$_crl" | tr '\n' ' ')"
	fi
}

rm -rf "$T/s" "$T/counts"; cp -a "$T/base" "$T/s"
FAILPOINT_COUNT=$T/counts LD_PRELOAD=$T/failpoint.so "$PKILAB" build "$T/new.cfg" --pki "$T/s" --apply --revoke-orphans >/dev/null 2>&1
check "counting run" test -s "$T/counts"
check "the counting run applied it" test "$(state "$T/s")" = after

point_ok() { # pki
	pki_consistent "$1" || return 1
	"$PKILAB" list --pki "$1" >/dev/null 2>"$T/.e" || { echo "list (recovery) failed: $(cat "$T/.e")"; return 1; }
	_st=$(state "$1")
	case $_st in before | after) ;; *) echo "$_st"; return 1 ;; esac
	"$PKILAB" build "$T/new.cfg" --pki "$1" --apply --revoke-orphans >"$T/.o" 2>"$T/.e" || { echo "re-run failed: $(cat "$T/.e")"; return 1; }
	_st=$(state "$1")
	[ "$_st" = after ] || { echo "after the re-run: $_st"; return 1; }
	pki_consistent "$1" settled
}
total=0
while read -r step n; do
	k=1
	while [ "$k" -le "$n" ]; do
		rm -rf "$T/s"; cp -a "$T/base" "$T/s"
		FAILPOINT_STEP=$step FAILPOINT_N=$k FAILPOINT_ACTION=kill LD_PRELOAD=$T/failpoint.so \
			"$PKILAB" build "$T/new.cfg" --pki "$T/s" --apply --revoke-orphans >/dev/null 2>&1
		check "crash at $step #$k of $n: consistent, before or after, re-run completes" point_ok "$T/s"
		total=$((total + 1))
		k=$((k + 1))
	done
done <"$T/counts"
echo "# $total crash points"
check "more than 20 crash points were tried" test "$total" -gt 20
finish
