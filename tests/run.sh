#!/usr/bin/env bash
# tests/run.sh [CARGO TEST ARGS...] - the whole test suite.
#
# Starts a throwaway PostgreSQL on 127.0.0.1 (tests/env/start-postgres.sh), runs
# `cargo test --all-targets --no-fail-fast "$@"` against it, stops it, and exits with cargo's
# status. With GUICHET_TEST_PG_URL already set, that database is used and nothing is started.
# PG_PORT picks the port; unset, the first free one of 25432-25441 is used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

if [ -n "${GUICHET_TEST_PG_URL:-}" ]; then
  echo "# tests/run.sh: using GUICHET_TEST_PG_URL from the environment, starting nothing" >&2
else
  state=$(mktemp -d /tmp/guichet-tests.XXXXXX)
  chmod 755 "$state"                     # the postgres user must traverse it
  cleanup() {
    local rc=$?
    set +e
    # Stop by pid file; remove the files only once the server is really gone.
    if "$repo/tests/env/stop-postgres.sh" "$state/pg"; then
      rm -rf "$state"
    else
      echo "# tests/run.sh: could not stop postgres, left $state" >&2
    fi
    echo "# tests/run.sh: exit $rc after ${SECONDS}s" >&2
    exit "$rc"
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  rc=75
  for port in ${PG_PORT:-$(seq 25432 25441)}; do   # 75: port taken, try the next one
    rc=0
    PG_PORT=$port tests/env/start-postgres.sh "$state/pg" >&2 || rc=$?
    [ "$rc" -eq 75 ] || break
  done
  [ "$rc" -eq 0 ] || exit "$rc"
  # shellcheck disable=SC1091
  source "$state/pg/env"
fi

export GUICHET_TEST_PG_URL
cargo test --all-targets --no-fail-fast "$@"
