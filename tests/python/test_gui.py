"""GUI host loops (``--host tk|qt``): real kernels whose main thread runs Tk's or Qt's main loop.

Tk needs an X display: without ``DISPLAY`` a private Xvfb is started (scripts/python-env.sh installs it). Qt runs
on its ``offscreen`` platform (PySide6 from the test extras).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from async_kernel import cli
from kernel_helpers import KernelHandle, start_kernel, stop_kernel, stream_text

COMBOS = [("tk", "asyncio"), ("tk", "trio"), ("qt", "asyncio"), ("qt", "trio")]

#: a cell that makes a window and asks the toolkit to run ``flag.append(1)`` in 50 ms
SCHEDULE = {
    "tk": "import tkinter\nroot = tkinter.Tk()\ntkinter.Label(root, text='hi').pack()\nflag = []\n"
    "root.after(50, lambda: flag.append(1))",
    "qt": "from PySide6.QtCore import QTimer\nfrom PySide6.QtWidgets import QLabel\nlabel = QLabel('hi')\n"
    "label.show()\nflag = []\nQTimer.singleShot(50, lambda: flag.append(1))",
}
SLEEP = {"asyncio": "import asyncio\nawait asyncio.sleep({})", "trio": "import trio\nawait trio.sleep({})"}


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """The X display Tk uses: ``$DISPLAY``, or a private Xvfb for the session."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Tk needs an X display: no DISPLAY and no Xvfb (Debian's xvfb; scripts/python-env.sh installs it)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
        pass_fds=[write_fd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as chosen:
        number = chosen.readline().strip()  # Xvfb writes the display it chose once it accepts clients
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module", params=COMBOS, ids=[f"{host}-{backend}" for host, backend in COMBOS])
def gui_kernel(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, x_display: str
) -> Iterator[tuple[KernelHandle, str, str]]:
    host, backend = request.param
    if host == "qt":
        pytest.importorskip("PySide6.QtWidgets", reason="--host qt tests need PySide6 (the test extras)")
    env = {"DISPLAY": x_display, "QT_QPA_PLATFORM": "offscreen"}
    handle = start_kernel(tmp_path_factory.mktemp("gui"), ["--host", host, "--backend", backend], env=env)
    yield handle, host, backend
    stop_kernel(handle)


def _ok(handle: KernelHandle, code: str) -> list[dict]:
    reply, iopub = handle.execute(code)
    assert reply["content"]["status"] == "ok", stream_text(iopub, "stderr")
    return iopub


def test_a_toolkit_timer_fires_while_a_cell_awaits(gui_kernel: tuple[KernelHandle, str, str]) -> None:
    handle, host, backend = gui_kernel
    _ok(handle, SCHEDULE[host])
    iopub = _ok(handle, SLEEP[backend].format(0.5) + "\nprint('fired' if flag else 'not fired')")
    assert stream_text(iopub) == "fired\n"


def test_a_cell_in_time_sleep_is_interrupted(gui_kernel: tuple[KernelHandle, str, str]) -> None:
    handle, _host, _backend = gui_kernel
    msg_id = handle.kc.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(30)")
    handle.wait_for_output(msg_id, "sleeping")
    started = time.monotonic()
    handle.km.interrupt_kernel()
    reply, _ = handle.collect(msg_id, timeout=10)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 5
    _ok(handle, "1 + 1")  # and the kernel goes on


def test_an_awaiting_cell_is_interrupted(gui_kernel: tuple[KernelHandle, str, str]) -> None:
    handle, _host, backend = gui_kernel
    msg_id = handle.kc.execute("print('waiting', flush=True)\n" + SLEEP[backend].format(30))
    handle.wait_for_output(msg_id, "waiting")
    handle.km.interrupt_kernel()
    reply, _ = handle.collect(msg_id, timeout=10)
    assert reply["content"]["ename"] == "KeyboardInterrupt"


def test_gui_magic_of_the_hosting_toolkit_is_a_no_op(gui_kernel: tuple[KernelHandle, str, str]) -> None:
    handle, host, _backend = gui_kernel
    assert stream_text(_ok(handle, f"%gui {host}"), "stderr") == ""
    other = "qt" if host == "tk" else "tk"
    assert f"async-kernel install --host {other}" in stream_text(_ok(handle, f"%gui {other}"), "stderr")


def test_gui_magic_in_a_plain_kernel_names_the_kernelspec_to_install(kernel: KernelHandle) -> None:
    reply, iopub = kernel.execute("%gui tk")
    assert reply["content"]["status"] == "ok"  # %gui reports, it does not fail the cell
    assert "async-kernel install --host tk --name python-tk" in stream_text(iopub, "stderr")


def test_install_host_tk_writes_a_tk_kernelspec(tmp_path: Path) -> None:
    assert cli.main(["install", "--prefix", str(tmp_path), "--name", "python-tk", "--host", "tk"]) == 0
    spec = json.loads((tmp_path / "share/jupyter/kernels/python-tk/kernel.json").read_text())
    assert spec["argv"][-2:] == ["--host", "tk"]
    assert "Tk" in spec["display_name"]
