#!/usr/bin/env bash
# Build the offline JupyterLite site with the "Python (async)" kernel and serve it on 127.0.0.1.
#
#   scripts/serve.sh [--port 8765] [--no-isolation]
#
# On a fresh machine this installs what it needs: npm packages (npm ci), a build venv in
# lite/.venv (jupyterlite-core, jupyter_server, ...), the kernel's wheels for Pyodide. When
# everything is already built it starts serving within a few seconds. Needs node >= 20, npm
# and python3 >= 3.11 (with venv).
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "serve.sh: '$1' is required ($2)" >&2; exit 1; }
}
need node "Node.js 20 or newer"
need npm "npm, with Node.js"
need python3 "Python 3.11 or newer"
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  # Debian splits venv support out of python3.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    timeout 600 apt-get update && timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
  else
    echo "serve.sh: python3 lacks the venv module (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi

timeout 1800 python3 lite/build.py
exec python3 lite/serve.py "$@"
