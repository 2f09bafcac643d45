#!/bin/sh
# t3007-systemd-units: examples/systemd/pkilab-crl.{service,timer} are valid
# units that run `pkilab crl --due` hourly, and that exact command line keeps
# a PKI's CRLs fresh (issue 3 item 2; standards #62).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

S=$TOP/examples/systemd/pkilab-crl.service
U=$TOP/examples/systemd/pkilab-crl.timer
check "the service unit exists" [ -s "$S" ]
check "the timer unit exists" [ -s "$U" ]
check "the timer fires hourly" grep -q '^OnCalendar=hourly$' "$U"
check "the timer catches up after downtime (Persistent=true)" grep -q '^Persistent=true$' "$U"
check "the timer is enabled through timers.target" grep -q '^WantedBy=timers.target$' "$U"
check "the service is a oneshot running 'pkilab crl --due'" sh -c 'grep -q "^Type=oneshot$" "$1" && grep -q "^ExecStart=.*/pkilab crl --due$" "$1"' _ "$S"
check "the service names the PKI through PKILAB_DIR" grep -q '^Environment=PKILAB_DIR=' "$S"
check "the service has no network (CRL signing needs none)" grep -q '^PrivateNetwork=yes$' "$S"
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$T/units"
  sed "s|^ExecStart=[^ ]*|ExecStart=$PKILAB|; /^User=/d; /^Group=/d" "$S" >"$T/units/pkilab-crl.service"
  cp "$U" "$T/units/pkilab-crl.timer"
  run systemd-analyze verify --man=no "$T/units/pkilab-crl.service" "$T/units/pkilab-crl.timer"
  check "systemd-analyze verify accepts both units" sh -c '[ "$1" = 0 ] && [ -z "$2" ]' _ "$RC" "$ERR$OUT"
fi
# The command line of the unit, on a real PKI: first run nothing due, then
# (four days on) the intermediate's CRL is re-signed.
life_lab "$T/lab" || { finish; exit 1; }
cmd=$(sed -n 's/^ExecStart=[^ ]* //p' "$S")
expect_rc 0 "PKILAB_DIR=... pkilab $cmd" env PKILAB_DIR="$PKI" "$PKILAB" $cmd
check "nothing due right after the build" [ "$(echo "$OUT" | grep -c "not due")" = 2 ]
later=$(date -u -d "@$(($(date +%s) + 4 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
expect_rc 0 "four days later" env PKILAB_DIR="$PKI" PKILAB_NOW="$later" "$PKILAB" $cmd
check "the 7-day CRL was re-signed at half-life" sh -c 'echo "$1" | grep -q "^vpn-ca: signed"' _ "$OUT"
finish
