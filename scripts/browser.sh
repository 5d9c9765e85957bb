#!/usr/bin/env bash
# Debian's headless Chromium and its WebDriver, for the console's end-to-end
# tests (tests/e2e/test_console.py). Installed only when missing, so a fresh CI
# machine gets them and a developer's machine is left alone.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "browser.sh: need root or sudo to apt-get install chromium" >&2; exit 1; }
  as_root=(sudo)
fi
echo "browser.sh: installing chromium and chromium-driver"
"${as_root[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y chromium chromium-driver
