#!/bin/sh
# pkilab-cdpd rollback protection across restarts (RFC 5280 §5.2.3: CRL numbers strictly increase per issuer, and "all
# redundant signers/mirrors must share one sequence", so a mirror must not
# step back either). With state_dir the server keeps the highest CRL number
# it ever accepted per CA and CA key, and after a restart refuses an older,
# validly signed, unexpired CRL put back on disk or offered by a peer; the
# same restart without state_dir serves it (so this test can fail). A corrupt
# state file stops the start with one line naming file:line and is left
# untouched; a missing or unwritable state_dir is exit 2; the directory is
# usable after the privilege drop; a CA re-keyed under the same name starts
# over. Also: a mirror marks the CAs it learned from peers on its status
# page, in /metrics (pkilab_cdpd_ca_learned) and in /healthz.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

ip addr show lo 2>/dev/null | grep -q '127.0.0.1/8' || skip_all "loopback is not 127.0.0.0/8"
chmod 755 "$T"   # the privilege-drop checks run as nobody
P=$(free_port_all)
A=http://127.0.0.1:$P M=http://127.0.0.2:$P C=http://127.0.0.3:$P

cat >"$T/lab.cfg" <<EOF
lab = { name = "t6006"; pki = "pki"; cdp = [ "$A", "$M" ]; };
cas = (
  { name = "root"; template = "root-ca"; subject = "C=CH, O=pkilab Test, CN=t6006 Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "C=CH, O=pkilab Test, CN=t6006 VPN CA"; }
);
certs = (
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=alice.t6006.test"; san = [ "alice.t6006.test" ]; }
);
EOF
expect_rc 0 "pkilab build" "$PKILAB" build "$T/lab.cfg"
[ "$RC" = 0 ] || { echo "$ERR"; finish; exit 1; }
PKI=$T/pki PUB=$T/pki/publish
chmod -R a+rX "$PUB"
cp "$PUB/crl/vpn-ca.crl" "$T/old.crl"

crlnum() { python3 -c 'import sys; print(int(sys.argv[1].split("=")[1], 16))' \
  "$(openssl crl -inform DER -in "$1" -noout -crlnumber)"; }
# The mark of CA $2 in state dir $1 (polled: written at the rebuild after acceptance).
mark_is1() { # dir ca number
  [ "$(awk -v c="$2" '$1 == c { print $3 }' "$1/crl-numbers" 2>/dev/null)" = "$3" ] && return 0
  echo "mark of $2 in $1/crl-numbers is not $3:"; cat "$1/crl-numbers"; return 1
}
mark_is() { until_ok mark_is1 "$@"; }
# A start-up error is one line "pkilab-cdpd: error: ..."; the only other
# lines allowed are the timestamped log lines written before it (the
# privilege drop comes first, so the state directory is checked as the user
# the server runs as).
one_error() {
  [ "$(printf '%s\n' "$1" | grep -c '^pkilab-cdpd: error: ')" = 1 ] &&
    [ -z "$(printf '%s\n' "$1" | grep -v '^pkilab-cdpd: error: ' | grep -Ev '^[0-9-]{10}T[0-9:.]{12}Z pkilab-cdpd: (info|warning): ')" ] ||
    { echo "not one error line:"; echo "$1"; return 1; }
}
# Every server stops cleanly (status 0: under ASan, also no leak).
stop() { for _s in "$@"; do stop_cdpd "$_s"; check "$_s: clean exit on SIGTERM" test $? = 0; done; }
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :' | tr 'A-F' 'a-f'; }
n_old=$(crlnum "$T/old.crl")

# --- the high-water mark rises with a newer CRL ------------------------------------
mkdir "$T/s1"
serve_cdpd "primary with --state-dir answers" a "$A" \
  --publish "$PUB" --listen "127.0.0.1:$P" --state-dir "$T/s1"
check "log: rollback protection from the state file" \
  wait_log a "rollback protection: 0 CRL number high-water mark(s) in $T/s1/crl-numbers"
check "vpn-ca's first CRL served (number $n_old)" same_as "$A/crl/vpn-ca.crl" "$T/old.crl"
check "state file records vpn-ca at $n_old" mark_is "$T/s1" vpn-ca "$n_old"
check "the mark's key identity is vpn-ca's subjectKeyIdentifier" \
  grep -q "^vpn-ca $(ski "$PKI/certs/vpn-ca.pem") $n_old\$" "$T/s1/crl-numbers"
check "state file mode 0644 or 0600, no temporary file left" \
  sh -c "case \$(stat -c %a '$T/s1/crl-numbers') in 644|600) [ \$(ls -A '$T/s1' | wc -l) = 1 ] ;; *) false ;; esac"
"$PKILAB" revoke alice --pki "$PKI" >/dev/null 2>&1
run "$PKILAB" crl --pki "$PKI" --ca vpn-ca
chmod -R a+rX "$PUB"
cp "$PUB/crl/vpn-ca.crl" "$T/new.crl"
n_new=$(crlnum "$T/new.crl")
check "pkilab crl: a newer CRL number ($n_old -> $n_new)" test "$n_new" -gt "$n_old"
check "the newer CRL is served (inotify)" same_as "$A/crl/vpn-ca.crl" "$T/new.crl"
check "the mark rose to $n_new" mark_is "$T/s1" vpn-ca "$n_new"
stop a

# --- restart with the older CRL put back -------------------------------------------
cp "$T/old.crl" "$PUB/crl/vpn-ca.crl"
check "the older CRL is still validly signed by vpn-ca (openssl)" \
  openssl crl -inform DER -in "$PUB/crl/vpn-ca.crl" -CAfile "$PKI/certs/vpn-ca.pem" -noout
sum_s1=$(sha256sum "$T/s1/crl-numbers")
serve_cdpd "restarted primary answers" a2 "$A" --publish "$PUB" --listen "127.0.0.1:$P" --state-dir "$T/s1"
hget "$A/crl/vpn-ca.crl"
check "after the restart the older CRL is NOT served: 503 and why (HTTP $CODE)" refused_503 "lower than"
check "... no byte of it" sh -c "! cmp -s '$T/body' '$T/old.crl'"
hget "$A/crl/root.crl"
check "root's CRL is still served" cmp "$T/body" "$PUB/crl/root.crl"
hget "$A/healthz"; cp "$T/body" "$T/h.json"
check "/healthz 503" test "$CODE" = 503
check "/healthz problem: vpn-ca's file refused as a rollback below the mark" \
  sh -c "jq -e '.problems[] | select(.ca == \"vpn-ca\" and .source == \"$PUB/crl/vpn-ca.crl\" and (.message | test(\"CRL number $n_old is lower than $n_new, the highest accepted before .*rollback refused\")))' '$T/h.json' >/dev/null"
check "/healthz: vpn-ca has no CRL in service" \
  sh -c "jq -e '.cas[] | select(.name == \"vpn-ca\" and .ok == false)' '$T/h.json' >/dev/null"
check "log says why" wait_log a2 "error: vpn-ca: $PUB/crl/vpn-ca.crl: CRL number $n_old is lower than $n_new.*$T/s1/crl-numbers): rollback refused"
check "the refusal did not touch the state file" test "$(sha256sum "$T/s1/crl-numbers")" = "$sum_s1"
stop a2

# Control: the same restart without state_dir serves the replayed CRL.
start_cdpd a3 --publish "$PUB" --listen "127.0.0.1:$P"
check "without state_dir the older CRL IS served after a restart (today's behaviour)" \
  same_as "$A/crl/vpn-ca.crl" "$T/old.crl"
check "without state_dir the log says the protection lasts only while the process runs" \
  grep -q "info: no state_dir: rollback protection (refusing a lower CRL number) lasts only while the process runs" "$T/a3.log"
stop a3

# The newer CRL back: served again, healthy.
cp "$T/new.crl" "$PUB/crl/vpn-ca.crl"
start_cdpd a4 --publish "$PUB" --listen "127.0.0.1:$P" --state-dir "$T/s1"
check "the newer CRL back in place: served after a restart" same_as "$A/crl/vpn-ca.crl" "$T/new.crl"
hget "$A/healthz"
check "... and healthy again" test "$CODE" = 200

# --- a mirror learns the mark through a peer and keeps it -------------------------------
mkdir -p "$T/trust" "$T/s2"
cp "$PUB/aia/root.crt" "$T/trust/root.crt"
serve_cdpd "mirror answers" m "$M" \
  --mirror "$A" --trust "$T/trust/root.crt" --listen "127.0.0.2:$P" --state-dir "$T/s2" \
  --mirror-interval 1s --mirror-timeout 2s
check "mirror learns vpn-ca and serves its newer CRL" same_as "$M/crl/vpn-ca.crl" "$T/new.crl"
check "mirror's state file records vpn-ca at $n_new" mark_is "$T/s2" vpn-ca "$n_new"
# Item 2: the learned CA is marked, the configured one is not.
hget "$M/"
check "status page: vpn-ca learned from the primary, with when" \
  grep -q "<td>vpn-ca</td>.*learned from $A/aia/vpn-ca.crt at 20[0-9-]*T[0-9:]*Z" "$T/body"
check "status page: root is configured, not learned" \
  sh -c "grep '<td>root</td>' '$T/body' | grep -q '<td>configured</td>' && ! grep '<td>root</td>' '$T/body' | grep -q 'learned from'"
check "status page: plain HTML, no script" not_contains "$(cat "$T/body")" "<script"
hget "$M/metrics"
check "metrics: pkilab_cdpd_ca_learned{ca=\"vpn-ca\"} 1" grep -qx 'pkilab_cdpd_ca_learned{ca="vpn-ca"} 1' "$T/body"
check "metrics: pkilab_cdpd_ca_learned{ca=\"root\"} 0" grep -qx 'pkilab_cdpd_ca_learned{ca="root"} 0' "$T/body"
check "metrics: existing CRL metrics unchanged" grep -q '^pkilab_cdpd_crl_number{ca="vpn-ca"} ' "$T/body"
hget "$M/healthz"
check "/healthz: vpn-ca learned_from the primary" \
  sh -c "jq -e '.cas[] | select(.name == \"vpn-ca\" and .learned_from == \"$A/aia/vpn-ca.crt\" and (.learned_at | length > 0))' '$T/body' >/dev/null"
check "/healthz: root has no learned_from" \
  sh -c "jq -e '.cas[] | select(.name == \"root\" and (has(\"learned_from\") | not))' '$T/body' >/dev/null"
hget "$A/"
check "the primary's status page marks nothing as learned" not_contains "$(cat "$T/body")" "learned from"
stop m
stop a4

# The primary restarts without state with the older CRL, as a peer replaying it would.
cp "$T/old.crl" "$PUB/crl/vpn-ca.crl"
start_cdpd a5 --publish "$PUB" --listen "127.0.0.1:$P"
check "the primary (no state_dir) now serves the older CRL" same_as "$A/crl/vpn-ca.crl" "$T/old.crl"
start_cdpd m2 --mirror "$A" --trust "$T/trust/root.crt" --listen "127.0.0.2:$P" --state-dir "$T/s2" \
  --mirror-interval 1s --mirror-timeout 2s
start_cdpd c --mirror "$A" --trust "$T/trust/root.crt" --listen "127.0.0.3:$P" \
  --mirror-interval 1s --mirror-timeout 2s
check "restarted mirror answers" wait_http "$M/healthz"
check "restarted mirror re-learns vpn-ca" same_as "$M/aia/vpn-ca.crt" "$PUB/aia/vpn-ca.crt"
check "restarted mirror log: the peer's older CRL refused below its own mark" \
  wait_log m2 "mirror: $A/crl/vpn-ca.crl: refused (older): CRL number $n_old is lower than $n_new"
hget "$M/crl/vpn-ca.crl"
check "restarted mirror does NOT serve the peer's older CRL: 503 and why (HTTP $CODE)" refused_503
hget "$M/healthz"
check "restarted mirror: /healthz 503 (vpn-ca has no CRL)" test "$CODE" = 503
check "restarted mirror: /healthz warning names the rollback" \
  sh -c "jq -e '.warnings[] | select(.ca == \"vpn-ca\" and (.message | test(\"rollback refused\")))' '$T/body' >/dev/null"
check "control: a mirror without state_dir serves the peer's older CRL" \
  same_as "$C/crl/vpn-ca.crl" "$T/old.crl"
stop c m2 a5

# --- start-up errors --------------------------------------------------------------------
P2=$(free_port)
cp -r "$T/s1" "$T/s3"
echo "vpn-ca $(ski "$PKI/certs/vpn-ca.pem") 12oops" >>"$T/s3/crl-numbers"
sum=$(sha256sum "$T/s3/crl-numbers")
ln=$(wc -l <"$T/s3/crl-numbers")
expect_rc 2 "corrupt state file: exit 2" timeout 10 "$CDPD" --publish "$PUB" --listen "127.0.0.1:$P2" --state-dir "$T/s3"
check "corrupt state file: one error line" one_error "$ERR"
check "corrupt state file: names file and line" contains "$ERR" "pkilab-cdpd: error: $T/s3/crl-numbers:$ln: '12oops' is not a CRL number"
check "corrupt state file: left untouched" test "$(sha256sum "$T/s3/crl-numbers")" = "$sum"
head -c -1 "$T/s1/crl-numbers" >"$T/s3/crl-numbers"   # truncated: the last newline gone
sum=$(sha256sum "$T/s3/crl-numbers")
expect_rc 2 "truncated state file: exit 2" timeout 10 "$CDPD" --publish "$PUB" --listen "127.0.0.1:$P2" --state-dir "$T/s3"
check "truncated state file: one error line" one_error "$ERR"
check "truncated state file: naming it" sh -c 'printf "%s\n" "$1" | grep -qx "pkilab-cdpd: error: $2/crl-numbers:[0-9]*: the last line has no newline (a truncated file?)"' _ "$ERR" "$T/s3"
check "truncated state file: left untouched" test "$(sha256sum "$T/s3/crl-numbers")" = "$sum"
expect_rc 2 "nonexistent state_dir: exit 2" timeout 10 "$CDPD" --publish "$PUB" --listen "127.0.0.1:$P2" --state-dir "$T/nope"
check "nonexistent state_dir: one line" one_line "$ERR"
check "nonexistent state_dir: naming it" sh -c 'printf "%s\n" "$1" | grep -qx "pkilab-cdpd: error: --state-dir: state_dir: .*/nope. is not a directory"' _ "$ERR"
printf 'publish = "%s";\nlisten = [ "127.0.0.1:%s" ];\nstate_dir = "%s";\n' "$PUB" "$P2" "$T/nope" >"$T/bad.conf"
expect_rc 2 "nonexistent state_dir in the config file: exit 2" timeout 10 "$CDPD" --config "$T/bad.conf"
check "... one line naming file:line" sh -c 'printf "%s\n" "$1" | grep -qx "pkilab-cdpd: error: .*/bad.conf:3: state_dir: .* is not a directory"' _ "$ERR"
serve_cdpd "holder answers" holder "http://127.0.0.1:$P2" \
  --publish "$PUB" --listen "127.0.0.1:$P2" --state-dir "$T/s1"
expect_rc 2 "a second instance on the same state_dir: exit 2" timeout 10 "$CDPD" --publish "$PUB" --listen "127.0.0.1:$(free_port)" --state-dir "$T/s1"
check "... one error line" one_error "$ERR"
check "... naming the directory: in use" contains "$ERR" "pkilab-cdpd: error: --state-dir: state_dir: '$T/s1': in use by another pkilab-cdpd (give each instance its own)"
stop holder

# --- the state directory after the privilege drop ----------------------------------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  mkdir "$T/s4"   # root's, 0755: nobody cannot write it
  expect_rc 2 "--user nobody, state_dir only root can write: exit 2" timeout 10 "$CDPD" --publish "$PUB" \
    --listen "127.0.0.1:$P2" --state-dir "$T/s4" --user nobody
  check "... one line naming the directory and the uid" contains "$ERR" "pkilab-cdpd: error: --state-dir: state_dir: '$T/s4': not writable by uid $(id -u nobody) (Permission denied)"
  check "... one error line" one_error "$ERR"
  chown nobody "$T/s4"
  start_cdpd drop --publish "$PUB" --listen "127.0.0.1:$P2" --state-dir "$T/s4" --user nobody
  check "--user nobody with a state_dir of its own: serves" wait_http "http://127.0.0.1:$P2/crl/root.crl"
  check "--user nobody: the state file is written after the drop" mark_is "$T/s4" root "$(crlnum "$PUB/crl/root.crl")"
  check "--user nobody: the state file belongs to nobody" test "$(stat -c %U "$T/s4/crl-numbers")" = nobody
  stop drop
  chown root "$T/s4/crl-numbers"; chmod 600 "$T/s4/crl-numbers"
  sum=$(sha256sum "$T/s4/crl-numbers")
  expect_rc 2 "--user nobody, state file only root can read: exit 2 (an input to fix, like an unreadable config)" timeout 10 "$CDPD" --publish "$PUB" \
    --listen "127.0.0.1:$P2" --state-dir "$T/s4" --user nobody
  check "... one error line" one_error "$ERR"
  check "... naming the file" contains "$ERR" "pkilab-cdpd: error: $T/s4/crl-numbers: cannot open"
  check "... left untouched" test "$(sha256sum "$T/s4/crl-numbers")" = "$sum"
else
  mkdir "$T/s4"; chmod 555 "$T/s4"
  expect_rc 2 "unwritable state_dir: exit 2" timeout 10 "$CDPD" --publish "$PUB" --listen "127.0.0.1:$P2" --state-dir "$T/s4"
  check "... names the directory" contains "$ERR" "$T/s4: state_dir: not writable"
fi

# --- a CA re-keyed under the same name starts over ---------------------------------------
mkdir -p "$T/pub2/crl" "$T/pub2/aia" "$T/s5"
mkca "$T/k1" root >/dev/null 2>&1 && mkca "$T/k2" root >/dev/null 2>&1 || exit 1
mkcrl "$T/k1" 5 "$T/k1-5.der" && mkcrl "$T/k1" 3 "$T/k1-3.der" && mkcrl "$T/k2" 1 "$T/k2-1.der" || exit 1
cp "$T/k1/ca.der" "$T/pub2/aia/root.crt"; cp "$T/k1-5.der" "$T/pub2/crl/root.crl"
start_cdpd r1 --publish "$T/pub2" --listen "127.0.0.1:$P2" --state-dir "$T/s5"
check "old key: CRL 5 served" same_as "http://127.0.0.1:$P2/crl/root.crl" "$T/k1-5.der"
check "old key: mark 5" mark_is "$T/s5" root 5
stop r1
cp "$T/k2/ca.der" "$T/pub2/aia/root.crt"; cp "$T/k2-1.der" "$T/pub2/crl/root.crl"
start_cdpd r2 --publish "$T/pub2" --listen "127.0.0.1:$P2" --state-dir "$T/s5"
check "re-keyed CA, same name: its CRL number 1 is served" same_as "http://127.0.0.1:$P2/crl/root.crl" "$T/k2-1.der"
hget "http://127.0.0.1:$P2/healthz"
check "re-keyed CA: healthy" test "$CODE" = 200
check "re-keyed CA: a mark of its own beside the old key's" \
  sh -c "grep -q '^root $(ski "$T/k2/ca.pem") 1\$' '$T/s5/crl-numbers' && grep -q '^root $(ski "$T/k1/ca.pem") 5\$' '$T/s5/crl-numbers'"
# The state file cannot be written (its directory gone): a newer CRL is still
# served, the failure is an error in the log and a /healthz warning (not a
# failure), and the write is retried at the next rebuild.
mv "$T/s5" "$T/s5.away"
mkcrl "$T/k2" 2 "$T/k2-2.der" || exit 1
cp "$T/k2-2.der" "$T/pub2/crl/.t" && mv "$T/pub2/crl/.t" "$T/pub2/crl/root.crl"
check "state file not writable: the newer CRL 2 is served anyway" same_as "http://127.0.0.1:$P2/crl/root.crl" "$T/k2-2.der"
check "... the log says the mark could not be recorded" wait_log r2 "error: cannot record the CRL number high-water marks"
hget "http://127.0.0.1:$P2/healthz"; cp "$T/body" "$T/h5.json"
check "... /healthz still 200" test "$CODE" = 200
check "... /healthz warning names the state file" \
  sh -c "jq -e '.warnings[] | select(.source == \"$T/s5/crl-numbers\" and (.message | test(\"cannot record\")))' '$T/h5.json' >/dev/null"
mv "$T/s5.away" "$T/s5"
kill -HUP "$(cat "$T/r2.pid")"
mark2_1() { grep -q "^root $(ski "$T/k2/ca.pem") 2\$" "$T/s5/crl-numbers" || { cat "$T/s5/crl-numbers"; return 1; }; }
mark2() { until_ok mark2_1; }
check "... retried at the next rebuild (SIGHUP): the mark is 2" mark2
hget "http://127.0.0.1:$P2/healthz"
check "... and the warning is gone" sh -c "jq -e '.warnings | length == 0' '$T/body' >/dev/null"
stop r2
cp "$T/k1/ca.der" "$T/pub2/aia/root.crt"; cp "$T/k1-3.der" "$T/pub2/crl/root.crl"
start_cdpd r3 --publish "$T/pub2" --listen "127.0.0.1:$P2" --state-dir "$T/s5"
check "the old key back with an older CRL (3 < 5): refused" wait_log r3 "CRL number 3 is lower than 5"
hget "http://127.0.0.1:$P2/crl/root.crl"
check "... not served: 503 and why (HTTP $CODE)" refused_503 "lower than 5"
stop r3

expect_rc 0 "--help: exit 0" "$CDPD" --help
check "--help documents --state-dir" contains "$OUT" "--state-dir DIR"

# --- the systemd unit ----------------------------------------------------------------------
U=$TOP/examples/systemd/pkilab-cdpd.service
check "unit: StateDirectory=pkilab-cdpd" grep -qx 'StateDirectory=pkilab-cdpd' "$U"
check "unit: the server is given --state-dir /var/lib/pkilab-cdpd" grep -q '^ExecStart=.*--state-dir /var/lib/pkilab-cdpd' "$U"
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$T/units"
  sed "s|^ExecStart=[^ ]*|ExecStart=$CDPD|" "$U" >"$T/units/pkilab-cdpd.service"
  run systemd-analyze verify --man=no "$T/units/pkilab-cdpd.service"
  check "systemd-analyze verify accepts the unit" sh -c '[ "$1" = 0 ] && [ -z "$2" ]' _ "$RC" "$ERR$OUT"
fi
finish
