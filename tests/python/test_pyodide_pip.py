"""`%pip` in the browser (async_kernel.hosts.pyodide_pip): what can run without Pyodide."""

from __future__ import annotations

from async_kernel.hosts import pyodide_pip


def test_a_pip_line_becomes_an_await_of_the_glue_module():
    [line] = pyodide_pip.await_pip_lines(["    %pip install some-package\n"])
    assert line.startswith("    await ") and line.endswith(".PIP.install('install some-package')\n")
    expression = line.strip().removeprefix("await ").removesuffix(".PIP.install('install some-package')")
    assert eval(expression) is pyodide_pip  # the module itself, not its top-level package


def test_other_lines_stay():
    lines = ["print(1)\n", "x = '%pip install no'\n"]
    assert pyodide_pip.await_pip_lines(lines) == lines
