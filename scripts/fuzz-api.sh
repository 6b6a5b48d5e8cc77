#!/usr/bin/env bash
# API fuzzing: schemathesis generates requests for every operation of the api's /openapi.json and
# checks that none answers 5xx and that every response matches the documented schema; it runs as a
# real signed-up user, and afterwards a second user's data must be untouched and unseen.
#
# Self-contained: a fresh database, its own nats-server on a free port (nothing is left on the
# shared services), the debug build the tests use. Bounded by FUZZ_SECONDS (default 240).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-240}"
ADMIN_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! command -v st >/dev/null; then
  log "installing schemathesis from PyPI"
  python3 -m pip install --quiet "schemathesis==4.32.0" >&2 || python3 -m pip install --quiet --user "schemathesis==4.32.0" >&2
  hash -r
fi
NATS_BIN=$(command -v nats-server || ls /usr/sbin/nats-server "$HOME/.local/bin/nats-server" 2>/dev/null | head -n 1)
[ -n "$NATS_BIN" ] || { log "nats-server is missing (scripts/services.sh installs it)"; exit 1; }

cargo build --locked --bin api --bin worker >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tag=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')
work=$(mktemp -d)
db="todo_chat_fuzz_$tag"
api_port=$(free_port); nats_port=$(free_port)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$ADMIN_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$ADMIN_URL" -qc "create database \"$db\"" >/dev/null
"$NATS_BIN" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" >/dev/null 2>&1 &
pids+=($!)

export DATABASE_URL="${ADMIN_URL%/*}/$db" NATS_URL="nats://127.0.0.1:$nats_port"
JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))'); export JWT_SECRET
export API_ADDR="127.0.0.1:$api_port" METRICS_ADDR=127.0.0.1:0 WORKER_HTTP_ADDR=127.0.0.1:0
export BCRYPT_COST=4 CHAT_TIMEOUT_SECS=10 LOG_FORMAT=json RUST_LOG=warn
export CHAT_RATE_PER_MINUTE=0 CHAT_MAX_IN_FLIGHT=0 LOGIN_RATE_PER_MINUTE_PER_EMAIL=0 LOGIN_RATE_PER_MINUTE_PER_IP=0
export SIGNUP_RATE_PER_HOUR_PER_IP=0 SIGNUP_RATE_PER_MINUTE=0 WS_MAX_PER_USER=0 WS_MAX_PER_IP=0 WS_FRAMES_PER_SECOND=0
./target/debug/api >"$work/api.log" 2>&1 &
pids+=($!)
./target/debug/worker >"$work/worker.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$api_port"
for _ in $(seq 1 150); do curl -fsS "$base/health" >/dev/null 2>&1 && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
signup_login() {
  curl -fsS "$base/api/auth/signup" -H 'content-type: application/json' -d "{\"email\":\"$1\",\"password\":\"fuzz password 1\"}" >/dev/null
  curl -fsS "$base/api/auth/login" -H 'content-type: application/json' -d "{\"email\":\"$1\",\"password\":\"fuzz password 1\"}"
}
fuzzer=$(signup_login "fuzzer-$tag@example.com")
victim=$(signup_login "victim-$tag@example.com")
TOKEN=$(echo "$fuzzer" | json '["access_token"]'); USER_ID=$(echo "$fuzzer" | json '["user"]["id"]')
VICTIM_TOKEN=$(echo "$victim" | json '["access_token"]'); VICTIM_ID=$(echo "$victim" | json '["user"]["id"]')
secret="victim-secret-$tag"
curl -fsS "$base/api/$VICTIM_ID/tasks" -H "authorization: Bearer $VICTIM_TOKEN" -H 'content-type: application/json' \
  -d "{\"title\":\"$secret\",\"description\":\"$secret\"}" >/dev/null
# A few tasks of the fuzzer's own, so that id-based routes also hit existing rows.
for t in one two three; do
  curl -fsS "$base/api/$USER_ID/tasks" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"title\":\"$t\",\"due_at\":\"2030-01-01\",\"tags\":[\"fuzz\"]}" >/dev/null
done

cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.user_id" = "$USER_ID"
TOML
log "fuzzing $base/openapi.json for up to ${FUZZ_SECONDS}s"
status=0
(cd "$work" && st run "$base/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,response_schema_conformance \
  --exclude-path /api/auth/logout --exclude-path /api/auth/password \
  --max-examples "${FUZZ_MAX_EXAMPLES:-40}" --max-time "$FUZZ_SECONDS" --workers 2 --seed 20261127 \
  --request-timeout 15 --report har --report-har-path "$work/fuzz.har") || status=$?

# No cross-user leak: the victim's task is untouched and never appeared in any response.
left=$(curl -fsS "$base/api/$VICTIM_ID/tasks" -H "authorization: Bearer $VICTIM_TOKEN")
if ! echo "$left" | grep -q "$secret"; then log "the victim's task changed during fuzzing: $left"; status=1; fi
if [ -f "$work/fuzz.har" ] && grep -q "$secret" "$work/fuzz.har"; then
  log "a response to the fuzzer contained the victim's data"; status=1
fi
if grep -q '"level":"ERROR"' "$work/api.log"; then
  log "the api logged errors:"; grep '"level":"ERROR"' "$work/api.log" | head -n 20 >&2
fi
[ "$status" -eq 0 ] && log "no 500, every response matched the schema, no cross-user leak" || log "fuzzing found problems (exit $status)"
exit "$status"
