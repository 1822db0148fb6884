#!/usr/bin/env bash
# tests/env/start-postfix.sh STATE_DIR
#
# A throwaway Postfix that delivers the support domain to `guichet deliver` through the pipe
# transport, built from the recipe itself: the main.cf, master.cf and map blocks of
# deploy/postfix.md (marked "tests/env/start-postfix.sh reads the next block: NAME") are
# extracted and used as they are, with their paths moved into STATE_DIR:
#   /usr/local/bin/guichet       -> STATE_DIR/bin/guichet  (the test links its binary there)
#   /etc/guichet/guichet.toml    -> STATE_DIR/guichet.toml (the test writes or links it)
#   /etc/postfix/                -> STATE_DIR/etc/
# Around them, only what a test instance needs: config, queue and data directories in
# STATE_DIR, smtpd on 127.0.0.1:$SMTP_PORT only (default: the first free port of 25525-25534),
# no DNS, no local delivery, nothing relayed elsewhere, the log in STATE_DIR/postfix.log (no
# syslog here), fast retries. No Dovecot, nothing else.
#
# Needs root (Postfix's master runs as root and the pipe switches to the `guichet` user).
# Installs postfix with apt when missing ("No configuration": no /etc/postfix/main.cf, no
# system instance started), and creates the `guichet` system user when missing, as
# deploy/postfix.md says.
#
# Idempotent: on a running state dir it only prints the env. Stop with
# tests/env/stop-postfix.sh STATE_DIR (by the master's pid file).
# stdout: the env lines (GUICHET_TEST_POSTFIX_DIR, GUICHET_TEST_SMTP_PORT), also written to
# STATE_DIR/env; stderr: progress.
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR}
WAIT_SECS=${WAIT_SECS:-30}
HOST=127.0.0.1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RECIPE=$repo/deploy/postfix.md

ms() { echo $(($(date +%s%N) / 1000000)); }
t_start=$(ms)
log() { echo "# postfix: $*" >&2; }
die() { echo "ERROR: start-postfix: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix's master runs as root; the pipe runs as user guichet)"

# ------------------------------------------------------------ install ----
# policy-rc.d (exit 101) stops the package from starting a system Postfix on port 25.
install_postfix() {
  log "no postfix found: installing it with apt"
  local t0 rc=0 tmp_policy=0
  t0=$(ms)
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    tmp_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 postfix > /dev/null
  } || rc=$?
  if [ "$tmp_policy" -eq 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  [ "$rc" -eq 0 ] || die "apt-get install postfix failed (status $rc)"
  log "installed in $(($(ms) - t0)) ms ($(/usr/sbin/postconf -d -h mail_version))"
}
[ -x /usr/sbin/postfix ] || install_postfix

# The pipe user, as in deploy/postfix.md section 1.
if ! id guichet > /dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/guichet --shell /usr/sbin/nologin guichet
  log "created the guichet system user (uid $(id -u guichet))"
fi

# ------------------------------------------------------------- layout ----
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
ETC=$STATE/etc
PIDFILE=$STATE/spool/pid/master.pid

running() { [ -f "$PIDFILE" ] && kill -0 "$(tr -d ' ' < "$PIDFILE")" 2> /dev/null; }
if running; then
  log "already running in $STATE (pid $(tr -d ' ' < "$PIDFILE"))"
  cat "$STATE/env"
  exit 0
fi

port_busy() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2> /dev/null; }
if [ -n "${SMTP_PORT:-}" ]; then
  port_busy "$SMTP_PORT" && { echo "ERROR: start-postfix: $HOST:$SMTP_PORT is in use" >&2; exit 75; }
else
  for p in $(seq 25525 25534); do
    port_busy "$p" || { SMTP_PORT=$p; break; }
  done
  [ -n "${SMTP_PORT:-}" ] || { echo "ERROR: start-postfix: ports 25525-25534 are all in use" >&2; exit 75; }
fi

mkdir -p "$ETC" "$STATE/spool" "$STATE/data" "$STATE/bin"
# The postfix and guichet users must traverse STATE (mktemp -d makes 0700 directories).
chmod 755 "$STATE" "$STATE/bin"
# Postfix wants a root-owned queue directory and owns its data directory.
chown root:root "$STATE/spool"
chown postfix:postfix "$STATE/data"

