"""`pytest --lite`, run the way users run it: a venv holding our wheel and the `lite-test` extra
(scripts/wheel-venv.sh, see scripts/test.sh, or $ASYNC_KERNEL_LITE_PYTEST_VENV), and pytest started in a
folder of notebooks (tests/lite_pytest/notebooks: ok/ must pass, bad/ must fail, each for its reason).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ASYNC_KERNEL_LITE_PYTEST_VENV", ROOT / "build" / "lite-pytest" / ".venv"))
NOTEBOOKS = Path(__file__).parent / "notebooks"
RUN_TIMEOUT = 900
# Each test runs a whole pytest session in Chromium (the first one also builds the site).
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 60)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample notebooks with an empty pytest.ini (this repository's settings stay out)."""
    if not (VENV / "bin" / "pytest").exists():
        pytest.fail(f"no venv in {VENV}: scripts/test.sh makes it (WHEEL_EXTRAS=lite-test scripts/wheel-venv.sh)")
    folder = tmp_path_factory.mktemp("lite") / "notebooks"
    shutil.copytree(NOTEBOOKS, folder)
    (folder / "pytest.ini").write_text("[pytest]\n")
    return folder


def run_pytest(workdir: Path, *args: str) -> tuple[int, str, dict[str, str | None]]:
    """(exit code, output, {notebook's path: failure text or None}) of `pytest --lite ARGS` in workdir."""
    junit = workdir / f"junit-{len(list(workdir.glob('junit-*')))}.xml"
    result = subprocess.run(
        [str(VENV / "bin" / "pytest"), "--lite", f"--junitxml={junit}", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    outcomes: dict[str, str | None] = {}
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            failure = case.find("failure")
            # classname "ok.prints.ipynb", name "prints.ipynb": the notebook's path is ok/prints.ipynb
            name = case.get("name", "")
            folder = case.get("classname", "").removesuffix(name).removesuffix(".").replace(".", "/")
            name = f"{folder}/{name}" if folder else name
            outcomes[name] = None if failure is None else (failure.text or "")
    return result.returncode, result.stdout + result.stderr, outcomes


EXPECTED_PASS = ("ok/prints.ipynb", "ok/widgets.ipynb", "ok/tagged.ipynb")
EXPECTED_FAIL = {
    "bad/failing.ipynb": [
        "failed in cell 2: x / (y - 2)",
        "ZeroDivisionError: division by zero",
        "----> 1 x / (y - 2)",
    ],
    "bad/endless.ipynb": ["failed in cell 0: while True:", "timed out after 5 s"],
    "bad/broken_widget.ipynb": [
        "failed in cell 0: import ipywidgets as ipw",
        "a widget failed to render",
        "Failed to load view class 'NoSuchView' from module 'no-such-module'",
    ],
    "bad/unexpected.ipynb": [
        "failed in cell 0: print('no exception here')",
        "tagged raises-exception but raised nothing",
    ],
    # IPython shows a magic's UsageError on stderr only; the reply's status says it failed
    "bad/magic_error.ipynb": [
        "failed in cell 0: %pip install no-such-package",
        "UsageError: Cannot install no-such-package",
    ],
}


def check_outcomes(outcomes: dict[str, str | None]) -> None:
    assert set(outcomes) == {*EXPECTED_PASS, *EXPECTED_FAIL}, outcomes
    for name in EXPECTED_PASS:
        assert outcomes[name] is None, f"{name} failed:\n{outcomes[name]}"
    for name, parts in EXPECTED_FAIL.items():
        text = outcomes[name]
        assert text is not None, f"{name} passed"
        for part in parts:
            assert part in text, f"{name}: {part!r} not in\n{text}"
        assert "\x1b" not in text, f"{name}: ANSI codes in the report"


def test_every_outcome_and_its_report(workdir):
    output_dir = workdir.parent / "out"
    code, log, outcomes = run_pytest(workdir, ".", f"--lite-output={output_dir}")
    assert code == 1, log
    check_outcomes(outcomes)
    assert "5 failed, 3 passed" in log, log
    texts = stdout_of(output_dir / "ok__prints.ipynb")
    assert "hello from the browser\n" in texts and "awaited\n" in texts
    assert (output_dir / "bad__failing.png").is_file()


def test_with_two_xdist_workers_each_with_its_browser(workdir):
    code, log, outcomes = run_pytest(workdir, ".", "-n", "2")
    assert code == 1, log
    check_outcomes(outcomes)


def test_passing_notebooks_exit_0_on_a_given_site(workdir):
    sites = list((workdir / ".pytest_cache").rglob("async-kernel-lite/site"))
    assert len(sites) == 1, sites  # built by the first test, reused by the second
    code, log, outcomes = run_pytest(workdir, "ok", f"--lite-site={sites[0]}")
    assert code == 0, log
    assert set(outcomes) == set(EXPECTED_PASS) and not any(outcomes.values()), outcomes


def stdout_of(executed: Path) -> list[str]:
    """The stream outputs of an executed notebook (--lite-output), one string per output."""
    notebook = json.loads(executed.read_text())
    return ["".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", [])]


def notebook(path: Path, *cells: str) -> None:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "cells": [{**cell, "source": source} for source in cells],
        "metadata": {"kernelspec": {"name": "async", "display_name": "Python (async)", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(content))


class _Answer(SimpleHTTPRequestHandler):
    """A host other than the site's: answers every GET with one line, readable cross-origin."""

    def do_GET(self) -> None:
        body = b"hello from another host"
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cross-Origin-Resource-Policy", "cross-origin")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def other_host() -> Iterator[str]:
    """A server on this machine reached as `localhost`: another host as far as the page knows."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Answer, directory="."))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory, other_host: str) -> Path:
    """Notebooks that print what the page allows them (they pass either way), and two with the same name."""
    folder = tmp_path_factory.mktemp("probes")
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "url.txt").write_text(other_host)
    notebook(
        folder / "probe.ipynb",
        "import js\nprint('isolated', js.crossOriginIsolated)",
        (
            "from pyodide.http import pyfetch\n"
            "try:\n"
            "    response = await pyfetch(open('url.txt').read())\n"
            "    print('network:', await response.string())\n"
            "except Exception:  # the fetch failed\n"
            "    print('network: blocked')"
        ),
    )
    for name in ("a", "b"):
        (folder / name / "data.txt").parent.mkdir()
        (folder / name / "data.txt").write_text(f"data of {name}")
        notebook(folder / name / "same.ipynb", "print(open('data.txt').read())")
    return folder


def test_defaults_isolated_offline_and_notebooks_keep_their_folders(probes):
    out = probes.parent / "out-defaults"
    code, log, outcomes = run_pytest(probes, ".", f"--lite-output={out}")
    assert code == 0, log
    assert set(outcomes) == {"probe.ipynb", "a/same.ipynb", "b/same.ipynb"}, outcomes
    assert stdout_of(out / "probe.ipynb") == ["isolated True\n", "network: blocked\n"]
    assert stdout_of(out / "a__same.ipynb") == ["data of a\n"]
    assert stdout_of(out / "b__same.ipynb") == ["data of b\n"]


def test_no_isolation_allow_network_and_a_rebuild_after_a_change(probes):
    (probes / "b" / "data.txt").write_text("data of b, changed")
    out = probes.parent / "out-options"
    code, log, _ = run_pytest(probes, ".", f"--lite-output={out}", "--lite-no-isolation", "--lite-allow-network")
    assert code == 0, log
    assert stdout_of(out / "probe.ipynb") == ["isolated False\n", "network: hello from another host\n"]
    assert stdout_of(out / "b__same.ipynb") == ["data of b, changed\n"]


def test_a_kernel_the_site_does_not_have(probes):
    code, log, outcomes = run_pytest(probes, "probe.ipynb", "--lite-kernel=nope")
    assert code == 1, log
    text = outcomes["probe.ipynb"]
    assert text is not None and 'the site has no kernel named "nope" (it has: async)' in text, log


def test_a_site_that_does_not_exist_is_a_usage_error(workdir):
    code, log, _ = run_pytest(workdir, "ok", "--lite-site=no/such/site")
    assert code == 4, log
    assert "--lite-site no/such/site: no JupyterLite site there" in log
    (workdir / "no-lab").mkdir()
    (workdir / "no-lab" / "index.html").write_text("<html></html>")
    code, log, _ = run_pytest(workdir, "ok", "--lite-site=no-lab")
    assert code == 4, log
    assert "--lite-site no-lab: the site has no JupyterLab app (lab/index.html)" in log


def test_a_browser_that_does_not_start_fails_each_notebook_with_one_clear_line(workdir):
    code, log, outcomes = run_pytest(workdir, "ok", "--lite-browser=/bin/false")
    assert code == 1, log
    assert set(outcomes) == set(EXPECTED_PASS), outcomes
    for name, text in outcomes.items():
        assert text is not None and "could not start /bin/false (" in text, f"{name}: {text}"
        assert "pass --lite-browser PATH" in text and "asyncio loop" not in text, f"{name}: {text}"
    code, log, _ = run_pytest(workdir, "ok", "--lite-browser=no/such/chromium")
    assert code == 4, log
    assert "--lite-browser no/such/chromium: no executable there" in log
