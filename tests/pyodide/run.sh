#!/usr/bin/env bash
# Run tests/pyodide/test_*.py inside real Pyodide under Node.js.
#
#   tests/pyodide/run.sh [-k SUBSTRING] [--timeout SECONDS]
#
# Brings the kernel's Pyodide wheels up to date (python scripts/browser_runtime.py, the step the
# wheel build runs: it also installs the npm packages when needed), or takes $PYODIDE_WHEELS, then
# runs tests/pyodide/run.mjs. Exit status: 0 if every test passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [[ -n "${PYODIDE_WHEELS:-}" ]]; then
  WHEELS="$PYODIDE_WHEELS"
else
  WHEELS="$ROOT/py/async_kernel/jupyterlite/runtime/wheels"
  python3 scripts/browser_runtime.py >&2
fi

# run.mjs bounds every test; this bounds the whole run (a synchronous hang inside Python included).
exec timeout --kill-after=10 "${PYODIDE_TESTS_TIMEOUT:-600}" node tests/pyodide/run.mjs "$WHEELS" "$@"
