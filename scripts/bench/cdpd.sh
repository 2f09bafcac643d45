#!/bin/sh
# pkilab-cdpd against a tuned nginx (sendfile, open_file_cache, access_log
# off), same CRLs, same machine, same run: a 1 KB and a 4 MB CRL, driven by
# wrk at 50 and 500 connections while 1,000 idle keep-alive connections are
# held open on the server under test. Prints requests/s, p99 latency,
# errors and server RSS for each, and the cdpd/nginx ratios (the figures of
# README's "How fast"). Not a test: numbers depend on the machine.
#   BUILD=build sh scripts/bench/cdpd.sh      BENCH_SECONDS=5 BENCH_IDLE=1000 BENCH_ROUNDS=3
#   BENCH_CDPD_ARGS="--threads 4"  extra server flags, for experiments
#   BENCH_CRLS="small big" BENCH_CONNS="50 500"  the scenarios to run
# Each scenario runs BENCH_ROUNDS times, alternating the two servers, and the
# median round is reported: a shared machine's noise hits both alike.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
CDPD=$top/$BUILD/pkilab-cdpd
SECS=${BENCH_SECONDS:-5}
IDLE=${BENCH_IDLE:-1000}
ROUNDS=${BENCH_ROUNDS:-3}
CRLS=${BENCH_CRLS:-small big}
CONNS=${BENCH_CONNS:-50 500}
for t in wrk nginx openssl perl; do
  command -v "$t" >/dev/null 2>&1 || { echo "bench: skipped: $t not installed"; exit 0; }
done
[ -x "$CDPD" ] || { echo "bench: $CDPD not built (make all BUILD=$BUILD)"; exit 2; }
# shellcheck disable=SC3045 # dash (the sh this runs under) and bash both have ulimit -n
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

W=$(mktemp -d "${TMPDIR:-/tmp}/pkl-bench.XXXXXX")
chmod 755 "$W"  # nginx workers run as nobody
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; sleep 0.2; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- fixtures: a CA, a ~1 KB CRL and a ~4 MB CRL (openssl CLI) -------------
mkdir -p "$W/pub/crl" "$W/pub/aia" "$W/ca/new"
cd "$W/ca" || exit 1
printf '[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=7\ncrl_extensions=e\n[e]\nauthorityKeyIdentifier=keyid:always\n' >ca.cnf
openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem \
  -subj "/O=pkilab bench/CN=bench" -days 30 -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out c.pem 2>/dev/null || exit 3
openssl x509 -in c.pem -outform DER -out "$W/pub/aia/small.crt"
cp "$W/pub/aia/small.crt" "$W/pub/aia/big.crt"
mkcrl() { # entries number out
  awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "R\t351231235959Z\t250101000000Z\t%08X%08X\tunknown\t/CN=r%d\n", 4096 + i, i * 7919, i }' >index.txt
  printf '%02x\n' "$2" >crlnumber
  openssl ca -config ca.cnf -gencrl -keyfile k.pem -cert c.pem -out crl.pem 2>/dev/null &&
    openssl crl -in crl.pem -outform DER -out "$3"
}
mkcrl 24 1 "$W/pub/crl/small.crl" || exit 3
mkcrl 160000 1 "$W/pub/crl/big.crl" || exit 3
cd "$W" || exit 1
echo "bench: CRLs: small $(stat -c %s pub/crl/small.crl) B, big $(stat -c %s pub/crl/big.crl) B; $(nproc) CPUs; ${SECS}s per run; $IDLE idle connections"

port() { for _i in $(seq 1 50); do _p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000 )); \
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$_p/" || { echo "$_p"; return; }; done; }
waitup() { for _i in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done; return 1; }
rss_kb() { # pids -> summed VmRSS in KiB
  _s=0; for _p in "$@"; do _r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$_p/status" 2>/dev/null); _s=$((_s + ${_r:-0})); done; echo "$_s"
}

