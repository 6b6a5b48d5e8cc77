# Shared by scripts/deploy.sh and scripts/rollback.sh (sourced). Single-host layout under
# DEPLOY_ROOT (default /opt/todo-chat):
#   releases/<version>/{bin,scripts,SCHEMA}   one directory per release, side by side
#   current -> releases/<version>             what the services run
#   shared/.env                               configuration and secrets (see .env.example)
#   run/, log/                                pid files and logs (SERVICE_MANAGER=process)
# SERVICE_MANAGER=systemd (default) restarts the units of deploy/systemd; `process` runs the api
# and WORKERS workers as background processes (hosts without systemd, and CI).
ROOT="${DEPLOY_ROOT:-/opt/todo-chat}"
SERVICE_MANAGER="${SERVICE_MANAGER:-systemd}"
WORKERS="${WORKERS:-2}"
READY_TIMEOUT_SECS="${READY_TIMEOUT_SECS:-60}"

log() { echo "[deploy] $*" >&2; }

load_env() {
  [ -f "$ROOT/shared/.env" ] || { log "missing $ROOT/shared/.env (copy .env.example and fill it in)"; exit 1; }
  set -a
  # shellcheck disable=SC1091
  . "$ROOT/shared/.env"
  set +a
  BASE_URL="${BASE_URL:-http://${API_ADDR:-127.0.0.1:8000}}"
  BASE_URL="${BASE_URL/0.0.0.0/127.0.0.1}"
  WORKER_PORT_BASE="${WORKER_PORT_BASE:-8000}"
}

current_release() { basename "$(readlink -f "$ROOT/current" 2>/dev/null || true)"; }

switch_to() {
  ln -sfn "releases/$1" "$ROOT/current.next"
  mv -T "$ROOT/current.next" "$ROOT/current"
}

# The newest migration a release knows (the schema it expects), e.g. 8.
schema_of() {
  local bin="$ROOT/releases/$1/bin/api"
  "$bin" migrate status | tail -1 | awk '{print $1 + 0}'
}

stop_services() {
  if [ "$SERVICE_MANAGER" = systemd ]; then
    return 0 # restart_services restarts in place
  fi
  local pid
  for f in "$ROOT"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
  done
  for f in "$ROOT"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 450); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

restart_services() {
  if [ "$SERVICE_MANAGER" = systemd ]; then
    local units=(todo-chat-api)
    for i in $(seq 1 "$WORKERS"); do units+=("todo-chat-worker@$i"); done
    systemctl restart "${units[@]}"
    return
  fi
  stop_services
  mkdir -p "$ROOT/run" "$ROOT/log"
  local api_user=() worker_user=()
  if [ -n "${TODO_CHAT_NATS_API_PASSWORD:-}" ]; then
    api_user=(NATS_USER=api "NATS_PASSWORD=$TODO_CHAT_NATS_API_PASSWORD")
    worker_user=(NATS_USER=worker "NATS_PASSWORD=$TODO_CHAT_NATS_WORKER_PASSWORD")
  fi
  env "${api_user[@]}" RUN_MIGRATIONS=false "$ROOT/current/bin/api" >> "$ROOT/log/api.log" 2>&1 &
  echo $! > "$ROOT/run/api.pid"
  for i in $(seq 1 "$WORKERS"); do
    env "${worker_user[@]}" RUN_MIGRATIONS=false WORKER_HTTP_ADDR="127.0.0.1:$((WORKER_PORT_BASE + i))" \
      "$ROOT/current/bin/worker" >> "$ROOT/log/worker-$i.log" 2>&1 &
    echo $! > "$ROOT/run/worker-$i.pid"
  done
}

# Waits until the api and every worker answer /health/ready; false after READY_TIMEOUT_SECS.
wait_ready() {
  local urls=("$BASE_URL/health/ready")
  for i in $(seq 1 "$WORKERS"); do urls+=("http://127.0.0.1:$((WORKER_PORT_BASE + i))/health/ready"); done
  local deadline=$((SECONDS + READY_TIMEOUT_SECS))
  for url in "${urls[@]}"; do
    until curl -fs -o /dev/null "$url"; do
      if [ $SECONDS -ge $deadline ]; then
        log "not ready: $url"
        return 1
      fi
      sleep 0.5
    done
  done
}

smoke() {
  "$ROOT/current/bin/loadgen" smoke --base-url "$BASE_URL" >&2
}
