#!/usr/bin/env bash
# tests/env/stop-postgres.sh STATE_DIR
#
# Stops the test cluster that tests/env/start-postgres.sh started in STATE_DIR: `pg_ctl stop -m
# fast` signals the pid recorded in STATE_DIR/data/postmaster.pid and waits until the server
# is gone. Never looks processes up by name. Does nothing (exit 0) when no server runs there,
# so it is safe to call twice or on a half-started state dir. Keeps the files.
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR}
DATA=$STATE/data
WAIT_SECS=${WAIT_SECS:-60}

[ -f "$DATA/postmaster.pid" ] || { echo "# postgres: not running in $STATE" >&2; exit 0; }
PGBIN=/usr/lib/postgresql/$(cat "$DATA/PG_VERSION")/bin

if [ "$(id -u)" -eq 0 ] && [ "$(stat -c %U "$DATA")" = postgres ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# pg_ctl status: 0 running, 3 not running (a stale pid file after a crash or reboot)
if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" status > /dev/null 2>&1; then
  echo "# postgres: not running in $STATE (stale pid file)" >&2
  exit 0
fi
pid=$(head -1 "$DATA/postmaster.pid")
t0=$(($(date +%s%N) / 1000000))
as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t "$WAIT_SECS" -s stop
echo "# postgres: stopped pid $pid in $(($(date +%s%N) / 1000000 - t0)) ms" >&2
