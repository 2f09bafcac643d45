#!/bin/sh
# pkilab doctor on every broken lab of examples/broken/ (README.md "Broken labs"): each scenario is built, its CRLs are served from a local HTTP
# server (tests/doctor/httpd.py on a free loopback port; lab host names are
# mapped with $PKILAB_RESOLVE, never looked up in DNS), its setup.sh breaks
# what the scenario needs, and doctor must
#   - exit 1 and report every code of the `fail:` line of its expect file,
#   - report no other failure,
#   - reach the same chain verdict (chain.*, time.*, crl.*, cert.* failures)
#     as `openssl verify -crl_check_all` and GnuTLS `certtool --verify`, both
#     given the CRLs a client would fetch (curl from the certificates' CDPs).
# Known disagreements are listed per scenario in expect (`certtool:`) with the reason.
# Broken labs must stay broken whenever they are rehearsed: each is judged a
# second time as if a day after its build (PKILAB_NOW), and must report the
# same failures. A scenario whose moment is tied to the build names a file its
# setup.sh wrote with the time in it: `@FILE` in `doctor:` and `at:` stands
# for the first line of FILE (clock-drift: the client's clock, recorded once).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/doctor/lib.sh"

[ -x "$PKILAB" ] || skip_all "no $PKILAB"
command -v python3 >/dev/null || skip_all "python3 missing"
command -v jq >/dev/null || skip_all "jq missing"

BROKEN=$TOP/examples/broken
HOSTS="crl1.broken.pkilab.test:8081 crl2.broken.pkilab.test:8081"

resolve_list() { _r=""; for h in $HOSTS; do _r="$_r${_r:+,}$h:127.0.0.1:$PORT"; done; echo "$_r"; }
connect_to() { for h in $HOSTS; do printf -- '--connect-to %s:127.0.0.1:%s ' "$h" "$PORT"; done; }

# Fetches the CRLs of the gateway and its CA as a client would (curl, bounded)
# into one PEM file; prints the number fetched.
client_crls() { # scenario-dir out.pem
  : >"$2"
  _n=0
  for c in "$1/pki/certs/gw.pem" "$1/pki/certs/vpn-ca.pem"; do
    for u in $(openssl x509 -in "$c" -noout -ext crlDistributionPoints 2>/dev/null | sed -n 's/^ *URI://p'); do
      # shellcheck disable=SC2046
      if curl -s -f --max-time 20 $(connect_to) -o "$T/crl.der" "$u" &&
         openssl crl -inform DER -in "$T/crl.der" >>"$2" 2>/dev/null; then
        _n=$((_n + 1)); break
      fi
    done
  done
  echo "$_n"
}

# Replaces each @FILE word of $2 with the first line of scenario $1's FILE.
at_files() { # scenario-dir words
  _o=""
  for _w in $2; do
    case "$_w" in @*) _w=$(head -n 1 "$1/${_w#@}" 2>/dev/null) || _w="" ;; esac
    _o="$_o${_o:+ }$_w"
  done
  printf '%s\n' "$_o"
}
# Seconds since the epoch of a doctor/openssl moment: +2h style or absolute.
at_epoch() {
  case "$1" in
    +*) echo $(( $(date +%s) + $(echo "$1" | sed 's/^+//; s/h$/*3600/; s/m$/*60/; s/d$/*86400/' | bc) )) ;;
    *) date -u -d "$(echo "$1" | sed 's/T/ /; s/Z$/ UTC/')" +%s ;;
  esac
}
# faketime's spelling of the same moment.
at_faketime() {
  case "$1" in
    +*) echo "$1" ;;
    *) date -u -d "@$(at_epoch "$1")" '+@%Y-%m-%d %H:%M:%S' ;;
  esac
}
day_later=$(date -u -d "@$(( $(date +%s) + 86400 ))" +%Y-%m-%dT%H:%M:%SZ)

