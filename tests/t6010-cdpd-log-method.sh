#!/bin/sh
# pkilab-cdpd's access log cannot be forged or garbled through the request
# method: a method that is not an RFC 9110 token (section 9.1: method = token,
# section 5.6.2) is refused with 400, and whatever reaches the log (method and
# path) is escaped the same way: no raw '"', backslash, ESC, CR or other
# control byte, so one request is always one well-formed line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

chmod 755 "$T"
mkdir -p "$T/pub/crl" "$T/pub/aia"
mkca "$T/root" root || exit 1
cp "$T/root/ca.der" "$T/pub/aia/root.crt"
mkcrl "$T/root" 1 "$T/pub/crl/root.crl" || exit 1

P=$(free_port)
start_cdpd srv --publish "$T/pub" --listen "127.0.0.1:$P" --threads 2
check "server answers" wait_http "http://127.0.0.1:$P/healthz"

H='Host: cdp.test\r\n\r\n'
r=$(rawhttp 127.0.0.1 "$P" "G\"ET /crl/root.crl HTTP/1.1\\r\\n$H")
check "method with a double quote: 400 ($r)" test "$r" = "400 close eof"
r=$(rawhttp 127.0.0.1 "$P" "GET\\e[2J\\e[31m /crl/root.crl HTTP/1.1\\r\\n$H")
check "method with ESC sequences: 400 ($r)" test "$r" = "400 close eof"
r=$(rawhttp 127.0.0.1 "$P" "GE\\rT /crl/root.crl HTTP/1.1\\r\\n$H")
check "method with a bare CR: 400 ($r)" test "$r" = "400 close eof"
r=$(rawhttp 127.0.0.1 "$P" 'G\ET /crl/root.crl HTTP/1.1\r\nHost: cdp.test\r\n\r\n')
check "method with a backslash: 400 ($r)" test "$r" = "400 close eof"
r=$(rawhttp 127.0.0.1 "$P" "GET /crl/root.crl HTTP/1.1\\r\\n$H" 1)
check "control: GET still 200 ($r)" test "$r" = "200 - open"
r=$(rawhttp 127.0.0.1 "$P" "FOO /crl/root.crl HTTP/1.1\\r\\n$H" 1)
check "control: an unknown but valid token method is still 405 ($r)" test "$r" = "405 - open"
r=$(rawhttp 127.0.0.1 "$P" "GET /crl/\"a\\e[1m\".crl HTTP/1.1\\r\\n$H")
check "path with a quote and ESC: refused ($r)" test "$r" = "400 close eof"
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
