#!/usr/bin/env bash
# tests/env/start-postgres.sh STATE_DIR
#
# A throwaway PostgreSQL cluster for guichet's tests, everything inside STATE_DIR:
#   STATE_DIR/data  the cluster (initdb, not Debian's "main" cluster), durability off
#   STATE_DIR/run   its unix socket;  STATE_DIR/log/postgres.log  its log
#   STATE_DIR/env   `export GUICHET_TEST_PG_URL=...` and `export GUICHET_TEST_PG_ADMIN_URL=...`
# It listens on 127.0.0.1:${PG_PORT:-25432} only, with trust authentication.
#
# Roles: `guichet` (password `guichet`, LOGIN CREATEDB, and deliberately NOSUPERUSER NOBYPASSRLS:
# such roles skip row-level security, which the tests check - the script fails if the role has
# either) owns the database `guichet_test`; `postgres` is the superuser (GUICHET_TEST_PG_ADMIN_URL),
# for tests that create databases or roles.
#
# PostgreSQL is installed with apt when missing (as root), without letting the package start
# Debian's own cluster on 5432. Idempotent: on a state dir whose server is running it only
# prints the env. Refuses to start when the port is taken (exit 75). Stop with
# tests/env/stop-postgres.sh STATE_DIR (pg_ctl, by the cluster's pid file).
# stdout: the env lines (so `eval "$(tests/env/start-postgres.sh DIR)"` works); stderr: progress.
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR}
PG_PORT=${PG_PORT:-25432}
WAIT_SECS=${WAIT_SECS:-60}
HOST=127.0.0.1
ROLE=guichet
DB=guichet_test

ms() { echo $(($(date +%s%N) / 1000000)); }
t_start=$(ms)
log() { echo "# postgres: $*" >&2; }
die() { echo "ERROR: start-postgres: $*" >&2; exit 1; }

# ------------------------------------------------------------ install ----
# The package's postinst creates Debian's "main" cluster and starts it (0.0.0.0:5432 on
# some setups) through invoke-rc.d unless /usr/sbin/policy-rc.d says no (exit 101).
install_postgres() {
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed, and installing it needs root"
  log "no initdb found: installing postgresql with apt"
  local t0 rc=0 tmp_policy=0
  t0=$(ms)
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    tmp_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT       # also if we are interrupted
  fi
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 postgresql > /dev/null
  } || rc=$?
  if [ "$tmp_policy" -eq 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  [ "$rc" -eq 0 ] || die "apt-get install postgresql failed (status $rc)"
  log "installed in $(($(ms) - t0)) ms"
}
compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null || install_postgres
PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)   # newest major (15 on Debian 12)

