#!/bin/sh
# Issuance benchmark: `pkilab build` of a lab of
# 1,000 ECDSA P-256 leaves and one of 200 RSA-2048 leaves (fresh builds, with
# durability: the build's own fsync/syncfs), and in the same run, for the
# same algorithms:
#   - the in-process crypto bound: key generation + one signature per leaf in
#     a loop on ONE core (bound.c, linked with $BUILD/libpkilab.a);
#   - the filesystem bound: the 3 files per leaf the PKI layout requires,
#     created and synced the same way with no crypto (fsbound.c);
#   - easy-rsa (batch mode) and strongSwan `pki` issuing a subset of the same
#     leaves (key + certificate each), scaled to leaves/s.
# Prints leaves/s, peak RSS (wait4 rusage via measure.c) and the ratios.
#   BUILD=dir           build directory (default build)
#   BENCH_EC=1000 BENCH_RSA=200 BENCH_EASYRSA_EC=50 BENCH_EASYRSA_RSA=10
#   BENCH_PKI_EC=100 BENCH_PKI_RSA=10 BENCH_BOUND_SECONDS=3   sizes
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
PKILAB=$top/$BUILD/pkilab
LIB=$top/$BUILD/libpkilab.a
N_EC=${BENCH_EC:-1000} N_RSA=${BENCH_RSA:-200}
N_ER_EC=${BENCH_EASYRSA_EC:-50} N_ER_RSA=${BENCH_EASYRSA_RSA:-10}
N_PKI_EC=${BENCH_PKI_EC:-100} N_PKI_RSA=${BENCH_PKI_RSA:-10}
SECS=${BENCH_BOUND_SECONDS:-3}
EASYRSA=/usr/share/easy-rsa/easyrsa
export PKILAB_TEMPLATES="$top/templates"

