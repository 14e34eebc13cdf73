"""`%pip` in the browser: glue between the JupyterLite worker and async_kernel, run inside Pyodide.

The worker calls `setup` once the kernel has started (the memory snapshot holds this module: see
:mod:`async_kernel.hosts.pyodide`). It replaces IPython's `%pip` with one that installs the wheels shipped with the site
(offline, the default). A site whose settings name package indexes (`pipIndexUrls`) or a Pyodide
distribution (`packagesUrl`) also installs from those, with micropip (shipped with the site): then
`%pip` lines of a cell are awaited, and with `packagesUrl` a cell's imports of that
distribution's packages load them before the cell runs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from typing import Any

_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-[^-]+)*\.whl$")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIP_LINE = re.compile(r"^(?P<indent>\s*)%pip\s+(?P<args>.*?)\s*$")


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


class Pip:
    """`%pip install`: the site's wheels, then (if the settings name any) package indexes and a
    Pyodide distribution through micropip."""

    def __init__(self, wheels: SiteWheels, index_urls: list[str], packages_url: str) -> None:
        self.wheels = wheels
        self.index_urls = index_urls
        self.packages_url = packages_url

    @property
    def sources(self) -> str:
        """Where packages the site does not ship come from (for messages)."""
        return ", ".join([*self.index_urls, *([self.packages_url] if self.packages_url else [])])

    def requirements(self, line: str) -> list[str]:
        from IPython.core.error import UsageError

        args = shlex.split(line)
        if not args or args[0] != "install":
            raise UsageError("In this JupyterLite site only `%pip install NAME ...` is available.")
        requirements = [arg for arg in args[1:] if not arg.startswith("-")]
        if not requirements:
            raise UsageError("Usage: %pip install NAME ...")
        return requirements

    def unavailable(self, names: list[str]) -> Exception:
        from IPython.core.error import UsageError

        shipped = ", ".join(self.wheels.names) or "none"
        return UsageError(
            f"Cannot install {', '.join(names)}: this JupyterLite site works offline and "
            f"%pip installs only the wheels shipped with it ({shipped}). To add a package, "
            "build the site again with its pure-Python wheel: "
            "`jupyter lite build --AsyncKernelAddon.extra_wheels=PATH`; or let %pip use a package "
            'index: the kernel settings "pipIndexUrls" and "packagesUrl".'
        )

    def install_shipped(self, requirements: list[str]) -> list[str]:
        """Install the requirements the site ships (or that are installed); return the others."""
        others = []
        for requirement in requirements:
            name = _requirement_name(requirement)
            if self.wheels.has(name) or _installed(name):
                self.wheels.install(name, print)
            else:
                others.append(requirement)
        return others

    def install_now(self, line: str) -> None:
        """The synchronous `%pip` magic: the site's wheels only."""
        others = self.install_shipped(self.requirements(line))
        if others:
            raise self.unavailable(others)
        print("Done. Packages installed with %pip are available at once (no restart needed).")

    async def install(self, line: str) -> None:
        """What a `%pip` line of a cell awaits when the site names package sources."""
        from IPython.core.error import UsageError

        others = self.install_shipped(self.requirements(line))
        if others:
            micropip = self.micropip()
            print(f"Looking for {', '.join(others)} in {self.sources}")
            try:
                await micropip.install(others, index_urls=self.index_urls)
            except ValueError as exc:
                raise UsageError(f"Cannot install {', '.join(others)}: {str(exc).strip()}") from None
            importlib.invalidate_caches()
            print(f"Installed {', '.join(others)}")
        print("Done. Packages installed with %pip are available at once (no restart needed).")

    def micropip(self) -> Any:
        if not _installed("micropip"):
            if not self.wheels.has("micropip"):
                raise self.unavailable(["micropip (which installs from package indexes)"])
            self.wheels.install("micropip", lambda _: None)
        import micropip

        return micropip


def await_pip_lines(lines: list[str]) -> list[str]:
    """IPython cleanup transform: a `%pip` line awaits :meth:`Pip.install` (indexes are async)."""
    out = []
    for line in lines:
        match = _PIP_LINE.match(line)
        if match:
            ending = "\n" if line.endswith("\n") else ""
            module = f"__import__('sys').modules[{__name__!r}]"
            line = f"{match['indent']}await {module}.PIP.install({match['args']!r}){ending}"
        out.append(line)
    return out


async def load_imported_packages(code: str) -> None:
    """Before a cell runs: load the packages of the Pyodide distribution it imports and lacks."""
    import pyodide_js
    from pyodide.code import find_imports
    from pyodide.ffi import create_proxy, to_js

    import js

    try:
        names = {name.split(".")[0] for name in find_imports(code)}
    except SyntaxError:
        return  # the cell reports it
    missing = sorted(name for name in names if importlib.util.find_spec(name) is None)
    if not missing:
        return
    errors: list[str] = []
    on_error = create_proxy(errors.append)
    quiet = create_proxy(lambda _message: None)
    try:
        options = to_js({"errorCallback": on_error, "messageCallback": quiet}, dict_converter=js.Object.fromEntries)
        await pyodide_js.loadPackagesFromImports("\n".join(f"import {name}" for name in missing), options)
    finally:
        on_error.destroy()
        quiet.destroy()
    importlib.invalidate_caches()
    for error in errors:
        print(error, file=sys.stderr)


#: The `%pip` of the running kernel (set by :func:`setup`).
PIP: Pip


def pip(line: str) -> None:
    """Install wheels shipped with this JupyterLite site: `%pip install NAME ...` (offline); where the
    site's settings name package indexes, a `%pip` line of a cell also installs from those."""
    PIP.install_now(line)


def setup(
    files: Iterable[str], install_file: Callable[[str], None], index_urls: Iterable[str] = (), packages_url: str = ""
) -> None:
    """Register `%pip` (and, with package sources, the transforms that await it) on the running shell."""
    global PIP
    from IPython import get_ipython

    PIP = Pip(SiteWheels(list(files), install_file), list(index_urls), packages_url)
    shell = get_ipython()
    if shell is None:
        print("async-kernel lite: no IPython shell, %pip not installed", file=sys.stderr)
        return
    shell.register_magic_function(pip, "line", "pip")
    if PIP.sources:
        shell.input_transformers_cleanup.append(await_pip_lines)
    if packages_url:
        shell.before_cell.append(load_imported_packages)
