#!/bin/sh
# t2015-build-drift: `pkilab build` compares every kept certificate with its
# lab entry (README "Drift"). Before, an edited san, key, EKU, validity,
# template, issuer, subject or the lab's cdp list / cdp_layout was reported
# "kept", exit 0, without a word. Now, one case per field:
#   - the build exits 1, prints "changed NAME FIELD" with the old and new
#     values (read from the issued certificate), and --json carries the
#     field in "changed";
#   - nothing is written: the PKI tree has the same checksum;
# and an unchanged rebuild exits 0 with everything kept, a certificate the
# lab issued and no longer has is reported "orphan NAME" (drift: exit 1).
. "$(dirname "$0")/lib.sh"

cat >"$T/lab.orig" <<'EOF2'
lab = { name = "drift"; cdp = [ "http://127.0.0.1:18081", "http://127.0.0.2:18082" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "C=CH, O=t2015, CN=t2015 Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256";
    subject = "C=CH, O=t2015, CN=t2015 VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.t2015.test";
    san = [ "gw.t2015.test", "192.0.2.10" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=alice.t2015.test";
    san = [ "alice.t2015.test" ]; }
);
EOF2
P=$T/pki
cp "$T/lab.orig" "$T/lab.cfg"
expect_rc 0 "first build" "$PKILAB" build "$T/lab.cfg" --pki "$P"
expect_rc 0 "unchanged rebuild exits 0" "$PKILAB" build "$T/lab.cfg" --pki "$P"
check "unchanged rebuild: everything kept, nothing changed" sh -c 'echo "$1" | grep -q "build: 0 issued, 4 kept$" && ! echo "$1" | grep -q changed' _ "$OUT"

# name | sed on the lab | the text line (a grep pattern) | a jq test on --json
while IFS='|' read -r name sed_expr line jq_test; do
  [ -n "$name" ] || continue
  sed "$sed_expr" "$T/lab.orig" >"$T/lab.cfg"
  cmp -s "$T/lab.orig" "$T/lab.cfg" && { check "$name: the lab was changed" false; continue; }
  before=$(tree_sum "$P")
  expect_rc 1 "$name changed: build exits 1" "$PKILAB" build "$T/lab.cfg" --pki "$P"
  check "$name: named with old and new values" sh -c 'echo "$1" | grep -q -- "$2"' _ "$OUT" "$line"
  check "$name: says how to apply" contains "$ERR" "drifted from the lab"
  expect_rc 1 "$name: --json exits 1 too" "$PKILAB" --json build "$T/lab.cfg" --pki "$P"
  check "$name: --json carries the change" sh -c 'echo "$1" | jq -e "$2" >/dev/null' _ "$OUT" "$jq_test"
  check "$name: nothing written (PKI tree checksum)" test "$before" = "$(tree_sum "$P")"
done <<'CASES'
san|s/"192.0.2.10"/"192.0.2.99"/|changed gw  *san +IP:192.0.2.99 +DNS:192.0.2.99 -IP:192.0.2.10 -DNS:192.0.2.10|.changed[] | select(.name=="gw") | .changes[] | select(.field=="san" and (.added | index("IP:192.0.2.99")) and (.removed | index("IP:192.0.2.10")))
key|s/subject = "CN=gw.t2015.test";/& key = "rsa:2048";/|changed gw  *key ec:P-256 -> rsa:2048|.changed[] | select(.name=="gw") | .changes[] | select(.field=="key" and .was=="ec:P-256" and .now=="rsa:2048")
eku|s/subject = "CN=gw.t2015.test";/& extended_key_usage = [ "serverAuth" ];/|changed gw  *eku -1.3.6.1.5.5.8.2.2 -1.3.6.1.5.5.7.3.17|.changed[] | select(.name=="gw") | .changes[] | select(.field=="eku" and .added==[] and (.removed | index("1.3.6.1.5.5.7.3.17")))
validity|s/subject = "CN=gw.t2015.test";/& validity = "200d";/|changed gw  *validity 397d -> 200d|.changed[] | select(.name=="gw") | .changes[] | select(.field=="validity" and .was=="397d" and .now=="200d")
template|s/name = "alice"; template = "ipsec-client"/name = "alice"; template = "ipsec-gateway"/|changed alice  *template ipsec-client -> ipsec-gateway|.changed[] | select(.name=="alice") | .changes[] | select(.field=="template" and .was=="ipsec-client" and .now=="ipsec-gateway")
issuer|s/template = "ipsec-client"; issuer = "vpn-ca"/template = "ipsec-client"; issuer = "root"/|changed alice  *issuer vpn-ca -> root|.changed[] | select(.name=="alice") | .changes[] | select(.field=="issuer" and .was=="vpn-ca" and .now=="root")
subject|s/CN=alice.t2015.test/CN=alice2.t2015.test/|changed alice  *subject CN=alice.t2015.test -> CN=alice2.t2015.test|.changed[] | select(.name=="alice") | .changes[] | select(.field=="subject" and .now=="CN=alice2.t2015.test")
cdp|s#http://127.0.0.2:18082#http://crl.t2015.test#|changed gw  *cdp +URI:http://crl.t2015.test/crl/vpn-ca.crl -URI:http://127.0.0.2:18082/crl/vpn-ca.crl|.changed[] | select(.name=="alice") | .changes[] | select(.field=="aia" and .added==["URI:http://crl.t2015.test/aia/vpn-ca.crt"])
cdp_layout|s#name = "drift";#& cdp_layout = "point-per-uri";#|changed alice  *cdp_layout one-point -> point-per-uri|.changed[] | select(.name=="gw") | .changes[] | select(.field=="cdp_layout" and .was=="one-point")
CASES

# A changed CA: reported the same way, with the word that it is a rollover.
sed 's/CN=t2015 VPN CA/CN=t2015 VPN CA G2/' "$T/lab.orig" >"$T/lab.cfg"
expect_rc 1 "a changed CA: build exits 1" "$PKILAB" build "$T/lab.cfg" --pki "$P"
check "the CA's change is named" sh -c 'echo "$1" | grep -q "changed vpn-ca  *subject"' _ "$OUT"
check "re-issuing a CA is a rollover" contains "$ERR" "rollover"

# An orphan: in the PKI, not in the lab.
grep -v 'name = "alice"\|san = \[ "alice' "$T/lab.orig" | sed 's/"192.0.2.10" \]; },/"192.0.2.10" ]; }/' >"$T/lab.cfg"
before=$(tree_sum "$P")
expect_rc 1 "alice removed from the lab: an orphan is drift (exit 1)" "$PKILAB" build "$T/lab.cfg" --pki "$P"
check "alice is an orphan" sh -c 'echo "$1" | grep -q "^  orphan  alice$"' _ "$OUT"
check "the orphan is in --json" sh -c '"$1" --json build "$2" --pki "$3" | jq -e ".orphans == [\"alice\"] and .drift" >/dev/null' _ "$PKILAB" "$T/lab.cfg" "$P"
check "nothing written (PKI tree checksum)" test "$before" = "$(tree_sum "$P")"

# Back to the lab as built: exit 0 again.
cp "$T/lab.orig" "$T/lab.cfg"
expect_rc 0 "the lab as built: exit 0" "$PKILAB" build "$T/lab.cfg" --pki "$P"
finish
