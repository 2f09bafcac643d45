#!/bin/sh
# Runs every unit test program ($BUILD/tests/test_*) and every shell test
# (tests/tNNNN-*.sh), then prints "N passed, N failed".
#   PKL_TESTS=globs only the shell tests whose file name matches one of the
#                   space-separated globs (e.g. 't6*' or 't6* t7*')
#   PKL_UNIT=0      skip unit tests
#   PKL_LOAD=N      run them beside a CPU hog, `stress-ng --cpu N` (make
#                   check-load): no test may depend on how busy the machine
#                   is; the hog is stopped when the run ends
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
export BUILD
pass=0 fail=0 failed=""
# Sanitizer settings for `make check` (harmless otherwise).
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
log=$top/$BUILD/test-logs
rm -rf "$log"; mkdir -p "$log"

if [ "${PKL_LOAD:-0}" != 0 ]; then
  command -v stress-ng >/dev/null ||
    { echo "run.sh: PKL_LOAD needs stress-ng (scripts/install-deps.sh installs it)" >&2; exit 1; }
  # --timeout bounds the hog even if this script is killed before its trap runs.
  stress-ng --cpu "$PKL_LOAD" --timeout 3h --quiet >/dev/null 2>&1 &
  hog=$!
  trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
  trap 'exit 130' INT TERM HUP
  echo "# under load: stress-ng --cpu $PKL_LOAD (pid $hog) runs beside every test"
fi

run_one() { # name, command...
  name=$1; shift
  start=$(date +%s)
  if "$@" >"$log/$name.log" 2>&1; then
    pass=$((pass + 1)); r=ok
  else
    fail=$((fail + 1)); r=FAIL; failed="$failed $name"
  fi
  printf '%-4s %-48s %ss\n' "$r" "$name" "$(( $(date +%s) - start ))"
  [ "$r" = FAIL ] && sed 's/^/    | /' "$log/$name.log" | tail -n 40
  return 0
}

if [ "${PKL_UNIT:-1}" != 0 ]; then
  for t in "$top/$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
  done
fi
for t in "$top"/tests/t[0-9][0-9][0-9][0-9]-*.sh; do
  [ -f "$t" ] || continue
  b=$(basename "$t" .sh)
  want=0
  set -f # the globs are matched against names here, not expanded as files
  for g in ${PKL_TESTS:-*}; do
    # shellcheck disable=SC2254 # each word of PKL_TESTS is a glob on purpose
    case "$b" in $g) want=1 ;; esac
  done
  set +f
  [ "$want" = 1 ] || continue
  run_one "$b" timeout 900 sh "$t"
done
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
