#!/usr/bin/env bash
# Builds the SDK and runs its tests: offline unit tests and integration tests against
# the real server binary, then the install test (../../tests/install/typescript.sh:
# `npm pack` and `npm install` of the package into new projects, running the API
# reference's example with `import` and `require`).  Usage: ./run-tests.sh [path/to/kaicalls]
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
# --ignore-scripts: the build below is the `prepare` script's, run once, with its output.
npm ci --ignore-scripts --no-audit --no-fund

echo "==> npm run build: tsc (strict, noEmitOnError) to dist/ (ESM) and dist/cjs/ (CommonJS)"
rm -rf dist dist-test
npm run --silent build
npx tsc -p tsconfig.test.json

echo "==> node --test (server: $KAICALLS_BIN)"
node --test dist-test/*.test.js

echo "==> install test (npm pack / npm install, ESM and CommonJS consumers)"
bash ../../tests/install/typescript.sh "$KAICALLS_BIN" "$PWD"

echo "==> passed in $((SECONDS - started))s"
