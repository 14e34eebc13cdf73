"""Build the offline JupyterLite site with the "Python (async)" kernel into lite/_output.

    python3 lite/build.py [--force]

Our site is built the way users build theirs: `jupyter lite build` with this project's wheel
installed, whose build addon (async_kernel.jupyterlite.addon) puts the Pyodide runtime, the
kernel's wheels and the memory snapshot into the site. This script only prepares that:

1. lite/.venv: jupyterlite-core, jupyter_server (contents), jupyterlab_widgets;
2. this repository's wheel (`pip wheel .`: its build hook builds js/ and the runtime, see
   scripts/browser_runtime.py), installed into lite/.venv;
3. the wheels `%pip install` may use in our site (lite/extra-requirements.txt), downloaded for
   Pyodide's Python into lite/build/extra-wheels (jupyter_lite_config.json passes that folder
   to the addon's `extra_wheels`);
4. `jupyter lite build` in lite/ (doit skips what is up to date).

Steps 1-3 are skipped when their inputs have not changed (stamps in lite/build/), so a second
run takes a few seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

LITE = Path(__file__).resolve().parent
ROOT = LITE.parent
VENV = LITE / ".venv"
BUILD = LITE / "build"
OUTPUT = LITE / "_output"
DIST = BUILD / "dist"
EXTRA_WHEELS = BUILD / "extra-wheels"
EXTRA_REQUIREMENTS = LITE / "extra-requirements.txt"
#: What the project's wheel is built from (scripts/browser_runtime.py skips unchanged steps itself).
WHEEL_INPUTS = (
    "py", "pyproject.toml", "hatch_build.py", "scripts/browser_runtime.py", "js/src", "js/schema",
    "js/style", "js/package.json", "js/webpack.config.js", "tsconfig.json", "package.json", "package-lock.json",
)  # fmt: skip

sys.path.insert(0, str(ROOT / "scripts"))
from browser_runtime import digest  # noqa: E402  (the stamps of the wheel build's own steps use it too)

BUILD_REQUIREMENTS = (
    "jupyterlite-core==0.8.6",
    "jupyter_server>=2.14",
    "jupyterlab_widgets>=3.0.15,<4",
)


def log(text: str) -> None:
    print(f"[lite/build] {text}", flush=True)


def run(cmd: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True, env=env)


class Stamp:
    """Remembers the inputs' digest of a step in lite/build/NAME.stamp."""

    def __init__(self, name: str, value: str) -> None:
        self.path = BUILD / f"{name}.stamp"
        self.value = value

    def fresh(self) -> bool:
        return self.path.is_file() and self.path.read_text() == self.value

    def save(self) -> None:
        BUILD.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.value)


def in_build_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv(argv: list[str]) -> None:
    """Create/update lite/.venv, then re-run this script inside it."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log(f"creating {VENV}")
        run([sys.executable, "-m", "venv", str(VENV)])
    stamp = Stamp("venv", digest([], "\n".join(BUILD_REQUIREMENTS)))
    if not stamp.fresh():
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *BUILD_REQUIREMENTS])
        stamp.save()
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def install_project_wheel(force: bool) -> None:
    """Build this repository's wheel (with js/ and the browser runtime) and install it, as users do."""
    stamp = Stamp("project-wheel", digest([ROOT / name for name in WHEEL_INPUTS]))
    wheels = list(DIST.glob("async_kernel_jupyter-*.whl"))
    if not force and stamp.fresh() and len(wheels) == 1:
        return
    shutil.rmtree(DIST, ignore_errors=True)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(DIST), str(ROOT)], env=tool_env())
    (wheel,) = DIST.glob("async_kernel_jupyter-*.whl")
    log(f"{wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB")
    # --no-deps: the addon needs only jupyterlite-core; the kernel's own dependencies are for native use.
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)])
    stamp.save()


def read_requirements(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def download_extra_wheels() -> None:
    """Our site's `%pip` wheels, for Pyodide's Python (the one network use, before the build)."""
    requirements = read_requirements(EXTRA_REQUIREMENTS)
    stamp = Stamp("extra-wheels", digest([EXTRA_REQUIREMENTS]))
    if stamp.fresh() and EXTRA_WHEELS.is_dir():
        return
    shutil.rmtree(EXTRA_WHEELS, ignore_errors=True)
    run([sys.executable, "-m", "async_kernel.jupyterlite.wheels", *requirements, "-d", str(EXTRA_WHEELS)])
    stamp.save()


def lite_build() -> None:
    run(["jupyter", "lite", "build"], cwd=LITE, env=tool_env())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild every step")
    args = parser.parse_args(argv)
    if not in_build_venv():
        ensure_venv(argv)
    if args.force:
        shutil.rmtree(BUILD, ignore_errors=True)
        shutil.rmtree(OUTPUT, ignore_errors=True)
        (LITE / ".jupyterlite.doit.db").unlink(missing_ok=True)
    install_project_wheel(args.force)
    download_extra_wheels()
    lite_build()
    log(f"site ready in {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
