#!/bin/sh
# README's worked examples cannot drift: every ```sh block preceded by a
# `<!-- readme-test: NAME expect: A | B -->` marker is run as written, in a
# scratch directory holding a copy of examples/, with the built binaries on
# PATH; the block must exit 0 and its output contain A, B, ... .
. "$(dirname "$0")/lib.sh"

for port in 127.0.0.1:8081 127.0.0.2:8081; do
	if curl -s -o /dev/null --max-time 1 "http://$port/"; then
		echo "# $port is in use (a 'make run' with KEEP_RUNNING?); the windows example needs it"
	fi
done
cp -a "$TOP/examples" "$T/examples"
rm -rf "$T"/examples/pki-* "$T"/examples/broken/*/pki "$T"/examples/broken/*/pki-impostor
PATH="$TOP/$BUILD:$PATH"
export PATH

python3 - "$TOP/README.md" "$T/blocks" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
os.makedirs(sys.argv[2], exist_ok=True)
pat = re.compile(r'<!-- readme-test: (\S+) expect: (.*?) -->\n```sh\n(.*?)```', re.S)
n = 0
for name, expect, body in pat.findall(text):
    n += 1
    with open(os.path.join(sys.argv[2], "%02d-%s.sh" % (n, name)), "w") as f:
        f.write(body)
    with open(os.path.join(sys.argv[2], "%02d-%s.expect" % (n, name)), "w") as f:
        f.write("\n".join(e.strip() for e in expect.split("|")) + "\n")
PY
count=$(ls "$T/blocks"/*.sh 2>/dev/null | wc -l)
check "README has the three worked examples (admin, lab, CI)" test "$count" -ge 3

for b in "$T"/blocks/*.sh; do
	name=$(basename "$b" .sh)
	# timeout: a bound on a hang, generous for a busy machine
	(cd "$T" && timeout 600 sh -e "$b") >"$T/$name.out" 2>&1
	rc=$?
	check "README example '$name' runs as written (exit 0)" test "$rc" = 0
	[ "$rc" = 0 ] || tail -20 "$T/$name.out" | sed 's/^/#   /'
	while IFS= read -r want; do
		[ -n "$want" ] || continue
		check "README example '$name' output contains: $want" contains "$(cat "$T/$name.out")" "$want"
	done <"${b%.sh}.expect"
done
# No background server may outlive its block.
check "no pkilab-cdpd left running by the examples" sh -c '! pgrep -f "[p]kilab-cdpd --publish examples/pki-rras" >/dev/null'
finish
