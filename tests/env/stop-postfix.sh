#!/usr/bin/env bash
# tests/env/stop-postfix.sh STATE_DIR
#
# Stops the Postfix that tests/env/start-postfix.sh started in STATE_DIR: `postfix stop`
# signals the master whose pid is in STATE_DIR/spool/pid/master.pid; we wait until that pid
# is gone (and signal it ourselves if `postfix stop` could not). Never looks processes up by
# name. Does nothing (exit 0) when nothing runs there. Keeps the files (the log included).
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR}
PIDFILE=$STATE/spool/pid/master.pid
WAIT_SECS=${WAIT_SECS:-30}

[ -f "$PIDFILE" ] || { echo "# postfix: not running in $STATE" >&2; exit 0; }
pid=$(tr -d ' ' < "$PIDFILE")
kill -0 "$pid" 2> /dev/null || { echo "# postfix: not running in $STATE (stale pid file)" >&2; exit 0; }

t0=$(($(date +%s%N) / 1000000))
/usr/sbin/postfix -c "$STATE/etc" stop 2> /dev/null || kill "$pid" 2> /dev/null || true
deadline=$((SECONDS + WAIT_SECS))
while kill -0 "$pid" 2> /dev/null; do
  [ $SECONDS -lt $deadline ] || { echo "ERROR: postfix pid $pid did not stop within $WAIT_SECS s" >&2; exit 1; }
  sleep 0.1
done
echo "# postfix: stopped pid $pid in $(($(date +%s%N) / 1000000 - t0)) ms" >&2
