#!/usr/bin/env bash
# Install Debian's chromium (/usr/bin/chromium) if it is missing: the browser tests (Playwright, pytest --lite)
# run in it. Idempotent; uses sudo unless run as root.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "chromium.sh: installing Debian's chromium" >&2
timeout 600 $SUDO apt-get update
timeout 900 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
