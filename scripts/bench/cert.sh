#!/bin/sh
# Certificate issuance in process: pkl_cert_issue for P-256 leaves (keys
# generated beforehand) against, in the same run, a bare ECDSA P-256
# signature of a certificate-sized buffer (certrate.c, linked with
# $BUILD/libpkilab.a). Prints leaves/s of CPU time and their ratio: what
# issuance costs beyond its one signature. This measurement was a timed
# assertion in tests/unit/test_cert.c; a unit test must not depend on how
# fast or busy the machine is, so it lives here as a ratio.
#   BUILD=dir       build directory (default build)
#   BENCH_CERT=1000 leaves
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
LIB=$top/$BUILD/libpkilab.a
N=${BENCH_CERT:-1000}

[ -f "$LIB" ] || { echo "build first: make all BUILD=$BUILD"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/pkl-bench-cert.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
CFLAGS_B="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -O2"
# shellcheck disable=SC2046,SC2086
cc $CFLAGS_B -I"$top/ca/include" -o "$W/certrate" "$top/scripts/bench/certrate.c" "$LIB" \
	$(pkg-config --libs libssl libcrypto libconfig sqlite3 libcurl jansson) -lpthread || exit 1
out=$("$W/certrate" "$N") || exit 1
is=$(echo "$out" | sed -n 's/.*issue_per_s=\([0-9.]*\).*/\1/p')
ss=$(echo "$out" | sed -n 's/.*sign_per_s=\([0-9.]*\).*/\1/p')
ra=$(echo "$out" | sed -n 's/.*ratio=\([0-9.]*\).*/\1/p')
echo "pkl_cert_issue, P-256 leaves ($N, CPU time of one thread):"
echo "  issued:              $is leaves/s"
echo "  reference signature: $ss signatures/s (ECDSA P-256 + SHA-256, EVP_DigestSign)"
echo "  issue/sign = $ra  (1.0 = issuance costs nothing beyond its signature)"
