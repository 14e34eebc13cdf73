#!/usr/bin/env bash
# Run every test: lint, the native kernel (pytest), the kernel inside Pyodide under Node.js, and the
# JupyterLite site in Chromium (Playwright). Installs what it needs on a fresh machine; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/python-env.sh
echo "== ruff"
.venv/bin/ruff check py tests bench lite js/py hatch_build.py
.venv/bin/ruff format --check py tests bench lite js/py hatch_build.py
echo "== native kernel (pytest)"
.venv/bin/python -m pytest tests/python tests/pyodide -p no:cacheprovider
echo "== build the site: npm packages, the extension, the wheels (lite/build.py)"
python3 lite/build.py
echo "== lint js/ and tests/e2e/ (tsc, eslint, prettier)"
npm run lint
echo "== kernel inside Pyodide under Node.js"
tests/pyodide/run.sh
echo "== JupyterLite site in Chromium (Playwright)"
scripts/e2e.sh
