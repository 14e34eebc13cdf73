"""Glue between the JupyterLite worker and async_kernel, run inside Pyodide.

The worker writes this module into site-packages and calls `setup` once the kernel has
started. It replaces IPython's `%pip` with one that installs only the wheels shipped with
the site (there is no package index at run time: the site works offline).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import shlex
import sys
from collections.abc import Callable, Iterable

_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-[^-]+)*\.whl$")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class SiteWheels:
    """The wheels a site ships, by normalized project name.

    `install_file(file_name)` downloads one wheel from the site and unpacks it (synchronous).
    """

    def __init__(self, files: Iterable[str], install_file: Callable[[str], None]) -> None:
        self._files: dict[str, str] = {}
        for file_name in files:
            match = _WHEEL.match(file_name.rsplit("/", 1)[-1])
            if match:
                self._files[_normalize(match["name"])] = file_name
        self._install_file = install_file

    @property
    def names(self) -> list[str]:
        return sorted(self._files)

    def has(self, name: str) -> bool:
        return _normalize(name) in self._files

    def install(self, name: str, log: Callable[[str], None]) -> None:
        """Install `name` and, recursively, its unconditional requirements shipped with the site."""
        if _installed(name):
            log(f"Requirement already satisfied: {name}")
            return
        file_name = self._files[_normalize(name)]
        log(f"Installing {file_name} (shipped with this site)")
        self._install_file(file_name)
        importlib.invalidate_caches()
        for requirement in importlib.metadata.requires(name) or []:
            if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
                continue
            match = _REQUIREMENT_NAME.match(requirement)
            if match is None or _installed(match[1]):
                continue
            if self.has(match[1]):
                self.install(match[1], log)
            else:
                log(f"Warning: {name} requires {match[1]}, which this site does not ship")


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _requirement_name(arg: str) -> str:
    match = _REQUIREMENT_NAME.match(arg)
    return match[1] if match else arg


def make_pip_magic(wheels: SiteWheels) -> Callable[[str], None]:
    def pip(line: str) -> None:
        """Install wheels shipped with this JupyterLite site: `%pip install NAME ...` (offline)."""
        from IPython.core.error import UsageError

        args = shlex.split(line)
        if not args or args[0] != "install":
            raise UsageError("In this JupyterLite site only `%pip install NAME ...` is available.")
        names = [_requirement_name(arg) for arg in args[1:] if not arg.startswith("-")]
        if not names:
            raise UsageError("Usage: %pip install NAME ...")
        missing = [name for name in names if not wheels.has(name) and not _installed(name)]
        if missing:
            shipped = ", ".join(wheels.names) or "none"
            raise UsageError(
                f"Cannot install {', '.join(missing)}: this JupyterLite site works offline and "
                f"%pip installs only the wheels shipped with it ({shipped}). To add a package, "
                "build the site again with its pure-Python wheel: "
                "`jupyter lite build --AsyncKernelAddon.extra_wheels=PATH`."
            )
        for name in names:
            wheels.install(name, print)
        print("Done. Packages installed with %pip are available at once (no restart needed).")

    return pip


def setup(files: Iterable[str], install_file: Callable[[str], None]) -> None:
    """Register the offline `%pip` magic on the running IPython shell."""
    from IPython import get_ipython

    wheels = SiteWheels(list(files), install_file)
    shell = get_ipython()
    if shell is None:
        print("async-kernel lite: no IPython shell, %pip not installed", file=sys.stderr)
        return
    shell.register_magic_function(make_pip_magic(wheels), "line", "pip")
