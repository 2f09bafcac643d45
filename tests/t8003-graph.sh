#!/bin/sh
# pkilab graph: the hierarchy as Graphviz DOT, read back with Graphviz's own
# tools (gvpr queries the parsed graph, dot -Tsvg renders it), so the test
# never trusts our text. States come from the database and publish/ only:
# validity, revocation (and whether the published CRL lists it), CRL health
# (docs/crl-publication.md: re-publish before half the CRL's lifetime).
. "$(dirname "$0")/lib.sh"
command -v dot >/dev/null && command -v gvpr >/dev/null || skip_all "graphviz (dot, gvpr) is not installed"

cat >"$T/lab.cfg" <<'LAB'
lab = { name = "graph"; pki = "pki"; cdp = [ "http://127.0.0.1:1", "http://127.0.0.2:1" ]; };
cas = (
  { name = "root"; template = "root-ca"; subject = "CN=Graph Root"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "O=Quote \"and\" back\\slash, CN=Graph VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.graph.test"; san = [ "gw.graph.test" ]; },
  { name = "alice"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=alice.graph.test"; san = [ "alice.graph.test" ]; },
  { name = "bob"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=bob.graph.test"; san = [ "bob.graph.test" ]; }
);
LAB
P=$T/pki
check "pkilab build" "$PKILAB" build "$T/lab.cfg" --pki "$P"

# "name kind state" per node and "edge TAILNAME/KIND HEADNAME/KIND" per edge, via gvpr.
query() { gvpr 'N[$.pkl_kind != "legend"]{printf("%s %s %s\n", $.pkl_name, $.pkl_kind, $.pkl_state)}
  E[$.tail.pkl_kind != "legend"]{printf("edge %s/%s %s/%s %s\n", $.tail.pkl_name, $.tail.pkl_kind, $.head.pkl_name, $.head.pkl_kind, $.color)}' "$1"; }
label() { gvpr "N[\$.pkl_name == \"$2\" && \$.pkl_kind $3]{print(\$.label)}" "$1"; }
has_line() { printf '%s\n' "$1" | grep -qxF "$2" || { echo "no line '$2' in:"; echo "$1"; return 1; }; }

expect_rc 0 "graph prints DOT" "$PKILAB" graph --pki "$P"
printf '%s\n' "$OUT" >"$T/g.dot"
check "dot -Tsvg accepts it" sh -c "dot -Tsvg '$T/g.dot' >'$T/g.svg' && grep -q '</svg>' '$T/g.svg'"
Q=$(query "$T/g.dot")
check "root node (root, ok)" has_line "$Q" "root root ok"
check "intermediate node (ok)" has_line "$Q" "vpn-ca intermediate ok"
check "leaf nodes (ok)" sh -c 'for n in gw alice bob; do printf "%s\n" "$1" | grep -qx "$n leaf ok" || exit 1; done' x "$Q"
check "a CRL node per CA, healthy" sh -c 'printf "%s\n" "$1" | grep -qx "root crl ok" && printf "%s\n" "$1" | grep -qx "vpn-ca crl ok"' x "$Q"
check "edge root -> vpn-ca" has_line "$Q" "edge root/root vpn-ca/intermediate #555555"
check "edge vpn-ca -> gw" has_line "$Q" "edge vpn-ca/intermediate gw/leaf #555555"
check "edge vpn-ca -> its CRL" sh -c 'printf "%s\n" "$1" | grep -q "^edge vpn-ca/intermediate vpn-ca/crl"' x "$Q"
check "exactly 5 certificates and 2 CRLs" test "$(printf '%s\n' "$Q" | grep -vc '^edge')" = 7
# dot renders the escaped label back to the original text.
check "subject with quotes and a backslash survives (as dot renders it)" \
  sh -c "grep -F 'O=Quote &quot;and&quot; back\\slash' '$T/g.svg'"
check "CRL node names where it is served (CDP bases)" \
  contains "$(label "$T/g.dot" vpn-ca '== "crl"')" "http://127.0.0.2:1/crl/vpn-ca.crl"
check "leaf label has validity dates and days left" \
  sh -c 'printf "%s" "$1" | grep -Eq "[0-9]{4}-[0-9]{2}-[0-9]{2} \.\. [0-9]{4}-[0-9]{2}-[0-9]{2}" && printf "%s" "$1" | grep -q "d left"' \
  x "$(label "$T/g.dot" gw '== "leaf"')"

# Revocation: alice revoked and published, bob revoked but no new CRL yet.
"$PKILAB" revoke alice --reason keyCompromise --pki "$P" >/dev/null 2>&1
"$PKILAB" crl --pki "$P" >/dev/null 2>&1
"$PKILAB" revoke bob --pki "$P" >/dev/null 2>&1
"$PKILAB" graph --pki "$P" >"$T/r.dot"
Q=$(query "$T/r.dot")
check "revoked leaf is red (bad)" has_line "$Q" "alice leaf bad"
check "its edge is red" sh -c 'printf "%s\n" "$1" | grep -q "^edge vpn-ca/intermediate alice/leaf #c62828"' x "$Q"
A=$(label "$T/r.dot" alice '== "leaf"')
check "label says REVOKED with the reason" contains "$A" "REVOKED"
check "and that the published CRL lists it" contains "$A" "listed on the published CRL"
check "keyCompromise named" contains "$A" "keyCompromise"
check "revoked but unpublished: says so" contains "$(label "$T/r.dot" bob '== "leaf"')" "NOT on the published CRL yet"
check "the CA's CRL node counts the published revocation" contains "$(label "$T/r.dot" vpn-ca '== "crl"')" "1 revoked"
check "and is amber: bob's revocation is not on it yet" has_line "$Q" "vpn-ca crl warn"
check "saying so" contains "$(label "$T/r.dot" vpn-ca '== "crl"')" "1 revocation(s) not published yet"
check "gw still ok" has_line "$Q" "gw leaf ok"
# The same model as JSON, read with python's json module.
"$PKILAB" graph --pki "$P" --json >"$T/r.json"
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/r.json" "$1"; }
check "--json: alice revoked and on the published CRL" \
  test "$(jq_ '[(c["state"],c["revoked"],c["on_published_crl"]) for c in d["certificates"] if c["name"]=="alice"][0]')" = "('bad', True, True)"
check "--json: bob revoked, not yet on the CRL" \
  test "$(jq_ '[(c["revoked"],c["on_published_crl"]) for c in d["certificates"] if c["name"]=="bob"][0]')" = "(True, False)"
check "--json: the CA's CRL counts 1 revocation, served at both bases, one pending" \
  test "$(jq_ '[(k["revoked"],len(k["urls"]),k["state"]) for k in d["crls"] if k["ca"]=="vpn-ca"][0]')" = "(1, 2, 'warn')"
check "--json: 5 certificates, 2 CRLs" test "$(jq_ '(len(d["certificates"]),len(d["crls"]))')" = "(5, 2)"
expect_rc 2 "--json with SVG is a usage error" "$PKILAB" graph --pki "$P" --json --format svg

# Time: --at and --margin (no clock games needed).
"$PKILAB" graph --pki "$P" --at +5d >"$T/t5.dot"
check "CRL past half its 7-day lifetime: amber (docs/crl-publication.md)" has_line "$(query "$T/t5.dot")" "vpn-ca crl warn"
check "root CRL (180 d) still healthy at +5d" has_line "$(query "$T/t5.dot")" "root crl ok"
"$PKILAB" graph --pki "$P" --at +10d >"$T/t10.dot"
check "CRL past nextUpdate: red" has_line "$(query "$T/t10.dot")" "vpn-ca crl bad"
check "and its label says EXPIRED" contains "$(label "$T/t10.dot" vpn-ca '== "crl"')" "EXPIRED"
"$PKILAB" graph --pki "$P" --at +500d >"$T/t500.dot"
check "leaf after its notAfter: red" has_line "$(query "$T/t500.dot")" "gw leaf bad"
check "label says EXPIRED" contains "$(label "$T/t500.dot" gw '== "leaf"')" "EXPIRED"
"$PKILAB" graph --pki "$P" --margin 400d >"$T/m.dot"
check "leaf within --margin: amber" has_line "$(query "$T/m.dot")" "gw leaf warn"
"$PKILAB" graph --pki "$P" --at 2000-01-01T00:00:00Z >"$T/past.dot"
check "before notBefore: red, NOT YET VALID" contains "$(label "$T/past.dot" gw '== "leaf"')" "NOT YET VALID"

# CDP health from publish/: a missing and a corrupt CRL.
cp "$P/publish/crl/root.crl" "$T/root.crl.bak"
rm "$P/publish/crl/root.crl"
head -c 100 "$P/publish/crl/vpn-ca.crl" >"$T/trunc" && cp "$T/trunc" "$P/publish/crl/vpn-ca.crl"
"$PKILAB" graph --pki "$P" >"$T/h.dot"
Q=$(query "$T/h.dot")
check "missing CRL: red" has_line "$Q" "root crl bad"
check "missing CRL: says not published" contains "$(label "$T/h.dot" root '== "crl"')" "not published"
check "truncated CRL: red" has_line "$Q" "vpn-ca crl bad"
check "truncated CRL: unreadable" contains "$(label "$T/h.dot" vpn-ca '== "crl"')" "unreadable"
check "still valid DOT (dot -Tsvg)" sh -c "dot -Tsvg '$T/h.dot' >/dev/null"
cp "$T/root.crl.bak" "$P/publish/crl/root.crl"
"$PKILAB" crl --pki "$P" >/dev/null 2>&1

# Files and SVG.
expect_rc 0 "--out FILE.svg renders SVG" "$PKILAB" graph --pki "$P" --out "$T/pic.svg"
check "the SVG is complete" sh -c "head -c 300 '$T/pic.svg' | grep -q '<svg\|<?xml' && grep -q '</svg>' '$T/pic.svg'"
check "the SVG shows the gateway" grep -q 'gw (leaf)' "$T/pic.svg"
expect_rc 0 "--out FILE.dot writes DOT" "$PKILAB" graph --pki "$P" --out "$T/pic.dot"
check "the DOT file parses" sh -c "dot -Tsvg '$T/pic.dot' >/dev/null"
expect_rc 0 "--format svg to stdout" "$PKILAB" graph --pki "$P" --format svg
check "stdout is SVG" contains "$OUT" "</svg>"
expect_rc 0 "--no-legend" "$PKILAB" graph --pki "$P" --no-legend
check "no legend nodes" not_contains "$OUT" "legend"
expect_rc 2 "unknown --format is a usage error" "$PKILAB" graph --pki "$P" --format png
check "one-line error" one_line "$ERR"
expect_rc 2 "bad --at is an input error" "$PKILAB" graph --pki "$P" --at tomorrowish
expect_rc 2 "no PKI is an input error" "$PKILAB" graph --pki "$T/nothing"
mkdir -p "$T/nodot"; ln -s "$(command -v gvpr)" "$T/nodot/gvpr"
expect_rc 3 "SVG without graphviz: runtime failure" env PATH="$T/nodot" "$PKILAB" graph --pki "$P" --out "$T/x.svg"
check "names graphviz and the DOT fallback" contains "$ERR" "graphviz"
check "no partial SVG left" test ! -e "$T/x.svg"

# Renewal history with --all (if renew is in this build).
if "$PKILAB" renew gw --pki "$P" >/dev/null 2>&1; then
  "$PKILAB" graph --pki "$P" --all >"$T/all.dot"
  Q=$(query "$T/all.dot")
  check "--all: the superseded gw is grey (retired)" has_line "$Q" "gw leaf retired"
  check "--all: the new gw is ok" has_line "$Q" "gw leaf ok"
  "$PKILAB" graph --pki "$P" >"$T/cur.dot"
  check "without --all only the current gw" test "$(query "$T/cur.dot" | grep -c '^gw leaf')" = 1
fi
finish
