#!/usr/bin/env bash
# Build the documentation (docs/) into docs/_build/html, with its live parts: jupyterlite-sphinx runs
# `jupyter lite build` at the end, and this project's wheel (its build addon) puts the kernel's Pyodide
# runtime, wheels and memory snapshot into docs/_build/html/lite. Warnings are errors (sphinx-build -W).
#
#   scripts/docs.sh            # needs lite/build/dist/async_kernel_jupyter-*.whl (python3 lite/build.py)
#
# The venv (build/docs/.venv) is made anew only when the wheel or the requirements below change; a
# second run rebuilds only what changed (the snapshot is kept while its inputs are the same).
# Serve the result: python3 lite/serve.py --dir docs/_build/html
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# (jupyterlite-pyodide-kernel is left out on purpose: it would register a second kernel named "python".)
VENV=$ROOT/build/docs/.venv
scripts/wheel-venv.sh "$VENV" "sphinx>=8,<10" "myst-parser>=4,<6" "jupyterlite-sphinx==0.23.*" \
  jupyterlite-core==0.8.6 "jupyter_server>=2.14" "jupyterlab_widgets>=3.0.15,<4"
# The site's contents are made anew each time (try_examples notebooks get new random names; old ones
# would stay in the site's file list); the rest of the site, the snapshot too, is rebuilt only if needed.
rm -rf docs/_build/html/lite/files docs/_build/html/lite/api/contents
# jupyterlite-sphinx silences `jupyter lite build` unless it fails; then its output is printed.
# -E: read every page again. jupyterlite-sphinx empties docs/_contents at each start and refills it only
# from the pages it reads (the notebooks of notebooklite and try_examples), so a page that Sphinx would
# skip as unchanged would lose its notebook from the site.
timeout 1200 "$VENV/bin/python" -m sphinx -E -W --keep-going -b html -q docs docs/_build/html
echo "docs.sh: built docs/_build/html (serve it: python3 lite/serve.py --dir docs/_build/html)"
