#!/bin/sh
# t3005-crash: pkilab killed with SIGKILL at random points (until 40 kills), while
# issuing, revoking, renewing and signing CRLs; after each kill (and the
# recovery the next open performs) the database, keys, certificates and CRLs
# agree with one another.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"
command -v python3 >/dev/null || skip_all "python3 is needed for the consistency checker"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1

# The consistency checker: every current certificate's file holds exactly
# the DER the database has, every current certificate has its key and chain,
# no file in certs/ or private/ is unknown to the database, no temporary file
# and no pending rename remains, and each CA's published CRL carries the
# number the database says it signed.
cat >check.py <<'PYEOF'
import base64, os, re, sqlite3, sys
pki = sys.argv[1]
db = sqlite3.connect(os.path.join(pki, "pkilab.db"))
bad = []
rows = db.execute("SELECT name, der FROM certs WHERE current = 1").fetchall()
names = {n for n, _ in rows}
for name, der in rows:
    p = os.path.join(pki, "certs", name + ".pem")
    try:
        text = open(p).read()
    except OSError:
        bad.append("missing " + p); continue
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not m or base64.b64decode("".join(m.group(1).split())) != der:
        bad.append("certificate file differs from the database: " + name)
    if not os.path.exists(os.path.join(pki, "private", name + ".key")):
        bad.append("missing key of " + name)
    if not os.path.exists(os.path.join(pki, "certs", name + "-chain.pem")):
        bad.append("missing chain of " + name)
for d in ("certs", "private", "publish/crl", "publish/aia"):
    for f in os.listdir(os.path.join(pki, d)):
        if ".tmp-" in f:
            bad.append("temporary file left: %s/%s" % (d, f))
        elif d in ("certs", "private"):
            base = re.sub(r"(-chain)?\.(pem|key)$", "", f)
            if base not in names:
                bad.append("file unknown to the database: %s/%s" % (d, f))
if db.execute("SELECT count(*) FROM pending").fetchone()[0]:
    bad.append("pending renames left after recovery")
def tlv(b, i):
    tag, l = b[i], b[i + 1]
    i += 2
    if l & 0x80:
        n = l & 0x7f
        l = int.from_bytes(b[i:i + n], "big")
        i += n
    return tag, i, l
def crl_number(der):
    # CertificateList > tbsCertList > ... > [0] crlExtensions > cRLNumber (2.5.29.20)
    _, c, _ = tlv(der, 0)
    _, t, tl = tlv(der, c)
    i = t
    while i < t + tl:
        tag, ci, l = tlv(der, i)
        if tag == 0xA0:
            ext = der[ci:ci + l]
            k = ext.index(b"\x06\x03\x55\x1d\x14") + 5
            tag, ci2, l2 = tlv(ext, k)
            if tag == 0x01:  # critical BOOLEAN
                tag, ci2, l2 = tlv(ext, ci2 + l2)
            tag, ii, il = tlv(ext, ci2)  # OCTET STRING wraps the INTEGER
            return int.from_bytes(ext[ii:ii + il], "big")
        i = ci + l
    return None
for ca, number in db.execute("SELECT name, crl_number FROM cas"):
    p = os.path.join(pki, "publish", "crl", ca + ".crl")
    try:
        got = crl_number(open(p, "rb").read())
    except (OSError, ValueError, IndexError) as e:
        bad.append("unreadable CRL %s: %s" % (p, e)); continue
    if got != int(number):
        bad.append("CRL %s has number %s, database says %s" % (ca, got, number))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PYEOF

