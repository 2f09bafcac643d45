#!/bin/sh
# CDP redundancy under strict revocation: every certificate names both CDPs
# (one DistributionPoint, two URIs: RFC 5280 §4.2.1.13); with either CDP
# stopped, charon falls through to the other URI (docs/crl-publication.md: each CDP URI in turn)
# and the IKEv2 SA is established.
#
# Order: strongSwan 5.9 reads the URIs of one DistributionPoint last to first
# (x509_cert.c add_cdps() takes them with remove_last), so with the lab's
# default "one-point" layout charon asks the SECOND base first. Stopping only
# the first CDP would then prove nothing; this test stops each in turn and
# requires a failed fetch followed by a good CRL from the other one in the
# case where the stopped CDP was asked first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds the IKEv2 lab" ipsec_lab
ipsec_start_all gw alice

# The URL charon asked first for the gateway CA's CRL, in a log.
first_fetch() { printf '%s\n' "$1" | grep -o "fetching crl from '[^']*/crl/vpn-ca.crl'" | head -1 | cut -d"'" -f2; }
# A fetch of URL that failed, then a good CRL from OTHER, in that order.
fell_through() { # log url other
  printf '%s\n' "$1" | awk -v u="fetching crl from '$2" -v o="fetching crl from '$3" '
    index($0, u) { tried = 1 } tried && /crl fetching failed/ { failed = 1 }
    failed && index($0, o) { other = 1 } other && /certificate status is good/ { ok = 1 }
    END { exit !ok }' || { echo "no failed fetch of $2 followed by a good CRL from $3"; return 1; }
}

for down in 1 2; do
  if [ $down = 1 ]; then DOWN=$IPSEC_CDP1 UP=$IPSEC_CDP2; else DOWN=$IPSEC_CDP2 UP=$IPSEC_CDP1; fi
  ipsec_flush
  ipsec_cdp_start 1 >/dev/null 2>&1; ipsec_cdp_start 2 >/dev/null 2>&1
  ipsec_cdp_stop $down
  # shellcheck disable=SC2154 # IPSEC_NS_a is set by lib-ipsec.sh
  check "[CDP $down down] $DOWN refuses connections" \
    sh -c "! ip netns exec $IPSEC_NS_a curl -s -o /dev/null --max-time 2 $DOWN/crl/vpn-ca.crl"
  ipsec_mark
  ipsec_connect
  LA=$(ipsec_log a) LB=$(ipsec_log b)
  check "[CDP $down down] initiate succeeds" test "$IPSEC_RC" = 0
  check "[CDP $down down] CHILD_SA INSTALLED on the initiator" ipsec_child_up a
  check "[CDP $down down] CHILD_SA INSTALLED on the responder" ipsec_child_up b
  check "[CDP $down down] initiator got the CA's CRL from $UP" contains "$LA" "fetching crl from '$UP/crl/vpn-ca.crl'"
  check "[CDP $down down] responder got the CA's CRL from $UP" contains "$LB" "fetching crl from '$UP/crl/vpn-ca.crl'"
  check "[CDP $down down] both peers: certificate status is good" \
    sh -c 'case "$1" in *"certificate status is good"*) ;; *) exit 1;; esac; case "$2" in *"certificate status is good"*) ;; *) exit 1;; esac' x "$LA" "$LB"
  check "[CDP $down down] no revocation check was skipped" not_contains "$LA$LB" 'certificate status is not available'
  first=$(first_fetch "$LA")
  echo "# CDP $down down: charon asked $first first"
  if [ "$first" = "$DOWN/crl/vpn-ca.crl" ]; then
    check "[CDP $down down] initiator: failed fetch from $DOWN, then a good CRL from $UP" fell_through "$LA" "$DOWN" "$UP"
    check "[CDP $down down] responder: failed fetch from $DOWN, then a good CRL from $UP" fell_through "$LB" "$DOWN" "$UP"
    FELL=$down
  fi
done
check "in one of the two cases the stopped CDP was asked first (a real fall-through)" test -n "${FELL:-}"
finish
