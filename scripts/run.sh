#!/usr/bin/env bash
# The main job: a local broker, every topic, and a round trip through it.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/kafka/kafka.sh up
.venv/bin/python -m services.cli.main provision
.venv/bin/python -m services.cli.main smoke
