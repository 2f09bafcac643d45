#!/bin/sh
# pkilab-cdpd configuration and hardening: a libconfig file or flags (flags win); every bad setting is
# a one-line error naming file:line (exit 2); runtime failures exit 3;
# privileges are dropped after binding; per-IP and total connection limits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

chmod 755 "$T"
pub_ca "$T/pub" "$T/root" root 1 || exit 1
chmod -R a+rX "$T/pub"

# --- a configuration file ------------------------------------------------------
P=$(free_port)
cat >"$T/cdpd.conf" <<EOF
# test configuration
publish = "$T/pub";
listen = [ "127.0.0.1:$P" ];
max_age = "20m";
health_margin = 3600;
access_log = false;
log_level = "info";
per_ip_limit = 64;
mirror_max_size = "1M";
EOF
serve_cdpd "config file: server answers" cfg "http://127.0.0.1:$P" --config "$T/cdpd.conf"
hget "http://127.0.0.1:$P/crl/root.crl"
check "config file: max_age = \"20m\" caps max-age at 1200" contains "$(hdr Cache-Control)" "max-age=1200"
check "config file: access_log = false: no access lines" not_contains "$(cat "$T/cfg.log")" "access:"
stop_cdpd cfg

P=$(free_port)
serve_cdpd "flags win over the file: --listen" cfg2 "http://127.0.0.1:$P" \
  --config "$T/cdpd.conf" --listen "127.0.0.1:$P" --max-age 90s --access-log on
hget "http://127.0.0.1:$P/crl/root.crl"
check "flags win over the file: --max-age 90s" contains "$(hdr Cache-Control)" "max-age=90"
check "flags win over the file: --access-log on" wait_log cfg2 '"GET /crl/root.crl" 200'
stop_cdpd cfg2

# --- several listen addresses, IPv6 -------------------------------------------
P=$(free_port); P2=$(free_port)
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
  serve_cdpd "two listen addresses: IPv4 answers" multi "http://127.0.0.1:$P" \
    --publish "$T/pub" --listen "127.0.0.1:$P" --listen "[::1]:$P2"
  check "two listen addresses: IPv6 [::1] answers" wait_http "http://[::1]:$P2/healthz"
  hget "http://[::1]:$P2/crl/root.crl"
  check "IPv6: the CRL" cmp "$T/body" "$T/pub/crl/root.crl"
  stop_cdpd multi
else
  echo "# skipped IPv6 listen checks (no ::1 on lo)"
fi

# --- errors: one line, file:line, exit 2 --------------------------------------
bad() { # description, expected substring, config text | "" , extra args...
  _d=$1 _want=$2 _conf=$3; shift 3
  if [ -n "$_conf" ]; then printf '%s\n' "$_conf" >"$T/bad.conf"; set -- --config "$T/bad.conf" "$@"; fi
  expect_rc 2 "$_d: exit 2" "$CDPD" "$@"
  check "$_d: one line" one_line "$ERR"
  check "$_d: says '$_want'" contains "$ERR" "$_want"
  check "$_d: prefixed 'pkilab-cdpd: error: '" contains "$ERR" "pkilab-cdpd: error: "
}
bad "unknown setting" "bad.conf:2: unknown setting 'max_agee' (did you mean 'max_age')" \
  "publish = \"$T/pub\";
