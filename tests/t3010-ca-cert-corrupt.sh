#!/bin/sh
# t3010-ca-cert-corrupt: SQLite keeps no page checksums, so one flipped byte
# in a CA certificate's stored DER went unnoticed: `pkilab crl` exited 0
# writing the damaged issuer name into the CRL, and pkilab-cdpd (which checks
# CRLs against publish/aia/) refused it. Now the stored CA certificate is
# checked before it signs anything (its issuer's signature over it, and
# byte-equality with publish/aia/<ca>.crt): crl, issue, renew and build
# refuse with exit 3 and one line naming the CA, and nothing changes. Every
# CRL pkilab signs also passes cdpd's own check (ca/lib/crl_read.c) before
# it is committed (a unit test, tests/unit/test_revoke.c crl_selfcheck, shows
# it refusing); a CA whose keyUsage lacks cRLSign, whose CRLs cdpd would
# refuse, is not issued at all (lint before commit, lint.L8).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
db=$PKI/pkilab.db
# flip DB NAME OFFSET|sig: flips one bit of the current certificate NAME's
# stored DER, at byte OFFSET or in the last byte (the signature); twice = repaired.
flip() {
  python3 - "$1" "$2" "$3" <<'PY'
import sqlite3, sys
db, name, where = sys.argv[1:]
c = sqlite3.connect(db)
der = bytearray(c.execute("SELECT der FROM certs WHERE name=? AND current=1", (name,)).fetchone()[0])
i = len(der) - 1 if where == "sig" else int(where)
der[i] ^= 0x01
c.execute("UPDATE certs SET der=? WHERE name=? AND current=1", (bytes(der), name))
c.commit()
PY
}
snap() { echo "$(tree_sum "$PKI/publish") $(tree_sum "$PKI/certs") $(tree_sum "$PKI/private") $(sqlite3 "$db" "SELECT count(*) FROM certs; SELECT crl_number FROM cas ORDER BY name")"; }

# The offset of "VPN CA" in vpn-ca's subject: flipping it makes "WPN CA".
cn_off=$(python3 -c 'import sqlite3,sys; print(bytes(sqlite3.connect(sys.argv[1]).execute("SELECT der FROM certs WHERE name=? AND current=1", ("vpn-ca",)).fetchone()[0]).index(b"VPN CA"))' "$db")
flip "$db" vpn-ca "$cn_off"
# Every CA's CRL is its own transaction: root's is signed, vpn-ca's refused.
expect_rc 3 "crl (every CA)" "$PKILAB" --pki "$PKI" crl
before=$(snap)
expect_rc 3 "crl --ca vpn-ca with vpn-ca's stored DER damaged" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
check "one line naming the CA" sh -c 'printf "%s\n" "$1" | grep -q "stored certificate of CA .vpn-ca." && [ "$(printf "%s\n" "$1" | wc -l)" = 1 ]' _ "$ERR"
expect_rc 3 "issue a client under the damaged CA" "$PKILAB" --pki "$PKI" issue --ca vpn-ca --template ipsec-client \
  --name carol --subject "CN=carol.life.test" --san carol.life.test
check "issue names the CA" contains "$ERR" "stored certificate of CA 'vpn-ca'"
expect_rc 3 "renew gw under the damaged CA" "$PKILAB" --pki "$PKI" renew gw
sed 's/^certs = (/certs = (\n  { name = "dave"; template = "ipsec-client"; issuer = "vpn-ca"; key = "ec:P-256"; subject = "CN=dave.life.test"; san = [ "dave.life.test" ]; },/' \
  "$T/lab/lab.cfg" >"$T/lab/lab2.cfg"
expect_rc 3 "build adding a client under the damaged CA" "$PKILAB" build "$T/lab/lab2.cfg" --pki "$PKI"
check "nothing changed: publish/, certs/, private/, rows, CRL numbers" [ "$(snap)" = "$before" ]
flip "$db" vpn-ca "$cn_off"   # repaired
expect_rc 0 "repaired: crl signs again" "$PKILAB" --pki "$PKI" crl --ca vpn-ca

# The damaged byte in the signature: the DER still parses, the subject is
# intact, only the issuer's signature check can tell.
flip "$db" vpn-ca sig
expect_rc 3 "crl with vpn-ca's signature damaged" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
check "says it does not verify with its issuer's key" contains "$ERR" "does not verify with its issuer's key"
flip "$db" vpn-ca sig
# The root: its own signature.
flip "$db" root sig
expect_rc 3 "crl --ca root with the root's signature damaged" "$PKILAB" --pki "$PKI" crl --ca root
check "says it does not verify with its own key" contains "$ERR" "does not verify with its own key"
flip "$db" root sig
# The published copy damaged instead: the two disagree, refuse too.
cp "$PKI/publish/aia/vpn-ca.crt" "$T/aia.bak"
python3 -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[-1]^=1; open(sys.argv[1],"wb").write(d)' "$PKI/publish/aia/vpn-ca.crt"
expect_rc 3 "crl with publish/aia/vpn-ca.crt differing from the database" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
check "names the AIA copy" contains "$ERR" "differs from publish/aia/vpn-ca.crt"
cp "$T/aia.bak" "$PKI/publish/aia/vpn-ca.crt"
expect_rc 0 "all repaired: crl for every CA" "$PKILAB" --pki "$PKI" crl
check "the CRL verifies against the published CA certificate (openssl)" sh -c \
  'openssl x509 -inform DER -in "$1/publish/aia/vpn-ca.crt" -out "$2/ca.pem" && openssl crl -inform DER -in "$1/publish/crl/vpn-ca.crl" -CAfile "$2/ca.pem" -noout 2>&1 | grep -q "verify OK"' _ "$PKI" "$T"

# A CA that may not sign CRLs: the CRL it would publish fails cdpd's check.
cat >"$T/nocrlsign.cfg" <<'LAB'
lab = { name = "t3010"; pki = "pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = ( { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=t3010 Root"; },
        { name = "sub"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256"; subject = "CN=t3010 Sub";
          key_usage = [ "keyCertSign", "digitalSignature" ]; } );
LAB
expect_rc 2 "build a CA whose keyUsage lacks cRLSign" "$PKILAB" build "$T/nocrlsign.cfg" --pki "$T/nocrl"
check "says why (cRLSign)" contains "$ERR" "cRLSign"
check "no PKI left" test ! -e "$T/nocrl"
finish
