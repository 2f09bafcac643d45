#!/bin/sh
# t2001-build-validators: every certificate `pkilab build` makes from the
# shipped example labs passes three independent validators and carries the
# profile of docs/profile.md.
#
# Labs: every examples/*.cfg, and every examples/broken/*/*.cfg (broken on
# purpose: those must build, but are only checked for structure, since their
# chains are meant to fail validation). A broken lab whose directory has a
# file named NOT-BUILDABLE is skipped. Each lab is built into a private PKI
# directory (--pki), never into examples/.
#   validators: openssl verify -x509_strict -purpose sslserver|sslclient
#               -CAfile root -untrusted chain; certtool --verify-chain;
#               strongSwan pki --verify ("certificate trusted")
#   profile:    tests/lib-certcheck.sh profile_all (the RFC section or
#               docs/profile.md in every check title)
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-certcheck.sh"

# The lab's CDP bases and layout, read from the lab file with libconfig's
# own syntax kept simple: the examples write them on one line each.
lab_bases() { sed -n 's/^ *cdp *= *\[\(.*\)\];.*/\1/p' "$1" | head -n 1 | tr ',' '\n' | sed 's/[" ]//g; s:/*$::' | grep . ; }
lab_layout() { if grep -q 'cdp_layout *= *"point-per-uri"' "$1"; then echo point-per-uri; else echo one-point; fi; }

n_labs=0
for lab in "$TOP"/examples/*.cfg "$TOP"/examples/broken/*/*.cfg; do
	[ -f "$lab" ] || continue
	case "$lab" in */broken/*) broken=1 ;; *) broken=0 ;; esac
	[ -e "$(dirname "$lab")/NOT-BUILDABLE" ] && { echo "# skip $lab: NOT-BUILDABLE"; continue; }
	rel=${lab#"$TOP"/}
	pki=$T/pki-$(echo "$rel" | tr '/.' '__')
	expect_rc 0 "$rel: pkilab build exits 0" "$PKILAB" build "$lab" --pki "$pki"
	[ "$RC" = 0 ] || continue
	n_labs=$((n_labs + 1))
	check "$rel: build reports what it issued" contains "$OUT" "issued"
	# Every entry of the lab is in the PKI: none silently dropped.
	want=$(grep -c '{ *name *= *"' "$lab")
	check "$rel: all $want entries of the lab were issued" \
		test "$(sqlite3 "$pki/pkilab.db" 'select count(*) from certs where current = 1')" = "$want"
	[ "$broken" = 0 ] && verify_all "$pki" "$rel"
	# shellcheck disable=SC2046 # split on purpose: lab_bases prints one CDP base per line, one argument each
	profile_all "$pki" "$lab" "$(lab_layout "$lab")" $(lab_bases "$lab")
done
check "at least the three labs of this test's own examples were built" test "$n_labs" -ge 3
finish
