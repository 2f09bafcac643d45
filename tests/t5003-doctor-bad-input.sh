#!/bin/sh
# pkilab doctor on bad input and hostile CDP servers (garbage files, a PEM with no certificate, a PKCS#12 with a wrong
# password, a URL that redirects forever, a CDP that sends an endless body or
# stalls - each a bounded, clear finding or error, never a hang or a crash).
# Also: redundancy lost, revocation budgets (Windows 20 s cumulative,
# strongSwan 10 s per URI; docs/crl-publication.md), clock skew against the CDP's
# Date header, and the intermediate fetched from AIA (RFC 5280 §4.2.2.1).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/doctor/lib.sh"

[ -x "$PKILAB" ] || skip_all "no $PKILAB"
command -v python3 >/dev/null || skip_all "python3 missing"
command -v jq >/dev/null || skip_all "jq missing"

W=$T/lab
mkdir -p "$W"
cp "$TOP/examples/lab.cfg" "$W/lab.cfg"
cd "$W" || exit 1
"$PKILAB" build lab.cfg >/dev/null 2>&1
check "example lab built" test -f pki-example/certs/gw-chain.pem
P=pki-example

# ---- bad files: exit 2, one line on stderr, no crash -------------------------
head -c 3000 /dev/urandom >garbage.bin
expect_rc 2 "garbage file: exit 2" "$PKILAB" doctor garbage.bin
check "garbage file: one-line error naming the file" one_line "$ERR"
check "garbage file: says what was expected" contains "$ERR" "PEM, DER or PKCS#12"
: >empty.pem
expect_rc 2 "empty file: exit 2" "$PKILAB" doctor empty.pem
cp "$P/private/gw.key" key-only.pem 2>/dev/null || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key-only.pem 2>/dev/null
expect_rc 2 "PEM with a key but no certificate: exit 2" "$PKILAB" doctor key-only.pem
check "PEM without certificate: clear one-line error" contains "$ERR" "PEM file without a certificate"
check "PEM without certificate: one line" one_line "$ERR"
printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' >broken.pem
expect_rc 2 "PEM with a corrupt certificate: exit 2" "$PKILAB" doctor broken.pem
expect_rc 2 "missing file: exit 2" "$PKILAB" doctor nosuch.pem

# ---- PKCS#12 -------------------------------------------------------------------
openssl pkcs12 -export -in "$P/certs/gw.pem" -inkey "$P/private/gw.key" -certfile "$P/certs/vpn-ca.pem" \
  -passout pass:s3cret -out gw.p12 2>/dev/null
check "PKCS#12 made with openssl" test -s gw.p12
printf 'wrong\n' >wrong.pass
printf 's3cret\n' >right.pass
expect_rc 2 "PKCS#12 with a wrong password (file): exit 2" "$PKILAB" doctor --no-fetch --trust "$P/certs/root.pem" --password-file wrong.pass gw.p12
check "wrong password: says so in one line" contains "$ERR" "wrong PKCS#12 password"
check "wrong password: one line" one_line "$ERR"
P12PW=nope expect_rc 2 "PKCS#12 with a wrong password (env): exit 2" env P12PW=nope "$PKILAB" doctor --no-fetch --password-env P12PW gw.p12
expect_rc 2 "PKCS#12 without a password: exit 2" "$PKILAB" doctor --no-fetch gw.p12
check "no password: tells how to give one" contains "$ERR" "--password-file"
expect_rc 0 "PKCS#12 with the right password: chain from the bag, passes" \
  "$PKILAB" doctor --no-fetch --trust "$P/certs/root.pem" --password-file right.pass gw.p12
check "PKCS#12 (OpenSSL 3 default AES/SHA-256): p12.modern_profile warning (X9, docs/profile.md)" contains "$OUT" "p12.modern_profile"
expect_rc 0 "PKCS#12 password from the environment" \
  env P12PW=s3cret "$PKILAB" doctor --no-fetch --trust "$P/certs/root.pem" --password-env P12PW gw.p12
openssl x509 -in "$P/certs/gw.pem" -outform DER -out gw.der
expect_rc 0 "DER certificate input with --chain" "$PKILAB" doctor --no-fetch --trust "$P/certs/root.pem" --chain "$P/certs/vpn-ca.pem" gw.der
expect_rc 0 "--trust DIR" sh -c "mkdir -p anchors && cp $P/certs/root.pem anchors/ && '$PKILAB' doctor --no-fetch --trust anchors $P/certs/gw-chain.pem"

# ---- hostile CDP servers -----------------------------------------------------
start() { doctor_serve "$W/$P/publish" "$1"; SP=$SRV_PORT; }
start serve; GOOD=$SP
start redirect; REDIR=$SP
start endless; ENDLESS=$SP
start stall; STALL=$SP
start html; HTML=$SP
start 404; NOTFOUND=$SP
start skew; SKEW=$SP

# A fetch expected to succeed gets a generous --timeout (30 s: a bound on a
# failure on a busy machine); only the hostile servers below test the
# deadlines themselves, and a stall is bounded from below (the deadline must
# pass before doctor reports it). timeout 60 bounds a hang: exit 124.
doctor_with() { # url1-port url2-port extra-args...
  _a=$1 _b=$2; shift 2
  PKILAB_RESOLVE="127.0.0.1:18081:127.0.0.1:$_a,127.0.0.2:18082:127.0.0.1:$_b" \
    run timeout 60 "$PKILAB" doctor --json --pki "$P" "$@" gw
}
codes() { printf '%s' "$OUT" | jq -r '.findings[] | "\(.severity):\(.code)"' | sort -u | tr '\n' ' '; }

