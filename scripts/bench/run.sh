#!/bin/sh
# Runs every benchmark script in scripts/bench/ (all *.sh but this one), one
# after the other, so `make bench` needs no list to maintain.
#   BUILD=dir   the build directory whose binaries are measured (default build)
set -u
here=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$here"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "==> $(basename "$b")"
	sh "$b" || { echo "$(basename "$b") failed"; status=1; }
	echo
done
exit $status
