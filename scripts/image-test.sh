#!/usr/bin/env bash
# CI test of the container image (docs/DEPLOY.md, "What was and was not run"): builds the
# Dockerfile's `prebuilt` target from this checkout's binaries, then runs it with host networking
# against a private NATS and a database of its own: `api migrate up`, an api and a worker
# container until /health/ready, `loadgen smoke` from the image, the non-root user, and the
# worker's HEALTHCHECK. Installs Debian's docker.io and starts dockerd when missing; without
# registry access the Debian base image is made with debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[image-test] $*" >&2; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ! -x /usr/bin/docker ] || ! command -v debootstrap >/dev/null; then
  log "installing docker.io and debootstrap"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap >/dev/null
fi
D=/usr/bin/docker
work=$(mktemp -d)
tag=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')
dockerd_pid="" nats_pid=""
ADMIN_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="todo_chat_image_$tag"
cleanup() {
  $D rm -f "tc-api-$tag" "tc-worker-$tag" >/dev/null 2>&1 || true
  $D rmi -f "todo-chat:ci-$tag" >/dev/null 2>&1 || true
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null || true
  psql "$ADMIN_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
  [ -n "$dockerd_pid" ] && $SUDO kill "$dockerd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
if ! $D info >/dev/null 2>&1; then
  log "starting dockerd"
  $SUDO dockerd > "$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do $D info >/dev/null 2>&1 && break; sleep 0.5; done
  $D info >/dev/null 2>&1 || { log "dockerd did not start"; cat "$work/dockerd.log" >&2; exit 1; }
fi
if ! $D image inspect debian:bookworm-slim >/dev/null 2>&1; then
  if ! timeout 60 $D pull -q debian:bookworm-slim >/dev/null 2>&1; then
    log "no registry: making the Debian 12 base with debootstrap"
    # The machine's own Debian mirror first (/etc/apt/sources.list may not exist: grep's failure must
    # not end the script under pipefail), then deb.debian.org; each tried twice, and the last
    # failure's log shown.
    mirror=$( (grep -rhoE 'https?://[^ ]*debian[^ ]*' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) \
      | grep -v -e security -e snapshot | head -1 || true)
    made=""
    for source in ${mirror:+"$mirror" "$mirror"} http://deb.debian.org/debian http://deb.debian.org/debian; do
      $SUDO rm -rf "$work/rootfs"
      if $SUDO debootstrap --variant=minbase bookworm "$work/rootfs" "$source" >"$work/debootstrap.log" 2>&1; then
        made=yes
        break
      fi
      log "debootstrap from $source failed"
      sleep 2
    done
    [ -n "$made" ] || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    $SUDO tar -C "$work/rootfs" -c . | $D import - debian:bookworm-slim >/dev/null
  fi
fi

cargo build --locked --bin api --bin worker --bin loadgen >&2
log "building the image (prebuilt target) from this checkout's binaries"
mkdir -p "$work/ctx/target/release"
cp Dockerfile .dockerignore "$work/ctx/"
for b in api worker loadgen; do strip -o "$work/ctx/target/release/$b" "target/debug/$b"; done
DOCKER_BUILDKIT=1 $D build -q --target prebuilt -t "todo-chat:ci-$tag" "$work/ctx" >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port=$(free_port); api_port=$(free_port); worker_port=$(free_port)
NATS_BIN=$(command -v nats-server || ls /usr/sbin/nats-server "$HOME/.local/bin/nats-server" 2>/dev/null | head -n 1)
"$NATS_BIN" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" >/dev/null 2>&1 &
nats_pid=$!
psql "$ADMIN_URL" -qc "create database \"$db\"" >/dev/null
env_args=(-e "DATABASE_URL=${ADMIN_URL%/*}/$db" -e "NATS_URL=nats://127.0.0.1:$nats_port"
  -e "JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')" -e RUN_MIGRATIONS=false
  -e SIGNUP_RATE_PER_HOUR_PER_IP=0 -e BCRYPT_COST=4)
img="todo-chat:ci-$tag"
$D run --rm --network host "${env_args[@]}" "$img" api migrate up >&2
$D run -d --name "tc-api-$tag" --network host "${env_args[@]}" -e "API_ADDR=127.0.0.1:$api_port" \
  -e METRICS_ADDR=127.0.0.1:0 -e "HEALTH_PORT=$api_port" "$img" api >/dev/null
$D run -d --name "tc-worker-$tag" --network host "${env_args[@]}" -e "WORKER_HTTP_ADDR=127.0.0.1:$worker_port" \
  -e "HEALTH_PORT=$worker_port" "$img" worker >/dev/null
for url in "http://127.0.0.1:$api_port/health/ready" "http://127.0.0.1:$worker_port/health/ready"; do
  for _ in $(seq 1 60); do curl -fs -o /dev/null "$url" && break; sleep 0.5; done
  curl -fs -o /dev/null "$url" || { log "FAIL: not ready: $url"; $D logs "tc-api-$tag" 2>&1 | tail -5 >&2; exit 1; }
done
$D run --rm --network host "$img" loadgen smoke --base-url "http://127.0.0.1:$api_port" >&2
uid=$($D exec "tc-api-$tag" id -u)
[ "$uid" = 10001 ] || { log "FAIL: the api runs as uid $uid, not 10001"; exit 1; }
for _ in $(seq 1 40); do
  [ "$($D inspect --format '{{.State.Health.Status}}' "tc-worker-$tag")" = healthy ] && break
  sleep 1
done
status=$($D inspect --format '{{.State.Health.Status}}' "tc-worker-$tag")
[ "$status" = healthy ] || { log "FAIL: the worker's HEALTHCHECK says $status"; exit 1; }
$D stop -t 40 "tc-api-$tag" "tc-worker-$tag" >/dev/null
log "ok: image built, migrated, ready, smoke passed, uid 10001, HEALTHCHECK healthy, stopped cleanly"
