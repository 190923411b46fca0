#!/usr/bin/env bash
# The MCP endpoint's end-to-end tests (mcp.test.mjs): installs the official MCP
# TypeScript SDK from the lockfile, then drives /api/mcp of fresh `kaicalls serve`
# instances (SQLite in a temp dir, fast simulator) over streamable HTTP, with API keys
# and through the SDK's OAuth flow.
#
# Usage: run.sh PATH_TO_KAICALLS_BINARY
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_KAICALLS_BINARY" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
export KAICALLS_BIN="$bin"
node --test --test-reporter=spec mcp.test.mjs
