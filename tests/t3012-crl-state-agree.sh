#!/bin/sh
# t3012-crl-state-agree: one definition of "CRL up to date" (pkilab issue 13;
# ca/include/pkilab/crl_state.h): published, readable, signed by the CA's
# current key, thisUpdate not in the future (RFC 5280 §5.1.2.4), nextUpdate
# not passed (§5.1.2.5), every recorded revocation listed (§3.3), not past
# the re-sign point at half its lifetime (docs/crl-publication.md). For each
# state a small lab (lib-life.sh) is put in it, and show, list --json, graph
# --json, `crl --due`, `expiring` and `doctor --pki --no-fetch` must agree on
# it: show and list name the state with one word, graph names it too and
# colours it, expiring lists it (exit 1) unless fresh, doctor's pki.crl
# finding is ok only when fresh, and `crl --due` re-signs exactly what is not
# fresh, after which every command says fresh. Before, a future-dated CRL
# was "not due" for `crl --due` and absent from expiring, show said "fresh"
# where graph said "revocations not published", and a CRL signed by another
# key was "not due".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

command -v jq >/dev/null || skip_all "jq missing"

# A second lab of the same names: its vpn-ca CRL is signed by another key.
life_lab "$T/other" || { finish; exit 1; }
OTHER_CRL=$T/other/pki/publish/crl/vpn-ca.crl

# Puts the vpn-ca CRL of the lab in $PKI into state $1.
make_state() {
  _crl=$PKI/publish/crl/vpn-ca.crl
  case "$1" in
    fresh | past-re-sign-point | expired) ;; # the clock does it (the `at` column)
    dated-in-the-future) PKILAB_NOW=+1d "$PKILAB" -q --pki "$PKI" crl --ca vpn-ca 2>/dev/null ;;
    missing-revocations) "$PKILAB" -q --pki "$PKI" revoke alice --reason keyCompromise ;;
    missing) rm -f "$_crl" ;;
    unreadable) head -c 100 "$_crl" >"$_crl.tmp" && mv "$_crl.tmp" "$_crl" ;;
    wrong-signer) cp "$OTHER_CRL" "$_crl" ;;
  esac
}

# Runs pkilab at the moment $AT (empty: now); output in $OUT, status in $RC.
at() { if [ -n "$AT" ]; then run env PKILAB_NOW="$AT" "$PKILAB" --pki "$PKI" "$@"; else run "$PKILAB" --pki "$PKI" "$@"; fi; }

# state | at | show/list/graph word | graph colour | doctor --no-fetch severity | crl --due
trim() { printf '%s' "$1" | sed 's/^ *//; s/ *$//'; }
while IFS='|' read -r state AT word colour sev due <&3; do
  state=$(trim "$state") AT=$(trim "$AT") word=$(trim "$word") colour=$(trim "$colour") sev=$(trim "$sev") due=$(trim "$due")
  life_lab "$T/$state" || { finish; exit 1; }
  check "$state: made" make_state "$state"

  at --json show vpn-ca
  got=$(echo "$OUT" | jq -r '.crl.published' 2>/dev/null)
  check "$state: show says '$word' ($got)" [ "$got" = "$word" ]
  at --json list
  got=$(echo "$OUT" | jq -r '.[] | select(.name == "vpn-ca") | .crl.state' 2>/dev/null)
  check "$state: list --json says '$word' ($got)" [ "$got" = "$word" ]
  at graph --json
  got=$(echo "$OUT" | jq -r '.crls[] | select(.ca == "vpn-ca") | "\(.crl_state)|\(.state)"' 2>/dev/null)
  check "$state: graph says '$word', $colour ($got)" [ "$got" = "$word|$colour" ]
  at expiring --days 0 --crl-days 0
  if [ "$word" = fresh ]; then
    check "$state: expiring lists nothing, exit 0 ($RC)" sh -c '[ "$1" = 0 ] && [ -z "$2" ]' _ "$RC" "$OUT"
  else
    check "$state: expiring lists the vpn-ca CRL as '$word', exit 1 ($RC)" \
      sh -c '[ "$1" = 1 ] && printf "%s\n" "$2" | grep -qi "^crl  *vpn-ca .*CRL $3"' _ "$RC" "$OUT" "$word"
  fi
  at --json doctor gw --no-fetch
  got=$(echo "$OUT" | jq -r '[.findings[] | select(.code == "pki.crl" and .subject == "vpn-ca") | .severity] | join(",")' 2>/dev/null)
  check "$state: doctor --pki's pki.crl for vpn-ca is $sev ($got)" [ "$got" = "$sev" ]

  at crl --due --ca vpn-ca
  case "$due" in
    not-due) check "$state: crl --due says not due" sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -q "^vpn-ca: not due"' _ "$RC" "$OUT" ;;
    signs) check "$state: crl --due re-signs it ($RC)" sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -q "^vpn-ca: signed"' _ "$RC" "$OUT" ;;
    clock-behind)
      check "$state: crl --due treats it as due: refused as a clock behind, never 'not due' ($RC)" \
        sh -c '[ "$1" = 2 ] && printf "%s\n" "$2" | grep -q "clock behind the published CRL"' _ "$RC" "$ERR"
      at crl --due --ca vpn-ca --allow-clock-behind
      check "$state: crl --due --allow-clock-behind re-signs it ($RC)" sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -q "^vpn-ca: signed"' _ "$RC" "$OUT" ;;
  esac
  # Re-signed (or left alone): every command says fresh at the same moment.
  at --json show vpn-ca
  got=$(echo "$OUT" | jq -r '.crl.published' 2>/dev/null)
  check "$state: after crl --due, show says fresh ($got)" [ "$got" = fresh ]
  at --json list
  got=$(echo "$OUT" | jq -r '.[] | select(.name == "vpn-ca") | .crl.state' 2>/dev/null)
  check "$state: after crl --due, list --json says fresh ($got)" [ "$got" = fresh ]
  at graph --json
  got=$(echo "$OUT" | jq -r '.crls[] | select(.ca == "vpn-ca") | "\(.crl_state)|\(.state)"' 2>/dev/null)
  check "$state: after crl --due, graph says fresh, ok ($got)" [ "$got" = "fresh|ok" ]
  at expiring --days 0 --crl-days 0
  check "$state: after crl --due, expiring exits 0 ($RC)" [ "$RC" = 0 ]
  at --json doctor gw --no-fetch
  got=$(echo "$OUT" | jq -r '[.findings[] | select(.code == "pki.crl" and .subject == "vpn-ca") | .severity] | join(",")' 2>/dev/null)
  check "$state: after crl --due, doctor's pki.crl is ok ($got)" [ "$got" = ok ]
  at crl --due --ca vpn-ca
  check "$state: and a second crl --due says not due" sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -q "^vpn-ca: not due"' _ "$RC" "$OUT"
done 3<<'EOF'
fresh               |     | fresh               | ok   | ok   | not-due
past-re-sign-point  | +4d | past re-sign point  | warn | warn | signs
expired             | +8d | expired             | bad  | fail | signs
dated-in-the-future |     | dated in the future | bad  | fail | clock-behind
missing-revocations |     | missing revocations | warn | warn | signs
missing             |     | missing             | bad  | fail | signs
unreadable          |     | unreadable          | bad  | fail | signs
wrong-signer        |     | wrong signer        | bad  | fail | signs
EOF
finish
