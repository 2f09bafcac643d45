#!/bin/sh
# t1001-lab-errors: malformed lab files and templates are refused before
# anything is written.
#
# Every case is a lab file (and sometimes a template beside it) with ONE
# fault. The faulty line carries the marker comment "#!"; the test derives the
# expected "FILE:LINE" from it, so the location in the error message is
# checked exactly, not just "some line". For each case:
#   1. fresh build (no PKI yet): exit status 2, nothing on stdout, exactly one
#      line on stderr "pkilab: error: FILE:LINE: message" whose message
#      contains the expected text (a suggestion for a misspelt name), and the
#      case directory (lab, templates, where the PKI would go) byte-for-byte
#      unchanged: no PKI, no staging directory left behind (tree_sum);
#   2. converging an existing PKI (a copy of a built one, --pki): exit 2, one
#      line, and the PKI byte-for-byte unchanged.
# Cases about the PKI directory itself (unwritable, not a PKI) are checked in
# the fresh form only, and the message must name the directory.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/c"
# A correct lab, built once: the existing PKI every case tries to converge.
cat >"$T/base.cfg" <<'EOF'
lab = { name = "base"; pki = "base-pki"; cdp = [ "http://127.0.0.1:18081" ]; };
cas = (
  { name = "root"; template = "root-ca"; subject = "C=CH, O=t1001, CN=t1001 Root CA"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "C=CH, O=t1001, CN=t1001 VPN CA"; }
);
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=vpn.t1001.test"; san = [ "vpn.t1001.test", "192.0.2.1" ]; }
);
EOF
expect_rc 0 "a correct lab builds (the base for the convergence cases)" "$PKILAB" build "$T/base.cfg"
[ -f "$T/base-pki/pkilab.db" ] || { echo "base PKI missing: $ERR"; finish; exit 1; }
base_sum=$(tree_sum "$T/base-pki")

# A template in a case's own templates/ directory (looked up beside the lab).
tmpl() { # case, template name; template text on stdin
	mkdir -p "$T/c/$1/templates"
	cat >"$T/c/$1/templates/$2.cfg"
}

