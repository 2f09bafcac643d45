#!/bin/sh
# t0003-install-prefix: one build, then `make install` into two different
# prefixes (one through DESTDIR): each installed pkilab finds the templates
# install put beside it (<bindir>/../share/pkilab/templates, from
# /proc/self/exe), whatever PREFIX the tree was built with, and builds the
# example lab from the installed files only. A missing template names every
# directory searched, the lab file's own directory first.
. "$(dirname "$0")/lib.sh"

[ -x "$PKILAB" ] || { echo "no $PKILAB: run make first"; exit 1; }
unset PKILAB_TEMPLATES
before=$(stat -c %Y "$PKILAB")

# installed_lab BIN DIR: the example lab, built by BIN in DIR with a PATH
# that holds no build directory and no PKILAB_TEMPLATES.
installed_lab() {
  mkdir -p "$2" && cp "$TOP/examples/lab.cfg" "$2/lab.cfg" &&
    (cd "$2" && env -u PKILAB_TEMPLATES PATH=/usr/bin:/bin "$1" build lab.cfg)
}

P1=$T/p1
expect_rc 0 "make install PREFIX=$P1" make -s -C "$TOP" install BUILD="$BUILD" PREFIX="$P1"
P2=/opt/pkilab-t0003 D2=$T/stage
expect_rc 0 "make install PREFIX=$P2 DESTDIR=$D2" make -s -C "$TOP" install BUILD="$BUILD" PREFIX="$P2" DESTDIR="$D2"
check "install did not rebuild (the binaries keep the PREFIX they were built with)" \
  [ "$(stat -c %Y "$PKILAB")" = "$before" ]
check "nothing was written under $P2 itself (DESTDIR honoured)" [ ! -e "$P2" ]

for root in "$P1" "$D2$P2"; do
  check "$root: binaries installed" [ -x "$root/bin/pkilab" ] && [ -x "$root/bin/pkilab-cdpd" ]
  check "$root: templates in share/pkilab/templates" [ -s "$root/share/pkilab/templates/root-ca.cfg" ]
  check "$root: README in share/doc/pkilab" cmp -s "$TOP/README.md" "$root/share/doc/pkilab/README.md"
  check "$root: example lab in share/doc/pkilab/examples" cmp -s "$TOP/examples/lab.cfg" "$root/share/doc/pkilab/examples/lab.cfg"
  check "$root: systemd units in lib/systemd/system" \
    sh -c 'for u in pkilab-cdpd.service pkilab-crl.service pkilab-crl.timer; do [ -s "$1/lib/systemd/system/$u" ] || exit 1; done' _ "$root"
  check "$root: sysusers.d and tmpfiles.d entries" \
    sh -c '[ -s "$1/lib/sysusers.d/pkilab.conf" ] && [ -s "$1/lib/tmpfiles.d/pkilab.conf" ]' _ "$root"
done

U=$D2$P2/lib/systemd/system
check "the installed units run the binaries of their prefix" \
  sh -c 'grep -qx "ExecStart=$2/bin/pkilab-cdpd .*" "$1/pkilab-cdpd.service" && grep -qx "ExecStart=$2/bin/pkilab crl --due" "$1/pkilab-crl.service"' _ "$U" "$P2"
check "the installed units document with the README of their prefix" \
  sh -c 'for u in "$1"/*; do grep -qx "Documentation=file:$2/share/doc/pkilab/README.md" "$u" || exit 1; done' _ "$U" "$P2"
check "no unit names /usr/local after an install elsewhere" sh -c '! grep -l /usr/local "$1"/*' _ "$U"

expect_rc 0 "the pkilab installed at PREFIX=$P1 builds the example lab" installed_lab "$P1/bin/pkilab" "$T/lab1"
check "... and issued its certificates" [ -s "$T/lab1/pki-example/certs/gw-chain.pem" ]
expect_rc 0 "the pkilab installed at DESTDIR=$D2 PREFIX=$P2 builds the example lab" installed_lab "$D2$P2/bin/pkilab" "$T/lab2"
check "... and issued its certificates" [ -s "$T/lab2/pki-example/certs/gw-chain.pem" ]

# A template beside the lab file wins over the installed one: a broken
# root-ca.cfg there is the one reported.
mkdir -p "$T/lab3" && cp "$TOP/examples/lab.cfg" "$T/lab3/"
printf 'validty = "1y";\n' >"$T/lab3/root-ca.cfg"
expect_rc 2 "a template beside the lab file is used first" env -u PKILAB_TEMPLATES "$P1/bin/pkilab" build "$T/lab3/lab.cfg"
check "... and named in the error" contains "$ERR" "$T/lab3/root-ca.cfg"

# Not found anywhere: the message lists each directory searched, in order.
rm "$P1/share/pkilab/templates/root-ca.cfg"
mkdir -p "$T/lab4" && cp "$TOP/examples/lab.cfg" "$T/lab4/"
expect_rc 2 "a template found nowhere is an input error" env PKILAB_TEMPLATES="$T/nowhere" "$P1/bin/pkilab" build "$T/lab4/lab.cfg"
check "the error is one line" one_line "$ERR"
check "it names the template" contains "$ERR" "template 'root-ca' not found"
for d in "$T/lab4" "$T/lab4/templates" "$T/nowhere" "$P1/share/pkilab/templates" "$P1/templates"; do
  check "it lists $d" contains "$ERR" "$d"
done
check "the lab file's directory is searched first" contains "$ERR" "(looked in $T/lab4, $T/lab4/templates, $T/nowhere, $P1/share/pkilab/templates, "
# The lab's `templates` setting is searched before everything else.
mkdir -p "$T/lab5" && sed 's/^  name = "example";/&\n  templates = "tpl";/' "$TOP/examples/lab.cfg" >"$T/lab5/lab.cfg"
expect_rc 2 "a lab with a templates setting, template found nowhere" env -u PKILAB_TEMPLATES "$P1/bin/pkilab" build "$T/lab5/lab.cfg"
check "the lab's templates directory is listed first" contains "$ERR" "(looked in $T/lab5/tpl, $T/lab5, $T/lab5/templates, $P1/share/pkilab/templates, "
finish
