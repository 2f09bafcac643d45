#!/bin/sh
# The other direction: the CLIENT's certificate revoked. The gateway (the
# responder, strict revocation) fetches the CA's CRL, finds the client's
# serial and refuses it; the client is told AUTHENTICATION_FAILED
# (strongSwan swanctl.conf revocation: revoked fails whatever the policy; MS AOVPN revocation is the Windows
# RRAS equivalent, CertAuthFlags = 4).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds the IKEv2 lab" ipsec_lab
ipsec_start_all gw alice
ipsec_mark
ipsec_connect
check "control: before the revocation the CHILD_SA is established" ipsec_child_up b

check "pkilab revoke alice + pkilab crl" ipsec_revoke alice
check "both CDPs serve the republished CRLs" ipsec_cdp_sync
ipsec_flush
ipsec_mark
ipsec_connect
LA=$(ipsec_log a) LB=$(ipsec_log b)
check "initiate fails" test "$IPSEC_RC" != 0
check "the gateway checked the client's certificate" contains "$LB" "checking certificate status of \"CN=alice.ipsec.test\""
check "the gateway reports the revocation" contains "$LB" 'certificate was revoked on'
check "with its reason" contains "$LB" 'reason: key compromise'
check "the gateway refuses the client" contains "$LB" "public key found for '$IPSEC_CL_ID'"
check "the client is told AUTHENTICATION_FAILED" contains "$LA" 'received AUTHENTICATION_FAILED notify'
check "no SA listed on the gateway" ipsec_no_sa b
check "no SA listed on the client" ipsec_no_sa a
finish