n_scen=0
for dir in "$BROKEN"/*/; do
  s=$(basename "$dir")
  [ -f "$dir/lab.cfg" ] && [ -f "$dir/expect" ] || continue
  n_scen=$((n_scen + 1))
  W=$T/$s
  cp -R "$dir" "$W"
  rm -rf "$W/pki" "$W/pki-impostor"
  want=$(sed -n 's/^fail: //p' "$W/expect")
  verdict=$(sed -n 's/^verify: //p' "$W/expect")
  ct_verdict=$(sed -n 's/^certtool: \([a-z]*\).*/\1/p' "$W/expect")
  says=$(sed -n 's/^says: //p' "$W/expect")

  (cd "$W" && "$PKILAB" build lab.cfg >"$T/build.out" 2>&1)
  check "$s: pkilab build lab.cfg" test -f "$W/pki/certs/gw.pem"
  mkdir -p "$W/serve"
  cp -R "$W/pki/publish/." "$W/serve/"
  if [ -f "$W/setup.sh" ]; then
    case "$s" in revoked-gateway)
      if ! "$PKILAB" revoke --help >/dev/null 2>&1; then
        echo "# pending: $s needs 'pkilab revoke' and 'pkilab crl'"; continue
      fi ;;
    esac
    (cd "$W" && PKILAB=$PKILAB SERVE=$W/serve sh ./setup.sh >"$T/setup.out" 2>&1)
    check "$s: setup.sh" test $? -eq 0
  fi
  args=$(at_files "$W" "$(sed -n 's/^doctor: //p' "$W/expect")")
  at=$(at_files "$W" "$(sed -n 's/^at: //p' "$W/expect")")
  doctor_serve "$W/serve"
  check "$s: CDP server up" test $? -eq 0
  PORT=$SRV_PORT

  # shellcheck disable=SC2086
  (cd "$W" && PKILAB_RESOLVE=$(resolve_list) "$PKILAB" doctor --json $args >"$T/doc.json" 2>"$T/doc.err")
  rc=$?
  check "$s: doctor exits 1 (a check failed)" test "$rc" -eq 1
  got=$(jq -r '.findings[] | select(.severity == "fail") | .code' "$T/doc.json" | sort -u | tr '\n' ' ')
  for code in $want; do
    check "$s: reports $code" contains " $got" " $code "
  done
  extra=""
  for code in $got; do
    case " $want " in *" $code "*) ;; *) extra="$extra $code" ;; esac
  done
  check "$s: no other failure (got: $got)" test -z "$extra"
  check "$s: every failure has a cause and a fix" \
    test "$(jq '[.findings[] | select(.severity == "fail") | select((.cause // "") == "" or (.fix // "") == "")] | length' "$T/doc.json")" -eq 0

  # Independent validators on the same chain and the CRLs a client fetches.
  ncrl=$(client_crls "$W" "$T/crls.pem")
  trust=$W/pki/certs/root.pem
  case "$args" in *"--trust "*) trust=$W/$(printf '%s\n' "$args" | sed 's/.*--trust \([^ ]*\).*/\1/') ;; esac
  untrusted=$W/pki/certs/gw-chain.pem
  chainfile=$W/pki/certs/gw-chain.pem
  case "$args" in *"pki/certs/gw.pem"*) untrusted=/dev/null; chainfile=$W/pki/certs/gw.pem ;; esac
  set -- -CAfile "$trust" -crl_check_all
  [ "$untrusted" != /dev/null ] && set -- "$@" -untrusted "$untrusted"
  [ "$ncrl" -gt 0 ] && set -- "$@" -CRLfile "$T/crls.pem"
  [ -n "$at" ] && set -- "$@" -attime "$(at_epoch "$at")"
  if openssl verify "$@" "$W/pki/certs/gw.pem" >"$T/ossl.out" 2>&1; then ov=pass; else ov=fail; fi
  set -- --verify --load-ca-certificate "$trust" --infile "$chainfile"
  [ "$ncrl" -gt 0 ] && set -- "$@" --load-crl "$T/crls.pem"
  if [ -n "$at" ]; then
    if TZ=UTC faketime -f "$(at_faketime "$at")" certtool "$@" >"$T/ct.out" 2>&1; then cv=pass; else cv=fail; fi
  elif certtool "$@" >"$T/ct.out" 2>&1; then cv=pass; else cv=fail; fi
  dv=$(jq -r '[.findings[] | select(.severity == "fail") | .code | select(test("^(chain|time|crl|cert)\\."))] | if length > 0 then "fail" else "pass" end' "$T/doc.json")
  check "$s: doctor chain verdict '$dv' is the expected '$verdict'" test "$dv" = "$verdict"
  check "$s: openssl verify -crl_check_all agrees ($ov)" test "$ov" = "$dv"
  check "$s: certtool --verify ${ct_verdict:+documented }verdict ($cv)" test "$cv" = "${ct_verdict:-$dv}"

  # The same rehearsal a day after the build: the same failures, no others.
  # shellcheck disable=SC2086
  (cd "$W" && PKILAB_NOW=$day_later PKILAB_RESOLVE=$(resolve_list) "$PKILAB" doctor --json $args >"$T/doc1d.json" 2>"$T/doc1d.err")
  got1d=$(jq -r '.findings[] | select(.severity == "fail") | .code' "$T/doc1d.json" | sort -u | tr '\n' ' ')
  [ -z "$says" ] || check "$s: doctor says '$says'" grep -q "$says" "$T/doc.json"
  [ -z "$says" ] || check "$s: and still a day later" grep -q "$says" "$T/doc1d.json"
  check "$s: a day later still reports exactly '$want' (got: $got1d)" \
    test "$(echo $got1d | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(echo $want | tr ' ' '\n' | sort | tr '\n' ' ')"
  doctor_stop
done
check "all 13 broken labs ran (found $n_scen)" test "$n_scen" -ge 13
finish
