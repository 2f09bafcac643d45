#!/bin/sh
# run-lab.sh — the `make run` main job: the whole pkilab workflow in one go.
#
#   1. builds examples/lab.cfg into a fresh PKI directory (out/pki),
#   2. starts two pkilab-cdpd instances on the lab's CDP addresses:
#      127.0.0.1:18081 serves the publish directory, 127.0.0.2:18082 mirrors it,
#   3. checks that both serve every CRL and CA certificate byte for byte,
#   4. runs `pkilab doctor` on every end-entity certificate (chain, EKU, SAN,
#      revocation over both CDPs...),
#   5. writes a picture of the hierarchy (`pkilab graph`, SVG when graphviz is
#      installed, else DOT),
#   6. prints a summary and stops the servers it started.
# Exit 0 only when every step passed; 1 when a check failed; 3 when something
# could not be run at all (missing binary, port in use).
#
# Environment:
#   BUILD=dir          build directory holding pkilab and pkilab-cdpd (build)
#   LAB=file           lab file (examples/lab.cfg)
#   OUT=dir            output directory (out/); the PKI is $OUT/pki, recreated
#   KEEP_RUNNING=1     leave both CDP servers running at the end (their PIDs and
#                      the command to stop them are printed)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
PKILAB=$BUILD/pkilab
CDPD=$BUILD/pkilab-cdpd
LAB=${LAB:-$TOP/examples/lab.cfg}
OUT=${OUT:-$TOP/out}
PKI=$OUT/pki
KEEP_RUNNING=${KEEP_RUNNING:-0}
PRIMARY=127.0.0.1:18081
MIRROR=127.0.0.2:18082
export PKILAB_TEMPLATES="${PKILAB_TEMPLATES:-$TOP/templates}"

passed=0 failed=0 skipped=0
results=""
pids=""
say() { printf '%s\n' "$*"; }
result() { # ok|FAIL|skip, text
  case "$1" in ok) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
  results="$results
  [$1] $2"
  printf '  [%s] %s\n' "$1" "$2"
}
die() { say "run-lab: error: $*" >&2; exit 3; }

stop_servers() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  pids=""
}
on_exit() { [ "$KEEP_RUNNING" = 1 ] || stop_servers; }
trap on_exit EXIT
trap 'exit 130' INT TERM HUP PIPE

[ -x "$PKILAB" ] || die "$PKILAB not found: run 'make' (or set BUILD=)"
[ -x "$CDPD" ] || die "$CDPD not found: run 'make' (or set BUILD=)"
[ -f "$LAB" ] || die "lab file $LAB not found"
command -v curl >/dev/null || die "curl is needed to check the CDP servers"

# A port that answers already belongs to someone else: never kill it, refuse.
for a in $PRIMARY $MIRROR; do
  curl -s -o /dev/null --max-time 1 "http://$a/" 2>/dev/null; rc=$?
  [ "$rc" = 7 ] || [ "$rc" = 28 ] || die "something already listens on $a (stop it, e.g. an earlier KEEP_RUNNING=1 run)"
done

# A fresh PKI directory; only ever delete one that pkilab made.
if [ -e "$PKI" ]; then
  [ -f "$PKI/pkilab.db" ] || die "$PKI exists and is not a pkilab PKI directory; not removing it"
  rm -rf "$PKI"
fi
mkdir -p "$OUT" || die "cannot create $OUT"

say "== pkilab example lab: $LAB -> $PKI"
if "$PKILAB" build "$LAB" --pki "$PKI" >"$OUT/build.log" 2>&1; then
  result ok "pkilab build: $(grep -c '^ *issued ' "$OUT/build.log") certificates issued (log: $OUT/build.log)"
else
  sed 's/^/   | /' "$OUT/build.log"
  result FAIL "pkilab build $(basename "$LAB")"
  say ""; say "build failed; nothing else to do."; exit 1
fi

