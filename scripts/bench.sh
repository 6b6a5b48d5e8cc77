#!/usr/bin/env bash
# Runs the benchmarks of docs/BENCHMARKS.md on this machine: Postgres, NATS, api, worker(s),
# the fake LLM and loadgen together. Each benchmark runs RUNS times (default 3); every run's JSON
# summary goes to $OUT (default target/bench/<benchmark>.jsonl) and the medians are printed.
#
#   ./scripts/bench.sh                 # all benchmarks
#   ./scripts/bench.sh throughput idle # some: limits model throughput light lone streaming streaming1 streaming200 streaming200wave scaling idle floor
#   CPU=1 ./scripts/bench.sh streaming200  # also the CPU each process used during each run's load
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
CPU="${CPU:-0}"
OUT="${OUT:-target/bench}"
DB="${BENCH_DB:-todo_chat_bench}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
JWT_SECRET="${JWT_SECRET:-$(python3 -c 'import secrets; print(secrets.token_hex(32))')}"
export JWT_SECRET
export METRICS_ADDR="${METRICS_ADDR:-127.0.0.1:0}"
export BCRYPT_COST="${BCRYPT_COST:-4}"   # user set-up speed only; logins are not what is measured
export LOG_FORMAT=json RUST_LOG="${RUST_LOG:-warn}"
export API_ADDR=127.0.0.1:18000
API="http://$API_ADDR"
FAKE_ADDR=127.0.0.1:18089
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

./scripts/services.sh
# BENCH_BIN: a directory of already built api, worker and loadgen binaries (e.g. an older
# commit's, for a before/after comparison); otherwise this checkout's are built.
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  cargo build --release --locked --bin api --bin worker --bin loadgen >&2
  BIN=target/release
fi

pids=()
worker_pids=()
FAKE_PID=
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=() worker_pids=() FAKE_PID=
  # the run's own JetStream stream goes with it (binaries older than `drop-stream` leave it)
  if [ -n "${NATS_STREAM:-}" ]; then
    $BIN/loadgen drop-stream --nats "$NATS_URL" "$NATS_STREAM" >/dev/null 2>&1 || true
    unset NATS_STREAM
  fi
}
trap stop_all EXIT

fresh_db() {
  psql "postgres://postgres@127.0.0.1:5432/postgres" -qc "drop database if exists \"$DB\" with (force)" -c "create database \"$DB\"" >/dev/null
}

# start_system WORKERS [extra env assignments for the workers...]
start_system() {
  local workers=$1; shift
  local tag; tag=$(date +%s%N)
  export NATS_STREAM="BENCH_$tag" NATS_CONSUMER="bench_$tag" NATS_SUBJECT_PREFIX="bench_$tag"
  fresh_db
  # thousands of simulated users from one address, each chatting flat out: limits off
  CHAT_RATE_PER_MINUTE=0 CHAT_MAX_IN_FLIGHT=0 LOGIN_RATE_PER_MINUTE_PER_IP=0 \
    LOGIN_RATE_PER_MINUTE_PER_EMAIL=0 SIGNUP_RATE_PER_HOUR_PER_IP=0 SIGNUP_RATE_PER_MINUTE=0 \
    WS_MAX_PER_IP=0 WS_MAX_PER_USER=0 WS_FRAMES_PER_SECOND=0 \
    $BIN/api >"$OUT/api.log" 2>&1 &
  pids+=($!)
  API_PID=$!
  for _ in $(seq 1 100); do curl -fsS "$API/health" >/dev/null 2>&1 && break; sleep 0.1; done
  for _ in $(seq 1 "$workers"); do
    env WORKER_HTTP_ADDR=127.0.0.1:0 "$@" $BIN/worker >>"$OUT/worker.log" 2>&1 &
    pids+=($!) worker_pids+=($!)
  done
  sleep 1
}

start_fake() {
  $BIN/loadgen fake-llm --addr "$FAKE_ADDR" "$@" >"$OUT/fake.log" 2>&1 &
  pids+=($!) FAKE_PID=$!
  sleep 0.5
}

median() {
  python3 - "$1" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def get(r, path):
    for p in path.split('.'):
        r = r[p]
    return r
keys = ["throughput_per_s", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99", "ttft_ms.p50", "ttft_ms.p99",
        "accepted_ms.p99", "completed", "errors", "lost", "duplicated", "rss_per_connection_kib", "health_ms.p50",
        "health_ms.p99", "health_ms.max", "opened", "postgres_commits_per_s", "jetstream_messages_per_s"]
out = {}
for k in keys:
    try:
        out[k] = statistics.median(get(r, k) for r in runs)
    except (KeyError, TypeError):
        pass
print(json.dumps({"file": sys.argv[1], "runs": len(runs), "median": out}))
PY
}

