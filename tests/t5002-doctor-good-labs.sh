#!/bin/sh
# pkilab doctor on the good example labs (they report no
# failures): every certificate of examples/*.cfg, its CRLs served from a
# local server, must pass (exit 0, no failure in --json) - and openssl verify
# -crl_check_all must agree. Also the report's shape: one line per check with
# a mark, text and --json carrying the same codes, --ascii marks, exit codes.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/doctor/lib.sh"

[ -x "$PKILAB" ] || skip_all "no $PKILAB"
command -v python3 >/dev/null || skip_all "python3 missing"
command -v jq >/dev/null || skip_all "jq missing"

n_labs=0
for lab in "$TOP"/examples/*.cfg; do
  name=$(basename "$lab" .cfg)
  W=$T/$name
  mkdir -p "$W"
  cp "$lab" "$W/lab.cfg"
  pki=$(sed -n 's/^ *pki *= *"\([^"]*\)".*/\1/p' "$W/lab.cfg" | head -n 1)
  [ -n "$pki" ] || pki=pki
  (cd "$W" && "$PKILAB" build lab.cfg >/dev/null 2>&1)
  check "$name: built" test -d "$W/$pki/certs"
  [ -d "$W/$pki/certs" ] || continue
  n_labs=$((n_labs + 1))
  doctor_serve "$W/$pki/publish"
  PORT=$SRV_PORT
  # Every CDP base of the lab, mapped to the local server (never DNS).
  resolve=""
  for hp in $(grep -o 'http://[^"/]*' "$W/lab.cfg" | sed 's|http://||' | sort -u); do
    case "$hp" in *:*) ;; *) hp=$hp:80 ;; esac
    resolve="$resolve${resolve:+,}$hp:127.0.0.1:$PORT"
  done
  for cert in "$W/$pki"/certs/*-chain.pem; do
    n=$(basename "$cert" -chain.pem)
    openssl x509 -in "$W/$pki/certs/$n.pem" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE' && continue
    (cd "$W" && PKILAB_RESOLVE=$resolve "$PKILAB" doctor --pki "$pki" --json "$n" >"$T/d.json" 2>"$T/d.err")
    rc=$?
    fails=$(jq -r '.findings[] | select(.severity == "fail") | .code' "$T/d.json" 2>/dev/null | tr '\n' ' ')
    check "$name/$n: doctor passes (exit $rc, failures: $fails)" test "$rc" -eq 0 -a -z "$fails"
    check "$name/$n: CRLs of leaf and intermediate fetched from every URI" \
      test "$(jq '[.findings[] | select(.code == "crl.valid")] | length' "$T/d.json")" -ge 2
    root=$(ls "$W/$pki"/certs/*.pem | while read -r f; do
      s=$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
      i=$(openssl x509 -in "$f" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
      [ "$s" = "$i" ] && echo "$f"; done | head -n 1)
    for c in "$W/$pki"/publish/crl/*.crl; do openssl crl -inform DER -in "$c"; done >"$T/crls.pem"
    check "$name/$n: openssl verify -crl_check_all agrees (pass)" \
      openssl verify -CAfile "$root" -untrusted "$cert" -crl_check_all -CRLfile "$T/crls.pem" "$W/$pki/certs/$n.pem"
  done
  doctor_stop
done
check "at least 4 example labs (found $n_labs)" test "$n_labs" -ge 4

# The report's shape, on the first example lab (still built).
W=$T/lab
doctor_serve "$W/pki-example/publish"
PORT=$SRV_PORT
export PKILAB_RESOLVE="127.0.0.1:18081:127.0.0.1:$PORT,127.0.0.2:18082:127.0.0.1:$PORT"
cd "$W" || exit 1
LANG=C.UTF-8 run "$PKILAB" doctor --pki pki-example gw
check "text: exit 0" test "$RC" -eq 0
check "text: a check mark per passed check" contains "$OUT" "✔ chain.trust"
check "text: summary line" contains "$OUT" "0 failed"
check "text: header names certificate, moment and platforms" contains "$OUT" "pkilab doctor: CN=vpn.example.test (gateway), judged at"
run "$PKILAB" doctor --ascii --pki pki-example gw
check "--ascii: [ok] marks" contains "$OUT" "[ok]   chain.trust"
run "$PKILAB" doctor --json --pki pki-example gw
check "--json: valid JSON with verdict pass" test "$(printf '%s' "$OUT" | jq -r .verdict)" = pass
# Text and JSON are compared on offline runs: two online runs on a loaded
# machine may legitimately differ (a fetch over a budget is a warning).
offline_text=$("$PKILAB" doctor --ascii --no-fetch --pki pki-example gw)
offline_json=$("$PKILAB" doctor --json --no-fetch --pki pki-example gw)
check "--json: same number of findings as text lines (offline)" \
  test "$(printf '%s' "$offline_json" | jq '.findings | length')" -eq "$(printf '%s\n' "$offline_text" | grep -c '^\[')"
check "--json: codes identical to the text report (offline)" test \
  "$(printf '%s' "$offline_json" | jq -r '.findings[].code' | tr '\n' ' ')" = \
  "$(printf '%s\n' "$offline_text" | sed -n 's/^\[[a-zA-Z]*\] *\([a-z0-9_.A-Z]*\) .*/\1/p' | tr '\n' ' ')"
