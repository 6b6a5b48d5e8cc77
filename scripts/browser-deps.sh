#!/usr/bin/env bash
# Installs what the browser tests need, if missing: Debian's Chromium (/usr/bin/chromium) and the
# npm package playwright-core (tests/browser/node_modules, from package-lock.json). Playwright
# never downloads a browser here: the tests drive the system one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi
if ! command -v node >/dev/null; then
  echo "the browser tests need Node.js 20+ (apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -d tests/browser/node_modules/playwright-core ] \
  || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi
