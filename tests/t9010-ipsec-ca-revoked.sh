#!/bin/sh
# The intermediate CA revoked on the ROOT's CRL: every certificate below it
# fails, although the CA's own CRL is fine. charon checks the status of
# every certificate in the path except the anchor (RFC 5280 §4.2.1.13: the
# intermediate's CDP points at the root's CRL).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds the IKEv2 lab" ipsec_lab
ipsec_start_all gw alice
ipsec_mark
ipsec_connect
check "control: before the revocation the CHILD_SA is established" ipsec_child_up a

check "pkilab revoke vpn-ca --ca-cert + pkilab crl" ipsec_revoke vpn-ca --ca-cert
check "both CDPs serve the republished CRLs" ipsec_cdp_sync
SERIAL=$(openssl x509 -in "$IPSEC_PKI/certs/vpn-ca.pem" -noout -serial | cut -d= -f2)
check "the ROOT's CRL lists the intermediate (openssl crl)" \
  contains "$(openssl crl -inform DER -in "$IPSEC_PKI/publish/crl/root.crl" -noout -text)" "Serial Number: $SERIAL"
ipsec_flush
ipsec_mark
ipsec_connect
LB=$(ipsec_log b)
check "initiate fails" test "$IPSEC_RC" != 0
check "the responder fetched the root's CRL" \
  sh -c 'printf "%s\n" "$1" | grep -Eq "fetching crl from .($2|$3)/crl/root.crl"' x "$LB" "$IPSEC_CDP1" "$IPSEC_CDP2"
check "and found the intermediate revoked" contains "$LB" 'certificate was revoked on'
check "charon names the intermediate as the revoked certificate" \
  sh -c 'printf "%s\n" "$1" | grep -A12 "checking certificate status of \"C=CH, O=pkilab Test, CN=pkilab IKEv2 Test VPN CA\"" | grep -q "certificate was revoked"' x "$LB"
check "no SA listed on the responder" ipsec_no_sa b
check "no SA listed on the initiator" ipsec_no_sa a
finish
