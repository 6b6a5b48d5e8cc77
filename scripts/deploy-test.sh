#!/usr/bin/env bash
# CI test of scripts/deploy.sh and scripts/rollback.sh on this host (SERVICE_MANAGER=process, a
# private NATS, a database of its own): deploys release N and stores data; deploys a broken N+1
# (its api never becomes ready) and checks that the deployment rolls itself back to N, healthy,
# with the data intact, in under five minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[deploy-test] $*" >&2; }
ADMIN_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
NATS_BIN=$(command -v nats-server || ls /usr/sbin/nats-server "$HOME/.local/bin/nats-server" 2>/dev/null | head -1 || true)
[ -n "$NATS_BIN" ] || { log "nats-server is missing (scripts/services.sh installs it)"; exit 1; }
cargo build --locked --bin api --bin worker --bin loadgen >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tag=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')
work=$(mktemp -d)
db="todo_chat_deploy_$tag"
nats_port=$(free_port); api_port=$(free_port); worker_base=$(free_port)
export DEPLOY_ROOT="$work/root" SERVICE_MANAGER=process WORKERS=2 WORKER_PORT_BASE=$worker_base READY_TIMEOUT_SECS=20
nats_pid=""
cleanup() {
  DEPLOY_ROOT="$work/root" bash -c '. scripts/deploy-lib.sh; stop_services' || true
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null || true
  psql "$ADMIN_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$ADMIN_URL" -qc "create database \"$db\"" >/dev/null
"$NATS_BIN" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" >/dev/null 2>&1 &
nats_pid=$!
mkdir -p "$DEPLOY_ROOT/shared"
cat > "$DEPLOY_ROOT/shared/.env" <<ENV
DATABASE_URL=${ADMIN_URL%/*}/$db
NATS_URL=nats://127.0.0.1:$nats_port
JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
API_ADDR=127.0.0.1:$api_port
METRICS_ADDR=127.0.0.1:0
BCRYPT_COST=4
LOG_FORMAT=json
RUST_LOG=warn
SIGNUP_RATE_PER_HOUR_PER_IP=0
SIGNUP_RATE_PER_MINUTE=0
ENV
base="http://127.0.0.1:$api_port"

log "deploying release 1.0.0"
scripts/deploy.sh 1.0.0 target/debug
[ "$(basename "$(readlink -f "$DEPLOY_ROOT/current")")" = 1.0.0 ] || { log "current is not 1.0.0"; exit 1; }

log "storing data through release 1.0.0"
curl -fsS "$base/api/auth/signup" -H 'content-type: application/json' -d '{"email":"keeper@example.com","password":"keeper password"}' >/dev/null
login=$(curl -fsS "$base/api/auth/login" -H 'content-type: application/json' -d '{"email":"keeper@example.com","password":"keeper password"}')
token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$login")
user=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])' <<<"$login")
curl -fsS "$base/api/$user/tasks" -H "authorization: Bearer $token" -H 'content-type: application/json' -d '{"title":"Survive the rollback"}' >/dev/null

log "building a broken release 1.1.0: its api never becomes ready"
broken="$work/broken"
mkdir -p "$broken"
cp target/debug/worker target/debug/loadgen "$broken/"
cp target/debug/api "$broken/api.real"
cat > "$broken/api" <<SH
#!/bin/sh
# Release 1.1.0 as shipped by mistake: migrations work, the server never starts.
if [ "\$1" = migrate ]; then exec "$broken/api.real" "\$@"; fi
echo "error: invalid configuration: FEATURE_X: missing (a broken release)" >&2
exit 1
SH
chmod +x "$broken/api"
started=$SECONDS
if scripts/deploy.sh 1.1.0 "$broken" 2> "$work/deploy-1.1.0.log"; then
  cat "$work/deploy-1.1.0.log" >&2
  log "FAIL: the broken release was reported as deployed"
  exit 1
fi
took=$((SECONDS - started))
cat "$work/deploy-1.1.0.log" >&2
grep -q "rolled back to 1.0.0" "$work/deploy-1.1.0.log" || { log "FAIL: no rollback reported"; exit 1; }
[ "$(basename "$(readlink -f "$DEPLOY_ROOT/current")")" = 1.0.0 ] || { log "FAIL: current is not 1.0.0 after the rollback"; exit 1; }
curl -fsS "$base/health/ready" >/dev/null || { log "FAIL: not ready after the rollback"; exit 1; }
tasks=$(curl -fsS "$base/api/$user/tasks?status=all" -H "authorization: Bearer $token")
python3 -c 'import json,sys; t=json.load(sys.stdin); assert [x["title"] for x in t] == ["Survive the rollback"], t' <<<"$tasks" \
  || { log "FAIL: the data did not survive: $tasks"; exit 1; }
[ "$took" -lt 300 ] || { log "FAIL: the failed deploy and its rollback took $took s (limit 300)"; exit 1; }
log "ok: broken 1.1.0 rolled back to 1.0.0 in $took s (deploy attempt included), data intact"
