#!/bin/sh
# scripts/bench/crl.sh — CRL signing at scale: `pkilab crl` against
# `openssl ca -gencrl`, same revoked entries, same run, same machine.
#
# For each N (default 100000 and 1000000): a small ECDSA P-256 lab is built,
# N revoked certificate rows are inserted straight into a scratch copy of its
# database with one sqlite3 statement (no need to issue a million
# certificates), and an index.txt with the same N serials, dates and reasons
# is written by awk. Then both tools sign one CRL each under /usr/bin/time -v:
# wall time, peak RSS, CRL size. Nothing outside a temporary directory is
# touched.
#   BUILD=build sh scripts/bench/crl.sh [N...]
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
PKILAB=$TOP/$BUILD/pkilab
export PKILAB_TEMPLATES="$TOP/templates"
[ -x "$PKILAB" ] || { echo "crl.sh: $PKILAB not built (make BUILD=$BUILD)" >&2; exit 2; }
for t in sqlite3 openssl awk /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "crl.sh: $t is required" >&2; exit 2; }
done
W=$(mktemp -d "${TMPDIR:-/tmp}/pkl-bench-crl.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
[ $# -gt 0 ] || set -- 100000 1000000

cat >"$W/lab.cfg" <<'EOF'
lab = { name = "bench"; pki = "pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "C=CH, O=pkilab bench, CN=Bench Root"; },
  { name = "ca"; template = "intermediate-ca"; issuer = "root"; key = "ec:P-256"; subject = "C=CH, O=pkilab bench, CN=Bench CA"; }
);
EOF
"$PKILAB" build "$W/lab.cfg" >/dev/null || { echo "crl.sh: build failed" >&2; exit 3; }
PKI=$W/pki
CAID=$(sqlite3 "$PKI/pkilab.db" "SELECT cert_id FROM cas WHERE name = 'ca'")
NOW=$(date +%s)
REV=$((NOW - 3600))                     # every entry revoked an hour ago
REV_S=$(date -u -d "@$REV" +%y%m%d%H%M%SZ)
EXP_S=$(date -u -d "@$((NOW + 86400 * 365))" +%y%m%d%H%M%SZ)

# "1h 2m 3.45s" or "0:03.45" (GNU time's elapsed) -> seconds
secs() { awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }'; }
measure() { # label, command... -> "seconds rss_mb" (empty on failure)
  _label=$1; shift
  /usr/bin/time -v "$@" >"$W/out" 2>"$W/time" || { echo "crl.sh: $_label failed:" >&2; head -5 "$W/time" >&2; return 3; }
  s=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$W/time" | secs)
  k=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$W/time")
  echo "$s $((k / 1024))"
}

printf '%-9s %-22s %9s %11s %12s\n' entries tool seconds "peak RSS" "CRL bytes"
for N in "$@"; do
  # --- pkilab: N revoked rows, serials 7000..00x (16 bytes), mixed reasons
  cp "$PKI/pkilab.db" "$W/scratch.db"
  rm -rf "$W/p"; mkdir -p "$W/p"; cp -a "$PKI/." "$W/p/"; cp "$W/scratch.db" "$W/p/pkilab.db"
  sqlite3 "$W/p/pkilab.db" >/dev/null <<EOF
PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $N)
INSERT INTO certs(name, issuer_id, serial, is_ca, current, template, subject, key_spec,
                  not_before, not_after, issued_at, status, revoked_at, reason, invalidity, der)
SELECT 'b' || x, $CAID, printf('7%031x', x), 0, 0, 'ipsec-client', 'CN=b' || x, 'ec:P-256',
       $NOW - 86400, $NOW + 86400 * 365, $NOW - 86400, 1, $REV,
       CASE x % 4 WHEN 0 THEN 1 WHEN 1 THEN 4 WHEN 2 THEN 5 ELSE NULL END, 0, X'30'
FROM n;
EOF
  sqlite3 "$W/p/pkilab.db" "PRAGMA journal_mode = WAL" >/dev/null
  r=$(measure pkilab "$PKILAB" --pki "$W/p" -q crl --ca ca) || exit 3
  size=$(stat -c %s "$W/p/publish/crl/ca.crl")
  printf '%-9s %-22s %9s %8s MB %12s\n' "$N" "pkilab crl" ${r% *} ${r#* } "$size"
  p_s=${r% *} p_m=${r#* }

  # --- openssl ca -gencrl over an index.txt with the same entries
  mkdir -p "$W/o"; rm -f "$W/o/"*
  awk -v n="$N" -v rev="$REV_S" -v ex="$EXP_S" 'BEGIN {
    for (x = 1; x <= n; x++) {
      m = x % 4; r = (m == 0) ? ",keyCompromise" : (m == 1) ? ",superseded" : (m == 2) ? ",cessationOfOperation" : ""
      printf "R\t%s\t%s%s\t7%031X\tunknown\t/CN=b%d\n", ex, rev, r, x, x
    }
  }' >"$W/o/index.txt"
  echo "unique_subject = no" >"$W/o/index.txt.attr"
  echo 01 >"$W/o/crlnumber"
  cat >"$W/o/ca.cnf" <<EOF
[ ca ]
default_ca = b
[ b ]
database = $W/o/index.txt
crlnumber = $W/o/crlnumber
certificate = $PKI/certs/ca.pem
private_key = $PKI/private/ca.key
default_crl_days = 7
default_md = sha256
crl_extensions = e
[ e ]
authorityKeyIdentifier = keyid:always
EOF
  r=$(measure openssl openssl ca -config "$W/o/ca.cnf" -gencrl -out "$W/o/ca.pem") || exit 3
  # openssl ca writes PEM only: the size compared is that of the DER inside.
  openssl crl -in "$W/o/ca.pem" -outform DER -out "$W/o/ca.crl"
  size=$(stat -c %s "$W/o/ca.crl")
  printf '%-9s %-22s %9s %8s MB %12s\n' "$N" "openssl ca -gencrl" ${r% *} ${r#* } "$size"
  o_s=${r% *} o_m=${r#* }
  awk -v ps="$p_s" -v os="$o_s" -v pm="$p_m" -v om="$o_m" -v n="$N" 'BEGIN {
    printf "%-9s %-22s %8.1fx %8.1fx less memory\n", n, "pkilab vs openssl", (ps > 0 ? os / ps : 0), (pm > 0 ? om / pm : 0) }'
  # The CRL must be a valid one: openssl verifies pkilab's (for the smaller sizes).
  if [ "$N" -le 200000 ]; then
    openssl crl -inform DER -in "$W/p/publish/crl/ca.crl" -CAfile "$PKI/certs/ca.pem" -verify -noout 2>/dev/null &&
      echo "          (openssl crl -verify accepts pkilab's $N-entry CRL)" ||
      echo "          WARNING: openssl crl -verify rejects pkilab's CRL"
  fi
  rm -rf "$W/p" "$W/o" "$W/scratch.db"
done