max_agee = \"1h\";"
bad "syntax error" "bad.conf:3: syntax error" "publish = \"$T/pub\";
listen = [ \"127.0.0.1:1\" "
bad "wrong type" "bad.conf:1: per_ip_limit: 'x' is not a number" "per_ip_limit = \"x\";"
bad "wrong type" "bad.conf:1: access_log: '3' is not true or false" "access_log = 3;"
bad "bad duration" "bad.conf:2: timeout: '5x' is not a duration" "publish = \"$T/pub\";
timeout = \"5x\";"
bad "out of range" "bad.conf:1: threads: 0 out of range 1..256" "threads = 0;"
bad "bad log level" "log_level: 'loud' is not one of" "log_level = \"loud\";"
bad "publish not a directory" "bad.conf:1: publish: '$T/none' is not a directory" "publish = \"$T/none\";"
bad "list element line" "bad.conf:3: listen: 'localhost' is not an IPv4 address (names are not resolved)" \
  "listen = [
  \"127.0.0.1:80\",
  \"localhost:80\" ];"
bad "missing config file" "cannot read the configuration" "" --config "$T/nope.conf"
bad "bad flag value" "error: --max-age: max_age: 'soon' is not a duration" "" --publish "$T/pub" --max-age soon
bad "unknown option" "unknown option '--bogus'" "" --publish "$T/pub" --bogus
bad "missing value" "needs a value" "" --publish
bad "nothing to serve" "nothing to serve" ""
bad "mirror without trust" "a mirror needs --trust" "" --mirror http://127.0.0.1:1
bad "https mirror" "is not an http:// URL" "" --publish "$T/pub" --mirror https://127.0.0.1:1
bad "bad port" "listen: bad port in '127.0.0.1:99999'" "" --publish "$T/pub" --listen 127.0.0.1:99999
bad "stray argument" "unexpected argument 'extra'" "" --publish "$T/pub" extra
expect_rc 0 "--help: exit 0" "$CDPD" --help
check "--help lists every setting" contains "$OUT" "--per-ip-limit N"
check "--help lists the routes" contains "$OUT" "/crl/<ca>.crl"

# --- runtime failures: exit 3 -------------------------------------------------
P=$(free_port)
serve_cdpd "holder answers" holder "http://127.0.0.1:$P" --publish "$T/pub" --listen "127.0.0.1:$P"
expect_rc 3 "port already in use: exit 3" "$CDPD" --publish "$T/pub" --listen "127.0.0.1:$P"
check "port already in use: names the address" contains "$ERR" "--listen: listen: '127.0.0.1:$P': cannot bind"
stop_cdpd holder

# --- privileges ------------------------------------------------------------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  bad "unknown user" "unknown user 'no-such-user-x'" "" --publish "$T/pub" --listen 127.0.0.1:0 --user no-such-user-x
  P=$(free_port)
  start_cdpd drop --publish "$T/pub" --listen "127.0.0.1:$P" --user nobody
  check "--user nobody: still serves" wait_http "http://127.0.0.1:$P/crl/root.crl"
  uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$(cat "$T/drop.pid")/status")
  check "--user nobody: every uid is nobody's ($uid)" test "$uid" = "$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)"
  check "--user nobody: logged" wait_log drop "running as user 'nobody'"
  stop_cdpd drop
else
  echo "# skipped privilege drop checks (not root)"
fi

# --- connection limits --------------------------------------------------------
P=$(free_port)
serve_cdpd "limited server answers" lim "http://127.0.0.1:$P" \
  --publish "$T/pub" --listen "127.0.0.1:$P" --per-ip-limit 3 --timeout 30s
# Three connections held until killed; "open" once all are up (the server
# answers each, so it has accepted it: an event, not a delay).
perl -MIO::Socket::INET -e '$| = 1; my @s; for (1..3) { my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die;
  print $c "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"; my $b = ""; while ($b !~ /\r\n\r\n/) { sysread($c, $b, 65536, length $b) or die } push @s, $c }
  print "open\n"; sleep 900' "$P" >"$T/hold.out" &
hold=$!
check "per-IP limit 3: three connections held" until_ok grep -q open "$T/hold.out"
r=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/crl/root.crl")
check "per-IP limit 3: a 4th connection from the same address is refused ($r)" test "$r" = 000
kill "$hold"; wait "$hold" 2>/dev/null
crl_200() { hget "http://127.0.0.1:$P/crl/root.crl"; [ "$CODE" = 200 ]; }
check "per-IP limit: served again once the others are gone" until_ok crl_200
stop_cdpd lim

# --- send buffer -----------------------------------------------------------------
# Every accepted connection inherits the listener's SO_SNDBUF (the kernel
# doubles it); 0 leaves the kernel's autotuning (initial 16 KiB here).
sndbuf_of() { # port -> the server side's tb (sk_sndbuf) of an established connection
  perl -MIO::Socket::INET -e '$c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0], Timeout => 20) or exit 1; sleep 900' "$1" &
  _h=$!
  # polled until the connection is established (bounded), not after a delay
  until_ok tb_of "$1"
  cat "$T/tb"
  kill "$_h" 2>/dev/null; wait "$_h" 2>/dev/null
}
tb_of() { # port -> $T/tb, fails while there is no established connection
  ss -tmnH state established "( sport = :$1 )" 2>/dev/null | tr ',' '\n' | sed -n 's/^tb\([0-9]*\).*/\1/p' | head -1 >"$T/tb"
  [ -s "$T/tb" ]
}
if command -v ss >/dev/null 2>&1; then
  P=$(free_port)
  serve_cdpd "--send-buffer 96K: server answers" sb "http://127.0.0.1:$P" \
    --publish "$T/pub" --listen "127.0.0.1:$P" --send-buffer 96K
  tb=$(sndbuf_of "$P")
  check "--send-buffer 96K: an accepted connection's send buffer is 2 x 96 KiB ($tb)" test "${tb:-0}" = 196608
  stop_cdpd sb
  P=$(free_port)
  serve_cdpd "default send buffer: server answers" sbd "http://127.0.0.1:$P" \
    --publish "$T/pub" --listen "127.0.0.1:$P"
  tb=$(sndbuf_of "$P")
  check "default send buffer: 2 x 128 KiB ($tb)" test "${tb:-0}" = 262144
  stop_cdpd sbd
  P=$(free_port)
  serve_cdpd "--send-buffer 0: server answers" sb0 "http://127.0.0.1:$P" \
    --publish "$T/pub" --listen "127.0.0.1:$P" --send-buffer 0
  tb=$(sndbuf_of "$P")
  check "--send-buffer 0: the kernel sizes it ($tb), not 2 x the 128K default" \
    test "${tb:-0}" -ge "$(awk '{ print $2 }' /proc/sys/net/ipv4/tcp_wmem)" -a "${tb:-0}" != 262144
  stop_cdpd sb0
else
  echo "# skipped send buffer checks (no ss)"
fi
bad "send_buffer too large" "bad.conf:1: send_buffer" "send_buffer = \"1G\";"
finish
