#!/bin/sh
# IKEv2 with pkilab certificates: two strongSwan charons in two network
# namespaces authenticate each other with certificates from `pkilab build`,
# under `revocation = strict`, fetching the CRLs over HTTP from two
# pkilab-cdpd instances (docs/profile.md: gateway/client profiles; RFC 5280 §4.2.1.13; RFC 5280 §4.2.2.1
# CDP/AIA on every non-root certificate; §7 CDP serving), and carry traffic.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds the IKEv2 lab" ipsec_lab
# shellcheck disable=SC2154 # IPSEC_ADDR_a is set by lib-ipsec.sh
check "CDP 1 serves publish/ on $IPSEC_ADDR_a" ipsec_cdp_start 1
# shellcheck disable=SC2154 # IPSEC_ADDR_b is set by lib-ipsec.sh
check "CDP 2 serves publish/ on $IPSEC_ADDR_b" ipsec_cdp_start 2
check "both charons start and load their configuration" ipsec_setup gw alice
ipsec_need_up

ipsec_mark
ipsec_connect
check "initiate succeeds (swanctl --initiate exit 0)" test "$IPSEC_RC" = 0
check "CHILD_SA INSTALLED on the initiator" ipsec_child_up a
check "CHILD_SA INSTALLED on the responder" ipsec_child_up b
LA=$(ipsec_log a) LB=$(ipsec_log b)
# Which of the two URIs charon asks first is its business (t9003); one of them.
fetched() { printf '%s\n' "$1" | grep -Eq "fetching crl from '($IPSEC_CDP1|$IPSEC_CDP2)/crl/$2.crl'" ||
  { echo "no fetch of $2.crl from a lab CDP"; return 1; }; }
check "initiator fetched the gateway CA's CRL from a lab CDP (RFC 5280 §4.2.1.13)" fetched "$LA" vpn-ca
check "initiator checked the intermediate against the root's CRL (RFC 5280 §4.2.1.13)" fetched "$LA" root
check "responder fetched the client CA's CRL too" fetched "$LB" vpn-ca
check "initiator: the gateway's status is good" \
  contains "$LA" 'certificate status is good'
check "initiator authenticated the gateway by its certificate" \
  contains "$LA" "authentication of '$IPSEC_GW_ID' with"
check "responder: the client's status is good" contains "$LB" 'certificate status is good'
check "responder authenticated the client by its certificate" \
  contains "$LB" "authentication of '$IPSEC_CL_ID' with"
check "no revocation check was skipped" not_contains "$LA$LB" 'certificate status is not available'
check "traffic flows through the tunnel (ESP, $IPSEC_KERNEL)" ipsec_traffic
finish
