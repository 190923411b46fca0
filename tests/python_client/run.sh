#!/usr/bin/env bash
# Starts a fresh KaiCalls server (SQLite in a temp dir, fast simulator), bootstraps a
# tenant, and runs the published-client suite against it.
# Usage: run.sh PATH_TO_KAICALLS_BINARY VENV_DIR
set -euo pipefail
bin=$1
venv=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export KAICALLS_DATABASE_URL="sqlite://$work/kaicalls.db"
export KAICALLS_RECORDINGS_DIR="$work/recordings"
"$bin" admin bootstrap --email py@kaicalls.test --password 'py-client-pass' \
  --business "Python Client Co" --business-phone +15125550100 --json >"$work/boot.json"

KAICALLS_SIM_SPEED=200 "$bin" serve --bind 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/serve.out" | head -1)
[ -n "$base" ] || { echo "server did not start"; cat "$work/serve.err"; exit 1; }

field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/boot.json" "$1"; }
export KAICALLS_BASE_URL="$base"
export KAICALLS_LIVE_KEY=$(field live_key)
export KAICALLS_AGENT_ID=$(field agent_id)
export KAICALLS_BUSINESS_ID=$(field business_id)
export KAICALLS_TEST_KEY=$(field test_key)
export KAICALLS_REQUIRE_SERVER=1
export KAICALLS_WAIT_INTERVAL=0.5

status=0
"$venv/bin/pytest" -q -rs -p no:cacheprovider "$here" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines)"
  tail -50 "$work/serve.err"
fi
exit "$status"
