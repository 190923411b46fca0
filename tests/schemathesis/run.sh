#!/usr/bin/env bash
# Schemathesis (tests/schemathesis/requirements.txt) against the openapi.json a
# freshly started KaiCalls serves: every operation, every check, bounded in time.
#
# Usage: run.sh PATH_TO_KAICALLS_BINARY [sqlite|postgres]
#
#   sqlite    (default) a database file in a fresh temp dir
#   postgres  a fresh database kc_test_st_<pid> in the PostgreSQL server at
#             KAICALLS_TEST_POSTGRES_URL (dropped at exit); unset: SKIPPED, or a
#             failure under KAICALLS_TEST_REQUIRE_ALL
#
# Environment:
#   KAICALLS_SCHEMATHESIS_VENV          venv to (re)use; default BIN's dir/schemathesis-venv
#   KAICALLS_SCHEMATHESIS_MAX_EXAMPLES  cases per operation and phase (default 25)
#   KAICALLS_SCHEMATHESIS_MAX_TIME      wall-clock budget of the schemathesis run in
#                                       seconds (default 60); fuzzing and stateful
#                                       phases repeat until it is spent
#   KAICALLS_SCHEMATHESIS_SEED          seed (default 1)
#   KAICALLS_SCHEMATHESIS_WORKERS       concurrent workers (default 1: reproducible)
#
# Credentials (see hooks.py): a `kc_test_` key with scope `*` from `admin bootstrap`
# for every key operation, so every call stays on the built-in simulator; dashboard
# sessions of a second user for /keys and /auth/logout; the Vapi shared secret for
# /providers/vapi/events (Vapi is configured only so that endpoint is live; no call
# uses it, since test keys always use the simulator).
#
# Nothing the server sends leaves the machine: its outgoing HTTP (webhook deliveries
# to fuzzed URLs, Vapi) goes through a proxy that is a loopback sink (sink.py).
#
# Every check runs but positive_data_acceptance, which expects every input the
# schema allows to be accepted: ours are also held to what a schema cannot say (an
# agent_id that exists, a number that is a real E.164 number, a score on a lead of
# yours), so a refusal of such input is right, answered 400/404 in the envelope,
# and the other checks (status code and response schema conformance) hold those
# answers to the document.
#
# The live event stream (/api/v1/events/stream) is left out: its answer never ends,
# so every case would run into the request timeout; its contract is tested by the
# Rust suite (tests/api/stream.rs).
#
# Prints the counts (test cases, requests, per-check passes and failures, 5xx) and
# the path of the JUnit and NDJSON reports; exits non-zero on any failure.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_KAICALLS_BINARY [sqlite|postgres]" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
backend=${2:-sqlite}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }

case "$backend" in
  sqlite) ;;
  postgres)
    if [ -z "${KAICALLS_TEST_POSTGRES_URL:-}" ]; then
      if [ -n "${KAICALLS_TEST_REQUIRE_ALL:-}" ]; then
        echo "KAICALLS_TEST_REQUIRE_ALL is set but KAICALLS_TEST_POSTGRES_URL is not: schemathesis on PostgreSQL cannot run" >&2
        exit 1
      fi
      echo "SKIPPED: schemathesis on PostgreSQL (KAICALLS_TEST_POSTGRES_URL unset)"
      exit 0
    fi
    ;;
  *) echo "backend must be sqlite or postgres, not '$backend'" >&2; exit 2 ;;
esac

max_examples=${KAICALLS_SCHEMATHESIS_MAX_EXAMPLES:-25}
max_time=${KAICALLS_SCHEMATHESIS_MAX_TIME:-60}
seed=${KAICALLS_SCHEMATHESIS_SEED:-1}
workers=${KAICALLS_SCHEMATHESIS_WORKERS:-1}
logout_sessions=${KAICALLS_SCHEMATHESIS_LOGOUT_SESSIONS:-30}

venv=${KAICALLS_SCHEMATHESIS_VENV:-$(dirname "$bin")/schemathesis-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

work=$(mktemp -d "${TMPDIR:-/tmp}/kaicalls-schemathesis.XXXXXX")
report="$work/report"
mkdir -p "$report"
server_pid=
sink_pid=
pg_db=
cleanup() {
  local pid
  for pid in $server_pid $sink_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$pg_db" ]; then
    psql "$KAICALLS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  # Keep the reports and logs; drop the data.
  rm -rf "$work/data"
  return 0
}
trap cleanup EXIT
mkdir -p "$work/data"

if [ "$backend" = postgres ]; then
  pg_db="kc_test_st_$$"
  db_url=$(python3 -c '
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, p.fragment)))' \
    "$KAICALLS_TEST_POSTGRES_URL" "$pg_db")
  psql "$KAICALLS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $pg_db"
else
  db_url="sqlite://$work/data/kaicalls.db"
fi
export KAICALLS_DATABASE_URL="$db_url"
export KAICALLS_RECORDINGS_DIR="$work/data/recordings"

# The sink every outgoing request of the server goes to.
"$venv/bin/python" "$here/sink.py" "$work/sink.port" "$work/sink.log" &
sink_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sink.port" ] && break; sleep 0.05; done
[ -s "$work/sink.port" ] || { echo "the loopback sink did not start" >&2; exit 1; }
sink="http://127.0.0.1:$(cat "$work/sink.port")"
: >"$work/sink.log"

