"""Threads: calls into the kernel's loop (async_kernel.from_thread), context inherited by threads, whole lines
from concurrent writers, and asyncio.run()/trio.run() inside a cell (async_kernel.nested), in memory."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sniffio
from async_kernel import context, from_thread, nested
from async_kernel.streams import OutStream

from .kernel_pair import KernelPair, SharedShell

P1 = {"header": {"msg_id": "p1", "msg_type": "execute_request"}}
P2 = {"header": {"msg_id": "p2", "msg_type": "execute_request"}}


@pytest.fixture
def inherit() -> Iterator[None]:
    undo = context.inherit_in_threads()
    yield
    undo()


@pytest.fixture
async def threaded(anyio_backend: str, kernel_shell: SharedShell, inherit: None) -> AsyncIterator[KernelPair]:
    """A pair whose main runner is the target of from_thread, with nested loops installed (as the hosts do)."""
    async with KernelPair(kernel_shell) as pair:
        previous = from_thread.set_runner(pair.main)
        nested.install(pair.main.in_loop_thread, trio=anyio_backend == "trio")
        try:
            yield pair
        finally:
            nested.uninstall()
            from_thread.set_runner(previous)


def in_thread(func, *args):  # type: ignore[no-untyped-def]
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(func(*args)))
    thread.start()
    thread.join(10)
    return result[0]


# -- context inheritance ---------------------------------------------------------------------------
def test_threads_inherit_the_context_of_the_code_that_starts_them(inherit: None):
    token = context.parent.set(P1)  # type: ignore[arg-type]
    try:
        assert in_thread(context.parent.get) is P1
    finally:
        context.parent.reset(token)
    assert in_thread(context.parent.get) is None


def test_pool_work_runs_in_the_submitters_context_not_the_workers(inherit: None):
    with ThreadPoolExecutor(1) as pool:
        token = context.parent.set(P1)  # type: ignore[arg-type]
        assert pool.submit(context.parent.get).result(10) is P1  # starts the worker under P1
        context.parent.reset(token)
        token = context.parent.set(P2)  # type: ignore[arg-type]
        assert pool.submit(context.parent.get).result(10) is P2
        context.parent.reset(token)


def test_a_thread_started_from_a_loops_context_is_not_told_that_the_loop_runs_there(inherit: None):
    token = sniffio.current_async_library_cvar.set("trio")
    try:
        assert in_thread(sniffio.current_async_library_cvar.get) is None
    finally:
        sniffio.current_async_library_cvar.reset(token)


# -- whole lines from concurrent writers -----------------------------------------------------------
def test_a_line_another_thread_is_writing_waits_for_its_end():
    published: list[str] = []
    stream = OutStream("stdout", lambda name, text, parent: published.append(text), lambda d, f: None)
    with ThreadPoolExecutor(1) as other:  # one thread that writes the two halves of its line
        other.submit(stream.write, "half of a").result(10)  # its print is not done with the line yet
        stream.write("b\n")
        stream.flush_now()
        assert published == ["b\n"]
        other.submit(stream.write, " line\n").result(10)
        stream.flush_now()
    assert published == ["b\n", "half of a line\n"]


def test_a_partial_line_of_another_thread_goes_out_once_an_interval_has_passed():
    published: list[str] = []
    timers: list[tuple[float, Callable[[], None]]] = []

    def stream(interval: float) -> OutStream:
        return OutStream(
            "stdout", lambda n, t, p: published.append(t), lambda d, f: timers.append((d, f)), interval=interval
        )

    fast = stream(0)
    in_thread(fast.write, "progress 10%")
    fast.flush_now()
    assert published == ["progress 10%"]
    slow = stream(60)
    timers.clear()
    in_thread(slow.write, "later")
    _, fire = timers.pop()
    fire()  # the timer came (early): the line is not due, so another timer is set for when it is
    assert published == ["progress 10%"]
    assert len(timers) == 1 and 0 < timers[0][0] <= 60


# -- from_thread ------------------------------------------------------------------------------------
CALLS = """
import threading, anyio
from async_kernel import from_thread
async def add(a, b):
    await anyio.sleep(0)
    print("on the loop", a + b)
    return a + b
out = {}
def work():
    out["run"] = from_thread.run(add, 1, 2)
    out["sync"] = from_thread.run_sync(lambda x: x * 2, 21)
    try:
        from_thread.run_sync(lambda: 1 / 0)
    except ZeroDivisionError:
        out["error"] = "raised in the thread"
    print("in the thread")
thread = threading.Thread(target=work)
thread.start()
await anyio.to_thread.run_sync(thread.join)
print(sorted(out.items()))
"""


@pytest.mark.anyio
async def test_a_thread_runs_coroutines_and_functions_on_the_kernels_loop(threaded: KernelPair):
    reply = await threaded.run_cell(CALLS)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = threaded.stream_text(reply["parent_header"]["msg_id"])
    assert text == ("on the loop 3\nin the thread\n[('error', 'raised in the thread'), ('run', 3), ('sync', 42)]\n")


@pytest.mark.anyio
async def test_from_thread_on_the_loops_own_thread_raises_instead_of_deadlocking(threaded: KernelPair):
    reply = await threaded.run_cell("from async_kernel import from_thread\nfrom_thread.run_sync(print, 1)")
    assert reply["content"]["ename"] == "RuntimeError"
    assert "own event loop thread" in reply["content"]["evalue"]


def test_from_thread_without_a_running_kernel_raises():
    def call() -> str:
        try:
            from_thread.run_sync(print)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    previous = from_thread.set_runner(None)
    try:
        assert "needs a running kernel" in in_thread(call)
    finally:
        from_thread.set_runner(previous)


# -- nested loops ------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_asyncio_run_and_run_until_complete_in_a_cell(threaded: KernelPair):
    code = """
import asyncio
async def job(x):
    await asyncio.sleep(0.01)
    print("ran", x)
    return x * 2
own = asyncio.new_event_loop()
print(asyncio.run(job(1)), own.run_until_complete(job(2)), own.run_until_complete(job(3)))
own.close()
"""
    reply = await threaded.run_cell(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert threaded.stream_text(reply["parent_header"]["msg_id"]) == "ran 1\nran 2\nran 3\n2 4 6\n"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the kernel's own loop is an asyncio loop
async def test_run_until_complete_on_the_kernels_own_loop(threaded: KernelPair):
    code = "import asyncio\nasyncio.get_running_loop().run_until_complete(asyncio.sleep(0, 'done'))"
    reply = await threaded.run_cell(code)
    assert reply["content"]["status"] == "ok", reply["content"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])  # in an asyncio cell trio.run works unpatched
async def test_trio_run_in_a_trio_cell(threaded: KernelPair):
    code = "import trio\nasync def job(x):\n    await trio.sleep(0)\n    return x + 1\nprint(trio.run(job, 41))"
    reply = await threaded.run_cell(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert threaded.stream_text(reply["parent_header"]["msg_id"]) == "42\n"
