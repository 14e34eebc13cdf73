"""Collect the wheels the in-browser kernel installs in Pyodide.

    python lite/wheels.py OUTDIR [--extra REQUIREMENT ...]

OUTDIR then holds this repository's wheel, every pure-Python dependency wheel for Pyodide's
Python (3.14, fetched from PyPI now, at build time) and `index.json`: a JSON list of the
wheel file names to install, in install order (dependencies first, this project last).

Re-running is cheap: dependency wheels already in OUTDIR are reused (pip reads them from
there), only this repository's wheel is rebuilt.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Python version of the npm `pyodide` runtime the site ships (pyodide 314.x = CPython 3.14).
PYODIDE_PYTHON = "3.14"

#: Always installed in the browser besides the kernel's own dependencies.
BROWSER_EXTRAS = ("ipywidgets>=8.1",)

#: Not installable or not useful under Pyodide: no subprocesses, no terminals; the widget
#: front-end assets are served by the site itself, not by Python.
EXCLUDED = frozenset({"pexpect", "ptyprocess", "psutil", "pyzmq", "widgetsnbextension", "jupyterlab-widgets"})

_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.*\.whl$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name(path: Path) -> str:
    match = _WHEEL.match(path.name)
    if match is None:
        raise ValueError(f"not a wheel file name: {path.name}")
    return normalize(match["name"])


def requirement_name(requirement: str) -> str:
    return normalize(re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0])


def kernel_requirements() -> list[str]:
    """The kernel's runtime dependencies that apply in the browser (from pyproject.toml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project.get("dependencies", []), *BROWSER_EXTRAS]
    return [r for r in requirements if requirement_name(r) not in EXCLUDED]


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def build_project_wheel(outdir: Path) -> Path:
    for old in outdir.glob("async_kernel_jupyter-*.whl"):
        old.unlink()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(outdir), str(ROOT)])
    (wheel,) = outdir.glob("async_kernel_jupyter-*.whl")
    return wheel


def download_dependencies(outdir: Path, requirements: list[str]) -> None:
    # Markers are evaluated for this machine (linux), not for emscripten: EXCLUDED drops what
    # that drags in. Wheels already in outdir satisfy pip without a download.
    run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--platform", "any", "--python-version", PYODIDE_PYTHON,
            "--implementation", "py", "--abi", "none", "--find-links", str(outdir),
            "-d", str(outdir), *requirements,
        ]
    )  # fmt: skip


def collect(outdir: Path, extra: list[str], download: bool = True) -> list[str]:
    """Build this repo's wheel into outdir, download the dependencies (unless `download` is
    false and they are there already) and write index.json; return the wheel names."""
    outdir.mkdir(parents=True, exist_ok=True)
    project_wheel = build_project_wheel(outdir)
    if download:
        download_dependencies(outdir, kernel_requirements() + extra)
    for path in outdir.glob("*.whl"):
        if wheel_name(path) in EXCLUDED:
            path.unlink()
    dependencies = sorted(p.name for p in outdir.glob("*.whl") if p != project_wheel)
    names = [*dependencies, project_wheel.name]
    (outdir / "index.json").write_text(json.dumps(names, indent=1) + "\n")
    return names


def collect_extra(outdir: Path, requirements: list[str], shipped: list[str]) -> list[str]:
    """Download wheels for `%pip install` (not installed at start) into outdir; write extra.json."""
    outdir.mkdir(parents=True, exist_ok=True)
    if requirements:
        download_dependencies(outdir, requirements)
    already = {wheel_name(Path(name)) for name in shipped}
    names = sorted(p.name for p in outdir.glob("*.whl") if wheel_name(p) not in already | EXCLUDED)
    (outdir / "extra.json").write_text(json.dumps(names, indent=1) + "\n")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--extra", action="append", default=[], help="another requirement to ship")
    args = parser.parse_args(argv)
    names = collect(args.outdir.resolve(), args.extra)
    print(f"{len(names)} wheels in {args.outdir} (index.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
