#!/bin/sh
# t3011-revocation-date-stable: a revoked serial has one revocationDate, the
# same in every CRL, in `show --json` and in `list --json`. CRLs are dated
# 5 minutes back (thisUpdate), and revocationDate may not follow thisUpdate
# (RFC 5280 §5.1.2.4, §5.1.2.6): pkilab used to clamp the date of a fresh
# revocation to each CRL's thisUpdate, so the first CRL and the next one
# disagreed and `show` gave a third time. A revocation is now recorded
# back-dated by the same 5 minutes (ca/include/pkilab/crl.h).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }

# The revocationDate of SERIAL (hex, any case) in a DER CRL, as epoch seconds.
crl_rev_date() { # crl serial
  d=$(openssl crl -inform DER -in "$1" -noout -text |
      awk -v s="$(echo "$2" | tr a-f A-F)" '/Serial Number:/ { hit = ($3 == s) } hit && /Revocation Date:/ { sub(/.*Revocation Date: */, ""); print; exit }')
  [ -n "$d" ] && date -u -d "$d" +%s
}
crl=$PKI/publish/crl/vpn-ca.crl

# Each case at its own hour (PKILAB_NOW), later than the CRLs before it.
h=0
for how in "revoke" "renew --revoke-old"; do
  now=+${h}h later=+$((h + 1))h h=$((h + 2))
  case $how in
    revoke) name=alice; serial=$("$PKILAB" --pki "$PKI" show "$name" --json | jq -r .serial)
            expect_rc 0 "revoke $name" env PKILAB_NOW=$now "$PKILAB" -q --pki "$PKI" revoke "$name" --reason keyCompromise ;;
    *) name=gw; serial=$("$PKILAB" --pki "$PKI" show "$name" --json | jq -r .serial)
       expect_rc 0 "renew $name --revoke-old" env PKILAB_NOW=$now "$PKILAB" -q --pki "$PKI" renew "$name" --revoke-old ;;
  esac
  check "$how: the revoked serial is known ($serial)" test -n "$serial"
  expect_rc 0 "$how: a CRL right away" env PKILAB_NOW=$now "$PKILAB" -q --pki "$PKI" crl --ca vpn-ca
  first=$(crl_rev_date "$crl" "$serial")
  expect_rc 0 "$how: the next CRL an hour later" env PKILAB_NOW=$later "$PKILAB" -q --pki "$PKI" crl --ca vpn-ca
  second=$(crl_rev_date "$crl" "$serial")
  check "$how: both CRLs list the serial" test -n "$first" -a -n "$second"
  check "$how: with the same revocationDate ($first, $second)" test "$first" = "$second"
  shown=$("$PKILAB" --pki "$PKI" show "$serial" --json | jq -r .revoked_at)
  check "$how: show gives that date too ($shown)" test "$(date -u -d "$shown" +%s)" = "$first"
  listed=$("$PKILAB" --pki "$PKI" list --all --json | jq -r --arg s "$serial" '.[] | select(.serial == $s) | .revoked_at')
  check "$how: and list --json ($listed)" test "$(date -u -d "$listed" +%s 2>/dev/null)" = "$first"
done
finish
