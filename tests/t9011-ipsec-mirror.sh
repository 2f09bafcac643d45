#!/bin/sh
# A revocation travels through a pkilab-cdpd MIRROR to a real peer: CDP 1
# serves the publish directory, CDP 2 only mirrors CDP 1 over HTTP (it has
# no files of its own). After `pkilab revoke gw` + `pkilab crl` the mirror
# pulls the new CRL, CDP 1 is stopped, and charon (strict) gets the
# revocation from the mirror alone (docs/crl-publication.md: every mirror serves
# the byte-identical CRL; docs/crl-publication.md: mirrors accept only what they would
# accept from disk).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
[ "$IPSEC_CDP" = cdpd ] || skip_all "mirroring needs pkilab-cdpd (IPSEC_CDP=$IPSEC_CDP)"
check "pkilab builds the IKEv2 lab" ipsec_lab
check "CDP 1 (primary) up" ipsec_cdp_start 1
TRUST="--trust $IPSEC_PKI/publish/aia/root.crt --trust $IPSEC_PKI/publish/aia/vpn-ca.crt"
# shellcheck disable=SC2086,SC2154 # $TRUST is two --trust options, split on purpose; IPSEC_ADDR_b is set by lib-ipsec.sh
ipsec_serve cdp2 b x x "$CDPD" --mirror "$IPSEC_CDP1" $TRUST --mirror-interval 1s --listen "$IPSEC_ADDR_b:8081"
check "CDP 2 (mirror) serves the primary's CRLs" ipsec_cdp_sync
check "both charons start" ipsec_setup gw alice
ipsec_need_up
ipsec_mark
ipsec_connect
check "control: the CHILD_SA is established" ipsec_child_up a

check "pkilab revoke gw + pkilab crl" ipsec_revoke gw
check "the mirror pulls the new CRL (byte-identical, within 5 s)" ipsec_cdp_sync
ipsec_cdp_stop 1
ipsec_flush
ipsec_mark
ipsec_connect
LA=$(ipsec_log a)
check "initiate fails" test "$IPSEC_RC" != 0
check "the initiator could only reach the mirror" contains "$LA" "fetching crl from '$IPSEC_CDP2/crl/vpn-ca.crl'"
check "and got the revocation from it" contains "$LA" 'certificate was revoked on'
check "no SA listed on the initiator" ipsec_no_sa a
finish
