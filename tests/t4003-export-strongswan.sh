#!/bin/sh
# t4003-export-strongswan: the swanctl layout from `pkilab export --format
# strongswan` loads with `swanctl --load-all` into a charon started for this
# test (own network and mount namespace, own strongswan.conf and vici socket;
# bounded waits; everything removed at exit) — the settings from
# strongSwan swanctl.conf revocation; strongSwan swanctl.conf send_cert.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

CHARON=/usr/lib/ipsec/charon
[ "$(id -u)" = 0 ] || skip_all "needs root for a network namespace"
[ -x "$CHARON" ] || skip_all "strongSwan charon is not installed"
command -v swanctl >/dev/null || skip_all "swanctl is not installed"
command -v unshare >/dev/null || skip_all "unshare is not installed"

# RSA: without the openssl plugin (not a dependency) strongSwan parses no ECDSA keys.
life_lab "$T/lab" || { finish; exit 1; }
sed -i 's/ec:P-256/rsa:2048/g' "$T/lab/lab.cfg"
life_build "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1

expect_rc 0 "export gw --format strongswan" "$PKILAB" --pki "$PKI" export gw --format strongswan --out ss
for f in x509ca/root.pem x509ca/vpn-ca.pem x509/gw.pem private/gw.pem swanctl.conf; do
  check "swanctl layout: $f" [ -s "ss/$f" ]
done
check "private/gw.pem is mode 0600" [ "$(stat -c %a ss/private/gw.pem)" = 600 ]
check "private/gw.pem is PKCS#8 and matches the certificate" sh -c 'grep -q "BEGIN PRIVATE KEY" ss/private/gw.pem && [ "$(openssl pkey -in ss/private/gw.pem -pubout)" = "$(openssl x509 -in ss/x509/gw.pem -noout -pubkey)" ]'
conf=$(cat ss/swanctl.conf)
check "swanctl.conf: revocation = strict (strongSwan swanctl.conf revocation)" contains "$conf" "revocation = strict"
check "swanctl.conf: send_cert = always (strongSwan swanctl.conf send_cert)" contains "$conf" "send_cert = always"
check "swanctl.conf: local certs = gw.pem" contains "$conf" "certs = gw.pem"
check "swanctl.conf: local id = the first SAN (vpn.life.test, RFC 4945 §3.1)" contains "$conf" "id = vpn.life.test"
check "swanctl.conf: the root as trust anchor of the peer" contains "$conf" "cacerts = root.pem"

# --- a private charon
NS=pkl4003-$$
ip netns add "$NS" || skip_all "ip netns add failed"
at_exit "ip netns del $NS"
ip -n "$NS" link set lo up
sock=$T/charon.vici
cat >strongswan.conf <<EOC
charon {
  load_modular = no
  load = random nonce x509 revocation constraints pubkey pkcs1 pkcs8 pem gmp sha1 sha2 hmac aes kdf vici kernel-netlink socket-default
  plugins { vici { socket = unix://$sock } }
  filelog { t { path = $T/charon.log default = 1 cfg = 2 } }
  syslog { daemon { default = -1 } auth { default = -1 } }
}
swanctl {
  socket = unix://$sock
  load = random nonce pem pkcs1 pkcs8 x509 gmp sha1 sha2
}
EOC
# A private /run: charon's pid file is fixed at /var/run/charon.pid.
ip netns exec "$NS" unshare -m --propagation private sh -c \
  'mount -t tmpfs pkl4003 /run && exec env STRONGSWAN_CONF="$1" "$2"' sh "$T/strongswan.conf" "$CHARON" \
  >charon.out 2>&1 &
cpid=$!
at_exit "kill $cpid; sleep 0.3; kill -9 $cpid"
sw() { STRONGSWAN_CONF=$T/strongswan.conf SWANCTL_DIR=$T/ss timeout 20 swanctl "$@" --uri "unix://$sock"; }
vici_up() { [ -S "$sock" ] && sw --stats; }
up=0
until_ok vici_up && up=1
check "charon started with a private vici socket" [ "$up" = 1 ]
[ "$up" = 1 ] || { sed 's/^/#   /' charon.out | tail -20; finish; exit 1; }

expect_rc 0 "swanctl --load-all loads the exported folder" sw --load-all --noprompt
check "it loaded the connection 'gw'" contains "$OUT" "loaded connection 'gw'"
check "it loaded the private key from private/gw.pem" contains "$OUT" "loaded private key from '$T/ss/private/gw.pem'"
check "it loaded the root from x509ca/" contains "$OUT" "loaded certificate from '$T/ss/x509ca/root.pem'"
check "it loaded the intermediate from x509ca/" contains "$OUT" "loaded certificate from '$T/ss/x509ca/vpn-ca.pem'"
check "it loaded gw's certificate from x509/" contains "$OUT" "loaded certificate from '$T/ss/x509/gw.pem'"
check "no failure reported" not_contains "$OUT" "failed"
run sw --list-conns
check "charon lists connection gw with pubkey auth" sh -c 'echo "$1" | grep -q "^gw:" && echo "$1" | grep -q "public key authentication"' _ "$OUT"
check "the local side uses gw's certificate (id vpn.life.test)" contains "$OUT" "id: vpn.life.test"
run sw --list-certs
check "charon has gw's certificate with its private key" sh -c 'echo "$1" | grep -A12 "subject:  \"CN=vpn.life.test\"" | grep -q "has private key"' _ "$OUT"
check "and the root as a CA certificate" contains "$OUT" "pkilab Lifecycle Root CA"
# A broken folder is refused: swanctl reports the key that does not parse.
cp -r ss ss-bad && echo garbage >ss-bad/private/gw.pem
run env STRONGSWAN_CONF=$T/strongswan.conf SWANCTL_DIR=$T/ss-bad timeout 20 swanctl --load-creds --noprompt --uri "unix://$sock"
check "a corrupted key makes swanctl --load-creds fail (the check can fail)" sh -c '[ "$1" != 0 ] || echo "$2" | grep -qi "fail"' _ "$RC" "$OUT$ERR"
finish
