#!/bin/sh
# pkilab-cdpd serving: every header and status of cdpd's routes (cdp-server/routes.c), with
# curl as the client and openssl as the independent source of truth
# (RFC 2585 §3-4, RFC 9110, docs/crl-publication.md "HTTP caching").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

mkdir -p "$T/pub/crl" "$T/pub/aia"
mkca "$T/root" root || { echo "fixture: mkca failed"; exit 1; }
mkca "$T/short" short || exit 1
cp "$T/root/ca.der" "$T/pub/aia/root.crt"
cp "$T/short/ca.der" "$T/pub/aia/short.crt"
mkcrl "$T/root" 7 "$T/pub/crl/root.crl" 7 || exit 1
mkcrl "$T/short" 1 "$T/pub/crl/short.crl" "" 1 || exit 1   # nextUpdate in 1 hour

P=$(free_port)
B=http://127.0.0.1:$P
# --header-timeout 5m: the slow-client checks below are about the idle
# timeout (reset by every byte); the head deadline has its own test (t6009),
# and its 10 s default is what a busy machine could overrun here.
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P" --max-age 1d --timeout 2s \
  --header-timeout 5m --health-margin 10m --log-level info

# --- GET /crl/<ca>.crl -------------------------------------------------------
# Last-Modified is not sent while it would be later than Date (it is at
# least the second after the start: see t6014); wait for it, bounded.
for _i in $(seq 1 100); do hget "$B/crl/root.crl"; [ -n "$(hdr Last-Modified)" ] && break; sleep 0.1; done
check "GET crl: 200" test "$CODE" = 200
check "GET crl: body is the published DER, byte for byte (RFC 5280 §4.2.1.13)" cmp "$T/body" "$T/pub/crl/root.crl"
check "GET crl: body parses as a DER CRL (openssl)" openssl crl -inform DER -in "$T/body" -noout
check "GET crl: Content-Type application/pkix-crl (RFC 2585 §3-4)" test "$(hdr Content-Type)" = "application/pkix-crl"
lu=$(openssl crl -inform DER -in "$T/pub/crl/root.crl" -noout -lastupdate | sed 's/^lastUpdate=//')
nu=$(openssl crl -inform DER -in "$T/pub/crl/root.crl" -noout -nextupdate | sed 's/^nextUpdate=//')
lm=$(hdr Last-Modified)
check "GET crl: Last-Modified = thisUpdate, or the server's start when later, never after Date (docs/crl-publication.md, RFC 9110 8.8.2)" \
  test "$(date -u -d "$lm" +%s)" -ge "$(date -u -d "$lu" +%s)" -a "$(date -u -d "$lm" +%s)" -le "$(date -u -d "$(hdr Date)" +%s)"
check "GET crl: Expires = nextUpdate (docs/crl-publication.md)" test "$(hdr Expires)" = "$(date -u -d "$nu" '+%a, %d %b %Y %H:%M:%S GMT')"
sha=$(sha256sum "$T/pub/crl/root.crl" | cut -d' ' -f1)
check "GET crl: strong ETag = SHA-256 of the content, same on every mirror (docs/crl-publication.md)" test "$(hdr ETag)" = "\"$sha\""
cc=$(hdr Cache-Control)
check "GET crl: Cache-Control public, no-transform, max-age (docs/crl-publication.md; RFC 9110 §9.3.2)" contains "$cc" "public, no-transform, max-age="
ma=$(echo "$cc" | sed 's/.*max-age=//')
check "GET crl: max-age capped by the re-publication interval (--max-age 1d = 86400)" test "$ma" = 86400
check "GET crl: Date header present (RFC 9110 §6.6.1)" test -n "$(hdr Date)"
dd=$(date -u -d "$(hdr Date)" +%s) now=$(date -u +%s)
check "GET crl: Date is now (within 5 s)" test $((now - dd)) -le 5 -a $((dd - now)) -le 5
check "GET crl: keep-alive kept (no Connection: close)" not_contains "$(cat "$HDRS")" "Connection: close"
check "GET crl: no redirect, plain 200 (docs/crl-publication.md)" test -z "$(hdr Location)"

hget "$B/crl/short.crl"
ma=$(hdr Cache-Control | sed 's/.*max-age=//')
check "max-age <= seconds to nextUpdate (1 h CRL, 1 d cap) (docs/crl-publication.md)" test "$ma" -le 3600 -a "$ma" -gt 3500

# --- AIA ---------------------------------------------------------------------
hget "$B/aia/root.crt"
check "GET aia: 200 with the CA certificate DER" cmp "$T/body" "$T/root/ca.der"
check "GET aia: Content-Type application/pkix-cert (RFC 2585 §3-4)" test "$(hdr Content-Type)" = "application/pkix-cert"
check "GET aia: parses as a DER certificate (openssl)" openssl x509 -inform DER -in "$T/body" -noout
check "GET aia: ETag present" test -n "$(hdr ETag)"

