#!/usr/bin/env bash
# Lints and tests the Python SDK against a real KaiCalls server binary.
#
# Usage: sdks/python/run-tests.sh PATH_TO_KAICALLS_BINARY
#
# 1. a venv (${KAICALLS_SDK_VENV:-<binary dir>/py-sdk-venv}, reused across runs) with
#    this package and its test extras installed (a wheel build, not editable);
# 2. ruff check, ruff format --check, mypy --strict on the package;
# 3. pytest tests/: offline unit tests and integration tests, which start the binary
#    themselves on a fresh database;
# 4. the published 0.1.0 client's compatibility suite (tests/python_client), run
#    unchanged with THIS package installed in place of kaicalls==0.1.0;
# 5. the install test (tests/install/python.sh): a fresh venv, `pip install` of this
#    folder as a user would, and the API reference's Python example run against the
#    binary.
#
# Every step runs; the script exits non-zero if any failed. Needs Python >= 3.11 and
# PyPI (pip). PYTHON picks the interpreter (default python3).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_KAICALLS_BINARY" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${KAICALLS_SDK_VENV:-$(dirname "$bin")/py-sdk-venv}
python=${PYTHON:-python3}
started=$(date +%s)

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python >= 3.11 is required ($python is $("$python" --version 2>&1))" >&2; exit 2; }

echo "== venv $venv"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install "hatchling>=1.18"
# Test extras first (pytest, requests, ruff, mypy, httpx), then this package itself,
# rebuilt every run.
"${pip[@]}" install --no-build-isolation "$here[test]"
"${pip[@]}" install --no-build-isolation --no-deps --force-reinstall "$here"

export RUFF_CACHE_DIR="$venv/.ruff_cache" MYPY_CACHE_DIR="$venv/.mypy_cache"
failed=()
step() {
  local name=$1
  shift
  echo "== $name"
  if ! "$@"; then
    failed+=("$name")
  fi
}

cd "$here"
step "ruff check" "$venv/bin/ruff" check .
step "ruff format --check" "$venv/bin/ruff" format --check .
step "mypy --strict" "$venv/bin/mypy"
step "pytest (unit + integration)" env KAICALLS_BIN="$bin" KAICALLS_REQUIRE_SERVER=1 \
  "$venv/bin/pytest" -q -p no:cacheprovider tests
step "published-client compatibility suite (with this package installed)" \
  bash "$repo/tests/python_client/run.sh" "$bin" "$venv"
step "install test (fresh venv, pip install $here, the reference's example)" \
  env PYTHON="$python" bash "$repo/tests/install/python.sh" "$bin" "$here"

echo "== done in $(($(date +%s) - started))s"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all passed"
