"""The pytest plugin: ``pytest --lite PATHS...`` runs every notebook under PATHS in JupyterLite.

Without ``--lite`` it adds its options and nothing else. With it, each ``.ipynb`` is one test item;
the site is built once (``site.build_site``), served on 127.0.0.1 from a thread of this process, and
each notebook runs in a new page of one headless Chromium (``browser.NotebookBrowser``). Conventions
follow nbmake/nbclient: ``--lite-timeout`` per cell, notebook metadata ``execution.timeout`` and
``execution.allow_errors``, cell tags ``raises-exception`` and ``skip-execution``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from .browser import BrowserOptions, CellProblem, NotebookBrowser, NotebookOpenError, find_browser
from .site import Site

_STATE = pytest.StashKey["LiteState"]()
#: The kernel's JupyterLite plugin (its settings live under this id in litePluginSettings).
KERNEL_PLUGIN = "@async-kernel/jupyterlite:kernel"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lite", "notebooks in JupyterLite (async-kernel-jupyter)")
    group.addoption("--lite", action="store_true", help="run the .ipynb files under the given paths in JupyterLite")
    group.addoption("--lite-site", metavar="DIR", help="use this built JupyterLite site instead of building one")
    group.addoption("--lite-timeout", type=float, default=120.0, metavar="S", help="per-cell timeout (default 120)")
    group.addoption("--lite-kernel", default="async", metavar="NAME", help="kernel to run with (default async)")
    group.addoption("--lite-browser", metavar="PATH", help="Chromium to use (default: /usr/bin/chromium if present)")
    group.addoption("--lite-no-isolation", action="store_true", help="serve without COOP/COEP headers")
    group.addoption("--lite-allow-network", action="store_true", help="let pages reach hosts other than 127.0.0.1")
    group.addoption("--lite-output", metavar="DIR", help="executed notebooks and screenshots (default: tmp)")


class LiteState:
    """What one pytest process shares across notebooks: the site, its server, the browser."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.notebooks: list[Path] = []
        self.site: Site | None = None
        self._server: Any = None
        self._base_url = ""
        opt = config.getoption
        self.browser = NotebookBrowser(
            BrowserOptions(
                executable=find_browser(opt("lite_browser")),
                allow_network=opt("lite_allow_network"),
                kernel=opt("lite_kernel"),
                timeout=opt("lite_timeout"),
            )
        )

    @property
    def output_dir(self) -> Path:
        given = self.config.getoption("lite_output")
        if given:
            return Path(given)
        # pytest's own tmp folder (pytest-of-USER/pytest-N/), as tmp_path uses
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is not None:
            return Path(factory.getbasetemp()) / "lite-output"
        return Path(tempfile.gettempdir()) / "pytest-lite-output"

    def base_url(self) -> str:
        if not self._base_url:
            from ..jupyterlite.serve import make_server, serve_in_thread
            from .site import SiteBuildError, build_site, given_site

            given = self.config.getoption("lite_site")
            if given:
                self.site = given_site(Path(given), self.notebooks)
            else:
                try:
                    self.site = build_site(self.notebooks, self._cache_dir())
                except SiteBuildError as exc:
                    raise pytest.UsageError(f"--lite: {exc}") from None
            kernel = self.config.getoption("lite_kernel")
            config = {
                # window.jupyterapp: the runner drives the notebook through the app's commands
                "exposeAppInBrowser": True,
                "defaultKernelName": kernel,
                # the next notebook's Python loads while one runs
                "litePluginSettings": {KERNEL_PLUGIN: {"spareWorker": True}},
            }
            isolation = not self.config.getoption("lite_no_isolation")
            self._server = make_server(self.site.root, 0, isolation=isolation, quiet=True, config=config)
            serve_in_thread(self._server)
            host, port = self._server.server_address[:2]
            self._base_url = f"http://{host}:{port}/"
        return self._base_url

    def _cache_dir(self) -> Path:
        cache = getattr(self.config, "cache", None)
        if cache is not None:
            return Path(cache.mkdir("async-kernel-lite"))
        return Path(tempfile.gettempdir()) / "pytest-lite-site"

    def close(self) -> None:
        self.browser.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("lite"):
        return
    given = config.getoption("lite_site")
    if given and not (Path(given) / "index.html").is_file():
        raise pytest.UsageError(f"--lite-site {given}: no JupyterLite site there (no index.html)")
    if given and not (Path(given) / "lab" / "index.html").is_file():
        raise pytest.UsageError(
            f"--lite-site {given}: the site has no JupyterLab app (lab/index.html), which runs the notebooks"
        )
    browser = config.getoption("lite_browser")
    if browser and not (os.path.isfile(browser) and os.access(browser, os.X_OK)):
        raise pytest.UsageError(f"--lite-browser {browser}: no executable there")
    config.stash[_STATE] = LiteState(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.File | None:
    if file_path.suffix != ".ipynb" or not parent.config.getoption("lite"):
        return None
    if ".ipynb_checkpoints" in file_path.parts:
        return None
    return NotebookFile.from_parent(parent, path=file_path)


class NotebookFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        state = self.config.stash[_STATE]
        state.notebooks.append(self.path)
        return [NotebookItem.from_parent(self, name=self.path.name)]


class NotebookFailure(Exception):
    """A notebook's first failing cell, or why it could not run at all (see NotebookItem.repr_failure)."""

    def __init__(self, path: str, problem: CellProblem | None, reason: str = "") -> None:
        super().__init__(f"{path}: cell {problem.index}: {problem.summary}" if problem else f"{path}: {reason}")
        self.path = path
        self.problem = problem
        self.reason = reason


class NotebookItem(pytest.Item):
    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        base_url = state.base_url()
        assert state.site is not None
        path = state.site.path_of(self.path)
        if not (state.site.root / "files" / path).is_file():
            raise NotebookFailure(str(self.path), None, f"not in the site's contents ({state.site.root}/files)")
        source = json.loads(self.path.read_text(encoding="utf-8"))
        try:
            result = state.browser.run(base_url, path, source, state.output_dir)
        except NotebookOpenError as exc:
            raise NotebookFailure(str(self.path), None, f"could not run it: {exc}") from None
        # in the junit XML: how long the notebook took to open (bench/lite_pytest.py reads it)
        self.user_properties.append(("lite_open_seconds", f"{result.open_seconds:.3f}"))
        self.user_properties.append(("lite_new_page", str(result.new_page).lower()))
        if result.problem is not None:
            raise NotebookFailure(str(self.path), result.problem)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, NotebookFailure):
            problem = excinfo.value.problem
            if problem is None:
                return f"notebook {excinfo.value.path}: {excinfo.value.reason}"
            lines = [
                f"notebook {excinfo.value.path} failed in cell {problem.index}: {problem.first_line}",
                problem.summary,
            ]
            if problem.traceback:
                lines += ["", problem.traceback]
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"notebook {self.path.name}"
