#!/usr/bin/env bash
# Deploys a release on a single host (layout in scripts/deploy-lib.sh):
#   scripts/deploy.sh VERSION [BIN_DIR]      # BIN_DIR holds api, worker, loadgen (target/release)
# Stages the release beside the others, applies its migrations, switches `current`, restarts the
# services, waits for /health/ready and runs the smoke check. If any step after the switch fails,
# it rolls back by itself (scripts/rollback.sh: previous release, migrations reverted) and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy-lib.sh
. scripts/deploy-lib.sh
version="${1:?usage: scripts/deploy.sh VERSION [BIN_DIR]}"
bin_dir="${2:-target/release}"
case "$version" in *[!A-Za-z0-9._-]*) log "VERSION may hold letters, digits, . _ - only"; exit 2 ;; esac
load_env
started=$SECONDS

release="$ROOT/releases/$version"
if [ -e "$release" ] && [ "$(current_release)" = "$version" ]; then
  log "$version is already the current release"
  exit 0
fi
log "staging $version"
rm -rf "$release.staging"
mkdir -p "$release.staging/bin" "$release.staging/scripts"
for b in api worker loadgen; do
  [ -x "$bin_dir/$b" ] || { log "missing $bin_dir/$b"; exit 1; }
  cp "$bin_dir/$b" "$release.staging/bin/"
done
cp scripts/backup.sh scripts/restore.sh "$release.staging/scripts/"
rm -rf "$release"
mv "$release.staging" "$release"
schema_of "$version" > "$release/SCHEMA"

previous=$(current_release)
log "migrating the schema to release $version's (migration $(cat "$release/SCHEMA"))"
"$release/bin/api" migrate up >&2
[ -n "$previous" ] && echo "$previous" > "$release/PREVIOUS"
switch_to "$version"
log "switched current: ${previous:-none} -> $version; restarting"
restart_services
if wait_ready && smoke; then
  log "$version is live after $((SECONDS - started)) s"
  # Keep the five newest releases (and always the previous one).
  ls -1t "$ROOT/releases" | tail -n +6 | while read -r old; do
    [ "$old" = "$previous" ] || rm -rf "${ROOT:?}/releases/$old"
  done
  exit 0
fi
if [ -z "$previous" ]; then
  log "$version failed its checks and there is no previous release to go back to"
  exit 1
fi
log "$version failed readiness or the smoke check: rolling back to $previous"
scripts/rollback.sh
exit 1
