# Certificate profile checks with independent tools (openssl CLI, GnuTLS
# certtool, strongSwan pki, sqlite3), sourced after tests/lib.sh by the
# t2NNN build tests. Each function prints what it found on failure and
# returns non-zero, so it can be used with `check`.
#
#   pki_rows PKI        name|is_ca|issuer|template|key_spec|issued_at|not_before  (current certs)
#   verify_all PKI LAB  openssl verify -x509_strict, certtool --verify-chain, pki --verify
#   profile_all PKI LAB every extension of docs/profile.md (the source of each rule in its title)
#
# Conventions of the PKI directory are the ones README.md describes; nothing here reads the
# product's code or calls it.

pki_rows() {
	sqlite3 -separator '|' "$1/pkilab.db" \
		"select c.name, c.is_ca, i.name, c.template, c.key_spec, c.issued_at, c.not_before
		   from certs c join certs i on i.id = c.issuer_id where c.current = 1 order by c.id"
}

# The DER of a PEM certificate, and the TBS field list ("offset hl len kind")
# of its direct children (depth 2): version, serial, sigalg, issuer, validity,
# subject, spki, extensions.
cert_der() { openssl x509 -in "$1" -outform DER; }
tbs_fields() {
	openssl asn1parse -in "$1" | awk '/d=1 /{ n++ } n == 1' |
		sed -n 's/^ *\([0-9]*\):d=2 *hl= *\([0-9]*\) *l= *\([0-9]*\) .*/\1 \2 \3/p'
}
# Hex of bytes [off, off+len) of a file.
bytes_hex() { tail -c +$(($2 + 1)) "$1" | head -c "$3" | od -An -v -tx1 | tr -d ' \n'; }
# Hex DER of the issuer (4th TBS field) or subject (6th) Name.
name_der_hex() { # pem, issuer|subject
	_f=$T/.namedir.der
	cert_der "$1" >"$_f"
	_n=4; [ "$2" = subject ] && _n=6
	# shellcheck disable=SC2046 # split on purpose: the row is three numbers (offset hl len)
	set -- $(tbs_fields "$1" | sed -n "${_n}p")
	bytes_hex "$_f" "$1" $(($2 + $3))
}
# Cached per file (path, size, mtime): the checks read the same text many times.
ext_text() {
	_k=$T/.txt/$(echo "$1 $(stat -c '%s %Y' "$1")" | tr '/ ' '__')
	[ -f "$_k" ] || { mkdir -p "$T/.txt"; openssl x509 -in "$1" -noout -text -certopt no_sigdump,no_pubkey >"$_k"; }
	cat "$_k"
}
# The line after "X509v3 NAME:" (the extension's value), trimmed.
ext_value() { ext_text "$1" | awk -v n="$2" 'f { sub(/^ +/, ""); print; exit } index($0, n) { f = 1 }'; }
ext_header() { ext_text "$1" | grep -F "$2" | sed 's/^ *//'; }
# Lines of an extension's block (until the next extension or the signature).
ext_block() {
	ext_text "$1" | awk -v n="$2" '
		f && (/^            [A-Z]/ || /^    Signature/) { exit }
		f { sub(/^ +/, ""); print }
		index($0, n) { f = 1 }'
}
ski_of() { ext_value "$1" "X509v3 Subject Key Identifier"; }
aki_of() { ext_value "$1" "X509v3 Authority Key Identifier" | sed 's/^keyid://'; }

# ---- validators -------------------------------------------------------------------

purpose_of() { # template -> openssl -purpose
	case "$1" in ipsec-gateway*) echo sslserver ;; ipsec-client*) echo sslclient ;; *) echo any ;; esac
}

# Chain up to (not including) the root, as files: the issuer names of name.
issuers_of() { # pki, name -> issuer names (nearest first), root last
	_n=$2
	for _g in 1 2 3 4 5 6 7 8; do
		_i=$(sqlite3 "$1/pkilab.db" "select i.name from certs c join certs i on i.id=c.issuer_id where c.current=1 and c.name='$_n'")
		[ "$_i" = "$_n" ] && return 0
		echo "$_i"
		_n=$_i
	done
}
root_of() { issuers_of "$1" "$2" | tail -n 1; }

