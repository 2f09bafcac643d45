# Revoke the gateway and publish the CRL that lists it. Runs in the scenario
# directory after `pkilab build lab.cfg`; $PKILAB is the pkilab binary and
# $SERVE the directory the test's CDP serves (a copy of pki/publish).
set -e
"$PKILAB" revoke --pki pki gw --reason keyCompromise
"$PKILAB" crl --pki pki
cp -R pki/publish/. "$SERVE/"
