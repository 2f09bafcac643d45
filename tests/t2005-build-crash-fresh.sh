#!/bin/sh
# t2005-build-crash-fresh: a failure injected at every write step of a FRESH
# build leaves no PKI (and no staging directory) behind -- or, when the PKI
# directory existed empty, that empty directory as it was --, and a re-run
# completes. The procedure and what is checked: tests/crash/inject.sh.
. "$(dirname "$0")/lib.sh"
PKL_CRASH_SCENARIOS=${PKL_CRASH_SCENARIOS:-"fresh fresh-empty"}
. "$TOP/tests/crash/inject.sh"
