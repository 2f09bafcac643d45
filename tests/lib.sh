# Shell test library, sourced by tests/tNNNN-*.sh. Its own variables start
# with _pkl_ (or are the documented T, OUT, ERR, RC, TOP, BUILD, PKILAB, CDPD).
#   . "$(dirname "$0")/lib.sh"
#   check "what is proven (its source)" <command...>   passes if the command exits 0
#   expect_rc N <command...>     runs it, asserts the exit code, output in $OUT / $ERR
#   finish                        prints the count and exits non-zero on any failure
# Every test gets a private temp dir $T removed at exit, and PATH-independent
# binaries $PKILAB and $CDPD.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
# shellcheck disable=SC2034 # PKILAB and CDPD are for the tests that source this file
PKILAB=$TOP/$BUILD/pkilab
# shellcheck disable=SC2034 # see above
CDPD=$TOP/$BUILD/pkilab-cdpd
export PKILAB_TEMPLATES="$TOP/templates"
T=$(mktemp -d "${TMPDIR:-/tmp}/pkl-test.XXXXXX")
_n=0 _failed=0
_cleanup_hooks=""
at_exit() { _cleanup_hooks="$_cleanup_hooks
$*"; }
_cleanup() { eval "$_cleanup_hooks" 2>/dev/null; rm -rf "$T"; }
trap _cleanup EXIT
trap 'exit 130' INT TERM

_report() { # status, description
  _n=$((_n + 1))
  if [ "$1" = 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
}

check() { # description, command...
  _pkl_desc=$1; shift
  if "$@" >"$T/.check.out" 2>&1; then _report 0 "$_pkl_desc"; else
    _report 1 "$_pkl_desc"; sed 's/^/#   /' "$T/.check.out" | tail -n 20; fi
}

# Runs a command capturing stdout in $OUT, stderr in $ERR and the status in $RC.
run() { "$@" >"$T/.out" 2>"$T/.err"; RC=$?; OUT=$(cat "$T/.out"); ERR=$(cat "$T/.err"); }

expect_rc() { # rc, description, command...
  _pkl_want=$1 _pkl_desc=$2; shift 2
  run "$@"
  if [ "$RC" = "$_pkl_want" ]; then _report 0 "$_pkl_desc"; else
    _report 1 "$_pkl_desc (exit $RC, wanted $_pkl_want)"; printf '%s\n%s\n' "$OUT" "$ERR" | sed 's/^/#   /' | tail -n 20; fi
}

contains() { case "$1" in *"$2"*) return 0 ;; esac; echo "expected to find: $2"; echo "in: $1" | head -c 2000; echo; return 1; }
not_contains() { case "$1" in *"$2"*) echo "did not expect: $2"; return 1 ;; esac; return 0; }
one_line() { [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ] || { echo "expected one line, got:"; echo "$1"; return 1; }; }
# A fingerprint of a directory tree (names, modes, contents) to prove "unchanged".
tree_sum() { [ -e "$1" ] || { echo absent; return; }; (cd "$1" && find . -printf '%p %m %s\n' | LC_ALL=C sort; find . -type f -exec sha256sum {} + | LC_ALL=C sort) | sha256sum | cut -d' ' -f1; }

# A free TCP port on 127.0.0.1, chosen by the kernel (tests run under dash,
# which has no /dev/tcp to probe with).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Every bounded wait in the tests is a generous bound on a failure, never a
# measure of success: it returns as soon as its condition holds, and a busy
# machine (make check-load runs the suite beside a CPU hog) only makes it
# wait longer. PKL_WAIT is that bound in seconds.
PKL_WAIT=${PKL_WAIT:-60}

# Polls a command every 0.1 s until it succeeds, for at most PKL_WAIT
# seconds; on a timeout the last attempt's output is shown.
until_ok() { # command...
  _pkl_end=$(($(date +%s) + PKL_WAIT))
  while :; do
    "$@" >"$T/.until.out" 2>&1 && return 0
    [ "$(date +%s)" -lt "$_pkl_end" ] || break
    sleep 0.1
  done
  echo "still failing after $PKL_WAIT s: $*"; tail -n 20 "$T/.until.out"; return 1
}

# Waits (bounded) until a URL answers.
wait_http() { until_ok curl -s -o /dev/null --max-time 5 "$1"; }

skip_all() { echo "# skip: $*"; echo "ok 1 - skipped: $*"; exit 0; }
finish() { echo "# $_n checks, $_failed failed"; [ "$_n" -gt 0 ] || { echo "no checks ran"; exit 1; }; [ "$_failed" -eq 0 ]; }