# cpu_ticks FILE: "<process> <pid> <CPU ticks so far>" for the api, the workers, the fake LLM and
# every Postgres and nats-server process.
cpu_ticks() {
  {
    echo "api $API_PID"
    for p in "${worker_pids[@]}"; do echo "worker $p"; done
    [ -z "$FAKE_PID" ] || echo "fake-llm $FAKE_PID"
    for p in $(pgrep -x postgres); do echo "postgres $p"; done
    for p in $(pgrep -x nats-server); do echo "nats-server $p"; done
  } | while read -r name pid; do
    # the command name (2nd field) of these processes has no spaces
    awk -v n="$name" -v p="$pid" '{ print n, p, $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
  done >"$1"
}

# load FILE COMMAND...: runs a loadgen command, its JSON summary appended to FILE. With CPU=1 it
# also appends to FILE's `-cpu` twin the CPU seconds each process used while the command ran
# (loadgen's own included), in all and per 1 000 completed turns.
load() {
  local f=$1; shift
  if [ "$CPU" != 1 ]; then "$@" >>"$f"; return; fi
  local tmp; tmp=$(mktemp -d)
  cpu_ticks "$tmp/before"
  /usr/bin/time -f "%U %S" -o "$tmp/loadgen" "$@" >"$tmp/summary"
  cpu_ticks "$tmp/after"
  cat "$tmp/summary" >>"$f"
  python3 - "$tmp" "$(getconf CLK_TCK)" >>"${f%.jsonl}-cpu.jsonl" <<'PY'
import json, sys
tmp, hz = sys.argv[1], int(sys.argv[2])
def ticks(name):
    out = {}
    for line in open(f"{tmp}/{name}"):
        proc, pid, t = line.split()
        out[(proc, pid)] = int(t)
    return out
before, after = ticks("before"), ticks("after")
seconds = {}
for (proc, pid), t in after.items():
    seconds[proc] = seconds.get(proc, 0) + (t - before.get((proc, pid), 0)) / hz
user, system = open(f"{tmp}/loadgen").read().split()[-2:]
seconds["loadgen"] = float(user) + float(system)
completed = json.loads(open(f"{tmp}/summary").read().strip().splitlines()[-1]).get("completed") or 0
print(json.dumps({
    "cpu_s": {k: round(v, 2) for k, v in sorted(seconds.items())},
    "cpu_s_total": round(sum(seconds.values()), 2),
    "cpu_s_per_1000_turns": {k: round(v * 1000 / completed, 2) for k, v in sorted(seconds.items())} if completed else None,
}))
PY
  rm -rf "$tmp"
}

# builtin_runs FILE USERS MESSAGES [loadgen ws options...]: users chatting over WebSocket with the
# built-in agent.
builtin_runs() {
  local f=$1 users=$2 messages=$3; shift 3; : >"$f"
  for _ in $(seq 1 "$RUNS"); do
    start_system 1 WORKER_CONCURRENCY=256 AGENT_PROVIDER=builtin
    load "$f" $BIN/loadgen ws --api "$API" --users "$users" --messages "$messages" "$@" --json --user-prefix "tp$RANDOM"
    stop_all
  done
  median "$f"
}

bench_throughput() { builtin_runs "$OUT/throughput.jsonl" 200 20; }

# Latency when the system is not saturated: 20 users, each pausing 50 ms between messages
# (~300 turns/s offered).
bench_light() { builtin_runs "$OUT/light.jsonl" 20 50 --think-ms 50; }

# One user alone, 50 ms between messages: the latency of a turn with nothing queued before it.
# (At most 100 messages: the built-in agent adds a task per message and a user may have 100.)
bench_lone() { builtin_runs "$OUT/lone.jsonl" 1 100 --think-ms 50; }

# streaming_runs FILE USERS MESSAGES [loadgen ws options...]: the fake LLM's 300 ms TTFT +
# 40 tokens × 15 ms profile.
streaming_runs() {
  local f=$1 users=$2 messages=$3; shift 3; : >"$f"
  for _ in $(seq 1 "$RUNS"); do
    start_fake --ttft-ms 300 --tokens 40 --token-ms 15
    start_system 1 WORKER_CONCURRENCY=2500 AGENT_PROVIDER=openai OPENAI_API_KEY=fake \
      OPENAI_BASE_URL="http://$FAKE_ADDR/v1" OPENAI_TIMEOUT_SECS=30
    load "$f" $BIN/loadgen ws --api "$API" --users "$users" --messages "$messages" --check-tasks false --json \
      --user-prefix "st$RANDOM" "$@"
    stop_all
  done
  median "$f"
}

