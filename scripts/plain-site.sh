#!/usr/bin/env bash
# Build a JupyterLite site the way a user does, to test it like our own (tests/addon, tests/e2e):
# a fresh venv with this project's wheel (lite/build/dist, made by lite/build.py), jupyterlite-core,
# jupyter_server (for contents) and jupyterlab_widgets; then plain `jupyter lite build` in an empty
# folder, with lite/content as contents and our site's extra wheels. No script of ours runs in between.
#
#   scripts/plain-site.sh        # -> build/plain-site/site; the venv in build/plain-site/.venv
#
# The venv is made anew whenever the wheel changes; otherwise this takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
shopt -s nullglob
wheels=(lite/build/dist/async_kernel_jupyter-*.whl)
if [ ${#wheels[@]} != 1 ]; then
  echo "plain-site.sh: no wheel in lite/build/dist: run python3 lite/build.py first" >&2
  exit 1
fi
DIR=$ROOT/build/plain-site
want=$(sha256sum "${wheels[0]}" | cut -c1-16)
if [ "$(cat "$DIR/.venv/.wheel" 2>/dev/null)" != "$want" ]; then
  rm -rf "$DIR"
  python3 -m venv "$DIR/.venv"
  timeout 900 "$DIR/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "${wheels[0]}" jupyterlite-core==0.8.6 "jupyter_server>=2.14" "jupyterlab_widgets>=3.0.15,<4"
  echo "$want" > "$DIR/.venv/.wheel"
fi
mkdir -p "$DIR/work"
cd "$DIR/work"
timeout 900 "$DIR/.venv/bin/jupyter" lite build --contents "$ROOT/lite/content" \
  --AsyncKernelAddon.extra_wheels="$ROOT/lite/build/extra-wheels" --output-dir "$DIR/site"
echo "plain-site.sh: site in $DIR/site"
