#!/usr/bin/env bash
# tests/env/start-postgres.sh STATE_DIR
#
# A throwaway PostgreSQL cluster for guichet's tests: initdb into STATE_DIR/data, listening on
# 127.0.0.1:$PG_PORT (default 25432) and a unix socket in STATE_DIR/run only, trust auth,
# durability off. Creates the application role `guichet` (LOGIN CREATEDB, and deliberately
# NOSUPERUSER NOBYPASSRLS: superusers skip row-level security, which the tests check) and the
# database `guichet_test` it owns.
#
# Installs PostgreSQL with apt when it is missing (without letting the package start Debian's
# own cluster on 5432). Idempotent. Writes STATE_DIR/env (GUICHET_TEST_PG_URL,
# GUICHET_TEST_PG_ADMIN_URL) and STATE_DIR/stop.sh, which stops the server by its pid file.
set -euo pipefail

STATE=${1:?usage: $0 STATE_DIR}
PG_PORT=${PG_PORT:-25432}
HOST=127.0.0.1
ROLE=guichet
DB=guichet_test
started_ms=$(($(date +%s%N) / 1000000))

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { echo "ERROR: PostgreSQL is not installed and installing it needs root" >&2; exit 1; }
  echo "# installing postgresql with apt" >&2
  # The package's postinst would start a cluster on 0.0.0.0:5432 unless policy-rc.d says no.
  tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    tmp_policy=1
  fi
  rc=0
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  } || rc=$?
  [ "$tmp_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || { echo "ERROR: apt-get install postgresql failed ($rc)" >&2; exit "$rc"; }
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
DATA=$STATE/data

if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses root: the server runs as the postgres system user, which must be able to
  # traverse STATE (mktemp -d makes 0700 directories).
  as_pg() { runuser -u postgres -- "$@"; }
  chown postgres:postgres "$STATE"
  chmod 755 "$STATE"
  runuser -u postgres -- test -x "$STATE" ||
    { echo "ERROR: user postgres cannot traverse $STATE; chmod 755 its parents" >&2; exit 1; }
else
  as_pg() { "$@"; }
fi

cat > "$STATE/env" <<EOF
export GUICHET_TEST_PG_URL=postgres://$ROLE:$ROLE@$HOST:$PG_PORT/$DB
export GUICHET_TEST_PG_ADMIN_URL=postgres://postgres@$HOST:$PG_PORT/postgres
EOF
cat > "$STATE/stop.sh" <<EOF
#!/bin/sh
# Stops the test cluster in $STATE: pg_ctl signals the pid recorded in postmaster.pid.
[ -f "$DATA/postmaster.pid" ] || exit 0
if [ "\$(id -u)" -eq 0 ]; then
  exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -s stop
fi
exec "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -s stop
EOF
chmod +x "$STATE/stop.sh"

if as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  echo "# postgres already running in $STATE" >&2
  cat "$STATE/env"
  exit 0
fi

# Something else on the port (another test run) would answer our readiness probe.
if (exec 3<>"/dev/tcp/$HOST/$PG_PORT") 2>/dev/null; then
  echo "ERROR: $HOST:$PG_PORT is already in use; set PG_PORT to a free port" >&2
  exit 1
fi

if [ ! -s "$DATA/PG_VERSION" ]; then
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$DATA/postgresql.conf" <<EOF

# ---- guichet test cluster (tests/env/start-postgres.sh) ----
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$STATE/run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
logging_collector = off
EOF
fi
as_pg mkdir -p "$STATE/run"
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$STATE/postgres.log" -w -t 60 start >/dev/null ||
  { echo "ERROR: postgres did not start; log:" >&2; tail -20 "$STATE/postgres.log" >&2; exit 1; }

psql_su() { as_pg "$PGBIN/psql" -h "$STATE/run" -p "$PG_PORT" -U postgres -d postgres -qAtX -v ON_ERROR_STOP=1 "$@"; }
psql_su -c "DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD '$ROLE';
  END IF; END\$\$;"
[ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ] ||
  psql_su -c "CREATE DATABASE $DB OWNER $ROLE"
# The row-level-security tests are meaningless for a role that skips policies.
[ "$(psql_su -c "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = '$ROLE'")" = f ] ||
  { echo "ERROR: role $ROLE is superuser or BYPASSRLS" >&2; exit 1; }

echo "# postgres ready on $HOST:$PG_PORT in $(($(date +%s%N) / 1000000 - started_ms)) ms ($("$PGBIN/postgres" --version))" >&2
cat "$STATE/env"
