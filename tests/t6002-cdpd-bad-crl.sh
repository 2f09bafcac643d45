#!/bin/sh
# pkilab-cdpd never serves a bad CRL (docs/crl-publication.md
# "Mirrors serve the same bytes"): a corrupt, truncated, PEM, older, wrongly signed, wrong-issuer or
# expired replacement is refused, the last good CRL stays in service, and
# /healthz (503) and the log say why. A good newer CRL is then taken.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

pub_ca "$T/pub" "$T/root" root || exit 1
mkca "$T/other" other || exit 1
mkcrl "$T/root" 1 "$T/crl1.der" || exit 1
mkcrl "$T/root" 2 "$T/crl2.der" || exit 1
mkcrl "$T/root" 3 "$T/crl3.der" || exit 1
mkcrl "$T/other" 50 "$T/other.der" || exit 1
# An impostor: same subject and same key identifier as root, another key. Its
# CRL passes the name and AKI checks and must fail on the signature alone.
ski=$(openssl x509 -in "$T/root/ca.pem" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :')
mkdir -p "$T/imp/new"; : >"$T/imp/index.txt"; _ca_cnf "$T/imp"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/imp/ca.key" 2>/dev/null
openssl req -new -x509 -key "$T/imp/ca.key" -subj "/O=pkilab test/CN=root" -days 30 \
  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=$ski" -out "$T/imp/ca.pem" || exit 1
mkcrl "$T/imp" 40 "$T/imp.der" || exit 1
# Expired: newer number, made in the past.
if command -v faketime >/dev/null; then
  printf '09\n' >"$T/root/crlnumber"
  faketime '2020-01-01 00:00:00' openssl ca -config "$T/root/ca.cnf" -gencrl -crldays 7 -out "$T/exp.pem" 2>/dev/null &&
    openssl crl -in "$T/exp.pem" -outform DER -out "$T/expired.der"
fi

cp "$T/crl2.der" "$T/pub/crl/root.crl"
P=$(free_port)
B=http://127.0.0.1:$P
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P" --log-level info
hget "$B/healthz"
check "good CRL 2: /healthz 200" test "$CODE" = 200

# Atomic replacement, as any publisher should do it (docs/crl-publication.md).
put() { cp "$1" "$T/pub/crl/.tmp" && mv "$T/pub/crl/.tmp" "$T/pub/crl/root.crl"; }
# Waits (bounded) until /healthz mentions a string.
wait_health() { until_ok health_has "$B" "$1"; }

refused() { # what, file, reason-in-health
  put "$2"
  check "$1: /healthz reports '$3'" wait_health "$3"
  check "$1: /healthz is 503" test "$CODE" = 503
  check "$1: the log reports it" wait_log srv "$3"
  hget "$B/crl/root.crl"
  check "$1: the last good CRL (number 2) is still served" cmp "$T/body" "$T/crl2.der"
  check "$1: and it is still CRL number 2 (openssl)" test "$(openssl crl -inform DER -in "$T/body" -noout -crlnumber)" = "crlNumber=0x02"
}

head -c 700 /dev/urandom >"$T/random.der"
printf '\060\202\001\000garbage' >>"$T/random.der"
refused "corrupt (random bytes)" "$T/random.der" "corrupt DER"
head -c 120 "$T/crl3.der" >"$T/trunc.der"
refused "truncated (120 bytes of CRL 3)" "$T/trunc.der" "truncated DER"
openssl crl -inform DER -in "$T/crl3.der" -outform PEM -out "$T/crl3.pem"
refused "PEM instead of DER" "$T/crl3.pem" "PEM, expected a DER CRL"
: >"$T/empty.der"
refused "empty file" "$T/empty.der" "empty file"
refused "older CRL number 1" "$T/crl1.der" "CRL number 1 is lower than the served 2: rollback refused"
refused "signed by another key (same name and key id)" "$T/imp.der" "bad signature"
refused "issued by another CA" "$T/other.der" "wrong issuer"
{ cat "$T/crl3.der"; printf 'x'; } >"$T/trailing.der"
refused "trailing bytes after the CRL" "$T/trailing.der" "trailing data"
if [ -s "$T/expired.der" ]; then
  refused "newer number but already expired" "$T/expired.der" "expired"
fi

# A CRL nobody trusts is not served.
cp "$T/other.der" "$T/pub/crl/other.crl"
check "CRL without a trusted CA certificate: reported" wait_health "no trusted CA certificate for this CRL"
hget "$B/crl/other.crl"
check "CRL without a trusted CA certificate: 404" test "$CODE" = 404
rm -f "$T/pub/crl/other.crl"

# Deleting the file is not a reason to stop serving.
rm -f "$T/pub/crl/root.crl"
sleep 0.5
hget "$B/crl/root.crl"
check "file deleted: the last good CRL is still served" cmp "$T/body" "$T/crl2.der"

# A good newer CRL replaces it and health recovers.
wait_served() { same_as "$B/crl/root.crl" "$1"; }
put "$T/crl3.der"
check "good CRL 3: served (after the rename)" wait_served "$T/crl3.der"
check "good CRL 3: /healthz back to ok" wait_health '"status": "ok"'
check "good CRL 3: /healthz 200" test "$CODE" = 200
check "good CRL 3: logged as replacing 2" wait_log srv "CRL number 3 replaces 2"

# Health margin: a CRL that expires within the margin makes /healthz fail.
stop_cdpd srv
mkcrl "$T/root" 4 "$T/pub/crl/root.crl" "" 1 || exit 1
P=$(free_port)
B=http://127.0.0.1:$P
serve_cdpd "margin: server answers" srv2 "$B" --publish "$T/pub" --listen "127.0.0.1:$P" --health-margin 2h
hget "$B/healthz"
check "CRL expiring in 1 h with a 2 h margin: /healthz 503" test "$CODE" = 503
check "CRL expiring in 1 h: the reason says so" contains "$(cat "$T/body")" "within the health margin"
hget "$B/crl/root.crl"
check "CRL expiring in 1 h: still served" test "$CODE" = 200
stop_cdpd srv2
finish
