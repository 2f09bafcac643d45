#!/bin/sh
# t2006-build-crash-converge: a failure injected at every write step of a
# build that CONVERGES an existing PKI (one leaf added) leaves the PKI
# byte-for-byte as it was, and a re-run completes. The procedure and what is
# checked: tests/crash/inject.sh.
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034 # read by tests/crash/inject.sh, sourced below
PKL_CRASH_SCENARIOS=converge
. "$TOP/tests/crash/inject.sh"
