#!/bin/sh
# t0004-deb-package: `make deb` builds a lintian-clean pkilab_<version>_<arch>.deb;
# installed with dpkg -i it creates the user pkilab and /var/lib/pkilab, its
# units pass systemd-analyze verify where they are installed, the example lab
# builds from the installed files only (as the unit's user), the CRL unit's
# command line runs, the cdpd unit serves the CRL over loopback, and
# `dpkg --purge` leaves none of the package's files but keeps the PKI
# Needs root; a missing Debian tool fails the test.
# The machine is left as found: package purged, PKI, state and user removed
# (trap), even on failure.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "not ok 1 - needs root (dpkg -i)"; exit 1; }
# Never touch a real installation or a real PKI.
if dpkg-query -W -f='${Status}' pkilab 2>/dev/null | grep -qv '^unknown\|not-installed'; then
  echo "not ok 1 - the package pkilab is installed here already: not touching it"; exit 1
fi
if [ -e /var/lib/pkilab ] || [ -e /var/lib/pkilab-cdpd ] || [ -e /etc/pkilab ]; then
  echo "not ok 1 - /var/lib/pkilab, /var/lib/pkilab-cdpd or /etc/pkilab exists: not touching it"; exit 1
fi
had_user=0
getent passwd pkilab >/dev/null && had_user=1
cdpd_pid=""
cleanup_package() {
  [ -n "$cdpd_pid" ] && kill "$cdpd_pid" 2>/dev/null
  if [ -d /run/systemd/system ]; then
    systemctl stop pkilab-cdpd.service 2>/dev/null
    rm -rf /run/systemd/system/pkilab-cdpd.service.d
    systemctl daemon-reload 2>/dev/null
  fi
  dpkg --purge pkilab >/dev/null 2>&1
  rm -rf /var/lib/pkilab /var/lib/pkilab-cdpd /var/lib/private/pkilab-cdpd
  if [ "$had_user" = 0 ] && getent passwd pkilab >/dev/null; then
    userdel pkilab
    getent group pkilab >/dev/null && groupdel pkilab
  fi
}
at_exit cleanup_package

version=$(sed -n '1{s/^pkilab [(]//;s/[)].*//;p;}' "$TOP/debian/changelog")
arch=$(dpkg --print-architecture)
DEB=$TOP/$BUILD/deb/pkilab_${version}_$arch.deb
# MAKEFLAGS of an outer make (BUILD=, CC=, SAN=) must not reach the package build.
expect_rc 0 "make deb builds the package (dpkg-buildpackage -b, lintian)" \
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$TOP" deb BUILD="$BUILD"
check "it is $BUILD/deb/pkilab_${version}_$arch.deb" [ -s "$DEB" ]
[ -s "$DEB" ] || { finish; exit 1; }
check "dpkg-buildpackage left nothing in the tree or beside it" \
  sh -c 'cd "$1" && for f in debian/pkilab debian/.debhelper debian/files debian/debhelper-build-stamp \
    debian/pkilab.substvars debian/pkilab.debhelper.log ../pkilab_$2.changes ../pkilab_$2.buildinfo ../pkilab_$2.deb; do
    [ ! -e "$f" ] || { echo "left: $f"; exit 1; }; done' _ "$TOP" "${version}_$arch"
run lintian --fail-on error,warning "$DEB"
check "lintian: no error, no unjustified warning" sh -c '[ "$1" = 0 ] && ! printf "%s\n" "$2" | grep -q "^[EW]:"' _ "$RC" "$OUT"
check "the package's version is debian/changelog's" [ "$(dpkg-deb -f "$DEB" Version)" = "$version" ]

expect_rc 0 "dpkg -i installs it" dpkg -i "$DEB"
check "dpkg reports it installed" sh -c 'dpkg-query -W -f="\${Status}" pkilab | grep -q "install ok installed"'
check "pkilab --version matches the package" [ "$(/usr/bin/pkilab --version)" = "pkilab $version" ]
check "pkilab-cdpd --version matches the package" [ "$(/usr/bin/pkilab-cdpd --version)" = "pkilab-cdpd $version" ]
check "sysusers.d created the system user pkilab (home /var/lib/pkilab, no login)" \
  sh -c 'getent passwd pkilab | grep -Eq "^pkilab:x:[0-9]+:[0-9]+:[^:]*:/var/lib/pkilab:/usr/sbin/nologin$"'
check "tmpfiles.d created /var/lib/pkilab, pkilab:pkilab 0755" [ "$(stat -c '%U:%G %a' /var/lib/pkilab)" = "pkilab:pkilab 755" ]
check "templates are in /usr/share/pkilab/templates" [ -s /usr/share/pkilab/templates/root-ca.cfg ]
check "the cdpd configuration is a conffile" grep -qx /etc/pkilab/cdpd.conf /var/lib/dpkg/info/pkilab.conffiles
UNITS="/lib/systemd/system/pkilab-cdpd.service /lib/systemd/system/pkilab-crl.service /lib/systemd/system/pkilab-crl.timer"
for u in $UNITS; do
  doc=$(sed -n 's/^Documentation=file://p' "$u")
  check "$(basename "$u"): its Documentation= ($doc) is installed" sh -c '[ -n "$1" ] && [ -s "$1" ]' _ "$doc"
done
# shellcheck disable=SC2086 # the unit list is split on purpose
run systemd-analyze verify $UNITS
check "systemd-analyze verify accepts the installed units (man pages checked too)" \
  sh -c '[ "$1" = 0 ] && [ -z "$2" ]' _ "$RC" "$ERR$OUT"
