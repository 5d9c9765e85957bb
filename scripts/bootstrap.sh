#!/usr/bin/env bash
# Installs the project into ./.venv (created with the machine's Python 3.11+).
# Every transitive dependency comes from constraints.txt (exact versions), so
# every machine, CI and the image resolve the same set.
# Re-running is cheap: the install is redone only when pyproject.toml or
# constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON_BIN="${PYTHON_BIN:-python3}"
VENV="${CONCIERGE_VENV:-.venv}"

if ! "$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "bootstrap: Python 3.11 or newer is required ($PYTHON_BIN is $("$PYTHON_BIN" --version 2>&1))" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PYTHON_BIN" -m venv "$VENV"

stamp="$VENV/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
  echo "bootstrap: installed Concierge into $VENV"
fi

# promtool checks the alert rules in the unit tier. CI must have it; elsewhere
# the rule tests skip with the command that installs it.
if ! bash scripts/install-promtool.sh; then
  if [ "${CI:-}" = true ]; then exit 1; fi
  echo "bootstrap: no promtool: the alert-rule tests will skip (scripts/install-promtool.sh)" >&2
fi