v_openssl() { # pki name template
	_root=$(root_of "$1" "$2")
	openssl verify -x509_strict -purpose "$(purpose_of "$3")" -CAfile "$1/certs/$_root.pem" \
		-untrusted "$1/certs/$2-chain.pem" "$1/certs/$2.pem" 2>&1 | tee "$T/.v"
	grep -q ": OK$" "$T/.v"
}
v_certtool() { # pki name: leaf, intermediates, root in one file, as a peer would send + anchor
	_b=$T/.bundle.pem
	cat "$1/certs/$2.pem" >"$_b"
	for _i in $(issuers_of "$1" "$2"); do cat "$1/certs/$_i.pem" >>"$_b"; done
	certtool --verify-chain --infile "$_b" 2>&1 | tee "$T/.v" | tail -n 3
	grep -q "Chain verification output: Verified" "$T/.v" && ! grep -q "Not verified" "$T/.v"
}
v_strongswan() { # pki name: trusted root + the intermediates above it
	_args="--cacert $1/certs/$(root_of "$1" "$2").pem"
	for _i in $(issuers_of "$1" "$2"); do _args="$_args --cacert $1/certs/$_i.pem"; done
	# shellcheck disable=SC2086
	pki --verify --in "$1/certs/$2.pem" $_args 2>&1 | grep -v "plugin\|TPM" | tee "$T/.v"
	grep -q "building CRED_CERTIFICATE - X509 failed" "$T/.v" &&
		echo "strongSwan cannot parse it: for ECDSA, pki needs its openssl plugin (Debian package libstrongswan-standard-plugins)"
	grep -q "certificate trusted" "$T/.v" && ! grep -q "untrusted\|not trusted" "$T/.v"
}

verify_all() { # pki, label
	pki_rows "$1" >"$T/.rows"
	while IFS='|' read -r _name _ca _iss _tmpl _spec _at _nb; do
		[ "$_name" = "$_iss" ] && continue
		check "$2 $_name: openssl verify -x509_strict -purpose $(purpose_of "$_tmpl") (RFC 5280 §6, docs/profile.md)" \
			v_openssl "$1" "$_name" "$_tmpl"
		check "$2 $_name: GnuTLS certtool --verify-chain" v_certtool "$1" "$_name"
		check "$2 $_name: strongSwan pki --verify says 'certificate trusted'" v_strongswan "$1" "$_name"
	done <"$T/.rows"
}

# The text of one entry of a lab file (from its `name = "N"` line to the line
# that closes the group), and a setting's value in it ("" when not overridden).
entry_text() { awk -v n="name *= *\"$2\"" '$0 ~ n { f = 1 } f { print } f && /}/ { exit }' "$1"; }
entry_setting() { # lab name setting
	entry_text "$1" "$2" | tr '\n' ' ' | sed -n "s/.*[{; ]$3 *= *\(\[[^]]*\]\|[^;]*\);.*/\1/p" | head -n 1
}
# EKU names of a lab list as `openssl x509 -text` prints them.
eku_text() {
	echo "$1" | tr -d '[]"' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep . | sed '
		s/^serverAuth$/TLS Web Server Authentication/; s/^clientAuth$/TLS Web Client Authentication/
		s/^ipsecIKE$/ipsec Internet Key Exchange/; s/^ikeIntermediate$/1.3.6.1.5.5.8.2.2/' |
		awk 'NR > 1 { printf ", " } { printf "%s", $0 } END { print "" }'
}

# ---- profile --------------------------------------------------------------------------

