"""asyncio.run(), loop.run_until_complete() and trio.run() inside a cell of a real kernel (async_kernel.nested)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_helpers import KernelHandle, start_kernel, stop_kernel, stream_text

SCRIPT = """
import asyncio
async def main(n):
    for i in range(n):
        await asyncio.sleep(0.01)
        print("step", i)
    return "done"
result = asyncio.run(main(3))
print(result)
"""


def test_asyncio_run_runs_a_pasted_script_and_its_output_reaches_the_cell(kernel: KernelHandle):
    reply, iopub = kernel.execute(SCRIPT)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stream_text(iopub) == "step 0\nstep 1\nstep 2\ndone\n"


def test_run_until_complete_on_the_kernels_loop_and_on_a_loop_kept_across_cells(kernel: KernelHandle):
    code = "import asyncio\nasyncio.get_event_loop().run_until_complete(asyncio.sleep(0.01, 'own'))"
    reply, iopub = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert [m["content"]["data"]["text/plain"] for m in iopub if m["msg_type"] == "execute_result"] == ["'own'"]
    kernel.execute(
        "kept = asyncio.new_event_loop()\nq = None\nasync def make():\n    global q\n    q = asyncio.Queue()"
    )
    kernel.execute("kept.run_until_complete(make())\nkept.run_until_complete(q.put(7))")
    reply, iopub = kernel.execute("print(kept.run_until_complete(q.get()))\nkept.close()")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stream_text(iopub) == "7\n"  # the same loop ran on every call: its queue worked across cells


def test_an_error_in_the_coroutine_is_the_cells_error(kernel: KernelHandle):
    reply, _ = kernel.execute("import asyncio\nasync def bad(): raise ValueError('inside')\nasyncio.run(bad())")
    assert (reply["content"]["ename"], reply["content"]["evalue"]) == ("ValueError", "inside")


def test_the_original_behaviour_outside_a_cells_thread(kernel: KernelHandle):
    code = """
import asyncio, threading
async def job(): return 'in a thread'
out = []
t = threading.Thread(target=lambda: out.append(asyncio.run(job())))
t.start(); t.join()
print(out)
"""
    reply, iopub = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stream_text(iopub) == "['in a thread']\n"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[KernelHandle]:
    handle = start_kernel(tmp_path)
    yield handle
    stop_kernel(handle)


def test_an_interrupt_cancels_the_coroutine_and_the_kernel_goes_on(fresh: KernelHandle):
    code = """
import asyncio
async def forever():
    print("started", flush=True)
    try:
        await asyncio.sleep(60)
    finally:
        print("cleaned up")
asyncio.run(forever())
"""
    msg_id = fresh.kc.execute(code)
    fresh.wait_for_output(msg_id, "started")
    fresh.km.interrupt_kernel()
    reply, iopub = fresh.collect(msg_id, timeout=10)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert "cleaned up" in stream_text(iopub)
    reply, iopub = fresh.execute("print('alive')")
    assert stream_text(iopub) == "alive\n"


@pytest.fixture
def trio_kernel(tmp_path: Path) -> Iterator[KernelHandle]:
    handle = start_kernel(tmp_path, ["--backend", "trio"])
    yield handle
    stop_kernel(handle)


def test_trio_run_and_asyncio_run_in_a_trio_cell(trio_kernel: KernelHandle):
    code = """
import trio, asyncio
async def t(x):
    await trio.sleep(0.01)
    print("trio", x)
    return x + 1
async def a(x):
    await asyncio.sleep(0.01)
    return x * 2
print(trio.run(t, 1), asyncio.run(a(5)))
"""
    reply, iopub = trio_kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stream_text(iopub) == "trio 1\n2 10\n"


def test_an_interrupt_cancels_a_nested_trio_run(trio_kernel: KernelHandle):
    msg_id = trio_kernel.kc.execute(
        "import trio\nasync def f():\n    print('in', flush=True)\n    await trio.sleep(60)\ntrio.run(f)"
    )
    trio_kernel.wait_for_output(msg_id, "in")
    trio_kernel.km.interrupt_kernel()
    reply, _ = trio_kernel.collect(msg_id, timeout=10)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    _, iopub = trio_kernel.execute("print('alive')")
    assert stream_text(iopub) == "alive\n"