# --- servers ------------------------------------------------------------------
PC=$(port); PN=$(port); while [ "$PN" = "$PC" ]; do PN=$(port); done
"$CDPD" --publish "$W/pub" --listen "127.0.0.1:$PC" --access-log false --log-level warning \
  --per-ip-limit 0 --connection-limit 20000 --timeout 300s --max-age 1h ${BENCH_CDPD_ARGS:-} >"$W/cdpd.log" 2>&1 &
cdpd_pid=$!; pids="$pids $cdpd_pid"
mkdir -p "$W/nginx/logs" "$W/nginx/tmp"
cat >"$W/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/logs/error.log crit;
events { worker_connections 20000; use epoll; multi_accept on; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s; open_file_cache_errors on;
  keepalive_timeout 300s; keepalive_requests 100000000;
  client_header_timeout 300s;
  client_body_temp_path $W/nginx/tmp; proxy_temp_path $W/nginx/tmp; fastcgi_temp_path $W/nginx/tmp;
  uwsgi_temp_path $W/nginx/tmp; scgi_temp_path $W/nginx/tmp;
  types { application/pkix-crl crl; application/pkix-cert crt; }
  server {
    listen 127.0.0.1:$PN reuseport backlog=4096;
    root $W/pub;
    etag on;
    location / { add_header Cache-Control "public, no-transform, max-age=3600"; }
  }
}
EOF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' 2>"$W/nginx/stderr" &
nginx_pid=$!; pids="$pids $nginx_pid"
waitup "http://127.0.0.1:$PC/crl/small.crl" || { echo "bench: cdpd did not start"; cat "$W/cdpd.log"; exit 3; }
waitup "http://127.0.0.1:$PN/crl/small.crl" || { echo "bench: nginx did not start"; cat "$W/nginx/stderr"; exit 3; }
curl -s "http://127.0.0.1:$PC/crl/big.crl" | cmp -s - "$W/pub/crl/big.crl" || { echo "bench: cdpd serves wrong bytes"; exit 3; }
curl -s "http://127.0.0.1:$PN/crl/big.crl" | cmp -s - "$W/pub/crl/big.crl" || { echo "bench: nginx serves wrong bytes"; exit 3; }

# Holds N keep-alive connections open (each made one request first) until killed.
idle() { # port n  (exec: the background job's pid is perl's, so it can be killed)
  exec perl -MIO::Socket::INET -e '
    my ($p, $n) = @ARGV; my @s; my $ok = 0;
    for (1 .. $n) {
      my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $p, Timeout => 5) or next;
      print $c "GET /crl/small.crl HTTP/1.1\r\nHost: b\r\n\r\n"; my $b = "";
      while ($b !~ /\r\n\r\n/s) { my $r = sysread($c, $b, 65536, length $b); last unless $r; }
      $ok++ if $b =~ /^HTTP\/1\.1 200/; push @s, $c;
    }
    print STDERR "idle: $ok/$n connections open\n"; $| = 1; sleep 600;' "$1" "$2"
}

# wrk output -> "req/s p99 errors"
parse() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +99%/ { p = $2 }
    /Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { e += $5 }
    END { if (e == "") e = 0; printf "%s %s %d\n", rps, p, e }' "$1"
}
# "3.80ms" / "120.00us" / "1.2s" -> milliseconds
to_ms() { echo "$1" | awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /ms$/) v = v; else if ($1 ~ /s$/) v *= 1000; printf "%.3f", v }'; }

results=$W/results
: >"$results"
# Both servers hold their idle connections for the whole run, and each
# scenario runs cdpd then nginx back to back, so load from anything else on
# the machine hits both alike.
nginx_pids() { echo "$(pgrep -P "$nginx_pid" | tr '\n' ' ') $nginx_pid"; }
for name in cdpd nginx; do
  if [ "$name" = cdpd ]; then P=$PC; else P=$PN; fi
  idle "$P" "$IDLE" 2>"$W/idle-$name.log" &
  pids="$pids $!"