c_serial() { # pem: positive, <= 16 content octets, >= 64 bits of randomness (RFC 5280 §4.1.2.2)
	_l=$(openssl asn1parse -in "$1" | awk '/d=2 .*INTEGER/{ print; exit }')
	_len=$(echo "$_l" | sed 's/.*l= *\([0-9]*\) prim.*/\1/')
	_hex=$(echo "$_l" | sed 's/.*INTEGER *://')
	_first=$(printf '%d' "0x$(echo "$_hex" | cut -c1-2)")
	echo "serial $_hex ($_len octets)"
	[ "$_len" -le 16 ] && [ "$_len" -ge 8 ] && [ "$_first" -lt 128 ] && [ "$_first" -gt 0 ]
}
c_ski() { _s=$(ski_of "$1"); echo "SKI '$_s'"; echo "$_s" | grep -Eq '^([0-9A-F]{2}:){19}[0-9A-F]{2}$'; }
c_aki() { # pem issuer-pem
	_a=$(aki_of "$1") _s=$(ski_of "$2")
	echo "AKI '$_a' issuer SKI '$_s'"
	[ -n "$_a" ] && [ "$_a" = "$_s" ] && ! ext_header "$1" "Authority Key Identifier" | grep -q critical
}
c_dn_equal() { # child-pem parent-pem
	_i=$(name_der_hex "$1" issuer) _s=$(name_der_hex "$2" subject)
	echo "issuer  $_i"; echo "subject $_s"
	[ -n "$_i" ] && [ "$_i" = "$_s" ]
}
c_times() { # pem: UTCTime iff year < 2050 (RFC 5280 §4.1.2.5), seconds and Z present (RFC 5280 §4.1.2.5)
	openssl asn1parse -in "$1" | awk '/d=3 .*(UTCTIME|GENERALIZEDTIME)/' | head -n 2 >"$T/.t"
	cat "$T/.t"
	[ "$(wc -l <"$T/.t")" = 2 ] || return 1
	while read -r _line; do
		_v=${_line##*:}
		case "$_line" in
		*UTCTIME*) echo "$_v" | grep -Eq '^[0-4][0-9][0-9]{10}Z$' || { echo "UTCTime not YYMMDDHHMMSSZ through 2049: $_v"; return 1; } ;;
		*GENERALIZEDTIME*) echo "$_v" | grep -Eq '^(20[5-9][0-9]|2[1-9][0-9]{2})[0-9]{10}Z$' || { echo "GeneralizedTime before 2050 or malformed: $_v"; return 1; } ;;
		esac
	done <"$T/.t"
}
c_ca_bc() { # pem, want-pathlen ("" none)
	_h=$(ext_header "$1" "X509v3 Basic Constraints") _v=$(ext_value "$1" "X509v3 Basic Constraints")
	echo "$_h / $_v"
	case "$_h" in *critical*) ;; *) return 1 ;; esac
	if [ -n "$2" ]; then [ "$_v" = "CA:TRUE, pathlen:$2" ]; else [ "$_v" = "CA:TRUE" ]; fi
}
c_ku() { # pem, expected value text
	_h=$(ext_header "$1" "X509v3 Key Usage") _v=$(ext_value "$1" "X509v3 Key Usage")
	echo "$_h / $_v (want $2)"
	case "$_h" in *critical*) ;; *) return 1 ;; esac
	[ "$_v" = "$2" ]
}
c_int_ku() { c_ku "$1" "Certificate Sign, CRL Sign" && c_no_ext "$1" "Extended Key Usage"; }
c_eku() { _v=$(ext_value "$1" "X509v3 Extended Key Usage"); echo "EKU '$_v' want '$2'"; [ "$_v" = "$2" ]; }
c_no_ext() { ! ext_text "$1" | grep -F "$2"; }
c_san_ip_dns() { # pem: every IP SAN also as DNS (Windows, strongSwan Windows requirements)
	_v=$(ext_value "$1" "X509v3 Subject Alternative Name")
	echo "SAN: $_v"
	_ips=$(echo "$_v" | tr ',' '\n' | sed -n 's/^ *IP Address://p')
	[ -n "$_ips" ] || { echo "no IP SAN"; return 1; }
	for _ip in $_ips; do echo "$_v" | tr ',' '\n' | grep -qx " *DNS:$_ip" || { echo "IP $_ip not also a dNSName"; return 1; }; done
}
# The CDP of a cert: "DP1 uri uri|DP2 uri" (one line per DistributionPoint).
cdp_points() { ext_block "$1" "X509v3 CRL Distribution Points" | awk '/^Full Name:/{ if (s) print s; s="DP" } /^URI:/{ sub("URI:", ""); s=s" "$0 } END{ if (s) print s }'; }
aia_uris() { ext_block "$1" "Authority Information Access" | sed -n 's/^CA Issuers - URI://p' | tr '\n' ' ' | sed 's/ $//'; }
c_cdp() { # pem, issuer-name, one-point|point-per-uri, bases...
	_pem=$1 _iss=$2 _lay=$3; shift 3
	cdp_points "$_pem" >"$T/.dp"
	echo "got:"; cat "$T/.dp"
	_want=$T/.dpw; : >"$_want"
	if [ "$_lay" = point-per-uri ]; then
		for _b in "$@"; do echo "DP $_b/crl/$_iss.crl" >>"$_want"; done
	else
		_s="DP"; for _b in "$@"; do _s="$_s $_b/crl/$_iss.crl"; done; echo "$_s" >>"$_want"
	fi
	echo "want:"; cat "$_want"
	cmp -s "$T/.dp" "$_want" && ! ext_header "$_pem" "CRL Distribution Points" | grep -q critical
}
c_aia() { # pem issuer bases...
	_pem=$1 _iss=$2; shift 2
	_w=""; for _b in "$@"; do _w="$_w $_b/aia/$_iss.crt"; done; _w=${_w# }
	_g=$(aia_uris "$_pem"); echo "got '$_g'"; echo "want '$_w'"
	[ "$_g" = "$_w" ] && ! ext_header "$_pem" "Authority Information Access" | grep -q critical
}
c_sigalg() { # pem, issuer key spec
	_a=$(openssl x509 -in "$1" -noout -text -certopt no_pubkey,no_sigdump | awk '/Signature Algorithm:/{ print $3; exit }')
	case "$2" in ec:P-384) _w=ecdsa-with-SHA384 ;; ec:*) _w=ecdsa-with-SHA256 ;; rsa:*) _w=sha256WithRSAEncryption ;; *) _w='?' ;; esac
	echo "signature $_a (issuer key $2, want $_w)"; [ "$_a" = "$_w" ]
}
c_key() { # pem, key file, spec: the key matches the certificate and the spec
	_t=$(openssl x509 -in "$1" -noout -text -certopt no_sigdump)
	_cp=$(openssl x509 -in "$1" -noout -pubkey) _kp=$(openssl pkey -in "$2" -pubout) || return 1
	[ "$_cp" = "$_kp" ] || { echo "private key does not match the certificate"; return 1; }
	case "$3" in
	rsa:*) echo "$_t" | grep -q "Public-Key: (${3#rsa:} bit)" && echo "$_t" | grep -q rsaEncryption ;;
	ec:P-256) echo "$_t" | grep -q "NIST CURVE: P-256" ;;
	ec:P-384) echo "$_t" | grep -q "NIST CURVE: P-384" ;;
	*) echo "spec $3 not checked"; return 0 ;;
	esac || { echo "$_t" | grep -A2 "Public Key Algorithm"; return 1; }
}
c_mode() { _m=$(stat -c %a "$1"); echo "$1 mode $_m want $2"; [ "$_m" = "$2" ]; }
c_crl() { # crl-der, ca-pem: v2, verifies, empty, number, AKI = CA SKI, nextUpdate (RFC 5280 §5.1.2.1; RFC 5280 §5.1.2.5; RFC 5280 §5.1.2.6; RFC 5280 §5.2.1; RFC 5280 §5.2.3)
	openssl crl -inform DER -in "$1" -noout -text -CAfile "$2" -verify >"$T/.crl" 2>&1
	cat "$T/.crl" | grep -v '^  *[0-9a-f][0-9a-f]:'
	grep -q "verify OK" "$T/.crl" && grep -q "Version 2 (0x1)" "$T/.crl" &&
		grep -q "No Revoked Certificates." "$T/.crl" && grep -q "X509v3 CRL Number:" "$T/.crl" &&
		grep -q "Next Update: [A-Z]" "$T/.crl" &&
		[ "$(awk '/Authority Key Identifier/{ getline; sub(/^ +/, ""); sub(/^keyid:/, ""); print }' "$T/.crl")" = "$(ski_of "$2")" ] &&
		# revokedCertificates absent, not an empty SEQUENCE (RFC 5280 §5.1.2.6): the TBS is version, sigalg,
		# issuer, thisUpdate, nextUpdate, [0] extensions, nothing else.
		[ "$(openssl asn1parse -inform DER -in "$1" | awk '/d=1 /{ n++ } n == 1 && /:d=2 /' | wc -l)" = 6 ]
}
c_aia_der() { # publish/aia/<ca>.crt is the DER of certs/<ca>.pem
	cert_der "$2" >"$T/.aia"; cmp "$1" "$T/.aia" && openssl x509 -inform DER -in "$1" -noout
}

