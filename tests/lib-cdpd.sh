# Helpers for the pkilab-cdpd tests (t6NNN-cdpd-*, t7NNN-mirror-*), sourced
# after tests/lib.sh. Fixtures are made with the openssl CLI, independently of
# the product, so a bug in pkilab's CRL signing cannot hide one in the server.
#
#   mkca DIR NAME [ISSUER_DIR]   a CA (EC P-256) with SKI, AKI, keyUsage keyCertSign+cRLSign,
#                                self-signed or issued by ISSUER_DIR's CA; its CDP is
#                                $CDP_URLS (space-separated) when set
#   mkcrl DIR NUMBER OUT [DAYS] [HOURS]  a DER CRL of that CA with that CRL number
#   mkleaf CADIR NAME OUT        a leaf certificate (PEM) issued by CADIR's CA, CDP/AIA from
#                                $CDP_URLS / $AIA_URLS
#   pub_ca PUB CADIR NAME [NUMBER]  a publish directory PUB (crl/, aia/) holding a new CA
#                                (mkca CADIR NAME) as aia/NAME.crt and, with NUMBER, its CRL
#                                of that number as crl/NAME.crl
#   start_cdpd NAME ARGS...      starts $CDPD in the background (log in $T/NAME.log, pid in
#                                $T/NAME.pid), killed at exit; does not wait
#   serve_cdpd DESC NAME BASE ARGS...  start_cdpd NAME ARGS, then the check DESC: BASE/healthz
#                                answers (bounded by PKL_WAIT)
#   stop_cdpd NAME               SIGTERM, bounded wait; returns the exit status
#   kill_cdpd NAME               SIGKILL, waits until it is gone
#   wait_log NAME STRING         bounded wait until NAME's log holds STRING
#   cdpd_reload BASE PID         SIGHUP to PID, then a bounded wait until BASE/healthz reports
#                                a newer catalog generation (cdpd_generation BASE prints it)
#   hget URL [curl args]         GET with a 20 s bound; sets $CODE, $HDRS (file), body in $T/body
#   answered DESC WANTED BYTES [TIMEOUT]  the check DESC: rawhttp to 127.0.0.1:$P prints WANTED

# A publish directory with one CA (and, with NUMBER, its first CRL), the
# fixture most server tests start from.
pub_ca() { # pub cadir name [number]
  mkdir -p "$1/crl" "$1/aia" || return 1
  mkca "$2" "$3" || return 1
  cp "$2/ca.der" "$1/aia/$3.crt" || return 1
  [ -z "${4:-}" ] || mkcrl "$2" "$4" "$1/crl/$3.crl"
}

# openssl's own config for the `ca` command, per CA directory.
_ca_cnf() { # dir
  cat >"$1/ca.cnf" <<EOF
[ ca ]
default_ca = c
[ c ]
dir = $1
database = \$dir/index.txt
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
new_certs_dir = \$dir/new
default_md = sha256
default_crl_days = 7
policy = p
unique_subject = no
crl_extensions = crl_ext
[ p ]
commonName = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = x
EOF
}

mkca() { # dir name [issuer_dir]
  _cdd=$1 _cdn=$2 _cdi=${3:-}
  mkdir -p "$_cdd/new"
  : >"$_cdd/index.txt"
  _ca_cnf "$_cdd"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$_cdd/ca.key" 2>/dev/null || return 1
  {
    echo "[ v3 ]"
    echo "basicConstraints = critical, CA:true"
    echo "keyUsage = critical, keyCertSign, cRLSign"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid:always"
    if [ -n "$_cdi" ] && [ -n "${CDP_URLS:-}" ]; then
      printf 'crlDistributionPoints = '; _sep=""
      for _u in $CDP_URLS; do printf '%sURI:%s' "$_sep" "$_u"; _sep=","; done; echo
    fi
  } >"$_cdd/ext.cnf"
  if [ -z "$_cdi" ]; then
    openssl req -new -x509 -key "$_cdd/ca.key" -subj "/O=pkilab test/CN=$_cdn" -days 3650 \
      -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" -out "$_cdd/ca.pem" || return 1
  else
    openssl req -new -key "$_cdd/ca.key" -subj "/O=pkilab test/CN=$_cdn" -out "$_cdd/ca.csr" || return 1
    openssl x509 -req -in "$_cdd/ca.csr" -CA "$_cdi/ca.pem" -CAkey "$_cdi/ca.key" -CAcreateserial \
      -days 3000 -extfile "$_cdd/ext.cnf" -extensions v3 -out "$_cdd/ca.pem" 2>/dev/null || return 1
  fi
  openssl x509 -in "$_cdd/ca.pem" -outform DER -out "$_cdd/ca.der"
}

