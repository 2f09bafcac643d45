#!/bin/sh
# t2016-build-apply: `pkilab build --apply` carries a drifted lab out
# (README "Drift"), `--revoke-orphans` retires what the lab dropped. Before,
# build could only report a difference: an edited SAN stayed in the issued
# certificate, and renew re-issued with the old one. Proven with independent
# validators:
#   - --apply re-issues the changed end-entity from the lab (the new SAN in
#     the certificate), revokes the one it replaces with reason superseded
#     and re-signs its CA's CRL, in the same run: `openssl verify
#     -crl_check_all` says the old certificate is revoked and the new one OK,
#     GnuTLS certtool verifies the new chain; a new entry in the same lab is
#     issued in the same transaction; --dry-run writes nothing;
#   - --revoke-orphans revokes a certificate removed from the lab with reason
#     cessationOfOperation (RFC 5280 §5.3.1), in the CRL; a certificate from
#     `pkilab issue` is no orphan and is never revoked by it, nor one whose
#     origin was not recorded (a database from before schema 3);
#   - a CA that differs is refused with --apply (exit 2, one line naming it and
#     "rollover"), nothing written;
#   - after applying, a rebuild reports no drift and exits 0;
#   - `renew NAME --lab LAB.cfg` re-issues one certificate from the lab's
#     entry (and refuses another lab, a name the lab lacks, --reuse-key with
#     another key type), after which build sees no drift.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-certcheck.sh"

