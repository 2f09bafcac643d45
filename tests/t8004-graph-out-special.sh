#!/bin/sh
# t8004-graph-out-special: `pkilab graph --out PATH` (and every other atomic
# write: they share pkl_file_write_atomic) replaces only a regular file.
# rename() over the path would turn /dev/null (as root), a FIFO a reader is
# waiting on, or a planted symbolic link into a regular file holding the DOT
# text. Each is refused with exit 2 and one line naming the path, and left as
# it was; a regular file is still replaced.
. "$(dirname "$0")/lib.sh"
export PKILAB_TEMPLATES="$TOP/templates"

cat >"$T/lab.cfg" <<'LAB'
lab = { name = "t8004"; pki = "pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = ( { name = "root"; template = "root-ca"; key = "ec:P-256"; subject = "CN=t8004 Root"; } );
LAB
P=$T/pki
expect_rc 0 "build" "$PKILAB" build "$T/lab.cfg" --pki "$P"

# A character device of our own (root only) stands in for /dev/null, so the
# test never risks the real one: same major/minor as /dev/null.
if [ "$(id -u)" = 0 ] && mknod "$T/null" c 1 3 2>/dev/null; then
  expect_rc 2 "--out onto a character device is refused" "$PKILAB" graph --pki "$P" --format dot --out "$T/null"
  check "one error line naming the device" sh -c 'printf "%s\n" "$1" | grep -q "null: is a character device"' _ "$ERR"
  check "one line" one_line "$ERR"
  check "the device node is still a character device" test -c "$T/null"
fi

mkfifo "$T/fifo"
expect_rc 2 "--out onto a FIFO is refused" "$PKILAB" graph --pki "$P" --format dot --out "$T/fifo"
check "names the FIFO" contains "$ERR" "fifo: is a named pipe"
check "the FIFO is still a FIFO" test -p "$T/fifo"

echo original >"$T/target"
ln -s target "$T/link"
expect_rc 2 "--out onto a symbolic link is refused" "$PKILAB" graph --pki "$P" --format dot --out "$T/link"
check "names the link" contains "$ERR" "link: is a symbolic link"
check "the link is still a link" test -L "$T/link"
check "the link's target is unchanged" test "$(cat "$T/target")" = original

mkdir "$T/dir"
expect_rc 2 "--out onto a directory is refused" "$PKILAB" graph --pki "$P" --format dot --out "$T/dir"
check "the directory is still a directory" test -d "$T/dir"
check "no temporary file left anywhere" sh -c '! ls -a "$1" | grep -q "\.tmp-"' _ "$T"

echo old >"$T/plain.dot"
expect_rc 0 "--out onto a regular file replaces it" "$PKILAB" graph --pki "$P" --format dot --out "$T/plain.dot"
check "the regular file holds the DOT text" grep -q "digraph" "$T/plain.dot"
finish
