#!/usr/bin/env bash
# Backs up the todo-chat database: one pg_dump in custom format (compressed, restorable table by
# table with pg_restore), named by UTC time, into BACKUP_DIR; then deletes backups older than
# BACKUP_RETENTION_DAYS. Prints the new file's path. Run it from cron or a systemd timer.
#
#   DATABASE_URL=postgres://… BACKUP_DIR=/var/backups/todo-chat ./scripts/backup.sh
#
# DATABASE_URL, BACKUP_DIR and BACKUP_RETENTION_DAYS come from the environment, else from .env.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then
  # Only the variables this script reads, without overriding the environment.
  while IFS='=' read -r key value; do
    case "$key" in
      DATABASE_URL|BACKUP_DIR|BACKUP_RETENTION_DAYS) [ -z "${!key:-}" ] && export "$key=$value" ;;
    esac
  done < <(grep -E '^(DATABASE_URL|BACKUP_DIR|BACKUP_RETENTION_DAYS)=' .env || true)
fi
: "${DATABASE_URL:?set DATABASE_URL (the database to back up)}"
BACKUP_DIR="${BACKUP_DIR:-./backups}"
BACKUP_RETENTION_DAYS="${BACKUP_RETENTION_DAYS:-14}"
case "$BACKUP_RETENTION_DAYS" in ''|*[!0-9]*) echo "backup: BACKUP_RETENTION_DAYS must be a whole number of days" >&2; exit 2 ;; esac
command -v pg_dump >/dev/null || { echo "backup: pg_dump is missing (apt-get install postgresql-client)" >&2; exit 1; }

mkdir -p "$BACKUP_DIR"
chmod 700 "$BACKUP_DIR"
file="$BACKUP_DIR/todo_chat-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$file.partial"
# Written under a temporary name and renamed once complete: a crash never leaves a file that
# looks like a good backup.
umask 077
pg_dump --format=custom --no-owner --no-privileges --file="$partial" "$DATABASE_URL"
mv "$partial" "$file"
echo "$file"

# Retention: backups older than the limit go (never the one just made).
find "$BACKUP_DIR" -maxdepth 1 -name 'todo_chat-*.dump' -type f -mtime "+$((BACKUP_RETENTION_DAYS - 1))" \
  ! -path "$file" -print -delete | sed 's/^/backup: removed old /' >&2
find "$BACKUP_DIR" -maxdepth 1 -name 'todo_chat-*.dump.partial' -type f -mmin +60 -delete
