#!/usr/bin/env bash
# Puts the previous release back (layout in scripts/deploy-lib.sh): reverts the migrations the
# current release added (with the current release's own binary, which holds their down steps),
# switches `current` to the previous release, restarts, waits for /health/ready and runs the
# smoke check. Prints how long it took.
#   scripts/rollback.sh            # to the release deployed before the current one
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy-lib.sh
. scripts/deploy-lib.sh
load_env
started=$SECONDS
current=$(current_release)
[ -n "$current" ] || { log "no current release"; exit 1; }
previous=$(cat "$ROOT/releases/$current/PREVIOUS" 2>/dev/null || true)
[ -n "$previous" ] && [ -d "$ROOT/releases/$previous" ] || { log "no previous release recorded for $current"; exit 1; }

want=$(cat "$ROOT/releases/$previous/SCHEMA")
applied=$("$ROOT/releases/$current/bin/api" migrate status | awk -v want="$want" '$2 == "applied" && $1 + 0 > want' | wc -l)
if [ "$applied" -gt 0 ]; then
  log "reverting $applied migration(s) to migration $want, which $previous expects"
  "$ROOT/releases/$current/bin/api" migrate down --steps "$applied" >&2
fi
switch_to "$previous"
log "switched current: $current -> $previous; restarting"
restart_services
if wait_ready && smoke; then
  log "rolled back to $previous in $((SECONDS - started)) s"
  exit 0
fi
log "the previous release $previous is not healthy either: look at the services' logs"
exit 1
