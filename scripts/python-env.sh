#!/usr/bin/env bash
# Create (or refresh) the project's Python environment in .venv: the kernel, editable, with its test extras.
# Idempotent: does nothing when pyproject.toml has not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
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
