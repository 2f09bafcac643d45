#!/bin/sh
# Builds every tests/fuzz/fuzz_<name>.c as a libFuzzer harness (clang,
# -fsanitize=fuzzer,address,undefined) over the library and server sources,
# and runs each for FUZZ_SECONDS (default 20) from a copy of its seed corpus
# tests/fuzz/corpus/<name>/. Called by `make check`. Exits 0 with a message
# when clang's libFuzzer runtime is not installed (Debian: libclang-rt-14-dev).
# Harnesses: fuzz_lab (lab loader), fuzz_route (the CDP server's router,
# HTTP dates, If-None-Match), fuzz_crl (CRL parsing and verification).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-${PKL_FUZZ_SECONDS:-20}}
out=$top/${BUILD:-build-san}/fuzz
mkdir -p "$out"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export PKILAB_TEMPLATES="$top/templates"
version=$(sed -n '1{s/^pkilab [(]//;s/[)].*//;p;}' "$top/debian/changelog")
vdef="-DPKL_VERSION=\"$version\"" # one word: the quotes reach the compiler
cflags="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -I$top/ca/include -I$top/cdp-server"
libs="$(pkg-config --libs libssl libcrypto libmicrohttpd libconfig sqlite3 libcurl jansson) -lpthread"
srcs="$(ls "$top"/ca/lib/*.c) $(ls "$top"/cdp-server/*.c 2>/dev/null | grep -v '/main\.c$')"

probe=$out/probe.c
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}' > "$probe"
if ! clang -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
  echo "fuzz: skipped: clang with libFuzzer is not available (install clang and libclang-rt-14-dev)"; exit 0
fi
fail=0 ran=0
for h in "$top"/tests/fuzz/fuzz_*.c; do
  [ -f "$h" ] || continue
  name=$(basename "$h" .c); name=${name#fuzz_}
  # shellcheck disable=SC2086
  if ! clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all "$vdef" $cflags "$h" $srcs -o "$out/fuzz_$name" $libs 2>"$out/$name.build.log"; then
    echo "fuzz: $name: build failed"; tail -5 "$out/$name.build.log"; fail=1; continue
  fi
  corpus=$out/corpus-$name; rm -rf "$corpus"; mkdir -p "$corpus"
  [ -d "$top/tests/fuzz/corpus/$name" ] && cp "$top/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
  if (cd "$out" && timeout $((secs + 60)) "./fuzz_$name" -max_total_time="$secs" -max_len=8192 -timeout=10 "$corpus" >"$out/$name.log" 2>&1); then
    echo "fuzz: $name: ok ($(grep -o 'Done [0-9]* runs' "$out/$name.log"))"; ran=$((ran + 1))
  else
    echo "fuzz: $name: FAILED"; grep -E "ERROR|SUMMARY|Test unit written" "$out/$name.log" | head -5; fail=1
  fi
done
echo "fuzz: $ran harness(es) passed"
[ "$fail" -eq 0 ]
