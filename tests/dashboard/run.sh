#!/usr/bin/env bash
# The dashboard's browser tests (dashboard.test.mjs): installs playwright-core and
# axe-core from the lockfile, then drives Debian's Chromium against the binary.
# Screenshots of every page (desktop and phone width) go to target/dashboard-screenshots
# in the repository (SCREENSHOTS overrides).
#
# Usage: run.sh PATH_TO_KAICALLS_BINARY
#
# Without Chromium (CHROMIUM, default /usr/bin/chromium) the tests are SKIPPED, or
# fail under KAICALLS_TEST_REQUIRE_ALL (CI installs it: .ci/run).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_KAICALLS_BINARY" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  if [ -n "${KAICALLS_TEST_REQUIRE_ALL:-}" ]; then
    echo "KAICALLS_TEST_REQUIRE_ALL is set but there is no Chromium at $chromium" >&2
    exit 1
  fi
  echo "SKIPPED: dashboard browser tests (no Chromium at $chromium)"
  exit 0
fi
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
export KAICALLS_BIN="$bin" CHROMIUM="$chromium"
export SCREENSHOTS=${SCREENSHOTS:-$repo/target/dashboard-screenshots}
rm -rf "$SCREENSHOTS"
node --test --test-reporter=spec dashboard.test.mjs
echo "screenshots: $(ls "$SCREENSHOTS" | wc -l) files in $SCREENSHOTS"
