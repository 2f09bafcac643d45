#!/bin/sh
# pkilab-cdpd says when it serves nothing (README, "Health, metrics, logs"):
# a publish directory with no CRL in crl/ and no CA certificate in aia/ is a
# warning naming it, at start and at the reload that empties it, with the
# likely right path when it holds a publish/ (the PKI directory given instead
# of pki/publish, README "The PKI directory"); /healthz answers 503 while no
# CA is served. A mirror waiting for its first pull says so at info level and
# in /healthz, and logs no error before that pull; a CA the first pull left
# without a CRL is an error from then on (README, "Mirror mode").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

# A PKI directory as pkilab lays it out: what is served is in pki/publish.
mkdir -p "$T/pki" "$T/empty"
pub_ca "$T/pki/publish" "$T/root" root 1 || exit 1

# ---- --publish PKI instead of --publish PKI/publish
P=$(free_port) B=http://127.0.0.1:$P
serve_cdpd "--publish pki: the server answers" a "$B" --publish "$T/pki" --listen "127.0.0.1:$P"
check "--publish pki: a warning names the directory and the right path" \
  wait_log a "warning: $T/pki: no CRL in crl/ and no CA certificate in aia/: this publish directory serves nothing (did you mean $T/pki/publish?)"
check "--publish pki: one warning line, not one per subdirectory" test "$(grep -c 'serves nothing' "$T/a.log")" = 1
hget "$B/healthz"; cp "$T/body" "$T/h1.json"
check "--publish pki: /healthz 503 while no CA is served (was 200 ok)" test "$CODE" = 503
check "--publish pki: /healthz says why" grep -q '"message": "no CA is served: no CA certificate in the trust set' "$T/h1.json"
check "--publish pki: /healthz lists the warning with the right path" grep -q "did you mean $T/pki/publish?" "$T/h1.json"
hget "$B/metrics"
check "--publish pki: /metrics agrees (pkilab_cdpd_healthy 0)" grep -q '^pkilab_cdpd_healthy 0$' "$T/body"
hget "$B/"
check "--publish pki: the status page says FAILING" grep -q "FAILING" "$T/body"

# The directory gains content: served, healthy, no warning; emptied again at
# a reload: the warning is logged again.
cp -R "$T/pki/publish/crl" "$T/pki/publish/aia" "$T/pki/"
check "content added: a reload takes it" cdpd_reload "$B" "$(cat "$T/a.pid")"
check "content added: root's CRL served" same_as "$B/crl/root.crl" "$T/pki/publish/crl/root.crl"
hget "$B/healthz"; cp "$T/body" "$T/h2.json"
check "content added: /healthz 200" test "$CODE" = 200
check "content added: the warning is gone from /healthz" sh -c '! grep -q "serves nothing" "$1"' _ "$T/h2.json"
rm -r "$T/pki/crl" "$T/pki/aia"
check "emptied again: a reload" cdpd_reload "$B" "$(cat "$T/a.pid")"
check "emptied again: the warning is logged again at that reload" \
  until_ok sh -c '[ "$(grep -c "warning: .*serves nothing (did you mean" "$1")" = 2 ]' _ "$T/a.log"

# ---- an empty directory (no publish/ inside), then removed; one beside a good one
P2=$(free_port) B2=http://127.0.0.1:$P2
mkdir -p "$T/gone"
serve_cdpd "empty publish dirs: the server answers" b "$B2" --publish "$T/empty" --publish "$T/gone" \
  --listen "127.0.0.1:$P2"
check "empty directory: a warning naming it, no 'did you mean'" \
  wait_log b "warning: $T/empty: no CRL in crl/ and no CA certificate in aia/: this publish directory serves nothing$"
hget "$B2/healthz"
check "empty: /healthz 503" test "$CODE" = 503
check "empty: /healthz says no CA is served" grep -q "no CA is served" "$T/body"
rmdir "$T/gone"
check "a publish dir removed: a reload" cdpd_reload "$B2" "$(cat "$T/b.pid")"
check "a publish dir removed: the warning says so" \
  wait_log b "warning: $T/gone: publish directory does not exist: it serves nothing$"
P3=$(free_port) B3=http://127.0.0.1:$P3
serve_cdpd "a good publish dir beside an empty one: the server answers" c "$B3" \
  --publish "$T/pki/publish" --publish "$T/empty" --listen "127.0.0.1:$P3"
hget "$B3/healthz"; cp "$T/body" "$T/h3.json"
check "good beside empty: /healthz 200 (the empty one is a warning)" test "$CODE" = 200
check "good beside empty: the warning names only the empty one" \
  sh -c 'grep -q "\"source\": \"$2\"" "$1" && ! grep -q "\"source\": \"$3\"," "$1"' _ "$T/h3.json" "$T/empty" "$T/pki/publish"

# ---- a mirror waiting for its first pull
PP=$(free_port) PM=$(free_port)
A=http://127.0.0.1:$PP M=http://127.0.0.1:$PM
mkca "$T/other" other || exit 1
mkdir -p "$T/trust"
cp "$T/root/ca.pem" "$T/trust/root.pem"; cp "$T/other/ca.pem" "$T/trust/other.pem"
# The peer is not up yet; one round an hour: pulls happen at start and on SIGHUP.
serve_cdpd "mirror: answers before its peer is up" m "$M" --mirror "$A" --trust "$T/trust/root.pem" \
  --listen "127.0.0.1:$PM" --mirror-interval 1h
check "mirror: says at info level that it waits for the first pull" wait_log m "info: .*waiting for the first pull"
check "mirror: the peer is tried (and is down)" wait_log m "warning: mirror: $A/.*peer unreachable"
hget "$M/healthz"; cp "$T/body" "$T/h4.json"
check "mirror before the first pull: /healthz 503" test "$CODE" = 503
check "mirror before the first pull: /healthz says 'waiting for the first pull'" \
  grep -q '"reason": "waiting for the first pull"' "$T/h4.json"
check "mirror before the first pull: no error logged" sh -c '! grep "error:" "$1"' _ "$T/m.log"
start_cdpd p --publish "$T/pki/publish" --listen "127.0.0.1:$PP"
check "peer answers" wait_http "$A/healthz"
kill -HUP "$(cat "$T/m.pid")"
check "mirror: the first pull brings root's CRL" same_as "$M/crl/root.crl" "$T/pki/publish/crl/root.crl"
check "mirror: logs the first pull" wait_log m "info: mirror: first pull done"
hget "$M/healthz"
check "mirror after the first pull: /healthz 200" test "$CODE" = 200
check "mirror after the first pull: still no error logged" sh -c '! grep "error:" "$1"' _ "$T/m.log"

# A CA the peer does not serve: waiting before the first pull, an error after.
PN=$(free_port) N=http://127.0.0.1:$PN
serve_cdpd "mirror trusting a CA its peer lacks: answers" n "$N" --mirror "$A" \
  --trust "$T/trust/other.pem" --listen "127.0.0.1:$PN" --mirror-interval 1h
check "CA the peer lacks: after the first pull, an error names it" \
  wait_log n "error: other: no valid CRL to serve"
check "CA the peer lacks: the error follows the first pull, not before" \
  sh -c 'grep -n "first pull done\|error:" "$1" | head -n 1 | grep -q "first pull done"' _ "$T/n.log"
hget "$N/healthz"
check "CA the peer lacks: /healthz 503" test "$CODE" = 503
check "CA the peer lacks: /healthz reason 'no valid CRL in service'" grep -q '"reason": "no valid CRL in service"' "$T/body"
finish