# CA names are the ones with a published certificate; the rest are end entities.
cas=$(for f in "$PKI"/publish/aia/*.crt; do [ -f "$f" ] && basename "$f" .crt; done)
ees=""
for f in "$PKI"/certs/*.pem; do
  n=$(basename "$f" .pem)
  case "$n" in *-chain) continue ;; esac
  case " $(echo $cas) " in *" $n "*) continue ;; esac
  ees="$ees $n"
done

# Waits (bounded, 10 s) until URL serves exactly FILE.
serves() {
  for _ in $(seq 1 100); do
    curl -s --max-time 1 -o "$OUT/.fetch" "$1" && cmp -s "$OUT/.fetch" "$2" && return 0
    sleep 0.1
  done
  return 1
}
# Checks that the CDP at address $1 serves every CRL and CA certificate.
check_cdp() { # addr role
  ok=1
  for c in $cas; do
    serves "http://$1/crl/$c.crl" "$PKI/publish/crl/$c.crl" || { ok=0; say "   http://$1/crl/$c.crl: not served (or different) after 10 s"; }
    serves "http://$1/aia/$c.crt" "$PKI/publish/aia/$c.crt" || { ok=0; say "   http://$1/aia/$c.crt: not served (or different) after 10 s"; }
  done
  if [ $ok = 1 ]; then result ok "CDP $1 ($2) serves every CRL and CA certificate"
  else result FAIL "CDP $1 ($2): see $OUT/cdpd-$2.log"; tail -n 5 "$OUT/cdpd-$2.log" | sed 's/^/   | /'; fi
}

"$CDPD" --publish "$PKI/publish" --listen "$PRIMARY" >"$OUT/cdpd-primary.log" 2>&1 &
pids="$pids $!"; primary_pid=$!
check_cdp "$PRIMARY" primary
# The mirror starts once the primary answers: a mirror whose first pull
# fails waits a whole --mirror-interval before the next. 10 s (instead of
# the default 60 s) so that with KEEP_RUNNING=1 a new CRL (`pkilab crl`)
# reaches the mirror quickly.
trust=""
for c in $cas; do trust="$trust --trust $PKI/publish/aia/$c.crt"; done
# shellcheck disable=SC2086
"$CDPD" --mirror "http://$PRIMARY" $trust --mirror-interval 10s --listen "$MIRROR" >"$OUT/cdpd-mirror.log" 2>&1 &
pids="$pids $!"; mirror_pid=$!
check_cdp "$MIRROR" mirror
rm -f "$OUT/.fetch"

for n in $ees; do
  "$PKILAB" doctor --pki "$PKI" "$n" >"$OUT/doctor-$n.log" 2>&1; rc=$?
  if [ $rc = 0 ] && tail -n 1 "$OUT/doctor-$n.log" | grep -Eq ' 0 warnings'; then
    result ok "pkilab doctor $n"
  elif [ $rc = 0 ]; then
    # Warnings (a CDP mirror down, a platform caveat) are not "everything passed".
    grep '^!' "$OUT/doctor-$n.log" | sed 's/^/   | /' | cut -c1-160
    result FAIL "pkilab doctor $n: $(tail -n 1 "$OUT/doctor-$n.log") (report: $OUT/doctor-$n.log)"
  elif grep -q "not available in this build" "$OUT/doctor-$n.log"; then
    result skip "pkilab doctor $n: doctor is not in this build yet"
  else
    sed 's/^/   | /' "$OUT/doctor-$n.log" | tail -n 30
    result FAIL "pkilab doctor $n (exit $rc, full report in $OUT/doctor-$n.log)"
  fi
done

picture=""
if command -v dot >/dev/null; then picture=$OUT/hierarchy.svg; else picture=$OUT/hierarchy.dot; fi
if "$PKILAB" graph --pki "$PKI" --out "$picture" >"$OUT/graph.log" 2>&1; then
  result ok "pkilab graph -> $picture"
elif grep -q "not available in this build" "$OUT/graph.log"; then
  result skip "pkilab graph: not in this build yet"; picture=""
else
  sed 's/^/   | /' "$OUT/graph.log"; result FAIL "pkilab graph"; picture=""
fi

say ""
say "== summary"
say "issued:"
if "$PKILAB" list --pki "$PKI" >"$OUT/list.log" 2>&1; then sed 's/^/   /' "$OUT/list.log"
else for c in $cas; do say "   CA  $c   certs/$c.pem"; done; for n in $ees; do say "   EE  $n   certs/$n.pem  private/$n.key"; done; fi
say "CRLs served at (primary, mirror):"
for c in $cas; do say "   http://$PRIMARY/crl/$c.crl   http://$MIRROR/crl/$c.crl"; done
[ -n "$picture" ] && say "picture of the hierarchy: $picture"
if [ "$KEEP_RUNNING" = 1 ]; then
  say "servers left running: primary pid $primary_pid on $PRIMARY, mirror pid $mirror_pid on $MIRROR"
  say "stop them with: kill $primary_pid $mirror_pid"
fi
if [ $failed -gt 0 ]; then say "$failed of $((passed + failed)) checks FAILED:"; printf '%s\n' "$results" | grep FAIL; exit 1; fi
if [ $skipped -gt 0 ]; then say "all $passed checks passed ($skipped skipped: not in this build)"
else say "all $passed checks passed"; fi
exit 0
