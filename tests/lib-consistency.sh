# PKI consistency as the crash tests define it, checked WITHOUT running
# pkilab (so no recovery has happened yet), sourced after tests/lib.sh.
#
# The journal: pkilab writes every file to a temporary name ".<file>.tmp-*"
# beside its final name, commits the database rows together with the list of
# renames still to do (table `pending`, tmp -> final), then renames and clears
# the list. So, at any instant:
#   J1  every current certificate row has its private/<name>.key (builds
#       always generate the key), certs/<name>.pem and certs/<name>-chain.pem,
#       and every CA row (table cas) its publish/crl/<ca>.crl and
#       publish/aia/<ca>.crt -- each either in place, or still to be renamed:
#       a `pending` row names it as `final` and its `tmp` exists;
#   J2  every file of the layout (private/, certs/, publish/crl/, publish/aia/;
#       temporary ".*.tmp-*" files excepted) belongs to such a row: no key or
#       certificate the database does not know;
#   J3  certs/<name>.pem holds the DER the database recorded: the file in
#       place, or the pending temporary file that replaces it;
#   J4  temporary files not named by `pending` are allowed (an uncommitted
#       transaction's leftovers: the next open deletes them).
# After a completed build (settled): no `pending` rows, no temporary files,
# and J1-J3 hold.
#
#   pki_consistent DIR [settled]   prints the violations, returns non-zero on any

pki_consistent() {
	_p=$1 _settled=${2:-}
	_db=$_p/pkilab.db
	[ -f "$_db" ] || { echo "no database in $_p"; return 1; }
	_bad=0
	sqlite3 -separator '|' "$_db" "select tmp, final from pending" >"$T/.pend" || { echo "database unreadable"; return 1; }
	sqlite3 "$_db" "select name from certs where current = 1" >"$T/.names"
	sqlite3 "$_db" "select name from cas" >"$T/.cas"
	: >"$T/.expected"
	while read -r _cn; do
		printf '%s\n' "private/$_cn.key" "certs/$_cn.pem" "certs/$_cn-chain.pem" >>"$T/.expected"
	done <"$T/.names"
	while read -r _cn; do
		printf '%s\n' "publish/crl/$_cn.crl" "publish/aia/$_cn.crt" >>"$T/.expected"
	done <"$T/.cas"
	# J1
	while read -r _f; do
		[ -f "$_p/$_f" ] && continue
		_tmp=$(awk -F'|' -v f="/$_f" 'substr($2, length($2) - length(f) + 1) == f { print $1 }' "$T/.pend" | head -n 1)
		if [ -n "$_tmp" ] && [ -f "$_tmp" ]; then
			[ -n "$_settled" ] && { echo "J1: $_f still pending after a completed build"; _bad=1; }
			continue
		fi
		echo "J1: $_f is recorded in the database but neither in place nor pending"; _bad=1
	done <"$T/.expected"
	# J2
	(cd "$_p" && find private certs publish/crl publish/aia -type f ! -name '.*.tmp-*' 2>/dev/null) | LC_ALL=C sort >"$T/.present"
	LC_ALL=C sort -u "$T/.expected" >"$T/.expected.s"
	_unknown=$(LC_ALL=C comm -23 "$T/.present" "$T/.expected.s")
	[ -z "$_unknown" ] || { echo "J2: files the database does not know: $_unknown"; _bad=1; }
	# J3: the database writes every current certificate's DER in one query
	# (sqlite3 writefile), each PEM is base64-decoded and compared.
	rm -rf "$T/.der"; mkdir -p "$T/.der"
	sqlite3 "$_db" "select writefile('$T/.der/' || name || '.der', der) from certs where current = 1" >/dev/null
	# A file a pending rename replaces (a re-issued or renewed certificate)
	# is judged by what will be in place: the pending temporary file.
	while read -r _cn; do
		_pem=$_p/certs/$_cn.pem
		_tmp=$(awk -F'|' -v f="/certs/$_cn.pem" 'substr($2, length($2) - length(f) + 1) == f { print $1 }' "$T/.pend" | head -n 1)
		[ -n "$_tmp" ] && [ -f "$_tmp" ] && _pem=$_tmp
		[ -f "$_pem" ] || continue
		sed '/^-----/d' "$_pem" | base64 -d 2>/dev/null | cmp -s - "$T/.der/$_cn.der" ||
			{ echo "J3: certs/$_cn.pem differs from the database's certificate"; _bad=1; }
	done <"$T/.names"
	if [ -n "$_settled" ]; then
		[ -s "$T/.pend" ] && { echo "settled: pending rows left: $(cat "$T/.pend")"; _bad=1; }
		_tmps=$(find "$_p" -name '.*.tmp-*')
		[ -z "$_tmps" ] || { echo "settled: temporary files left: $_tmps"; _bad=1; }
	fi
	return $_bad
}
