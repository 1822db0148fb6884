#!/usr/bin/env bash
# The whole test suite: starts what the tests need (a throwaway PostgreSQL on 127.0.0.1),
# runs `cargo test --all-targets` (extra arguments go to cargo test), stops what it started.
# With GUICHET_TEST_PG_URL already set, that database is used and nothing is started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${GUICHET_TEST_PG_URL:-}" ]; then
  state=$(mktemp -d /tmp/guichet-tests.XXXXXX)
  chmod 755 "$state"
  # Stop the cluster by its pid file whatever happens, then remove its files.
  trap '"$state/stop.sh" || true; rm -rf "$state"' EXIT
  # shellcheck disable=SC1090
  source <(tests/env/start-postgres.sh "$state/pg")
  cp "$state/pg/stop.sh" "$state/stop.sh"
fi

cargo test --all-targets --no-fail-fast "$@"
