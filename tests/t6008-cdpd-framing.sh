#!/bin/sh
# pkilab-cdpd refuses request framing that RFC 9112 says to reject, with 400
# and Connection: close, and never parses what follows as another request
# (request smuggling, RFC 9112 section 11.2):
#   - Content-Length values that differ (RFC 9112 6.3 item 5)
#   - Content-Length together with Transfer-Encoding (RFC 9112 6.1)
#   - two Host lines, or none in HTTP/1.1 (RFC 9112 3.2)
#   - a raw NUL or a space in the request target, an invalid request line
#     (RFC 9112 3, 3.2; RFC 9110 5.5)
#   - whitespace between a field name and its colon, obs-fold (RFC 9112 5.1, 5.2)
#   - NUL or CR inside a field value (RFC 9110 5.5)
#   - a GET or HEAD that declares a body (RFC 9110 9.3.1): answered at the
#     headers, the body is never read
# Every case sends raw bytes; the pipelined request after the bad one asks for
# /crl/smuggled.crl, which must not appear in the access log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

chmod 755 "$T"
pub_ca "$T/pub" "$T/root" root 1 || exit 1

P=$(free_port)
serve_cdpd "server answers" srv "http://127.0.0.1:$P" --publish "$T/pub" --listen "127.0.0.1:$P" --threads 2

H='Host: cdp.test\r\n'
NEXT='GET /crl/smuggled.crl HTTP/1.1\r\nHost: cdp.test\r\n\r\n'
refused() { # what bytes
  answered "$1: 400, Connection: close, closed, nothing after it parsed" "400 close eof" "$2"
}

# --- controls: well-formed requests keep working -----------------------------
answered "control: two pipelined GETs, two 200s, kept alive" "200,200 - open" "GET /crl/root.crl HTTP/1.1\\r\\n$H\\r\\nGET /aia/root.crt HTTP/1.1\\r\\n$H\\r\\n" 1
answered "control: GET with Content-Length: 0 is no body: 200, then the next request" "200,404 - open" "GET /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 0\\r\\n\\r\\nGET /crl/next.crl HTTP/1.1\\r\\n$H\\r\\n" 1
answered "control: identical duplicate Content-Length (RFC 9112 6.3 allows one value): 200" "200 - open" "GET /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 0\\r\\nContent-Length: 0\\r\\n\\r\\n" 1
answered "control: HTTP/1.0 without Host: 200" "200 close eof" 'GET /crl/root.crl HTTP/1.0\r\n\r\n'
answered "control: query string, empty field, OWS around a value: 200" "200 - open" "GET /crl/root.crl?x=1&y=%41 HTTP/1.1\\r\\n${H}X-Empty:\\r\\nAccept:\\t*/* \\t\\r\\n\\r\\n" 1
answered "control: bare LF line ends (RFC 9112 2.2 lets a server accept them): 200" "200 - open" 'GET /crl/root.crl HTTP/1.1\nHost: cdp.test\n\n' 1

# --- Content-Length / Transfer-Encoding ---------------------------------------
refused "differing duplicate Content-Length (0, then 5)" \
  "GET /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 0\\r\\nContent-Length: 5\\r\\n\\r\\n$NEXT"
refused "differing duplicate Content-Length (5, then 0)" \
  "GET /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 5\\r\\nContent-Length: 0\\r\\n\\r\\n$NEXT"
refused "Content-Length with Transfer-Encoding" \
  "GET /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 5\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n$NEXT"
refused "Transfer-Encoding with Content-Length on a POST" \
  "POST /crl/root.crl HTTP/1.1\\r\\n${H}Transfer-Encoding: chunked\\r\\nContent-Length: 3\\r\\n\\r\\n0\\r\\n\\r\\n$NEXT"
refused "GET declaring a chunked body" \
  "GET /crl/root.crl HTTP/1.1\\r\\n${H}Transfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n$NEXT"
refused "GET declaring a body of 3 bytes (the body is never read)" \
  "GET /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 3\\r\\n\\r\\nabc$NEXT"
