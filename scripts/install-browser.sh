#!/usr/bin/env bash
# What the browser tests (tests/web, marked `browser`) need, installed without downloading a
# browser build: headless Chromium and its driver from Debian's packages, and axe-core (the
# accessibility checker the tests inject into each page) from npm into .tools/, outside the
# Python package. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
AXE_VERSION=4.11.0

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-browser.sh: installing Debian's chromium and chromium-driver (apt-get)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
  else
    echo "chromium is not installed and cannot be installed here; browser tests will skip" >&2
  fi
fi

if [ ! -f .tools/node_modules/axe-core/axe.min.js ]; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p .tools
    echo "install-browser.sh: installing axe-core@${AXE_VERSION} into .tools/ (npm)" >&2
    npm install --prefix .tools --no-audit --no-fund --no-save --silent "axe-core@${AXE_VERSION}" \
      || echo "axe-core could not be installed; the accessibility checks will skip" >&2
  else
    echo "npm is not installed; the accessibility checks will skip" >&2
  fi
fi
