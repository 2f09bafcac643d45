#!/bin/sh
# t3004-concurrency: 4 pkilab processes x 250 mixed issue/revoke operations
# (plus a CRL signing every 25th step) against one PKI at once; afterwards
# every operation is present exactly once, no serial is reused, and the CRL
# lists exactly the revoked certificates.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

life_lab "$T/lab" || { finish; exit 1; }
db=$PKI/pkilab.db
cd "$T" || exit 1

worker() { # k: 250 operations, odd steps issue w<k>-<i>, even steps revoke w<k>-<i-1>
  k=$1
  for i in $(seq 1 250); do
    if [ $((i % 2)) = 1 ]; then
      "$PKILAB" --pki "$PKI" -q issue --ca vpn-ca --template ipsec-client --name "w$k-$i" \
        --subject "CN=w$k-$i.life.test" --san "w$k-$i.life.test" >/dev/null 2>>"err.$k"
      echo "issue w$k-$i $?"
    else
      "$PKILAB" --pki "$PKI" -q revoke "w$k-$((i - 1))" --reason superseded >/dev/null 2>>"err.$k"
      echo "revoke w$k-$((i - 1)) $?"
    fi
    if [ $((i % 25)) = 0 ]; then
      "$PKILAB" --pki "$PKI" -q crl --ca vpn-ca >/dev/null 2>>"err.$k"
      echo "crl - $?"
    fi
  done >"log.$k"
}
start=$(date +%s)
for k in 1 2 3 4; do
  (worker $k) &
  eval "pid$k=$!"
done
# Bounded wait (a bound on a hang, generous for a busy machine): at most 600 s.
for i in $(seq 1 6000); do
  alive=0
  for k in 1 2 3 4; do eval "kill -0 \$pid$k 2>/dev/null" && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for k in 1 2 3 4; do eval "kill \$pid$k 2>/dev/null"; done
wait
echo "# 1000 operations + 40 CRLs in $(($(date +%s) - start)) s"

check "each worker logged 250 operations and 10 CRL signings" sh -c '[ "$(cat log.1 log.2 log.3 log.4 | wc -l)" = 1040 ]'
check "every operation succeeded (exit 0)" sh -c '! grep -v " 0$" log.1 log.2 log.3 log.4'
check "no error output" sh -c '! cat err.1 err.2 err.3 err.4 | grep .'
q() { sqlite3 "$db" "$1"; }
check "500 issued rows, one per name" [ "$(q "SELECT count(*) || '/' || count(DISTINCT name) FROM certs WHERE name LIKE 'w%'")" = "500/500" ]
check "every issued name present exactly once (by the log)" sh -c '
  for k in 1 2 3 4; do grep "^issue" "log.$k"; done | cut -d" " -f2 | sort >issued
  sqlite3 "$1" "SELECT name FROM certs WHERE name LIKE '"'w%'"'" | sort >indb
  [ "$(wc -l <issued)" = 500 ] && cmp -s issued indb' _ "$db"
check "no serial used twice in the whole PKI" [ "$(q "SELECT count(*) - count(DISTINCT serial) FROM certs")" = 0 ]
check "500 revocations, each recorded once" [ "$(q "SELECT count(*) FROM certs WHERE name LIKE 'w%' AND status = 1")" = 500 ]
check "500 revoke events, one per certificate" [ "$(q "SELECT count(*) || '/' || count(DISTINCT subject) FROM events WHERE kind = 'revoke'")" = "500/500" ]
check "500 issue events for them" [ "$(q "SELECT count(*) FROM events WHERE kind = 'issue' AND subject LIKE 'w%'")" = 500 ]
check "40 concurrent CRL signings logged, numbers all distinct" [ "$(q "SELECT count(*) || '/' || count(DISTINCT number) FROM crl_log WHERE ca = 'vpn-ca'")" = "40/40" ]
check "CRL numbers increase in commit order (RFC 5280 §5.2.3)" sh -c '
  sqlite3 "$1" "SELECT number FROM crl_log WHERE ca = '"'vpn-ca'"' ORDER BY id" >nums
  prev=0; while read -r n; do [ "$(echo "$n > $prev" | bc)" = 1 ] || exit 1; prev=$n; done <nums' _ "$db"
check "no temporary files and no pending renames left" sh -c '[ -z "$(find "$1" -name ".*tmp-*")" ] && [ "$(sqlite3 "$1/pkilab.db" "SELECT count(*) FROM pending")" = 0 ]' _ "$PKI"
check "every issued certificate has its key, certificate and chain file" sh -c '
  for n in $(sqlite3 "$1/pkilab.db" "SELECT name FROM certs WHERE name LIKE '"'w%'"'"); do
    [ -s "$1/private/$n.key" ] && [ -s "$1/certs/$n.pem" ] && [ -s "$1/certs/$n-chain.pem" ] || { echo "missing files for $n"; exit 1; }
  done' _ "$PKI"
expect_rc 0 "a final pkilab crl" "$PKILAB" --pki "$PKI" crl --ca vpn-ca
openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -noout -text | sed -n 's/^ *Serial Number: //p' | tr A-F a-f | sed 's/^0*//' | sort >crl.serials
q "SELECT serial FROM certs c WHERE status = 1 AND issuer_id = (SELECT cert_id FROM cas WHERE name = 'vpn-ca')" | sed 's/^0*//' | sort >db.serials
check "the CRL lists exactly the 500 revoked serials" sh -c '[ "$(wc -l <crl.serials)" = 500 ] && cmp -s crl.serials db.serials'
check "openssl crl -verify accepts it" openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -CAfile "$PKI/certs/vpn-ca.pem" -verify -noout
finish
