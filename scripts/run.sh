#!/usr/bin/env bash
# The main job: a local broker, every service as its own process, simulated
# customers, and a live view of the decisions. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m services.cli.main demo "$@"
