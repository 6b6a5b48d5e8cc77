#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into DATABASE_URL, replacing what is there (every
# object of the dump is dropped and re-created, in one transaction: on error nothing changes).
# Stop the api and workers first; start them again afterwards.
#
#   DATABASE_URL=postgres://… ./scripts/restore.sh backups/todo_chat-20261127T120000Z.dump --yes
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-}"
confirm="${2:-}"
if [ -z "$file" ] || [ ! -f "$file" ]; then
  echo "usage: scripts/restore.sh BACKUP_FILE --yes   (a file made by scripts/backup.sh)" >&2
  exit 2
fi
if [ -z "${DATABASE_URL:-}" ] && [ -f .env ]; then
  DATABASE_URL=$(grep -E '^DATABASE_URL=' .env | head -1 | cut -d= -f2-)
fi
: "${DATABASE_URL:?set DATABASE_URL (the database to restore into)}"
if [ "$confirm" != "--yes" ]; then
  echo "restore: this replaces the data in the database of DATABASE_URL with $file; add --yes to go ahead" >&2
  exit 2
fi
for tool in pg_restore psql; do
  command -v "$tool" >/dev/null || { echo "restore: $tool is missing (apt-get install postgresql-client)" >&2; exit 1; }
done
pg_restore --list "$file" >/dev/null || { echo "restore: $file is not a readable pg_dump archive" >&2; exit 1; }
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
  --dbname="$DATABASE_URL" "$file"
# A dump carries no planner statistics: until autovacuum gets to the restored tables, Postgres
# guesses their sizes and picks slow plans (starting a batch of turns measured ~4x slower).
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc analyze
echo "restore: $file restored (and analysed)"
