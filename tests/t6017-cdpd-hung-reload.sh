#!/bin/sh
# pkilab-cdpd stays responsive while a reload is blocked in the kernel (a
# regular file on a hard-mounted network filesystem that stops answering:
# open(2) never returns). The LD_PRELOAD shim of tests/crash/hang.c makes the
# open of crl/root.crl block while a flag file exists. While it blocks, the
# server serves the last good CRL and /healthz, and SIGTERM stops it (exit 0,
# "stopping" logged) -- also when the very first reload, at start, blocks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

cc -shared -fPIC -O1 -o "$T/hang.so" "$TOP/tests/crash/hang.c" -ldl || { echo "cannot build the shim"; exit 1; }
pub_ca "$T/pub" "$T/root" root 1 || exit 1
cp "$T/pub/crl/root.crl" "$T/root-1.crl"

# exec keeps the pid: $T/NAME.pid is cdpd itself. A sanitizer runtime must
# not insist on coming first in the library list (the shim is preloaded).
REAL=$CDPD
cat >"$T/cdpd-hang" <<EOS
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0" \\
HANG_MATCH=/pub/crl/root.crl HANG_FLAG="$T/hang.flag" LD_PRELOAD="$T/hang.so" exec "$REAL" "\$@"
EOS
chmod +x "$T/cdpd-hang"
CDPD=$T/cdpd-hang
# A blocked open returns as soon as the flag goes: never leave one behind.
at_exit "rm -f '$T/hang.flag'"

P=$(free_port)
B=http://127.0.0.1:$P
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P"
check "serves CRL 1" same_as "$B/crl/root.crl" "$T/root-1.crl"

# The next reload blocks: SIGHUP, then a change in crl/ for good measure.
: >"$T/hang.flag"
kill -HUP "$(cat "$T/srv.pid")"
check "the reload is blocked in open(2)" wait_log srv "hang: blocking open"
mkcrl "$T/root" 2 "$T/pub/crl/other.crl" || exit 1
check "while blocked: the last good CRL is served" served_is "$B/crl/root.crl" "$T/root-1.crl"
hget "$B/healthz"
check "while blocked: /healthz answers" test "$CODE" = 200
kill -HUP "$(cat "$T/srv.pid")"
check "while blocked: a second SIGHUP is logged (the control loop runs)" \
  until_ok sh -c '[ "$(grep -c "SIGHUP: reloading" "$1")" -ge 2 ]' _ "$T/srv.log"
stop_cdpd srv; rc=$?
check "while a reload is blocked, SIGTERM stops the server: exit 0 (got $rc)" test "$rc" = 0
check "while a reload is blocked: 'stopping' logged" grep -q "SIGTERM: stopping" "$T/srv.log"
check "while a reload is blocked: the blocked reload is named" grep -q "reload is still blocked" "$T/srv.log"
rm -f "$T/hang.flag"

# The first reload, at start, blocks: not started, but SIGTERM works.
: >"$T/hang.flag"
P2=$(free_port)
start_cdpd s2 --publish "$T/pub" --listen "127.0.0.1:$P2"
check "start: the first reload is blocked in open(2)" wait_log s2 "hang: blocking open"
check "start: not 'started' while the first reload blocks" sh -c '! grep -q "started" "$1"' _ "$T/s2.log"
stop_cdpd s2; rc=$?
check "start: SIGTERM during the blocked first reload stops the server: exit 0 (got $rc)" test "$rc" = 0
check "start: 'stopping' logged" grep -q "SIGTERM: stopping" "$T/s2.log"
rm -f "$T/hang.flag"

# Once the mount answers again, a blocked start completes and serves.
: >"$T/hang.flag"
P3=$(free_port)
start_cdpd s3 --publish "$T/pub" --listen "127.0.0.1:$P3"
check "start: blocked again" wait_log s3 "hang: blocking open"
rm -f "$T/hang.flag"
check "start: once unblocked, the server starts" wait_log s3 "started"
check "start: once unblocked, CRL 1 is served" same_as "http://127.0.0.1:$P3/crl/root.crl" "$T/root-1.crl"
stop_cdpd s3; rc=$?
check "start: SIGTERM after an unblocked start: exit 0" test "$rc" = 0
finish
