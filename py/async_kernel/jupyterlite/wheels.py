"""Wheels for the kernel in Pyodide: file names, purity, and downloading them for Pyodide's Python.

    python -m async_kernel.jupyterlite.wheels REQUIREMENT... -d DIR

downloads pure-Python wheels of REQUIREMENT (and their dependencies) for the Python of the
Pyodide the site ships, ready for ``--AsyncKernelAddon.extra_wheels=DIR``. It uses the network
(pip, with your pip configuration); ``jupyter lite build`` never does.

Standard library only: the wheel build (``hatch_build.py``) loads this file by path, before the
package is installed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_STAND_IN_VERSION = "9999"

#: Python version of the Pyodide runtime the wheel ships (npm ``pyodide`` 314.x = CPython 3.14).
PYODIDE_PYTHON = "3.14"

_WHEEL = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-(?P<build>\d[^-]*))?-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$"
)


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Typing_Extensions`` → ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class WheelName:
    """The parts of a wheel file name (PEP 427)."""

    distribution: str
    version: str
    python: str
    abi: str
    platform: str

    @classmethod
    def parse(cls, file_name: str) -> WheelName:
        """Raise ValueError when `file_name` is not a wheel's file name."""
        match = _WHEEL.match(file_name)
        if match is None:
            raise ValueError(f"{file_name!r} is not a wheel file name (NAME-VERSION-PYTHON-ABI-PLATFORM.whl)")
        return cls(normalize(match["name"]), match["version"], match["python"], match["abi"], match["platform"])

    @property
    def pure(self) -> bool:
        """Whether the wheel holds only Python code (installable in Pyodide as it is)."""
        return self.abi == "none" and self.platform == "any" and all(t.startswith("py") for t in self.python.split("."))


def requirement_name(requirement: str) -> str:
    """The distribution a requirement names (``ipython>=8; python_version>'3'`` → ``ipython``)."""
    return normalize(re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0])


def download(
    requirements: list[str],
    dest: Path,
    *,
    find_links: Path | None = None,
    python: str = PYODIDE_PYTHON,
    stand_ins: Iterable[str] = (),
    quiet: bool = True,
) -> None:
    """Download pure-Python wheels of `requirements` and their dependencies for Pyodide into `dest`.

    Environment markers are evaluated for this machine, not for emscripten, so a dependency only
    other platforms need (``psutil; sys_platform != "emscripten"``) would make pip settle for an
    older release that lacks it: name such distributions in `stand_ins` and pip sees an empty wheel
    of version 9999 for each, which is then left out of `dest`. Wheels already in `dest` (or in
    `find_links`) satisfy pip without a download.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stand-ins-") as tmp:
        stubs = [_stand_in_wheel(Path(tmp), name) for name in sorted(set(stand_ins))]
        cmd = [
            sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
            "--platform", "any", "--python-version", python, "--implementation", "py", "--abi", "none",
            "--find-links", str(find_links or dest), *(["--find-links", tmp] if stubs else []),
            "-d", str(dest), *requirements,
        ]  # fmt: skip
        if quiet:
            cmd.insert(4, "--quiet")
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    for stub in stubs:
        (dest / stub.name).unlink(missing_ok=True)


def _stand_in_wheel(folder: Path, name: str) -> Path:
    """An empty pure wheel of `name`, version 9999 (metadata only)."""
    project = normalize(name).replace("-", "_")
    path = folder / f"{project}-{_STAND_IN_VERSION}-py3-none-any.whl"
    dist_info = f"{project}-{_STAND_IN_VERSION}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {_STAND_IN_VERSION}\n")
        wheel = "Wheel-Version: 1.0\nGenerator: async-kernel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        zf.writestr(f"{dist_info}/WHEEL", wheel)
        zf.writestr(f"{dist_info}/RECORD", "")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m async_kernel.jupyterlite.wheels",
        description=f"Download pure-Python wheels for Pyodide's Python ({PYODIDE_PYTHON}), e.g. for "
        "--AsyncKernelAddon.extra_wheels.",
    )
    parser.add_argument("requirements", nargs="+", metavar="REQUIREMENT")
    parser.add_argument("-d", "--dest", type=Path, required=True, help="folder to put the wheels in")
    args = parser.parse_args(argv)
    try:
        download(args.requirements, args.dest, quiet=False)
    except subprocess.CalledProcessError:
        print(
            "error: pip found no pure-Python wheel for one of these (compiled packages need a Pyodide build)",
            file=sys.stderr,
        )
        return 1
    print(f"wheels in {args.dest}: {', '.join(sorted(p.name for p in args.dest.glob('*.whl')))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
