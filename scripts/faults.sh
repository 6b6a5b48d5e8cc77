#!/usr/bin/env bash
# The fault-injection suite (docs/RELIABILITY.md): for each fault, a private Postgres cluster and
# NATS server, two api and two worker processes and the fake LLM carry a steady WebSocket load
# while a worker is killed (-9), NATS is killed and restarted (with its store, or with it lost),
# Postgres is restarted, an api is killed (-9) with clients attached, or the model hangs. Prints
# the table and fails when a request was lost or answered / applied twice.
#
#   ./scripts/faults.sh                        # all faults
#   ./scripts/faults.sh --faults api-kill      # one (any flag of the `faults` binary works)
set -euo pipefail
cd "$(dirname "$0")/.."
# Postgres server binaries and nats-server must exist (scripts/services.sh installs them); the
# suite starts its own instances, so the machine's services are not touched.
./scripts/services.sh >/dev/null
cargo build --locked --bin api --bin worker --bin faults
exec ./target/debug/faults --bin-dir target/debug "$@"
