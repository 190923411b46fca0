#!/usr/bin/env bash
# Install test of the Python SDK: `pip install sdks/python` (the folder, as a user
# would: a normal build, not editable) into a fresh venv, then the API reference's
# Python example (reference_example.py) with a kc_test_ key against a real server
# (fresh SQLite database, port 0, fast simulator): it places calls and waits for the
# summary.
#
# Usage: tests/install/python.sh PATH_TO_KAICALLS_BINARY [PATH_TO_SDK]
# Needs Python >= 3.11 (PYTHON, default python3) and PyPI for the build backend.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_KAICALLS_BINARY [PATH_TO_SDK]" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
sdk=$(cd "${2:-$here/../../sdks/python}" && pwd)
python=${PYTHON:-python3}
started=$SECONDS

# shellcheck source=server.sh
. "$here/server.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/kaicalls-install-py.XXXXXX")
cleanup() {
  kc_server_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> install test: fresh venv ($("$python" --version 2>&1))"
"$python" -m venv "$work/venv"
# Nothing from the caller's environment decides what the venv imports.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV

echo "==> install test: pip install $sdk"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$sdk"
"$work/venv/bin/python" -m pip show --disable-pip-version-check kaicalls | sed -n 's/^\(Name\|Version\|Location\): /    \1: /p'

echo "==> install test: server ($bin)"
kc_server_start "$bin" "$work/server"
echo "    listening on $KC_BASE_URL"

echo "==> install test: python reference_example.py"
(cd "$work" && env KAICALLS_BASE_URL="$KC_BASE_URL" KAICALLS_API_KEY="$KC_TEST_KEY" \
  KAICALLS_AGENT_ID="$KC_AGENT_ID" KAICALLS_BUSINESS_ID="$KC_BUSINESS_ID" \
  "$work/venv/bin/python" "$here/reference_example.py") || {
  echo "reference_example.py failed; server log:" >&2
  kc_server_log >&2
  exit 1
}

echo "==> install test passed in $((SECONDS - started))s"