# --- HEAD --------------------------------------------------------------------
CODE=$(curl -s --max-time 5 -I -o "$T/hdrs" -w '%{http_code}' "$B/crl/root.crl"); HDRS=$T/hdrs
check "HEAD crl: 200 (RFC 9110 §9.3.2)" test "$CODE" = 200
check "HEAD crl: Content-Length of the GET body" test "$(hdr Content-Length)" = "$(stat -c %s "$T/pub/crl/root.crl")"
check "HEAD crl: same ETag as GET" test "$(hdr ETag)" = "\"$sha\""
n=$(curl -s --max-time 5 -X HEAD "$B/crl/root.crl" 2>/dev/null | wc -c)
check "HEAD crl: no body bytes" test "$n" = 0

# --- conditional requests ----------------------------------------------------
etag="\"$sha\""
hget "$B/crl/root.crl" -H "If-None-Match: $etag"
check "If-None-Match = ETag: 304 (docs/crl-publication.md)" test "$CODE" = 304
check "304 has no body" test ! -s "$T/body"
check "304 repeats ETag and Cache-Control" test "$(hdr ETag)" = "$etag" -a -n "$(hdr Cache-Control)"
hget "$B/crl/root.crl" -H "If-None-Match: \"x\", W/$etag"
check "If-None-Match list with a weak match: 304 (RFC 9110 weak comparison)" test "$CODE" = 304
hget "$B/crl/root.crl" -H "If-None-Match: *"
check "If-None-Match: * : 304" test "$CODE" = 304
hget "$B/crl/root.crl" -H 'If-None-Match: "0000"'
check "If-None-Match mismatch: 200 with body" test "$CODE" = 200 -a -s "$T/body"
hget "$B/crl/root.crl" -H "If-Modified-Since: $lm"
check "If-Modified-Since = Last-Modified: 304" test "$CODE" = 304
hget "$B/crl/root.crl" -H "If-Modified-Since: Thu, 01 Jan 2015 00:00:00 GMT"
check "If-Modified-Since older: 200" test "$CODE" = 200
hget "$B/crl/root.crl" -H 'If-None-Match: "0000"' -H "If-Modified-Since: $lm"
check "If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2): 200" test "$CODE" = 200
hget "$B/crl/root.crl" -H "If-Modified-Since: yesterday"
check "malformed If-Modified-Since ignored: 200" test "$CODE" = 200

# --- methods -----------------------------------------------------------------
for m in POST PUT DELETE OPTIONS PATCH TRACE FOO; do
  hget "$B/crl/root.crl" -X "$m"
  check "$m: 405 (RFC 9110 §9.3.2)" test "$CODE" = 405
  check "$m: Allow: GET, HEAD" test "$(hdr Allow)" = "GET, HEAD"
done
hget "$B/crl/root.crl" --data-binary 'x=1' -X GET
check "GET with a body: 400" test "$CODE" = 400

# --- 404 and hostile paths ---------------------------------------------------
for u in /crl/nope.crl /crl/root.pem /crl/.root.crl /crl/root.crl/ /CRL/root.crl /crl/ /crl/.crl \
         /aia/root.crl /crl/root.crt /crl/%2e%2e.crl "/crl/..%2froot.crl" /crl/root%2ecrl \
         "/crl/root.crl%00" "/crl/root.crl%00.txt" "/crl/%2e%2e%2f%2e%2e%2fetc%2fpasswd.crl" \
         /favicon.ico /healthz/ /index.html "/crl/$(printf 'a%.0s' $(seq 1 65)).crl"; do
  hget "$B$u" --path-as-is
  check "404 for $u" test "$CODE" = 404
done
for u in /crl/../aia/root.crt /crl/../../../../etc/passwd /aia/../crl/root.crl /./crl/root.crl; do
  hget "$B$u" --path-as-is
  check "dot segments not resolved: 404 for $u" test "$CODE" = 404
done
hget "$B/crl/root.crl?cachebust=1"
check "query string ignored: 200 with the CRL" cmp "$T/body" "$T/pub/crl/root.crl"
hget "$B/crl/$(printf 'a%.0s' $(seq 1 64)).crl"
check "64-character name is syntactically valid (404: not in the catalog)" test "$CODE" = 404

