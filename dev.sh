#!/usr/bin/env bash
# One entry point for a fresh machine: `bash dev.sh serve` runs the service with sample data,
# `bash dev.sh test` runs the whole test suite. Each installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VCSMATCH_VENV:-.venv}

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  # Reinstall only when the declared dependencies change.
  stamp="$VENV/.vcsmatch-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    touch "$stamp"
  fi
}

case "${1:-}" in
  serve)
    install
    shift
    exec "$VENV/bin/vcsmatch" serve --demo "$@"
    ;;
  test)
    install
    bash scripts/install-browser.sh
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash dev.sh serve|test [args...]" >&2
    exit 2
    ;;
esac
