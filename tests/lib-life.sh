# Helpers for the lifecycle tests (t2013 renew, t3xxx revoke & CRL, t4xxx
# export, t8001/t8002 show, list, expiring), sourced after tests/lib.sh. A small, fast ECDSA P-256 lab: root -> vpn-ca -> gw,
# alice, bob, so every test starts from the same hierarchy in well under a
# second.
#   life_lab DIR        writes DIR/lab.cfg and builds DIR/pki (sets $PKI)
#   life_history        renewals and revocations on $PKI (see below)
#   crl_pem CA OUT      the published CRL of CA as PEM
#   crl_number CA       its CRLNumber, decimal
export PKILAB_TEMPLATES="$TOP/templates"

life_lab() {
  mkdir -p "$1"
  cat >"$1/lab.cfg" <<'EOF'
lab = { name = "life"; pki = "pki"; cdp = [ "http://127.0.0.1:18081", "http://127.0.0.2:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256";
    subject = "C=CH, O=pkilab lifecycle, CN=pkilab Lifecycle Root CA"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256";
    subject = "C=CH, O=pkilab lifecycle, CN=pkilab Lifecycle VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; key = "ec:P-256";
    subject = "CN=vpn.life.test"; san = [ "vpn.life.test", "192.0.2.10" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; key = "ec:P-256";
    subject = "CN=alice.life.test"; san = [ "alice.life.test" ]; },
  { name = "bob"; template = "ipsec-client"; issuer = "vpn-ca"; key = "ec:P-256";
    subject = "CN=bob.life.test"; san = [ "bob.life.test" ]; }
);
EOF
  PKI=$1/pki
  life_build "$1"
}

# Builds DIR/lab.cfg. Serials whose first hex digit is 0 are rebuilt: pkilab's
# serial lookup (ca/lib/db.c normalise_serial) strips that nibble, so looking
# such a certificate up by serial fails - reported, to be fixed there; until
# then the tests that look up by serial would fail one time in sixteen.
life_build() {
  for _i in 1 2 3 4 5 6 7 8; do
    rm -rf "$1/pki"
    "$PKILAB" build "$1/lab.cfg" >"$T/.build.out" 2>&1 ||
      { echo "# build failed:"; sed 's/^/#   /' "$T/.build.out"; return 1; }
    sqlite3 "$1/pki/pkilab.db" "SELECT serial FROM certs" | grep -q '^0' || return 0
  done
  return 0
}

# The history the show/list/expiring tests read, made with the commands
# t2013-renew checks: gw renewed with a new key then with the same key, alice
# renewed for 30 days with the old one revoked as superseded and vpn-ca's CRL
# republished (7 days), bob revoked for keyCompromise then renewed with a new
# key. Five current certificates; the first failing command is shown.
life_history() {
  for _c in "renew gw" "renew gw --reuse-key" "renew alice --revoke-old --validity 30d" \
      "crl --ca vpn-ca" "revoke bob --reason keyCompromise" "renew bob"; do
    # shellcheck disable=SC2086 # each entry is a command line, split on purpose
    "$PKILAB" --pki "$PKI" $_c >"$T/.history.out" 2>&1 ||
      { echo "pkilab $_c failed:"; cat "$T/.history.out"; return 1; }
  done
}

crl_pem() { openssl crl -inform DER -in "$PKI/publish/crl/$1.crl" -out "$2"; }
# Decimal, via bc: CRL numbers are millisecond timestamps, beyond 32 bits.
crl_number() {
  _h=$(openssl crl -inform DER -in "$PKI/publish/crl/$1.crl" -noout -crlnumber | sed 's/.*=//; s/^0[xX]//' | tr 'a-f' 'A-F')
  echo "ibase=16; $_h" | BC_LINE_LENGTH=0 bc
}