# ------------------------------------------------ the recipe's blocks ----
# block NAME: the fenced block after the marker line naming NAME, paths moved into STATE.
block() {
  local text
  text=$(awk -v name="$1" '
    index($0, "tests/env/start-postfix.sh reads the next block: " name " -->") { armed = 1; next }
    armed && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
  ' "$RECIPE")
  [ -n "$text" ] || die "no block '$1' in $RECIPE"
  printf '%s\n' "$text" | sed \
    -e "s|/usr/local/bin/guichet|$STATE/bin/guichet|g" \
    -e "s|/etc/guichet/guichet.toml|$STATE/guichet.toml|g" \
    -e "s|/etc/postfix/|$ETC/|g"
}

# GOTCHA: main.cf has no end-of-line comments ("key = value # x" makes "# x" part of the value)
{
  cat <<EOF
# guichet test instance - written by tests/env/start-postfix.sh; the recipe's lines follow
compatibility_level = 3.6
config_directory = $ETC
queue_directory  = $STATE/spool
data_directory   = $STATE/data
# no syslog here: log to a file (needs the postlog service in master.cf)
maillog_file     = $STATE/postfix.log
maillog_file_prefixes = $STATE

myhostname = mail.guichet.test
mydomain   = guichet.test
myorigin   = \$mydomain
inet_interfaces = loopback-only
inet_protocols  = ipv4
mynetworks      = 127.0.0.0/8
# only what relay_domains names is accepted, even from loopback
smtpd_relay_restrictions = reject_unauth_destination

# no DNS, no local delivery, nothing sent anywhere but to the guichet pipe
smtp_dns_support_level = disabled
smtpd_peername_lookup  = no
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
local_transport   = error:local delivery disabled in tests
default_transport = error:outbound mail disabled in tests
relay_transport   = error:only the guichet transport in tests

# test speed-ups: no artificial delays, fast retries after a deferral
in_flow_delay = 0
smtpd_error_sleep_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
biff = no

# ---- deploy/postfix.md, main.cf ----
EOF
  block main.cf
} > "$ETC/main.cf"

# Debian's default master.cf chroots its services into the queue directory (needing /etc
# files copied in): this one chroots nothing.
{
  cat <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
$HOST:$SMTP_PORT inet n -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# ---- deploy/postfix.md, master.cf ----
EOF
  block master.cf
} > "$ETC/master.cf"

block guichet-recipients > "$ETC/guichet-recipients"
block guichet-transport > "$ETC/guichet-transport"
/usr/sbin/postmap -c "$ETC" "$ETC/guichet-recipients" "$ETC/guichet-transport"

cat > "$STATE/env" <<EOF
export GUICHET_TEST_POSTFIX_DIR=$STATE
export GUICHET_TEST_SMTP_PORT=$SMTP_PORT
EOF

# ------------------------------------------------------------- start ----
# GOTCHA: without a tty and without syslog, postfix(1) errors are invisible; `script` fakes
# a tty so that they reach stderr.
if ! /usr/sbin/postfix -c "$ETC" check; then
  script -qc "/usr/sbin/postfix -c '$ETC' check" /dev/null >&2 || true
  die "postfix check failed"
fi
t0=$(ms)
/usr/sbin/postfix -c "$ETC" start 2>&1 | grep -v "starting the Postfix mail system" >&2 || true

deadline=$((SECONDS + WAIT_SECS))
until banner=$(timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$SMTP_PORT; head -c 3 <&3" 2> /dev/null) &&
  [ "$banner" = 220 ]; do
  if [ $SECONDS -ge $deadline ]; then
    grep -E "fatal|error|warning" "$STATE/postfix.log" 2> /dev/null | tail -10 >&2 || true
    "$repo/tests/env/stop-postfix.sh" "$STATE" || true
    die "no SMTP banner on $HOST:$SMTP_PORT within $WAIT_SECS s"
  fi
  sleep 0.1
done
log "ready on $HOST:$SMTP_PORT in $(($(ms) - t0)) ms (pid $(tr -d ' ' < "$PIDFILE"), $(($(ms) - t_start)) ms total); stop with tests/env/stop-postfix.sh $STATE"
cat "$STATE/env"
