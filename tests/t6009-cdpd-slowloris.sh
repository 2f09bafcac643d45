#!/bin/sh
# pkilab-cdpd keeps serving real clients while an attacker holds slow
# connections (slowloris), with the default settings:
#   - slowloris: 900 connections from six loopback addresses, each sending
#     one header byte every 2 s (under the idle timeout, so that timeout never
#     fires) and reconnecting when closed, against a server whose connection
#     limit (500 here, 10000 by default: the attack is scaled with it) they
#     exceed. A real client from another address fetches the CRL 30 times
#     meanwhile: every fetch must succeed.
#   - a request head still incomplete after header_timeout (10 s by default)
#     is cut, however steadily its bytes trickle in (like nginx's
#     client_header_timeout);
#   - a client reading a large CRL too slowly is cut, and sees it: when it
#     stalls the send (the idle timeout) and when it reads on but slower than
#     min_send_rate (1 KiB/s by default, 4 KiB/s here, over each `timeout`).
# Only outcomes are asserted (succeeded or not, closed or not); the waits are
# generous bounds on a failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

# The attacker holds 900 sockets: it raises its own descriptor limit (the
# server raises its own for connection_limit), which the hard limit must allow.
hard=$(python3 -c 'import resource; h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; print(h if h >= 0 else 1 << 20)')
[ "$hard" -ge 2048 ] || skip_all "needs 2048 descriptors (hard limit $hard)"

chmod 755 "$T"
mkdir -p "$T/big/crl" "$T/big/aia"
pub_ca "$T/pub" "$T/root" root 1 || exit 1
# A 4 MB CRL: far larger than the socket buffers, so a slow reader stalls the send.
mkca "$T/bigca" big || exit 1
mkbigindex "$T/bigca" 100000
mkcrl "$T/bigca" 1 "$T/big/crl/big.crl" || exit 1
cp "$T/bigca/ca.der" "$T/big/aia/big.crt"

P=$(free_port)
serve_cdpd "slowloris target answers" lor "http://127.0.0.1:$P" \
  --publish "$T/pub" --listen "127.0.0.1:$P" --threads 2 --connection-limit 500
P2=$(free_port)
serve_cdpd "header-deadline server answers" head "http://127.0.0.1:$P2" \
  --publish "$T/pub" --listen "127.0.0.1:$P2" --threads 2
P3=$(free_port)
serve_cdpd "slow-reader server answers" read "http://127.0.0.1:$P3" \
  --publish "$T/big" --listen "127.0.0.1:$P3" --threads 2
P4=$(free_port)
serve_cdpd "min-send-rate server answers" rate "http://127.0.0.1:$P4" \
  --publish "$T/big" --listen "127.0.0.1:$P4" --threads 2 --send-buffer 16K --min-send-rate 4K

# --- a request head that never completes, one byte every 0.5 s ----------------
# 80 bytes take 40 s; the server must close it first (the idle timeout, 10 s,
# never fires: a byte arrives every 0.5 s).
rawreq 127.0.0.1 "$P2" "GET /crl/root.crl HTTP/1.1\\r\\nHost: cdp.test\\r\\nX-Pad: $(head -c 40 /dev/zero | tr '\0' a)\\r\\n\\r\\n" 0.5 2 >"$T/head.out" &
headpid=$!

