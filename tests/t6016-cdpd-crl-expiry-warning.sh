#!/bin/sh
# A CRL that is already expired, or expires within health_margin, when the
# server starts or reloads is a warning in the log and in /healthz (which
# answers 503 for it), not only an info line "serving CRL".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

mkdir -p "$T/pub/crl" "$T/pub/aia"
mkca "$T/old" old || exit 1
mkca "$T/soon" soon || exit 1
mkca "$T/good" good || exit 1
for c in old soon good; do cp "$T/$c/ca.der" "$T/pub/aia/$c.crt"; done
# Expired an hour ago (openssl picks the dates, independently of the server).
echo 01 >"$T/old/crlnumber"
openssl ca -config "$T/old/ca.cnf" -gencrl -crl_lastupdate "$(date -u -d '-2 days' +%y%m%d%H%M%SZ)" \
  -crl_nextupdate "$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)" -out "$T/old.pem" 2>/dev/null || exit 1
openssl crl -in "$T/old.pem" -outform DER -out "$T/pub/crl/old.crl"
mkcrl "$T/soon" 1 "$T/pub/crl/soon.crl" "" 2 || exit 1   # nextUpdate in 2 hours
mkcrl "$T/good" 1 "$T/pub/crl/good.crl" 30 || exit 1

P=$(free_port)
B=http://127.0.0.1:$P
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P" --health-margin 1d
check "start: the expired CRL is a warning in the log" grep -q "warning: old: .*old.crl: CRL number 1 expired at" "$T/srv.log"
check "start: the CRL expiring within health_margin is a warning in the log" grep -q "warning: soon: .*soon.crl: CRL number 1 expires at .*within health_margin" "$T/srv.log"
check "start: no warning for the CRL far from nextUpdate" not_contains "$(grep warning "$T/srv.log")" "good.crl"
hget "$B/healthz"
check "/healthz: 503" test "$CODE" = 503
check "/healthz: a warning for the expired CRL" grep -q "CRL number 1 expired at" "$T/body"
check "/healthz: a warning for the CRL expiring soon" grep -q "CRL number 1 expires at .*within health_margin" "$T/body"
hget "$B/crl/old.crl"
check "the expired CRL is still served (the last one there is)" test "$CODE" = 200

# Reload: a replacement that expires soon is news too.
mkcrl "$T/good" 2 "$T/good2.der" "" 3 || exit 1
cp "$T/good2.der" "$T/pub/crl/good.crl"
kill -HUP "$(cat "$T/srv.pid")"
check "reload: the new CRL expiring within health_margin is a warning in the log" \
  wait_log srv "warning: good: .*good.crl: CRL number 2 expires at .*within health_margin" 300
stop_cdpd srv; rc=$?
check "SIGTERM: exit 0" test "$rc" = 0
finish
