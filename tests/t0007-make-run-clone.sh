#!/bin/sh
# `make run` from a fresh clone: only committed files, dependencies
# checked by scripts/install-deps.sh, a build from nothing, then the example
# lab end to end (scripts/run-lab.sh). In a private network namespace, so the
# lab's fixed CDP ports on 127.0.0.1/127.0.0.2 cannot collide with the host.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root for a private network namespace (fixed ports 8081)"
command -v git >/dev/null || skip_all "git is not installed"
[ -d "$TOP/.git" ] || skip_all "not a git checkout"
NS=pkl9-$$-clone
ip netns add "$NS" 2>/dev/null || skip_all "network namespaces are not available"
at_exit 'for p in $(ip netns pids '"$NS"' 2>/dev/null); do kill -9 $p; done; ip netns del '"$NS"
ip -n "$NS" link set lo up
trap 'exit 129' HUP   # a killed test still runs its at_exit clean-up
trap 'exit 141' PIPE

check "git clone of the committed tree" git clone -q "$TOP" "$T/clone"
start=$(date +%s)
# BUILD unset: the default build/ directory, as a new user gets it. A build
# from nothing on a busy machine is slow: 800 s only bounds a hang (run.sh
# stops any test at 900 s).
run ip netns exec "$NS" env -u BUILD timeout 800 make -C "$T/clone" run
echo "# make run: $(( $(date +%s) - start )) s"
check "make run exits 0" sh -c "[ $RC = 0 ] || { printf '%s\n' \"\$1\" | tail -n 30; exit 1; }" x "$OUT
$ERR"
check "it reports every check passed" contains "$OUT" "checks passed"
check "the PKI was built in the clone's out/pki" test -f "$T/clone/out/pki/certs/gw.pem"
check "the picture was written" sh -c "grep -q '</svg>' '$T/clone/out/hierarchy.svg' || test -s '$T/clone/out/hierarchy.dot'"
check "no server left running" test -z "$(ip netns pids "$NS")"
finish
