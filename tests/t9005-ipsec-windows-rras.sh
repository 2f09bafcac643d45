#!/bin/sh
# The Windows RRAS / Always On VPN profile (examples/windows-rras.cfg: RSA
# 2048, gateway EKU serverAuth + ikeIntermediate only, client EKU clientAuth)
# built by pkilab and used by real IKEv2 peers under strict revocation
# (strongSwan Windows requirements serverAuth, MS AOVPN certificates ikeIntermediate, RFC 4945 §3.1 name in the SAN,
# RFC 4945 §5.1.3.2; RFC 8813 §3 keyUsage for RSA, strongSwan Windows requirements client EKU).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ipsec.sh"

ipsec_init
check "pkilab builds examples/windows-rras.cfg (CDPs moved to the peers)" ipsec_lab rras
GW=$IPSEC_PKI/certs/rras.pem
TXT=$(openssl x509 -in "$GW" -noout -text 2>&1)
check "gateway key is RSA 2048 (openssl x509)" contains "$TXT" "Public-Key: (2048 bit)"
check "gateway signed with SHA-256" contains "$TXT" "sha256WithRSAEncryption"
EKU=$(openssl x509 -in "$GW" -noout -ext extendedKeyUsage 2>&1)
check "gateway EKU has serverAuth (strongSwan Windows requirements)" contains "$EKU" "TLS Web Server Authentication"
check "gateway EKU has ikeIntermediate 1.3.6.1.5.5.8.2.2 (MS AOVPN certificates)" \
  sh -c 'case "$1" in *1.3.6.1.5.5.8.2.2*|*"IKE Intermediate"*) ;; *) echo "$1"; exit 1;; esac' x "$EKU"
check "gateway EKU has nothing else (the RRAS template)" \
  test "$(printf '%s\n' "$EKU" | tail -n +2 | tr ',' '\n' | grep -c .)" = 2
KU=$(openssl x509 -in "$GW" -noout -ext keyUsage 2>&1)
check "gateway keyUsage digitalSignature + keyEncipherment (RFC 4945 §5.1.3.2; RFC 8813 §3)" \
  contains "$KU" "Digital Signature, Key Encipherment"
check "gateway SAN is the name clients dial (RFC 4945 §3.1)" \
  contains "$(openssl x509 -in "$GW" -noout -ext subjectAltName)" "DNS:vpn.example.test"
check "client EKU is clientAuth (strongSwan Windows requirements)" \
  contains "$(openssl x509 -in "$IPSEC_PKI/certs/client1.pem" -noout -ext extendedKeyUsage)" "TLS Web Client Authentication"

ipsec_start_all rras client1
ipsec_mark
ipsec_connect
LA=$(ipsec_log a) LB=$(ipsec_log b)
check "initiate succeeds" test "$IPSEC_RC" = 0
check "CHILD_SA INSTALLED on the initiator" ipsec_child_up a
check "CHILD_SA INSTALLED on the responder" ipsec_child_up b
check "the gateway authenticated with its RSA key" \
  contains "$LA" "authentication of 'vpn.example.test' with RSA"
check "initiator: the gateway's status is good (strict)" contains "$LA" 'certificate status is good'
check "responder: the client's status is good (strict)" contains "$LB" 'certificate status is good'
check "traffic flows through the tunnel" ipsec_traffic
# pkilab doctor, run where charon runs (inside a's namespace), agrees.
run ipsec_exec a "$PKILAB" doctor --pki "$IPSEC_PKI" rras --platform windows --id vpn.example.test
check "doctor --platform windows passes the gateway (exit 0)" test "$RC" = 0
check "doctor fetched both CDPs" sh -c 'case "$1" in *"$2/crl/vpn-ca.crl"*"$3/crl/vpn-ca.crl"*) ;; *) exit 1;; esac' x "$OUT" "$IPSEC_CDP1" "$IPSEC_CDP2"
finish