# Raw requests: what curl will not send.
# libmicrohttpd 0.9.75 hands the URL over as a C string, so a raw NUL ends it:
# the worst it can do is name an existing entry. Anything after it never reaches a lookup.
r=$(rawreq 127.0.0.1 "$P" 'GET /crl/x.crl\0/../root.crl HTTP/1.1\r\nHost: x\r\n\r\n')
check "raw NUL in the request line: what follows it is never routed (404/400, not 200) ($r)" test "$r" != "HTTP/1.1 200 OK"
r=$(rawreq 127.0.0.1 "$P" 'GET /aia/root.crt\0.crl HTTP/1.1\r\nHost: x\r\n\r\n')
check "raw NUL: no CRL served for a certificate path ($r)" test "$r" != "" 
r=$(rawreq 127.0.0.1 "$P" "GET /crl/$(head -c 20000 /dev/zero | tr '\0' a).crl HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
check "overlong URL (20 KB): 414/431/400 ($r)" contains "414 431 400" "$(echo "$r" | cut -d' ' -f2)"
r=$(rawreq 127.0.0.1 "$P" "GET /crl/root.crl HTTP/1.1\\r\\nHost: x\\r\\nX-Big: $(head -c 20000 /dev/zero | tr '\0' a)\\r\\n\\r\\n")
check "oversized header (20 KB): 431/400/413 ($r)" contains "431 400 413" "$(echo "$r" | cut -d' ' -f2)"
r=$(rawreq 127.0.0.1 "$P" 'GET /crl/root.crl HTTP/1.1\r\n\r\n')
check "HTTP/1.1 without Host: 400 ($r)" contains "$r" " 400"
r=$(rawreq 127.0.0.1 "$P" 'HELLO\r\n\r\n')
check "garbage request line: 400 or closed ($r)" test "$r" != "HTTP/1.1 200 OK"
r=$(rawreq 127.0.0.1 "$P" 'G\tET /crl/root.crl HTTP/1.1\r\nHost: x\r\n\r\n')
check "malformed method token: not 200 ($r)" test "$r" != "HTTP/1.1 200 OK"
r=$(rawreq 127.0.0.1 "$P" 'GET /crl/root.crl HTTP/1.0\r\n\r\n')
check "HTTP/1.0 without Host: 200" contains "$r" " 200"

# --- slow and idle clients ---------------------------------------------------
# The slow client sends about 250 bytes, 40 ms apart (10 s): another client
# is answered while it is still sending its headers (an order of events,
# not a speed).
rawreq 127.0.0.1 "$P" "GET /crl/root.crl HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: $(printf 'a%.0s' $(seq 1 200))\\r\\n\\r\\n" 0.04 >"$T/slow.out" &
slow=$!
sleep 0.5
hget "$B/crl/root.crl"
check "a client sending headers a byte at a time does not delay others (200 while it still sends)" \
  sh -c '[ "$1" = 200 ] && kill -0 "$2" && [ ! -s "$3" ]' _ "$CODE" "$slow" "$T/slow.out"
wait "$slow"
check "the slow client (1 byte / 40 ms, under the idle timeout) is still answered" contains "$(cat "$T/slow.out")" " 200"
r=$(rawreq 127.0.0.1 "$P" 'GET /crl/root.crl HTTP/1.1\r\nHo')
check "a stalled client is disconnected by the idle timeout (2 s), not answered ($r)" test "$r" = closed

# --- operations routes -------------------------------------------------------
hget "$B/healthz"
check "/healthz: 200 when every CRL is valid and outside the margin" test "$CODE" = 200
check "/healthz: JSON with status ok" contains "$(cat "$T/body")" '"status": "ok"'
check "/healthz: valid JSON (jq-free: python-free check with openssl-free grep of braces)" \
  test "$(head -c 1 "$T/body")" = "{"
hget "$B/metrics"
check "/metrics: 200" test "$CODE" = 200
check "/metrics: Prometheus text content type" contains "$(hdr Content-Type)" "text/plain; version=0.0.4"
check "/metrics: CRL number per CA" contains "$(cat "$T/body")" 'pkilab_cdpd_crl_number{ca="root"} 7'
check "/metrics: revoked count per CA" contains "$(cat "$T/body")" 'pkilab_cdpd_crl_revoked{ca="root"} 0'
check "/metrics: bytes per CA" contains "$(cat "$T/body")" "pkilab_cdpd_crl_bytes{ca=\"root\"} $(stat -c %s "$T/pub/crl/root.crl")"
check "/metrics: requests by route and status" contains "$(cat "$T/body")" 'pkilab_cdpd_requests_total{route="crl",status="304"}'
# 7 methods above; 'G\tET' is no token: 400 (RFC 9110 9.1, t6010).
check "/metrics: 405s counted" contains "$(cat "$T/body")" 'pkilab_cdpd_requests_total{route="crl",status="405"} 7'
hget "$B/"
check "/: 200 HTML status page" test "$CODE" = 200 -a "$(hdr Content-Type)" = "text/html; charset=utf-8"
check "/: names each CA with its CRL number" contains "$(cat "$T/body")" "<td>root</td><td><a href=\"/crl/root.crl\">root.crl</a></td><td>7</td>"
check "/: no JavaScript" not_contains "$(cat "$T/body")" "<script"

# --- access log --------------------------------------------------------------
check "access log: one line per request, with status" wait_log srv '"GET /crl/nope.crl" 404'
check "access log: hostile bytes escaped, one line" wait_log srv 'GET /crl/root.crl%00.txt" 404'
check "access log: HEAD logged" wait_log srv '"HEAD /crl/root.crl" 200'

stop_cdpd srv; rc=$?
check "SIGTERM: clean exit 0" test "$rc" = 0
check "SIGTERM: logged" grep -q "SIGTERM: stopping" "$T/srv.log"
finish
