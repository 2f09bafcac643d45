#!/bin/sh
# t2003-build-converge: re-running `pkilab build` converges.
#   - a second run issues nothing and leaves every file of the layout
#     byte-identical, and the certificate rows unchanged;
#   - adding a leaf issues only it; adding an intermediate and a leaf below
#     it issues only those two (with the new CA's CRL and AIA file);
#     everything that existed stays byte-identical (keys, certificates,
#     chains, CRLs, AIA files) and is never re-issued;
#   - an entry changed in the lab is reported (build exits 1), not re-issued.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-certcheck.sh"

cat >"$T/lab.cfg" <<'EOF2'
lab = { name = "conv"; pki = "pki"; cdp = [ "http://127.0.0.1:18081", "http://127.0.0.2:18082" ]; };
cas = (
  { name = "root"; template = "root-ca"; subject = "C=CH, O=t2003, CN=t2003 Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "C=CH, O=t2003, CN=t2003 VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.t2003.test"; san = [ "gw.t2003.test", "192.0.2.3" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=alice.t2003.test"; san = [ "alice.t2003.test" ]; }
);
EOF2
P=$T/pki
# Sums of the layout files (everything but the database) and of the rows.
files_sum() { (cd "$P" && find private certs publish -type f | LC_ALL=C sort | xargs sha256sum); }
rows() { sqlite3 "$P/pkilab.db" "select id, name, issuer_id, serial, current, hex(der) from certs order by id"; }

expect_rc 0 "first build" "$PKILAB" build "$T/lab.cfg"
check "first build reports 4 issued" contains "$OUT" "build: 4 issued, 0 kept"
files_sum >"$T/files1"; rows >"$T/rows1"

expect_rc 0 "second build of the same lab" "$PKILAB" build "$T/lab.cfg"
check "second build issues nothing: 0 issued, 4 kept" contains "$OUT" "build: 0 issued, 4 kept"
files_sum >"$T/files2"; rows >"$T/rows2"
check "every key, certificate, chain, CRL and AIA file is byte-identical" cmp "$T/files1" "$T/files2"
check "certificate rows unchanged (no re-issue)" cmp "$T/rows1" "$T/rows2"
check "no stray temporary or staging files" test -z "$(find "$T" -name '*.tmp-*' -o -name 'pki.new-*')"

# Add one leaf.
sed -i 's/^);$/XX/' "$T/lab.cfg"
awk 'BEGIN { n = 0 } /^XX$/ { n++; if (n == 2) { print "  ,{ name = \"bob\"; template = \"ipsec-client\"; issuer = \"vpn-ca\"; subject = \"CN=bob.t2003.test\"; san = [ \"bob.t2003.test\" ]; }" } print ");"; next } { print }' "$T/lab.cfg" >"$T/lab2.cfg"
mv "$T/lab2.cfg" "$T/lab.cfg"
expect_rc 0 "build after adding leaf 'bob'" "$PKILAB" build "$T/lab.cfg"
check "only bob is issued: 1 issued, 4 kept" contains "$OUT" "build: 1 issued, 4 kept"
check "bob is reported as issued" sh -c 'echo "$1" | grep -q "issued  *bob"' _ "$OUT"
files_sum | grep -v '/bob' >"$T/files3"
check "files of the existing entities byte-identical after adding bob (CRLs not re-signed)" cmp "$T/files1" "$T/files3"
rows | head -n 4 >"$T/rows3"
check "existing rows untouched" cmp "$T/rows1" "$T/rows3"
check "bob has key, certificate and chain" test -s "$P/private/bob.key" -a -s "$P/certs/bob.pem" -a -s "$P/certs/bob-chain.pem"
check "bob verifies (openssl -x509_strict -purpose sslclient)" v_openssl "$P" bob ipsec-client
check "bob AKI = vpn-ca SKI (RFC 5280 §4.2.1.1)" c_aki "$P/certs/bob.pem" "$P/certs/vpn-ca.pem"

# Add an intermediate and a leaf below it (root has no pathLen: allowed).
files_sum >"$T/files4"
awk 'BEGIN { n = 0 } /^\);$/ { n++; if (n == 1) { print "  ,{ name = \"lab-ca\"; template = \"intermediate-ca\"; issuer = \"root\"; subject = \"C=CH, O=t2003, CN=t2003 Lab CA\"; }" } if (n == 2) { print "  ,{ name = \"carol\"; template = \"ipsec-gateway\"; issuer = \"lab-ca\"; subject = \"CN=carol.t2003.test\"; san = [ \"carol.t2003.test\" ]; }" } } { print }' "$T/lab.cfg" >"$T/lab2.cfg"
mv "$T/lab2.cfg" "$T/lab.cfg"
expect_rc 0 "build after adding intermediate 'lab-ca' and its leaf 'carol'" "$PKILAB" build "$T/lab.cfg"
check "2 issued, 5 kept" contains "$OUT" "build: 2 issued, 5 kept"
files_sum | grep -v '/lab-ca\|/carol' >"$T/files5"
check "files of the 5 existing entities byte-identical" cmp "$T/files4" "$T/files5"
check "the new CA has its initial CRL and AIA file (RFC 5280 §5.1.2.1; RFC 5280 §5.1.2.6; RFC 5280 §5.2.1)" c_crl "$P/publish/crl/lab-ca.crl" "$P/certs/lab-ca.pem"
check "carol verifies through lab-ca (openssl)" v_openssl "$P" carol ipsec-gateway
check "carol verifies through lab-ca (strongSwan)" v_strongswan "$P" carol
check "carol's CDP points at lab-ca's CRL on both bases (RFC 5280 §4.2.1.13)" c_cdp "$P/certs/carol.pem" lab-ca one-point http://127.0.0.1:18081 http://127.0.0.2:18082

# A changed entry is reported, not re-issued.
files_sum >"$T/files6"; rows >"$T/rows6"
sed -i 's/CN=alice.t2003.test"/CN=alice2.t2003.test"/' "$T/lab.cfg"
expect_rc 1 "build after changing alice's subject (drift: exit 1, README \"Drift\")" "$PKILAB" build "$T/lab.cfg"
check "nothing issued: 0 issued, 7 kept" contains "$OUT" "build: 0 issued, 7 kept"
check "the difference is reported with the way to re-issue" sh -c 'echo "$1" | grep -q "changed alice  *subject" && echo "$2" | grep -q "pkilab build --apply"' _ "$OUT" "$ERR"
files_sum >"$T/files7"; rows >"$T/rows7"
check "alice not re-issued: files and rows identical" sh -c 'cmp "$1" "$2" && cmp "$3" "$4"' _ "$T/files6" "$T/files7" "$T/rows6" "$T/rows7"
before=$(tree_sum "$P")
sed -i 's/^);$/YY/' "$T/lab.cfg"
awk 'BEGIN { n = 0 } /^YY$/ { n++; if (n == 2) { print "  ,{ name = \"dave\"; template = \"ipsec-client\"; issuer = \"vpn-ca\"; subject = \"CN=dave.test\"; san = [ \"dave.test\" ]; }" } print ");"; next } { print }' "$T/lab.cfg" >"$T/lab2.cfg"
mv "$T/lab2.cfg" "$T/lab.cfg"
expect_rc 1 "--dry-run with a new entry (alice still drifted: exit 1)" "$PKILAB" build "$T/lab.cfg" --dry-run
check "--dry-run says it would issue dave" sh -c 'echo "$1" | grep -q "would *dave"' _ "$OUT"
check "--dry-run leaves the PKI byte-for-byte unchanged" test "$before" = "$(tree_sum "$P")"
finish
