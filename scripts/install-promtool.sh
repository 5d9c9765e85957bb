#!/usr/bin/env bash
# promtool, which checks and unit-tests the alert rules in deploy/prometheus,
# into .venv/bin. Taken from Debian's prometheus package, unpacked rather than
# installed: the package's Prometheus server is never installed or started.
# A promtool already on PATH is used as is.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CONCIERGE_VENV:-.venv}"
target="$VENV/bin/promtool"
[ -x "$target" ] && exit 0
if command -v promtool >/dev/null 2>&1; then
  ln -sf "$(command -v promtool)" "$target"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-promtool: no apt-get here; put promtool (Prometheus 2.x) on PATH" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Package lists are refreshed when we may (root); otherwise the machine's are used.
if [ "$(id -u)" = 0 ]; then apt-get update -qq; fi
(cd "$work" && apt-get download -qq prometheus)
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
install -m 0755 "$work/root/usr/bin/promtool" "$target"
echo "install-promtool: $("$target" --version 2>&1 | head -1)"