cat >"$T/lab.orig" <<'EOF2'
lab = { name = "apply"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "C=CH, O=t2016, CN=t2016 Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256";
    subject = "C=CH, O=t2016, CN=t2016 VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.t2016.test";
    san = [ "gw.t2016.test", "192.0.2.10" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=alice.t2016.test";
    san = [ "alice.t2016.test" ]; }
);
EOF2
P=$T/pki
expect_rc 0 "first build" "$PKILAB" build "$T/lab.orig" --pki "$P"
cp "$P/certs/gw.pem" "$T/gw-old.pem"
cp "$P/certs/alice.pem" "$T/alice-old.pem"
gw_old=$(sqlite3 "$P/pkilab.db" "select serial from certs where name = 'gw' and current = 1")
crl_number() { openssl crl -inform DER -in "$P/publish/crl/vpn-ca.crl" -noout -crlnumber | sed 's/.*=//'; }
crl_reason_of() { # serial (lowercase hex) -> the CRL's reason text for it, "" when not listed
	_s=$(echo "$1" | tr a-f A-F)
	openssl crl -inform DER -in "$P/publish/crl/vpn-ca.crl" -noout -text |
		awk -v s="$_s" '/Serial Number:/ { f = ($3 == s) } f && /CRL Reason Code/ { getline; sub(/^ +/, ""); print; exit }'
}
# openssl verify with every CRL of the PKI, the root as the only anchor.
verify_crl() { # pem
	for _c in "$P"/publish/crl/*.crl; do openssl crl -inform DER -in "$_c"; done >"$T/crls.pem"
	openssl verify -crl_check_all -CAfile "$P/certs/root.pem" -untrusted "$P/certs/vpn-ca.pem" \
		-CRLfile "$T/crls.pem" "$1" 2>&1
}
n0=$(crl_number)

# gw's SAN changes and a new entry appears.
sed 's/"192.0.2.10"/"192.0.2.99"/' "$T/lab.orig" | sed '$d' >"$T/lab.cfg"
cat >>"$T/lab.cfg" <<'EOF2'
  ,{ name = "bob"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=bob.t2016.test";
    san = [ "bob.t2016.test" ]; }
);
EOF2
check "the lab has bob" grep -q 'name = "bob"' "$T/lab.cfg"
before=$(tree_sum "$P")
expect_rc 1 "without --apply: drift, exit 1" "$PKILAB" build "$T/lab.cfg" --pki "$P" --dry-run
check "the advice names --apply" contains "$ERR" "build --apply"
expect_rc 0 "--apply --dry-run: exit 0" "$PKILAB" build "$T/lab.cfg" --pki "$P" --apply --dry-run
check "--dry-run plans the re-issue and the revocation" sh -c 'echo "$1" | grep -q "^  reissue gw " && echo "$1" | grep -q "^  revoke  gw  *serial $2 (superseded)"' _ "$OUT" "$gw_old"
check "--dry-run: nothing written (PKI tree checksum)" test "$before" = "$(tree_sum "$P")"

expect_rc 0 "--apply: exit 0" "$PKILAB" --json build "$T/lab.cfg" --pki "$P" --apply
printf '%s\n' "$OUT" >"$T/apply.json"
gw_new=$(sqlite3 "$P/pkilab.db" "select serial from certs where name = 'gw' and current = 1")
check "gw has a new serial" test -n "$gw_new" -a "$gw_new" != "$gw_old"
check "--json: reissued gw names both serials" jq -e --arg o "$gw_old" --arg n "$gw_new" '.reissued == [.reissued[0]] and .reissued[0].name == "gw" and .reissued[0].old_serial == $o and .reissued[0].serial == $n' "$T/apply.json"
check "--json: bob issued in the same run" jq -e '[.issued[].name] == ["bob"]' "$T/apply.json"
check "--json: vpn-ca's CRL re-signed, 1 entry" jq -e '.crls | length == 1 and .[0].ca == "vpn-ca" and .[0].entries == 1' "$T/apply.json"
check "--json: no drift left" jq -e '.drift == false' "$T/apply.json"
check "the new gw carries the lab's SAN (openssl x509)" sh -c 'openssl x509 -in "$1" -noout -ext subjectAltName | grep -q "IP Address:192.0.2.99" && ! openssl x509 -in "$1" -noout -ext subjectAltName | grep -q "192.0.2.10"' _ "$P/certs/gw.pem"
check "a new key" test "$(openssl x509 -in "$T/gw-old.pem" -noout -pubkey)" != "$(openssl x509 -in "$P/certs/gw.pem" -noout -pubkey)"
check "the CRL number grew" test "$(crl_number)" != "$n0"
check "the CRL lists the old gw as superseded (openssl crl)" test "$(crl_reason_of "$gw_old")" = "Superseded"
check "openssl verify -crl_check_all: the old gw is revoked" sh -c 'verify_out=$1; echo "$verify_out" | grep -q "certificate revoked"' _ "$(verify_crl "$T/gw-old.pem")"
check "openssl verify -crl_check_all: the new gw is OK" sh -c 'echo "$1" | grep -q ": OK$"' _ "$(verify_crl "$P/certs/gw.pem")"
check "openssl verify -crl_check_all: alice (unchanged) is OK" sh -c 'echo "$1" | grep -q ": OK$"' _ "$(verify_crl "$P/certs/alice.pem")"
check "GnuTLS certtool verifies the new gw's chain" v_certtool "$P" gw
check "the database: old gw superseded, not current" test "$(sqlite3 "$P/pkilab.db" "select current || '/' || status || '/' || reason from certs where serial = '$gw_old'")" = "0/1/4"
expect_rc 0 "a rebuild after --apply: no drift, exit 0" "$PKILAB" build "$T/lab.cfg" --pki "$P"
check "everything kept" sh -c 'echo "$1" | grep -q "build: 0 issued, 5 kept$" && ! echo "$1" | grep -q changed' _ "$OUT"

# alice removed from the lab: an orphan until --revoke-orphans.
alice=$(sqlite3 "$P/pkilab.db" "select serial from certs where name = 'alice' and current = 1")
awk '/name = "alice"/ { skip = 1 } skip && /\]; },?$/ { skip = 0; next } !skip' "$T/lab.cfg" | sed 's/^  ,{ name = "bob"/  { name = "bob"/' >"$T/lab2.cfg"
check "alice left the lab" sh -c '! grep -q alice "$1"' _ "$T/lab2.cfg"
# A certificate from `pkilab issue` was never in the lab: not an orphan,
# never revoked by --revoke-orphans (pkilab.db records each one's origin).
expect_rc 0 "pkilab issue carol" "$PKILAB" -q --pki "$P" issue --ca vpn-ca --template ipsec-client --name carol --subject CN=carol.t2016.test --san carol.t2016.test
expect_rc 1 "an orphan is drift: exit 1" "$PKILAB" build "$T/lab2.cfg" --pki "$P"
check "alice is an orphan, carol is not" sh -c 'echo "$1" | grep -q "^  orphan  alice$" && ! echo "$1" | grep -q carol' _ "$OUT"
check "the advice names --revoke-orphans" contains "$ERR" "--revoke-orphans"
expect_rc 0 "--revoke-orphans: exit 0" "$PKILAB" build "$T/lab2.cfg" --pki "$P" --revoke-orphans
check "alice reported revoked" sh -c 'echo "$1" | grep -q "^  orphan  alice revoked (cessationOfOperation)$"' _ "$OUT"
check "the CRL lists alice as cessationOfOperation" test "$(crl_reason_of "$alice")" = "Cessation Of Operation"
check "openssl verify -crl_check_all: alice is revoked" sh -c 'echo "$1" | grep -q "certificate revoked"' _ "$(verify_crl "$T/alice-old.pem")"
check "the old gw is still listed" test "$(crl_reason_of "$gw_old")" = "Superseded"
check "carol (pkilab issue) is not revoked" test "$(sqlite3 "$P/pkilab.db" "select status from certs where name = 'carol'")" = 0
expect_rc 0 "a rebuild: no orphan left" "$PKILAB" build "$T/lab2.cfg" --pki "$P"
check "no orphan line" not_contains "$OUT" "orphan"

# A certificate recorded before pkilab noted origins (schema 2): maybe from
# `pkilab issue`, so reported but neither drift nor revoked.
sqlite3 "$P/pkilab.db" "update certs set origin = '' where name = 'carol'"
expect_rc 0 "an orphan of unknown origin: reported, not drift (exit 0)" "$PKILAB" build "$T/lab2.cfg" --pki "$P" --revoke-orphans
check "said to be left as it is" sh -c 'echo "$1" | grep -q "^  orphan  carol (origin not recorded: left as it is)$"' _ "$OUT"
check "and not revoked" test "$(sqlite3 "$P/pkilab.db" "select status from certs where name = 'carol'")" = 0
check "--json lists it apart" sh -c 'echo "$1" | jq -e ".orphans_origin_unknown == [\"carol\"] and .orphans == []" >/dev/null' _ "$("$PKILAB" --json build "$T/lab2.cfg" --pki "$P")"

# A CA that differs: refused with --apply, nothing written.
sed 's/CN=t2016 VPN CA/CN=t2016 VPN CA G2/' "$T/lab2.cfg" >"$T/lab3.cfg"
before=$(tree_sum "$P")
expect_rc 2 "--apply with a changed CA: exit 2" "$PKILAB" build "$T/lab3.cfg" --pki "$P" --apply
check "one line" one_line "$ERR"
check "naming the CA, its line and the rollover" sh -c 'echo "$1" | grep -q "lab3.cfg:[0-9]*: CA .vpn-ca. differs from the lab (subject).*rollover"' _ "$ERR"
check "nothing written (PKI tree checksum)" test "$before" = "$(tree_sum "$P")"

# renew --lab: one certificate re-issued from the lab's entry, not from the
# current certificate (before, renew could only repeat the old SAN).
sed 's/"192.0.2.99"/"192.0.2.77"/' "$T/lab2.cfg" >"$T/lab5.cfg"
expect_rc 1 "the lab changed gw's SAN again: drift" "$PKILAB" build "$T/lab5.cfg" --pki "$P"
before=$(tree_sum "$P")
sed 's/subject = "CN=gw.t2016.test";/& key = "rsa:2048";/' "$T/lab5.cfg" >"$T/lab6.cfg"
expect_rc 2 "renew --lab --reuse-key with another key type in the lab: exit 2" "$PKILAB" renew gw --lab "$T/lab6.cfg" --pki "$P" --reuse-key
check "one line naming both key types" sh -c 'echo "$1" | grep -q "reuse-key: the lab gives .gw. a rsa:2048 key, the current one is ec:P-256"' _ "$ERR"
sed 's/name = "apply"/name = "other"/' "$T/lab5.cfg" >"$T/other.cfg"
expect_rc 2 "renew --lab with another lab: exit 2" "$PKILAB" renew gw --lab "$T/other.cfg" --pki "$P"
check "names both labs" contains "$ERR" "lab 'other' did not build this PKI (lab 'apply' did)"
expect_rc 2 "renew --lab of a name the lab lacks: exit 2" "$PKILAB" renew bob --lab "$T/lab.orig" --pki "$P"
check "says so" contains "$ERR" "'bob' is not in lab 'apply'"
check "refusals wrote nothing (PKI tree checksum)" test "$before" = "$(tree_sum "$P")"
expect_rc 0 "renew gw --lab --revoke-old" "$PKILAB" renew gw --lab "$T/lab5.cfg" --pki "$P" --revoke-old
check "the new gw carries the lab's new SAN" sh -c 'openssl x509 -in "$1" -noout -ext subjectAltName | grep -q "IP Address:192.0.2.77"' _ "$P/certs/gw.pem"
expect_rc 0 "build agrees: no drift" "$PKILAB" build "$T/lab5.cfg" --pki "$P"
check "no changed line" sh -c '! echo "$1" | grep -q "^  changed"' _ "$OUT"
finish
