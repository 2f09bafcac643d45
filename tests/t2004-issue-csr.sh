#!/bin/sh
# t2004-issue-csr: `pkilab issue` (a certificate for a CSR).
#   - with a key generated here: key, certificate, chain written, validators
#     accept it, the template's profile is applied;
#   - with --csr (made by `openssl req`, the way a Windows admin brings a
#     certreq request): the certificate carries the CSR's public key, NO
#     private key is written, and the CSR's requested extensions are NOT
#     copied (a CSR asking for CA:TRUE, keyCertSign and codeSigning gets the
#     template's profile; the SAN comes from --san);
#   - a garbage CSR, a CSR whose signature is broken, an unknown CA, a leaf
#     as CA, a name that exists, a name with a path in it: exit 2, one
#     error line, the PKI byte-for-byte unchanged.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/lib-certcheck.sh"

cat >"$T/lab.cfg" <<'EOF2'
lab = { name = "iss"; pki = "pki"; cdp = [ "http://127.0.0.1:18081", "http://127.0.0.2:18082" ]; };
cas = (
  { name = "root"; template = "root-ca"; subject = "C=CH, O=t2004, CN=t2004 Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "C=CH, O=t2004, CN=t2004 VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.t2004.test"; san = [ "gw.t2004.test" ]; }
);
EOF2
P=$T/pki
expect_rc 0 "build the lab" "$PKILAB" build "$T/lab.cfg"
export PKILAB_DIR="$P"

expect_rc 0 "issue a client with a generated key" "$PKILAB" issue --ca vpn-ca --template ipsec-client --name bob \
	--subject "CN=bob.t2004.test" --san bob.t2004.test
check "issue reports the serial" contains "$OUT" "issued bob (serial"
check "bob: key 0600, certificate, chain written" sh -c 'test "$(stat -c %a "$1/private/bob.key")" = 600 && test -s "$1/certs/bob.pem" && test -s "$1/certs/bob-chain.pem"' _ "$P"
check "bob: key matches the certificate (ec:P-256 from the template)" c_key "$P/certs/bob.pem" "$P/private/bob.key" ec:P-256
check "bob: openssl verify -x509_strict -purpose sslclient" v_openssl "$P" bob ipsec-client
check "bob: certtool --verify-chain" v_certtool "$P" bob
check "bob: strongSwan pki --verify" v_strongswan "$P" bob
check "bob: KU" c_ku "$P/certs/bob.pem" "Digital Signature"
check "bob: EKU clientAuth + ipsecIKE" c_eku "$P/certs/bob.pem" "TLS Web Client Authentication, ipsec Internet Key Exchange"
check "bob: CDP one DP, both bases, vpn-ca's CRL" c_cdp "$P/certs/bob.pem" vpn-ca one-point http://127.0.0.1:18081 http://127.0.0.2:18082
check "bob: AIA both bases" c_aia "$P/certs/bob.pem" vpn-ca http://127.0.0.1:18081 http://127.0.0.2:18082
check "bob: serial unique, recorded in the database" test "$(sqlite3 "$P/pkilab.db" "select count(*) from certs where name='bob' and current=1")" = 1

# ---- a CSR made by openssl req, asking for far too much -------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/csr.key" -out "$T/csr.pem" \
	-subj "/CN=win.t2004.test" \
	-addext "subjectAltName=DNS:evil.example.test" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
	-addext "extendedKeyUsage=codeSigning" 2>/dev/null
expect_rc 0 "issue a gateway for an openssl req CSR" "$PKILAB" issue --ca vpn-ca --template ipsec-gateway --name win \
	--csr "$T/csr.pem" --san win.t2004.test --san 192.0.2.44
check "win: the certificate carries the CSR's public key" \
	sh -c 'test "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)"' _ "$P/certs/win.pem" "$T/csr.key"
check "win: no private key written for a CSR" test ! -e "$P/private/win.key"
check "win: subject taken from the CSR" sh -c 'openssl x509 -in "$1" -noout -subject | grep -q "CN *= *win.t2004.test"' _ "$P/certs/win.pem"
check "win: requested CA:TRUE not copied (RFC 5280 §4.2.1.9)" c_no_ext "$P/certs/win.pem" "CA:TRUE\|Certificate Sign\|CRL Sign"
check "win: requested codeSigning not copied: template EKU" c_eku "$P/certs/win.pem" "TLS Web Server Authentication, 1.3.6.1.5.5.8.2.2, ipsec Internet Key Exchange"
check "win: requested SAN not copied: --san used, IP also as DNS (strongSwan Windows requirements)" \
	test "$(ext_value "$P/certs/win.pem" "X509v3 Subject Alternative Name")" = "DNS:win.t2004.test, IP Address:192.0.2.44, DNS:192.0.2.44"
check "win: EC gateway KU digitalSignature only (RFC 8813 §3)" c_ku "$P/certs/win.pem" "Digital Signature"
check "win: openssl verify -purpose sslserver" v_openssl "$P" win ipsec-gateway
check "win: strongSwan pki --verify" v_strongswan "$P" win

# A DER CSR with an RSA key (certreq writes base64 DER; both forms are read).
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj "/CN=rsa.t2004.test" -outform DER -out "$T/rsa.der" 2>/dev/null
expect_rc 0 "issue a gateway for a DER RSA CSR" "$PKILAB" issue --ca vpn-ca --template ipsec-gateway --name rsagw \
	--csr "$T/rsa.der" --san rsa.t2004.test
check "rsagw: RSA gateway gets keyEncipherment (RFC 8813 §3)" c_ku "$P/certs/rsagw.pem" "Digital Signature, Key Encipherment"

# ---- refusals: exit 2, one line, PKI unchanged ----------------------------------------------------------
head -c 600 /dev/urandom >"$T/garbage.csr"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/b.key" -subj "/CN=broken.test" -outform DER -out "$T/b.der" 2>/dev/null
# Flip one bit in the last byte of the signature: still parses, no longer verifies.
python3 -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[-1]^=1; open(sys.argv[2],"wb").write(d)' "$T/b.der" "$T/badsig.der"
check "the broken CSR still parses (openssl) but its signature fails" \
	sh -c 'openssl req -inform DER -in "$1" -noout && openssl req -inform DER -in "$1" -noout -verify 2>&1 | grep -q "verify failure"' _ "$T/badsig.der"

refuse() { # description, fragment, args...
	_desc=$1 _frag=$2; shift 2
	_b=$(tree_sum "$P")
	run "$PKILAB" issue "$@"
	check "$_desc: exit 2" test "$RC" = 2
	check "$_desc: one line 'pkilab: error: ...$_frag...'" sh -c 'test "$(printf "%s\n" "$1" | wc -l)" = 1 && case "$1" in "pkilab: error: "*"$2"*) exit 0 ;; esac; echo "$1"; exit 1' _ "$ERR" "$_frag"
	check "$_desc: PKI byte-for-byte unchanged" test "$_b" = "$(tree_sum "$P")"
}
refuse "garbage CSR" "garbage.csr" --ca vpn-ca --template ipsec-gateway --name g1 --csr "$T/garbage.csr" --san g1.test
refuse "CSR with a broken signature" "signature" --ca vpn-ca --template ipsec-gateway --name g2 --csr "$T/badsig.der" --san g2.test
refuse "missing CSR file" "nope.csr" --ca vpn-ca --template ipsec-gateway --name g3 --csr "$T/nope.csr" --san g3.test
refuse "unknown CA" "nope-ca" --ca nope-ca --template ipsec-client --name g4 --subject CN=g4 --san g4.test
refuse "a leaf as CA" "not a CA" --ca gw --template ipsec-client --name g5 --subject CN=g5 --san g5.test
refuse "an existing name" "already exists" --ca vpn-ca --template ipsec-client --name bob --subject CN=bob2 --san bob2.test
refuse "unknown template" "ipsec-clinet" --ca vpn-ca --template ipsec-clinet --name g6 --subject CN=g6 --san g6.test
refuse "gateway without SAN" "SAN" --ca vpn-ca --template ipsec-gateway --name g7 --subject CN=g7
refuse "bad SAN" "bad name" --ca vpn-ca --template ipsec-gateway --name g8 --subject CN=g8 --san "bad name..test"
refuse "a name with a path in it" "name" --ca vpn-ca --template ipsec-client --name ../../escaped --subject CN=e --san e.test
check "nothing was written outside the PKI for '../../escaped'" test -z "$(find "$T" -name 'escaped*')"
finish
