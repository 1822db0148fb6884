#!/usr/bin/env bash
# tests/env/stop-smtp-sink.sh STATE_DIR
#
# Stops the SMTP sink that tests/env/start-smtp-sink.sh started in STATE_DIR, by the pid in its
# own pid file (never by name), and waits until it is gone. Does nothing when none runs there.
set -euo pipefail
STATE=${1:?usage: $0 STATE_DIR}
[ -x "$STATE/stop.sh" ] || exit 0
exec "$STATE/stop.sh"
