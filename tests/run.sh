#!/usr/bin/env bash
# tests/run.sh [CARGO TEST ARGS...] - the whole test suite.
#
# Starts a throwaway PostgreSQL on 127.0.0.1 (tests/env/start-postgres.sh) and, as root, the
# Postfix of deploy/postfix.md (tests/env/start-postfix.sh), installs Dovecot (the IMAP tests
# start their own servers with tests/env/start-dovecot.sh) and Chromium (tests/report.rs opens
# the HTML report in it; tests/env/install-chromium.sh), runs
# `cargo test --all-targets --no-fail-fast "$@"` against them (--all-targets only when the
# arguments pick no targets: `tests/run.sh --test daemon` runs that file alone), stops them
# (by their pid files), and exits with cargo's status.
# With GUICHET_TEST_PG_URL already set, that database is used and no PostgreSQL is started;
# PG_PORT picks the port, unset the first free one of 25432-25441 is used.
# With GUICHET_TEST_POSTFIX_DIR already set, that Postfix is used; otherwise one is started
# when we are root (on the first free port of 25525-25534, or SMTP_PORT). Not root, none is
# started and tests/postfix_pipe.rs fails, saying so: it never skips. tests/full_loop.rs starts
# its own Postfix and Dovecot per test (tests/env/start-postfix-lmtp.sh, start-dovecot.sh):
# it needs root and the packages installed here, and fails without them.
# Without the mail corpus (../shared/corpus, or GUICHET_CORPUS_DIR), the corpus tests are
# skipped, and the last line before the exit status says how many; GUICHET_REQUIRE_CORPUS=1
# (as .ci/run sets) makes them fail instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

state=$(mktemp -d /tmp/guichet-tests.XXXXXX)
chmod 755 "$state"                       # the postgres, postfix and guichet users traverse it
started_pg=0
started_postfix=0
cleanup() {
  local rc=$?
  set +e
  local kept=0
  # Stop by pid file; remove the files only once the servers are really gone.
  if [ "$started_postfix" -eq 1 ] && ! "$repo/tests/env/stop-postfix.sh" "$state/postfix"; then
    echo "# tests/run.sh: could not stop postfix" >&2
    kept=1
  fi
  if [ "$started_pg" -eq 1 ] && ! "$repo/tests/env/stop-postgres.sh" "$state/pg"; then
    echo "# tests/run.sh: could not stop postgres" >&2
    kept=1
  fi
  if [ "$kept" -eq 0 ]; then rm -rf "$state"; else echo "# tests/run.sh: left $state" >&2; fi
  echo "# tests/run.sh: exit $rc after ${SECONDS}s" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${GUICHET_TEST_PG_URL:-}" ]; then
  echo "# tests/run.sh: using GUICHET_TEST_PG_URL from the environment" >&2
else
  rc=75
  for port in ${PG_PORT:-$(seq 25432 25441)}; do   # 75: port taken, try the next one
    rc=0
    started_pg=1
    PG_PORT=$port tests/env/start-postgres.sh "$state/pg" >&2 || rc=$?
    [ "$rc" -eq 75 ] || break
  done
  [ "$rc" -eq 0 ] || exit "$rc"
  # shellcheck disable=SC1091
  source "$state/pg/env"
fi
export GUICHET_TEST_PG_URL

if [ -n "${GUICHET_TEST_POSTFIX_DIR:-}" ]; then
  echo "# tests/run.sh: using the Postfix in GUICHET_TEST_POSTFIX_DIR=$GUICHET_TEST_POSTFIX_DIR" >&2
elif [ "$(id -u)" -eq 0 ]; then
  started_postfix=1
  tests/env/start-postfix.sh "$state/postfix" > /dev/null
  # shellcheck disable=SC1091
  source "$state/postfix/env"
else
  echo "# tests/run.sh: not root, no Postfix started: tests/postfix_pipe.rs and tests/full_loop.rs will fail" >&2
fi

# Dovecot: tests/imap.rs starts one per test (tests/common/dovecot.rs) on free ports; only the
# packages are needed here. Not root and not installed, tests/imap.rs fails, saying so.
if [ "$(id -u)" -eq 0 ]; then
  tests/env/start-dovecot.sh --install >&2
elif [ ! -x /usr/sbin/dovecot ]; then
  echo "# tests/run.sh: not root and Dovecot is not installed: tests/imap.rs will fail" >&2
fi
# Chromium: tests/report.rs opens the HTML report in it, headless (tests/common/chromium.rs).
# Not root and not installed (or the install failed), that test fails, saying so.
if [ "$(id -u)" -eq 0 ]; then
  tests/env/install-chromium.sh ||
    echo "# tests/run.sh: could not install Chromium: tests/report.rs will fail" >&2
elif [ ! -x /usr/bin/chromium ]; then
  echo "# tests/run.sh: not root and Chromium is not installed: tests/report.rs will fail" >&2
fi
# SMTP sink (aiosmtpd): tests/smtp_sink.rs and the mail-out tests start one per test
# (tests/common/smtp_sink.rs); install its runtime once here (apt as root, else a venv).
tests/env/start-smtp-sink.sh --install >&2 ||
  echo "# tests/run.sh: could not install aiosmtpd: the SMTP sink tests will fail" >&2
export GUICHET_TEST_POSTFIX_DIR GUICHET_TEST_SMTP_PORT

# Every target unless the arguments pick some (`--test X`, `--lib`, ...): with --all-targets
# added, cargo would run everything whatever was picked.
targets=(--all-targets)
for arg in "$@"; do
  case $arg in
    --) break ;;
    --lib|--bins|--bin|--bin=*|--tests|--test|--test=*|--examples|--example|--example=*|\
    --benches|--bench|--bench=*|--doc|--all-targets) targets=() ;;
  esac
done
# libtest has no "skipped" outcome: a corpus test without its corpus returns early (a pass to
# libtest) after printing one `SKIPPED: corpus not found at ...` line on stderr
# (tests/common `corpus_dir`). stderr goes through tee into a file, stdout stays as it is, and
# those lines are counted at the end, so a skip is visible and never looks like a pass.
rc=0
{ cargo test "${targets[@]}" --no-fail-fast "$@" 2>&1 1>&3 3>&- | tee "$state/stderr" >&2; } 3>&1 \
  || rc=$?
skipped=$(grep -c '^SKIPPED: corpus not found' "$state/stderr" || true)
if [ "$skipped" -gt 0 ]; then
  echo "# tests/run.sh: $skipped corpus tests SKIPPED (corpus not found)" >&2
fi
exit "$rc"
