#!/usr/bin/env bash
# Run every test: lint, the native kernel (pytest), the `jupyter lite build` addon, the kernel inside
# Pyodide under Node.js, and two JupyterLite sites in Chromium (Playwright): ours (lite/build.py) and one
# built by plain `jupyter lite build` in a fresh venv (scripts/plain-site.sh), also isolated by its
# service worker on a server without COOP/COEP; then the docs (scripts/docs.sh)
# and their live consoles in Chromium. Installs what it needs on a fresh machine; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/python-env.sh
echo "== ruff"
.venv/bin/ruff check py tests bench lite hatch_build.py scripts docs
.venv/bin/ruff format --check py tests bench lite hatch_build.py scripts docs
echo "== native kernel (pytest)"
.venv/bin/python -m pytest tests/unit tests/python tests/pyodide -p no:cacheprovider
echo "== build our site: npm packages, the extension, the wheel, jupyter lite build (lite/build.py)"
python3 lite/build.py
echo "== a user's site: fresh venv, our wheel, plain jupyter lite build (scripts/plain-site.sh)"
scripts/plain-site.sh
echo "== the jupyter lite build addon (pytest tests/addon)"
.venv/bin/python -m pytest tests/addon -p no:cacheprovider
echo "== pytest --lite: the plugin's tests, then our demo notebooks (lite/content) in Chromium"
WHEEL_EXTRAS=lite-test scripts/wheel-venv.sh build/lite-pytest/.venv pytest-xdist
scripts/chromium.sh
.venv/bin/python -m pytest tests/lite_pytest -p no:cacheprovider
# widget.ipynb waits for a click and input.ipynb for typed answers: the e2e tests drive those.
timeout 900 build/lite-pytest/.venv/bin/pytest --lite lite/content -c tests/lite_pytest/demo.ini \
  --rootdir lite/content -o cache_dir="$PWD/build/lite-pytest/cache" \
  --deselect widget.ipynb::widget.ipynb --deselect input.ipynb::input.ipynb
echo "== lint js/ and tests/e2e/ (tsc, eslint, prettier)"
npm run lint
echo "== kernel inside Pyodide under Node.js"
tests/pyodide/run.sh
echo "== our site (lite/_output) in Chromium (Playwright)"
scripts/e2e.sh
echo "== the plain jupyter lite build site in Chromium (Playwright)"
ASYNC_KERNEL_SITE=build/plain-site/site ASYNC_KERNEL_E2E_PORT=8775 scripts/e2e.sh
echo "== that site with AsyncKernelAddon.isolation=service-worker, served without COOP/COEP (Playwright)"
scripts/e2e.sh -c playwright.sw.config.ts
echo "== the documentation (Sphinx + jupyterlite-sphinx) and its live parts in Chromium (Playwright)"
scripts/docs.sh
timeout 900 npx --no-install playwright test -c playwright.docs.config.ts
