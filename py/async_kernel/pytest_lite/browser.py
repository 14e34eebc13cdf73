"""Run notebooks in JupyterLite's JupyterLab app, cell by cell, through the app's own commands.

One browser per process (each pytest-xdist worker has its own) holding one app page; each notebook
opens in a new notebook panel of that app with a new kernel, and is closed (its kernel shut down)
when done. Starting JupyterLab takes seconds of CPU, a kernel less, and with the kernel's
``spareWorker`` setting (the server turns it on) the next kernel's Python loads while a notebook
runs: so a page per notebook would cost more than everything else. A page that crashed or stopped
answering is replaced. Cells run one at a time with ``notebook:run-cell``; the runner waits for each
with its timeout, interrupts the kernel when it expires, and reads the cell's outputs from the
notebook model.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEBIAN_CHROMIUM = "/usr/bin/chromium"
#: Every host but 127.0.0.1 unresolvable: a notebook cannot reach the network (--lite-allow-network lifts it).
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
APP_START_MS = 120_000
KERNEL_START_MS = 180_000
INTERRUPT_GRACE_MS = 15_000
CLOSE_MS = 15_000
#: How long a widget view may take to render after its cell is done.
WIDGET_RENDER_MS = 30_000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_APP_READY = """() => !!(window.jupyterapp && window.jupyterapp.serviceManager)"""

#: Opens a notebook in a new panel with a new kernel; rejects with a message when that fails.
_OPEN = """async ([path, kernel, ms]) => {
  const within = (promise, what) => Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms))
  ]);
  const app = window.jupyterapp;
  await app.restored;
  const specs = app.serviceManager.kernelspecs;
  await specs.ready;
  const names = Object.keys(specs.specs?.kernelspecs ?? {});
  if (!names.includes(kernel)) {
    throw new Error(`the site has no kernel named "${kernel}" (it has: ${names.sort().join(', ')})`);
  }
  const panel = await app.commands.execute('docmanager:open', { path, factory: 'Notebook', kernel: { name: kernel } });
  window.__akLitePanel = panel;
  await within(panel.context.ready, 'opening the notebook');
  await within(panel.sessionContext.ready, 'starting the kernel');
  const connection = panel.sessionContext.session?.kernel;
  if (!connection) {
    throw new Error(`no kernel started for ${path}`);
  }
  await within(connection.info, 'starting the kernel');
  app.shell.activateById(panel.id);
  return panel.content.model.cells.length;
}"""

_RUN = """(index) => {
  const app = window.jupyterapp;
  const panel = window.__akLitePanel;
  app.shell.activateById(panel.id);
  panel.content.activeCellIndex = index;
  const state = (window.__akLiteCell = { done: false, ok: true, error: null });
  // resolves with false when the kernel's reply is not "ok" (an error, also one shown as stderr)
  app.commands.execute('notebook:run-cell').then(
    (ok) => { state.done = true; state.ok = ok !== false; },
    (error) => { state.done = true; state.error = String(error); }
  );
}"""

_CELL = """(index) => window.__akLitePanel.content.model.cells.get(index).toJSON()"""

#: The widget views of a cell once `expected` of them rendered: [] when all are fine, [message] when the
#: ipywidgets front end shows its error widget (clicked, it shows the JavaScript error); null meanwhile.
_WIDGETS = """([index, expected]) => {
  const node = window.__akLitePanel.content.widgets[index].node;
  const failed = node.querySelector('.jupyter-widgets-error-widget');
  if (failed) {
    failed.click();
    const text = (failed.closest('.jp-OutputArea-output') ?? failed).innerText || '';
    const lines = text
      .split('\\n')
      .map(l => l.trim())
      .filter(l => l && !/^(Click to|\\[Open Browser Console|at )/.test(l));
    return [lines.join(' ') || 'the widget shows an error'];
  }
  const outputs = [...node.querySelectorAll('.jp-OutputArea-output')];
  const rendered = outputs.filter(o => o.querySelector('.jupyter-widgets')).length;
  return rendered >= expected ? [] : null;
}"""

_INTERRUPT = """() => window.__akLitePanel.sessionContext.session.kernel.interrupt()"""

#: Shuts the notebook's kernel down and closes its panel without saving.
_CLOSE = """async () => {
  const panel = window.__akLitePanel;
  window.__akLitePanel = undefined;
  if (panel && !panel.isDisposed) {
    await panel.sessionContext.shutdown();
    panel.dispose();
  }
}"""


class NotebookOpenError(RuntimeError):
    """The notebook could not be opened or its kernel did not start (the message says why)."""


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class CellProblem:
    """Why a notebook failed: which cell, and what happened there."""

    index: int
    first_line: str
    summary: str
    traceback: str = ""


@dataclass
class NotebookRun:
    """What running one notebook gave: the executed notebook and the first problem, if any."""

    notebook: dict[str, Any]
    problem: CellProblem | None = None
    skipped: list[int] = field(default_factory=list)
    #: From asking for the notebook to its kernel answering (the page, if new, included).
    open_seconds: float = 0.0
    #: Whether JupyterLab was loaded for this notebook (the first of a process, or after a broken page).
    new_page: bool = False


@dataclass
class BrowserOptions:
    executable: str | None
    allow_network: bool
    kernel: str
    timeout: float


def find_browser(given: str | None) -> str | None:
    """--lite-browser, else Debian's chromium if present, else None (Playwright's own)."""
    if given:
        return given
    return DEBIAN_CHROMIUM if shutil.which(DEBIAN_CHROMIUM) else None


def launch_error(executable: str | None, exc: Exception) -> str:
    """One line on why Chromium did not start, and what to do about it."""
    first = strip_ansi(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    which = executable or "Playwright's own Chromium"
    return (
        f"could not start {which} ({first}); pass --lite-browser PATH, install Debian's chromium "
        f"({DEBIAN_CHROMIUM}) or run `playwright install chromium`"
    )


class NotebookBrowser:
    """One headless Chromium for this process and one JupyterLab page in it, started on first use."""

    def __init__(self, options: BrowserOptions) -> None:
        self.options = options
        self._playwright: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._launch_error = ""

    def _ensure(self) -> Any:
        if self._launch_error:
            raise NotebookOpenError(self._launch_error)
        if self._browser is None:
            from playwright.sync_api import Error as PlaywrightError
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            args = [] if self.options.allow_network else OFFLINE_ARGS
            try:
                self._browser = self._playwright.chromium.launch(
                    executable_path=self.options.executable, headless=True, args=args
                )
            except PlaywrightError as exc:
                # Playwright must stop before it can start again; the next notebooks get the same answer.
                self._playwright.stop()
                self._playwright = None
                self._launch_error = launch_error(self.options.executable, exc)
                raise NotebookOpenError(self._launch_error) from None
        return self._browser

    def _app(self, base_url: str) -> Any:
        """The JupyterLab page, loaded now if there is none (or the last one broke)."""
        if self._page is not None and not self._page.is_closed():
            return self._page
        context = self._ensure().new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("crash", lambda _page: self._drop_page())
        page.goto(f"{base_url}lab/index.html", timeout=APP_START_MS)
        page.wait_for_function(_APP_READY, timeout=APP_START_MS, polling=50)
        self._page = page
        return page

    def _drop_page(self) -> None:
        page, self._page = self._page, None
        if page is not None:
            # a crashed page may not close cleanly; it is gone anyway
            with contextlib.suppress(Exception):
                page.context.close()

    def close(self) -> None:
        self._drop_page()
        if self._browser is not None:
            self._browser.close()
            self._playwright.stop()
            self._browser = self._playwright = None

    def run(self, base_url: str, path: str, source: dict[str, Any], output_dir: Path) -> NotebookRun:
        """Open `path` (relative to the site's contents) and run its code cells in order."""
        from playwright.sync_api import Error as PlaywrightError

        started = time.perf_counter()
        new_page = self._page is None or self._page.is_closed()
        try:
            page = self._app(base_url)
        except PlaywrightError as exc:
            self._drop_page()
            raise NotebookOpenError(f"JupyterLab did not start at {base_url}lab/index.html: {_js_error(exc)}") from None
        executed = json.loads(json.dumps(source))
        result = NotebookRun(executed, new_page=new_page)
        execution = source.get("metadata", {}).get("execution", {})
        timeout = float(execution.get("timeout", self.options.timeout))
        allow_errors = bool(execution.get("allow_errors", False))
        try:
            try:
                page.evaluate(_OPEN, [path, self.options.kernel, KERNEL_START_MS])
            except PlaywrightError as exc:
                raise NotebookOpenError(_js_error(exc)) from None
            result.open_seconds = time.perf_counter() - started
            self._run_cells(page, source, executed, result, timeout, allow_errors)
        finally:
            self._finish(page, path, executed, output_dir)
        return result

    def _run_cells(
        self,
        page: Any,
        source: dict[str, Any],
        executed: dict[str, Any],
        result: NotebookRun,
        timeout: float,
        allow_errors: bool,
    ) -> None:
        """Run the code cells in order; stop at the first problem (noted in ``result``)."""
        for index, cell in enumerate(source.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            if "skip-execution" in cell.get("metadata", {}).get("tags", []):
                result.skipped.append(index)
                continue
            if not self._run_cell(page, index, executed, timeout):
                result.problem = CellProblem(index, first_line(cell), f"timed out after {timeout:g} s")
                return
            failed = not page.evaluate("() => window.__akLiteCell.ok")
            problem = check_cell(index, cell, executed["cells"][index], allow_errors, failed)
            if problem is None:
                problem = self._widget_problem(page, index, cell, executed["cells"][index])
            if problem is not None:
                result.problem = problem
                return

    @staticmethod
    def _run_cell(page: Any, index: int, executed: dict[str, Any], timeout: float) -> bool:
        """Run one cell and copy it into ``executed``; False if it timed out (it is interrupted then)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        page.evaluate(_RUN, index)
        try:
            page.wait_for_function("() => window.__akLiteCell.done", timeout=timeout * 1000, polling=50)
        except PlaywrightTimeout:
            page.evaluate(_INTERRUPT)
            try:
                page.wait_for_function("() => window.__akLiteCell.done", timeout=INTERRUPT_GRACE_MS)
                executed["cells"][index] = page.evaluate(_CELL, index)
            except PlaywrightTimeout:
                pass
            return False
        executed["cells"][index] = page.evaluate(_CELL, index)
        return True

    def _finish(self, page: Any, path: str, executed: dict[str, Any], output_dir: Path) -> None:
        """Save the executed notebook and a screenshot, then close the notebook (its kernel too)."""
        from playwright.sync_api import Error as PlaywrightError

        output_dir.mkdir(parents=True, exist_ok=True)
        stem = path.replace("/", "__").removesuffix(".ipynb")
        (output_dir / f"{stem}.ipynb").write_text(json.dumps(executed, indent=1))
        if page.is_closed():
            return self._drop_page()
        try:
            page.screenshot(path=str(output_dir / f"{stem}.png"), timeout=CLOSE_MS)
            page.wait_for_function(f"({_CLOSE})().then(() => true)", timeout=CLOSE_MS)
        except PlaywrightError:
            self._drop_page()  # the next notebook gets a new page
        return None

    @staticmethod
    def _widget_problem(page: Any, index: int, cell: dict[str, Any], ran: dict[str, Any]) -> CellProblem | None:
        """A widget view the page could not render (views render after the cell is done)."""
        mime = "application/vnd.jupyter.widget-view+json"
        expected = sum(mime in output.get("data", {}) for output in ran.get("outputs", []))
        if not expected:
            return None
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            handle = page.wait_for_function(_WIDGETS, arg=[index, expected], timeout=WIDGET_RENDER_MS, polling=50)
            errors = handle.json_value()
        except PlaywrightTimeout:
            return CellProblem(index, first_line(cell), f"a widget did not render within {WIDGET_RENDER_MS / 1000:g} s")
        if errors:
            return CellProblem(index, first_line(cell), f"a widget failed to render: {errors[0]}")
        return None


def _js_error(exc: Exception) -> str:
    """The message of an error thrown in the page, without Playwright's call log."""
    text = str(exc).split("\n", 1)[0]
    return text.removeprefix("Error: ").removeprefix("Page.evaluate: ").removeprefix("Error: ")


def first_line(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else source
    return next((line for line in text.splitlines() if line.strip()), "")


def check_cell(
    index: int, cell: dict[str, Any], ran: dict[str, Any], allow_errors: bool, failed: bool = False
) -> CellProblem | None:
    """The problem with a cell's outcome, or None: an error fails unless allowed or expected.

    An error is an error output, or a reply that was not "ok" (IPython shows some errors, such as a
    magic's UsageError, on stderr only).
    """
    outputs = ran.get("outputs", [])
    errors = [o for o in outputs if o.get("output_type") == "error"]
    expected = "raises-exception" in cell.get("metadata", {}).get("tags", [])
    if expected and not (errors or failed):
        return CellProblem(index, first_line(cell), "the cell is tagged raises-exception but raised nothing")
    if expected or allow_errors:
        return None
    if errors:
        error = errors[0]
        summary = f"{error.get('ename', 'Error')}: {strip_ansi(str(error.get('evalue', '')))}"
        traceback = strip_ansi("\n".join(error.get("traceback", [])))
        return CellProblem(index, first_line(cell), summary, traceback)
    if failed:
        streams = [o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
        stderr = "".join("".join(o.get("text", "")) for o in streams)
        text = strip_ansi(stderr).strip()
        summary = text.splitlines()[0] if text else "the kernel replied with an error"
        return CellProblem(index, first_line(cell), summary, text)
    return None
