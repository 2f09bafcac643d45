#!/bin/sh
# scripts/run-lab.sh, the `make run` main job: builds examples/lab.cfg, serves
# it from two pkilab-cdpd instances (primary + mirror) on the lab's loopback
# CDP addresses, runs doctor on every end entity, draws the hierarchy, and
# cleans up. It runs in a private network namespace, so the fixed addresses
# 127.0.0.1:18081 and 127.0.0.2:18082 never meet anything else on the host.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root for a private network namespace (fixed ports 18081/18082)"
NS=pkl9-$$-run
ip netns add "$NS" 2>/dev/null || skip_all "network namespaces are not available"
at_exit 'for p in $(ip netns pids '"$NS"' 2>/dev/null); do kill -9 $p; done; ip netns del '"$NS"
ip -n "$NS" link set lo up
trap 'exit 129' HUP   # a killed test still runs its at_exit clean-up
trap 'exit 141' PIPE
inns() { ip netns exec "$NS" "$@"; }
runlab() { inns env BUILD="$BUILD" OUT="$T/out" "$@" timeout 300 sh "$TOP/scripts/run-lab.sh"; }

expect_rc 0 "run-lab.sh exits 0" runlab
check "every check passed" contains "$OUT" "checks passed"
check "no check failed" not_contains "$OUT" "[FAIL]"
check "it built the lab into a fresh PKI directory" test -f "$T/out/pki/certs/gw.pem"
check "summary: what was issued" contains "$OUT" "vpn-ca"
check "summary: where CRLs are served (primary)" contains "$OUT" "http://127.0.0.1:18081/crl/vpn-ca.crl"
check "summary: where CRLs are served (mirror)" contains "$OUT" "http://127.0.0.2:18082/crl/vpn-ca.crl"
check "doctor ran on the gateway and passed" contains "$OUT" "[ok] pkilab doctor gw"
check "doctor ran on both clients" sh -c 'case "$1" in *"[ok] pkilab doctor alice"*"[ok] pkilab doctor bob"*) ;; *) exit 1;; esac' x "$OUT"
check "both CDPs served every CRL byte for byte" contains "$OUT" "127.0.0.2:18082 (mirror) serves every CRL"
check "a picture of the hierarchy (SVG)" sh -c "grep -q '</svg>' '$T/out/hierarchy.svg'"
# (dot writes '-' as &#45; in SVG text)
check "the picture names every certificate" sh -c "for n in 'root (root CA)' 'ca (intermediate CA)' 'gw (leaf)' 'alice (leaf)' 'bob (leaf)'; do grep -qF \"\$n\" '$T/out/hierarchy.svg' || exit 1; done"
check "the certificates are what openssl verifies" \
  openssl verify -CAfile "$T/out/pki/certs/root.pem" -untrusted "$T/out/pki/certs/vpn-ca.pem" "$T/out/pki/certs/gw.pem"
check "servers stopped afterwards (no process left in the namespace)" test -z "$(ip netns pids "$NS")"

# KEEP_RUNNING=1 leaves both servers up; a second run refuses the busy ports.
expect_rc 0 "KEEP_RUNNING=1 run exits 0" runlab KEEP_RUNNING=1
check "it says how to stop them" contains "$OUT" "stop them with: kill"
check "primary still serves" inns curl -sf --max-time 20 -o /dev/null http://127.0.0.1:18081/crl/vpn-ca.crl
check "mirror still serves" inns curl -sf --max-time 20 -o /dev/null http://127.0.0.2:18082/crl/vpn-ca.crl
PIDS=$(printf '%s\n' "$OUT" | sed -n 's/.*stop them with: kill //p')
expect_rc 3 "a run while the ports are taken refuses (exit 3)" runlab
check "and says why" contains "$ERR" "already listens on 127.0.0.1:18081"
check "without touching the running servers" inns curl -sf --max-time 20 -o /dev/null http://127.0.0.1:18081/crl/vpn-ca.crl
# shellcheck disable=SC2086
kill $PIDS 2>/dev/null
until_ok sh -c '[ -z "$(ip netns pids "$1")" ]' _ "$NS"

# A lab whose second CDP nobody serves: doctor finds it, the run exits 1.
sed 's|http://127.0.0.2:18082|http://127.0.0.3:18082|' "$TOP/examples/lab.cfg" >"$T/lost.cfg"
expect_rc 1 "a CDP that is not served makes the run fail (exit 1)" runlab LAB="$T/lost.cfg"
check "doctor's finding is reported (redundancy lost)" contains "$OUT" "crl.redundancy_lost"
check "as a failed check" contains "$OUT" "[FAIL] pkilab doctor gw"
check "the summary counts it" contains "$OUT" "FAILED"
check "servers stopped after a failed run too" test -z "$(ip netns pids "$NS")"

# Never deletes a directory pkilab did not make.
mkdir -p "$T/other/pki"; echo precious >"$T/other/pki/file"
expect_rc 3 "refuses to replace a non-PKI directory" inns env BUILD="$BUILD" OUT="$T/other" timeout 300 sh "$TOP/scripts/run-lab.sh"
check "which is left alone" test -f "$T/other/pki/file"
finish
