#!/bin/sh
# t2009-build-staging-symlinks: `pkilab build` sweeps the staging directories
# of killed builds ("<pki>.new-<pid>-XXXXXX" whose pid is gone) from the PKI's
# parent directory. Whoever can write that directory (a shared lab or CI
# workspace) can plant entries with that name, so the sweep must
#   - never follow a symbolic link (one named like a staging directory, or
#     one nested inside a real staging directory): the link goes, its target
#     stays;
#   - only remove directories this user owns (a root build must not delete
#     another user's directory because of its name);
#   - still remove a real staging directory of a dead build.
. "$(dirname "$0")/lib.sh"
export PKILAB_TEMPLATES="$TOP/templates"

W=$T/ws
mkdir -p "$W" "$T/victim/private" "$T/victim2/private"
echo precious >"$T/victim/keep.txt"
echo precious >"$T/victim/private/keep.key"
echo precious >"$T/victim2/keep.txt"
echo precious >"$T/victim2/private/keep.key"
cat >"$W/lab.cfg" <<'LAB'
lab = { name = "t2009"; pki = "pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = ( { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=t2009 Root"; } );
certs = ( { name = "gw"; template = "ipsec-gateway"; issuer = "root"; key = "ec:P-256";
            subject = "CN=gw.t2009.test"; san = [ "gw.t2009.test" ]; } );
LAB

# A pid that cannot exist (above the kernel's PID_MAX_LIMIT of 4194304).
dead=99999999
# 1. a symlink named like a dead build's staging directory
ln -s ../victim "$W/pki.new-0-aaaaaa"
ln -s "$T/victim" "$W/pki.new-$dead-bbbbbb"
# 2. a real staging directory of a dead build, with symlinks nested in it
mkdir -p "$W/pki.new-$dead-cccccc/publish"
ln -s "$T/victim2/private" "$W/pki.new-$dead-cccccc/private"
ln -s "$T/victim2" "$W/pki.new-$dead-cccccc/certs"
ln -s "$T/victim2/keep.txt" "$W/pki.new-$dead-cccccc/publish/crl"
echo litter >"$W/pki.new-$dead-cccccc/stray"
# 3. a staging-named directory owned by another user (only when we can chown)
other=0
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$W/pki.new-$dead-dddddd"
  echo theirs >"$W/pki.new-$dead-dddddd/theirs.txt"
  chown -R 65534:65534 "$W/pki.new-$dead-dddddd" && other=1
fi

expect_rc 0 "build beside planted staging names" "$PKILAB" build "$W/lab.cfg" --pki "$W/pki"
check "the PKI was built" test -s "$W/pki/certs/gw.pem"
check "victim file behind a staging-named symlink survives" test -f "$T/victim/keep.txt"
check "victim/private behind a staging-named symlink survives" test -f "$T/victim/private/keep.key"
check "victim2 file behind a symlink nested in a staging dir survives" test -f "$T/victim2/keep.txt"
check "victim2/private behind a nested symlink survives" test -f "$T/victim2/private/keep.key"
check "the staging-named symlinks are left alone (not directories we created)" \
  sh -c 'test -L "$1/pki.new-0-aaaaaa" && test -L "$1/pki.new-'"$dead"'-bbbbbb"' _ "$W"
check "the dead build's own staging directory is swept" test ! -e "$W/pki.new-$dead-cccccc"
if [ "$other" = 1 ]; then
  check "another user's staging-named directory is not removed" test -f "$W/pki.new-$dead-dddddd/theirs.txt"
fi

# A failed fresh build removes its own staging directory the same way.
cat >"$W/bad.cfg" <<'LAB'
lab = { name = "t2009b"; pki = "pki2"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = ( { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=t2009 Root"; encrypt_key = true; } );
LAB
expect_rc 2 "a build that fails after staging (encrypted key, no passphrase)" \
  env -u PKILAB_KEY_PASSPHRASE -u PKILAB_KEY_PASSPHRASE_FILE "$PKILAB" build "$W/bad.cfg" --pki "$W/pki2"
check "no staging directory left by the failed build" sh -c '! ls -d "$1"/pki2.new-* 2>/dev/null' _ "$W"
check "no pki2 left by the failed build" test ! -e "$W/pki2"
finish
