#!/bin/sh
# t3002-revoke-errors: bad input to `pkilab revoke` is one line on stderr,
# exit status 2, and no change on disk (reasons by RFC 5280 name, no unspecified, no 7, certificateHold with a
# warning, revoking twice is an error and not a second entry).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
before=$(tree_sum "$PKI")
bad() { # description, expected message part, args...
  _d=$1 _m=$2; shift 2
  expect_rc 2 "$_d: exit 2" "$PKILAB" --pki "$PKI" revoke "$@"
  check "$_d: one line 'pkilab: error: ...' naming the problem" sh -c '
    [ -z "$1" ] && [ "$(printf "%s\n" "$2" | wc -l)" -eq 1 ] && case "$2" in "pkilab: error: "*"$3"*) exit 0 ;; esac
    echo "stdout: $1"; echo "stderr: $2"; exit 1' _ "$OUT" "$ERR" "$_m"
  _now=$(tree_sum "$PKI")
  check "$_d: PKI unchanged" [ "$_now" = "$before" ]
}

bad "unknown reason" "unknown reason 'keyCompromized' (did you mean 'keyCompromise'?)" alice --reason keyCompromized
bad "reason unspecified (RFC 5280 §5.3.1: omit it instead)" "'unspecified' is not used" alice --reason unspecified
bad "reason code 7" "code 7 is unassigned" alice --reason 7
bad "reason removeFromCRL (delta CRLs only)" "removeFromCRL" alice --reason removeFromCRL
bad "serial in bad syntax (0x + non-hex)" "malformed serial '0xZZ12'" 0xZZ12
bad "serial in bad syntax (colons + non-hex)" "malformed serial 'ab:cd:zz'" ab:cd:zz
bad "a name with a slash" "malformed name or serial" ../alice
bad "unknown name" "unknown certificate 'carol'" carol
bad "unknown serial" "unknown certificate '0x0123456789abcdef'" 0x0123456789abcdef
bad "a CA through the leaf command (no --ca-cert)" "'vpn-ca' is a CA certificate" vpn-ca
bad "the self-signed root" "'root' is a self-signed root" root --ca-cert
bad "invalidity date after the revocation" "invalidity date" alice --invalidity-date +1d
bad "invalidity date in bad syntax" "--invalidity-date" alice --invalidity-date yesterday
bad "two certificates at once" "one certificate at a time" alice bob
bad "unknown option" "unknown option '--reasn' (did you mean '--reason'?)" alice --reasn keyCompromise
expect_rc 2 "revoke without a name: exit 2" "$PKILAB" --pki "$PKI" revoke
check "revoke without a name: usage error" contains "$ERR" "which certificate"

# Success, then revoking twice.
expect_rc 0 "revoke alice --reason keyCompromise" "$PKILAB" --pki "$PKI" revoke alice --reason keyCompromise
after1=$(tree_sum "$PKI")
rows() { sqlite3 "$PKI/pkilab.db" "SELECT count(*) FROM certs WHERE name='alice' AND status=1"; }
check "exactly one revoked row for alice" [ "$(rows)" = 1 ]
expect_rc 2 "revoking alice again: exit 2" "$PKILAB" --pki "$PKI" revoke alice --reason superseded
check "the second attempt says since when and why" contains "$ERR" "already revoked since"
check "and names the first reason" contains "$ERR" "(keyCompromise)"
check "still exactly one revoked row, reason unchanged (keyCompromise = 1)" \
  [ "$(sqlite3 "$PKI/pkilab.db" "SELECT count(*) || ':' || max(reason) FROM certs WHERE name='alice' AND status=1")" = "1:1" ]
check "exactly one revoke event for alice" [ "$(sqlite3 "$PKI/pkilab.db" "SELECT count(*) FROM events WHERE kind='revoke' AND subject='alice'")" = 1 ]
check "PKI files unchanged by the refused attempt" [ "$(tree_sum "$PKI")" = "$after1" ]

# certificateHold: accepted, with the strongSwan warning.
expect_rc 0 "certificateHold is accepted" "$PKILAB" --pki "$PKI" revoke bob --reason certificateHold
check "with a warning that strongSwan treats it as revoked (RFC 5280 §5.3.1; strongSwan swanctl.conf revocation)" contains "$ERR" "strongSwan treats a certificate on hold as revoked"
expect_rc 0 "pkilab crl" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
check "the CRL entry says Certificate Hold" contains "$(openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -text)" "Certificate Hold"
# --json output
expect_rc 0 "revoke gw --json" "$PKILAB" --pki "$PKI" --json revoke gw --reason cessationOfOperation
check "--json prints the revocation as JSON" sh -c 'echo "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"name\"]==\"gw\" and d[\"reason\"]==\"cessationOfOperation\""' _ "$OUT"
# Reasons are case-insensitive names, every RFC 5280 one but 0 and 7 (and 8).
for r in keyCompromise cACompromise affiliationChanged superseded cessationOfOperation privilegeWithdrawn aACompromise; do
  "$PKILAB" --pki "$PKI" issue --ca vpn-ca --template ipsec-client --name "c-$r" --subject "CN=$r.life.test" --san "$r.life.test" >/dev/null 2>&1
  expect_rc 0 "reason $r is accepted" "$PKILAB" --pki "$PKI" revoke "c-$r" --reason "$r"
done
expect_rc 0 "pkilab crl after the seven reasons" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
txt=$(openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -text)
for want in "Key Compromise" "CA Compromise" "Affiliation Changed" "Superseded" "Cessation Of Operation" "Privilege Withdrawn" "AA Compromise"; do
  check "the CRL carries reason '$want'" contains "$txt" "$want"
done
check "no entry says Unspecified" not_contains "$txt" "Unspecified"
finish