rnd() { echo $(( $(od -An -N2 -tu2 /dev/urandom) % $1 )); }
# Counted, never timed: how fast the machine is decides where the kills
# land, not what is asserted. Each kind of command has its own kill window
# (in ms, first 70); a run that completes before its kill narrows that
# window by a third, so on a fast machine the kills move earlier instead of
# missing. The series ends after 40 real kills or 240 runs, whichever comes
# first, so "enough kills" is a property of the series, not of the clock.
# Every 10th run is not killed (a 300 s bound on a hang only): it must
# complete, whatever the load.
max_runs=240 want_kills=40
win0=70 win1=70 win2=70 win3=70 win4=70
fails=0 killed=0 done_ok=0 n=0 whole=0 whole_ok=0 i=0
while [ "$i" -lt "$max_runs" ] && [ "$killed" -lt "$want_kills" ]; do
  i=$((i + 1)); kind=$((i % 5))
  eval "win=\$win$kind"
  # shellcheck disable=SC2154 # win is set by the eval above
  ms=$(( $(rnd "$win") + 1 ))
  case $kind in
    0|1) set -- issue --ca vpn-ca --template ipsec-client --name "k$i" --subject "CN=k$i.life.test" --san "k$i.life.test" ;;
    2) victim=$(sqlite3 "$PKI/pkilab.db" "SELECT name FROM certs WHERE current = 1 AND status = 0 AND name LIKE 'k%' ORDER BY random() LIMIT 1")
       set -- revoke "${victim:-alice}" --reason superseded ;;
    3) set -- crl ;;
    4) set -- renew "$(echo gw alice bob | cut -d' ' -f$(( $(rnd 3) + 1 )))" ;;
  esac
  if [ $((i % 10)) = 0 ]; then
    whole=$((whole + 1))
    timeout -s KILL 300 "$PKILAB" --pki "$PKI" -q "$@" >"whole.$i" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then whole_ok=$((whole_ok + 1)); else echo "# '$*' not killed, exit $rc:"; sed 's/^/#   /' "whole.$i" | head -5; fi
  else
    timeout -s KILL "$(printf '0.%03d' "$ms")" "$PKILAB" --pki "$PKI" -q "$@" >/dev/null 2>&1
    rc=$?
    [ "$rc" = 137 ] && killed=$((killed + 1))
    [ "$rc" = 0 ] && { done_ok=$((done_ok + 1)); [ "$win" -gt 3 ] && eval "win$kind=$((win * 2 / 3))"; }
  fi
  # The next open recovers (rolls committed renames forward, removes strays).
  if ! "$PKILAB" --pki "$PKI" list >/dev/null 2>list.err; then
    fails=$((fails + 1)); echo "# list failed after kill $i: $(cat list.err)"; continue
  fi
  if ! python3 check.py "$PKI" >"check.$i" 2>&1; then
    fails=$((fails + 1))
    echo "# after '$*' killed at ${ms} ms:"; sed 's/^/#   /' "check.$i" | head -5
  fi
  n=$((n + 1))
done
echo "# $n runs: $killed killed mid-way, $done_ok completed ($whole_ok of $whole unkilled); windows $win0/$win1/$win2/$win3/$win4 ms"
check "$i runs, each followed by a recovering open and the consistency check" [ "$n" = "$i" ]
check "at least 20 runs were really killed mid-way (SIGKILL, exit 137)" [ "$killed" -ge 20 ]
check "every run not killed completed, in the middle of the series ($whole_ok of $whole)" [ "$whole_ok" = "$whole" ]
check "database and files consistent after every kill" [ "$fails" = 0 ]
# Finally the PKI still works and its CRLs verify.
expect_rc 0 "pkilab crl after the crash series" "$PKILAB" --pki "$PKI" crl
check "vpn-ca CRL verifies" openssl crl -inform DER -in "$PKI/publish/crl/vpn-ca.crl" -CAfile "$PKI/certs/vpn-ca.pem" -verify -noout
check "every current leaf's key matches its certificate" sh -c '
  for n in $(sqlite3 "$1/pkilab.db" "SELECT name FROM certs WHERE current = 1 AND is_ca = 0"); do
    [ "$(openssl pkey -in "$1/private/$n.key" -pubout)" = "$(openssl x509 -in "$1/certs/$n.pem" -noout -pubkey)" ] || { echo "key mismatch: $n"; exit 1; }
  done' _ "$PKI"
finish
