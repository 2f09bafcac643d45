#!/bin/sh
# pkilab-cdpd's access log cannot be forged or garbled through the request
# method: a method that is not an RFC 9110 token (section 9.1: method = token,
# section 5.6.2) is refused with 400, and whatever reaches the log (method and
# path) is escaped the same way: no raw '"', backslash, ESC, CR or other
# control byte, so one request is always one well-formed line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

chmod 755 "$T"
pub_ca "$T/pub" "$T/root" root 1 || exit 1

P=$(free_port)
serve_cdpd "server answers" srv "http://127.0.0.1:$P" --publish "$T/pub" --listen "127.0.0.1:$P" --threads 2

H='Host: cdp.test\r\n\r\n'
answered "method with a double quote: 400" "400 close eof" "G\"ET /crl/root.crl HTTP/1.1\\r\\n$H"
answered "method with ESC sequences: 400" "400 close eof" "GET\\e[2J\\e[31m /crl/root.crl HTTP/1.1\\r\\n$H"
answered "method with a bare CR: 400" "400 close eof" "GE\\rT /crl/root.crl HTTP/1.1\\r\\n$H"
answered "method with a backslash: 400" "400 close eof" 'G\ET /crl/root.crl HTTP/1.1\r\nHost: cdp.test\r\n\r\n'
answered "control: GET still 200" "200 - open" "GET /crl/root.crl HTTP/1.1\\r\\n$H" 1
answered "control: an unknown but valid token method is still 405" "405 - open" "FOO /crl/root.crl HTTP/1.1\\r\\n$H" 1
answered "path with a quote and ESC: refused" "400 close eof" "GET /crl/\"a\\e[1m\".crl HTTP/1.1\\r\\n$H"
stop_cdpd srv

# The log: every access line has exactly two unescaped quotes, no control bytes.
grep 'pkilab-cdpd: access:' "$T/srv.log" >"$T/access"
check "access lines were written" test -s "$T/access"
check "no raw ESC in the log" test "$(tr -dc '\033' <"$T/srv.log" | wc -c)" = 0
check "no raw CR in the log" test "$(tr -dc '\r' <"$T/srv.log" | wc -c)" = 0
check "the double-quoted method is escaped" grep -q '"G\\x22ET /crl/root.crl" 400' "$T/access"
check "the ESC method is escaped" grep -q '"GET\\x1b\[2J\\x1b\[31m /crl/root.crl" 400' "$T/access"
check "the CR method is escaped" grep -q '"GE\\x0dT /crl/root.crl" 400' "$T/access"
check "the backslash method is escaped" grep -q '"G\\x5cET /crl/root.crl" 400' "$T/access"
bad=$(awk -F'"' 'NF != 3' "$T/access")
check "every access line has exactly one quoted request field" test -z "$bad"
finish
