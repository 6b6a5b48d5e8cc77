#!/usr/bin/env bash
# Checks deploy/prometheus with promtool: the example prometheus.yml, the rules in alerts.yml and
# their unit tests in alerts.test.yml. Installs Debian's prometheus package for promtool when it is
# missing.
set -euo pipefail
cd "$(dirname "$0")/../deploy/prometheus"
if ! command -v promtool >/dev/null; then
  if command -v apt-get >/dev/null; then
    SUDO=""; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
    echo "[alerts] installing promtool (Debian package prometheus)" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
  else
    echo "[alerts] promtool is not installed and cannot be installed here: skipping" >&2
    exit 0
  fi
fi
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts.test.yml
