#!/usr/bin/env bash
# Run the Playwright tests of the JupyterLite site (tests/e2e/) in Debian's Chromium.
#
#   scripts/e2e.sh [playwright test args...]
#
# Builds the site if needed (lite/build.py), installs Debian's chromium if it is missing,
# then runs `playwright test` (both projects: crossOriginIsolated and not). The exit code is
# the tests' result.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
scripts/chromium.sh

if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  echo "e2e.sh: installing python3-venv" >&2
  timeout 600 ${SUDO-} env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
fi

timeout 1800 python3 lite/build.py
# The whole run is bounded too (each test has its own timeouts in playwright.config.ts).
exec timeout 2400 npx --no-install playwright test "$@"
