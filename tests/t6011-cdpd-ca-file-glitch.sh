#!/bin/sh
# pkilab-cdpd keeps the last good CA certificate through a glitch of its file
# (truncated, being rewritten in place, unreadable, deleted), exactly as it
# keeps the last good CRL: /aia/<ca>.crt and /crl/<ca>.crl keep answering
# 200 with the same bytes, the glitch is a problem in /healthz and the log,
# and the log never claims that something stays in service when it does not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

# Readable by the unprivileged user the server drops to (for "unreadable").
chmod 755 "$T"
pub_ca "$T/pub" "$T/root" root 1 || exit 1
mkca "$T/other" other || exit 1
chmod -R a+rX "$T/pub"

P=$(free_port)
B=http://127.0.0.1:$P
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P" --user nobody

# SIGHUP and wait (bounded) for the rebuilt catalog.
reload() { cdpd_reload "$B" "$(cat "$T/srv.pid")"; }
served() { # what: both routes answer 200 with the last good bytes
  hget "$B/aia/root.crt"; [ "$CODE" = 200 ] && cmp -s "$T/body" "$T/root/ca.der" || { echo "aia: $CODE"; return 1; }
  hget "$B/crl/root.crl"; [ "$CODE" = 200 ] && cmp -s "$T/body" "$T/pub/crl/root.crl" || { echo "crl: $CODE"; return 1; }
}
health_has() { hget "$B/healthz"; grep -q -- "$1" "$T/body" || { cat "$T/body"; return 1; }; }
check "CA and CRL served" served

glitch() { # name, then a command that damages pub/aia/root.crt
  _what=$1; shift
  "$@"
  _lines=$(wc -l <"$T/srv.log")
  check "$_what: reload" reload
  check "$_what: /aia/root.crt and /crl/root.crl still 200 with the last good bytes" served
  check "$_what: a problem in /healthz names the file" health_has "pub/aia/root.crt"
  check "$_what: /healthz is 503" test "$CODE" = 503
  tail -n +"$((_lines + 1))" "$T/srv.log" >"$T/new.log"
  check "$_what: the log names the file and says the last good certificate stays" \
    grep -q "root.crt.*last good CA certificate.*stays in service" "$T/new.log"
  rm -rf "$T/pub/aia/root.crt"; cp "$T/root/ca.der" "$T/pub/aia/root.crt"; chmod 644 "$T/pub/aia/root.crt"
  check "$_what: repaired: reload" reload
  check "$_what: repaired: healthy again" health_has '"status": "ok"'
}
glitch "truncated" sh -c "head -c 100 '$T/root/ca.der' >'$T/pub/aia/root.crt'"
glitch "being rewritten (empty)" sh -c ": >'$T/pub/aia/root.crt'"
glitch "unreadable by the server's user" chmod 000 "$T/pub/aia/root.crt"
glitch "replaced by a directory" sh -c "rm '$T/pub/aia/root.crt' && mkdir '$T/pub/aia/root.crt'"

# Deleted: the CA stays (like a deleted CRL file), with a warning that says so.
rm "$T/pub/aia/root.crt"
check "deleted: reload" reload
check "deleted: CA and CRL still served" served
check "deleted: a warning in /healthz names the file" health_has "pub/aia/root.crt"
check "deleted: logged" grep -q "root.crt.*gone.*last good CA certificate.*stays in service" "$T/srv.log"
cp "$T/root/ca.der" "$T/pub/aia/root.crt"

# A CA certificate replaced by another CA's (the CRL no longer verifies):
# the log must not claim the last good CRL stays in service.
cp "$T/other/ca.der" "$T/pub/aia/root.crt"
_lines=$(wc -l <"$T/srv.log")
check "other CA under the name: reload" reload
hget "$B/crl/root.crl"
check "other CA under the name: the CRL that no longer verifies is not served (503 and why)" refused_503
tail -n +"$((_lines + 1))" "$T/srv.log" >"$T/new.log"
check "other CA under the name: the log does not claim the CRL stays in service" \
  not_contains "$(cat "$T/new.log")" "last good CRL stays in service"

stop_cdpd srv; rc=$?
check "SIGTERM: exit 0" test "$rc" = 0
finish
