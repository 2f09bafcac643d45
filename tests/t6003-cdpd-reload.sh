#!/bin/sh
# pkilab-cdpd reloads: on publish-directory change (atomic rename and
# in-place write), on SIGHUP, for a new CA; a response in flight keeps the
# bytes it started with while the catalog is swapped; SIGTERM stops cleanly
# even with a transfer running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

pub_ca "$T/pub" "$T/root" root || exit 1
mkcrl "$T/root" 1 "$T/crl1.der" || exit 1
mkcrl "$T/root" 2 "$T/crl2.der" || exit 1
mkcrl "$T/root" 3 "$T/crl3.der" || exit 1
mkbigindex "$T/root" 60000
mkcrl "$T/root" 4 "$T/big4.der" || exit 1
: >"$T/root/index.txt"
mkcrl "$T/root" 5 "$T/crl5.der" || exit 1
cp "$T/crl1.der" "$T/pub/crl/root.crl"

P=$(free_port)
B=http://127.0.0.1:$P
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P"
wait_served() { until_ok served_is "$B/$1" "$2"; }
check "CRL 1 served" wait_served crl/root.crl "$T/crl1.der"

cp "$T/crl2.der" "$T/pub/crl/.root.crl.tmp-1" && mv "$T/pub/crl/.root.crl.tmp-1" "$T/pub/crl/root.crl"
check "atomic rename of CRL 2: served (inotify)" wait_served crl/root.crl "$T/crl2.der"
cat "$T/crl3.der" >"$T/pub/crl/root.crl"
check "in-place write of CRL 3: served" wait_served crl/root.crl "$T/crl3.der"

# A new CA appears: its certificate and CRL are picked up.
mkca "$T/sub" sub || exit 1
mkcrl "$T/sub" 1 "$T/sub1.der" || exit 1
cp "$T/sub/ca.der" "$T/pub/aia/sub.crt"
cp "$T/sub1.der" "$T/pub/crl/sub.crl"
check "new CA: its CRL is served" wait_served crl/sub.crl "$T/sub1.der"
check "new CA: its certificate is served" wait_served aia/sub.crt "$T/sub/ca.der"

# SIGHUP: a reload that is logged and makes a new catalog generation.
g1=$(cdpd_generation "$B")
kill -HUP "$(cat "$T/srv.pid")"
check "SIGHUP: logged" wait_log srv "SIGHUP: reloading"
# "reloading" is logged before the new catalog is in place: polled.
generation_above() { g2=$(cdpd_generation "$B"); [ "${g2:-0}" -gt "$1" ]; }
until_ok generation_above "$g1"
check "SIGHUP: a new catalog generation ($g1 -> $g2)" test "${g2:-0}" -gt "$g1"
check "SIGHUP: still serving CRL 3" wait_served crl/root.crl "$T/crl3.der"
check "SIGHUP: still running" kill -0 "$(cat "$T/srv.pid")"

# A swap while a big response is in flight: the client gets every byte of
# the CRL it started with (the response holds a reference to its snapshot).
cp "$T/big4.der" "$T/pub/crl/.t" && mv "$T/pub/crl/.t" "$T/pub/crl/root.crl"
check "big CRL 4 ($(stat -c %s "$T/big4.der") bytes) served" wait_served crl/root.crl "$T/big4.der"
# The swap waits until the first bytes have arrived (an event, not a delay);
# at 500 KB/s the transfer then has seconds to run.
curl -s --max-time 120 --limit-rate 500K -o "$T/inflight" "$B/crl/root.crl" &
cpid=$!
check "the big transfer has started" until_ok test -s "$T/inflight"
cp "$T/crl5.der" "$T/pub/crl/.t" && mv "$T/pub/crl/.t" "$T/pub/crl/root.crl"
check "swap to CRL 5 during the transfer: new requests get CRL 5" wait_served crl/root.crl "$T/crl5.der"
wait "$cpid"
check "the transfer in flight completed with the bytes it started with (CRL 4)" cmp "$T/inflight" "$T/big4.der"

# SIGTERM with a transfer running: a clean, prompt exit.
curl -s --max-time 120 --limit-rate 200K -o /dev/null -o /dev/null "$B/aia/root.crt" "$B/crl/sub.crl" &
sleep 0.2
stop_cdpd srv; rc=$?
check "SIGTERM: the server stops (no hang: stop_cdpd allows $PKL_WAIT s), exit status 0" test "$rc" = 0
check "SIGTERM: 'stopped' logged" grep -q "pkilab-cdpd: info: stopped" "$T/srv.log"
r=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$B/healthz")
check "after SIGTERM: the port is closed (fails fast, no hang)" test "$r" = 000
finish