# The "FILE:LINE" of the "#!" marker in a case's lab or templates.
marker_loc() {
	for f in "$T/c/$1/lab.cfg" "$T/c/$1"/templates/*.cfg; do
		[ -f "$f" ] || continue
		l=$(grep -n '#!' "$f" | head -n 1 | cut -d: -f1)
		[ -n "$l" ] && { echo "$f:$l"; return; }
	done
	echo "(no marker)"
}

one_error_line() { # stderr, expected prefix, expected fragment, stdout
	[ -z "$4" ] || { echo "unexpected stdout: $4"; return 1; }
	one_line "$1" || return 1
	case "$1" in
	"pkilab: error: $2: "*) ;;
	*) echo "expected a line starting 'pkilab: error: $2: '"; echo "got: $1"; return 1 ;;
	esac
	contains "$1" "$3"
}

# bad NAME 'expected message fragment' [fresh-only|dir]  (lab on stdin)
#   dir: a PKI directory fault; the message must name the directory (the
#   fragment), at the "pki" setting's line or at the directory itself.
bad() {
	_c=$1 _want=$2 _mode=${3:-both}
	_cd=$T/c/$_c
	mkdir -p "$_cd"
	cat >"$_cd/lab.cfg"
	[ -n "${PREP:-}" ] && eval "$PREP"
	_where=$(marker_loc "$_c")
	_before=$(tree_sum "$_cd")
	run "$PKILAB" build "$_cd/lab.cfg"
	_rc=$RC _out=$OUT _err=$ERR
	check "$_c: fresh build exits 2" test "$_rc" = 2
	if [ "$_mode" = dir ]; then
		check "$_c: one line 'pkilab: error: ...' naming the directory ($_want), nothing on stdout" \
			dir_error_line "$_err" "$_want" "$_out"
	else
		check "$_c: one line 'pkilab: error: $_where: ...$_want...', nothing on stdout" \
			one_error_line "$_err" "$_where" "$_want" "$_out"
	fi
	check "$_c: case directory unchanged (no PKI, no staging leftovers)" test "$_before" = "$(tree_sum "$_cd")"
	if [ "$_mode" = both ]; then
		cp -a "$T/base-pki" "$_cd.conv"
		run "$PKILAB" build "$_cd/lab.cfg" --pki "$_cd.conv"
		check "$_c: converging an existing PKI exits 2 with the same one error line" \
			conv_ok "$RC" "$ERR" "$_where" "$_want"
		check "$_c: existing PKI byte-for-byte unchanged" test "$base_sum" = "$(tree_sum "$_cd.conv")"
		rm -rf "$_cd.conv"
	fi
	PREP=
}
conv_ok() { [ "$1" = 2 ] || { echo "exit $1"; return 1; }; one_error_line "$2" "$3" "$4" ""; }
dir_error_line() { # stderr, fragment, stdout
	[ -z "$3" ] || { echo "unexpected stdout: $3"; return 1; }
	one_line "$1" || return 1
	case "$1" in "pkilab: error: "*) ;; *) echo "not an error line: $1"; return 1 ;; esac
	contains "$1" "$2"
}

ROOT='{ name = "root"; template = "root-ca"; subject = "C=CH, O=t1001, CN=t1001 Root CA"; }'
CA='{ name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "C=CH, O=t1001, CN=t1001 VPN CA"; }'

# ---- syntax and vocabulary ----------------------------------------------------
bad syntax-missing-semicolon "syntax error" <<EOF
lab = { name = "x"; };
cas = (
  { name = "root"; template = = "root-ca"; subject = "CN=R"; } #!
);
EOF

bad syntax-unclosed-list "syntax error" <<EOF
lab = { name = "x"; };
cas = ( $ROOT ;  #!
EOF

bad misspelt-entry-setting "unknown setting 'valdity' in certs.gw (did you mean 'validity'?)" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    valdity = "30d"; } #!
);
EOF

bad misspelt-lab-setting "unknown setting 'cdp_layuot' in lab (did you mean 'cdp_layout'?)" <<EOF
lab = { name = "x";
  cdp_layuot = "one-point"; #!
};
cas = ( $ROOT );
EOF

bad misspelt-top-level "(did you mean 'certs'?)" <<EOF
cas = ( $ROOT, $CA );
cert = ( #!
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ]; }
);
EOF

bad misspelt-key-usage "unknown key usage 'digitalSignture'" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    key_usage = [ "digitalSignture" ]; } #!
);
EOF

bad unknown-eku "unknown extended key usage 'serverAuht' in certs.gw (did you mean 'serverAuth'?)" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    extended_key_usage = [ "serverAuht", "ipsecIKE" ]; } #!
);
EOF

# ---- wrong types ------------------------------------------------------------------
bad type-validity-int "validity" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    validity = 397; } #!
);
EOF

bad type-san-string "setting 'san' in certs.gw must be a list" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test";
    san = "gw.test"; } #!
);
EOF

bad type-bool-string "setting 'cdp' in certs.gw must be true or false" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    cdp = "yes"; } #!
);
EOF

bad type-cas-group "'cas' must be a list" <<EOF
cas = { name = "root"; }; #!
EOF

# ---- hierarchy ----------------------------------------------------------------------
bad missing-issuer "issuer 'nope' of certs.gw is not defined in cas" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "nope"; subject = "CN=gw.test"; san = [ "gw.test" ]; } #!
);
EOF

bad issuer-cycle "issuer cycle" <<EOF
cas = ( $ROOT,
  { name = "a"; template = "intermediate-ca"; issuer = "b"; path_len = 3; subject = "CN=A"; }, #!
  { name = "b"; template = "intermediate-ca"; issuer = "a"; path_len = 3; subject = "CN=B"; }
);
EOF

bad child-outlives-issuer "vpn-ca would outlive its issuer 'root'" <<EOF
cas = ( $ROOT,
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; validity = "20y"; subject = "CN=CA"; } #!
);
EOF

bad root-path-len-0 "violates its path_len 0" <<EOF
cas = ( { name = "root"; template = "root-ca"; path_len = 0; subject = "CN=R"; },
  { name = "vpn-ca"; template = "intermediate-ca"; issuer = "root"; subject = "CN=CA"; } #!
);
EOF

bad ca-under-pathlen0-intermediate "CA 'sub-ca' under 'vpn-ca' violates its path_len 0" <<EOF
cas = ( $ROOT, $CA,
  { name = "sub-ca"; template = "intermediate-ca"; issuer = "vpn-ca"; subject = "CN=Sub"; } #!
);
EOF

bad duplicate-name "name 'gw' is used twice" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ]; },
  { name = "gw"; template = "ipsec-client"; issuer = "vpn-ca"; subject = "CN=c.test"; san = [ "c.test" ]; } #!
);
EOF

bad leaf-under-cas "cas.gw uses end-entity template 'ipsec-gateway': put it under certs" <<EOF
cas = ( $ROOT, $CA,
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ]; } #!
);
EOF

bad ca-under-certs "certs.sub uses CA template 'intermediate-ca': put it under cas" <<EOF
cas = ( $ROOT );
certs = (
  { name = "sub"; template = "intermediate-ca"; issuer = "root"; subject = "CN=Sub"; } #!
);
EOF

bad issuer-is-leaf "is an end-entity certificate, not a CA" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ]; },
  { name = "c"; template = "ipsec-client"; issuer = "gw"; subject = "CN=c.test"; san = [ "c.test" ]; } #!
);
EOF

bad leaf-path-len "only CAs have a path length" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; path_len = 0; subject = "CN=gw.test"; san = [ "gw.test" ]; } #!
);
EOF

# ---- values ---------------------------------------------------------------------------
bad bad-dn "subject of certs.gw" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; san = [ "gw.test" ];
    subject = "CN=gw.test, XQ=nonsense"; } #!
);
EOF

bad bad-san "san of certs.gw" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test";
    san = [ "gw.test", "bad name..test" ]; } #!
);
EOF

bad gateway-without-san "certs.gw has no 'san' but template 'ipsec-gateway' requires one" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; } #!
);
EOF

bad beyond-max-validity "more than the template's max_validity" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; validity = "900d"; subject = "CN=gw.test"; san = [ "gw.test" ]; } #!
);
EOF

bad negative-validity "validity in certs.gw: duration '-30d' must not be negative" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    validity = "-30d"; } #!
);
EOF

bad bad-time "not_before of certs.gw" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    not_before = "2026-13-45T00:00:00Z"; } #!
);
EOF

bad not-after-before-not-before "notAfter must be after notBefore" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ]; not_before = "2026-06-01T00:00:00Z"; not_after = "2026-01-01T00:00:00Z"; } #!
);
EOF

bad bad-key-spec "key in certs.gw" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    key = "ec:P-999"; } #!
);
EOF

bad huge-backdate "not a clock-drift allowance" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    backdate = "30d"; } #!
);
EOF

bad https-cdp "must be a plain http:// URL" <<EOF
lab = { name = "x";
  cdp = [ "http://127.0.0.1:18081", "https://crl.example.test" ]; #!
};
cas = ( $ROOT );
EOF

bad ldap-cdp "must be a plain http:// URL" <<EOF
lab = { name = "x";
  cdp = [ "ldap://dc.example.test/CN=root,CN=CDP" ]; #!
};
cas = ( $ROOT );
EOF

bad bad-cdp-layout "cdp_layout 'one-per-uri'" <<EOF
lab = { name = "x";
  cdp_layout = "one-per-uri"; #!
};
cas = ( $ROOT );
EOF

bad bad-entity-name "bad name '../gw' in certs" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "../gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ]; } #!
);
EOF

bad missing-subject "certs.gw has no 'subject' setting" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "ipsec-gateway"; issuer = "vpn-ca"; san = [ "gw.test" ]; } #!
);
EOF

# ---- templates ------------------------------------------------------------------------
bad unknown-template "template 'ipsec-gatway' not found" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ];
    template = "ipsec-gatway"; } #!
);
EOF

tmpl template-unknown-setting my-gw <<'EOF'
role = "end-entity";
key = "ec:P-256";
valdity = "397d";   #!
EOF
bad template-unknown-setting "unknown setting 'valdity' in template 'my-gw' (did you mean 'validity'?)" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "gw"; template = "my-gw"; issuer = "vpn-ca"; subject = "CN=gw.test"; san = [ "gw.test" ]; }
);
EOF

tmpl template-wrong-type my-ca <<'EOF'
role = "intermediate";
path_len = "zero";   #!
EOF
bad template-wrong-type "setting 'path_len' in template 'my-ca' must be an integer" <<EOF
cas = ( $ROOT,
  { name = "vpn-ca"; template = "my-ca"; issuer = "root"; subject = "CN=CA"; }
);
EOF

tmpl template-syntax my-client <<'EOF'
role = = "end-entity";   #!
key = "ec:P-256";
EOF
bad template-syntax "syntax error" <<EOF
cas = ( $ROOT, $CA );
certs = (
  { name = "c"; template = "my-client"; issuer = "vpn-ca"; subject = "CN=c.test"; san = [ "c.test" ]; }
);
EOF

tmpl template-bad-role my-root <<'EOF'
role = "rooot";   #!
EOF
bad template-bad-role "role 'rooot'" <<EOF
cas = ( { name = "root"; template = "my-root"; subject = "CN=R"; } );
EOF

# ---- the PKI directory ----------------------------------------------------------------------
# Tests run as root, which ignores permission bits: use a path below a regular
# file, and one in /proc, where nobody can create anything.
PREP='echo "not a directory" >"$_cd/afile"'
bad unwritable-under-file "afile" dir <<EOF
lab = { name = "x";
  pki = "afile/pki"; #!
};
cas = ( $ROOT );
EOF

bad unwritable-proc "/proc/pkilab-t1001" dir <<EOF
lab = { name = "x";
  pki = "/proc/pkilab-t1001/pki"; #!
};
cas = ( $ROOT );
EOF

PREP='mkdir -p "$_cd/pki" && echo "precious" >"$_cd/pki/notes.txt"'
bad non-empty-non-pki-dir "$T/c/non-empty-non-pki-dir/pki" dir <<EOF
lab = { name = "x";
  pki = "pki"; #!
};
cas = ( $ROOT );
EOF

finish
