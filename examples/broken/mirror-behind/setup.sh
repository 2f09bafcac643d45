# The CDP keeps the CRLs of the build (a mirror that stopped pulling, a copy
# never made) while the gateway is revoked and a new CRL is signed into
# pki/publish. Runs in the scenario directory after `pkilab build lab.cfg`:
#   SERVE=dir   required: the directory your CDP serves (a copy of pki/publish)
#   PKILAB=bin  the pkilab binary (default: pkilab from PATH)
set -eu
me=mirror-behind/setup.sh
PKILAB=${PKILAB:-pkilab}
: "${SERVE:?set SERVE to the directory your CDP serves (a copy of pki/publish)}"
command -v "$PKILAB" >/dev/null 2>&1 ||
  { echo "$me: error: pkilab binary '$PKILAB' not found: set PKILAB=/path/to/pkilab" >&2; exit 2; }
[ -d "$SERVE" ] && [ "$(cd "$SERVE" && pwd -P)" != / ] ||
  { echo "$me: error: SERVE='$SERVE' is not a directory a CDP serves (missing, or /)" >&2; exit 2; }
[ -f pki/pkilab.db ] ||
  { echo "$me: error: no pki/ here: run it in the scenario directory after 'pkilab build lab.cfg'" >&2; exit 2; }

cp -R pki/publish/. "$SERVE/"
"$PKILAB" revoke --pki pki gw --reason keyCompromise
"$PKILAB" crl --pki pki
