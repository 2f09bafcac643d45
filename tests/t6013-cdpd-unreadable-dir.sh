#!/bin/sh
# An unreadable publish/crl/ is not "no change": only "does not exist"
# (ENOENT) means no candidate. A directory the server's user cannot read
# (EACCES) or a crl that is not a directory (ENOTDIR) is a problem in
# /healthz (503) and in the log, while the last good CRL stays in service.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

chmod 755 "$T"
pub_ca "$T/pub" "$T/root" root || exit 1
mkcrl "$T/root" 1 "$T/crl1.der" || exit 1
mkcrl "$T/root" 2 "$T/crl2.der" || exit 1
cp "$T/crl1.der" "$T/pub/crl/root.crl"
chmod -R a+rX "$T/pub"

P=$(free_port)
B=http://127.0.0.1:$P
# Root bypasses permissions: the server drops to nobody, as in production.
serve_cdpd "server answers" srv "$B" --publish "$T/pub" --listen "127.0.0.1:$P" --user nobody
# SIGHUP and wait (bounded) for the rebuilt catalog.
reload() { cdpd_reload "$B" "$(cat "$T/srv.pid")"; }
hget "$B/healthz"
check "healthy at start" test "$CODE" = 200

# A permission mistake: crl/ is 0700 root while the server runs as nobody,
# and it hides a new CRL.
cp "$T/crl2.der" "$T/pub/crl/root.crl"; chmod 700 "$T/pub/crl"
check "crl/ unreadable: reload" reload
hget "$B/healthz"
check "crl/ unreadable: /healthz is 503" test "$CODE" = 503
check "crl/ unreadable: /healthz names the directory and the cause" grep -q "pub/crl.*Permission denied" "$T/body"
check "crl/ unreadable: logged as an error" grep -q "error: .*pub/crl.*Permission denied" "$T/srv.log"
hget "$B/crl/root.crl"
check "crl/ unreadable: the last good CRL (1) stays in service" cmp -s "$T/body" "$T/crl1.der"
chmod 755 "$T/pub/crl"
check "crl/ readable again: reload" reload
hget "$B/crl/root.crl"
check "crl/ readable again: CRL 2 served" cmp -s "$T/body" "$T/crl2.der"
hget "$B/healthz"
check "crl/ readable again: healthy" test "$CODE" = 200

# crl is a regular file, not a directory (ENOTDIR).
mv "$T/pub/crl" "$T/crl.saved"; echo oops >"$T/pub/crl"; chmod 644 "$T/pub/crl"
check "crl is a file: reload" reload
hget "$B/healthz"
check "crl is a file: /healthz is 503" test "$CODE" = 503
check "crl is a file: /healthz says why" grep -q "pub/crl.*Not a directory" "$T/body"
hget "$B/crl/root.crl"
check "crl is a file: the last good CRL stays in service" cmp -s "$T/body" "$T/crl2.der"

# A missing crl/ is only "nothing new" (ENOENT): healthy, still serving.
rm "$T/pub/crl"
check "crl/ absent: reload" reload
hget "$B/healthz"
check "crl/ absent: healthy (a missing directory is no candidate)" test "$CODE" = 200
stop_cdpd srv; rc=$?
check "SIGTERM: exit 0" test "$rc" = 0
finish
