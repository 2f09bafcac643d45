#!/bin/sh
# A peer cannot inject a CA or roll a CRL back: a
# mirror accepts from peers only what it would accept from disk, validated
# against the CA certificates it was configured to trust. Hostile peers here:
# one serving an impostor root's CRL (same name and key id, other key), an
# impostor sub CA, and a CA of its own; one serving an older genuine CRL; one
# that black-holes connections; and an oversized CRL. Pulls are bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

mkdir -p "$T/good/crl" "$T/good/aia" "$T/evil/crl" "$T/evil/aia" "$T/old/crl" "$T/old/aia" "$T/trust"
mkca "$T/root" root || exit 1
mkca "$T/sub" sub "$T/root" || exit 1
mkca "$T/big" big || exit 1
cp "$T/root/ca.der" "$T/trust/root.crt"; cp "$T/sub/ca.der" "$T/trust/sub.crt"
cp "$T/root/ca.der" "$T/good/aia/root.crt"; cp "$T/sub/ca.der" "$T/good/aia/sub.crt"
mkcrl "$T/root" 1 "$T/root1.der" || exit 1
mkcrl "$T/root" 2 "$T/good/crl/root.crl" || exit 1
mkcrl "$T/sub" 10 "$T/good/crl/sub.crl" || exit 1
cp "$T/big/ca.der" "$T/good/aia/big.crt"
mkbigindex "$T/big" 200
mkcrl "$T/big" 1 "$T/good/crl/big.crl" || exit 1

