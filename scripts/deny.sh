#!/usr/bin/env bash
# Dependency audit: `cargo deny check` (RustSec advisories, licenses, duplicate versions, sources;
# policy in deny.toml). Installs cargo-deny when missing. The advisory database cannot be fetched
# on machines without access to GitHub: when ../shared/advisory-db (an offline RustSec snapshot)
# is beside the repository, it is used, offline; otherwise the live database is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[deny] %s\n' "$*" >&2; }

if ! command -v cargo-deny >/dev/null; then
  log "installing cargo-deny 0.20.2 from crates.io"
  cargo install --locked --quiet cargo-deny --version 0.20.2
fi

snapshot="${ADVISORY_DB_SNAPSHOT:-../shared/advisory-db}"
if [ -d "$snapshot" ]; then
  # cargo-deny keeps the database for https://github.com/rustsec/advisory-db under this name in
  # deny.toml's db-path; it wants a git repository, dated when the snapshot was taken.
  db=target/advisory-dbs/advisory-db-3157b0e258782691
  taken=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$snapshot/SNAPSHOT.md" | head -n 1)
  taken="${taken:-$(date -u +%F)}"
  rm -rf "$db"; mkdir -p "$(dirname "$db")"
  cp -r "$snapshot" "$db"
  git -C "$db" init -q
  git -C "$db" add -A
  GIT_AUTHOR_DATE="${taken}T00:00:00Z" GIT_COMMITTER_DATE="${taken}T00:00:00Z" \
    git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost commit -qm "RustSec advisory-db snapshot"
  log "advisories from the offline snapshot of $taken ($snapshot); newer advisories are not in it"
  cargo fetch --locked >/dev/null 2>&1 || cargo fetch --locked
  cargo deny --offline check
else
  log "no snapshot at $snapshot (set ADVISORY_DB_SNAPSHOT): fetching the live RustSec database"
  cargo deny check || { log "the audit failed, or the advisory database could not be fetched (no snapshot, no network)"; exit 1; }
fi
