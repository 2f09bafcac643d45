#!/bin/sh
# pkilab-cdpd reads only regular files from publish, AIA, trust and state
# paths: a link to a device (/dev/ptmx blocks a read forever), a FIFO or a
# link that leads out of the publish directory is refused with a problem in
# /healthz, without blocking the reload, and SIGTERM still stops the server.
# A link that stays inside the publish directory is followed (admins link
# <ca>.crl to a dated file). Every server runs under timeout(1): a hang
# fails a check instead of hanging the suite.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

mkdir -p "$T/pub/archive"
pub_ca "$T/pub" "$T/root" root || exit 1
mkcrl "$T/root" 1 "$T/pub/archive/root-1.crl" || exit 1
mkcrl "$T/root" 2 "$T/root-2-outside.crl" || exit 1
mkcrl "$T/root" 3 "$T/pub/archive/root-3.crl" || exit 1
ln -s ../archive/root-1.crl "$T/pub/crl/root.crl"
# Every server is bounded: timeout(1) kills it after 600 s (exit 124/137), a
# bound on a hang only, far above the seconds a busy machine needs.
REAL=$CDPD
printf '#!/bin/sh\nexec timeout -k 5 600 "%s" "$@"\n' "$REAL" >"$T/cdpd-bounded"
chmod +x "$T/cdpd-bounded"
CDPD=$T/cdpd-bounded

P=$(free_port)
B=http://127.0.0.1:$P
start_cdpd srv --publish "$T/pub" --listen "127.0.0.1:$P"
at_exit "pkill -KILL -P $(cat "$T/srv.pid")"
check "server answers" wait_http "$B/healthz"
# SIGHUP goes to the server itself: timeout(1) would forward it, but with -k
# it also arms its kill timer on any signal it receives.
CDPD_PID=$(pgrep -P "$(cat "$T/srv.pid")")
hget "$B/crl/root.crl"
check "a link inside the publish directory to a regular file is followed" cmp -s "$T/body" "$T/pub/archive/root-1.crl"

# SIGHUP and wait (bounded) for the rebuilt catalog.
reload() { cdpd_reload "$B" "$CDPD_PID"; }
health_has() { hget "$B/healthz"; grep -q -- "$1" "$T/body" || { cat "$T/body"; return 1; }; }
still_1() { hget "$B/crl/root.crl"; [ "$CODE" = 200 ] && cmp -s "$T/body" "$T/pub/archive/root-1.crl"; }

ln -sfn /dev/ptmx "$T/pub/crl/root.crl"
check "crl -> /dev/ptmx: the reload completes" reload
check "crl -> /dev/ptmx: refused in /healthz" health_has "root.crl: \(not a regular file\|symbolic link leads out of\)"
check "crl -> /dev/ptmx: the last good CRL stays" still_1

rm "$T/pub/crl/root.crl"; mkfifo "$T/pub/crl/root.crl"
check "crl is a FIFO: the reload completes" reload
check "crl is a FIFO: refused in /healthz" health_has "not a regular file"
check "crl is a FIFO: the last good CRL stays" still_1

rm "$T/pub/crl/root.crl"; ln -s /dev/zero "$T/pub/aia/zero.crt"; mkfifo "$T/pub/aia/fifo.crt"
ln -s "$T/root-2-outside.crl" "$T/pub/crl/root.crl"
check "aia -> /dev/zero, aia FIFO, crl link outside: the reload completes" reload
check "a link out of the publish directory is refused" health_has "leads out of"
check "a link out of the publish directory: the last good CRL stays" still_1
check "aia FIFO refused in /healthz" health_has "fifo.crt"
check "aia -> /dev/zero refused in /healthz" health_has "zero.crt"

ln -sfn ../archive/root-3.crl "$T/pub/crl/root.crl"
check "back to a link inside: reload" reload
hget "$B/crl/root.crl"
check "back to a link inside: CRL 3 served" cmp -s "$T/body" "$T/pub/archive/root-3.crl"

stop_cdpd srv; rc=$?
check "SIGTERM still stops the server: exit 0 (not killed by the timeout)" test "$rc" = 0

# A configured trust path that is a FIFO, and a state file that is a link
# to a device: the server starts (or refuses to) without blocking.
mkfifo "$T/trust.fifo"
P2=$(free_port)
serve_cdpd "trust FIFO: the server answers" t2 "http://127.0.0.1:$P2" \
  --publish "$T/pub" --trust "$T/trust.fifo" --listen "127.0.0.1:$P2"
hget "http://127.0.0.1:$P2/healthz"
check "trust FIFO: refused in /healthz" grep -q "not a regular file" "$T/body"
at_exit "pkill -KILL -P $(cat "$T/t2.pid")"
stop_cdpd t2; rc=$?
check "trust FIFO: SIGTERM stops the server (exit 0)" test "$rc" = 0

mkdir "$T/state"; ln -s /dev/ptmx "$T/state/crl-numbers"
run timeout -k 5 120 "$REAL" --publish "$T/pub" --state-dir "$T/state" --listen "127.0.0.1:$P2"
check "state file -> /dev/ptmx: refused at start, not a hang (exit $RC)" test "$RC" = 2 -o "$RC" = 3
check "state file -> /dev/ptmx: the error names it" contains "$ERR" "crl-numbers"
finish
