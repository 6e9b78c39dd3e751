#!/usr/bin/env bash
# Starts a throw-away mail system for tests, everything under DIR, loopback only:
#   Dovecot (IMAP + IMAPS, LMTP on a unix socket)  +  smtp_server.py (SMTP+STARTTLS, SMTPS)
#   which delivers over LMTP into Dovecot's maildirs.
# Usage: start.sh DIR   (optional env: IMAP_PORT IMAPS_PORT SMTP_PORT SMTPS_PORT,
#                        MAIL_EXTRA_USERS="a@example.test:pw b@example.test:pw",
#                        MAIL_SMTP_AUTH_REQUIRED=1)
# Writes DIR/env (sourceable KEY=VALUE lines) and prints it. Stop with stop.sh DIR.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
die() { echo "start.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: start.sh DIR"
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
# Dovecot's unix sockets live in DIR/run; sun_path is 108 bytes, the longest name is ~30.
[ ${#DIR} -le 70 ] || die "DIR path too long for unix sockets (${#DIR} > 70 chars): use a short dir such as mktemp -d"
[ -e "$DIR/run/master.pid" ] && die "$DIR already has a server (run stop.sh $DIR first)"

# Debian's python3, not whatever python3 is first on PATH (pyenv here): python3-aiosmtpd
# installs into /usr/lib/python3/dist-packages, which only /usr/bin/python3 sees.
PY=/usr/bin/python3
for bin in /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/lmtp /usr/bin/openssl $PY; do
  [ -x "$bin" ] || die "missing $bin: run tests/mail/install.sh (dovecot-imapd dovecot-lmtpd python3-aiosmtpd openssl)"
done
$PY -c 'import aiosmtpd' 2>/dev/null || die "$PY cannot import aiosmtpd: run tests/mail/install.sh (python3-aiosmtpd)"

t0=$(date +%s.%N)
mkdir -p "$DIR"/{run,state,log,mail,tls}
# Mail processes (uid "mail" when we are root) connect to sockets in run/: keep it traversable
# whatever the caller's umask.
chmod 0755 "$DIR/run"

# --- TLS: a private CA plus a leaf cert, so clients verify a chain (rustls rejects a CA cert
# used directly as the server cert, and needs SANs; 127.0.0.1 is an IP SAN for IP connects).
if [ ! -s "$DIR/tls/server.pem" ]; then
  ( cd "$DIR/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=Switchboard test mail CA" -keyout ca.key -out ca.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=mail.example.test" -keyout server.key -out server.csr 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,DNS:mail.example.test,IP:127.0.0.1" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem 2>/dev/null
    chmod 600 ca.key server.key ) || die "openssl failed to create the test certificates"
fi

# --- Users: one passwd-file read by both Dovecot and smtp_server.py.
{ echo "support@example.test:{PLAIN}support-pass"
  echo "customer@example.test:{PLAIN}customer-pass"
  for u in ${MAIL_EXTRA_USERS:-}; do echo "${u%%:*}:{PLAIN}${u#*:}"; done; } > "$DIR/users"
chmod 600 "$DIR/users"

# Picks N distinct free loopback ports by holding them all open at once; a parallel start could
# still grab one before we bind, which is why the start below is retried with fresh ports.
free_ports() { $PY -c '
import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }

# Ready means every port answers with its greeting (Dovecot's master accepts on the IMAP ports
# before imap-login can serve them), over TLS verified against our CA where the port is TLS.
# A server that died (port taken, bad config) fails at once instead of after the timeout.
wait_ready() { $PY - "$DIR" "$IMAP_PORT" "$IMAPS_PORT" "$SMTP_PORT" "$SMTPS_PORT" <<'PYEOF'
import socket, ssl, sys, time
DIR = sys.argv[1]
ctx = ssl.create_default_context(cafile=DIR + "/tls/ca.pem")
deadline = time.monotonic() + 20

def alive(pidfile):  # a zombie (our own unreaped child) counts as dead
    try:
        pid = open(f"{DIR}/run/{pidfile}").read().strip()
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

for port, tls, greeting in zip(map(int, sys.argv[2:]), (0, 1, 0, 1), (b"* OK", b"* OK", b"220", b"220")):
    while True:
        for pidfile in ("master.pid", "smtp.pid"):
            if not alive(pidfile):
                sys.exit(f"start.sh: the server of {pidfile} exited (see DIR/log)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s = ctx.wrap_socket(s, server_hostname="127.0.0.1") if tls else s
                if s.recv(64).startswith(greeting):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"start.sh: port {port}: no {greeting!r} greeting within 20 s")
        time.sleep(0.1)
PYEOF
}

# Everything runs as whoever runs us, so the maildirs and sockets stay ours. Except as root
# (CI): imap-login refuses to run as root, so it runs as the package's "dovenull" user chrooted
# into DIR/run/login (how it reaches its sockets); and Dovecot never accesses mail as root, so
# the mail processes run as Debian's "mail" user, which owns DIR/mail. Reaching DIR/mail needs
# DIR to be go+x (mktemp makes it 0700; g too, as lmtp keeps root's group 0 while it is
# "mail"), hence the chmod; DIR's parents must be o+x too (/tmp is).
ME="$(id -un)"; MYGROUP="$(id -gn)"
if [ "$(id -u)" = 0 ]; then
  for u in dovenull mail; do getent passwd $u >/dev/null || die "system user $u missing (dovecot-core / base-passwd)"; done
  LOGIN_USER=dovenull LOGIN_CHROOT=login ANVIL_CHROOT=empty MAIL_UID="$(id -u mail)" MAIL_GID="$(id -g mail)"
  chown "$MAIL_UID:$MAIL_GID" "$DIR/mail"; chmod 0700 "$DIR/mail"; chmod go+x "$DIR"
else
  # chroot() needs root: Dovecot's default chroots (login, anvil) must be switched off.
  LOGIN_USER="$ME" LOGIN_CHROOT="" ANVIL_CHROOT="" MAIL_UID="$(id -u)" MAIL_GID="$(id -g)"
fi

write_conf() {
  cat > "$DIR/dovecot.conf" <<EOF
# Generated by tests/mail/start.sh; nothing from /etc/dovecot is read.
protocols = imap lmtp
listen = 127.0.0.1
base_dir = $DIR/run
state_dir = $DIR/state
# A unique instance name keeps parallel servers apart in logs and doveadm.
instance_name = sbtest-$$-$RANDOM
log_path = $DIR/log/dovecot.log
default_internal_user = $ME
default_internal_group = $MYGROUP
default_login_user = $LOGIN_USER
# One uid for all virtual users (see above); the range checks would reject e.g. uid 8 or 1000.
mail_uid = $MAIL_UID
mail_gid = $MAIL_GID
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
# Standard special-use folders, so a client can find (and APPEND to) \Sent like on a real host.
namespace inbox {
  inbox = yes
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
}
ssl = yes
ssl_cert = <$DIR/tls/server.pem
ssl_key = <$DIR/tls/server.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
# Plain LOGIN is allowed on the non-TLS port so tests may choose; loopback only anyway.
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests try wrong passwords on purpose; Dovecot's 2 s failure delay and growing per-IP
# penalty (up to 15 s) would make them slow and order-dependent.
auth_failure_delay = 0
postmaster_address = postmaster@example.test
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $DIR/users
}
userdb {
  driver = static
  args = home=$DIR/mail/%Lu
}
service imap-login {
  chroot = $LOGIN_CHROOT
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service anvil {
  chroot = $ANVIL_CHROOT
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
}
EOF
}

try_start() {
  write_conf
  /usr/sbin/dovecot -c "$DIR/dovecot.conf" </dev/null >>"$DIR/log/dovecot.log" 2>&1 || return 1
  # setsid + redirects: the server must not hold the caller's stdout pipe open (a Rust
  # Command::output() would hang) nor die with the caller's process group.
  setsid $PY "$HERE/smtp_server.py" "$DIR" "$SMTP_PORT" "$SMTPS_PORT" \
    </dev/null >>"$DIR/log/smtp.log" 2>&1 &
  echo $! > "$DIR/run/smtp.pid"
  wait_ready && [ -S "$DIR/run/lmtp" ]
}

G1=${IMAP_PORT:-} G2=${IMAPS_PORT:-} G3=${SMTP_PORT:-} G4=${SMTPS_PORT:-}
for attempt in 1 2 3; do
  read -r p1 p2 p3 p4 < <(free_ports 4) || die "could not pick free ports"
  IMAP_PORT=${G1:-$p1} IMAPS_PORT=${G2:-$p2} SMTP_PORT=${G3:-$p3} SMTPS_PORT=${G4:-$p4}
  try_start && break
  echo "start.sh: attempt $attempt failed, see $DIR/log/*.log" >&2
  tail -n 5 "$DIR"/log/*.log >&2 || true
  "$HERE/stop.sh" "$DIR" >/dev/null 2>&1 || true
  [ $attempt -lt 3 ] || die "could not start the mail servers"
done

cat > "$DIR/env" <<EOF
MAIL_HOST=127.0.0.1
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
SMTP_PORT=$SMTP_PORT
SMTPS_PORT=$SMTPS_PORT
MAIL_CA=$DIR/tls/ca.pem
MAIL_TLS_NAME=localhost
MAIL_USERS=$DIR/users
EOF
cat "$DIR/env"
echo "start.sh: mail servers up in $($PY -c "print(round($(date +%s.%N)-$t0,2))")s" >&2
