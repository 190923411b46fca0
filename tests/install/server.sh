# Sourced by the install tests (typescript.sh, python.sh): runs a real KaiCalls server
# for the API reference's examples to call.
#
#   kc_server_start BIN DIR   bootstraps a tenant on a fresh SQLite database in DIR, then
#                             serves it on a free port with a fast call simulator; sets
#                             KC_BASE_URL, KC_TEST_KEY, KC_AGENT_ID, KC_BUSINESS_ID and
#                             KC_SERVER_PID.
#   kc_server_stop            stops it (safe to call more than once, and from a trap).
#   kc_server_log             prints its stderr (the request log), for failure messages.

KC_SERVER_PID=
KC_SERVER_DIR=

# The value of one string field of the flat JSON object that `admin bootstrap --json`
# prints (ids, keys and a base64 secret: no quotes or backslashes inside).
kc_json_field() {
  sed -n "s/.*\"$2\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1
}

kc_server_start() {
  local bin=$1 dir=$2 waited
  KC_SERVER_DIR=$dir
  mkdir -p "$dir"
  "$bin" admin bootstrap --database-url "sqlite://$dir/k.db" \
    --email install-test@kaicalls.test --password 'install-test-password' \
    --business 'Smith Law' --json >"$dir/boot.json"
  KC_TEST_KEY=$(kc_json_field "$dir/boot.json" test_key)
  KC_AGENT_ID=$(kc_json_field "$dir/boot.json" agent_id)
  KC_BUSINESS_ID=$(kc_json_field "$dir/boot.json" business_id)
  case "$KC_TEST_KEY" in
    kc_test_*) ;;
    *) echo "admin bootstrap printed no test key:" >&2; cat "$dir/boot.json" >&2; return 1 ;;
  esac
  [ -n "$KC_AGENT_ID" ] && [ -n "$KC_BUSINESS_ID" ] \
    || { echo "admin bootstrap printed no agent/business id" >&2; return 1; }

  # Created before the server starts, so the wait below never reads a missing file.
  : >"$dir/serve.out"
  KAICALLS_SIM_SPEED=1000 KAICALLS_RECORDINGS_DIR="$dir/recordings" \
    "$bin" serve --database-url "sqlite://$dir/k.db" --bind 127.0.0.1:0 \
    >"$dir/serve.out" 2>"$dir/serve.err" &
  KC_SERVER_PID=$!
  KC_BASE_URL=
  for waited in $(seq 1 300); do
    KC_BASE_URL=$(sed -n 's/.*KaiCalls listening on \(http:\/\/[^ ]*\).*/\1/p' "$dir/serve.out" | head -n 1)
    [ -n "$KC_BASE_URL" ] && break
    if ! kill -0 "$KC_SERVER_PID" 2>/dev/null; then
      echo "the server exited before listening:" >&2
      kc_server_log >&2
      KC_SERVER_PID=
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$KC_BASE_URL" ]; then
    echo "the server did not print its address within $((waited / 10))s:" >&2
    kc_server_log >&2
    return 1
  fi
  export KC_BASE_URL KC_TEST_KEY KC_AGENT_ID KC_BUSINESS_ID KC_SERVER_PID
}

kc_server_log() {
  [ -n "$KC_SERVER_DIR" ] && tail -n 50 "$KC_SERVER_DIR/serve.err" 2>/dev/null || true
}

kc_server_stop() {
  local pid=$KC_SERVER_PID i
  KC_SERVER_PID=
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