doctor_with "$REDIR" "$REDIR" --timeout 30
check "redirect loop: exit 1" test "$RC" -eq 1
check "redirect loop: crl.http_status (3xx not followed)" contains "$(codes)" "fail:crl.http_status"
check "redirect loop: says redirect" contains "$OUT" "redirect not followed"

start=$(date +%s)
doctor_with "$ENDLESS" "$ENDLESS" --timeout 5
echo "# endless body: doctor took $(( $(date +%s) - start )) s (a figure, not a check)"
check "endless body: exit 1, ended by the deadlines (a hang would be timeout's 124)" test "$RC" -eq 1
check "endless body: crl.unreachable (too large or cut by the deadline)" contains "$(codes)" "fail:crl.unreachable"

start=$(date +%s)
doctor_with "$STALL" "$STALL" --timeout 2 --strongswan-budget 1500 --windows-budget 3000
echo "# stalled CDP: doctor took $(( $(date +%s) - start )) s (a figure, not a check)"
check "stalled CDP: exit 1 after the per-fetch deadlines, not a hang (that would be timeout's 124)" test "$RC" -eq 1
check "stalled CDP: crl.unreachable" contains "$(codes)" "fail:crl.unreachable"
check "stalled CDP: timed out message" contains "$OUT" "timed out"
check "stalled CDP: crl.budget_strongswan (per-URI budget exceeded)" contains "$(codes)" "warn:crl.budget_strongswan"
check "stalled CDP: crl.budget_windows (cumulative budget exceeded)" contains "$(codes)" "warn:crl.budget_windows"

doctor_with "$HTML" "$HTML" --timeout 30
check "HTML page at the CDP: crl.parse" contains "$(codes)" "fail:crl.parse"
check "HTML page at the CDP: crl.content_type warning" contains "$(codes)" "warn:crl.content_type"

doctor_with "$NOTFOUND" "$NOTFOUND" --timeout 30
check "404 at the CDP: crl.http_status" contains "$(codes)" "fail:crl.http_status"

# one mirror good, one 404: clients still get a CRL -> warnings, exit 0
doctor_with "$GOOD" "$NOTFOUND" --timeout 30
check "one mirror down: exit 0 (a valid CRL from the other)" test "$RC" -eq 0
check "one mirror down: crl.redundancy_lost" contains "$(codes)" "warn:crl.redundancy_lost"
check "one mirror down: the broken URI is a warning" contains "$(codes)" "warn:crl.http_status"

# the mirror order does not matter for the verdict
doctor_with "$NOTFOUND" "$GOOD" --timeout 30
check "first mirror down, second good: exit 0" test "$RC" -eq 0

doctor_with "$SKEW" "$SKEW" --timeout 30
check "CDP Date two hours off: time.clock_skew" contains "$(codes)" "warn:time.clock_skew"
check "clock skew: the skew is named" contains "$OUT" "by -2h"

doctor_with "$GOOD" "$GOOD" --timeout 30
check "good CDPs: exit 0, no warning" test "$RC" -eq 0 -a "$(printf '%s' "$OUT" | jq '.summary.warn')" -eq 0
check "good CDPs: clock skew ok" contains "$(codes)" "ok:time.clock_skew"

# another CA's CRL at the VPN CA's URL: issuer mismatch (strongSwan discards it, RFC 5280 §5.1.2.3; RFC 5280 §6.3.3)
mkdir -p swapped && cp -R "$P/publish/." swapped/ && cp "$P/publish/crl/root.crl" swapped/crl/vpn-ca.crl
doctor_serve "$W/swapped"; SWAP=$SRV_PORT
doctor_with "$SWAP" "$SWAP" --timeout 30
check "root's CRL served as the VPN CA's: crl.issuer_mismatch" contains "$(codes)" "fail:crl.issuer_mismatch"
check "root's CRL served as the VPN CA's: crl.bad_signature" contains "$(codes)" "fail:crl.bad_signature"

# judged 30 minutes before the build: certificates (backdated 1 h) are valid,
# the CRLs (thisUpdate backdated 5 min) are not yet (docs/profile.md)
doctor_with "$GOOD" "$GOOD" --timeout 30 --at -30m
check "--at -30m: crl.not_yet_valid" contains "$(codes)" "fail:crl.not_yet_valid"
check "--at -30m: certificates still valid (backdate)" not_contains "$(codes)" "time.not_yet_valid"

# ---- AIA: the gateway's certificate alone; the VPN CA comes from its AIA URL ---
PKILAB_RESOLVE="127.0.0.1:18081:127.0.0.1:$GOOD,127.0.0.2:18082:127.0.0.1:$GOOD" \
  run "$PKILAB" doctor --json --trust "$P/certs/root.pem" "$P/certs/gw.pem"
check "leaf alone + AIA: exit 0 (Windows-style fetch completes the chain)" test "$RC" -eq 0
check "leaf alone + AIA: chain.issuer_fetched reported" contains "$(codes)" "warn:chain.issuer_fetched"
run "$PKILAB" doctor --json --no-aia --trust "$P/certs/root.pem" "$P/certs/gw.pem"
check "leaf alone, --no-aia: chain.issuer_missing" contains "$(codes)" "fail:chain.issuer_missing"
finish
