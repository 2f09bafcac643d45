# IKEv2 test library (tests family 9), sourced after tests/lib.sh.
#
# Two strongSwan charon daemons, "a" (initiator, client certificate) and "b"
# (responder, gateway certificate), each in a network namespace of its own,
# joined by a veth pair on 10.99.9.0/24 (.1 = a, .2 = b). Nothing leaves the
# namespaces: the addresses exist only inside them, the CDP servers listen on
# them, and the namespaces are deleted at exit. Each charon gets a private
# strongswan.conf (STRONGSWAN_CONF), a private swanctl directory (SWANCTL_DIR),
# its own vici socket and a private /run (charon insists on
# /var/run/charon.pid, so two daemons on one host need two mount namespaces).
#
# The kernel of a CI machine may lack XFRM state support: ipsec_init probes
# `ip xfrm state add` in a scratch namespace and, when it fails, loads
# kernel-libipsec (userspace ESP over a TUN device) instead of relying on the
# kernel for ESP. Either way IKE itself, certificate validation and CRL
# fetching (the curl fetcher plugin) are exercised unchanged.
#
# Keys: the lab uses the templates' ECDSA keys when charon has the openssl
# plugin (libstrongswan-standard-plugins), RSA 2048 otherwise (IPSEC_ECDSA=0
# forces RSA). Certificates come from pkilab, CRLs are served by pkilab-cdpd
# (IPSEC_CERTS=pki / IPSEC_CDP=python swap in strongSwan pki / python's
# http.server to debug the harness apart from pkilab).
#
# Every wait is bounded: daemon start ≤ 10 s, SA establishment polled ≤ 20 s,
# swanctl calls ≤ 25 s, CDP start and re-publication ≤ 10 s / 5 s.
#
#   ipsec_init                   requirements (else skip_all), namespaces, veth
#   ipsec_lab [rras]             write the lab file, build the PKI ($IPSEC_PKI)
#   ipsec_revoke NAME [ARG...]   revoke NAME and republish the CRLs
#   ipsec_cdp_start I / _stop I  CDP server I (1: a's address, 2: b's address)
#   ipsec_cdp_sync               wait until every running CDP serves publish/
#   ipsec_setup GW CLIENT        peers b=GW and a=CLIENT from the PKI, started
#   ipsec_stop P                 stop peer P's charon
#   ipsec_need_up                end the test unless both charons run
#   ipsec_traffic                HTTP from a to b through the tunnel
#   ipsec_peer P ID CERT KEY CA...  swanctl tree + config for peer a|b
#   ipsec_start P                start charon in its namespace, load config
#   ipsec_flush                  forget SAs and cached CRLs on both peers
#   ipsec_connect                initiate from a, outcome in $IPSEC_RC
#   ipsec_child_up P             CHILD_SA "net" INSTALLED in swanctl --list-sas
#   ipsec_log P                  charon's log of peer P (since the last mark)
#   ipsec_mark                   remember log positions (a case starts)
#   ipsec_serve NAME P ADDR PORT CMD...  start a server in P's namespace
#                                (ADDR PORT document the call; CMD has them)
#   ipsec_stop_server NAME       stop it (SIGTERM, bounded, then SIGKILL)

IPSEC_NET=10.99.9
IPSEC_ADDR_a=$IPSEC_NET.1
IPSEC_ADDR_b=$IPSEC_NET.2
IPSEC_INNER=10.99.109
IPSEC_CHARON=${IPSEC_CHARON:-/usr/lib/ipsec/charon}
IPSEC_DIR=$T/ipsec
# Unique per test process: tests may run side by side.
IPSEC_NS_a=pkl9-$$-a
IPSEC_NS_b=pkl9-$$-b
IPSEC_KERNEL=

# Echoes "netns" when ESP states can be added in this kernel, else "libipsec".
ipsec_probe_kernel() {
  _xns=pkl9-$$-probe
  ip netns add "$_xns" 2>/dev/null || { echo none; return; }
  if ip netns exec "$_xns" ip xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp \
      spi 0x1000 mode tunnel enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff \
      auth 'hmac(sha256)' 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
      >/dev/null 2>&1; then echo netlink; else echo libipsec; fi
  ip netns del "$_xns" 2>/dev/null
}

