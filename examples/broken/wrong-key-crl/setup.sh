# Build the same lab a second time into pki-impostor (same names, new keys)
# and serve its VPN CA CRL in place of the real one: a CRL signed by a
# different key, as after a CA was rebuilt or a mirror got another PKI's file.
set -e
"$PKILAB" build lab.cfg --pki pki-impostor >/dev/null
cp pki-impostor/publish/crl/vpn-ca.crl "$SERVE/crl/vpn-ca.crl"