mkcrl() { # dir number out [days] [hours]
  printf '%x\n' "$2" | awk '{ if (length($0) % 2) print "0" $0; else print }' >"$1/crlnumber"
  if [ -n "${5:-}" ]; then _span="-crlhours $5"; else _span="-crldays ${4:-7}"; fi
  # shellcheck disable=SC2086
  openssl ca -config "$1/ca.cnf" -gencrl $_span -out "$1/crl.pem" 2>/dev/null || return 1
  openssl crl -in "$1/crl.pem" -outform DER -out "$3"
}

mkleaf() { # cadir name out
  {
    echo "[ v3 ]"
    echo "basicConstraints = critical, CA:false"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = serverAuth"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid:always"
    echo "subjectAltName = DNS:$2"
    if [ -n "${CDP_URLS:-}" ] && [ -n "${CDP_ONE_POINT:-}" ]; then
      # One DistributionPoint whose fullName lists every URI (pkilab's default layout).
      echo "crlDistributionPoints = cdp_sect"
    elif [ -n "${CDP_URLS:-}" ]; then
      printf 'crlDistributionPoints = '; _sep=""
      for _u in $CDP_URLS; do printf '%sURI:%s' "$_sep" "$_u"; _sep=","; done; echo
    fi
    if [ -n "${AIA_URLS:-}" ]; then
      printf 'authorityInfoAccess = '; _sep=""
      for _u in $AIA_URLS; do printf '%scaIssuers;URI:%s' "$_sep" "$_u"; _sep=","; done; echo
    fi
    if [ -n "${CDP_URLS:-}" ] && [ -n "${CDP_ONE_POINT:-}" ]; then
      echo "[ cdp_sect ]"
      printf 'fullname = '; _sep=""
      for _u in $CDP_URLS; do printf '%sURI:%s' "$_sep" "$_u"; _sep=","; done; echo
    fi
  } >"$1/leaf-ext.cnf"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$3.key" 2>/dev/null || return 1
  openssl req -new -key "$3.key" -subj "/CN=$2" -out "$3.csr" || return 1
  openssl x509 -req -in "$3.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial -days 300 \
    -extfile "$1/leaf-ext.cnf" -extensions v3 -out "$3" 2>/dev/null
}

# Revokes a PEM certificate in a CA's openssl database (the next mkcrl lists it).
revoke_leaf() { openssl ca -config "$1/ca.cnf" -revoke "$2" -crl_reason keyCompromise 2>/dev/null; }

start_cdpd() { # name args...
  _name=$1; shift
  "$CDPD" "$@" >"$T/$_name.log" 2>&1 &
  echo $! >"$T/$_name.pid"
  at_exit "kill -KILL $! 2>/dev/null"
}

# The usual start of a server test: start it, and check (DESC) that it answers.
serve_cdpd() { # desc name base args...
  _sdesc=$1 _sname=$2 _sbase=$3; shift 3
  start_cdpd "$_sname" "$@"
  check "$_sdesc" wait_http "$_sbase/healthz"
}

# The last hget was a CRL of a known CA that the server refused: 503 and the
# reason on one line, which doctor shows (not a 404 that reads "publish it").
refused_503() { # [text the reason contains]
  [ "$CODE" = 503 ] || { echo "HTTP $CODE, wanted 503"; return 1; }
  head -n 1 "$T/body" | grep -q "^503 this CRL is not served: .*${1:-}" || { echo "body: $(head -c 300 "$T/body")"; return 1; }
}

