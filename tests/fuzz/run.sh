#!/bin/sh
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang
# -fsanitize=fuzzer,address,undefined, compiling the sources they exercise
# directly so coverage instrumentation reaches them, and runs each for a
# bounded time (PKL_FUZZ_SECONDS, default 20). Called by `make check`.
# Exits 0 with a skip message when clang's libFuzzer is not installed
# (Debian: libclang-rt-14-dev / clang).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
secs=${PKL_FUZZ_SECONDS:-20}
out=$top/$BUILD/fuzz
mkdir -p "$out"
cd "$top" || exit 1

CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz: skipped: $CC not installed"; exit 0
fi
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$out/probe.c"
if ! "$CC" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" >/dev/null 2>&1; then
  echo "fuzz: skipped: $CC has no libFuzzer (install libclang-rt-14-dev)"; exit 0
fi

FLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED
  -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -Ica/include -Icdp-server $(pkg-config --cflags libssl libcrypto 2>/dev/null)"
LIBS="$(pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)"
# What a harness does not compile itself (helpers the code under test calls)
# comes from the build's library; the sources under test are compiled here so
# that libFuzzer's coverage instrumentation reaches them.
LIBPKL=$top/$BUILD/libpkilab.a
if [ ! -f "$LIBPKL" ]; then
  echo "fuzz: $LIBPKL not built (make all BUILD=$BUILD): building it"
  make -C "$top" BUILD="$BUILD" "$BUILD/libpkilab.a" >/dev/null || { echo "fuzz: cannot build $LIBPKL"; exit 1; }
fi
ALL_LIBS="$LIBPKL $(pkg-config --libs libssl libcrypto libmicrohttpd libconfig sqlite3 libcurl jansson 2>/dev/null) -lpthread"

rc=0
build() { # name sources...
  _n=$1; shift
  # shellcheck disable=SC2086
  if ! $CC $FLAGS "$@" -o "$out/$_n" $LIBS 2>"$out/$_n.build.log"; then
    echo "fuzz: $_n: build failed"; sed 's/^/    /' "$out/$_n.build.log" | tail -n 20; rc=1; return 1
  fi
}
run() { # name corpus-dir
  _n=$1; _c=$2
  mkdir -p "$_c"
  if "$out/$_n" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$out/$_n-" "$_c" >"$out/$_n.log" 2>&1; then
    echo "fuzz: $_n: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$_n.log" | grep -o '[0-9]*$') runs in ${secs}s)"
  else
    echo "fuzz: $_n: FAILED (artifact in $out)"; tail -n 30 "$out/$_n.log" | sed 's/^/    /'; rc=1
  fi
}

# Seeds: real routes and hostile paths; a real CRL (when openssl is there).
mkdir -p "$out/corpus-route" "$out/corpus-crl"
i=0
for s in /crl/root.crl /aia/vpn-ca.crt /healthz /metrics / /crl/../x.crl /crl/%2e%2e.crl \
         '"abc", W/"def"' 'Sun, 06 Nov 1994 08:49:37 GMT'; do
  i=$((i + 1)); printf '%s' "$s" >"$out/corpus-route/seed$i"
done
if command -v openssl >/dev/null 2>&1 && [ ! -s "$out/corpus-crl/seed-crl" ]; then
  d=$(mktemp -d); (
    cd "$d" && mkdir new && : >index.txt && echo 01 >crlnumber &&
    printf '[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=7\ncrl_extensions=e\n[e]\nauthorityKeyIdentifier=keyid:always\n' >ca.cnf &&
    openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -subj /CN=root -out c.pem 2>/dev/null &&
    openssl ca -config ca.cnf -gencrl -keyfile k.pem -cert c.pem -out crl.pem 2>/dev/null &&
    openssl crl -in crl.pem -outform DER -out "$out/corpus-crl/seed-crl" ) >/dev/null 2>&1
  rm -rf "$d"
fi

build fuzz_route tests/fuzz/fuzz_route.c cdp-server/routes.c && run fuzz_route "$out/corpus-route"
LIBS=$ALL_LIBS
build fuzz_crl tests/fuzz/fuzz_crl.c ca/lib/crlcheck.c && run fuzz_crl "$out/corpus-crl"
exit $rc