done
for name in cdpd nginx; do
  for _i in $(seq 1 150); do grep -q "connections open" "$W/idle-$name.log" && break; sleep 0.1; done
  sed "s/^/bench: $name: /" "$W/idle-$name.log"
done
rounds=$W/rounds
: >"$rounds"
for crl in $CRLS; do
  for c in $CONNS; do
    for round in $(seq 1 "$ROUNDS"); do
      for name in cdpd nginx; do
        if [ "$name" = cdpd ]; then P=$PC; sp=$cdpd_pid; else P=$PN; sp=$(nginx_pids); fi
        wrk -t2 -c"$c" -d"${SECS}s" --latency --timeout 5s "http://127.0.0.1:$P/crl/$crl.crl" >"$W/wrk.txt" 2>&1
        # shellcheck disable=SC2046
        set -- $(parse "$W/wrk.txt")
        # shellcheck disable=SC2086
        echo "$name $crl $c ${1:-0} $(to_ms "${2:-0}") ${3:-0} $(rss_kb $sp) $round" >>"$rounds"
      done
    done
  done
done
# Medians over the rounds of req/s and of p99 (errors summed, RSS the largest).
for name in cdpd nginx; do
  for crl in $CRLS; do
    for c in $CONNS; do
      awk -v n=$name -v crl=$crl -v c=$c '$1 == n && $2 == crl && $3 == c' "$rounds" | sort -k4,4n >"$W/sel"
      k=$(wc -l <"$W/sel")
      err=$(awk '{ e += $6 } END { print e + 0 }' "$W/sel")
      rss=$(awk '{ if ($7 > m) m = $7 } END { print m + 0 }' "$W/sel")
      # p99 is a median of its own: the round with the median req/s may have
      # had an unlucky tail, and one scheduler hiccup should not decide.
      p99=$(sort -k5,5n "$W/sel" | sed -n "$(( (k + 1) / 2 ))p" | awk '{ print $5 }')
      sed -n "$(( (k + 1) / 2 ))p" "$W/sel" | awk -v e="$err" -v r="$rss" -v p="$p99" '{ print $1, $2, $3, $4, p, e, r }' >>"$results"
    done
  done
done
echo "bench: median of $ROUNDS rounds per scenario (every round: $(awk '{ printf "%s/%s/%s %.0f  ", $1, $2, $3, $4 }' "$rounds"))" | fold -w 160

echo
printf '%-6s %-5s %5s %12s %10s %7s %9s\n' server crl conns "req/s" "p99 ms" errors "RSS MiB"
sort -k1,1 -s "$results" | while read -r s crl c rps p99 err rss; do
  printf '%-6s %-5s %5s %12.0f %10.2f %7s %9.1f\n' "$s" "$crl" "$c" "$rps" "$p99" "$err" "$(echo "$rss" | awk '{ print $1 / 1024 }')"
done
echo
printf '%-5s %5s %14s %14s %12s\n' crl conns "req/s ratio" "p99 ratio" "MB/s cdpd"
for crl in $CRLS; do
  for c in $CONNS; do
    a=$(awk -v crl=$crl -v c=$c '$1 == "cdpd" && $2 == crl && $3 == c' "$results")
    b=$(awk -v crl=$crl -v c=$c '$1 == "nginx" && $2 == crl && $3 == c' "$results")
    size=$(stat -c %s "$W/pub/crl/$crl.crl")
    echo "$a|$b" | awk -F'|' -v crl=$crl -v c=$c -v size="$size" '{
      split($1, x, " "); split($2, y, " ");
      rr = (y[4] > 0) ? x[4] / y[4] : 0; pr = (y[5] > 0) ? x[5] / y[5] : 0;
      printf "%-5s %5s %13.2fx %13.2fx %12.0f\n", crl, c, rr, pr, x[4] * size / 1e6 }'
  done
done
echo "(req/s ratio > 1: cdpd faster; p99 ratio < 1: cdpd lower latency)"
