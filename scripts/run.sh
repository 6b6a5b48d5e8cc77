#!/usr/bin/env bash
# Runs todo-chat locally: makes sure Postgres and NATS are up (installing and starting them if
# needed), creates the database, builds, then starts the api (which applies migrations) and
# WORKERS workers (default 1). Uses the built-in agent unless OPENAI_API_KEY is set.
# Ctrl-C stops everything. `--env-only` only makes .env (secrets included) and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

random_secret() {
  python3 -c 'import secrets; print(secrets.token_hex(32))' 2>/dev/null || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}
if [ ! -f .env ]; then
  sed "s/^JWT_SECRET=.*/JWT_SECRET=$(random_secret)/" .env.example > .env
  echo "[run] created .env with a fresh JWT_SECRET"
fi
# One NATS password per role (deploy/nats/nats.conf), made once and kept in .env. nats-server
# reads an unquoted $VARIABLE as a config value: one starting with a digit parses as a number and
# the server refuses the file, so passwords start with a letter (an older digit-first one is
# replaced; only our own NATS, started from this file, uses them).
for role in API WORKER PRODUCER; do
  var="TODO_CHAT_NATS_${role}_PASSWORD"
  if ! grep -q "^$var=[A-Za-z]" .env; then
    sed -i "/^$var=/d" .env
    echo "$var=nats$(random_secret)" >> .env
    echo "[run] added a fresh $var to .env"
  fi
done
# Grafana's admin password, for the compose stack.
if ! grep -q "^GRAFANA_PASSWORD=." .env; then
  sed -i "/^GRAFANA_PASSWORD=/d" .env
  echo "GRAFANA_PASSWORD=$(random_secret | cut -c1-24)" >> .env
fi
if [ "${1:-}" = "--env-only" ]; then
  echo "[run] .env is ready"
  exit 0
fi
set -a
# shellcheck disable=SC1091
. ./.env
set +a

# Our own NATS with the least-privilege roles (never an anonymous server found on the machine).
export NATS_URL="${TODO_CHAT_NATS_URL:-nats://127.0.0.1:4223}"
TODO_CHAT_NATS_CONFIG="$PWD/deploy/nats/nats.conf" ./scripts/services.sh
cargo build --release --locked --bin api --bin worker

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "[run] stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap cleanup INT TERM EXIT

# Waits until a process answers its /health; stops (with one line saying what to change) when it
# exits or never answers. Its own last log line says why, e.g. a port in use.
wait_ready() {
  local name=$1 url=$2 pid=$3 var=$4
  for _ in $(seq 1 150); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "[run] the $name stopped during start-up (its error is above); if its port is taken, set $var in .env" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "[run] the $name did not answer $url within 30 s" >&2
  return 1
}

NATS_USER=api NATS_PASSWORD="$TODO_CHAT_NATS_API_PASSWORD" ./target/release/api &
pids+=($!)
addr="${API_ADDR:-127.0.0.1:8000}"
wait_ready api "http://$addr/health" "${pids[-1]}" "API_ADDR (or METRICS_ADDR)" || exit 1
worker_addr="${WORKER_HTTP_ADDR:-127.0.0.1:8001}"
worker_port=$(( ${worker_addr##*:} ))
for i in $(seq 1 "${WORKERS:-1}"); do
  # each worker's /health and /metrics on its own port: 8001, 8002, ...
  port=$((worker_port + i - 1))
  WORKER_HTTP_ADDR="127.0.0.1:$port" NATS_USER=worker NATS_PASSWORD="$TODO_CHAT_NATS_WORKER_PASSWORD" \
    ./target/release/worker &
  pids+=($!)
  wait_ready "worker $i" "http://127.0.0.1:$port/health" "${pids[-1]}" WORKER_HTTP_ADDR || exit 1
done
cat <<MSG

[run] todo-chat is up: api on http://$addr (docs: http://$addr/docs, metrics: http://${METRICS_ADDR:-127.0.0.1:9464}/metrics),
[run] ${WORKERS:-1} worker(s) (health and metrics from http://127.0.0.1:$worker_port/metrics on).
[run] Try it: see "Use it with curl and websocat" in README.md. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
