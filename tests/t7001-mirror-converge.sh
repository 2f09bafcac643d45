#!/bin/sh
# Redundancy (docs/crl-publication.md): a primary on 127.0.0.1 and two
# mirrors on 127.0.0.2 and 127.0.0.3 (the second chained through the first).
# Mirrors converge on a new CRL with byte-identical bodies and the same ETag;
# with the primary killed they keep serving, stay healthy, and report the peer
# as down; the dead address refuses at once (fail fast, docs/crl-publication.md); a restarted
# primary is followed again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

ip addr show lo 2>/dev/null | grep -q '127.0.0.1/8' || skip_all "loopback is not 127.0.0.0/8"
mkdir -p "$T/pub/crl" "$T/pub/aia" "$T/trust"
mkca "$T/root" root || exit 1
mkca "$T/sub" sub "$T/root" || exit 1
cp "$T/root/ca.der" "$T/pub/aia/root.crt"; cp "$T/sub/ca.der" "$T/pub/aia/sub.crt"
cp "$T/root/ca.pem" "$T/trust/root.pem"; cp "$T/sub/ca.der" "$T/trust/sub.crt"
mkcrl "$T/root" 1 "$T/pub/crl/root.crl" || exit 1
mkcrl "$T/sub" 10 "$T/pub/crl/sub.crl" || exit 1

P=$(free_port_all)
A=http://127.0.0.1:$P B=http://127.0.0.2:$P C=http://127.0.0.3:$P
start_cdpd a --publish "$T/pub" --listen "127.0.0.1:$P"
start_cdpd b --mirror "$A" --trust "$T/trust" --listen "127.0.0.2:$P" --mirror-interval 1s --mirror-timeout 2s
start_cdpd c --mirror "$A" --mirror "$B" --trust "$T/trust/root.pem" --trust "$T/trust/sub.crt" \
  --listen "127.0.0.3:$P" --mirror-interval 1s --mirror-timeout 2s
check "primary answers" wait_http "$A/healthz"
check "mirror b answers" wait_http "$B/healthz"
check "mirror c answers" wait_http "$C/healthz"

check "b mirrors root's CRL 1" same_as "$B/crl/root.crl" "$T/pub/crl/root.crl"
check "b mirrors sub's CRL 10" same_as "$B/crl/sub.crl" "$T/pub/crl/sub.crl"
check "c mirrors root's CRL 1" same_as "$C/crl/root.crl" "$T/pub/crl/root.crl"
check "b serves the trusted CA certificate (DER) at /aia/" same_as "$B/aia/root.crt" "$T/root/ca.der"
hget "$A/crl/root.crl"; ea=$(hdr ETag)
hget "$B/crl/root.crl"; eb=$(hdr ETag)
hget "$C/crl/root.crl"; ec=$(hdr ETag)
check "every instance emits the same ETag (docs/crl-publication.md, X8)" test -n "$ea" -a "$ea" = "$eb" -a "$eb" = "$ec"
hget "$B/healthz"
check "mirror b healthy once converged" test "$CODE" = 200

# The primary publishes CRL 2: the mirrors follow.
mkcrl "$T/root" 2 "$T/crl2.der" || exit 1
cp "$T/crl2.der" "$T/pub/crl/.t" && mv "$T/pub/crl/.t" "$T/pub/crl/root.crl"
check "primary serves CRL 2" same_as "$A/crl/root.crl" "$T/crl2.der"
t0=$(date +%s)
check "b converges on CRL 2" same_as "$B/crl/root.crl" "$T/crl2.der"
check "c converges on CRL 2" same_as "$C/crl/root.crl" "$T/crl2.der"
echo "# converged in about $(($(date +%s) - t0)) s (a figure, not a check)"
check "b logged the new CRL with its source" wait_log b "crl 'root': CRL number 2 from $A/crl/root.crl replaces 1"
# Unchanged CRLs are pulled again at each round (1 s apart): the 304s are
# polled for (bounded), not expected after a guessed delay.
metrics_has() { hget "$B/metrics"; grep -q -- "$1" "$T/body"; }
check "b metrics: accepted pulls counted" metrics_has "pkilab_cdpd_mirror_pulls_total{peer=\"$A\",outcome=\"accepted\"} [1-9]"
check "b metrics: conditional requests answered 304" until_ok metrics_has "pkilab_cdpd_mirror_pulls_total{peer=\"$A\",outcome=\"not_modified\"} [1-9]"
check "b metrics: CRL number 2" metrics_has 'pkilab_cdpd_crl_number{ca="root"} 2'
check "primary log: mirrors sent If-None-Match (304s seen)" wait_log a "\"GET /crl/[a-z]*.crl\" 304"

# The primary dies: mirrors keep serving and stay healthy; the peer shows down.
kill_cdpd a
curl -s --max-time 20 -o /dev/null "$A/crl/root.crl"; rc=$?
check "dead primary refuses the connection (curl exit 7), not a hang (28) ($rc)" test "$rc" = 7
# The mirrors notice at their next pull round (1 s apart): polled, bounded.
check "primary killed: b /healthz warns the peer is unreachable" until_ok health_has "$B" "peer unreachable"
hget "$B/crl/root.crl"
check "primary killed: b still serves CRL 2" cmp "$T/body" "$T/crl2.der"
hget "$C/crl/root.crl"
check "primary killed: c still serves CRL 2" cmp "$T/body" "$T/crl2.der"
hget "$C/crl/sub.crl"
check "primary killed: c still serves sub's CRL" cmp "$T/body" "$T/pub/crl/sub.crl"
hget "$B/healthz"
check "primary killed: b /healthz still 200 (it serves good CRLs)" test "$CODE" = 200
hget "$B/"
check "primary killed: b status page shows the peer DOWN" contains "$(cat "$T/body")" ">DOWN<"
hget "$B/metrics"
check "primary killed: b metrics peer_up 0" grep -q "pkilab_cdpd_peer_up{peer=\"$A\"} 0" "$T/body"
check "primary killed: b logged the failed pulls" wait_log b "mirror: $A/crl/.*peer unreachable"

# The primary comes back with CRL 3: mirrors follow again.
mkcrl "$T/root" 3 "$T/crl3.der" || exit 1
cp "$T/crl3.der" "$T/pub/crl/root.crl"
serve_cdpd "primary restarted" a2 "$A" --publish "$T/pub" --listen "127.0.0.1:$P"
check "b follows the restarted primary to CRL 3" same_as "$B/crl/root.crl" "$T/crl3.der"
check "c follows to CRL 3" same_as "$C/crl/root.crl" "$T/crl3.der"
health_clear() { hget "$B/healthz"; not_contains "$(cat "$T/body")" "peer unreachable"; }
check "b: the peer warning clears" until_ok health_clear

for s in a2 b c; do stop_cdpd $s; check "$s: clean exit on SIGTERM" test $? = 0; done
finish
