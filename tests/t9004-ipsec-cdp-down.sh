#!/bin/sh
# Every CDP down under `revocation = strict`: no CRL can be fetched, so the
# status of the peer's certificate is unknown and authentication fails
# (strongSwan swanctl.conf revocation: strict "fails if no revocation information is
# available"). Control: the same peers connect while the CDPs are up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds the IKEv2 lab" ipsec_lab
ipsec_start_all gw alice
ipsec_mark
ipsec_connect
check "control: with the CDPs up the CHILD_SA is established" ipsec_child_up a

ipsec_cdp_stop 1
ipsec_cdp_stop 2
ipsec_flush
ipsec_mark
ipsec_connect
LA=$(ipsec_log a) LB=$(ipsec_log b)
check "initiate fails" test "$IPSEC_RC" != 0
check "the responder tried both CDPs" sh -c 'contains() { case "$1" in *"$2"*) ;; *) exit 1;; esac; };
  contains "$1" "fetching crl from '"'"'$2/crl/vpn-ca.crl" && contains "$1" "fetching crl from '"'"'$3/crl/vpn-ca.crl"' \
  x "$LB" "$IPSEC_CDP1" "$IPSEC_CDP2"
check "the responder reports that the status is not available" contains "$LB" 'certificate status is not available'
check "strict revocation rejects the client: the CRL check must be GOOD" \
  contains "$LB" 'constraint check failed: RULE_CRL_VALIDATION is FAILED, but requires at least GOOD'
check "the responder finds no acceptable configuration" contains "$LB" 'no alternative config found' 
check "the initiator is told AUTHENTICATION_FAILED" contains "$LA" 'received AUTHENTICATION_FAILED notify'
check "no SA listed on the initiator" ipsec_no_sa a
check "no SA listed on the responder" ipsec_no_sa b
finish
