#!/usr/bin/env bash
# tests/env/start-smtp-sink.sh STATE_DIR
# tests/env/start-smtp-sink.sh --install     (only installs aiosmtpd, once)
#
# A throwaway SMTP server for guichet's mail-out tests (Python aiosmtpd), loopback only,
# everything (script, TLS certificates, received mail, log) inside STATE_DIR. Adapted from the
# recipe in ../shared/testenv/start-smtp-sink.sh. It never relays: every accepted message is
# written to the Maildir STATE_DIR/maildir (new/), headed by "X-Sink-Mail-From:" and
# "X-Sink-Rcpt-To:" lines (the envelope), and one JSON line per message is appended to
# STATE_DIR/messages.jsonl (mail_from, rcpt_tos, file, auth).
#
#   SMTP   127.0.0.1:$SINK_PORT      (default 25026, plain + STARTTLS)
#   SMTPS  127.0.0.1:$SINK_TLS_PORT  (default 25465, implicit TLS)
#
# Real replies the tests need (no mock: the client speaks SMTP to a server):
#   RCPT TO:<refuse...@...>  -> 550 5.1.1 <addr>: Recipient address rejected  (permanent)
#   RCPT TO:<later...@...>   -> 451 4.3.0 Try again later                      (transient)
#   AUTH PLAIN / LOGIN       any user, password $SINK_PASSWORD (default "secret")
#   AUTH XOAUTH2             accepted when the bearer token equals $SINK_OAUTH2_TOKEN (when set);
#                            otherwise 535
#   SINK_REQUIRE_AUTH=1      MAIL FROM before AUTH -> 530 5.7.0 Authentication required
# AUTH is offered on the plain connection too (tests need not do TLS to log in).
#
# TLS: a test CA (tls/ca.pem, what clients trust: STATE_DIR/env has it as SINK_TLS_CA) and the
# server's certificate signed by it (SAN DNS:localhost, IP:127.0.0.1). One self-signed
# certificate would not do: openssl marks it CA:TRUE and rustls refuses a CA certificate as a
# server's.
#
# The tests start one per test (tests/common/smtp_sink.rs) on free ports; tests/run.sh runs
# `--install` once before them. A port already taken makes the script exit 75 (the caller picks
# other ports). Idempotent: on a running instance it only prints the connection info; a start
# on an existing STATE_DIR keeps its mail and certificates (a restart).
#
# Runtime: Debian's python3-aiosmtpd (apt, as root), else a venv ($SINK_VENV, default
# ~/.cache/guichet-tests/aiosmtpd) made with uv when on PATH, else pip. SINK_PYTHON picks the
# interpreter.
#
# Writes: STATE_DIR/env (shell-sourceable), STATE_DIR/sink.pid, STATE_DIR/stop.sh, sink.log.
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR | --install}
SINK_PORT=${SINK_PORT:-25026}
SINK_TLS_PORT=${SINK_TLS_PORT:-25465}
SINK_PASSWORD=${SINK_PASSWORD:-secret}
SINK_REQUIRE_AUTH=${SINK_REQUIRE_AUTH:-0}
SINK_OAUTH2_TOKEN=${SINK_OAUTH2_TOKEN:-}
SINK_VENV=${SINK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/guichet-tests/aiosmtpd}
HOST=127.0.0.1