# Waits (bounded by PKL_WAIT) until the log of NAME contains a string.
wait_log() { # name string
  until_ok grep -q -- "$2" "$T/$1.log" && return 0
  echo "log $1 lacks: $2"; tail -n 20 "$T/$1.log"; return 1
}

stop_cdpd() { # name -> exit status of the server
  _p=$(cat "$T/$1.pid")
  kill -TERM "$_p" 2>/dev/null
  # A generous bound on a hang, not a measure of promptness.
  if ! until_ok sh -c '! kill -0 "$1" 2>/dev/null' _ "$_p"; then
    kill -KILL "$_p"; echo "did not stop within $PKL_WAIT s"; return 99
  fi
  wait "$_p"
}

# Kills server NAME with SIGKILL and waits until it is gone (its sockets
# closed): an event to wait for, not a delay to guess.
kill_cdpd() { # name
  _p=$(cat "$T/$1.pid")
  kill -KILL "$_p" 2>/dev/null
  wait "$_p" 2>/dev/null
  return 0
}

hget() { # url [curl args...]
  _u=$1; shift
  rm -f "$T/body" "$T/hdrs"
  # shellcheck disable=SC2034 # CODE is read by the tests that source this file
  CODE=$(curl -s --max-time 20 -o "$T/body" -D "$T/hdrs" -w '%{http_code}' "$@" "$_u")
  HDRS=$T/hdrs
}

# The catalog generation BASE/healthz reports (nothing when it reports none).
cdpd_generation() { # base
  hget "$1/healthz"; sed -n 's/.*"generation": \([0-9]*\).*/\1/p' "$T/body"
}
_cdpd_generation_above() { [ "$(cdpd_generation "$1")" -gt "$2" ] 2>/dev/null; }
# A reload the test asks for: SIGHUP, then wait (bounded by PKL_WAIT) for the
# rebuilt catalog, an event, not a delay.
cdpd_reload() { # base pid
  _rg=$(cdpd_generation "$1"); kill -HUP "$2"
  until_ok _cdpd_generation_above "$1" "$_rg" && return 0
  echo "no new generation within $PKL_WAIT s of SIGHUP (reload blocked?)"; return 1
}

