"""Interrupts at any moment, and shutdowns and restarts that end every old process cleanly.

jupyter_client interrupts a kernel before it shuts it down or restarts it, so an interrupt may arrive while
the kernel is still starting (its kernel_info is answered before the shell exists). Moments are random but
seeded; ``AK_SIGNAL_REPEAT`` sets how many starts, shutdowns and double restarts each test makes (default 5;
issue 8's closing figures used 50).
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import pytest
from jupyter_client import KernelManager
from kernel_helpers import TIMEOUT, KernelHandle, first_kernel_info, start_kernel, stop_kernel, stream_text

REPEAT = int(os.environ.get("AK_SIGNAL_REPEAT", "5"))


def exit_code(process: subprocess.Popen[bytes], timeout: float = 10) -> int | None:
    """The process's exit status, or None if it is still running after ``timeout`` seconds."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def test_interrupts_during_start_up_are_harmless(tmp_path: Path):
    rng = random.Random(1)

    def interrupt_soon(km: KernelManager) -> None:
        time.sleep(rng.uniform(0.05, 0.4))  # from our first instruction to well after the shell exists
        km.interrupt_kernel()

    for attempt in range(REPEAT):
        handle = start_kernel(tmp_path / str(attempt), before_ready=interrupt_soon)
        process = handle.km.provisioner.process
        try:
            # kernel_info was answered; the shell may not exist yet
            for _ in range(3):
                handle.km.interrupt_kernel()
                time.sleep(rng.uniform(0, 0.05))
            reply, iopub = handle.execute("print('up')")
            assert reply["content"]["status"] == "ok", reply["content"]
            assert stream_text(iopub) == "up\n"
        finally:
            stop_kernel(handle)
        assert exit_code(process) == 0


def test_shutdowns_right_after_the_first_kernel_info_exit_cleanly(tmp_path: Path):
    codes = []
    for attempt in range(REPEAT):
        handle = start_kernel(tmp_path / str(attempt))
        handle.km.restart_kernel(now=True)  # a fresh process, not waited for
        process = handle.km.provisioner.process
        first_kernel_info(handle.kc)
        stop_kernel(handle)  # interrupt, shutdown_request, wait
        codes.append(exit_code(process))
    assert codes == [0] * REPEAT


def test_double_restarts_exit_cleanly(tmp_path: Path):
    handle = start_kernel(tmp_path)
    codes = []
    try:
        for _ in range(2 * REPEAT):
            process = handle.km.provisioner.process
            first_kernel_info(handle.kc)  # each restart comes right after the kernel's first kernel_info reply
            handle.km.restart_kernel(now=False)
            codes.append(exit_code(process))
        handle.kc.wait_for_ready(timeout=TIMEOUT)
    finally:
        stop_kernel(handle)
    assert codes == [0] * (2 * REPEAT)


@pytest.mark.parametrize("cell", ["sync", "async"])
def test_interrupts_at_random_moments_of_a_printing_cell(kernel: KernelHandle, cell: str):
    loop = (
        "while True:\n    print('x' * 50)\n"
        if cell == "sync"
        else ("import asyncio\nwhile True:\n    print('x' * 50)\n    await asyncio.sleep(0)\n")
    )
    interrupt_at_random_moments(kernel, loop, random.Random(2), times=REPEAT * 2, latest=0.2)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_interrupts_at_random_moments_of_an_awaiting_cell(tmp_path: Path, backend: str):
    handle = start_kernel(tmp_path, ["--backend", backend])
    sleep = "import asyncio\nawait asyncio.sleep(30)" if backend == "asyncio" else "import trio\nawait trio.sleep(30)"
    try:
        interrupt_at_random_moments(handle, sleep, random.Random(3), times=REPEAT, latest=0.1)
    finally:
        stop_kernel(handle)


def interrupt_at_random_moments(kernel: KernelHandle, code: str, rng: random.Random, times: int, latest: float) -> None:
    """Run ``code`` ``times`` times, interrupting each run up to ``latest`` s after it started."""
    for _ in range(times):
        msg_id = kernel.kc.execute(code)
        kernel.wait_for_busy(msg_id)
        time.sleep(rng.uniform(0, latest))
        kernel.km.interrupt_kernel()
        reply = kernel.reply(msg_id, timeout=10)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        kernel.iopub_until_idle(msg_id)
        assert_output_is_prompt(kernel)


def assert_output_is_prompt(kernel: KernelHandle) -> None:
    """Output of a later cell shows while the cell still runs (no flush flag left set by an interrupt)."""
    msg_id = kernel.kc.execute("import time\nprint('early')\ntime.sleep(1.5)")
    deadline = time.monotonic() + TIMEOUT
    started = None
    while time.monotonic() < deadline:
        msg = kernel.kc.get_iopub_msg(timeout=deadline - time.monotonic())
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "execute_input":
            started = time.monotonic()
        if msg["msg_type"] == "stream":
            assert started is not None
            assert time.monotonic() - started < 1.0, "output waited for the end of the cell"
            break
        assert msg["msg_type"] != "status" or msg["content"]["execution_state"] != "idle", "no output before idle"
    reply = kernel.reply(msg_id)
    assert reply["content"]["status"] == "ok"
    kernel.iopub_until_idle(msg_id)
