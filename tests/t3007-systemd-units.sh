#!/bin/sh
# t3007-systemd-units: examples/systemd/pkilab-crl.{service,timer} are valid
# units that run `pkilab crl --due` hourly, and that exact command line keeps
# a PKI's CRLs fresh (docs/crl-publication.md). All three units pass
# systemd-analyze verify, document themselves with installed files, keep the
# server's optional paths optional and its configuration errors unretried,
# run as a user and in a directory that sysusers.d/tmpfiles.d create, and
# stay at or below README's exposure figures.
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

# systemd-analyze verify, man pages checked too. The units
# name their installed binaries; those of this build stand in for them.
command -v systemd-analyze >/dev/null 2>&1 || { echo "not ok - systemd-analyze is missing (apt-get install systemd)"; finish; exit 1; }
C=$TOP/examples/systemd/pkilab-cdpd.service
mkdir -p "$T/units"
for u in "$S" "$U" "$C"; do
  sed -e "s|^ExecStart=/usr/local/bin/pkilab-cdpd|ExecStart=$CDPD|" -e "s|^ExecStart=/usr/local/bin/pkilab |ExecStart=$PKILAB |" \
    "$u" >"$T/units/$(basename "$u")"
done
run systemd-analyze verify "$T/units/pkilab-crl.service" "$T/units/pkilab-crl.timer" "$T/units/pkilab-cdpd.service"
check "systemd-analyze verify accepts the three units" sh -c '[ "$1" = 0 ] && [ -z "$2" ]' _ "$RC" "$ERR$OUT"

# Every Documentation= exists once `make install` has run.
expect_rc 0 "make install DESTDIR=... (default PREFIX)" make -s -C "$TOP" install BUILD="$BUILD" DESTDIR="$T/root"
for u in "$T"/root/usr/local/lib/systemd/system/*; do
  docs=$(sed -n 's/^Documentation=//p' "$u")
  check "$(basename "$u") has documentation" [ -n "$docs" ]
  for d in $docs; do
    case $d in
      file:*) check "$(basename "$u"): $d is installed" [ -s "$T/root${d#file:}" ] ;;
      *) check "$(basename "$u"): $d is a file: link to what install puts in place" false ;;
    esac
  done
done

# The server: paths that a host may not have are optional ("-"), or the start
# fails (226/NAMESPACE) on a mirror-only host; a configuration error (exit 2)
# is not retried.
paths=$(sed -n 's/^\(ReadOnlyPaths\|ReadWritePaths\|InaccessiblePaths\)=//p' "$C")
check "the server's unit lists its publish directory and /etc/pkilab" sh -c 'echo "$1" | grep -q /var/lib/pkilab/pki/publish && echo "$1" | grep -q /etc/pkilab' _ "$paths"
for p in $paths; do
  check "the server's $p is optional" [ "${p#-}" != "$p" ]
done
check "the server is restarted on failure" grep -qx 'Restart=on-failure' "$C"
check "... but not after a configuration error (exit 2)" grep -qx 'RestartPreventExitStatus=2' "$C"
printf 'publish = [ "%s/nowhere" ];\n' "$T" >"$T/bad.conf"
expect_rc 2 "pkilab-cdpd exits 2 on a configuration error" "$CDPD" --config "$T/bad.conf" --listen 127.0.0.1:1
printf 'listn = [ "127.0.0.1:1" ];\n' >"$T/bad2.conf"
expect_rc 2 "... and on an unknown setting" "$CDPD" --config "$T/bad2.conf"

# The user and directory the CRL unit runs with: sysusers.d creates User=,
# tmpfiles.d creates the ReadWritePaths= directory owned by it (applied to a
# scratch root; uid and owner must agree).
R=$T/sysroot
mkdir -p "$R/etc"
unit_user=$(sed -n 's/^User=//p' "$S")
rw=$(sed -n 's/^ReadWritePaths=-\{0,1\}//p' "$S")
check "the CRL unit writes only /var/lib/pkilab" [ "$rw" = /var/lib/pkilab ]
expect_rc 0 "systemd-sysusers applies pkilab-sysusers.conf" systemd-sysusers --root="$R" "$TOP/examples/systemd/pkilab-sysusers.conf"
check "it creates the unit's User=$unit_user, a system user without login" \
  sh -c 'grep -Eq "^$1:x:[0-9]+:[0-9]+:[^:]*:/var/lib/pkilab:/usr/sbin/nologin$" "$2/etc/passwd"' _ "$unit_user" "$R"
expect_rc 0 "systemd-tmpfiles applies pkilab-tmpfiles.conf" systemd-tmpfiles --root="$R" --create "$TOP/examples/systemd/pkilab-tmpfiles.conf"
uid=$(awk -F: -v u="$unit_user" '$1 == u { print $3 ":" $4 }' "$R/etc/passwd")
check "it creates $rw owned by $unit_user, mode 0755" [ "$(stat -c '%u:%g %a' "$R$rw")" = "$uid 755" ]

# Exposure (systemd-analyze security, offline): never above README's figure.
for u in "$C" "$S"; do
  b=$(basename "$u")
  got=$(systemd-analyze security --offline=true "$u" 2>/dev/null | sed -n "s/.*Overall exposure level for $b: \([0-9.]*\).*/\1/p")
  doc=$(sed -n "s/^| \`$b\` | \([0-9.]*\) .*/\1/p" "$TOP/README.md")
  echo "# $b: exposure $got, README $doc"
  check "$b: exposure $got is at most README's $doc" awk -v g="$got" -v d="$doc" 'BEGIN { exit !(g != "" && d != "" && g + 0 <= d + 0) }'
done

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