# The value of a response header (case-insensitive name), without CR.
hdr() { grep -i "^$1:" "$HDRS" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'; }

# A free port that is also free on 127.0.0.2 / .3: bound on each address by
# the kernel (tests run under dash, which has no /dev/tcp).
free_port_all() {
  python3 - <<'PY'
import socket
for _ in range(50):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    held = [s]
    try:
        for a in ("127.0.0.2", "127.0.0.3"):
            t = socket.socket(); t.bind((a, p)); held.append(t)
    except OSError:
        continue
    finally:
        for h in held: h.close()
    print(p); break
else:
    print(0)
PY
}

# Serves URL the same bytes as FILE (one try; for until_ok).
served_is() { hget "$1"; cmp -s "$T/body" "$2" || { echo "$1 serves something else (HTTP $CODE)"; return 1; }; }
# Polls (bounded by PKL_WAIT) until URL serves exactly FILE.
same_as() { until_ok served_is "$1" "$2"; }
# /healthz at BASE mentions a string (one try; for until_ok).
health_has() { hget "$1/healthz"; grep -q -- "$2" "$T/body" || { cat "$T/body"; return 1; }; }

# Sends raw bytes (perl string escapes allowed: \r\n, \0) to HOST:PORT and
# prints the response status line (or "closed" / "timeout": READ-TIMEOUT, 30 s
# by default, bounds a hang). With DELAY (s),
# the request is sent one byte at a time, DELAY apart: a slow client.
rawreq() { # host port bytes [delay] [read-timeout]
  perl -MIO::Socket::INET -e '
    my ($h, $p, $req, $delay, $to) = @ARGV; $to ||= 30;
    $req =~ s/\\r/\r/g; $req =~ s/\\n/\n/g; $req =~ s/\\0/\0/g;
    my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p, Timeout => 20) or do { print "refused\n"; exit 0 };
    $SIG{PIPE} = "IGNORE";
    if ($delay) { for my $c (split //, $req) { print $s $c or last; $s->flush; select(undef, undef, undef, $delay) } }
    else { print $s $req; }
    my $buf = ""; my $rin = ""; vec($rin, fileno($s), 1) = 1;
    my $t0 = time;
    while (time - $t0 < $to) {
      my $n = select(my $r = $rin, undef, undef, 0.2);
      next unless $n;
      my $got = sysread($s, $buf, 65536, length $buf);
      last unless $got;
      last if $buf =~ /\r\n\r\n/;
    }
    if ($buf =~ /^(HTTP\/1\.\d \d{3}[^\r\n]*)/) { print "$1\n" } elsif (length $buf) { print "garbage\n" } elsif (time - $t0 >= $to) { print "timeout\n" } else { print "closed\n" }
  ' "$@"
}

# Fills a CA's openssl database with N revoked entries, so the next mkcrl is
# big (about 40 bytes per entry: 100000 entries ~ 4 MB).
mkbigindex() { # dir n
  awk -v n="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "R\t351231235959Z\t250101000000Z,keyCompromise\t%08X%08X\tunknown\t/CN=r%d\n", 4096 + i, i * 7919, i }' >"$1/index.txt"
}

# Sends raw bytes (escapes as in rawreq) and reads every response until the
# server closes or TIMEOUT (default 3 s) passes; prints one line
# "CODES CONNECTION END": the status codes of the responses in order, comma
# separated ("none" when there were none), the Connection header of the last
# one ("-" when absent) and "eof" when the server closed the connection,
# "reset" when it reset it, "open" otherwise. Responses are delimited with
# their Content-Length, so a request smuggled into the stream shows up as a
# second code (GET only: a HEAD response carries no body).
rawhttp() { # host port bytes [timeout]
  perl -MIO::Socket::INET -e '
    my ($h, $p, $req, $to) = @ARGV; $to ||= 3;
    $req =~ s/\\r/\r/g; $req =~ s/\\n/\n/g; $req =~ s/\\0/\0/g; $req =~ s/\\e/\e/g; $req =~ s/\\t/\t/g;
    my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p, Timeout => 3) or do { print "refused\n"; exit 0 };
    $SIG{PIPE} = "IGNORE";
    print $s $req;
    my ($buf, $end, $rin) = ("", "open", ""); vec($rin, fileno($s), 1) = 1;
    my $t0 = time;
    while (time - $t0 < $to) {
      next unless select(my $r = $rin, undef, undef, 0.2);
      my $got = sysread($s, $buf, 65536, length $buf);
      if (!defined $got) { $end = "reset"; last }
      if (!$got) { $end = "eof"; last }
    }
    my (@codes, $conn);
    while ($buf =~ s/^HTTP\/1\.\d (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n//) {
      my ($code, $hdrs) = ($1, $2);
      push @codes, $code;
      $conn = $hdrs =~ /^Connection:\s*([^\r\n]*)/mi ? lc $1 : "-";
      my $len = $hdrs =~ /^Content-Length:\s*(\d+)/mi ? $1 : 0;
      substr($buf, 0, $len < length $buf ? $len : length $buf) = "";
    }
    push @codes, "garbage" if length $buf;
    printf "%s %s %s\n", (@codes ? join(",", @codes) : "none"), $conn // "-", $end;
  ' "$@"
}

# One raw request case: sends BYTES (rawhttp) to 127.0.0.1:$P, the port of
# the test's server, and checks (DESC, the answer appended) that the answer
# line is WANTED ("CODES CONNECTION END"). Leaves the answer in $r.
answered() { # desc wanted bytes [timeout]
  _aw=$1 _awant=$2; shift 2
  r=$(rawhttp 127.0.0.1 "$P" "$@")
  check "$_aw ($r)" test "$r" = "$_awant"
}