refused "HEAD declaring a body" \
  "HEAD /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 21\\r\\n\\r\\n$NEXT"
answered "GET with a body and Expect: 100-continue: 400 at once, no 100 Continue" "400 close eof" "GET /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 3\\r\\nExpect: 100-continue\\r\\n\\r\\n"
answered "POST with a body: 405 and closed, the body is never read" "405 close eof" "POST /crl/root.crl HTTP/1.1\\r\\n${H}Content-Length: 51\\r\\n\\r\\n$NEXT"

# --- Host ---------------------------------------------------------------------
refused "two Host lines" "GET /crl/root.crl HTTP/1.1\\r\\n${H}Host: other.test\\r\\n\\r\\n$NEXT"
refused "two identical Host lines" "GET /crl/root.crl HTTP/1.1\\r\\n$H$H\\r\\n$NEXT"
refused "HTTP/1.1 without Host" "GET /crl/root.crl HTTP/1.1\\r\\n\\r\\n$NEXT"
refused "Host with an invalid value" "GET /crl/root.crl HTTP/1.1\\r\\nHost: a b/c\\r\\n\\r\\n$NEXT"

# --- request line and target ---------------------------------------------------
refused "raw NUL in the request target (served as the prefix before)" \
  "GET /crl/root.crl\\0junk HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "raw NUL just before the separator" "GET /crl/root.crl\\0 HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "raw NUL before the query" "GET /crl/root.crl\\0?a=1 HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "space in the path" "GET /crl/ro ot.crl HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "two spaces before the version" "GET /crl/root.crl  HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "two spaces after the method" "GET  /crl/root.crl HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "tab in the target" "GET /crl/ro\\tot.crl HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "bare CR in the target" "GET /crl/root.crl\\rx HTTP/1.1\\r\\n$H\\r\\n$NEXT"
refused "raw NUL after the version" "GET /crl/root.crl HTTP/1.1\\0x\\r\\n$H\\r\\n$NEXT"

# --- fields -------------------------------------------------------------------
refused "raw NUL inside a field value" "GET /crl/root.crl HTTP/1.1\\r\\nHost: cdp.test\\0junk\\r\\n\\r\\n$NEXT"
refused "raw NUL inside the last field value" "GET /crl/root.crl HTTP/1.1\\r\\n${H}X-A: b\\0c\\r\\n\\r\\n$NEXT"
refused "bare CR inside a field value" "GET /crl/root.crl HTTP/1.1\\r\\n${H}X-A: b\\rX-B: c\\r\\n\\r\\n$NEXT"
refused "whitespace between field name and colon" "GET /crl/root.crl HTTP/1.1\\r\\nHost : cdp.test\\r\\n\\r\\n$NEXT"
refused "field name that is not a token" "GET /crl/root.crl HTTP/1.1\\r\\n${H}X(a): b\\r\\n\\r\\n$NEXT"
refused "obs-fold (a continuation line)" "GET /crl/root.crl HTTP/1.1\\r\\n${H}X-A: b\\r\\n c\\r\\n\\r\\n$NEXT"
refused "first field line starting with whitespace" "GET /crl/root.crl HTTP/1.1\\r\\n\\tX-A: b\\r\\n$H\\r\\n$NEXT"

# --- nothing smuggled, everything logged ---------------------------------------
check "no smuggled request reached the server" not_contains "$(cat "$T/srv.log")" "smuggled"
check "the refusals are in the access log as 400" grep -q '"GET /crl/root.crl" 400' "$T/srv.log"
hget "http://127.0.0.1:$P/metrics"
check "/metrics counts the 400s" grep -q 'pkilab_cdpd_requests_total{route="crl",status="400"}' "$T/body"
hget "http://127.0.0.1:$P/crl/root.crl"
check "the server still serves after all that" test "$CODE" = 200
stop_cdpd srv
check "clean stop (exit 0)" test "$?" = 0
finish
