"""Queues that keep requests of one kind in order without blocking requests of another kind.

A :class:`Runner` is one event loop (the main thread's, a helper thread's, or Pyodide's) that serves a
set of FIFO queues, one task per queue. The kernel decides which runner and which queue key a message
goes to; the runner guarantees:

* jobs submitted under one key run one at a time, in submission order;
* jobs under different keys never wait for each other (each key has its own serving task);
* :meth:`Runner.submit`, :meth:`Runner.call_soon`, :meth:`Runner.call_later` and :meth:`Runner.start_soon`
  may be called from any thread, and (the first two) from a signal handler, before or while the runner runs;
* every serving task and every timer belongs to the runner's task group: :meth:`Runner.stop` cancels
  them all.

A job that raises (even KeyboardInterrupt) is logged and the queue goes on with the next job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Hashable
from contextvars import Context
from functools import partial
from typing import Any

import aiologic
import anyio
import sniffio

log = logging.getLogger("async_kernel")

Job = Callable[[], Awaitable[Any]]


class Runner:
    """Serves per-key job queues on the event loop that awaits :meth:`run`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queues: dict[Hashable, aiologic.SimpleQueue[Job]] = {}
        self._servers: dict[Hashable, anyio.CancelScope] = {}
        self._inbox: aiologic.SimpleQueue[Callable[[], Any]] = aiologic.SimpleQueue()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._threadsafe: Callable[[Callable[[], Any]], Any] | None = None
        #: the thread whose loop serves this runner, while it runs
        self.thread: threading.Thread | None = None
        #: the loop's library as sniffio names it (``asyncio`` or ``trio``), once it runs
        self.library: str | None = None

    def submit(self, key: Hashable, job: Job) -> None:
        """Queue ``job`` under ``key``. Thread-safe; never blocks."""
        queue = self._queues.get(key)
        if queue is None:
            fresh: aiologic.SimpleQueue[Job] = aiologic.SimpleQueue()
            # dict.setdefault is atomic: exactly one submitter creates the queue and asks for its server
            queue = self._queues.setdefault(key, fresh)
            if queue is fresh:
                self._inbox.put(lambda: self._start_server(key, fresh))
        queue.put(job)

    def call_soon(self, func: Callable[[], Any]) -> None:
        """Run ``func()`` on the runner's loop. Thread-safe and safe from a signal handler.

        Once the loop runs this goes through the loop's own thread-safe entry, which also wakes a loop
        that sleeps in ``select()`` when the caller is a signal handler on the loop's own thread.
        """
        threadsafe = self._threadsafe
        if threadsafe is None:
            self._inbox.put(func)
        else:
            threadsafe(func)

    def call_later(self, delay: float, func: Callable[[], Any]) -> None:
        """Run ``func()`` on the runner's loop ``delay`` seconds from now. Thread-safe; never blocks.

        This is the kernel's clock (coalesced output is flushed by it): a task of the runner's task group
        sleeps, so a call still pending when the runner stops is cancelled with it. The timer starts from the
        runner's own task, in its own context: a caller on another loop (trio's main loop calling the aux
        runner) must not lend it its context, where sniffio would name the caller's library.
        """
        self._inbox.put(partial(self._start_timer, delay, func))

    def start_soon(self, job: Job, context: Context) -> None:
        """Run ``job()`` as a task of the runner's task group, in ``context`` (not entered anywhere else).

        Thread-safe; never blocks. sniffio's variable in ``context`` is set to the runner's library, so that the
        job sees the loop it runs on whatever the context came from. The task is cancelled by :meth:`stop`.
        """
        self._inbox.put(partial(self._start_task, job, context))

    def _start_task(self, job: Job, context: Context) -> None:
        assert self._task_group is not None
        context.run(sniffio.current_async_library_cvar.set, self.library)
        context.run(self._task_group.start_soon, job, name=f"{self.name}:from-thread")

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the thread of the runner's loop (while it runs)."""
        return self.thread is threading.current_thread()

    def _start_timer(self, delay: float, func: Callable[[], Any]) -> None:
        assert self._task_group is not None
        self._task_group.start_soon(self._timer, delay, func, name=f"{self.name}:timer")

    async def _timer(self, delay: float, func: Callable[[], Any]) -> None:
        await anyio.sleep(delay)
        try:
            func()
        except (Exception, KeyboardInterrupt):
            log.exception("Unhandled error in a delayed call on %s", self.name)

    def _start_server(self, key: Hashable, queue: aiologic.SimpleQueue[Job]) -> None:
        assert self._task_group is not None
        self._task_group.start_soon(self._serve, key, queue, name=f"{self.name}:{key}")

    async def _serve(self, key: Hashable, queue: aiologic.SimpleQueue[Job]) -> None:
        if self._queues.get(key) is not queue:  # dropped before its server started
            return
        with anyio.CancelScope() as scope:
            self._servers[key] = scope
            while True:
                job = await queue.async_get()
                try:
                    await job()
                except (Exception, KeyboardInterrupt):  # an interrupt that missed its cell must not end the queue
                    log.exception("Unhandled error in a %s job on %s", key, self.name)

    def drop(self, which: Callable[[Hashable], bool]) -> None:
        """Stop serving the queues whose key ``which(key)`` accepts: their jobs, running or waiting, are
        cancelled. A job submitted under such a key later starts a new queue. Thread-safe."""
        self._inbox.put(partial(self._drop, which))

    def _drop(self, which: Callable[[Hashable], bool]) -> None:
        for key in [key for key in self._queues if which(key)]:
            del self._queues[key]
            server = self._servers.pop(key, None)
            if server is not None:
                server.cancel()

    async def run(self) -> None:
        """Serve until :meth:`stop`; returns when every serving task has ended."""
        self._threadsafe = _threadsafe_caller()
        self.library = sniffio.current_async_library()
        self.thread = threading.current_thread()
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                while True:
                    func = await self._inbox.async_get()
                    try:
                        func()
                    except Exception:
                        log.exception("Unhandled error in a call on %s", self.name)
        finally:
            # the loop is about to close: later calls wait in the inbox instead of failing in the caller
            self._threadsafe = None
            self.thread = None

    def stop(self) -> None:
        """Cancel every serving task. Thread-safe."""

        def cancel() -> None:
            if self._task_group is not None:
                self._task_group.cancel_scope.cancel()

        self.call_soon(cancel)


def _threadsafe_caller() -> Callable[[Callable[[], Any]], Any]:
    """The running loop's way to schedule a call from another thread or a signal handler."""
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    import asyncio

    return asyncio.get_running_loop().call_soon_threadsafe
