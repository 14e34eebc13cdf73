#!/usr/bin/env bash
# Create (or refresh) the project's Python environment in .venv: the kernel, editable, with its test extras.
# Idempotent: does nothing when pyproject.toml has not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# GUI kernels (tests/python/test_gui.py): Tk needs an X display, which Debian's Xvfb gives without a screen;
# Qt's offscreen platform (PySide6) needs the EGL/GL/xkbcommon libraries.
if ! command -v Xvfb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "python-env.sh: installing Debian's xvfb" >&2
  timeout 600 $SUDO apt-get update || true
  timeout 900 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y xvfb libegl1 libgl1 libxkbcommon0 \
    || echo "python-env.sh: could not install xvfb; the Tk tests will be skipped" >&2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.async-kernel-installed
want=$(sha256sum pyproject.toml hatch_build.py | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]' ruff
  echo "$want" > "$stamp"
fi
