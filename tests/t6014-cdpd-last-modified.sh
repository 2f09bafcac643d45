#!/bin/sh
# Last-Modified moves forward whenever the served bytes change, even when two
# CRLs share their thisUpdate second or a newer CRL has an earlier
# thisUpdate, so If-Modified-Since never gets a 304 for bytes the client
# does not have (RFC 9110 §8.8.2, §13.1.3). A 304 carries no Content-Length
# of its own (RFC 9110 §8.6: only the 200's length, or none).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

pub_ca "$T/pub" "$T/root" root || exit 1
# CRLs with a chosen thisUpdate (YYMMDDHHMMSSZ), independent of the clock.
crl_at() { # number lastupdate out
  printf '%x\n' "$1" | awk '{ if (length($0) % 2) print "0" $0; else print }' >"$T/root/crlnumber"
  openssl ca -config "$T/root/ca.cnf" -gencrl -crl_lastupdate "$2" -crldays 30 -out "$T/c.pem" 2>/dev/null &&
    openssl crl -in "$T/c.pem" -outform DER -out "$3"
}
tu=$(date -u -d '-2 hours' +%y%m%d%H%M%SZ)
early=$(date -u -d '-3 hours' +%y%m%d%H%M%SZ)
crl_at 1 "$tu" "$T/crl1.der" || exit 1
mkleaf "$T/root" victim "$T/victim.pem" || exit 1
revoke_leaf "$T/root" "$T/victim.pem"
crl_at 2 "$tu" "$T/crl2.der" || exit 1          # same thisUpdate second, one keyCompromise more
crl_at 3 "$early" "$T/crl3.der" || exit 1       # a newer number with an earlier thisUpdate
crl_at 4 "$tu" "$T/crl4.der" || exit 1
cp "$T/crl1.der" "$T/pub/crl/root.crl"

P=$(free_port)
B=http://127.0.0.1:$P
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P"
# SIGHUP and wait (bounded) for the rebuilt catalog.
reload() { cdpd_reload "$B" "$(cat "$T/srv.pid")"; }
# The Last-Modified of the served CRL once it is $1 (bounded wait: a date is
# not sent while it would be later than the response's Date).
lm_of() { # expected-body -> prints the epoch of Last-Modified
  for _i in $(seq 1 300); do
    hget "$B/crl/root.crl"
    if cmp -s "$T/body" "$1" && [ -n "$(hdr Last-Modified)" ]; then date -u -d "$(hdr Last-Modified)" +%s; return 0; fi
    sleep 0.1
  done
  echo 0
}
ims() { date -u -d "@$1" '+%a, %d %b %Y %H:%M:%S GMT'; }

lm1=$(lm_of "$T/crl1.der")
hget "$B/crl/root.crl"
tu1=$(date -u -d "$(openssl crl -inform DER -in "$T/crl1.der" -noout -lastupdate | sed 's/^lastUpdate=//')" +%s)
# Nothing known before this process: no earlier than thisUpdate nor than the
# start (a previous process may have given any date up to then), never
# later than the response's Date (RFC 9110 §8.8.2.1).
check "CRL 1 at start: thisUpdate <= Last-Modified <= Date" test "$lm1" -ge "$tu1" -a "$lm1" -le "$(date -u -d "$(hdr Date)" +%s)"
hget "$B/crl/root.crl" -H "If-Modified-Since: $(ims "$lm1")"
check "CRL 1 revalidated: 304" test "$CODE" = 304
check "304: no Content-Length: 0 (RFC 9110 §8.6)" not_contains "$(cat "$HDRS")" "Content-Length: 0"
cl=$(hdr Content-Length)
check "304: Content-Length absent or the 200's length" test -z "$cl" -o "$cl" = "$(stat -c %s "$T/crl1.der")"
check "304: the validators are sent (ETag, Last-Modified)" test -n "$(hdr ETag)" -a -n "$(hdr Last-Modified)"
hget "$B/crl/root.crl" -H "If-None-Match: \"$(sha256sum "$T/crl1.der" | cut -d' ' -f1)\""
check "304 on If-None-Match: no Content-Length: 0 either" not_contains "$(cat "$HDRS")" "Content-Length: 0"
hget "$B/aia/root.crt" -H "If-None-Match: $(curl -s -D - -o /dev/null "$B/aia/root.crt" | grep -i '^etag:' | sed 's/^[^:]*: *//' | tr -d '\r')"
check "304 on /aia: 304 without Content-Length: 0" test "$CODE" = 304 -a -z "$(grep -i '^Content-Length: 0' "$HDRS")"

cp "$T/crl2.der" "$T/pub/crl/root.crl"; reload
lm2=$(lm_of "$T/crl2.der")
check "CRL 2, same thisUpdate second: Last-Modified moves forward ($lm1 -> $lm2)" test "$lm2" -gt "$lm1"
hget "$B/crl/root.crl" -H "If-Modified-Since: $(ims "$lm1")"
check "CRL 2: If-Modified-Since of CRL 1 gets 200, not 304" test "$CODE" = 200
check "CRL 2: ... with the new bytes (the keyCompromise revocation)" cmp -s "$T/body" "$T/crl2.der"

cp "$T/crl3.der" "$T/pub/crl/root.crl"; reload
lm3=$(lm_of "$T/crl3.der")
check "CRL 3, earlier thisUpdate: Last-Modified still moves forward ($lm2 -> $lm3)" test "$lm3" -gt "$lm2"
hget "$B/crl/root.crl" -H "If-Modified-Since: $(ims "$lm2")"
check "CRL 3: If-Modified-Since of CRL 2 gets 200" test "$CODE" = 200
hget "$B/crl/root.crl" -H "If-Modified-Since: $(ims "$lm3")"
check "CRL 3: its own Last-Modified gets 304" test "$CODE" = 304
hget "$B/crl/root.crl" -H "If-Modified-Since: $(ims $(($(date +%s) + 86400)))"
check "an If-Modified-Since later than the server's clock is ignored: 200" test "$CODE" = 200

# Same bytes again (a reload that changes nothing): the date stands still.
reload
check "unchanged bytes: Last-Modified unchanged" test "$(lm_of "$T/crl3.der")" = "$lm3"

# A restart forgets the dates it moved forward: a client holding CRL 3's
# date must still get CRL 4 (same thisUpdate as CRL 1 and 2), not a 304.
stop_cdpd srv
serve_cdpd "restarted" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P"
cp "$T/crl4.der" "$T/pub/crl/root.crl"; reload
lm4=$(lm_of "$T/crl4.der")
check "after a restart: CRL 4's Last-Modified is later than CRL 3's before it ($lm3 -> $lm4)" test "$lm4" -gt "$lm3"
hget "$B/crl/root.crl" -H "If-Modified-Since: $(ims "$lm3")"
check "after a restart: CRL 4 with CRL 3's date gets 200, not 304" test "$CODE" = 200
stop_cdpd srv; rc=$?
check "SIGTERM: exit 0" test "$rc" = 0
finish
