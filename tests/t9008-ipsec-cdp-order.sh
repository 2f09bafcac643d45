#!/bin/sh
# In which order does charon try a certificate's CDP URIs? The lab lists its
# CDP bases in priority order (docs/crl-publication.md "What every certificate names"); this test shows what reaches
# strongSwan 5.9 with each cdp_layout (RFC 5280 §4.2.1.13: one DistributionPoint
# with several URIs, or one point per URI; docs/crl-publication.md: each URI in turn):
#  - "point-per-uri": charon asks the first base first: the lab's order holds;
#  - "one-point" (the default): strongSwan's add_cdps() reads the URIs of a
#    point last to first, so charon asks the LAST base first. Reported, not
#    asserted: it is strongSwan's behaviour, and both orders are correct.
# Either way both peers authenticate under strict revocation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
first_fetch() { printf '%s\n' "$1" | grep -o "fetching crl from '[^']*/crl/vpn-ca.crl'" | head -1 | cut -d"'" -f2; }

for layout in point-per-uri one-point; do
  # shellcheck disable=SC2034 # read by ipsec_lab (lib-ipsec.sh)
  IPSEC_LAYOUT=$layout
  check "[$layout] pkilab builds the lab" ipsec_lab
  DP=$(openssl x509 -in "$IPSEC_PKI/certs/gw.pem" -noout -ext crlDistributionPoints 2>&1)
  if [ $layout = point-per-uri ]; then
    check "[$layout] two DistributionPoints (openssl x509)" test "$(printf '%s\n' "$DP" | grep -c 'Full Name')" = 2
  else
    check "[$layout] one DistributionPoint with two URIs" test "$(printf '%s\n' "$DP" | grep -c 'Full Name')" = 1
  fi
  ipsec_stop a; ipsec_stop b
  ipsec_cdp_stop 1; ipsec_cdp_stop 2
  check "[$layout] CDP 1 up" ipsec_cdp_start 1
  check "[$layout] CDP 2 up" ipsec_cdp_start 2
  check "[$layout] charons start" ipsec_setup gw alice
  ipsec_need_up
  ipsec_mark
  ipsec_connect
  LA=$(ipsec_log a)
  check "[$layout] CHILD_SA established" ipsec_child_up a
  first=$(first_fetch "$LA")
  echo "# $layout: charon asked $first first"
  if [ $layout = point-per-uri ]; then
    check "[$layout] charon asks the first CDP base first (lab priority kept)" \
      test "$first" = "$IPSEC_CDP1/crl/vpn-ca.crl"
  else
    check "[$layout] charon asks one of the lab's CDPs" \
      sh -c 'case "$1" in "$2/crl/vpn-ca.crl"|"$3/crl/vpn-ca.crl") ;; *) exit 1;; esac' x "$first" "$IPSEC_CDP1" "$IPSEC_CDP2"
  fi
done
finish
