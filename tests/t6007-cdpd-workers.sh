#!/bin/sh
# pkilab-cdpd's acceptor and workers:
# each new connection goes to the worker thread with the fewest, so no
# worker serves a crowd while another idles; the connection and per-IP
# limits hold across all workers; refused connections fail at once; the
# counts return to zero when clients leave (no leak); several listen
# addresses share the workers. Counts come from /metrics
# (pkilab_cdpd_worker_connections). At the connection limit, a connection
# waiting for a request head (idle keep-alive) makes way for a new one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

chmod 755 "$T"
pub_ca "$T/pub" "$T/root" root 1 || exit 1

# Holds N keep-alive connections (each answered once) for S seconds (exec:
# the background job is perl itself, so killing it closes them; the tests
# kill it when done, S only bounds a test that died);
# prints "open K" on stdout once they are all up.
hold() { # port n seconds
  exec perl -MIO::Socket::INET -e '
    my ($p, $n, $s) = @ARGV; my @c; my $ok = 0; $| = 1;
    for (1 .. $n) {
      my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $p, Timeout => 20) or last;
      print $c "GET /crl/root.crl HTTP/1.1\r\nHost: t\r\n\r\n"; my $b = "";
      while ($b !~ /\r\n\r\n/s) { my $r = sysread($c, $b, 65536, length $b); last unless $r; }
      $ok++ if $b =~ m{^HTTP/1\.1 200}; push @c, $c;
    }
    print "open $ok\n"; sleep $s;' "$1" "$2" "$3"
}
worker_counts() { # port -> "c0 c1 ..." of pkilab_cdpd_worker_connections
  curl -s --max-time 20 "http://127.0.0.1:$1/metrics" |
    sed -n 's/^pkilab_cdpd_worker_connections{worker="[0-9]*"} //p' | tr '\n' ' '
}
crl_code() { # port -> HTTP status of GET /crl/root.crl, 000 when refused
  curl -s --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/crl/root.crl"
}
wait_open() { # file n -> waits (bounded) for "open n"
  until_ok grep -q "^open $2\$" "$1" && return 0
  cat "$1"; return 1
}

# --- balance: 40 clients over 4 workers --------------------------------------
P=$(free_port)
serve_cdpd "4 workers: server answers" bal "http://127.0.0.1:$P" \
  --publish "$T/pub" --listen "127.0.0.1:$P" --threads 4 --per-ip-limit 0 --access-log false
hold "$P" 40 900 >"$T/hold1" &
h=$!
check "40 keep-alive clients connected and answered" wait_open "$T/hold1" 40
counts=$(worker_counts "$P")
# shellcheck disable=SC2086 # one argument per worker
set -- $counts
check "metrics list 4 workers ($counts)" test "$#" = 4
sum=$(( ${1:-0} + ${2:-0} + ${3:-0} + ${4:-0} ))
check "the workers hold the 40 clients and the metrics request ($sum)" test "$sum" = 41
for c in "$@"; do
  check "each worker holds 10 or 11 connections, not a crowd ($c)" test "$c" -ge 10 -a "$c" -le 11
done
kill "$h" 2>/dev/null; wait "$h" 2>/dev/null
only_metrics() { # port: the metrics request is the only connection counted
  # shellcheck disable=SC2046 # one argument per worker
  set -- $(worker_counts "$1")
  [ $(( ${1:-9} + ${2:-9} + ${3:-9} + ${4:-9} )) = 1 ]
}
until_ok only_metrics "$P"
counts=$(worker_counts "$P")
# shellcheck disable=SC2086 # one argument per worker
set -- $counts
check "clients gone: only the metrics request is counted, nothing leaked ($counts)" \
  test $(( ${1:-9} + ${2:-9} + ${3:-9} + ${4:-9} )) = 1
stop_cdpd bal
check "4 workers: clean stop (exit 0)" test "$?" = 0

# --- the per-IP limit holds across workers -------------------------------------
P=$(free_port)
serve_cdpd "per-IP 6 over 4 workers: server answers" ip "http://127.0.0.1:$P" \
  --publish "$T/pub" --listen "127.0.0.1:$P" --threads 4 --per-ip-limit 6 --access-log false
hold "$P" 6 900 >"$T/hold2" &
h=$!
check "6 clients from 127.0.0.1 connected" wait_open "$T/hold2" 6
r=$(crl_code "$P")
check "a 7th from the same address is refused at once, whatever worker would take it ($r)" test "$r" = 000
kill "$h" 2>/dev/null; wait "$h" 2>/dev/null
crl_200() { [ "$(crl_code "$1")" = 200 ]; }
check "per-IP: served again once the 6 are gone" until_ok crl_200 "$P"
stop_cdpd ip

# --- the connection limit holds across workers ---------------------------------
P=$(free_port)
serve_cdpd "connection limit 5 over 4 workers: server answers" lim "http://127.0.0.1:$P" \
  --publish "$T/pub" --listen "127.0.0.1:$P" --threads 4 --per-ip-limit 0 \
  --connection-limit 5 --access-log false
hold "$P" 5 900 >"$T/hold3" &
h=$!
check "5 clients connected" wait_open "$T/hold3" 5
# The 5 are idle keep-alive connections: at the limit, the one idle longest
# makes way (t6009 has the limit refusing when every connection is busy).
r=$(crl_code "$P")
check "a 6th connection is served in place of an idle one ($r)" test "$r" = 200
counts=$(worker_counts "$P")
# shellcheck disable=SC2086 # one argument per worker
set -- $counts
check "still at most 5 connections across the workers ($counts)" \
  test $(( ${1:-9} + ${2:-9} + ${3:-9} + ${4:-9} )) -le 5
kill "$h" 2>/dev/null; wait "$h" 2>/dev/null
stop_cdpd lim

# --- two listen addresses, one set of workers ----------------------------------
P=$(free_port)
P2=$(free_port)
serve_cdpd "two listen addresses: the first answers" two "http://127.0.0.1:$P" \
  --publish "$T/pub" --listen "127.0.0.1:$P" --listen "127.0.0.2:$P2" --threads 2
hget "http://127.0.0.2:$P2/crl/root.crl"
check "two listen addresses: the second serves the CRL too" test "$CODE" = 200
check "log names both addresses" wait_log two "listening on 127.0.0.2:$P2"
stop_cdpd two
check "two listen addresses: clean stop (exit 0)" test "$?" = 0
finish
