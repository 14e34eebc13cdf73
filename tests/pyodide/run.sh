#!/usr/bin/env bash
# Run tests/pyodide/test_*.py inside real Pyodide under Node.js.
#
#   tests/pyodide/run.sh [-k SUBSTRING] [--timeout SECONDS]
#
# Prepares the wheel folder (build/pyodide-wheels, or $PYODIDE_WHEELS) with `python lite/wheels.py`
# when it is missing or older than the sources, installs the npm packages if node_modules lacks
# pyodide, then runs tests/pyodide/run.mjs. Exit status: 0 if every test passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WHEELS="${PYODIDE_WHEELS:-$ROOT/build/pyodide-wheels}"
if [[ -n "${PYTHON:-}" ]]; then :
elif [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"
else PYTHON=python3
fi

stale() {
  local stamp="$WHEELS/index.json"
  [[ -f "$stamp" ]] || return 0
  [[ -n "$(find py pyproject.toml hatch_build.py lite/wheels.py -newer "$stamp" \
            -not -path '*/__pycache__*' -not -name '*.pyc' -print -quit 2>/dev/null)" ]]
}

if stale; then
  echo "preparing Pyodide wheels in $WHEELS" >&2
  "$PYTHON" lite/wheels.py "$WHEELS" >&2
fi

if [[ ! -f node_modules/pyodide/pyodide.mjs ]]; then
  echo "node_modules/pyodide is missing: npm install" >&2
  npm install --no-audit --no-fund >&2
fi

# run.mjs bounds every test; this bounds the whole run (a synchronous hang inside Python included).
exec timeout --kill-after=10 "${PYODIDE_TESTS_TIMEOUT:-600}" node tests/pyodide/run.mjs "$WHEELS" "$@"
