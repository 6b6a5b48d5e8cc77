#!/usr/bin/env bash
# Runs todo-chat locally: makes sure Postgres and NATS are up (installing and starting them if
# needed), creates the database, builds, then starts the api (which applies migrations) and
# WORKERS workers (default 1). Uses the built-in agent unless OPENAI_API_KEY is set.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f .env ]; then
  secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))' 2>/dev/null || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  sed "s/^JWT_SECRET=.*/JWT_SECRET=$secret/" .env.example > .env
  echo "[run] created .env with a fresh JWT_SECRET"
fi
set -a
# shellcheck disable=SC1091
. ./.env
set +a

./scripts/services.sh
cargo build --release --locked --bin api --bin worker

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "[run] stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap cleanup INT TERM EXIT

./target/release/api &
pids+=($!)
addr="${API_ADDR:-127.0.0.1:8000}"
for _ in $(seq 1 100); do
  curl -fsS "http://$addr/health" >/dev/null 2>&1 && break
  sleep 0.2
done
worker_addr="${WORKER_HTTP_ADDR:-127.0.0.1:8001}"
worker_port=$(( ${worker_addr##*:} ))
for i in $(seq 1 "${WORKERS:-1}"); do
  # each worker's /health and /metrics on its own port: 8001, 8002, ...
  WORKER_HTTP_ADDR="127.0.0.1:$((worker_port + i - 1))" ./target/release/worker &
  pids+=($!)
done
cat <<MSG

[run] todo-chat is up: api on http://$addr (docs: http://$addr/docs, metrics: http://${METRICS_ADDR:-127.0.0.1:9464}/metrics),
[run] ${WORKERS:-1} worker(s) (health and metrics from http://127.0.0.1:$worker_port/metrics on).
[run] Try it: see "Use it with curl and websocat" in README.md. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