# profile_all PKI LAB LAYOUT BASES...: every docs/profile.md setting of every
# certificate; EKU, cdp and aia follow the lab entry's overrides when it has them.
profile_all() {
	_pki=$1 _lab=$2 _layout=$3; shift 3
	_lbl=${_lab#"$TOP"/}
	pki_rows "$_pki" >"$T/.prows"
	check "$_lbl: private/ is 0700 (keys in a 0700 directory)" c_mode "$_pki/private" 700
	check "$_lbl: (issuer, serial) has no duplicates in the database (RFC 5280 §4.1.2.2)" \
		test -z "$(sqlite3 "$_pki/pkilab.db" 'select issuer_id, serial from certs group by 1, 2 having count(*) > 1')"
	while IFS='|' read -r n ca iss tmpl spec _; do
		p=$_pki/certs/$n.pem ip=$_pki/certs/$iss.pem
		ispec=$(sqlite3 "$_pki/pkilab.db" "select key_spec from certs where current=1 and name='$iss'")
		check "$_lbl $n: serial positive, <= 16 octets, >= 64 random bits (RFC 5280 §4.1.2.2)" c_serial "$p"
		check "$_lbl $n: SKI present, 160-bit method 1 (RFC 5280 §4.2.1.2)" c_ski "$p"
		check "$_lbl $n: time types UTCTime < 2050 <= GeneralizedTime (RFC 5280 §4.1.2.5)" c_times "$p"
		check "$_lbl $n: signature SHA-256, SHA-384 for a P-384 issuer (§9)" c_sigalg "$p" "$ispec"
		check "$_lbl $n: key matches the certificate and the spec $spec (§9)" c_key "$p" "$_pki/private/$n.key" "$spec"
		check "$_lbl $n: key file 0600 (item 5)" c_mode "$_pki/private/$n.key" 600
		check "$_lbl $n: chain file = certificate + intermediates, no root (DESIGN)" c_chain "$_pki" "$n"
		if [ "$n" = "$iss" ]; then
			check "$_lbl $n: root basicConstraints critical CA:TRUE, no pathLen (RFC 5280 §4.2.1.9)" c_ca_bc "$p" ""
			check "$_lbl $n: root keyUsage critical keyCertSign+cRLSign (RFC 5280 §4.2.1.3)" c_ku "$p" "Certificate Sign, CRL Sign"
			check "$_lbl $n: root self-issued: issuer DN = subject DN bytes (RFC 5280 §4.1.2.4)" c_dn_equal "$p" "$p"
			check "$_lbl $n: root has no CDP, no AIA, no EKU (docs/profile.md; RFC 5280 §4.2.1.13)" c_no_ext "$p" "CRL Distribution Points\|Authority Information Access\|Extended Key Usage"
		else
			check "$_lbl $n: AKI keyIdentifier = SKI of $iss, non-critical (RFC 5280 §4.2.1.1)" c_aki "$p" "$ip"
			check "$_lbl $n: issuer DN DER byte-equal to subject DN DER of $iss (RFC 5280 §4.1.2.4)" c_dn_equal "$p" "$ip"
			if [ "$(entry_setting "$_lab" "$n" cdp)" = false ]; then
				check "$_lbl $n: no CDP (cdp = false in the lab)" c_no_ext "$p" "CRL Distribution Points"
			else
				check "$_lbl $n: CDP $_layout -> $iss's CRL, bases in lab order (RFC 5280 §4.2.1.13)" c_cdp "$p" "$iss" "$_layout" "$@"
			fi
			if [ "$(entry_setting "$_lab" "$n" aia)" = false ]; then
				check "$_lbl $n: no AIA (aia = false in the lab)" c_no_ext "$p" "Authority Information Access"
			else
				check "$_lbl $n: AIA caIssuers -> $iss's certificate, bases in lab order (RFC 5280 §4.2.2.1)" c_aia "$p" "$iss" "$@"
			fi
		fi
		if [ "$ca" = 1 ]; then
			check "$_lbl $n: initial CRL v2, signed, empty, CRL number, AKI, nextUpdate (RFC 5280 §5.1.2.1; RFC 5280 §5.1.2.5; RFC 5280 §5.1.2.6; RFC 5280 §5.2.1; RFC 5280 §5.2.3)" \
				c_crl "$_pki/publish/crl/$n.crl" "$p"
			check "$_lbl $n: publish/aia/$n.crt is the DER certificate (RFC 5280 §4.2.2.1)" c_aia_der "$_pki/publish/aia/$n.crt" "$p"
			if [ "$n" != "$iss" ]; then
				check "$_lbl $n: intermediate basicConstraints critical CA:TRUE pathlen:0 (RFC 5280 §4.2.1.9)" c_ca_bc "$p" 0
				check "$_lbl $n: intermediate keyUsage critical keyCertSign+cRLSign, no EKU (RFC 5280 §4.2.1.3; docs/profile.md)" c_int_ku "$p"
			fi
		fi
		case "$tmpl" in
		ipsec-gateway)
			case "$spec" in
			rsa:*) check "$_lbl $n: RSA gateway KU critical digitalSignature+keyEncipherment (RFC 4945 §5.1.3.2; RFC 8813 §3)" c_ku "$p" "Digital Signature, Key Encipherment" ;;
			*) check "$_lbl $n: EC gateway KU critical digitalSignature only (RFC 4945 §5.1.3.2; RFC 8813 §3)" c_ku "$p" "Digital Signature" ;;
			esac
			_ov=$(entry_setting "$_lab" "$n" extended_key_usage)
			if [ -n "$_ov" ]; then
				check "$_lbl $n: gateway EKU as the lab overrides it: $_ov" c_eku "$p" "$(eku_text "$_ov")"
			else
				check "$_lbl $n: gateway EKU serverAuth + ikeIntermediate 1.3.6.1.5.5.8.2.2 + ipsecIKE (RFC 4945 §5.1.3.12; strongSwan Windows requirements; MS AOVPN certificates)" \
					c_eku "$p" "TLS Web Server Authentication, 1.3.6.1.5.5.8.2.2, ipsec Internet Key Exchange"
			fi
			if ext_value "$p" "Subject Alternative Name" | grep -q "IP Address"; then
				check "$_lbl $n: IP SAN present as iPAddress and as dNSName (strongSwan Windows requirements)" c_san_ip_dns "$p"
			fi
			check "$_lbl $n: not a CA (no CA:TRUE, no keyCertSign) (RFC 5280 §4.2.1.9)" c_no_ext "$p" "CA:TRUE\|Certificate Sign"
			;;
		ipsec-client)
			check "$_lbl $n: client KU critical digitalSignature (RFC 4945 §5.1.3.2)" c_ku "$p" "Digital Signature"
			_ov=$(entry_setting "$_lab" "$n" extended_key_usage)
			if [ -n "$_ov" ]; then
				check "$_lbl $n: client EKU as the lab overrides it: $_ov" c_eku "$p" "$(eku_text "$_ov")"
			else
				check "$_lbl $n: client EKU clientAuth + ipsecIKE (strongSwan Windows requirements; RFC 4945 §5.1.3.12)" c_eku "$p" "TLS Web Client Authentication, ipsec Internet Key Exchange"
			fi
			;;
		esac
	done <"$T/.prows"
}
c_chain() { # pki name: chain = cert, then issuers except the root
	_c=$T/.chain; cat "$1/certs/$2.pem" >"$_c"
	for _i in $(issuers_of "$1" "$2"); do
		[ "$_i" = "$(root_of "$1" "$2")" ] || cat "$1/certs/$_i.pem" >>"$_c"
	done
	cmp "$_c" "$1/certs/$2-chain.pem" || diff "$_c" "$1/certs/$2-chain.pem" | head
}
