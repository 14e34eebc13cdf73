"""Runner's guarantees (async_kernel.scheduler), in-process on asyncio and on trio."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from async_kernel.scheduler import Runner

pytestmark = pytest.mark.anyio

TIMEOUT = 5


@asynccontextmanager
async def running(runner: Runner) -> AsyncIterator[anyio.Event]:
    """Run ``runner`` in a task; yields an event set once ``run`` has returned."""
    ended = anyio.Event()

    async def run() -> None:
        await runner.run()
        ended.set()

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            try:
                yield ended
            finally:
                runner.stop()
                await ended.wait()


def in_thread(func: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=func, daemon=True)
    thread.start()
    return thread


async def test_jobs_under_one_key_run_in_order_one_at_a_time():
    runner = Runner("test")
    log: list[tuple[str, int]] = []
    active = 0
    most = 0
    done = anyio.Event()

    def job(i: int):
        async def run() -> None:
            nonlocal active, most
            active += 1
            most = max(most, active)
            log.append(("start", i))
            for _ in range(3):
                await anyio.sleep(0)  # let anything else that could run, run
            log.append(("end", i))
            active -= 1
            if i == 19:
                done.set()

        return run

    for i in range(10):
        runner.submit("key", job(i))
    async with running(runner):
        for i in range(10, 20):
            runner.submit("key", job(i))
        await done.wait()
    assert most == 1
    assert log == [(kind, i) for i in range(20) for kind in ("start", "end")]


async def test_jobs_under_different_keys_do_not_wait_for_each_other():
    runner = Runner("test")
    b_ran = anyio.Event()
    a_ended = anyio.Event()

    async def a() -> None:
        await b_ran.wait()  # a deadlock if "b" waited for "a"
        a_ended.set()

    async def b() -> None:
        b_ran.set()

    runner.submit("a", a)
    runner.submit("b", b)
    async with running(runner):
        await a_ended.wait()


async def test_a_blocked_key_does_not_hold_up_others_and_stop_cancels_it():
    runner = Runner("test")
    blocked = anyio.Event()
    cancelled = anyio.Event()
    served: list[int] = []
    all_served = anyio.Event()

    async def forever() -> None:
        blocked.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async def other(i: int) -> None:
        served.append(i)
        if len(served) == 50:
            all_served.set()

    async with running(runner) as ended:
        runner.submit("blocked", forever)
        await blocked.wait()
        for i in range(50):
            runner.submit(("other", i % 5), lambda i=i: other(i))
        await all_served.wait()
        assert not cancelled.is_set()
        runner.stop()
        await ended.wait()
        assert cancelled.is_set()
    assert sorted(served) == list(range(50))


async def test_stop_from_another_thread_ends_run():
    runner = Runner("test")
    started = anyio.Event()
    cancelled = anyio.Event()

    async def forever() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    runner.submit("k", forever)
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.run)
            await started.wait()
            await anyio.to_thread.run_sync(runner.stop)
        # the task group only exits once run() has returned
    assert cancelled.is_set()


async def test_submit_and_call_soon_from_another_thread_before_running():
    runner = Runner("test")
    record: list[object] = []
    loop_thread = threading.get_ident()

    def submitter() -> None:
        for i in range(5):
            runner.submit("k", lambda i=i: _append(record, i))
        runner.call_soon(lambda: record.append(("call", threading.get_ident())))

    in_thread(submitter).join(TIMEOUT)
    assert record == []  # nothing runs before run()
    done = anyio.Event()
    runner.submit("k", lambda: _set(done))
    async with running(runner):
        await done.wait()
    assert ("call", loop_thread) in record
    assert [item for item in record if isinstance(item, int)] == [0, 1, 2, 3, 4]


async def test_submit_and_call_soon_from_threads_while_running():
    runner = Runner("test")
    threads, per_thread = 8, 40
    record: dict[int, list[int]] = {t: [] for t in range(threads)}
    calls: list[int] = []
    count = 0
    done = anyio.Event()
    loop_thread = threading.get_ident()

    async def job(t: int, i: int) -> None:
        nonlocal count
        record[t].append(i)
        count += 1
        if count == threads * per_thread:
            done.set()

    async with running(runner):
        await _until_running(runner)
        barrier = threading.Barrier(threads)

        def submitter(t: int) -> None:
            barrier.wait(TIMEOUT)
            for i in range(per_thread):
                # half the threads share one queue, created concurrently; the others have their own
                runner.submit("shared" if t % 2 else ("own", t), lambda t=t, i=i: job(t, i))
            runner.call_soon(lambda: calls.append(threading.get_ident()))

        workers = [in_thread(lambda t=t: submitter(t)) for t in range(threads)]
        await done.wait()
        for worker in workers:
            worker.join(TIMEOUT)
        await _until_running(runner)  # the call_soon calls queued before this one have run
    assert all(record[t] == list(range(per_thread)) for t in range(threads))
    assert calls == [loop_thread] * threads


async def test_concurrent_first_submits_to_one_key_start_a_single_server():
    runner = Runner("test")
    threads = 8
    active = 0
    most = 0
    count = 0
    done = anyio.Event()

    async def job() -> None:
        nonlocal active, most, count
        active += 1
        most = max(most, active)
        await anyio.sleep(0)
        active -= 1
        count += 1
        if count == threads * 10:
            done.set()

    barrier = threading.Barrier(threads)

    def submitter() -> None:
        barrier.wait(TIMEOUT)
        for _ in range(10):
            runner.submit("one key", job)

    workers = [in_thread(submitter) for _ in range(threads)]
    async with running(runner):
        await done.wait()
    for worker in workers:
        worker.join(TIMEOUT)
    assert most == 1


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
async def test_a_job_that_raises_is_logged_and_its_queue_goes_on(error, caplog):
    runner = Runner("the-runner")
    served: list[str] = []
    done = anyio.Event()

    async def failing() -> None:
        raise error("boom in a job")

    async def after() -> None:
        served.append("after")
        done.set()

    with caplog.at_level(logging.ERROR, "async_kernel"):
        async with running(runner):
            runner.submit("q", failing)
            runner.submit("q", after)
            await done.wait()
    assert served == ["after"]
    [record] = [r for r in caplog.records if "boom in a job" in str(r.exc_info[1])]
    assert record.levelno == logging.ERROR
    assert "the-runner" in record.getMessage() and "q" in record.getMessage()
    assert record.exc_info[0] is error


async def test_a_call_soon_that_raises_is_logged_and_the_runner_goes_on(caplog):
    runner = Runner("the-runner")
    done = anyio.Event()

    def failing() -> None:
        raise ValueError("boom in a call")

    with caplog.at_level(logging.ERROR, "async_kernel"):
        async with running(runner):
            runner.call_soon(failing)
            runner.submit("q", lambda: _set(done))
            await done.wait()
            await _until_running(runner)
    assert "boom in a call" in caplog.text


async def test_calls_after_run_returned_do_not_fail():
    runner = Runner("test")
    async with running(runner) as ended:
        await _until_running(runner)
    assert ended.is_set()
    # the loop is gone: these wait in the inbox instead of raising in the caller
    await anyio.to_thread.run_sync(lambda: runner.call_soon(lambda: None))
    runner.call_soon(lambda: None)
    runner.submit("new key", _noop)
    runner.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGUSR1")
async def test_submit_and_call_soon_from_a_signal_handler():
    runner = Runner("test")
    called = anyio.Event()
    job_ran = anyio.Event()

    def handler(signum, frame) -> None:
        runner.call_soon(called.set)
        runner.submit("from a signal", lambda: _set(job_ran))

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        async with running(runner):
            await _until_running(runner)
            signal.raise_signal(signal.SIGUSR1)
            await called.wait()
            await job_ran.wait()
    finally:
        signal.signal(signal.SIGUSR1, previous)


# -- helpers ----------------------------------------------------------------------------------------


async def _until_running(runner: Runner) -> None:
    """Wait until the runner has handled a call made now (so everything queued before it)."""
    event = anyio.Event()
    runner.call_soon(event.set)
    await event.wait()


async def _append(record: list, item: object) -> None:
    record.append(item)


async def _set(event: anyio.Event) -> None:
    event.set()


async def _noop() -> None:
    pass
