#!/bin/sh
# CDP redundancy under strict revocation: with the first CDP of every
# certificate stopped, charon falls through to the second URI of the same
# DistributionPoint and the IKEv2 SA is established (standards.md #34: one
# DistributionPoint, several URIs; #98: each CDP URI in turn; #117 mirrors).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds the IKEv2 lab" ipsec_lab
check "CDP 1 up" ipsec_cdp_start 1
check "CDP 2 up" ipsec_cdp_start 2
check "both charons start" ipsec_setup gw alice
ipsec_cdp_stop 1
check "CDP 1 is down (connection refused from a)" \
  sh -c "! ip netns exec $IPSEC_NS_a curl -s -o /dev/null --max-time 2 $IPSEC_CDP1/crl/vpn-ca.crl"

ipsec_mark
ipsec_connect
LA=$(ipsec_log a) LB=$(ipsec_log b)
check "initiate succeeds" test "$IPSEC_RC" = 0
check "CHILD_SA INSTALLED on the initiator" ipsec_child_up a
check "CHILD_SA INSTALLED on the responder" ipsec_child_up b
check "the initiator tried the first CDP" contains "$LA" "fetching crl from '$IPSEC_CDP1/crl/vpn-ca.crl'"
check "and got the CRL from the second" contains "$LA" "fetching crl from '$IPSEC_CDP2/crl/vpn-ca.crl'"
check "the responder fell through to the second CDP too" contains "$LB" "fetching crl from '$IPSEC_CDP2/crl/vpn-ca.crl'"
check "initiator: certificate status is good" contains "$LA" 'certificate status is good'
check "responder: certificate status is good" contains "$LB" 'certificate status is good'
check "no revocation check was skipped" not_contains "$LA$LB" 'certificate status is not available'
finish