[ -x "$PKILAB" ] && [ -f "$LIB" ] || { echo "build first: make all BUILD=$BUILD"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/pkl-bench-issue.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
CFLAGS_B="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -O2"
cc $CFLAGS_B -o "$W/measure" "$top/scripts/bench/measure.c" || exit 1
# shellcheck disable=SC2046
cc $CFLAGS_B -I"$top/ca/include" -o "$W/bound" "$top/scripts/bench/bound.c" "$LIB" \
	$(pkg-config --libs libssl libcrypto libconfig sqlite3 libcurl jansson) -lpthread || exit 1
cc $CFLAGS_B -o "$W/fsbound" "$top/scripts/bench/fsbound.c" || exit 1

ncpu=$(nproc)
echo "machine: $ncpu core(s), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"

# A lab of N leaves under a root and an intermediate of the same key type.
make_lab() { # file key n
	{
		echo "lab = { name = \"bench\"; cdp = [ \"http://127.0.0.1:18081\", \"http://127.0.0.2:18082\" ]; };"
		echo "cas = ("
		echo "  { name = \"root\"; template = \"root-ca\"; key = \"$2\"; subject = \"CN=Bench Root\"; },"
		echo "  { name = \"ca\"; template = \"intermediate-ca\"; issuer = \"root\"; key = \"$2\"; subject = \"CN=Bench CA\"; }"
		echo ");"
		echo "certs = ("
		i=1
		while [ "$i" -le "$3" ]; do
			sep=,; [ "$i" = "$3" ] && sep=
			echo "  { name = \"l$i\"; template = \"ipsec-client\"; issuer = \"ca\"; key = \"$2\"; subject = \"CN=l$i.bench.test\"; san = [ \"l$i.bench.test\" ]; }$sep"
			i=$((i + 1))
		done
		echo ");"
	} >"$1"
}

ms_of() { sed -n 's/.*wall_ms=\([0-9]*\).*/\1/p' "$1"; }
cpu_of() { sed -n 's/.*cpu_ms=\([0-9]*\).*/\1/p' "$1"; }
rss_of() { sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' "$1"; }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { if (ms <= 0) ms = 1; printf "%.1f", n * 1000 / ms }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) { print "n/a"; exit } printf "%.2f", a / b }'; }

easyrsa_rate() { # ec|rsa n -> leaves/s
	d=$W/easyrsa-$1; rm -rf "$d"; mkdir -p "$d"
	(
		cd "$d" || exit 1
		export EASYRSA_BATCH=1 EASYRSA_PKI="$d/pki"
		if [ "$1" = ec ]; then export EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1; else export EASYRSA_ALGO=rsa EASYRSA_KEY_SIZE=2048; fi
		"$EASYRSA" init-pki >/dev/null 2>&1 && EASYRSA_REQ_CN="Bench CA" "$EASYRSA" build-ca nopass >/dev/null 2>&1 || exit 1
		cat >"$d/run.sh" <<EOS
i=1; while [ \$i -le $2 ]; do "$EASYRSA" build-client-full l\$i nopass >/dev/null 2>&1 || exit 1; i=\$((i + 1)); done
EOS
		"$W/measure" sh "$d/run.sh" 2>"$d/m" || exit 1
		[ "$(ls "$d/pki/issued" | wc -l)" = "$2" ] || exit 1
		rate "$2" "$(ms_of "$d/m")"
	) || echo "n/a"
}

pki_rate() { # ec|rsa n -> leaves/s
	d=$W/pki-$1; rm -rf "$d"; mkdir -p "$d"
	if [ "$1" = ec ]; then t="--type ecdsa --size 256"; else t="--type rsa --size 2048"; fi
	# shellcheck disable=SC2086
	pki --gen $t --outform pem >"$d/ca.key" 2>/dev/null &&
		pki --self --ca --in "$d/ca.key" --dn "CN=Bench CA" --outform pem >"$d/ca.crt" 2>/dev/null || { echo "n/a"; return; }
	cat >"$d/run.sh" <<EOS
i=1; while [ \$i -le $2 ]; do
	pki --gen $t --outform pem >"$d/l\$i.key" 2>/dev/null || exit 1
	pki --issue --cacert "$d/ca.crt" --cakey "$d/ca.key" --in "$d/l\$i.key" --type priv --dn "CN=l\$i.bench.test" \
		--san l\$i.bench.test --flag clientAuth --crl http://127.0.0.1:18081/crl/ca.crl --outform pem >"$d/l\$i.crt" 2>/dev/null || exit 1
	i=\$((i + 1)); done
EOS
	"$W/measure" sh "$d/run.sh" 2>"$d/m" || { echo "n/a"; return; }
	rate "$2" "$(ms_of "$d/m")"
}

bench_one() { # label spec n n_easyrsa n_pki kind
	label=$1 spec=$2 n=$3
	make_lab "$W/$label.cfg" "$spec" "$n"
	rm -rf "$W/$label-pki"
	"$W/measure" "$PKILAB" build "$W/$label.cfg" --pki "$W/$label-pki" -q 2>"$W/$label.m" >/dev/null
	rc=$?
	issued=$(sqlite3 "$W/$label-pki/pkilab.db" "select count(*) from certs where name glob 'l[0-9]*'" 2>/dev/null || echo 0)
	[ "$rc" = 0 ] && [ "$issued" = "$n" ] || { echo "$label: pkilab build failed (rc $rc, $issued of $n issued)"; cat "$W/$label.m"; return 1; }
	ms=$(ms_of "$W/$label.m") rss=$(rss_of "$W/$label.m") cpu=$(cpu_of "$W/$label.m")
	# The build issues n leaves + 2 CAs; count the leaves only (the CAs are noise at this size).
	p=$(rate "$n" "$ms")
	b=$("$W/bound" "$spec" "$SECS")
	bl=$(echo "$b" | sed -n 's/.*leaves_per_s=\([0-9.]*\).*/\1/p')
	er=$(easyrsa_rate "$6" "$4")
	sp=$(pki_rate "$6" "$5")
	echo "$label ($spec, $n leaves):"
	pc=$(rate "$n" "$cpu")
	echo "  pkilab build:        $p leaves/s  ($ms ms wall, $cpu ms CPU = $(ratio "$cpu" "$ms") cores busy, peak RSS $rss kB)"
	echo "  pkilab per CPU-second: $pc leaves  (holds on a busy machine; load average $(cut -d' ' -f1 /proc/loadavg))"
	echo "  crypto bound, 1 core: $bl leaves/s  ($b)"
	# The files the layout requires (key, certificate, chain per leaf) created
	# and synced as pkilab does, without crypto: pkilab cannot beat this.
	rm -rf "$W/fs-$label"
	f=$("$W/fsbound" "$W/fs-$label" "$n")
	fl=$(echo "$f" | sed -n 's/.*leaves_per_s=\([0-9.]*\).*/\1/p')
	rm -rf "$W/fs-$label"
	echo "  filesystem bound:     $fl leaves/s  ($f: 3 files per leaf, one syncfs)"
	echo "  pkilab/filesystem bound = $(ratio "$p" "$fl")  (1.0 = nothing but the layout's files)"
	echo "  easy-rsa ($4 leaves):  $er leaves/s"
	echo "  strongSwan pki ($5):   $sp leaves/s"
	echo "  ratios: pkilab/bound(1 core) = $(ratio "$p" "$bl")  pkilab/easy-rsa = $(ratio "$p" "$er")  pkilab/pki = $(ratio "$p" "$sp")"
	echo "  pkilab per CPU-second / bound = $(ratio "$pc" "$bl")  (1.0 = no overhead beyond key generation and signing)"
	echo "  pkilab/bound per core ($ncpu cores) = $(ratio "$p" "$(awk -v b="$bl" -v c="$ncpu" 'BEGIN { print b * c }')")"
}

status=0
bench_one ecdsa-p256 ec:P-256 "$N_EC" "$N_ER_EC" "$N_PKI_EC" ec || status=1
bench_one rsa-2048 rsa:2048 "$N_RSA" "$N_ER_RSA" "$N_PKI_RSA" rsa || status=1
exit $status
