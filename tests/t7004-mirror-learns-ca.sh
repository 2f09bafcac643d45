#!/bin/sh
# A mirror pulls CA certificates as well as CRLs (validated
# against the CA certificates it was configured to trust: a peer can never
# inject a new CA; RFC 2585 §3-4; docs/crl-publication.md). Two pkilab labs with the same CA names:
# the genuine one served by a primary on 127.0.0.1, an impostor (same names
# and subjects, other keys, plus a rogue intermediate, a root of its own and
# a renamed copy of the genuine root) served by a hostile peer on 127.0.0.2.
# The mirror on 127.0.0.3 trusts ONLY the genuine root and asks the hostile
# peer first. It learns the genuine intermediate from the primary, serves it
# and its CRL byte for byte, and refuses everything the hostile peer offers,
# with the reason in its log, /healthz (warnings) and /metrics. A learned CA
# survives a reload with the primary gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

ip addr show lo 2>/dev/null | grep -q '127.0.0.1/8' || skip_all "loopback is not 127.0.0.0/8"
P=$(free_port_all)
A=http://127.0.0.1:$P H=http://127.0.0.2:$P M=http://127.0.0.3:$P

mklab() { # dir extra-cas
  mkdir -p "$1"
  cat >"$1/lab.cfg" <<EOF
lab = { name = "t7004"; pki = "pki"; cdp = [ "$A", "$M" ]; };
cas = (
  { name = "root"; template = "root-ca"; subject = "C=CH, O=pkilab Test, CN=t7004 Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "C=CH, O=pkilab Test, CN=t7004 VPN CA"; }$2
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=vpn.t7004.test"; san = [ "vpn.t7004.test" ]; }
);
EOF
  "$PKILAB" build "$1/lab.cfg" >"$1/build.log" 2>&1
}
check "pkilab build: the genuine lab" mklab "$T/good" ""
check "pkilab build: the impostor lab (same names, other keys)" mklab "$T/evil" ",
  { name = \"rogue-ca\"; template = \"intermediate-ca\"; issuer = \"root\"; subject = \"C=CH, O=pkilab Test, CN=t7004 Rogue CA\"; },
  { name = \"evil-root\"; template = \"root-ca\"; subject = \"C=CH, O=Evil, CN=t7004 Evil Root\"; }"
GP=$T/good/pki/publish EP=$T/evil/pki/publish
if [ ! -f "$GP/aia/vpn-ca.crt" ] || [ ! -f "$EP/aia/rogue-ca.crt" ]; then
  cat "$T/good/build.log" "$T/evil/build.log"; finish; exit 1
fi
# The genuine root under another name: signed by the trusted key, but a root.
cp "$GP/aia/root.crt" "$EP/aia/root-copy.crt"
check "the impostor's vpn-ca differs from the genuine one" sh -c "! cmp -s '$GP/aia/vpn-ca.crt' '$EP/aia/vpn-ca.crt'"
check "... and has the same subject (an impostor, not just another CA)" test \
  "$(openssl x509 -inform DER -in "$GP/aia/vpn-ca.crt" -noout -subject)" = \
  "$(openssl x509 -inform DER -in "$EP/aia/vpn-ca.crt" -noout -subject)"
mkdir -p "$T/trust"; cp "$GP/aia/root.crt" "$T/trust/root.crt"
openssl x509 -inform DER -in "$GP/aia/root.crt" -out "$T/root.pem"

start_cdpd a --publish "$GP" --listen "127.0.0.1:$P"
start_cdpd h --publish "$EP" --listen "127.0.0.2:$P"
start_cdpd m --mirror "$H" --mirror "$A" --trust "$T/trust/root.crt" --listen "127.0.0.3:$P" \
  --mirror-interval 1s --mirror-timeout 2s
for u in "$A" "$H" "$M"; do check "$u answers" wait_http "$u/healthz"; done
hget "$H/aia/rogue-ca.crt"
check "the hostile peer really serves its rogue intermediate" cmp "$T/body" "$EP/aia/rogue-ca.crt"

# Learned: the intermediate below the trusted root, from the primary.
check "mirror learns vpn-ca: /aia/vpn-ca.crt byte-identical to the primary's" \
  same_as "$M/aia/vpn-ca.crt" "$GP/aia/vpn-ca.crt"
check "... served as application/pkix-cert (RFC 2585 §3-4)" test "$(hdr Content-Type)" = application/pkix-cert
hget "$A/aia/vpn-ca.crt"; ea=$(hdr ETag)
hget "$M/aia/vpn-ca.crt"; em=$(hdr ETag)
check "... with the primary's ETag (docs/crl-publication.md)" test -n "$ea" -a "$ea" = "$em"
openssl x509 -inform DER -in "$T/body" -out "$T/learned.pem"
check "openssl: the learned certificate chains to the trusted root" \
  openssl verify -x509_strict -CAfile "$T/root.pem" "$T/learned.pem"
check "mirror serves vpn-ca's CRL, byte-identical to the primary's" \
  same_as "$M/crl/vpn-ca.crl" "$GP/crl/vpn-ca.crl"
check "openssl crl -verify: the served CRL verifies against the learned certificate" \
  sh -c "openssl crl -inform DER -in '$T/body' -CAfile '$T/learned.pem' -verify -noout 2>&1 | grep -q 'verify OK'"
check "mirror serves root's CRL (configured CA)" same_as "$M/crl/root.crl" "$GP/crl/root.crl"
check "mirror log: vpn-ca learned from the primary" \
  grep -q "aia 'vpn-ca': learned CA certificate from $A/aia/vpn-ca.crt" "$T/m.log"
check "mirror log: vpn-ca's CRL accepted from the primary" \
  grep -q "crl 'vpn-ca': CRL number .* from $A/crl/vpn-ca.crl" "$T/m.log"

sleep 2.5   # two more rounds: the hostile peer gets every chance
hget "$M/aia/vpn-ca.crt"
check "the impostor vpn-ca never replaced the learned one" cmp "$T/body" "$GP/aia/vpn-ca.crt"
hget "$M/crl/vpn-ca.crl"
check "the impostor vpn-ca's CRL is never served" cmp "$T/body" "$GP/crl/vpn-ca.crl"
hget "$M/aia/root.crt"
check "a peer never replaces a configured CA: /aia/root.crt is the trusted root" cmp "$T/body" "$GP/aia/root.crt"
for n in rogue-ca evil-root root-copy; do
  hget "$M/aia/$n.crt"
  check "refused: /aia/$n.crt is 404 on the mirror" test "$CODE" = 404
  hget "$M/crl/$n.crl"
  check "refused: /crl/$n.crl is 404 on the mirror" test "$CODE" = 404
done
check "log: the impostor vpn-ca refused, not issued by the trusted root" grep -q \
  "mirror: $H/aia/vpn-ca.crt: CA certificate refused (untrusted): not issued by trusted CA 'root'" "$T/m.log"
check "log: the rogue intermediate refused, not issued by the trusted root" grep -q \
  "mirror: $H/aia/rogue-ca.crt: CA certificate refused (untrusted): not issued by trusted CA 'root'" "$T/m.log"
check "log: another root under a configured CA's name refused as a conflict" grep -q \
  "mirror: $H/aia/root.crt: CA certificate refused (conflict): a different certificate is configured for 'root'" "$T/m.log"
check "log: a new root refused (self-issued)" grep -q \
  "mirror: $H/aia/evil-root.crt: CA certificate refused (untrusted): self-issued" "$T/m.log"
check "log: the trusted root renamed is still a root: refused" grep -q \
  "mirror: $H/aia/root-copy.crt: CA certificate refused (untrusted): self-issued" "$T/m.log"
check "log: each refusal once, not every round" \
  test "$(grep -c "$H/aia/rogue-ca.crt: CA certificate refused" "$T/m.log")" = 1
check "the hostile peer was never asked for a refused CA's CRL" \
  not_contains "$(cat "$T/h.log")" "GET /crl/rogue-ca.crl"
check "the mirror asked the peers with If-None-Match (304 on /aia/)" \
  grep -q '"GET /aia/vpn-ca.crt" 304' "$T/a.log"

hget "$M/healthz"
check "mirror healthy: its CAs have good CRLs (refusals are warnings)" test "$CODE" = 200
cp "$T/body" "$T/health.json"
check "/healthz lists vpn-ca with its CRL" \
  sh -c "jq -e '.cas[] | select(.name == \"vpn-ca\" and .ok == true)' '$T/health.json' >/dev/null"
check "/healthz warnings: the rogue intermediate with its reason" \
  sh -c "jq -e '.warnings[] | select(.ca == \"rogue-ca\" and (.message | test(\"refused .untrusted.\")))' '$T/health.json' >/dev/null"
check "/healthz warnings: the conflict under root" \
  sh -c "jq -e '.warnings[] | select(.ca == \"root\" and (.message | test(\"refused .conflict.\")))' '$T/health.json' >/dev/null"
check "/healthz: no refusal is a problem" \
  sh -c "jq -e '.problems | length == 0' '$T/health.json' >/dev/null"
hget "$M/metrics"
check "metrics: rejected pulls counted for the hostile peer" \
  grep -q "pkilab_cdpd_mirror_pulls_total{peer=\"$H\",outcome=\"rejected\"} [1-9]" "$T/body"
check "metrics: accepted pulls counted for the primary" \
  grep -q "pkilab_cdpd_mirror_pulls_total{peer=\"$A\",outcome=\"accepted\"} [1-9]" "$T/body"
check "metrics: vpn-ca's CRL number exported" grep -q 'pkilab_cdpd_crl_number{ca="vpn-ca"}' "$T/body"

# A peer listing many CA names and answering each slowly (0.6 s, under the
# 1 s mirror_timeout) does not hold back the peer after it: the CA phase of
# one peer is bounded by about one mirror_timeout per round. 250 names (the
# most a mirror reads is 256) take 150 s to walk, far beyond the bound of the
# waits below (PKL_WAIT, 60 s): a mirror that walked them all first fails.
S=$(free_port)
perl -MIO::Socket::INET -e '
  my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die;
  my $j = "{\"cas\": [" . join(",", map { "{\"name\": \"slow$_\"}" } 1..250) . "]}";
  alarm 900;
  while (my $c = $s->accept) {
    my $req = ""; while (my $l = <$c>) { $req .= $l; last if $l =~ /^\r?\n$/ }
    if ($req =~ m{^GET /healthz }) { print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($j) . "\r\nConnection: close\r\n\r\n$j" }
    else { select(undef, undef, undef, 0.6); print $c "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" }
    close $c;
  }' "$S" &
at_exit "kill $! 2>/dev/null"
K=$(free_port)
start_cdpd k --mirror "http://127.0.0.1:$S" --mirror "$A" --trust "$T/trust/root.crt" \
  --listen "127.0.0.1:$K" --mirror-interval 1s --mirror-timeout 1s
check "behind a slow peer listing 250 CAs, vpn-ca is learned from the next peer" \
  same_as "http://127.0.0.1:$K/aia/vpn-ca.crt" "$GP/aia/vpn-ca.crt"
check "... and its CRL served" same_as "http://127.0.0.1:$K/crl/vpn-ca.crl" "$GP/crl/vpn-ca.crl"
stop_cdpd k; check "k: clean exit on SIGTERM" test $? = 0

# The primary goes away; a reload from disk keeps what was learned.
stop_cdpd a
kill -HUP "$(cat "$T/m.pid")"
check "mirror reloaded on SIGHUP" wait_log m "SIGHUP: reloading"
sleep 1.2
hget "$M/aia/vpn-ca.crt"
check "after the reload: vpn-ca still served (learned CAs survive reloads)" cmp "$T/body" "$GP/aia/vpn-ca.crt"
hget "$M/crl/vpn-ca.crl"
check "after the reload: vpn-ca's CRL still served" cmp "$T/body" "$GP/crl/vpn-ca.crl"
hget "$M/healthz"
check "after the reload: still healthy" test "$CODE" = 200

# A chain of mirrors: a second mirror trusting only the root learns vpn-ca
# from the first mirror (which serves what it learned).
start_cdpd m2 --mirror "$M" --trust "$T/trust/root.crt" --listen "127.0.0.1:$P" --mirror-interval 1s
check "second mirror learns vpn-ca from the first" same_as "$A/aia/vpn-ca.crt" "$GP/aia/vpn-ca.crt"
check "... and its CRL" same_as "$A/crl/vpn-ca.crl" "$GP/crl/vpn-ca.crl"

for s in m2 m h; do stop_cdpd $s; check "$s: clean exit on SIGTERM" test $? = 0; done
finish
