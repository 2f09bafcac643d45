#!/bin/sh
# pkilab-cdpd configuration: every setting checked after parsing (user,
# state_dir, listen) names the file:line (or --flag) it was written at; and
# --help (generated from config.c's settings table), README's settings table
# and examples/cdpd.conf agree on every setting and its default, extracted
# mechanically from the three.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-cdpd.sh"

chmod 755 "$T"
mkdir -p "$T/state"
pub_ca "$T/pub" "$T/root" root 1 || exit 1
chmod -R a+rX "$T/pub"
P=$(free_port)

# --- errors found after parsing name where the setting was written ---------
cat >"$T/u.conf" <<EOF
publish = [ "$T/pub" ];
listen = [ "127.0.0.1:$P" ];
# the user the service runs as
user = "no-such-user-pkl";
EOF
expect_rc 2 "unknown user in the file: exit 2" timeout 20 "$CDPD" --config "$T/u.conf"
check "unknown user in the file: the error names u.conf:4" contains "$ERR" "u.conf:4: user: unknown user 'no-such-user-pkl'"
check "unknown user: one line" one_line "$ERR"
expect_rc 2 "unknown user as a flag: exit 2" timeout 20 "$CDPD" --publish "$T/pub" --listen "127.0.0.1:$P" --user no-such-user-pkl
check "unknown user as a flag: the error names --user" contains "$ERR" "--user: user: unknown user 'no-such-user-pkl'"

cat >"$T/s.conf" <<EOF
publish = [ "$T/pub" ];
listen = [ "127.0.0.1:$P" ];
user = "nobody";
state_dir = "$T/state";
EOF
expect_rc 2 "state_dir not writable by the user: exit 2" timeout 20 "$CDPD" --config "$T/s.conf"
check "state_dir not writable: the error names s.conf:4 and the directory" contains "$ERR" "s.conf:4: state_dir: '$T/state': not writable"

cat >"$T/b.conf" <<EOF
publish = [ "$T/pub" ];

listen = [ "127.0.0.1:$P", "192.0.2.1:$P" ];
EOF
expect_rc 3 "listen address that cannot be bound: exit 3 (runtime)" timeout 20 "$CDPD" --config "$T/b.conf"
check "listen address that cannot be bound: the error names b.conf:3 and the address" contains "$ERR" "b.conf:3: listen: '192.0.2.1:$P': cannot bind"

# --- --help, README and examples/cdpd.conf agree -----------------------------
"$CDPD" --help >"$T/help"
# "      --max-age DURATION    text (default 1h)": name, then the default:
# "V" for a value, ": text" for a description, "-" for none.
awk '$1 ~ /^--/ && $2 ~ /^[A-Z]/ && $1 != "--config" {
  n = substr($1, 3); gsub("-", "_", n); d = "-"
  if (match($0, /\(default[^()]*\)$/)) d = substr($0, RSTART + 8, RLENGTH - 9)
  print n "\t" d }' "$T/help" >"$T/settings"
check "--help lists the settings (at least 20)" test "$(wc -l <"$T/settings")" -ge 20
ex=$TOP/examples/cdpd.conf
rd=$TOP/README.md
# README's settings table rows in the pkilab-cdpd section: | `name` | default | ... |
awk '/^## `pkilab-cdpd`/ { on = 1; next } /^## / { on = 0 } on' "$rd" |
  sed -n 's/^| `\([a-z_]*\)` | \([^|]*\) |.*/\1\t\2/p' | sed 's/ *$//' >"$T/readme"
tab=$(printf '\t')
: >"$T/bad"
while IFS="$tab" read -r name def; do
  row=$(awk -F '\t' -v n="$name" '$1 == n { print $2 }' "$T/readme" | tr -d '`')
  line=$(grep -E "^#? *$name = " "$ex" | head -n 1)
  [ -n "$row" ] || echo "README lacks a row for $name" >>"$T/bad"
  [ -n "$line" ] || echo "examples/cdpd.conf lacks $name" >>"$T/bad"
  case $def in
    -) [ "$row" = "–" ] || echo "$name: no default in --help, README says '$row'" >>"$T/bad" ;;
    :*) text=${def#: }
      [ "$row" = "$text" ] || echo "$name: --help default '$text', README '$row'" >>"$T/bad"
      case $line in *"default: $text"*) ;; *) echo "$name: examples/cdpd.conf does not say 'default: $text': $line" >>"$T/bad" ;; esac ;;
    *) val=${def# }
      [ "$row" = "$val" ] || echo "$name: --help default '$val', README '$row'" >>"$T/bad"
      # The example shows the default, or says which it is when it sets another value.
      exv=$(printf '%s\n' "$line" | sed 's/^#* *[a-z_]* = \([^;]*\);.*/\1/' | tr -d '"[] ')
      case $(printf '%s' "$line" | tr -d '"') in *"# default $val"*) exv=$val ;; esac
      [ "$exv" = "$val" ] || echo "$name: --help default '$val', examples/cdpd.conf '$exv'" >>"$T/bad" ;;
  esac
done <"$T/settings"
check "every setting of --help is in README and examples/cdpd.conf with the same default" test ! -s "$T/bad"
sed 's/^/#   /' "$T/bad"
cut -f1 "$T/readme" | while read -r n; do grep -q "^$n$tab" "$T/settings" || echo "README row for unknown setting $n"; done >"$T/stale"
grep -E '^#? *[a-z_]+ = ' "$ex" | sed 's/^#* *\([a-z_]*\) = .*/\1/' | while read -r n; do
  grep -q "^$n$tab" "$T/settings" || echo "examples/cdpd.conf sets unknown setting $n"; done >>"$T/stale"
check "README and examples/cdpd.conf name no setting --help lacks" test ! -s "$T/stale"
sed 's/^/#   /' "$T/stale"
finish