check "online and offline reports have the same chain and platform findings" test \
  "$(printf '%s' "$OUT" | jq -r '.findings[].code' | grep -v '^crl\.\|^time.clock_skew\|^cert.status' | sort | tr '\n' ' ')" = \
  "$(printf '%s' "$offline_json" | jq -r '.findings[].code' | grep -v '^crl\.\|^time.clock_skew\|^cert.status' | sort | tr '\n' ' ')"
check "--json: elapsed_ms on CRL fetches" test "$(printf '%s' "$OUT" | jq '[.findings[] | select(.code == "crl.valid") | .elapsed_ms] | length')" -ge 4
# --at: a year from now the gateway (397 d) is still valid, in 2 years expired
expect_rc 1 "--at +2y: leaf expired, exit 1" "$PKILAB" doctor --json --no-fetch --pki pki-example gw --at +2y
check "--at +2y: time.expired reported" contains "$OUT" '"time.expired"'
# --id: the IP identity is both iPAddress and dNSName (ip_as_dns, strongSwan Windows requirements)
expect_rc 0 "--id 192.0.2.10 passes on all platforms (IP also as dNSName)" "$PKILAB" doctor --no-fetch --pki pki-example --id 192.0.2.10 gw
expect_rc 1 "--id vpn.wrong.test fails" "$PKILAB" doctor --no-fetch --json --pki pki-example --id vpn.wrong.test gw
check "--id mismatch is san.id_mismatch" contains "$OUT" '"san.id_mismatch"'
# a client certificate is judged as a client
run "$PKILAB" doctor --no-fetch --pki pki-example alice
check "alice is judged as a client" contains "$OUT" "(client)"
check "alice passes" test "$RC" -eq 0
# usage errors: exit 2
expect_rc 2 "unknown platform: exit 2" "$PKILAB" doctor --pki pki-example --platform beos gw
expect_rc 2 "no certificate argument: exit 2" "$PKILAB" doctor
expect_rc 2 "unknown name in the PKI: exit 2" "$PKILAB" doctor --pki pki-example nosuch
check "unknown name: one-line error" one_line "$ERR"
expect_rc 2 "bad --resolve entry: exit 2" "$PKILAB" doctor --pki pki-example --resolve nonsense gw

# The same lab served by the product's own CDP server: doctor passes with no
# warning (pkilab-cdpd sends application/pkix-crl and a Date header).
if [ -x "$CDPD" ]; then
  doctor_stop
  CP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$CDPD" --publish "$W/pki-example/publish" --listen "127.0.0.1:$CP" --access-log false >"$T/cdpd.log" 2>&1 &
  cpid=$!
  at_exit "kill -KILL $cpid 2>/dev/null"
  until_ok curl -s -f -o /dev/null --max-time 5 "http://127.0.0.1:$CP/crl/root.crl"
  PKILAB_RESOLVE="127.0.0.1:18081:127.0.0.1:$CP,127.0.0.2:18082:127.0.0.1:$CP" run "$PKILAB" doctor --json --pki pki-example gw
  check "served by pkilab-cdpd: doctor exit 0" test "$RC" -eq 0
  check "served by pkilab-cdpd: no warning" test "$(printf '%s' "$OUT" | jq '.summary.warn')" -eq 0
  check "served by pkilab-cdpd: 4 valid CRL fetches" test "$(printf '%s' "$OUT" | jq '[.findings[] | select(.code == "crl.valid")] | length')" -eq 4
  kill "$cpid" 2>/dev/null
else
  echo "# pkilab-cdpd not built: cdpd check skipped"
fi
finish
