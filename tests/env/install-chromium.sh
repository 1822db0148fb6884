#!/usr/bin/env bash
# tests/env/install-chromium.sh - Debian's Chromium (/usr/bin/chromium), for tests/report.rs,
# which opens the HTML report in it headless and looks at the screenshot.
#
# Does nothing when the package is already installed. Otherwise needs root (tests/run.sh calls
# it only as root); not root and not installed, it exits 1 saying so, and the test fails,
# saying so too: it never skips. --no-install-recommends: no fonts or drivers beyond what the
# package depends on (headless needs no more).
set -euo pipefail

if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "ok installed"; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "need root to apt-get install chromium" >&2
  exit 1
fi
start=$SECONDS
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium > /dev/null
echo "# tests/env/install-chromium.sh: chromium installed in $((SECONDS - start))s" >&2
