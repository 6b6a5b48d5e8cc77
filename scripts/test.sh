#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the end-to-end tests against real Postgres and NATS
# (started here if needed). Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
# The end-to-end tests create their own databases through the admin database.
DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" ./scripts/services.sh
# The browser tests (tests/tests/e2e/browser.rs) drive the system Chromium with playwright-core.
./scripts/browser-deps.sh
cargo test --workspace --locked "$@"
