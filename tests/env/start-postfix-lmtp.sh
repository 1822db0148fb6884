#!/usr/bin/env bash
# tests/env/start-postfix-lmtp.sh STATE_DIR DOVECOT_STATE_DIR
#
# A throwaway Postfix that is the mail server of every domain a full-loop test uses, and
# delivers all of it into a Dovecot of tests/env/start-dovecot.sh over LMTP: the support
# address and the contacts' addresses alike, so that what guichet sends can be read back over
# IMAP by the contact, and what the contact answers reaches the support mailbox guichet reads.
# (tests/env/start-postfix.sh is the other Postfix: deploy/postfix.md's pipe to `guichet
# deliver`, no Dovecot.) Adapted from ../shared/testenv/start-postfix.sh (its README lists the
# gotchas the settings below answer).
#
#   smtpd   127.0.0.1:$SMTP_PORT (required; exit 75 when taken: the caller picks another)
#   ALIASES "address=user ..." (required): each address is delivered to the Dovecot user
#           `user@$MAIL_DOMAIN`; plus-addresses too (address+tag@domain keeps its tag, which
#           Dovecot drops: recipient_delimiter). Any other address of those domains is refused
#           at RCPT (550), and so is any other domain (554 relay access denied): a mistake in
#           a test shows at once, nothing is queued for nobody, nothing leaves the machine.
#
# The LMTP port, the mail domain and the users come from DOVECOT_STATE_DIR (its env and
# users files). No TLS, no AUTH: clients on 127.0.0.1 send without a login, as to a relay on
# the same machine. The log is STATE_DIR/postfix.log (no syslog here), retries are fast.
#
# Needs root (Postfix's master runs as root) and Postfix installed (tests/env/start-postfix.sh,
# which tests/run.sh runs as root, installs it). Idempotent: on a running state dir it only
# prints the env. Stop with tests/env/stop-postfix.sh STATE_DIR (by the master's pid file).
# stdout: the env lines (FULL_LOOP_SMTP_PORT), also written to STATE_DIR/env; stderr: progress.
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR DOVECOT_STATE_DIR}
DOVECOT=${2:?usage: $0 STATE_DIR DOVECOT_STATE_DIR}
SMTP_PORT=${SMTP_PORT:?set SMTP_PORT}
ALIASES=${ALIASES:?set ALIASES (\"address=user ...\")}
WAIT_SECS=${WAIT_SECS:-30}
HOST=127.0.0.1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

ms() { echo $(($(date +%s%N) / 1000000)); }
t_start=$(ms)
log() { echo "# postfix-lmtp: $*" >&2; }
die() { echo "ERROR: start-postfix-lmtp: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix's master runs as root)"
[ -x /usr/sbin/postfix ] ||
  die "postfix is not installed: tests/env/start-postfix.sh installs it (tests/run.sh runs it as root)"
[ -f "$DOVECOT/env" ] && [ -f "$DOVECOT/users" ] ||
  die "no Dovecot state in $DOVECOT: start it first with tests/env/start-dovecot.sh"
LMTP_PORT=$(sed -n 's/^LMTP_PORT=//p' "$DOVECOT/env")
MAIL_DOMAIN=$(sed -n 's/^MAIL_DOMAIN=//p' "$DOVECOT/env")

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
port_busy "$SMTP_PORT" && { echo "ERROR: start-postfix-lmtp: $HOST:$SMTP_PORT is in use" >&2; exit 75; }

mkdir -p "$ETC" "$STATE/spool" "$STATE/data"
# The postfix user must traverse STATE (mktemp -d makes 0700 directories).
chmod 755 "$STATE"
# Postfix wants a root-owned queue directory and owns its data directory.
chown root:root "$STATE/spool"
chown postfix:postfix "$STATE/data"

# ------------------------------------------------------------- tables ----
# Dovecot's users are the mailboxes of MAIL_DOMAIN; ALIASES maps the test's addresses to them.
cut -d: -f1 "$DOVECOT/users" | sed 's/$/ OK/' > "$ETC/mailboxes"
: > "$ETC/aliases"
domains=()
for pair in $ALIASES; do
  address=${pair%%=*}
  user=${pair#*=}
  [[ $pair == *=* && $address == *@* && -n $user ]] || die "ALIASES: '$pair' is not address=user"
  grep -q "^$user@$MAIL_DOMAIN " "$ETC/mailboxes" || die "ALIASES: no Dovecot user $user@$MAIL_DOMAIN"
  echo "$address $user@$MAIL_DOMAIN" >> "$ETC/aliases"
  domain=${address#*@}
  [[ " ${domains[*]} " == *" $domain "* ]] || domains+=("$domain")
done

# GOTCHA: main.cf has no end-of-line comments ("key = value # x" makes "# x" part of the value)
cat > "$ETC/main.cf" <<EOF
# full-loop test instance - written by tests/env/start-postfix-lmtp.sh
compatibility_level = 3.6
config_directory = $ETC
queue_directory  = $STATE/spool
data_directory   = $STATE/data
# no syslog here: log to a file (needs the postlog service in master.cf)
maillog_file     = $STATE/postfix.log
maillog_file_prefixes = $STATE

myhostname = mx.$MAIL_DOMAIN
mydomain   = $MAIL_DOMAIN
myorigin   = \$mydomain
inet_interfaces = loopback-only
inet_protocols  = ipv4
mynetworks      = 127.0.0.0/8
# only the domains below are accepted, even from loopback: nothing is relayed elsewhere
smtpd_relay_restrictions = reject_unauth_destination

# no DNS, no local delivery, nothing sent anywhere but to Dovecot's LMTP
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup  = no
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
local_transport   = error:local delivery disabled in tests
default_transport = error:outbound mail disabled in tests
relay_transport   = error:outbound mail disabled in tests
relay_domains =

# the test's domains: each address of ALIASES goes to a Dovecot user (envelope only: the
# headers are left as the sender wrote them); any other address there is unknown (550)
virtual_alias_domains = ${domains[*]}
virtual_alias_maps    = texthash:$ETC/aliases
virtual_mailbox_domains = $MAIL_DOMAIN
virtual_mailbox_maps    = texthash:$ETC/mailboxes
virtual_transport       = lmtp:inet:$HOST:$LMTP_PORT
recipient_delimiter     = +

# test speed-ups: no artificial delays, fast retries if Dovecot was down
in_flow_delay = 0
smtpd_error_sleep_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
biff = no
EOF

# Debian's default master.cf chroots its services into the queue directory (needing /etc
# files copied in): this one chroots nothing.
cat > "$ETC/master.cf" <<EOF
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
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

cat > "$STATE/env" <<EOF
export FULL_LOOP_SMTP_PORT=$SMTP_PORT
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
log "ready on $HOST:$SMTP_PORT, delivering to LMTP $HOST:$LMTP_PORT, in $(($(ms) - t0)) ms (pid $(tr -d ' ' < "$PIDFILE"), $(($(ms) - t_start)) ms total); stop with tests/env/stop-postfix.sh $STATE"
cat "$STATE/env"
