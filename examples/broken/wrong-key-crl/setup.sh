# Build the same lab a second time into pki-impostor (same names, new keys)
# and serve its VPN CA CRL in place of the real one: a CRL signed by a
# different key, as after a CA was rebuilt or a mirror got another PKI's file.
# Runs in the scenario directory after `pkilab build lab.cfg`:
#   SERVE=dir   required: the directory your CDP serves (a copy of pki/publish)
#   PKILAB=bin  the pkilab binary (default: pkilab from PATH)
set -eu
me=wrong-key-crl/setup.sh
PKILAB=${PKILAB:-pkilab}
: "${SERVE:?set SERVE to the directory your CDP serves (a copy of pki/publish)}"
command -v "$PKILAB" >/dev/null 2>&1 ||
  { echo "$me: error: pkilab binary '$PKILAB' not found: set PKILAB=/path/to/pkilab" >&2; exit 2; }
[ -d "$SERVE" ] && [ "$(cd "$SERVE" && pwd -P)" != / ] ||
  { echo "$me: error: SERVE='$SERVE' is not a directory a CDP serves (missing, or /)" >&2; exit 2; }
[ -f pki/pkilab.db ] ||
  { echo "$me: error: no pki/ here: run it in the scenario directory after 'pkilab build lab.cfg'" >&2; exit 2; }

"$PKILAB" build lab.cfg --pki pki-impostor >/dev/null
mkdir -p "$SERVE/crl"
cp pki-impostor/publish/crl/vpn-ca.crl "$SERVE/crl/vpn-ca.crl"
