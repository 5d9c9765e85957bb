#!/usr/bin/env bash
# Every check CI makes: lint, types, then the unit, integration, e2e and
# reliability tiers.
# Each tier is its own pytest run, so a tier that collects no test fails the
# run (pytest exits 5) instead of passing as green.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/lint.sh
for tier in unit integration e2e reliability; do
  echo "== $tier tests"
  # The console's end-to-end tests drive a real headless browser.
  if [ "$tier" = e2e ]; then bash scripts/browser.sh; fi
  .venv/bin/python -m pytest "tests/$tier" -q
done
