#!/usr/bin/env bash
# KaiCalls' MCP server driven by the official MCP Python SDK (mcp==2.3.0): streamable
# HTTP (API keys and OAuth 2.1), stdio (`kaicalls mcp`), the 2025-11-25 handshake and the
# stateless 2026-07-28 revision. Each test module starts its own `BIN serve` (fresh
# SQLite database, free port, fast simulator; conftest.py).
#
# Usage: run.sh PATH_TO_KAICALLS_BINARY [VENV_DIR] [PYTEST_ARGS...]
#   VENV_DIR defaults to $CARGO_TARGET_DIR/mcp-py-venv (CARGO_TARGET_DIR defaulting to
#   /var/tmp/kaicalls-ci-target, as .ci/run sets it), created if missing.
#   Arguments after it (or after the binary, when the first starts with "-") go to
#   pytest, e.g. `run.sh BIN -k oauth -x`.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_KAICALLS_BINARY [VENV_DIR] [PYTEST_ARGS...]" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
venv=${CARGO_TARGET_DIR:-/var/tmp/kaicalls-ci-target}/mcp-py-venv
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  venv=$1
  shift
fi
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$bin" ]; then
  echo "no kaicalls binary at $bin" >&2
  exit 2
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cd "$here"
PYTHONDONTWRITEBYTECODE=1 KAICALLS_BIN="$bin" "$venv/bin/python" -m pytest -q "$here" "$@"
