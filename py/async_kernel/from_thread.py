"""Run code on the kernel's event loop from any other thread, and wait for its result.

Named after :mod:`anyio.from_thread`::

    from async_kernel import from_thread

    def work():                                  # on a thread a cell started
        value = from_thread.run(some_async_function, 1, 2)
        from_thread.run_sync(widget.set_value, value)

The target is the kernel's *main* runner: the loop that runs cells and comm messages (natively the main
thread's loop, asyncio or trio; in Pyodide the browser's loop, where there are no threads to call from).
The call runs in a copy of the calling thread's context, so its output goes where the thread's goes (the
cell that started the thread). The calling thread blocks until the call is done; its exception is raised
there. While a cell blocks the main thread synchronously (``time.sleep``, ``thread.join()``), calls wait
for it. Calling from the loop's own thread raises :class:`RuntimeError`: it could only deadlock.
Nothing here holds the GIL across a wait, and all state is behind locks: free-threaded CPython is fine.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import nested
from .context import copy_for_thread

if TYPE_CHECKING:
    from .scheduler import Runner

T = TypeVar("T")

__all__ = ("run", "run_sync", "set_runner")

_runner: list[Runner | None] = [None]


def set_runner(runner: Runner | None) -> Runner | None:
    """Make ``runner`` the target of :func:`run` and :func:`run_sync`; return the previous one.

    The hosts set the kernel's main runner; an application that embeds the kernel may set its own.
    """
    previous, _runner[0] = _runner[0], runner
    return previous


def _target(what: str) -> Runner:
    runner = _runner[0]
    if runner is None or runner.thread is None:
        raise RuntimeError(f"from_thread.{what}() needs a running kernel")
    if runner.in_loop_thread():
        raise RuntimeError(
            f"from_thread.{what}() was called on the kernel's own event loop thread, where it would wait for "
            "itself forever; await the coroutine (or call the function) directly instead"
        )
    if runner.thread.ident in nested.waiting_threads:
        raise RuntimeError(
            f"from_thread.{what}() was called while the kernel's loop waits for a nested asyncio.run() or "
            "trio.run() in a cell: it could only be served once that call returns"
        )
    return runner


def run(async_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``await async_fn(*args)`` on the kernel's loop; block this thread until it is done; return its value.

    A cancellation of the call (the kernel shutting down) raises :class:`concurrent.futures.CancelledError`.
    """
    runner = _target("run")
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    async def job() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            value = await async_fn(*args)
        except BaseException as exc:
            if _is_cancellation(exc):
                _cancel(future)
                raise
            future.set_exception(exc)
        else:
            future.set_result(value)

    runner.start_soon(job, copy_for_thread())
    return future.result()


def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn(*args)`` on the kernel's loop; block this thread until it returns; return its value."""
    runner = _target("run_sync")
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    async def job() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)

    runner.start_soon(job, copy_for_thread())
    return future.result()


def _is_cancellation(exc: BaseException) -> bool:
    import anyio

    return isinstance(exc, anyio.get_cancelled_exc_class())  # (called on the loop, in the job)


def _cancel(future: concurrent.futures.Future[Any]) -> None:
    future.set_exception(concurrent.futures.CancelledError("the kernel's event loop cancelled the call"))
