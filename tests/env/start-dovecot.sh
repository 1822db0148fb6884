#!/usr/bin/env bash
# tests/env/start-dovecot.sh STATE_DIR
# tests/env/start-dovecot.sh --install     (only installs the packages, as root)
#
# A throwaway Dovecot 2.3 IMAP (+ LMTP) server for guichet's tests, loopback only, everything
# (config, users, Maildirs, sockets, logs, TLS cert) inside STATE_DIR. Adapted from the recipe
# in ../shared/testenv/ (its README lists the gotchas each setting below answers).
#
#   IMAP   127.0.0.1:$IMAP_PORT  (default 25143, plain + STARTTLS)
#   IMAPS  127.0.0.1:$IMAPS_PORT (default 25993, implicit TLS, self-signed)
#   LMTP   127.0.0.1:$LMTP_PORT  (default 25024, for Postfix / tests to deliver)
#
# The tests start one per test (tests/common/dovecot.rs) on free ports, so that restarts and
# UIDVALIDITY changes touch no other test; tests/run.sh runs `--install` once before them.
# A port already taken makes the script exit 75 (the caller picks another one).
#
# Idempotent: if the instance in STATE_DIR is already running it only prints
# the connection info. Otherwise it (re)writes the config and starts Dovecot;
# existing mail in STATE_DIR is kept (delete STATE_DIR for a clean slate).
#
# Writes: STATE_DIR/env        shell-sourceable connection info
#         STATE_DIR/stop.sh    stops this instance (by its pid file)
#         STATE_DIR/doveadm    wrapper: doveadm with this instance's config
#         STATE_DIR/deliver    wrapper: dovecot-lda delivery  (deliver USER < msg)
#
# Runs as root (CI case): Dovecot master runs as root, mail files are owned by
# an unprivileged system user "vmail" (created if missing). Run as non-root it
# uses Dovecot's "rootless" mode (all processes and mail owned by the caller).
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR | --install}
IMAP_PORT=${IMAP_PORT:-25143}
IMAPS_PORT=${IMAPS_PORT:-25993}
LMTP_PORT=${LMTP_PORT:-25024}
MAIL_DOMAIN=${MAIL_DOMAIN:-example.test}
# space-separated "localpart[:password]"; password defaults to $TEST_PASSWORD
TEST_USERS=${TEST_USERS:-"support-smsu support-geforp alice bob catchall"}
TEST_PASSWORD=${TEST_PASSWORD:-secret}
HOST=127.0.0.1

# ---------------------------------------------------------------- install --
# apt's postinst would start the *system* dovecot on 0.0.0.0:143/993 via
# invoke-rc.d; a policy-rc.d that exits 101 forbids that. (This image already
# ships one; create it temporarily if it's missing.)
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "need root to apt-get install ${missing[*]}" >&2; exit 1; }
  local tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; tmp_policy=1
  fi
  local rc=0
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  } || rc=$?
  [ $tmp_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}
apt_install dovecot-imapd dovecot-lmtpd openssl
[ "$STATE" = --install ] && exit 0

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)          # Dovecot wants absolute paths
CONF=$STATE/dovecot.conf

print_info() {
  cat "$STATE/env"
  echo "# users (password): $(cut -d: -f1 "$STATE/users" | tr '\n' ' ')"
  echo "# stop with: $STATE/stop.sh"
}

# ------------------------------------------------------ already running? --
if [ -f "$STATE/run/master.pid" ] && kill -0 "$(cat "$STATE/run/master.pid")" 2>/dev/null; then
  echo "# dovecot already running (pid $(cat "$STATE/run/master.pid"))"
  print_info
  exit 0
fi

# Refuse to start if something else listens on our ports (another test run,
# another fixture): the readiness probe would otherwise talk to the wrong server.
port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
for p in $IMAP_PORT $IMAPS_PORT $LMTP_PORT; do
  if port_busy "$p"; then echo "ERROR: $HOST:$p is already in use (set another port)" >&2; exit 75; fi
done

mkdir -p "$STATE/run" "$STATE/mail" "$STATE/ssl" "$STATE/state"

