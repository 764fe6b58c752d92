#!/usr/bin/env bash
# One entry point for a fresh machine: `bash dev.sh serve` runs the service with sample data,
# `bash dev.sh test` runs the whole test suite (installing the test tools and, with root, the
# browser), `bash dev.sh vcsmatch ...` runs the CLI. Each installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VCSMATCH_VENV:-.venv}

install() {
  # install [EXTRAS]: ".[dev]" for the tests (the default), "." for serving only.
  target=${1:-.[dev]}
  if [ ! -x "$VENV/bin/python" ]; then
    echo "dev.sh: creating the virtual environment in $VENV" >&2
    python3 -m venv "$VENV"
  fi
  # Reinstall only when the declared dependencies change. The test install (.[dev]) is a
  # superset of the serving one, so its stamp serves both.
  stamp="$VENV/.vcsmatch-installed"
  serve_stamp="$VENV/.vcsmatch-installed-serve"
  if [ -f "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ]; then
    return
  fi
  if [ "$target" = "." ] && [ -f "$serve_stamp" ] && [ ! pyproject.toml -nt "$serve_stamp" ]; then
    return
  fi
  echo "dev.sh: installing vcsmatch ($target) into $VENV; this takes a few minutes the first time" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --progress-bar on -e "$target"
  if [ "$target" = "." ]; then touch "$serve_stamp"; else touch "$stamp"; fi
}

case "${1:-}" in
  serve)
    install .
    shift
    exec "$VENV/bin/vcsmatch" serve --demo "$@"
    ;;
  vcsmatch)
    # The README's `vcsmatch ...` lines, without activating the venv: bash dev.sh vcsmatch ...
    install .
    shift
    exec "$VENV/bin/vcsmatch" "$@"
    ;;
  test)
    install
    bash scripts/install-browser.sh
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash dev.sh serve|test|vcsmatch [args...]" >&2
    exit 2
    ;;
esac
