#!/bin/sh
# t2011-csr-key-policy: an external CSR is held to the same key rules as a
# key pkilab generates, and every certificate is linted before it is
# committed. Before: `issue --csr` signed an RSA-1024 key (which pkilab's own
# lint then failed, key.too_small) and a CSR carrying the issuing CA's own
# public key; build, issue and renew recorded certificates their own lint
# fails. Now each is exit 2 with one line, and the PKI is unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
export PKILAB_DIR="$PKI"
db=$PKI/pkilab.db
snap() { echo "$(tree_sum "$PKI") $(sqlite3 "$db" "SELECT count(*) FROM certs")"; }

csr() { # out key-options... : a CSR for CN=x.t2011.test
  _out=$1; shift
  openssl req -new "$@" -nodes -subj "/CN=x.t2011.test" -out "$_out" 2>/dev/null
}

before=$(snap)
csr "$T/rsa1024.csr" -newkey rsa:1024 -keyout "$T/rsa1024.key"
expect_rc 2 "issue --csr with an RSA-1024 key" "$PKILAB" issue --ca vpn-ca --template ipsec-client --name r1024 \
  --csr "$T/rsa1024.csr" --san x.t2011.test
check "one line" one_line "$ERR"
check "names the CSR and the key size" contains "$ERR" "rsa1024.csr: RSA key of 1024 bits"
csr "$T/ca.csr" -key "$PKI/private/vpn-ca.key"
expect_rc 2 "issue --csr carrying the issuing CA's own key" "$PKILAB" issue --ca vpn-ca --template ipsec-client --name caskey \
  --csr "$T/ca.csr" --san x.t2011.test
check "one line" one_line "$ERR"
check "says it is vpn-ca's key" contains "$ERR" "CA 'vpn-ca''s own key"
csr "$T/root.csr" -key "$PKI/private/root.key"
expect_rc 2 "issue --csr carrying the root's key (another CA in the database)" "$PKILAB" issue --ca vpn-ca \
  --template ipsec-gateway --name rootkey --csr "$T/root.csr" --san x.t2011.test
check "says it is root's key" contains "$ERR" "CA 'root''s own key"
check "nothing recorded or written" [ "$(snap)" = "$before" ]

csr "$T/rsa3072.csr" -newkey rsa:3072 -keyout "$T/rsa3072.key"
expect_rc 0 "an RSA-3072 CSR is still signed" "$PKILAB" issue --ca vpn-ca --template ipsec-client --name r3072 \
  --csr "$T/rsa3072.csr" --san x.t2011.test
check "and passes pkilab lint" "$PKILAB" lint "$PKI/certs/r3072.pem" --issuer "$PKI/certs/vpn-ca.pem"

# Lint before commit, on every issuing path: a template whose end-entity
# keyUsage has cRLSign (RFC 5280 §4.2.1.3: only for CAs; lint.L7).
mkdir "$T/tmpl"
cp "$TOP"/templates/*.cfg "$T/tmpl/"
sed -i 's/^key_usage = .*/key_usage = [ "digitalSignature", "cRLSign" ];/' "$T/tmpl/ipsec-client.cfg" "$T/tmpl/ipsec-gateway.cfg"
before=$(snap)
expect_rc 2 "issue from a template that makes lint fail" env PKILAB_TEMPLATES="$T/tmpl" "$PKILAB" issue --ca vpn-ca \
  --template ipsec-client --name carol --subject "CN=carol.t2011.test" --san carol.t2011.test
check "one line naming the lint check" sh -c 'printf "%s\n" "$1" | grep -q "lint.L7" && [ "$(printf "%s\n" "$1" | wc -l)" = 1 ]' _ "$ERR"
expect_rc 2 "renew gw with that template" env PKILAB_TEMPLATES="$T/tmpl" "$PKILAB" renew gw
check "renew names the lint check" contains "$ERR" "lint.L7"
check "nothing recorded or written" [ "$(snap)" = "$before" ]
cat >"$T/bad.cfg" <<'LAB'
lab = { name = "t2011"; pki = "pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = ( { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=t2011 Root"; } );
certs = ( { name = "gw"; template = "ipsec-gateway"; issuer = "root"; key = "ec:P-256";
            subject = "CN=gw.t2011.test"; san = [ "gw.t2011.test" ]; key_usage = [ "digitalSignature", "cRLSign" ]; } );
LAB
expect_rc 2 "build a lab whose gateway lint fails" "$PKILAB" build "$T/bad.cfg" --pki "$T/badpki"
check "names the lab line and the check" sh -c 'printf "%s\n" "$1" | grep -q "bad.cfg:[0-9]*: .*lint.L7"' _ "$ERR"
check "no PKI built" test ! -e "$T/badpki"
finish