# 2 000 conversations at once.
bench_streaming() { streaming_runs "$OUT/streaming.jsonl" 2000 1; }

# 200 conversations side by side: their first messages spread over one reply's length (900 ms),
# so that the conversations overlap as users' do instead of arriving together; five messages each.
bench_streaming200() { streaming_runs "$OUT/streaming200.jsonl" 200 5 --ramp-ms 900; }

# One conversation alone, 20 messages: the time to first token with nothing queued before it.
bench_streaming1() { streaming_runs "$OUT/streaming1.jsonl" 1 20; }

# The same 200 conversations all starting at the same instant: every reply takes about as long,
# so they stay in step and the run is three waves of 200 turns arriving within a millisecond
# (how benchmark 3 was run until 2026-11-29).
bench_streaming200wave() { streaming_runs "$OUT/streaming200wave.jsonl" 200 3; }

bench_scaling() {
  for workers in 1 2 4; do
    local f="$OUT/scaling-$workers.jsonl"; : >"$f"
    for _ in $(seq 1 "$RUNS"); do
      start_fake --ttft-ms 200 --tokens 1 --token-ms 0
      # 16 connections per worker: 4 workers + the api stay under Postgres' max_connections (100)
      start_system "$workers" WORKER_CONCURRENCY=64 DB_POOL_SIZE=4 DB_MAX_OVERFLOW=12 AGENT_PROVIDER=openai \
        OPENAI_API_KEY=fake OPENAI_BASE_URL="http://$FAKE_ADDR/v1"
      $BIN/loadgen queue --nats "$NATS_URL" --api "$API" --requests 3000 --concurrency 1000 \
        --subject-prefix "$NATS_SUBJECT_PREFIX" --check-tasks false --json --user-prefix "sc$RANDOM" >>"$f"
      stop_all
    done
    median "$f"
  done
}

bench_idle() {
  local f="$OUT/idle.jsonl"; : >"$f"
  for _ in $(seq 1 "$RUNS"); do
    start_system 0
    $BIN/loadgen idle --api "$API" --connections 10000 --hold-s 10 --api-pid "$API_PID" --json >>"$f"
    stop_all
  done
  median "$f"
}

bench_floor() {
  local f="$OUT/floor.jsonl"; : >"$f"
  local g="$OUT/queue-builtin.jsonl"; : >"$g"
  for _ in $(seq 1 "$RUNS"); do
    start_system 1 WORKER_CONCURRENCY=256 AGENT_PROVIDER=builtin
    $BIN/loadgen queue --nats "$NATS_URL" --api "$API" --requests 5000 --concurrency 256 \
      --subject-prefix "$NATS_SUBJECT_PREFIX" --json --user-prefix "fq$RANDOM" >>"$g"
    stop_all
    fresh_db
    # the floor needs the schema: let the api apply it, then stop it
    start_system 0
    stop_all
    $BIN/loadgen floor --database-url "$DATABASE_URL" --nats "$NATS_URL" --turns 5000 --concurrency 256 --json >>"$f"
  done
  median "$g"
  median "$f"
}

# The machine's own limits, nothing else running: Postgres group commit, JetStream round trips.
bench_limits() {
  local f="$OUT/limits.jsonl"; : >"$f"
  fresh_db
  for _ in $(seq 1 "$RUNS"); do
    $BIN/loadgen limits --database-url "$DATABASE_URL" --nats "$NATS_URL" --seconds 10 --clients 32 \
      --in-flight 32 --json >>"$f"
  done
  median "$f"
}

# The model alone (`loadgen model`): benchmark 3's fake LLM and a client, no api, queue or worker.
# Twenty requests one at a time, then three waves of 200 sent at the same instant, as
# `streaming200wave`'s users send theirs. What the first token takes with nothing but the model
# in its way: the yardstick for benchmark 3's overhead.
bench_model() {
  local one="$OUT/model1.jsonl" wave="$OUT/model200wave.jsonl"; : >"$one"; : >"$wave"
  for _ in $(seq 1 "$RUNS"); do
    start_fake --ttft-ms 300 --tokens 40 --token-ms 15
    $BIN/loadgen model --base-url "http://$FAKE_ADDR/v1" --concurrency 1 --waves 20 --json >>"$one"
    $BIN/loadgen model --base-url "http://$FAKE_ADDR/v1" --concurrency 200 --waves 3 --json >>"$wave"
    stop_all
  done
  median "$one"
  median "$wave"
}

selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=(limits model throughput light lone streaming streaming1 streaming200 streaming200wave scaling idle floor)
for b in "${selected[@]}"; do
  echo "== $b" >&2
  "bench_$b"
done