# ------------------------------------------------------------- layout ----
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
DATA=$STATE/data
SOCKDIR=$STATE/run
LOGFILE=$STATE/log/postgres.log
# a unix socket path must fit in sockaddr_un (107 bytes)
[ ${#SOCKDIR} -le 90 ] || die "state dir path too long for a unix socket: $STATE"

if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses root: the server runs as the postgres system user, which must be able to
  # traverse STATE and all its parents (mktemp -d makes 0700 directories).
  id postgres > /dev/null 2>&1 || die "no postgres system user (is the postgresql package installed?)"
  as_pg() { runuser -u postgres -- "$@"; }
  chmod 755 "$STATE"
  runuser -u postgres -- test -x "$STATE" ||
    die "user postgres cannot traverse $STATE: chmod 755 its parent directories"
else
  as_pg() { "$@"; }
fi

write_env() {   # PORT
  cat > "$STATE/env" <<EOF
export GUICHET_TEST_PG_URL=postgres://$ROLE:$ROLE@$HOST:$1/$DB
export GUICHET_TEST_PG_ADMIN_URL=postgres://postgres@$HOST:$1/postgres
EOF
}

# ---------------------------------------------------------- idempotent ----
if as_pg "$PGBIN/pg_ctl" -D "$DATA" status > /dev/null 2>&1; then
  running_port=$(sed -n 4p "$DATA/postmaster.pid")        # line 4 of postmaster.pid: the port
  log "already running in $STATE (pid $(head -1 "$DATA/postmaster.pid"), port $running_port)"
  write_env "$running_port"
  cat "$STATE/env"
  exit 0
fi

# Something else on the port (another test run) would answer our readiness probe.
if timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PG_PORT" 2> /dev/null; then
  echo "ERROR: start-postgres: $HOST:$PG_PORT is already in use; set PG_PORT to a free port" >&2
  exit 75
fi

# --------------------------------------------------------- initdb/conf ----
mkdir -p "$DATA" "$SOCKDIR" "$STATE/log"
[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$DATA" "$SOCKDIR" "$STATE/log"
chmod 700 "$DATA"
t0=$(ms)
if [ ! -s "$DATA/PG_VERSION" ]; then
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-sync > "$STATE/log/initdb.log" 2>&1 ||
    { tail -20 "$STATE/log/initdb.log" >&2; die "initdb failed"; }
  echo "include 'guichet-test.conf'" | as_pg tee -a "$DATA/postgresql.conf" > /dev/null
  log "initdb in $(($(ms) - t0)) ms"
fi
# Rewritten on every start, so a restart with another PG_PORT takes it.
as_pg tee "$DATA/guichet-test.conf" > /dev/null <<EOF
# guichet test cluster - written by tests/env/start-postgres.sh on every start
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$SOCKDIR'
# throwaway data: no durability, much faster schema setup
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
logging_collector = off
EOF

# -------------------------------------------------------------- start ----
started=0
stop_on_failure() {   # leave nothing half-started
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$started" -eq 1 ]; then
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -s stop || true
  fi
  exit "$rc"
}
trap stop_on_failure EXIT

t0=$(ms)
started=1
# -w: wait until the server accepts connections (pg_ctl forks it into its own session)
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t "$WAIT_SECS" start > /dev/null ||
  { tail -20 "$LOGFILE" >&2; die "postgres did not start within $WAIT_SECS s"; }
deadline=$((SECONDS + WAIT_SECS))
until "$PGBIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 1; do
  [ $SECONDS -lt $deadline ] || { tail -20 "$LOGFILE" >&2; die "no answer on $HOST:$PG_PORT"; }
  sleep 0.1
done
log "server ready in $(($(ms) - t0)) ms (pid $(head -1 "$DATA/postmaster.pid"))"

# ------------------------------------------------------- role and db ----
t0=$(ms)
psql_su() {
  as_pg "$PGBIN/psql" -h "$SOCKDIR" -p "$PG_PORT" -U postgres -d postgres -qAtX -v ON_ERROR_STOP=1 "$@"
}
# ALTER every time: the attributes are enforced even on an older state dir.
psql_su <<EOF
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE;
  END IF;
END\$\$;
ALTER ROLE $ROLE LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD '$ROLE';
EOF
[ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ] ||
  psql_su -c "CREATE DATABASE $DB OWNER $ROLE"

write_env "$PG_PORT"
# shellcheck disable=SC1091
. "$STATE/env"
# Check through the URL the tests use: who are we, and does row-level security apply to us?
got=$("$PGBIN/psql" "$GUICHET_TEST_PG_URL" -qAtX -v ON_ERROR_STOP=1 -c \
  "SELECT current_user, rolsuper, rolbypassrls, rolcreatedb FROM pg_roles WHERE rolname = current_user")
[ "$got" = "$ROLE|f|f|t" ] ||
  die "role check failed: expected '$ROLE|f|f|t' (user|superuser|bypassrls|createdb), got '$got'"
log "role $ROLE (not superuser, not bypassrls) and database $DB ready in $(($(ms) - t0)) ms"

trap - EXIT
log "ready on $HOST:$PG_PORT in $(($(ms) - t_start)) ms total ($("$PGBIN/postgres" --version)); stop with tests/env/stop-postgres.sh $STATE"
cat "$STATE/env"