# Impostors: same subject and key identifier as the real CA, another key.
impostor() { # dir name real-dir
  _ski=$(openssl x509 -in "$3/ca.pem" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :')
  mkdir -p "$1/new"; : >"$1/index.txt"; _ca_cnf "$1"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1/ca.key" 2>/dev/null
  openssl req -new -x509 -key "$1/ca.key" -subj "/O=pkilab test/CN=$2" -days 30 \
    -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=$_ski" -out "$1/ca.pem" &&
  openssl x509 -in "$1/ca.pem" -outform DER -out "$1/ca.der"
}
impostor "$T/iroot" root "$T/root" || exit 1
impostor "$T/isub" sub "$T/sub" || exit 1
mkca "$T/evilca" evil || exit 1
cp "$T/iroot/ca.der" "$T/evil/aia/root.crt"; mkcrl "$T/iroot" 100 "$T/evil/crl/root.crl" || exit 1
cp "$T/isub/ca.der" "$T/evil/aia/sub.crt"; mkcrl "$T/isub" 99 "$T/evil/crl/sub.crl" || exit 1
cp "$T/evilca/ca.der" "$T/evil/aia/evil.crt"; mkcrl "$T/evilca" 1 "$T/evil/crl/evil.crl" || exit 1
cp "$T/root/ca.der" "$T/old/aia/root.crt"; cp "$T/root1.der" "$T/old/crl/root.crl"

P=$(free_port_all)
G=http://127.0.0.1:$P E=http://127.0.0.2:$P O=http://127.0.0.3:$P
start_cdpd good --publish "$T/good" --listen "127.0.0.1:$P"
start_cdpd evil --publish "$T/evil" --listen "127.0.0.2:$P"
start_cdpd old --publish "$T/old" --listen "127.0.0.3:$P"
for u in "$G" "$E" "$O"; do check "peer $u answers" wait_http "$u/healthz"; done
hget "$E/crl/root.crl"
check "the evil peer really serves the impostor root's CRL 100" cmp "$T/body" "$T/evil/crl/root.crl"

# The mirror asks the hostile peers first.
M=$(free_port)
start_cdpd m --mirror "$E" --mirror "$O" --mirror "$G" --trust "$T/trust" \
  --listen "127.0.0.1:$M" --mirror-interval 1s --mirror-timeout 2s
MB=http://127.0.0.1:$M
check "mirror answers" wait_http "$MB/healthz"
check "mirror serves the genuine root CRL 2" same_as "$MB/crl/root.crl" "$T/good/crl/root.crl"
check "mirror serves the genuine sub CRL 10" same_as "$MB/crl/sub.crl" "$T/good/crl/sub.crl"
sleep 2.2   # two more pull rounds: the hostile peers get every chance
hget "$MB/crl/root.crl"
check "no rollback: still CRL 2 after the old peer offered CRL 1 again" cmp "$T/body" "$T/good/crl/root.crl"
hget "$MB/crl/sub.crl"
check "impostor sub CA's CRL 99 never served" cmp "$T/body" "$T/good/crl/sub.crl"
hget "$MB/crl/evil.crl"
check "a peer's own CA cannot be injected: /crl/evil.crl 404" test "$CODE" = 404
hget "$MB/aia/evil.crt"
check "a peer's own CA cannot be injected: /aia/evil.crt 404" test "$CODE" = 404
hget "$MB/aia/root.crt"
check "/aia/root.crt is the trusted certificate, not the peer's impostor" cmp "$T/body" "$T/root/ca.der"
check "the evil peer was never asked for its own CA" not_contains "$(cat "$T/evil.log")" "GET /crl/evil.crl"
check "log: the impostor root CRL refused for its signature" wait_log m "mirror: $E/crl/root.crl: refused (invalid): bad signature"
check "log: the impostor sub CRL refused" wait_log m "mirror: $E/crl/sub.crl: refused (invalid)"
check "log: the older CRL refused as a rollback" wait_log m "mirror: $O/crl/root.crl: refused (older): CRL number 1 is lower than the served 2"
hget "$MB/healthz"
check "mirror healthy: it serves good CRLs (hostile peers are warnings)" test "$CODE" = 200
check "/healthz lists the refusals as warnings" contains "$(cat "$T/body")" "rollback refused"
hget "$MB/metrics"
check "metrics: rejected pulls counted for the evil peer" grep -q "pkilab_cdpd_mirror_pulls_total{peer=\"$E\",outcome=\"rejected\"} [1-9]" "$T/body"

# Size bound: a CRL larger than mirror_max_size is not even read to the end.
mkdir -p "$T/trust-big"; cp "$T/big/ca.der" "$T/trust-big/big.crt"
S=$(free_port)
serve_cdpd "size-bounded mirror answers" s "http://127.0.0.1:$S" \
  --mirror "$G" --trust "$T/trust-big" --listen "127.0.0.1:$S" \
  --mirror-interval 1s --mirror-max-size 2048
check "a CRL over mirror_max_size is refused" wait_log s "larger than mirror_max_size (2048 bytes)"
hget "http://127.0.0.1:$S/crl/big.crl"
check "the oversized CRL is not served (503 and why)" refused_503

# A black hole (accepts, never answers, for longer than any wait of the
# test; it logs each connection): pulls are bounded by mirror_timeout and the
# good peer after it is still reached.
blackhole() { # port log
  perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 64, ReuseAddr => 1) or die;
    open(my $l, ">>", $ARGV[1]) or die; $l->autoflush(1); print $l "listening\n";
    my @keep; alarm 900; while (my $c = $s->accept) { print $l "accepted\n"; push @keep, $c }' "$1" "$2" &
  at_exit "kill $! 2>/dev/null"
  until_ok grep -q listening "$2"
}
H=$(free_port)
blackhole "$H" "$T/h.log" || exit 1
K=$(free_port)
start_cdpd k --mirror "http://127.0.0.1:$H" --mirror "$G" --trust "$T/trust" --listen "127.0.0.1:$K" \
  --mirror-interval 1s --mirror-timeout 1s
check "behind a black-holing peer, the good peer's CRL arrives (bounded pulls)" \
  same_as "http://127.0.0.1:$K/crl/root.crl" "$T/good/crl/root.crl"
check "the black hole is logged as a timeout" wait_log k "mirror: http://127.0.0.1:$H/crl/.*peer unreachable.*timed out"

# SIGTERM while a pull hangs on a black hole: the transfer is abandoned, the
# stop does not wait for the mirror_timeout (300 s, the most allowed: far
# beyond stop_cdpd's bound, so a stop that waited for it fails).
H2=$(free_port)
blackhole "$H2" "$T/h2.log" || exit 1
K2=$(free_port)
serve_cdpd "k2 answers" k2 "http://127.0.0.1:$K2" \
  --mirror "http://127.0.0.1:$H2" --trust "$T/trust" --listen "127.0.0.1:$K2" --mirror-timeout 300s
check "k2's pull hangs on the black hole (connection accepted)" until_ok grep -q accepted "$T/h2.log"
stop_cdpd k2; rc=$?
check "SIGTERM during a hanging pull: clean exit, without waiting for the 300 s mirror_timeout" test "$rc" = 0

for s in m s k good evil old; do stop_cdpd $s; check "$s: clean exit" test $? = 0; done
finish