# --- slow readers of a 4 MB CRL ----------------------------------------------
# reader PORT RATE [FILE]: takes RATE bytes a second (a tenth every 0.1 s,
# through a 2 KB receive buffer) for at most 40 s; prints how it ended and
# what it got; creates FILE once the response has begun.
cat >"$T/reader.py" <<'PY'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /crl/big.crl HTTP/1.1\r\nHost: cdp.test\r\n\r\n")
got, end, t0 = 0, "open", time.monotonic()
while time.monotonic() - t0 < 40:
    try:
        d = s.recv(int(sys.argv[2]) // 10)
    except OSError:
        end = "reset"; break
    if not d:
        end = "eof"; break
    got += len(d)
    if len(sys.argv) > 3 and got == len(d):
        open(sys.argv[3], "w").close()
    time.sleep(0.1)
print(end, got)
PY
# 500 B/s with the defaults: the socket buffer stays full, so the idle
# timeout ends the response; the client must then see the end too, not go on
# being fed for hours from what the kernel still holds.
python3 "$T/reader.py" "$P3" 500 >"$T/read.out" 2>&1 &
readpid=$!
# 2 KB/s with a small socket buffer: the buffer drains often enough that the
# idle timeout never fires; min_send_rate (4 KiB/s here) must.
python3 "$T/reader.py" "$P4" 2000 >"$T/read2.out" 2>&1 &
read2pid=$!

# --- slowloris against the connection limit -----------------------------------
python3 - "$P" >"$T/lor.out" 2>&1 <<'PY' &
import resource, selectors, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if 0 <= soft < 2048:
    resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
port, per, addrs, dur = int(sys.argv[1]), 150, ["127.0.0.%d" % i for i in range(11, 17)], 22
sel = selectors.DefaultSelector()
slots = [{"addr": a, "s": None, "next": 0.0, "sent": 0} for a in addrs for _ in range(per)]
head = b"GET /crl/root.crl HTTP/1.1\r\nHost: cdp.test\r\n" + b"X-a: " + b"b" * 100000
opened = closed = peak = 0
t0 = time.monotonic()
def drop(sl):
    global closed
    try: sel.unregister(sl["s"])
    except Exception: pass
    sl["s"].close(); sl["s"] = None; sl["next"] = time.monotonic() + 1.0; closed += 1
while time.monotonic() - t0 < dur:
    now = time.monotonic()
    for sl in slots:
        if sl["s"] is None and now >= sl["next"]:
            s = socket.socket(); s.setblocking(False)
            try:
                s.bind((sl["addr"], 0))
                s.connect_ex(("127.0.0.1", port))
            except OSError:
                s.close(); sl["next"] = now + 1.0; continue
            sl["s"], sl["sent"], sl["due"] = s, 0, now
            sel.register(s, selectors.EVENT_READ, sl); opened += 1
        elif sl["s"] is not None and now >= sl["due"]:
            try:
                sl["s"].send(head[sl["sent"]:sl["sent"] + 1]); sl["sent"] += 1
            except OSError:
                drop(sl); continue
            sl["due"] = now + 2.0
    for key, _ in sel.select(timeout=0.05):
        sl = key.data
        try:
            d = sl["s"].recv(4096)
        except OSError:
            d = b""
        if not d:
            drop(sl)
    peak = max(peak, sum(1 for sl in slots if sl["s"] is not None))
    time.sleep(0.02)
print("opened %d closed %d peak %d" % (opened, closed, peak))
PY
lorpid=$!
# Let the attack fill the server first (bounded wait on its own count).
for _i in $(seq 1 50); do
  n=$(curl -s --max-time 3 "http://127.0.0.1:$P/metrics" | sed -n 's/^pkilab_cdpd_worker_connections{worker="[0-9]*"} //p' | awk '{ s += $1 } END { print s + 0 }')
  [ "${n:-0}" -ge 400 ] && break
  sleep 0.2
done
ok=0 tries=0
for _i in $(seq 1 30); do
  tries=$((tries + 1))
  c=$(curl -s --max-time 8 -o "$T/real.crl" -w '%{http_code}' "http://127.0.0.1:$P/crl/root.crl")
  [ "$c" = 200 ] && cmp -s "$T/real.crl" "$T/pub/crl/root.crl" && ok=$((ok + 1))
  sleep 0.3
done
check "the attack held the server near its limit ($n connections)" test "${n:-0}" -ge 400
check "a real client's 30 fetches during the slowloris all succeeded ($ok of $tries)" test "$ok" = "$tries"
wait "$lorpid"
check "attacker ran and was cut ($(cat "$T/lor.out"))" grep -q '^opened [0-9]* closed [1-9]' "$T/lor.out"
hget "http://127.0.0.1:$P/crl/root.crl"
check "the server serves after the attack" test "$CODE" = 200
check "the log says why slow clients were closed" grep -q 'request head' "$T/lor.log"

wait "$headpid"
check "an incomplete head trickling in is closed, not answered ($(cat "$T/head.out"))" test "$(cat "$T/head.out")" = closed
check "the header deadline is logged" grep -q 'request head not complete within 10s' "$T/head.log"
wait "$readpid"
r=$(cat "$T/read.out")
check "a reader stalling the send is cut, and sees it before the end of the CRL ($r)" \
  test "${r%% *}" = reset -o "${r%% *}" = eof
wait "$read2pid"
r=$(cat "$T/read2.out")
check "a reader under min_send_rate is cut before the end of the CRL ($r)" \
  test "${r%% *}" = reset -o "${r%% *}" = eof
check "the cut for min_send_rate is logged" grep -q 'slower than 4096 bytes/s over 10s (min_send_rate)' "$T/rate.log"

stop_cdpd lor
check "slowloris target: clean stop (exit 0)" test "$?" = 0

# --- at the limit, a connection being served never makes way ------------------
P5=$(free_port)
start_cdpd busy --publish "$T/big" --listen "127.0.0.1:$P5" --threads 2 --connection-limit 3 \
  --send-buffer 16K
for i in 1 2 3; do
  python3 "$T/reader.py" "$P5" 8000 "$T/busy$i" >/dev/null 2>&1 &
  eval "busy$i=\$!"
done
ok=0
for _i in $(seq 1 50); do
  [ -f "$T/busy1" ] && [ -f "$T/busy2" ] && [ -f "$T/busy3" ] && { ok=1; break; }
  sleep 0.1
done
check "three clients downloading the 4 MB CRL fill the limit of 3" test "$ok" = 1
r=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P5/crl/big.crl")
check "a 4th client is refused at once: no download is cut for it ($r)" test "$r" = 000
# shellcheck disable=SC2154 # busy1..3 are set by the eval above
kill "$busy1" "$busy2" "$busy3" 2>/dev/null
wait "$busy1" "$busy2" "$busy3" 2>/dev/null
ok=0
for _i in $(seq 1 30); do
  r=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P5/healthz")
  [ "$r" = 200 ] && { ok=1; break; }
  sleep 0.1
done
check "served again once the downloads are gone" test "$ok" = 1
stop_cdpd busy
stop_cdpd head
stop_cdpd read
stop_cdpd rate
finish
