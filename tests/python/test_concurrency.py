"""Requests that must never wait behind a blocking cell; interrupts by signal; stdin over ZMQ; trio natively.

Cells that await comm messages, and input() without stdin support, are tested in memory in
tests/unit/test_kernel.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kernel_helpers import KernelHandle, start_kernel, stop_kernel, stream_text


def test_completion_and_inspection_answer_while_a_cell_blocks(kernel: KernelHandle):
    running = kernel.kc.execute("import time; time.sleep(5)")
    kernel.wait_for_busy(running)
    start = time.monotonic()
    complete = kernel.kc.complete("pri", 3)
    reply = kernel.reply(complete, timeout=3)
    assert "print" in reply["content"]["matches"]
    inspect = kernel.kc.inspect("len", 3)
    assert kernel.reply(inspect, timeout=3)["content"]["found"] is True
    info = kernel.reply(kernel.kc.kernel_info(), timeout=3)
    assert info["content"]["implementation"] == "async-kernel"
    assert time.monotonic() - start < 3
    kernel.km.interrupt_kernel()
    assert kernel.reply(running)["content"]["ename"] == "KeyboardInterrupt"


def test_ipywidgets_button_click_resolves_an_awaiting_cell(kernel: KernelHandle):
    setup = (
        "import ipywidgets as ipw\nfrom aiologic import Event\n"
        "b = ipw.Button(description='Click me'); clicked = Event()\n"
        "b.on_click(lambda _: clicked.set()); display(b)"
    )
    reply, iopub = kernel.execute(setup)
    assert reply["content"]["status"] == "ok"
    opens = [
        m
        for m in iopub
        if m["msg_type"] == "comm_open" and m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
    ]
    assert len(opens) == 1
    views = [m for m in iopub if m["msg_type"] == "display_data"]
    assert "application/vnd.jupyter.widget-view+json" in views[-1]["content"]["data"]
    comm_id = opens[0]["content"]["comm_id"]
    waiting = kernel.kc.execute("await clicked\n'clicked'")
    kernel.wait_for_busy(waiting)
    # what the front end sends when the button is clicked
    click = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}}
    kernel.kc.session.send(kernel.kc.shell_channel.socket, "comm_msg", click)
    reply, iopub = kernel.collect(waiting, timeout=10)
    assert reply["content"]["status"] == "ok"
    assert [m["content"]["data"]["text/plain"] for m in iopub if m["msg_type"] == "execute_result"] == ["'clicked'"]


@pytest.mark.parametrize("mode", ["signal", "message"])
def test_interrupt_stops_blocking_and_awaiting_cells(tmp_path: Path, mode: str):
    handle = start_kernel(tmp_path, interrupt_mode=mode)
    try:
        for code in (
            "import time\nprint('sleeping', flush=True)\ntime.sleep(100)",
            "import asyncio\nprint('sleeping', flush=True)\nawait asyncio.sleep(100)",
        ):
            running = handle.kc.execute(code)
            handle.wait_for_output(running, "sleeping")  # the cell is about to sleep (or sleeping)
            handle.km.interrupt_kernel()
            reply, iopub = handle.collect(running, timeout=10)
            assert reply["content"]["status"] == "error"
            assert reply["content"]["ename"] == "KeyboardInterrupt"
            assert [m["content"]["ename"] for m in iopub if m["msg_type"] == "error"] == ["KeyboardInterrupt"]
        reply, _ = handle.execute("'still serving'")
        assert reply["content"]["status"] == "ok"
    finally:
        stop_kernel(handle)


#: Cells that reach the state a badly timed interrupt leaves (on a loaded machine: 1 run in ~20, in CI too),
#: each printing "interrupt now" when the client should interrupt. Both used to sleep their 100 s.
AWKWARD_INTERRUPTS = {
    # The main thread blocks SIGINT, so that the signal lands on another thread: the state a signal that
    # arrives just before ``time.sleep`` enters its system call leaves behind (Python's handler is due, the
    # sleep is not woken). The kernel now wakes the main thread for it.
    "signal on another thread": """\
import signal, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
try:
    print('interrupt now', flush=True)
    time.sleep(100)
finally:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
print('not reached')
""",
    # The shell's next statement waits 2 s before it runs: the interrupt arrives between two statements, where
    # IPython compiles the next one (a SIGINT right after a statement that printed lands there). It was taken
    # for an idle kernel's; the kernel now holds it for the cell, whose next statement raises.
    "between two statements": """\
import time
shell = get_ipython()
run_code = shell.run_code
async def between(*args, **kwargs):
    del shell.run_code
    print('interrupt now', flush=True)
    time.sleep(2)
    return await run_code(*args, **kwargs)
shell.run_code = between
time.sleep(100)
print('not reached')
""",
}


@pytest.mark.parametrize("mode", ["signal", "message"])
@pytest.mark.parametrize("case", AWKWARD_INTERRUPTS)
def test_a_badly_timed_interrupt_still_stops_the_cell(tmp_path: Path, case: str, mode: str):
    handle = start_kernel(tmp_path, interrupt_mode=mode)
    try:
        running = handle.kc.execute(AWKWARD_INTERRUPTS[case])
        handle.wait_for_output(running, "interrupt now")
        handle.km.interrupt_kernel()
        reply, iopub = handle.collect(running, timeout=10)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert [m["content"]["ename"] for m in iopub if m["msg_type"] == "error"] == ["KeyboardInterrupt"]
        assert "not reached" not in stream_text(iopub)
        reply, iopub = handle.execute("import time\ntime.sleep(0.01)\nprint('next cell')")
        assert reply["content"]["status"] == "ok"  # an interrupt held for a cell is that cell's only
        assert stream_text(iopub) == "next cell\n"
    finally:
        stop_kernel(handle)


def test_input_and_getpass_use_the_stdin_channel(kernel: KernelHandle):
    msg_id = kernel.kc.execute(
        "name = input('name? ')\npw = __import__('getpass').getpass('pw? ')\nprint(name, pw)",
        allow_stdin=True,
    )
    prompts = []
    for answer in ("Ada", "secret"):
        request = kernel.kc.get_stdin_msg(timeout=10)
        assert request["msg_type"] == "input_request"
        assert request["parent_header"]["msg_id"] == msg_id
        prompts.append((request["content"]["prompt"], request["content"]["password"]))
        kernel.kc.input(answer)
    reply, iopub = kernel.collect(msg_id)
    assert reply["content"]["status"] == "ok"
    assert prompts == [("name? ", False), ("pw? ", True)]
    assert stream_text(iopub) == "Ada secret\n"


def test_trio_backend_runs_trio_code_natively(tmp_path: Path):
    handle = start_kernel(tmp_path, argv_extra=["--backend", "trio"])
    try:
        reply, iopub = handle.execute("import trio\nawait trio.sleep(0.01)\nprint(trio.lowlevel.current_task().name)")
        assert reply["content"]["status"] == "ok", reply["content"]
        assert stream_text(iopub).strip()
        running = handle.kc.execute("await trio.sleep(100)")
        handle.wait_for_busy(running)
        complete = handle.reply(handle.kc.complete("tri", 3), timeout=5)
        assert "trio" in complete["content"]["matches"]
        handle.km.interrupt_kernel()
        assert handle.reply(running, timeout=10)["content"]["ename"] == "KeyboardInterrupt"
    finally:
        stop_kernel(handle)
