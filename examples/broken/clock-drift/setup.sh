# Records the client's clock: the moment the lab was built (issued_at of the
# gateway certificate in pkilab's database), which the gateway's notBefore
# ("+10m" in lab.cfg) is 10 minutes ahead of. Judged at that recorded moment
# (`pkilab doctor --at "$(cat client-clock)"`), the lab shows the same
# 10-minute drift a day or a year after the build; judged at the real time it
# would be valid 10 minutes after the build. Runs in the scenario directory
# after `pkilab build lab.cfg`:
#   PKILAB=bin  the pkilab binary (default: pkilab from PATH)
#   SERVE       not used (nothing to serve beyond pki/publish)
set -eu
me=clock-drift/setup.sh
PKILAB=${PKILAB:-pkilab}
command -v "$PKILAB" >/dev/null 2>&1 ||
  { echo "$me: error: pkilab binary '$PKILAB' not found: set PKILAB=/path/to/pkilab" >&2; exit 2; }
[ -f pki/pkilab.db ] ||
  { echo "$me: error: no pki/ here: run it in the scenario directory after 'pkilab build lab.cfg'" >&2; exit 2; }

at=$("$PKILAB" show --pki pki gw --json | sed -n 's/^ *"issued_at": "\([0-9TZ:-]*\)".*/\1/p')
[ -n "$at" ] || { echo "$me: error: no issued_at for gw in 'pkilab show --json'" >&2; exit 1; }
printf '%s\n' "$at" >client-clock.tmp
mv client-clock.tmp client-clock
echo "client clock recorded in client-clock: $at"
