#!/bin/sh
# Real revocation clients get the CRL through the second CDP URL when the
# first one is dead (docs/crl-publication.md):
# certificates list the primary (127.0.0.1) first and a mirror (127.0.0.2)
# second; the primary is killed. NSS `vfychain` (libpkix, its own HTTP
# fetching) and strongSwan `pki --verify --online` (curl plugin) must still
# find a good certificate good and a revoked one revoked. `pki` exits 0 even
# when revocation could not be checked, so its output is parsed. Both CDP
# layouts are covered: two DistributionPoints, and one with two URIs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

command -v vfychain >/dev/null || skip_all "vfychain (libnss3-tools) not installed"
command -v pki >/dev/null || skip_all "pki (strongswan-pki) not installed"
command -v certutil >/dev/null || skip_all "certutil (libnss3-tools) not installed"

P=$(free_port_all)
A=http://127.0.0.1:$P M=http://127.0.0.2:$P
mkdir -p "$T/pub/crl" "$T/pub/aia" "$T/trust"
mkca "$T/root" root || exit 1
cp "$T/root/ca.der" "$T/pub/aia/root.crt"; cp "$T/root/ca.der" "$T/trust/root.crt"
export CDP_URLS="$A/crl/root.crl $M/crl/root.crl"
mkleaf "$T/root" good.example "$T/good.pem" || exit 1
mkleaf "$T/root" revoked.example "$T/revoked.pem" || exit 1
CDP_ONE_POINT=1 mkleaf "$T/root" good1.example "$T/good1.pem" || exit 1
CDP_ONE_POINT=1 mkleaf "$T/root" revoked1.example "$T/revoked1.pem" || exit 1
unset CDP_URLS
revoke_leaf "$T/root" "$T/revoked.pem" && revoke_leaf "$T/root" "$T/revoked1.pem" || exit 1
mkcrl "$T/root" 1 "$T/pub/crl/root.crl" || exit 1
check "fixture: the revoked leaves are on the CRL (openssl)" \
  test "$(openssl crl -inform DER -in "$T/pub/crl/root.crl" -noout -text | grep -c 'Serial Number')" = 2
check "fixture: first CDP URI is the primary" \
  contains "$(openssl x509 -in "$T/good.pem" -noout -ext crlDistributionPoints)" "URI:$A/crl/root.crl"

start_cdpd a --publish "$T/pub" --listen "127.0.0.1:$P"
start_cdpd m --mirror "$A" --trust "$T/trust" --listen "127.0.0.2:$P" --mirror-interval 1s
check "primary answers" wait_http "$A/healthz"
check "mirror has the CRL" same_as "$M/crl/root.crl" "$T/pub/crl/root.crl"
kill_cdpd a
r=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "$A/crl/root.crl")
check "the first CDP URL is dead (connection refused)" test "$r" = 000

mkdir -p "$T/nss"
certutil -N -d "sql:$T/nss" --empty-password >/dev/null 2>&1
vfy() { # leaf -> output in $T/vfy.out, status in $VRC
  timeout 40 vfychain -d "sql:$T/nss" -pp -u 1 -g leaf -m crl -s failIfNoInfo \
    -a "$1" -a -t "$T/root/ca.pem" >"$T/vfy.out" 2>&1
  VRC=$?
}
for leaf in good good1; do
  n0=$(grep -c '"GET /crl/root.crl" 200' "$T/m.log")
  vfy "$T/$leaf.pem"
  check "vfychain ($leaf, requiring revocation info): chain good via the second URL" \
    grep -q "Chain is good" "$T/vfy.out"
  check "vfychain ($leaf): exit status 0" test "$VRC" = 0
  n1=$(grep -c '"GET /crl/root.crl" 200' "$T/m.log")
  check "vfychain ($leaf): the CRL came from the mirror ($n0 -> $n1 fetches)" test "$n1" -gt "$n0"
done
for leaf in revoked revoked1; do
  vfy "$T/$leaf.pem"
  check "vfychain ($leaf): revoked (SEC_ERROR_REVOKED_CERTIFICATE -8180)" grep -q -- "-8180" "$T/vfy.out"
  check "vfychain ($leaf): non-zero exit" test "$VRC" != 0
done

pkiv() { timeout 60 pki --verify --in "$1" --cacert "$T/root/ca.pem" --online >"$T/pki.out" 2>&1; }
for leaf in good good1; do
  pkiv "$T/$leaf.pem"
  check "pki --online ($leaf): fetched from the mirror" grep -q "fetching crl from '$M/crl/root.crl'" "$T/pki.out"
  check "pki --online ($leaf): CRL signature verified" grep -q "crl correctly signed by" "$T/pki.out"
  check "pki --online ($leaf): 'certificate status is good'" grep -q "certificate status is good" "$T/pki.out"
  check "pki --online ($leaf): not revoked" grep -q "certificate not revoked" "$T/pki.out"
done
pkiv "$T/good.pem"
check "pki --online: the dead primary was tried first (two DistributionPoints, docs/crl-publication.md)" \
  grep -q "fetching crl from '$A/crl/root.crl'" "$T/pki.out"
for leaf in revoked revoked1; do
  pkiv "$T/$leaf.pem"
  check "pki --online ($leaf): 'certificate was revoked'" grep -q "certificate was revoked" "$T/pki.out"
done

# Negative control: with every CDP down, the same checks must fail, so the
# passes above really came from the mirror.
stop_cdpd m
vfy "$T/good.pem"
check "control, all CDPs down: vfychain does not call the chain good" test "$VRC" != 0
pkiv "$T/good.pem"
check "control, all CDPs down: pki reports no good status" not_contains "$(cat "$T/pki.out")" "certificate status is good"
check "control, all CDPs down: pki says fetching failed" grep -q "crl fetching failed" "$T/pki.out"
finish
