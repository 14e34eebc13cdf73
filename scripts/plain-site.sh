#!/usr/bin/env bash
# Build a JupyterLite site the way a user does, to test it like our own (tests/addon, tests/e2e):
# a fresh venv with this project's wheel (lite/build/dist, made by lite/build.py), jupyterlite-core,
# jupyter_server (for contents) and jupyterlab_widgets; then plain `jupyter lite build` in an empty
# folder, with lite/content as contents and our site's extra wheels. No script of ours runs in between.
#
#   scripts/plain-site.sh        # -> build/plain-site/site; the venv in build/plain-site/.venv
#
# Then the same site with `--AsyncKernelAddon.isolation=service-worker` into build/sw-site/site (its
# own lite dir, so the two builds' doit states do not overwrite each other), for playwright.sw.config.ts.
#
# The venv is made anew whenever the wheel changes; otherwise this takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=$ROOT/build/plain-site
scripts/wheel-venv.sh "$DIR/.venv" jupyterlite-core==0.8.6 "jupyter_server>=2.14" "jupyterlab_widgets>=3.0.15,<4"
mkdir -p "$DIR/work"
cd "$DIR/work"
timeout 900 "$DIR/.venv/bin/jupyter" lite build --contents "$ROOT/lite/content" \
  --AsyncKernelAddon.extra_wheels="$ROOT/lite/build/extra-wheels" --output-dir "$DIR/site"
echo "plain-site.sh: site in $DIR/site"
SW=$ROOT/build/sw-site
mkdir -p "$SW/work"
cd "$SW/work"
timeout 900 "$DIR/.venv/bin/jupyter" lite build --contents "$ROOT/lite/content" \
  --AsyncKernelAddon.extra_wheels="$ROOT/lite/build/extra-wheels" --AsyncKernelAddon.isolation=service-worker \
  --output-dir "$SW/site"
echo "plain-site.sh: the same, isolated by its service worker, in $SW/site"
