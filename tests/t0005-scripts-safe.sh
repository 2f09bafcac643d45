#!/bin/sh
# t0005-scripts-safe: the shell scripts shipped in examples/ and scripts/
# cannot hurt when run carelessly. revoked-gateway/setup.sh run without SERVE
# copied the publish directory into / (`cp -R pki/publish/. "$SERVE/"`), and
# without PKILAB it died with "Permission denied". Every script must
#   - pass shellcheck -s sh -S warning,
#   - run under `set -u` (`set -eu` for the scenario setup scripts),
#   - refuse to start, with one message naming the variable, when a required
#     variable is unset or points somewhere absurd (SERVE=/), before it runs
#     anything: no command started, nothing created or changed,
#   - default what can be defaulted (PKILAB: pkilab from PATH).
# The scripts run in a scratch copy of their directory, with `cp` and pkilab
# replaced by stubs that only log, so even the unfixed script copies nothing.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
scripts=$(cd "$TOP" && find examples scripts -name '*.sh' -not -path 'scripts/bench/*' | LC_ALL=C sort)
check "found the scripts (revoked-gateway, wrong-key-crl, run-lab)" \
  sh -c 'echo "$1" | grep -q revoked-gateway/setup.sh && echo "$1" | grep -q wrong-key-crl/setup.sh && echo "$1" | grep -q run-lab.sh' _ "$scripts"

# scripts/install-deps.sh installs shellcheck: missing, it is a failure, not a skip.
check "shellcheck is installed" command -v shellcheck
for s in $scripts; do
  run shellcheck -s sh -S warning "$TOP/$s"
  check "shellcheck -s sh -S warning $s${OUT:+ ($(printf '%s' "$OUT" | grep -m1 SC))}" [ "$RC" = 0 ]
done
for s in $scripts; do
  case "$s" in
    examples/broken/*) check "$s: set -eu" grep -Eq '^set -(eu|ue)$' "$TOP/$s" ;;
    *) check "$s: set -u (or -eu)" grep -Eq '^set -(e?u|ue)$' "$TOP/$s" ;;
  esac
done

# Stubs: cp and pkilab that log their arguments and do nothing.
mkdir -p bin nopath
printf '#!/bin/sh\necho "cp $*" >>"%s/ran.log"\n' "$T" >bin/cp
printf '#!/bin/sh\necho "pkilab $*" >>"%s/ran.log"\n' "$T" >bin/pkilab-stub
chmod +x bin/cp bin/pkilab-stub
for tool in sh env cat sed grep mkdir rm ls find pwd basename dirname; do
  p=$(command -v "$tool") && ln -s "$p" "nopath/$tool"
done
SAFEPATH=$T/bin:$T/nopath   # no pkilab in it

# A scenario directory as after `pkilab build lab.cfg` (enough for setup.sh).
scenario() { # name -> $T/w/name
  rm -rf "$T/w"; mkdir -p "$T/w"
  cp -R "$TOP/examples/broken/$1" "$T/w/$1"
  mkdir -p "$T/w/$1/pki/publish/crl" "$T/w/$1/serve/crl"
  : >"$T/w/$1/pki/pkilab.db"
  echo crl >"$T/w/$1/pki/publish/crl/vpn-ca.crl"
  : >"$T/ran.log"
}
# Runs setup.sh of scenario $1 with only the environment given; checks it refuses.
refuses() { # scenario what variable-the-message-names env-assignments...
  _s=$1 _what=$2 _var=$3; shift 3
  scenario "$_s"
  _before=$(tree_sum "$T/w")
  (cd "$T/w/$_s" && env -i PATH="$SAFEPATH" "$@" sh ./setup.sh) >"$T/o" 2>"$T/e"
  _rc=$?
  _err=$(cat "$T/e")
  check "$_s/setup.sh $_what: refuses (exit $_rc)" [ "$_rc" != 0 ]
  check "$_s/setup.sh $_what: one line saying what to set ($_err)" \
    sh -c '[ "$(printf "%s\n" "$1" | wc -l)" = 1 ] && printf "%s" "$1" | grep -q "$2"' _ "$_err" "$_var"
  check "$_s/setup.sh $_what: ran nothing ($(tr '\n' ';' <"$T/ran.log"))" [ ! -s "$T/ran.log" ]
  check "$_s/setup.sh $_what: changed nothing" [ "$(tree_sum "$T/w")" = "$_before" ]
}

refuses clock-drift "without PKILAB and no pkilab in PATH" "PKILAB"
for s in revoked-gateway wrong-key-crl; do
  refuses "$s" "without SERVE" "SERVE" PKILAB="$T/bin/pkilab-stub"
  refuses "$s" "with SERVE=/" "SERVE" PKILAB="$T/bin/pkilab-stub" SERVE=/
  refuses "$s" "with SERVE missing" "SERVE" PKILAB="$T/bin/pkilab-stub" SERVE="$T/nosuch"
  refuses "$s" "without PKILAB and no pkilab in PATH" "PKILAB" SERVE="$T/w/$s/serve"
  # outside a built scenario directory: no pki/ to act on
  scenario "$s"; rm -rf "$T/w/$s/pki"
  (cd "$T/w/$s" && env -i PATH="$SAFEPATH" PKILAB="$T/bin/pkilab-stub" SERVE="$T/w/$s/serve" sh ./setup.sh) >"$T/o" 2>"$T/e"
  check "$s/setup.sh outside a built scenario: refuses, says to build first" \
    sh -c '[ "$1" != 0 ] && grep -q "pkilab build" "$2" && [ ! -s "$3" ]' _ "$?" "$T/e" "$T/ran.log"
  # PKILAB defaults to pkilab from PATH
  scenario "$s"
  ln -sf "$T/bin/pkilab-stub" "$T/bin/pkilab"
  (cd "$T/w/$s" && env -i PATH="$SAFEPATH" SERVE="$T/w/$s/serve" sh ./setup.sh) >"$T/o" 2>"$T/e"
  check "$s/setup.sh without PKILAB uses pkilab from PATH" grep -q "^pkilab " "$T/ran.log"
  check "$s/setup.sh copies into SERVE only" sh -c '! grep "^cp " "$1" | grep -v -- "$2" | grep -q .' _ "$T/ran.log" "$T/w/$s/serve"
  rm -f "$T/bin/pkilab"
done
finish
