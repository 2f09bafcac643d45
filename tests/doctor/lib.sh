# Helpers for the doctor tests (t5NNN), sourced after tests/lib.sh.
#   doctor_serve DIR [MODE]   starts tests/doctor/httpd.py on a loopback port the
#                             kernel picks (no collision with parallel tests);
#                             sets SRV_PORT and SRV_PID; killed at exit
#   doctor_stop               stops the last one and waits for it
doctor_serve() {
  _pf=$(mktemp "$T/port.XXXXXX")
  python3 "$TOP/tests/doctor/httpd.py" 0 "$1" "${2:-serve}" >"$_pf" 2>/dev/null &
  SRV_PID=$!
  at_exit "kill $SRV_PID 2>/dev/null"
  SRV_PORT=""
  # bounded by PKL_WAIT (tests/lib.sh): python may start slowly on a busy machine
  _end=$(($(date +%s) + PKL_WAIT))
  while [ "$(date +%s)" -le "$_end" ]; do
    SRV_PORT=$(head -n 1 "$_pf")
    [ -n "$SRV_PORT" ] && return 0
    kill -0 "$SRV_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
doctor_stop() { kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; }
