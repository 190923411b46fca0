#!/usr/bin/env bash
# Builds the SDK and runs its tests: offline unit tests and integration tests against
# the real server binary.  Usage: ./run-tests.sh [path/to/kaicalls]
set -euo pipefail

cd "$(dirname "$0")"

bin="${1:-${KAICALLS_BIN:-/work/target/debug/kaicalls}}"
if [[ ! -x "$bin" ]]; then
  echo "run-tests.sh: server binary not found or not executable: $bin" >&2
  exit 2
fi
KAICALLS_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export KAICALLS_BIN
# The unit tests check the SDK's default origin; the integration tests set their own.
unset KAICALLS_BASE_URL

started=$SECONDS

echo "==> npm ci"
npm ci --no-audit --no-fund

echo "==> tsc (strict, noEmitOnError)"
rm -rf dist dist-test
npx tsc -p tsconfig.json
npx tsc -p tsconfig.test.json

echo "==> node --test (server: $KAICALLS_BIN)"
node --test dist-test/*.test.js

echo "==> passed in $((SECONDS - started))s"