# ----------------------------------------------------- who owns the mail --
if [ "$(id -u)" -eq 0 ]; then
  MAIL_USER=vmail
  id -u "$MAIL_USER" >/dev/null 2>&1 ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$MAIL_USER"
  MAIL_GROUP=$(id -gn "$MAIL_USER")
  # GOTCHA: `mktemp -d` makes 0700 dirs; the vmail/dovecot users must be able
  # to traverse every parent of STATE_DIR.
  chmod 755 "$STATE"
  if ! runuser -u "$MAIL_USER" -- test -x "$STATE"; then
    echo "ERROR: user $MAIL_USER cannot traverse $STATE (a parent dir is 0700?); chmod 755 it" >&2
    exit 1
  fi
  chown -R "$MAIL_USER:$MAIL_GROUP" "$STATE/mail"
  ROOT_OR_NOT="# master runs as root; mail is owned by $MAIL_USER
mail_uid = $MAIL_USER
mail_gid = $MAIL_GROUP
first_valid_uid = $(id -u $MAIL_USER)"
else
  MAIL_USER=$(id -un); MAIL_GROUP=$(id -gn)
  ROOT_OR_NOT="# rootless mode: every process runs as $MAIL_USER, no chroots
default_internal_user = $MAIL_USER
default_internal_group = $MAIL_GROUP
default_login_user = $MAIL_USER
first_valid_uid = $(id -u)
service anvil {
  chroot =
}
service imap-login {
  chroot =
}"
fi