# ---------------------------------------------------------------- install --
# The first interpreter that can import aiosmtpd: SINK_PYTHON, Debian's, the venv's.
# (`python3` on PATH may be another one, e.g. pyenv's, that does not see Debian's package.)
find_python() {
  local py
  for py in "${SINK_PYTHON:-}" /usr/bin/python3 "$SINK_VENV/bin/python"; do
    if [ -n "$py" ] && [ -x "$py" ] && "$py" -c 'import aiosmtpd' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

# apt's postinst could start system daemons: a policy-rc.d that exits 101 forbids that (as in
# start-dovecot.sh). python3-aiosmtpd starts none, but the guard costs nothing.
apt_install() {
  local tmp_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; tmp_policy=1
  fi
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  } || rc=$?
  [ $tmp_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

install_runtime() {
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt_install python3-aiosmtpd openssl
  else
    rm -rf "$SINK_VENV"
    mkdir -p "$(dirname "$SINK_VENV")"
    if command -v uv >/dev/null; then
      uv venv -q "$SINK_VENV" && VIRTUAL_ENV=$SINK_VENV uv pip install -q "aiosmtpd>=1.4,<2"
    else
      python3 -m venv "$SINK_VENV" &&
        "$SINK_VENV/bin/pip" install -q --disable-pip-version-check "aiosmtpd>=1.4,<2"
    fi
  fi
}

# Tests start sinks in parallel: one installs, the others wait for it and then find it.
# (per user: root installs with apt, another user into its own venv)
LOCK=${TMPDIR:-/tmp}/guichet-smtp-sink-install.$(id -u).lock
PY=$(
  exec 9> "$LOCK"
  flock 9
  find_python || { install_runtime >&2 && find_python; }
) || { echo "ERROR: no Python with aiosmtpd, and installing it failed" >&2; exit 1; }
[ "$STATE" = --install ] && { echo "# aiosmtpd: $PY"; exit 0; }

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
PIDFILE=$STATE/sink.pid

print_info() { cat "$STATE/env"; echo "# stop with: $STATE/stop.sh"; }

# ------------------------------------------------------ already running? --
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "# smtp sink already running (pid $(cat "$PIDFILE"))"; print_info; exit 0
fi

# Refuse to start if something else listens on our ports (another test run, another fixture):
# the readiness probe would otherwise talk to the wrong server.
port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
for p in $SINK_PORT $SINK_TLS_PORT; do
  if port_busy "$p"; then echo "ERROR: $HOST:$p is already in use (set another port)" >&2; exit 75; fi
done

mkdir -p "$STATE/maildir"/{new,cur,tmp} "$STATE/tls"
touch "$STATE/messages.jsonl"

# ------------------------------------------------------------ TLS certs --
if [ ! -s "$STATE/tls/cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=guichet test CA" -keyout "$STATE/tls/ca-key.pem" -out "$STATE/tls/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$STATE/tls/key.pem" -out "$STATE/tls/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    > "$STATE/tls/server.ext"
  openssl x509 -req -in "$STATE/tls/server.csr" -CA "$STATE/tls/ca.pem" -CAkey "$STATE/tls/ca-key.pem" \
    -CAcreateserial -days 3650 -extfile "$STATE/tls/server.ext" -out "$STATE/tls/cert.pem" 2>/dev/null
  chmod 600 "$STATE/tls/key.pem" "$STATE/tls/ca-key.pem"
fi

# ------------------------------------------------------------ the sink ---
cat > "$STATE/smtp_sink.py" <<'PY'
"""SMTP sink for guichet's tests: every accepted message -> Maildir file + JSON line."""
import base64, json, logging, mailbox, os, signal, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

host, port, tls_port, state = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
password = os.environ.get("SINK_PASSWORD", "secret").encode()
oauth2_token = os.environ.get("SINK_OAUTH2_TOKEN", "")
require_auth = os.environ.get("SINK_REQUIRE_AUTH", "0") == "1"
# aiosmtpd's errors (a handler raising) into sink.log; SINK_LOG_LEVEL=DEBUG shows the dialogue
logging.basicConfig(level=os.environ.get("SINK_LOG_LEVEL", "WARNING"))
md = mailbox.Maildir(os.path.join(state, "maildir"), create=True)
log = open(os.path.join(state, "messages.jsonl"), "a", buffering=1)


def who(auth_data):
    """The authenticated user, for the JSON line (None without AUTH)."""
    if isinstance(auth_data, LoginPassword):
        return auth_data.login.decode(errors="replace")
    return auth_data


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.rsplit("@", 1)[0].lower()
        if local.startswith("refuse"):
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        if local.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        hdr = (f"X-Sink-Mail-From: {envelope.mail_from}\r\n"
               f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        key = md.add(hdr + envelope.original_content)      # atomic tmp/ -> new/
        # the file first, then its line: a reader that sees the line finds the file
        log.write(json.dumps({"time": time.time(), "mail_from": envelope.mail_from,
                              "rcpt_tos": envelope.rcpt_tos, "file": f"new/{key}",
                              "auth": who(session.auth_data)}) + "\n")
        return "250 OK queued as " + key

    # XOAUTH2 (Gmail, Microsoft 365): base64 of "user=U\x01auth=Bearer TOKEN\x01\x01".
    # A refusal answers 535 at once (Gmail first sends a 334 JSON challenge; lettre would
    # take that for a client error, not the server's refusal).
    async def auth_XOAUTH2(self, server, args):
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except Exception:
                return AuthResult(success=False, handled=False,
                                  message="501 5.5.2 Can't decode base64")
        fields = dict(f.split(b"=", 1) for f in blob.split(b"\x01") if b"=" in f)
        user = fields.get(b"user", b"").decode(errors="replace")
        ok = bool(oauth2_token) and fields.get(b"auth", b"") == b"Bearer " + oauth2_token.encode()
        # handled=False: aiosmtpd then answers 235 or 535 itself (its default, True, means
        # "I answered already" and the client waits forever)
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == password
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(f"{state}/tls/cert.pem", f"{state}/tls/key.pem")
    return ctx


common = dict(hostname=host, authenticator=authenticator, auth_required=require_auth,
              auth_require_tls=False,             # AUTH on the plain connection too
              decode_data=False, enable_SMTPUTF8=True, data_size_limit=50 * 1024 * 1024)
smtp = Controller(Sink(), port=port, tls_context=tls_context(), **common)
smtps = Controller(Sink(), port=tls_port, ssl_context=tls_context(), **common)
# block SIGTERM/SIGINT before the server threads start, then wait for them here
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
smtps.start()
smtp.start()              # last: the script's readiness probe looks at this port
print(f"smtp sink listening on {host}:{port}, smtps on {host}:{tls_port}", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
smtp.stop()
smtps.stop()
print("smtp sink stopped", flush=True)
PY

cat > "$STATE/stop.sh" <<EOF
#!/bin/sh
# stop the smtp sink in $STATE (by its pid file) and wait until it is gone
[ -f "$PIDFILE" ] || exit 0
pid=\$(cat "$PIDFILE")
# Gone = no such process, or a zombie: the sink's parent (the start script) is gone, so init
# reaps it, which took ~1.3 s here (its sockets are closed by then).
gone() { ! kill -0 "\$pid" 2>/dev/null || [ "\$(sed 's/.*) //' "/proc/\$pid/stat" 2>/dev/null | cut -c1)" = Z ]; }
kill "\$pid" 2>/dev/null || { rm -f "$PIDFILE"; exit 0; }
for i in \$(seq 200); do gone && { rm -f "$PIDFILE"; exit 0; }; sleep 0.05; done
echo "smtp sink pid \$pid did not stop" >&2; exit 1
EOF
chmod +x "$STATE/stop.sh"

cat > "$STATE/env" <<EOF
SINK_HOST=$HOST
SINK_PORT=$SINK_PORT
SINK_TLS_PORT=$SINK_TLS_PORT
SINK_PASSWORD=$SINK_PASSWORD
SINK_TLS_CA=$STATE/tls/ca.pem
SINK_MAILDIR=$STATE/maildir
SINK_JSONL=$STATE/messages.jsonl
EOF

# --------------------------------------------------------------- start ---
# setsid: its own session, so the caller's shell exiting does not take it down; with no job
# control setsid execs in place, so $! is the sink itself.
SINK_PASSWORD=$SINK_PASSWORD SINK_REQUIRE_AUTH=$SINK_REQUIRE_AUTH SINK_OAUTH2_TOKEN=$SINK_OAUTH2_TOKEN \
  SINK_LOG_LEVEL=${SINK_LOG_LEVEL:-WARNING} setsid "$PY" "$STATE/smtp_sink.py" "$HOST" "$SINK_PORT" "$SINK_TLS_PORT" "$STATE" \
  >> "$STATE/sink.log" 2>&1 < /dev/null &
echo $! > "$PIDFILE"

# ready = the 220 greeting arrives on the plain port (started after the SMTPS one)
deadline=$((SECONDS + ${WAIT_SECS:-20}))
while [ $SECONDS -lt $deadline ]; do
  if banner=$(timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$SINK_PORT; head -c 3 <&3" 2>/dev/null) \
     && [ "$banner" = "220" ]; then
    echo "# smtp sink ready (pid $(cat "$PIDFILE"))"; print_info; exit 0
  fi
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
  sleep 0.1
done
echo "smtp sink did not become ready; log:" >&2
tail -20 "$STATE/sink.log" >&2
"$STATE/stop.sh" || true    # leave nothing half-started
exit 1
