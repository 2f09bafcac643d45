#!/bin/sh
# Installs every Debian 12 package that pkilab's build, tests and benchmarks need.
# Idempotent and non-interactive: packages already present are skipped without
# touching the network, so `make test` stays fast on a machine that has them.
set -eu

BUILD="build-essential pkg-config clang libssl-dev libmicrohttpd-dev libconfig-dev
 libsqlite3-dev libcurl4-openssl-dev libjansson-dev libcmocka-dev"
TEST="openssl gnutls-bin strongswan-pki strongswan-swanctl strongswan-charon
 libstrongswan-extra-plugins libstrongswan-standard-plugins libcharon-extra-plugins libnss3-tools curl faketime
 iproute2 sqlite3 procps psmisc graphviz jq python3 stress-ng shellcheck libclang-rt-14-dev"
# make deb and its test (t0004), the units' checks (t3007): debhelper, lintian,
# systemd-analyze / systemd-sysusers / systemd-tmpfiles.
PACKAGE="debhelper dpkg-dev devscripts fakeroot lintian systemd"
BENCH="wrk nginx-light easy-rsa hyperfine"
# make lint, make format, make format-check.
LINT="cppcheck clang-tidy shellcheck bear clang-format"

want="$BUILD $TEST $PACKAGE"
case "${1:-}" in
  --bench) want="$want $BENCH" ;;
  --lint) want="$want $LINT" ;;
  --build-only) want="$BUILD" ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages:$missing (run as root to install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# charon must not start on install: tests start their own daemons.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
