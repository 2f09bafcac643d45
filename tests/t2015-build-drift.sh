#!/bin/sh
# t2015-build-drift: `pkilab build` compares every kept certificate with its
# lab entry (README "Drift"). Before, an edited san, key, EKU, validity,
# template, issuer, subject or the lab's cdp list / cdp_layout was reported
# "kept", exit 0, without a word; so, later, was an edited key_usage,
# rsa_key_encipherment, path_len, role (cA), backdate or not_before, in the
# entry or in its template file. Now, one case per field:
#   - the build exits 1, prints "changed NAME FIELD" with the old and new
#     values (read from the issued certificate), and --json carries the
#     field in "changed";
#   - nothing is written: the PKI tree has the same checksum;
# and an unchanged rebuild exits 0 with everything kept, also a day later
# for a lab with absolute times (their dates do not move; the validity
# length after a back-dated notBefore does, and was drift on every rebuild),
# a certificate the lab issued and no longer has is reported "orphan NAME"
# (drift: exit 1).
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
before=$(tree_sum "$P")
expect_rc 0 "unchanged rebuild exits 0" "$PKILAB" build "$T/lab.cfg" --pki "$P"
check "an unchanged rebuild writes nothing, pkilab.db included (PKI tree checksum)" test "$before" = "$(tree_sum "$P")"
check "unchanged rebuild: everything kept, nothing changed" sh -c 'echo "$1" | grep -q "build: 0 issued, 4 kept$" && ! echo "$1" | grep -q changed' _ "$OUT"

# A templates directory the lab can name (lab.templates, searched first):
# ipsec-client with another keyUsage and backdate.
mkdir "$T/tmpl"
sed 's/^key_usage = .*/key_usage = [ "digitalSignature", "keyAgreement" ];/; s/^backdate = .*/backdate = "3h";/' \
  "$TOP/templates/ipsec-client.cfg" >"$T/tmpl/ipsec-client.cfg"
check "the edited template differs" sh -c '! cmp -s "$1" "$2"' _ "$TOP/templates/ipsec-client.cfg" "$T/tmpl/ipsec-client.cfg"

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
key_usage|s/subject = "CN=gw.t2015.test";/& key_usage = [ "digitalSignature", "nonRepudiation" ];/|changed gw  *key_usage +nonRepudiation$|.changed[] | select(.name=="gw") | .changes[] | select(.field=="key_usage" and .added==["nonRepudiation"] and .removed==[])
rsa_key_encipherment|s/subject = "CN=alice.t2015.test";/& key = "rsa:2048"; rsa_key_encipherment = true;/|changed alice  *key_usage +keyEncipherment$|.changed[] | select(.name=="alice") | .changes[] | select(.field=="key_usage" and .added==["keyEncipherment"])
path_len|s/CN=t2015 VPN CA";/& path_len = 1;/|changed vpn-ca  *path_len 0 -> 1$|.changed[] | select(.name=="vpn-ca") | .changes[] | select(.field=="path_len" and .was=="0" and .now=="1")
root path_len|s/CN=t2015 Root";/& path_len = 2;/|changed root  *path_len none -> 2$|.changed[] | select(.name=="root") | .changes[] | select(.field=="path_len" and .was=="none" and .now=="2")
backdate|s/subject = "CN=gw.t2015.test";/& backdate = "2h";/|changed gw  *not_before -1h -> -2h$|.changed[] | select(.name=="gw") | .changes[] | select(.field=="not_before" and .was=="-1h" and .now=="-2h")
not_before|s/subject = "CN=gw.t2015.test";/& not_before = "-1d";/|changed gw  *not_before -1h -> -1d$|.changed[] | select(.name=="gw") | .changes[] | select(.field=="not_before" and .was=="-1h" and .now=="-1d")
template file|s#name = "drift";#& templates = "tmpl";#|changed alice  *key_usage +keyAgreement$|[.changed[] | select(.name=="alice") | .changes[] | .field] == ["key_usage", "not_before"]
CASES

# The role: alice becomes a CA (cas, role intermediate; vpn-ca allows one
# CA below it). basicConstraints cA is the change, not only the template.
grep -v 'name = "alice"\|san = \[ "alice' "$T/lab.orig" | sed 's/"192.0.2.10" \]; },/"192.0.2.10" ]; }/' |
  sed 's/CN=t2015 VPN CA"; }/CN=t2015 VPN CA"; path_len = 1; },\
  { name = "alice"; template = "ipsec-client"; role = "intermediate"; issuer = "vpn-ca";\
    subject = "CN=alice.t2015.test"; san = [ "alice.t2015.test" ]; }/' >"$T/lab.cfg"
before=$(tree_sum "$P")
expect_rc 1 "ca changed: build exits 1" "$PKILAB" build "$T/lab.cfg" --pki "$P"
check "ca: named with old and new values" sh -c 'echo "$1" | grep -q "changed alice  *ca false -> true$"' _ "$OUT"
expect_rc 1 "ca: --json exits 1 too" "$PKILAB" --json build "$T/lab.cfg" --pki "$P"
check "ca: --json carries the change" sh -c 'echo "$1" | jq -e "$2" >/dev/null' _ "$OUT" \
  '.changed[] | select(.name=="alice") | .changes[] | select(.field=="ca" and .was=="false" and .now=="true")'
check "ca: nothing written (PKI tree checksum)" test "$before" = "$(tree_sum "$P")"

# Absolute times stay put: a lab whose root ends on a date and whose gw has
# both dates is unchanged a month later; a moved absolute not_before is a
# change of not_before only (the offsets from each issue time).
cat >"$T/abs.cfg" <<'EOF2'
lab = { name = "drift-abs"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = ( { name = "root"; template = "root-ca"; subject = "CN=t2015 abs Root"; not_after = "2036-01-01T00:00:00Z"; } );
certs = ( { name = "gw"; template = "ipsec-gateway"; issuer = "root"; subject = "CN=gw.abs.test";
    san = [ "gw.abs.test" ]; not_before = "2026-06-01T00:00:00Z"; not_after = "2026-09-01T00:00:00Z"; } );
EOF2
expect_rc 0 "absolute times: first build" env PKILAB_NOW=2026-06-01T00:00:00Z "$PKILAB" build "$T/abs.cfg" --pki "$T/abs"
expect_rc 0 "absolute times: a month later, unchanged" env PKILAB_NOW=2026-07-01T00:00:00Z "$PKILAB" build "$T/abs.cfg" --pki "$T/abs"
check "absolute times: everything kept, nothing changed" sh -c 'echo "$1" | grep -q "build: 0 issued, 2 kept$" && ! echo "$1" | grep -q changed' _ "$OUT"
sed 's/not_before = "2026-06-01T00:00:00Z"/not_before = "2026-06-02T00:00:00Z"/' "$T/abs.cfg" >"$T/abs2.cfg"
expect_rc 1 "absolute not_before moved: build exits 1" env PKILAB_NOW=2026-07-01T00:00:00Z "$PKILAB" build "$T/abs2.cfg" --pki "$T/abs"
check "absolute not_before moved: not_before changed, validity not" sh -c 'echo "$1" | grep -q "changed gw  *not_before now -> -29d$" && ! echo "$1" | grep -q validity' _ "$OUT"

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
