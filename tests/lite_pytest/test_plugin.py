"""`pytest --lite`, run the way users run it: a venv holding our wheel and the `lite-test` extra
(scripts/wheel-venv.sh, see scripts/test.sh, or $ASYNC_KERNEL_LITE_PYTEST_VENV), and pytest started in a
folder of notebooks (tests/lite_pytest/notebooks: ok/ must pass, bad/ must fail, each for its reason).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
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
    """(exit code, output, {test name: failure text or None}) of `pytest --lite ARGS` in workdir."""
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
            outcomes[case.get("name", "")] = None if failure is None else (failure.text or "")
    return result.returncode, result.stdout + result.stderr, outcomes


EXPECTED_PASS = ("prints.ipynb", "widgets.ipynb", "tagged.ipynb")
EXPECTED_FAIL = {
    "failing.ipynb": [
        "failed in cell 2: x / (y - 2)",
        "ZeroDivisionError: division by zero",
        "----> 1 x / (y - 2)",
    ],
    "endless.ipynb": ["failed in cell 0: while True:", "timed out after 5 s"],
    "broken_widget.ipynb": [
        "failed in cell 0: import ipywidgets as ipw",
        "a widget failed to render",
        "Failed to load view class 'NoSuchView' from module 'no-such-module'",
    ],
    "unexpected.ipynb": ["failed in cell 0: print('no exception here')", "tagged raises-exception but raised nothing"],
    # IPython shows a magic's UsageError on stderr only; the reply's status says it failed
    "magic_error.ipynb": [
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
    executed = json.loads((output_dir / "prints.ipynb").read_text())
    texts = ["".join(o.get("text", "")) for c in executed["cells"] for o in c["outputs"]]
    assert "hello from the browser\n" in texts and "awaited\n" in texts
    assert (output_dir / "failing.png").is_file()


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


def test_a_site_that_does_not_exist_is_a_usage_error(workdir):
    code, log, _ = run_pytest(workdir, "ok", "--lite-site=no/such/site")
    assert code == 4, log
    assert "--lite-site no/such/site: no JupyterLite site there" in log
