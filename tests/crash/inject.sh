# Sourced by t2005 (fresh) and t2006 (converge) after tests/lib.sh.
# Failure injection for the crash tests: a failure injected at every write step of a
# build leaves the PKI exactly as it was, and a re-run completes (a build
# that fails for any reason leaves the PKI directory exactly as it was).
#
# A test-only LD_PRELOAD shim (tests/crash/failpoint.c, compiled here with cc)
# counts the calls of each write step of a successful build -- write (fds > 2),
# pwrite, fsync, fdatasync, syncfs, rename, mkdir, mkdtemp, ftruncate: every
# way the build and SQLite touch the disk -- then the build is run once per
# call with exactly that call failing (EIO, ENOSPC for writes). For each run:
#   - exit status 0 (a failure the build may tolerate, e.g. a directory
#     fsync) and the PKI complete and consistent; or exit status 3 with one
#     error line, and the directory holding the PKI byte-for-byte as before
#     (fresh: no PKI and no staging directory; converging: tree_sum equal);
#   - then a plain re-run exits 0 and leaves a complete PKI, consistent as
#     tests/lib-consistency.sh defines it (settled: no journal left).
# Three scenarios: a fresh build; a fresh build into an existing EMPTY
# directory (mode 0750: it must still be there, with its mode, after a
# failure; only the syncfs and rename steps); and converging an existing PKI
# (adding one leaf). Set PKL_CRASH_STEPS="rename mkdir" to run a subset of the steps, and
# PKL_CRASH_SCENARIOS (t2006 runs the converging scenario through this file).
. "$TOP/tests/lib-consistency.sh"

[ -n "${PKL_SANITIZED:-}" ] && skip_all "LD_PRELOAD interposition does not mix with ASan"
command -v cc >/dev/null || skip_all "no C compiler"
cc -shared -fPIC -O1 -o "$T/failpoint.so" "$TOP/tests/crash/failpoint.c" -ldl || { echo "cannot build the shim"; exit 1; }

cat >"$T/lab1.cfg" <<'EOF2'
lab = { name = "crash"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = ( { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=Crash Root"; } );
certs = ( { name = "gw"; template = "ipsec-gateway"; issuer = "root"; subject = "CN=gw.test"; san = [ "gw.test" ]; } );
EOF2
sed 's/^certs = ( \(.*\) );$/certs = ( \1, { name = "gw2"; template = "ipsec-client"; issuer = "root"; subject = "CN=gw2.test"; san = [ "gw2.test" ]; } );/' \
	"$T/lab1.cfg" >"$T/lab2.cfg"
grep -q gw2 "$T/lab2.cfg" || { echo "lab2 not made"; exit 1; }
expect_rc 0 "the base PKI for the converging scenario builds" "$PKILAB" build "$T/lab1.cfg" --pki "$T/base"

pki_complete() { # pki, names...: every entity present and the PKI settled
	_p=$1; shift
	for _e in "$@"; do
		[ "$(sqlite3 "$_p/pkilab.db" "select count(*) from certs where current = 1 and name = '$_e'")" = 1 ] ||
			{ echo "$_e missing"; return 1; }
	done
	pki_consistent "$_p" settled
}

# One injected run: scenario, step, n.
inject_one() {
	_sc=$1 _st=$2 _k=$3
	rm -rf "$T/w"; mkdir "$T/w"
	if [ "$_sc" = fresh-empty ]; then _lab=$T/lab1.cfg; _names="root gw"; mkdir -m 0750 "$T/w/pki"
	elif [ "$_sc" = fresh ]; then _lab=$T/lab1.cfg; _names="root gw"; else
		_lab=$T/lab2.cfg; _names="root gw gw2"; cp -a "$T/base" "$T/w/pki"; fi
	_before=$(tree_sum "$T/w")
	FAILPOINT_STEP=$_st FAILPOINT_N=$_k LD_PRELOAD=$T/failpoint.so "$PKILAB" build "$_lab" --pki "$T/w/pki" >"$T/.o" 2>"$T/.e"
	_rc=$?
	if [ "$_rc" = 0 ]; then
		echo "tolerated (exit 0)"
		pki_complete "$T/w/pki" $_names || return 1
	else
		[ "$_rc" = 3 ] || { echo "exit $_rc, wanted 3 (runtime failure): $(cat "$T/.e")"; return 1; }
		[ "$(wc -l <"$T/.e")" = 1 ] && grep -q '^pkilab: error: ' "$T/.e" || { echo "not one error line:"; cat "$T/.e"; return 1; }
		[ "$_before" = "$(tree_sum "$T/w")" ] || {
			echo "changed after: $(cat "$T/.e")"
			[ -d "$T/w/pki" ] && { pki_consistent "$T/w/pki" && echo "(consistent by the journal, but not as it was)"; \
				echo "pending: $(sqlite3 "$T/w/pki/pkilab.db" "select count(*) from pending") rows"; }
			return 1
		}
	fi
	"$PKILAB" build "$_lab" --pki "$T/w/pki" >"$T/.o" 2>"$T/.e" || { echo "re-run failed: $(cat "$T/.e")"; return 1; }
	pki_complete "$T/w/pki" $_names
}

for sc in ${PKL_CRASH_SCENARIOS:-fresh converge}; do
	rm -rf "$T/w" "$T/counts"; mkdir "$T/w"
	if [ "$sc" = fresh-empty ]; then lab=$T/lab1.cfg; mkdir -m 0750 "$T/w/pki"
	elif [ "$sc" = fresh ]; then lab=$T/lab1.cfg; else lab=$T/lab2.cfg; cp -a "$T/base" "$T/w/pki"; fi
	FAILPOINT_COUNT=$T/counts LD_PRELOAD=$T/failpoint.so "$PKILAB" build "$lab" --pki "$T/w/pki" >/dev/null 2>&1
	check "$sc: counting run succeeds and counts write steps" test -s "$T/counts"
	total=0
	while read -r step n; do
		steps=${PKL_CRASH_STEPS:-$step}
		# An existing empty PKI directory: the steps after the placeholder is made.
		[ "$sc" = fresh-empty ] && steps=${PKL_CRASH_STEPS:-"syncfs rename"}
		case " $steps " in *" $step "*) ;; *) continue ;; esac
		k=1
		while [ "$k" -le "$n" ]; do
			check "$sc: $step #$k of $n fails -> PKI as before (or complete), re-run completes" inject_one "$sc" "$step" "$k"
			k=$((k + 1)); total=$((total + 1))
		done
	done <"$T/counts"
	if [ "$sc" = fresh-empty ]; then check "$sc: both publication steps (the syncfs and the directory rename) were injected" test "$total" -ge 2
	else check "$sc: at least 20 write steps were injected" test "$total" -ge 20; fi
done
finish