password='schemathesis-pass-1'
"$bin" admin bootstrap --email st@kaicalls.test --password "$password" \
  --business "Schemathesis Co" --business-phone +15125550100 --json >"$work/boot.json"
"$bin" admin bootstrap --email st-keys@kaicalls.test --password "$password" \
  --business "Schemathesis Keys Co" --business-phone +15125550101 --json >"$work/boot-keys.json"

vapi_secret="st-vapi-secret-$$"
env \
  -u no_proxy -u NO_PROXY \
  HTTP_PROXY="$sink" HTTPS_PROXY="$sink" ALL_PROXY="$sink" \
  http_proxy="$sink" https_proxy="$sink" all_proxy="$sink" \
  KAICALLS_VAPI_API_KEY="st-fake-vapi-key" \
  KAICALLS_VAPI_WEBHOOK_SECRET="$vapi_secret" \
  KAICALLS_VAPI_BASE_URL="$sink" \
  KAICALLS_SIM_SPEED=1000 \
  KAICALLS_RATE_LIMIT_CALLS_PER_MIN=1000000 \
  KAICALLS_RATE_LIMIT_READS_PER_MIN=1000000 \
  "$bin" serve --bind 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q "listening on" "$work/serve.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/serve.out" | head -1)
[ -n "$base" ] || { echo "server did not start"; cat "$work/serve.err"; exit 1; }

field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
test_key=$(field "$work/boot.json" test_key)

login() {
  curl -sS -o /dev/null -D - -X POST "$base/api/v1/auth/login" \
    -H 'Content-Type: application/json' \
    -d "{\"email\":\"st-keys@kaicalls.test\",\"password\":\"$password\"}" |
    sed -n 's/^[Ss]et-[Cc]ookie: kc_session=\([^;]*\).*/\1/p' | tr -d '\r'
}
session=$(login)
[ -n "$session" ] || { echo "login did not give a session" >&2; exit 1; }
pool=
for _ in $(seq 1 "$logout_sessions"); do pool="$pool${pool:+,}$(login)"; done

status=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/agents" -H "Authorization: Bearer $test_key")
[ "$status" = 200 ] || { echo "the bootstrap key is refused ($status)" >&2; exit 1; }

# Data for the lists to show (and for schemathesis to take ids from): a lead, a
# webhook subscription, finished calls (completed with transcript and recording,
# no answer, busy, voicemail) with their events and deliveries (to the sink).
api() {
  local method=$1 path=$2
  local args=(-sS -X "$method" "$base/api/v1$path" -H "Authorization: Bearer $test_key")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}
agent_id=$(field "$work/boot.json" agent_id)
api POST /leads '{"name":"Seed Lead","phone":"+15125550142","email":"seed@example.com","agent_id":"'"$agent_id"'"}' >"$work/seed.out"
api POST /webhooks '{"url":"http://127.0.0.1:9/subscription","events":["call.completed","call.failed"]}' >>"$work/seed.out"
call_ids=
for to in +15125551234 +15005550001 +15005550002 +15005550004; do
  id=$(api POST /calls '{"agent_id":"'"$agent_id"'","to":"'"$to"'","name":"Seed","context":"seed call","webhook_url":"http://127.0.0.1:9/call","metadata":{"seed":true}}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("id",""))')
  [ -n "$id" ] || { echo "seeding a call to $to failed" >&2; exit 1; }
  call_ids="$call_ids $id"
done
for id in $call_ids; do api GET "/calls?id=$id&wait=30" >>"$work/seed.out"; done

echo "== schemathesis $("$venv/bin/schemathesis" --version | sed 's/.*version //') on $backend: $base/api/v1/openapi.json"
echo "   max-examples $max_examples, max-time ${max_time}s, seed $seed, workers $workers"
set +e
# From the temp dir: Hypothesis keeps a .hypothesis/ folder in the current directory.
cd "$work"
env \
  SCHEMATHESIS_HOOKS="$here/hooks.py" \
  KC_ST_KEY="$test_key" KC_ST_SESSION="$session" KC_ST_LOGOUT_SESSIONS="$pool" \
  KC_ST_VAPI_SECRET="$vapi_secret" \
  "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" --no-color \
  run "$base/api/v1/openapi.json" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --exclude-path /api/v1/events/stream \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --seed "$seed" \
  --workers "$workers" \
  --continue-on-failure \
  --request-timeout 70 \
  --report junit,ndjson --report-dir "$report" \
  --report-junit-path "$report/junit.xml" --report-ndjson-path "$report/events.ndjson" \
  >"$work/schemathesis.out" 2>&1
st_status=$?
set -e
cat "$work/schemathesis.out"

sum_status=0
"$venv/bin/python" "$here/summarize.py" "$report/events.ndjson" "$report/failures.txt" "$work/sink.log" ||
  sum_status=$?
echo "reports: $report/junit.xml, $report/events.ndjson, $report/failures.txt"
echo "logs: $work/serve.err (server), $work/schemathesis.out (schemathesis), $work/sink.log (outgoing)"
if [ "$st_status" -ne 0 ] || [ "$sum_status" -ne 0 ]; then
  echo "--- server log: last 30 warnings and errors"
  grep -aE 'WARN|ERROR' "$work/serve.err" | tail -30 || true
  echo "schemathesis on $backend: FAILED (schemathesis exit $st_status)"
  exit 1
fi
echo "schemathesis on $backend: passed"
