#!/usr/bin/env bash
# Make a venv holding this project's built wheel (lite/build/dist, made by lite/build.py) and REQUIREMENTS,
# installed the way a user installs them (with dependencies). Kept as it is while the wheel and the
# requirements are the same; made anew when either changes.
#
#   scripts/wheel-venv.sh VENV REQUIREMENT...
#   WHEEL_EXTRAS=lite-test scripts/wheel-venv.sh VENV ...     # the wheel with these extras
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$1
shift
shopt -s nullglob
wheels=("$PWD"/lite/build/dist/async_kernel_jupyter-*.whl)
if [ ${#wheels[@]} != 1 ]; then
  echo "wheel-venv.sh: expected one wheel in lite/build/dist, found ${#wheels[@]}: run python3 lite/build.py first" >&2
  exit 1
fi
wheel=${wheels[0]}${WHEEL_EXTRAS:+[$WHEEL_EXTRAS]}
want=$({ sha256sum "${wheels[0]}" | cut -c1-64; printf '%s\n' "${WHEEL_EXTRAS:-}" "$@"; } | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.inputs" 2>/dev/null)" != "$want" ]; then
  echo "wheel-venv.sh: making $VENV"
  rm -rf "$VENV"
  timeout 300 python3 -m venv "$VENV"
  timeout 900 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" "$@" \
    2> >(grep -v "^WARNING: Location .* is ignored" >&2)
  echo "$want" > "$VENV/.inputs"
fi