# ------------------------------------------------------------ TLS cert --
# A test CA (ssl/ca.pem, for clients' trust) and the server's certificate signed by it
# (ssl/cert.pem, for localhost and 127.0.0.1). One self-signed certificate would not do:
# openssl marks it CA:TRUE, and rustls (webpki) refuses a CA certificate as a server's.
if [ ! -s "$STATE/ssl/cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "/CN=guichet test CA" \
    -keyout "$STATE/ssl/ca-key.pem" -out "$STATE/ssl/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$STATE/ssl/key.pem" -out "$STATE/ssl/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    > "$STATE/ssl/server.ext"
  openssl x509 -req -in "$STATE/ssl/server.csr" -CA "$STATE/ssl/ca.pem" -CAkey "$STATE/ssl/ca-key.pem" \
    -CAcreateserial -days 3650 -extfile "$STATE/ssl/server.ext" -out "$STATE/ssl/cert.pem" 2>/dev/null
  chmod 600 "$STATE/ssl/key.pem" "$STATE/ssl/ca-key.pem"   # read by the master (root) only
fi

# --------------------------------------------------------------- users ---
# passwd-file: user@domain:{PLAIN}password  (one IMAP account per "offer")
: > "$STATE/users.new"
for u in $TEST_USERS; do
  name=${u%%:*}; pw=$TEST_PASSWORD
  [[ $u == *:* ]] && pw=${u#*:}
  echo "$name@$MAIL_DOMAIN:{PLAIN}$pw" >> "$STATE/users.new"
done
mv "$STATE/users.new" "$STATE/users"
chmod 644 "$STATE/users"             # auth process runs as the dovecot user

# -------------------------------------------------------------- config ---
cat > "$CONF" <<EOF
# Throwaway Dovecot test instance - generated by start-dovecot.sh
# Does NOT include /etc/dovecot/conf.d: this file is the whole config.
instance_name = dovecot-test-$IMAP_PORT
base_dir  = $STATE/run
state_dir = $STATE/state
listen    = $HOST
protocols = imap lmtp

log_path  = $STATE/dovecot.log
#mail_debug = yes
#auth_debug = yes

$ROOT_OR_NOT

ssl = yes
ssl_cert = <$STATE/ssl/cert.pem
ssl_key  = <$STATE/ssl/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no          # allow LOGIN on the plain port
auth_mechanisms = ${AUTH_MECHANISMS:-plain login}
# failed logins: no 2 s reply delay (a ~0.5 s batching delay remains) ...
auth_failure_delay = 0 secs
auth_default_realm = $MAIL_DOMAIN    # "alice" == "alice@$MAIL_DOMAIN"
recipient_delimiter = +              # alice+ticket42@ -> alice's INBOX
postmaster_address = postmaster@$MAIL_DOMAIN

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $STATE/users
}
# static userdb: every user gets the same uid and a home under mail/; for
# LMTP/LDA it still asks the passdb whether the user exists (unknown -> 550)
userdb {
  driver = static
  args = uid=$MAIL_USER gid=$MAIL_GROUP home=$STATE/mail/%d/%n
}
mail_location = maildir:~/Maildir

# test speed-ups: no fsync, poll quickly for IDLE if inotify misses something
mail_fsync = never
mailbox_idle_check_interval = 1 secs

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
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

service imap-login {
  inet_listener imap {
    address = $HOST
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $HOST
    port = $IMAPS_PORT
    ssl = yes
  }
}
# ... and no per-IP brute-force penalty (2,4,8..15 s per failure from 127.0.0.1),
# otherwise bad-password tests get slower and slower (login_trusted_networks
# does not lift it here)
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# SASL for Postfix (smtpd_sasl_type = dovecot): SMTP AUTH with the same users
service auth {
  unix_listener auth-smtp {
    mode = 0666
  }
}
service lmtp {
  inet_listener lmtp {
    address = $HOST
    port = $LMTP_PORT
  }
}
EOF

# ----------------------------------------------------------- wrappers ----
cat > "$STATE/doveadm" <<EOF
#!/bin/sh
# doveadm against this test instance, e.g.: $STATE/doveadm mailbox list -u alice@$MAIL_DOMAIN
exec /usr/bin/doveadm -c "$CONF" "\$@"
EOF
cat > "$STATE/deliver" <<EOF
#!/bin/sh
# local delivery (like an MTA would): $STATE/deliver alice@$MAIL_DOMAIN < message.eml
# extra args go to dovecot-lda, e.g. -m Folder  -f sender@example.org
rcpt=\${1:?usage: deliver RECIPIENT [dovecot-lda args] < msg}; shift
exec /usr/lib/dovecot/dovecot-lda -c "$CONF" -d "\$rcpt" "\$@"
EOF
cat > "$STATE/stop.sh" <<EOF
#!/bin/sh
# stop the dovecot test instance in $STATE (by its own pid file)
pidf="$STATE/run/master.pid"
[ -f "\$pidf" ] || exit 0
pid=\$(cat "\$pidf")
kill "\$pid" 2>/dev/null || exit 0
for i in \$(seq 50); do kill -0 "\$pid" 2>/dev/null || exit 0; sleep 0.1; done
echo "dovecot pid \$pid did not stop" >&2; exit 1
EOF
chmod +x "$STATE/doveadm" "$STATE/deliver" "$STATE/stop.sh"

cat > "$STATE/env" <<EOF
IMAP_HOST=$HOST
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
LMTP_PORT=$LMTP_PORT
MAIL_DOMAIN=$MAIL_DOMAIN
IMAP_PASSWORD=$TEST_PASSWORD
IMAP_TLS_CA=$STATE/ssl/ca.pem
DOVECOT_CONF=$CONF
MAILDIR_ROOT=$STATE/mail
EOF

# --------------------------------------------------------------- start ---
# daemonizes; pid in $STATE/run/master.pid. A port free when probed above may be taken by
# the time Dovecot binds it (another test's connection, another fixture): that is exit 75
# too, so the caller picks other ports, rather than a failure.
# Its messages go through a file: the daemon keeps the descriptor it was given, so a pipe
# (a command substitution) would wait for it to exit.
if ! /usr/sbin/dovecot -c "$CONF" 2>"$STATE/start.err"; then
  cat "$STATE/start.err" >&2
  grep -q "Address already in use" "$STATE/start.err" && exit 75
  exit 1
fi
cat "$STATE/start.err" >&2

# ready = the IMAP greeting arrives (bash /dev/tcp, no extra tools needed)
deadline=$((SECONDS + ${WAIT_SECS:-20}))
while [ $SECONDS -lt $deadline ]; do
  if greeting=$(timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$IMAP_PORT; head -c 4 <&3" 2>/dev/null) \
     && [ "$greeting" = "* OK" ]; then
    echo "# dovecot ready (pid $(cat "$STATE/run/master.pid"))"
    print_info
    exit 0
  fi
  sleep 0.1
done
echo "dovecot did not become ready; log:" >&2
tail -20 "$STATE/dovecot.log" >&2
"$STATE/stop.sh" || true    # leave nothing half-started
exit 1