check "the units are not enabled by the installation" \
  sh -c '! ls /etc/systemd/system/*.wants/pkilab-* 2>/dev/null | grep -q .'

# The example lab, as shipped, built by the unit's user into the unit's
# PKILAB_DIR with the installed pkilab alone: no build directory on PATH,
# no PKILAB_TEMPLATES.
port=$(free_port)
chmod 0755 "$T"
mkdir -m 0755 "$T/lab"
sed -e 's|^  pki = .*|  pki = "/var/lib/pkilab/pki";|' \
    -e "s|^  cdp = .*|  cdp = [ \"http://127.0.0.1:$port\" ];|" \
    /usr/share/doc/pkilab/examples/lab.cfg >"$T/lab/lab.cfg"
chmod 0644 "$T/lab/lab.cfg"
# umask 022 as the CRL unit's UMask=: the server reads publish/ as another user.
as_pkilab() { (umask 022 && runuser -u pkilab -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/pkilab "$@"); }
check "the installed pkilab is the one on a clean PATH" [ "$(as_pkilab sh -c 'command -v pkilab')" = /usr/bin/pkilab ]
expect_rc 0 "user pkilab builds the example lab into /var/lib/pkilab/pki" \
  as_pkilab sh -c 'cd "$1" && pkilab build lab.cfg' _ "$T/lab"
check "the PKI is there, keys 0600 in a 0700 private/" \
  sh -c '[ "$(stat -c %a /var/lib/pkilab/pki/private)" = 700 ] && [ "$(stat -c "%U %a" /var/lib/pkilab/pki/private/root.key)" = "pkilab 600" ]'

# pkilab-crl.service's command line, with its user and environment.
S=/lib/systemd/system/pkilab-crl.service
crl_env=$(sed -n 's/^Environment=//p' "$S")
crl_cmd=$(sed -n 's/^ExecStart=//p' "$S")
crl_user=$(sed -n 's/^User=//p' "$S")
# shellcheck disable=SC2086 # the unit's command line is split as systemd splits it
expect_rc 0 "pkilab-crl.service's ExecStart runs as User=$crl_user" \
  sh -c 'umask "$1"; shift; exec "$@"' _ "$(sed -n 's/^UMask=//p' "$S")" runuser -u "$crl_user" -- env -i PATH=/usr/bin:/bin $crl_env $crl_cmd
check "... and finds nothing due right after the build" contains "$OUT" "not due"

# pkilab-cdpd.service: under systemd, the unit itself (listening on loopback
# through a runtime drop-in); without it (a container), the unit's ExecStart
# as an unprivileged user other than pkilab, as its DynamicUser= would be,
# with the state directory StateDirectory= would make.
S=/lib/systemd/system/pkilab-cdpd.service
cdpd_cmd=$(sed -n 's/^ExecStart=//p' "$S")
if [ -d /run/systemd/system ]; then
  mkdir -p /run/systemd/system/pkilab-cdpd.service.d
  printf '[Service]\nExecStart=\nExecStart=%s --listen 127.0.0.1:%s\n' "$cdpd_cmd" "$port" \
    >/run/systemd/system/pkilab-cdpd.service.d/t0004.conf
  systemctl daemon-reload
  expect_rc 0 "systemctl start pkilab-cdpd" systemctl start pkilab-cdpd.service
else
  echo "# no systemd as PID 1: running the unit's ExecStart as nobody"
  install -d -m 0700 -o nobody -g nogroup /var/lib/pkilab-cdpd
  # shellcheck disable=SC2086 # see above
  setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs -- \
    $cdpd_cmd --listen "127.0.0.1:$port" >"$T/cdpd.log" 2>&1 &
  cdpd_pid=$!
fi
check "the CDP answers on 127.0.0.1:$port" wait_http "http://127.0.0.1:$port/crl/vpn-ca.crl"
run curl -sf --max-time 5 -o "$T/vpn-ca.crl" "http://127.0.0.1:$port/crl/vpn-ca.crl"
check "curl fetches /crl/vpn-ca.crl" [ "$RC" = 0 ]
check "it is the CRL pkilab published" cmp -s "$T/vpn-ca.crl" /var/lib/pkilab/pki/publish/crl/vpn-ca.crl
if [ -d /run/systemd/system ]; then
  systemctl stop pkilab-cdpd.service
else
  kill "$cdpd_pid"; wait "$cdpd_pid"; cdpd_pid=""
  sed 's/^/#   cdpd: /' "$T/cdpd.log" | tail -n 5
fi

# Purge: every file of the package goes, the CDP state goes, the PKI stays.
dpkg-query -L pkilab >"$T/files"
pki_before=$(tree_sum /var/lib/pkilab/pki)
expect_rc 0 "dpkg --purge pkilab" dpkg --purge pkilab
check "dpkg no longer knows the package" sh -c '! dpkg-query -W -f="\${Status}" pkilab 2>/dev/null | grep -q "installed\|config-files"'
check "no file of the package remains (dpkg -L before, checked after)" \
  sh -c 'while read -r f; do [ -e "$f" ] || continue; [ -d "$f" ] && [ -n "$(ls -A "$f")" ] && continue; echo "left: $f"; exit 1; done <"$1"' _ "$T/files"
check "/etc/pkilab is gone (conffile purged)" [ ! -e /etc/pkilab ]
check "the CDP state directory is gone" [ ! -e /var/lib/pkilab-cdpd ]
check "the PKI is kept, unchanged (documented)" [ "$(tree_sum /var/lib/pkilab/pki)" = "$pki_before" ]
check "the root key is still there" [ -s /var/lib/pkilab/pki/private/root.key ]
finish
