#!/bin/sh
# Runs the libFuzzer harnesses that `make fuzz` built into $BUILD/fuzz/
# (default build-fuzz): each $BUILD/fuzz/fuzz_<name> for a fixed number of
# inputs (-runs and -seed=1, so a run does the same work however busy the
# machine is) from a copy of its seed corpus tests/fuzz/corpus/<name>/.
# The numbers below give each harness about 10 s on an idle core (the lab
# loader writes a file and reads templates per input, so it runs ~100/s);
# FUZZ_RUNS=N sets one number for all.
# Harnesses: fuzz_lab (lab loader), fuzz_route (the CDP server's router,
# HTTP dates, If-None-Match), fuzz_crl (CRL parsing and verification).
# `run.sh --probe` exits 0 when clang can link a libFuzzer harness, else
# prints why fuzzing is skipped and exits 1 (Debian: libclang-rt-14-dev).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/${BUILD:-build-fuzz}/fuzz

if [ "${1:-}" = --probe ]; then
  probe=$(mktemp -d)
  trap 'rm -rf "$probe"' EXIT
  echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}' >"$probe/p.c"
  if clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    exit 0
  fi
  echo "fuzz: skipped: clang with libFuzzer is not available (install clang and libclang-rt-14-dev)"
  exit 1
fi

export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export PKILAB_TEMPLATES="$top/templates"
fail=0 ran=0
for h in "$top"/tests/fuzz/fuzz_*.c; do
  [ -f "$h" ] || continue
  name=$(basename "$h" .c); name=${name#fuzz_}
  if [ ! -x "$out/fuzz_$name" ]; then
    echo "fuzz: $name: not built (run make fuzz)"; fail=1; continue
  fi
  case $name in
    lab) runs=1000 ;;
    *) runs=100000 ;;
  esac
  runs=${FUZZ_RUNS:-$runs}
  corpus=$out/corpus-$name; rm -rf "$corpus"; mkdir -p "$corpus"
  [ -d "$top/tests/fuzz/corpus/$name" ] && cp "$top/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
  if (cd "$out" && "./fuzz_$name" -runs="$runs" -seed=1 -max_len=8192 -timeout=10 "$corpus" >"$out/$name.log" 2>&1); then
    echo "fuzz: $name: ok ($(grep -o 'Done [0-9]* runs' "$out/$name.log"))"; ran=$((ran + 1))
  else
    echo "fuzz: $name: FAILED"; grep -E "ERROR|SUMMARY|Test unit written" "$out/$name.log" | head -5; fail=1
  fi
done
echo "fuzz: $ran harness(es) passed"
[ "$fail" -eq 0 ]