ipsec_cleanup() {
  for _xpf in "$IPSEC_DIR"/*.pid; do
    [ -f "$_xpf" ] || continue
    _xp=$(cat "$_xpf")
    kill "$_xp" 2>/dev/null
    until_ok sh -c '! kill -0 "$1" 2>/dev/null' _ "$_xp" >/dev/null
    kill -9 "$_xp" 2>/dev/null
    rm -f "$_xpf"
  done
  # Anything else still living in our namespaces (a server whose pid file was
  # lost) is ours too: `ip netns pids` names exactly those processes.
  for _xns in "$IPSEC_NS_a" "$IPSEC_NS_b"; do
    _xpids=$(ip netns pids "$_xns" 2>/dev/null)
    [ -n "$_xpids" ] || continue
    # shellcheck disable=SC2086
    kill $_xpids 2>/dev/null; sleep 0.5
    _xpids=$(ip netns pids "$_xns" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$_xpids" ] && kill -9 $_xpids 2>/dev/null
  done
  ip netns del "$IPSEC_NS_a" 2>/dev/null
  ip netns del "$IPSEC_NS_b" 2>/dev/null
  return 0
}

ipsec_init() {
  [ "$(id -u)" = 0 ] || skip_all "IKEv2 tests need root (network namespaces)"
  command -v ip >/dev/null || skip_all "iproute2 (ip) is not installed"
  [ -x "$IPSEC_CHARON" ] || skip_all "strongSwan charon is not installed ($IPSEC_CHARON)"
  command -v swanctl >/dev/null || skip_all "swanctl is not installed"
  command -v unshare >/dev/null || skip_all "unshare (util-linux) is not installed"
  IPSEC_KERNEL=$(ipsec_probe_kernel)
  [ "$IPSEC_KERNEL" != none ] || skip_all "network namespaces are not available (ip netns add failed)"
  if [ "$IPSEC_KERNEL" = libipsec ] && [ ! -c /dev/net/tun ]; then
    skip_all "kernel has no XFRM states and /dev/net/tun is missing for kernel-libipsec"
  fi
  echo "# ESP backend: $IPSEC_KERNEL; lab keys: $(ipsec_has_ecdsa && echo 'ECDSA (template defaults)' || echo 'RSA 2048 (charon has no openssl plugin for ECDSA)')"
  mkdir -p "$IPSEC_DIR"
  at_exit ipsec_cleanup
  # Namespaces and daemons outlive a test killed by a signal unless the EXIT
  # trap runs: turn HUP and PIPE (output piped to head) into an exit too.
  trap 'exit 129' HUP
  trap 'exit 141' PIPE
  ip netns add "$IPSEC_NS_a" || skip_all "ip netns add failed"
  ip netns add "$IPSEC_NS_b" || skip_all "ip netns add failed"
  ip link add pkla netns "$IPSEC_NS_a" type veth peer name pklb netns "$IPSEC_NS_b" ||
    skip_all "cannot create a veth pair"
  for _xp in a b; do
    eval "_xns=\$IPSEC_NS_$_xp _xad=\$IPSEC_ADDR_$_xp"
    ip -n "$_xns" link set lo up
    # The tunnel's inner address (traffic selector): kernel-libipsec routes it
    # into its TUN device with this source, which must be a local address.
    ip -n "$_xns" addr add "$IPSEC_INNER.$([ "$_xp" = a ] && echo 1 || echo 2)/32" dev lo
    ip -n "$_xns" addr add "$_xad/24" dev "pkl$_xp"
    ip -n "$_xns" link set "pkl$_xp" up
  done
  # The other side's inner address is reached over the veth: with kernel
  # XFRM the policy then encrypts it; with kernel-libipsec charon's own route
  # into its TUN device (table 220, consulted first) takes precedence.
  ip -n "$IPSEC_NS_a" route add "$IPSEC_INNER.2/32" dev pkla src "$IPSEC_INNER.1"
  ip -n "$IPSEC_NS_b" route add "$IPSEC_INNER.1/32" dev pklb src "$IPSEC_INNER.2"
  # veth links come up asynchronously; IKE must not race them.
  until_ok ipsec_veth_up && return 0
  echo "# warning: the veth pair is not up after $PKL_WAIT s"
}
ipsec_veth_up() {
  ip -n "$IPSEC_NS_a" link show pkla | grep -q LOWER_UP &&
    ip -n "$IPSEC_NS_b" link show pklb | grep -q LOWER_UP
}

# Runs a command inside peer P's namespace.
ipsec_exec() { _xp=$1; shift; eval "_xns=\$IPSEC_NS_$_xp"; ip netns exec "$_xns" "$@"; }

ipsec_plugins() {
  # kernel-libipsec must come before kernel-netlink: the first plugin to
  # register the kernel-ipsec interface owns ESP, netlink keeps addresses/routes.
  _xpl="random nonce x509 revocation constraints pubkey pkcs1 pkcs8 pem gmp curve25519 mgf1 sha1 sha2 hmac aes kdf curl vici"
  ipsec_has_ecdsa && _xpl="$_xpl openssl"
  [ "$IPSEC_KERNEL" = libipsec ] && _xpl="$_xpl kernel-libipsec"
  _xpl="$_xpl kernel-netlink socket-default"
  echo "$_xpl"
}

# swanctl parses certificates and keys itself before handing them to charon.
ipsec_swanctl_plugins() {
  _xpl="random nonce pem pkcs1 pkcs8 x509 gmp curve25519 sha1 sha2"
  ipsec_has_ecdsa && _xpl="$_xpl openssl"
  echo "$_xpl"
}

# Writes peer P's strongswan.conf and swanctl tree.
#   ipsec_peer P IDENTITY CERT.pem KEY.pem CACERT.pem...
ipsec_peer() {
  _xp=$1 _xid=$2 _xcert=$3 _xkey=$4; shift 4
  _xd=$IPSEC_DIR/$_xp
  mkdir -p "$_xd/swanctl/x509" "$_xd/swanctl/x509ca" "$_xd/swanctl/private" "$_xd/run"
  rm -f "$_xd/swanctl/x509/"* "$_xd/swanctl/x509ca/"* "$_xd/swanctl/private/"*
  cp "$_xcert" "$_xd/swanctl/x509/peer.pem"
  cp "$_xkey" "$_xd/swanctl/private/peer.pem"
  _xi=0
  for _xca in "$@"; do _xi=$((_xi + 1)); cp "$_xca" "$_xd/swanctl/x509ca/ca$_xi.pem"; done
  eval "_xme=\$IPSEC_ADDR_$_xp"
  if [ "$_xp" = a ]; then _xother=$IPSEC_ADDR_b _xts=$IPSEC_INNER.1/32 _xrts=$IPSEC_INNER.2/32
  else _xother=$IPSEC_ADDR_a _xts=$IPSEC_INNER.2/32 _xrts=$IPSEC_INNER.1/32; fi
  cat >"$_xd/strongswan.conf" <<EOF
# peer $_xp of a pkilab IKEv2 test: private everything.
charon {
  load_modular = no
  load = $(ipsec_plugins)
  port = 500
  port_nat_t = 4500
  install_routes = no
  install_virtual_ip = no
  # IKE retransmissions (strongSwan docs, "Retransmission"): 2 s, then x1.8
  # each time, 4 times: a peer gives up after about 45 s. A busy responder
  # (it fetches CRLs inside IKE_AUTH) must not look like a lost packet.
  retransmit_tries = 4
  retransmit_timeout = 2.0
  plugins {
    vici { socket = unix://$_xd/charon.vici }
    revocation { enable_ocsp = no }
    curl { timeout = 10 }
  }
  filelog {
    peer {
      path = $_xd/charon.log
      time_format = %T
      ike_name = yes
      flush_line = yes
      default = 1
      cfg = 2
      ike = 2
      lib = 2
      net = 1
      enc = 0
    }
  }
  syslog { daemon { default = -1 } auth { default = -1 } }
}
swanctl {
  socket = unix://$_xd/charon.vici
  load = $(ipsec_swanctl_plugins)
}
EOF
  if [ "$_xp" = a ]; then _xremote_id=$IPSEC_REMOTE_ID _xrauth="remote_addrs = $_xother"
  else _xremote_id=%any _xrauth=""; fi
  # shellcheck disable=SC2154 # _xme is assigned by the eval at the top of this function
  cat >"$_xd/swanctl/swanctl.conf" <<EOF
connections {
  lab {
    version = 2
    local_addrs = $_xme
    $_xrauth
    proposals = aes128-sha256-x25519,aes128-sha256-modp2048
    local {
      auth = pubkey
      certs = peer.pem
      id = "$_xid"
    }
    remote {
      auth = pubkey
      id = "$_xremote_id"
      revocation = strict
    }
    children {
      net {
        local_ts = $_xts
        remote_ts = $_xrts
        esp_proposals = aes128-sha256
        mode = tunnel
        start_action = none
      }
    }
  }
}
EOF
}

ipsec_swanctl() { _xp=$1; shift; _xd=$IPSEC_DIR/$_xp
  STRONGSWAN_CONF=$_xd/strongswan.conf SWANCTL_DIR=$_xd/swanctl \
    timeout 90 swanctl "$@" --uri "unix://$_xd/charon.vici"; }

# Starts peer P's charon (bounded) and loads its configuration.
ipsec_start() {
  _xp=$1 _xd=$IPSEC_DIR/$1
  eval "_xns=\$IPSEC_NS_$_xp"
  : >"$_xd/charon.log"
  # A private /run: charon's pid file is /var/run/charon.pid, fixed at build time.
  ip netns exec "$_xns" unshare -m --propagation private sh -c \
    'mount -t tmpfs pkl9run /run && exec env STRONGSWAN_CONF="$1" "$2"' \
    sh "$_xd/strongswan.conf" "$IPSEC_CHARON" >"$_xd/charon.stdout" 2>&1 &
  echo $! >"$IPSEC_DIR/charon-$_xp.pid"
  if ! until_ok ipsec_vici_up "$_xp"; then
    echo "# charon of $_xp did not answer on its vici socket within $PKL_WAIT s:"
    tail -n 15 "$_xd/charon.stdout" "$_xd/charon.log" 2>/dev/null | sed 's/^/#   /'
    return 1
  fi
  ipsec_swanctl "$_xp" --load-all --noprompt >"$_xd/load.out" 2>&1 ||
    { echo "# swanctl --load-all failed for $_xp:"; sed 's/^/#   /' "$_xd/load.out"; return 1; }
}

ipsec_vici_up() { [ -S "$IPSEC_DIR/$1/charon.vici" ] && ipsec_swanctl "$1" --stats; }

# Stops peer P's charon (SIGTERM, bounded, then SIGKILL).
ipsec_stop() { ipsec_stop_server "charon-$1"; rm -f "$IPSEC_DIR/$1/charon.vici"; }

ipsec_mark() { for _xp in a b; do
  eval "IPSEC_MARK_$_xp=$(cat "$IPSEC_DIR/$_xp/charon.log" 2>/dev/null | wc -l)"; done; }

# After a failed set-up every later check would fail for the same reason:
# stop there (finish reports the failures so far and exits non-zero).
# The start most IKEv2 tests share: CDP 1 and CDP 2 serving, both charons
# up with the given gateway and client identities (stops the test if not).
ipsec_start_all() { # gw client
  check "CDP 1 up" ipsec_cdp_start 1
  check "CDP 2 up" ipsec_cdp_start 2
  check "both charons start" ipsec_setup "$1" "$2"
  ipsec_need_up
}
ipsec_need_up() {
  for _xp in a b; do
    ipsec_swanctl "$_xp" --stats >/dev/null 2>&1 && continue
    echo "# charon $_xp is not running: the remaining checks cannot run"
    finish; exit 1
  done
}
# shellcheck disable=SC2154 # _xm is assigned by the eval
ipsec_log() { eval "_xm=\${IPSEC_MARK_$1:-0}"; tail -n "+$((_xm + 1))" "$IPSEC_DIR/$1/charon.log"; }

# Forgets every SA and every cached CRL (charon keeps fetched CRLs in memory).
ipsec_flush() {
  for _xp in a b; do
    ipsec_swanctl "$_xp" --terminate --ike lab --force --timeout 5 >/dev/null 2>&1
    ipsec_swanctl "$_xp" --flush-certs --type x509_crl >/dev/null 2>&1
  done
  until_ok ipsec_no_sas
  return 0
}
ipsec_no_sas() { [ -z "$(ipsec_swanctl a --list-sas 2>/dev/null)" ] && [ -z "$(ipsec_swanctl b --list-sas 2>/dev/null)" ]; }

ipsec_connect() {
  ipsec_swanctl a --initiate --child net --timeout 60 >"$IPSEC_DIR/initiate.out" 2>&1
  # shellcheck disable=SC2034 # IPSEC_RC is read by the tests that source this file
  IPSEC_RC=$?
}

# True when peer P lists CHILD_SA "net" as INSTALLED (polled, bounded by PKL_WAIT).
ipsec_child_installed() { ipsec_swanctl "$1" --list-sas 2>/dev/null | grep -Eq '^ +net: #[0-9]+, reqid [0-9]+, INSTALLED'; }
ipsec_child_up() {
  until_ok ipsec_child_installed "$1" && return 0
  echo "no INSTALLED CHILD_SA on $1:"; ipsec_swanctl "$1" --list-sas 2>&1 | head -20
  return 1
}

# True when peer P has no IKE SA at all (after a failed authentication).
ipsec_no_sa() {
  _xo=$(ipsec_swanctl "$1" --list-sas 2>&1)
  if printf '%s' "$_xo" | grep -q ESTABLISHED; then echo "$_xo"; return 1; fi
  return 0
}

ipsec_serve() { # name peer addr port cmd...
  _xn=$1 _xp=$2; shift 4
  # Already running: keep it (a second one could not bind, and its pid file
  # would hide the first from ipsec_stop_server).
  [ -f "$IPSEC_DIR/$_xn.pid" ] && kill -0 "$(cat "$IPSEC_DIR/$_xn.pid")" 2>/dev/null && return 0
  eval "_xns=\$IPSEC_NS_$_xp"
  ip netns exec "$_xns" "$@" >"$IPSEC_DIR/$_xn.log" 2>&1 &
  echo $! >"$IPSEC_DIR/$_xn.pid"
}
ipsec_stop_server() {
  _xpf=$IPSEC_DIR/$1.pid; [ -f "$_xpf" ] || return 0
  _xpid=$(cat "$_xpf"); kill "$_xpid" 2>/dev/null
  until_ok sh -c '! kill -0 "$1" 2>/dev/null' _ "$_xpid" >/dev/null
  kill -9 "$_xpid" 2>/dev/null; wait "$_xpid" 2>/dev/null; rm -f "$_xpf"
}
ipsec_wait_http() { # peer url
  until_ok ipsec_exec "$1" curl -s -o /dev/null --max-time 5 "$2"; }

# ---------------------------------------------------------------------------
# The certificates: where they come from is this one section. The default is
# pkilab itself (`pkilab build`, `revoke`, `crl`); IPSEC_CERTS=pki makes the
# same layout with strongSwan's pki tool, to debug the harness apart from pkilab.
# Either way the PKI directory $IPSEC_PKI has pkilab's layout: certs/<name>.pem,
# private/<name>.key, publish/crl/<ca>.crl, publish/aia/<ca>.crt.
IPSEC_CERTS=${IPSEC_CERTS:-pkilab}
IPSEC_PKI=$T/ipsec-lab/pki
IPSEC_CDP1=http://$IPSEC_ADDR_a:8081
IPSEC_CDP2=http://$IPSEC_ADDR_b:8081

# charon verifies ECDSA only through the openssl plugin (Debian's
# libstrongswan-standard-plugins); without it the lab is RSA throughout.
# IPSEC_ECDSA=0 forces the RSA lab (and no openssl plugin) where it is installed.
ipsec_has_ecdsa() { [ "${IPSEC_ECDSA:-auto}" != 0 ] && [ -f /usr/lib/ipsec/plugins/libstrongswan-openssl.so ]; }
ipsec_key() { if ipsec_has_ecdsa; then echo "$1"; else echo "rsa:2048"; fi; }

# Writes the lab file: root -> vpn-ca -> gateway "gw" and client "alice", CDP
# bases on the two peers' addresses (reachable from both namespaces).
# "rras": examples/windows-rras.cfg itself, its CDP bases moved to the peers.
ipsec_lab_file() {
  _xf=$T/ipsec-lab/lab.cfg
  mkdir -p "$T/ipsec-lab"
  if [ "${1:-}" = rras ]; then
    sed -e "s|^\( *cdp *= *\)\[.*\];|\1[ \"$IPSEC_CDP1\", \"$IPSEC_CDP2\" ];|" \
        -e 's|^\( *pki *= *\)".*";|\1"pki";|' "$TOP/examples/windows-rras.cfg" >"$_xf"
    grep -q "$IPSEC_CDP1" "$_xf" || { echo "cannot rewrite the cdp line of windows-rras.cfg" >&2; return 1; }
    return 0
  fi
  cat >"$_xf" <<EOF
# The IKEv2 test lab (tests/lib-ipsec.sh): CDPs on the peers' veth addresses.
lab = {
  name = "ipsec-test";
  pki = "pki";
  cdp = [ "$IPSEC_CDP1", "$IPSEC_CDP2" ];
  cdp_layout = "${IPSEC_LAYOUT:-one-point}";
};
cas = (
  { name = "root"; template = "root-ca"; key = "$(ipsec_key ec:P-384)";
    subject = "C=CH, O=pkilab Test, CN=pkilab IKEv2 Test Root CA"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; key = "$(ipsec_key ec:P-384)";
    subject = "C=CH, O=pkilab Test, CN=pkilab IKEv2 Test VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; key = "$(ipsec_key ec:P-256)";
    subject = "CN=gw.ipsec.test"; san = [ "gw.ipsec.test", "$IPSEC_ADDR_b" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; key = "$(ipsec_key ec:P-256)";
    subject = "CN=alice.ipsec.test"; san = [ "alice.ipsec.test" ]; }
);
EOF
}

# Builds the lab into $IPSEC_PKI (a fresh one: any earlier PKI is removed).
# IPSEC_LAYOUT=point-per-uri: one DistributionPoint per CDP base.
ipsec_lab() {
  rm -rf "$IPSEC_PKI"
  ipsec_lab_file "${1:-}" || return 1
  if [ "$IPSEC_CERTS" = pki ]; then ipsec_pki_build "${1:-}"; return; fi
  "$PKILAB" build "$T/ipsec-lab/lab.cfg" --pki "$IPSEC_PKI" >"$T/ipsec-lab/build.out" 2>&1 ||
    { echo "# pkilab build failed:"; sed 's/^/#   /' "$T/ipsec-lab/build.out"; return 1; }
}

# Revokes NAME (extra arguments go to pkilab revoke) and republishes every CRL.
ipsec_revoke() {
  if [ "$IPSEC_CERTS" = pki ]; then ipsec_pki_revoke "$1"; return; fi
  "$PKILAB" revoke "$@" --reason keyCompromise --pki "$IPSEC_PKI" &&
    "$PKILAB" crl --pki "$IPSEC_PKI"
}

# The same layout made with strongSwan's pki (debugging only; RSA).
ipsec_pki_build() {
  _xk=$IPSEC_PKI/private _xc=$IPSEC_PKI/certs
  mkdir -p "$_xk" "$_xc" "$IPSEC_PKI/publish/crl" "$IPSEC_PKI/publish/aia"
  chmod 700 "$_xk"
  if [ "${1:-}" = rras ]; then _xgw=rras _xgwdn="CN=vpn.example.test" _xgwsan="--san vpn.example.test"
    _xcl=client1 _xcldn="CN=client1.corp.example.test" _xclsan="--san client1.corp.example.test"
  else _xgw=gw _xgwdn="CN=gw.ipsec.test" _xgwsan="--san gw.ipsec.test --san $IPSEC_ADDR_b"
    _xcl=alice _xcldn="CN=alice.ipsec.test" _xclsan="--san alice.ipsec.test"; fi
  for _xn in root vpn-ca $_xgw $_xcl; do
    pki --gen --type rsa --size 2048 --outform pem >"$_xk/$_xn.key" 2>/dev/null || return 1
  done
  pki --self --in "$_xk/root.key" --dn "CN=pki Test Root" --ca --outform pem >"$_xc/root.pem" 2>/dev/null
  # shellcheck disable=SC2046
  pki --pub --in "$_xk/vpn-ca.key" 2>/dev/null | pki --issue --cacert "$_xc/root.pem" --cakey "$_xk/root.key" \
    --dn "CN=pki Test VPN CA" --ca --pathlen 0 $(ipsec_pki_cdp root) --outform pem >"$_xc/vpn-ca.pem" 2>/dev/null
  # shellcheck disable=SC2086,SC2046
  pki --pub --in "$_xk/$_xgw.key" 2>/dev/null | pki --issue --cacert "$_xc/vpn-ca.pem" --cakey "$_xk/vpn-ca.key" \
    --dn "$_xgwdn" $_xgwsan --flag serverAuth --flag ikeIntermediate $(ipsec_pki_cdp vpn-ca) --outform pem >"$_xc/$_xgw.pem" 2>/dev/null
  # shellcheck disable=SC2086,SC2046
  pki --pub --in "$_xk/$_xcl.key" 2>/dev/null | pki --issue --cacert "$_xc/vpn-ca.pem" --cakey "$_xk/vpn-ca.key" \
    --dn "$_xcldn" $_xclsan --flag clientAuth $(ipsec_pki_cdp vpn-ca) --outform pem >"$_xc/$_xcl.pem" 2>/dev/null
  : >"$IPSEC_PKI/revoked"
  ipsec_pki_crls
}
ipsec_pki_cdp() { echo "--crl $IPSEC_CDP1/crl/$1.crl --crl $IPSEC_CDP2/crl/$1.crl"; }
ipsec_pki_crls() {
  for _xca in root vpn-ca; do
    _xargs=""
    for _xr in $(cat "$IPSEC_PKI/revoked"); do
      [ "$_xca" = vpn-ca ] && _xargs="$_xargs --cert $IPSEC_PKI/certs/$_xr.pem"
    done
    # shellcheck disable=SC2086
    pki --signcrl --cacert "$IPSEC_PKI/certs/$_xca.pem" --cakey "$IPSEC_PKI/private/$_xca.key" \
      --lifetime 7 --reason key-compromise $_xargs --outform der >"$IPSEC_PKI/publish/crl/$_xca.crl.tmp" 2>/dev/null &&
      mv "$IPSEC_PKI/publish/crl/$_xca.crl.tmp" "$IPSEC_PKI/publish/crl/$_xca.crl"
    openssl x509 -in "$IPSEC_PKI/certs/$_xca.pem" -outform DER -out "$IPSEC_PKI/publish/aia/$_xca.crt"
  done
}
ipsec_pki_revoke() { echo "$1" >>"$IPSEC_PKI/revoked"; ipsec_pki_crls; }

# ---------------------------------------------------------------------------
# CDP servers: pkilab-cdpd (IPSEC_CDP=python: python3 -m http.server, to debug
# the harness apart from pkilab-cdpd). Both serve $IPSEC_PKI/publish directly,
# instance 1 on a's address, instance 2 on b's: each is reachable from both
# namespaces over the veth pair.
IPSEC_CDP=${IPSEC_CDP:-cdpd}
ipsec_cdp_start() {
  if [ "$1" = 1 ]; then _xcp=a _xad=$IPSEC_ADDR_a; else _xcp=b _xad=$IPSEC_ADDR_b; fi
  if [ "$IPSEC_CDP" = python ]; then
    ipsec_serve "cdp$1" "$_xcp" x x python3 -m http.server -b "$_xad" -d "$IPSEC_PKI/publish" 8081
  else
    ipsec_serve "cdp$1" "$_xcp" x x "$CDPD" --publish "$IPSEC_PKI/publish" --listen "$_xad:8081"
  fi
  ipsec_wait_http a "http://$_xad:8081/crl/root.crl" ||
    { echo "# CDP $1 ($IPSEC_CDP) did not answer on $_xad:8081 within $PKL_WAIT s:"; sed 's/^/#   /' "$IPSEC_DIR/cdp$1.log" | tail -5; return 1; }
}
ipsec_cdp_stop() { ipsec_stop_server "cdp$1"; }

# Tells the running CDPs about new files (SIGHUP; they also watch the
# directory) and waits, bounded, until each serves exactly what publish/ holds.
ipsec_cdp_sync() {
  for _xci in 1 2; do
    _xpf=$IPSEC_DIR/cdp$_xci.pid; [ -f "$_xpf" ] || continue
    [ "$IPSEC_CDP" = python ] || kill -HUP "$(cat "$_xpf")" 2>/dev/null
    if [ "$_xci" = 1 ]; then _xu=$IPSEC_CDP1; else _xu=$IPSEC_CDP2; fi
    for _xca in "$IPSEC_PKI"/publish/crl/*.crl; do
      until_ok ipsec_cdp_serves "$_xu" "$_xca" ||
        { echo "# CDP $_xci does not serve the new $(basename "$_xca") after $PKL_WAIT s"; return 1; }
    done
  done
}

ipsec_cdp_serves() { # base-url crl-file: one try, from a's namespace
  ipsec_exec a curl -s --max-time 5 -o "$IPSEC_DIR/sync.crl" "$1/crl/$(basename "$2")" &&
    cmp -s "$IPSEC_DIR/sync.crl" "$2"
}

# Peers from the PKI: b is the gateway GW (responder), a the client CLIENT.
# Their IKE identities are the first dNSName of their certificates.
ipsec_san_dns() { openssl x509 -in "$1" -noout -ext subjectAltName | grep -o 'DNS:[^,]*' | head -1 | cut -d: -f2; }
ipsec_setup() {
  _xgw=$1 _xcl=$2 _xc=$IPSEC_PKI/certs
  IPSEC_GW_ID=$(ipsec_san_dns "$_xc/$_xgw.pem") IPSEC_CL_ID=$(ipsec_san_dns "$_xc/$_xcl.pem")
  IPSEC_REMOTE_ID=$IPSEC_GW_ID
  ipsec_peer a "$IPSEC_CL_ID" "$_xc/$_xcl.pem" "$IPSEC_PKI/private/$_xcl.key" "$_xc/root.pem" "$_xc/vpn-ca.pem" &&
  ipsec_peer b "$IPSEC_GW_ID" "$_xc/$_xgw.pem" "$IPSEC_PKI/private/$_xgw.key" "$_xc/root.pem" "$_xc/vpn-ca.pem" &&
  ipsec_start a && ipsec_start b
}

# Traffic through the tunnel: an HTTP request from a's inner address to a
# server on b's inner address, carried by ESP (kernel or libipsec).
ipsec_traffic() {
  if [ ! -f "$IPSEC_DIR/inner.pid" ]; then
    mkdir -p "$IPSEC_DIR/www"; echo "through the tunnel" >"$IPSEC_DIR/www/hello.txt"
    ipsec_serve inner b x x python3 -m http.server -b "$IPSEC_INNER.2" -d "$IPSEC_DIR/www" 8090
    until_ok ipsec_exec b curl -s -o /dev/null --max-time 5 "http://$IPSEC_INNER.2:8090/"
  fi
  _xo=$(ipsec_exec a curl -s --max-time 20 --interface "$IPSEC_INNER.1" "http://$IPSEC_INNER.2:8090/hello.txt")
  [ "$_xo" = "through the tunnel" ] || { echo "no answer through the tunnel (got '$_xo')"; return 1; }
  # ESP counters prove the bytes went through the CHILD_SA, not around it.
  ipsec_swanctl b --list-sas | grep -Eq ' in  [0-9a-f]+, +[1-9][0-9]* bytes' ||
    { echo "CHILD_SA on b counted no inbound ESP bytes:"; ipsec_swanctl b --list-sas; return 1; }
}
