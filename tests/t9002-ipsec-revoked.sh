#!/bin/sh
# IKEv2 with a revoked gateway certificate: after `pkilab revoke gw` and
# `pkilab crl`, the CDPs serve the new CRL and the initiator, with
# `revocation = strict`, refuses the gateway with a revocation error
# (RFC 5280 §4.2.1.13 CDP; strongSwan swanctl.conf revocation: a revoked certificate fails whatever the policy).
# The same peers connect first, so the failure is the revocation's alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds the IKEv2 lab" ipsec_lab
ipsec_start_all gw alice

ipsec_mark
ipsec_connect
check "control: before the revocation the CHILD_SA is established" ipsec_child_up a

check "pkilab revoke gw + pkilab crl" ipsec_revoke gw
check "both CDPs serve the republished CRLs" ipsec_cdp_sync
SERIAL=$(openssl x509 -in "$IPSEC_PKI/certs/gw.pem" -noout -serial | cut -d= -f2)
CRLTXT=$(openssl crl -inform DER -in "$IPSEC_PKI/publish/crl/vpn-ca.crl" -noout -text 2>&1)
check "the CA's CRL lists the gateway's serial (openssl crl)" contains "$CRLTXT" "Serial Number: $SERIAL"
check "with reasonCode keyCompromise" contains "$CRLTXT" "Key Compromise"

ipsec_flush   # forget the SA and the CRLs charon cached on the first run
ipsec_mark
ipsec_connect
LA=$(ipsec_log a)
check "initiate fails" test "$IPSEC_RC" != 0
check "the initiator fetched the CRL again (cache flushed)" \
  sh -c 'printf "%s\n" "$1" | grep -Eq "fetching crl from .($2|$3)/crl/vpn-ca.crl"' x "$LA" "$IPSEC_CDP1" "$IPSEC_CDP2"
check "charon reports the revocation" contains "$LA" 'certificate was revoked on'
check "with its reason" contains "$LA" 'reason: key compromise'
check "so the gateway's key is not trusted" contains "$LA" "public key found for '$IPSEC_GW_ID'"
check "no IKE_SA established on the initiator" not_contains "$LA" 'established between'
check "no SA listed on the initiator" ipsec_no_sa a
check "no SA listed on the responder" ipsec_no_sa b
# pkilab doctor, run where charon runs, reaches the same verdict.
run ipsec_exec a "$PKILAB" doctor --pki "$IPSEC_PKI" gw
check "doctor fails the revoked gateway too (exit 1)" test "$RC" = 1
check "doctor names the cause: cert.revoked" contains "$OUT" "cert.revoked"
finish
