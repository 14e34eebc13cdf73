"""``asyncio.run()``, ``loop.run_until_complete()`` and ``trio.run()`` inside a cell.

A cell runs on the kernel's running event loop, where these refuse to start ("cannot be called from a
running event loop"). Once :func:`install` is called (the native host does), a call made by a cell's code on
the thread of the kernel's loop runs on a helper thread instead, with an event loop of its own, while the
cell waits for it:

* ``asyncio.run(coro)`` runs ``coro`` there, as it would in a script (a fresh loop, closed afterwards);
* ``loop.run_until_complete(coro)`` on the kernel's own loop runs ``coro`` on a fresh loop there; on another
  (not running) loop, runs that loop there, so a loop kept across cells keeps its state;
* ``trio.run(fn, *args)`` runs there too (patched when the kernel's backend is trio, or trio was imported).

The call's output goes to the cell (the helper thread runs in the cell's context), its value is returned and
its exception raised in the cell. An interrupt raises KeyboardInterrupt in the cell's wait, which cancels
the coroutine and waits for it to end (a second interrupt stops waiting). Anywhere else (a thread, a comm
handler, a coroutine already running on a helper thread) the originals behave as usual.

Limits: the coroutine runs on another thread, so objects bound to the kernel's loop (its tasks, futures,
locks, a widget's awaitable) cannot be awaited there, and thread-affine objects (some GUI toolkits, sqlite3
connections) may refuse. The kernel's main loop is blocked meanwhile, as by any synchronous call:
comm messages wait, and :func:`async_kernel.from_thread.run` from the coroutine would wait forever (it
raises instead). In Pyodide there are no threads: nothing is installed.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import concurrent.futures
import contextlib
import inspect
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from . import context

T = TypeVar("T")

_originals: dict[str, Any] = {}
_in_cell_thread: list[Callable[[], bool]] = [lambda: False]
#: threads blocked waiting for a nested loop (from_thread calls to their loop would never be served)
waiting_threads: set[int] = set()


def install(in_cell_thread: Callable[[], bool], *, trio: bool = False) -> Callable[[], None]:
    """Patch ``asyncio.run``, ``BaseEventLoop.run_until_complete`` (and ``trio.run``); return the undo.

    ``in_cell_thread()`` tells whether the calling thread is one whose loop runs cells (natively: the main
    runner's and the subshells'). Idempotent.
    """
    _in_cell_thread[0] = in_cell_thread
    if "asyncio.run" not in _originals:
        _originals["asyncio.run"] = asyncio.run
        _originals["run_until_complete"] = asyncio.base_events.BaseEventLoop.run_until_complete
        asyncio.run = asyncio.runners.run = _asyncio_run  # type: ignore[assignment]
        asyncio.base_events.BaseEventLoop.run_until_complete = _run_until_complete  # type: ignore[method-assign]
    if (trio or "trio" in sys.modules) and "trio.run" not in _originals:
        import trio as trio_module

        _originals["trio.run"] = trio_module.run
        trio_module.run = _trio_run  # type: ignore[assignment]
    return uninstall


def uninstall() -> None:
    """Put the originals back."""
    if "asyncio.run" in _originals:
        asyncio.run = asyncio.runners.run = _originals.pop("asyncio.run")
        asyncio.base_events.BaseEventLoop.run_until_complete = _originals.pop("run_until_complete")
    if "trio.run" in _originals:
        sys.modules["trio"].run = _originals.pop("trio.run")
    _in_cell_thread[0] = lambda: False


def _nested() -> bool:
    """Whether the caller is a cell's code on the thread of a loop that runs cells."""
    msg = context.parent.get()
    return msg is not None and msg["header"]["msg_type"] == "execute_request" and _in_cell_thread[0]()


class _Canceller:
    """Cancels the coroutine on the helper thread's loop, as soon as that loop has started it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancel: Callable[[], None] | None = None
        self.requested = False

    def started(self, cancel: Callable[[], None]) -> None:
        with self._lock:
            self._cancel = cancel
            requested = self.requested
        if requested:
            cancel()

    def __call__(self) -> None:
        with self._lock:
            self.requested = True
            cancel = self._cancel
        if cancel is not None:
            cancel()


def _asyncio_main(coro: Coroutine[Any, Any, T], canceller: _Canceller) -> Coroutine[Any, Any, T]:
    async def main() -> T:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        canceller.started(lambda: loop.call_soon_threadsafe(task.cancel))
        return await coro

    return main()


def _asyncio_run(main: Any, *args: Any, **kwargs: Any) -> Any:
    original = _originals["asyncio.run"]
    if not (_nested() and inspect.iscoroutine(main)):
        return original(main, *args, **kwargs)
    canceller = _Canceller()
    return _on_helper(lambda: original(_asyncio_main(main, canceller), *args, **kwargs), canceller)


def _run_until_complete(loop: asyncio.AbstractEventLoop, future: Any) -> Any:
    original = _originals["run_until_complete"]
    if not (_nested() and inspect.iscoroutine(future)):
        return original(loop, future)
    canceller = _Canceller()
    wrapped = _asyncio_main(future, canceller)
    if loop is asyncio._get_running_loop():  # the kernel's own loop cannot run twice: a fresh one
        return _on_helper(lambda: _originals["asyncio.run"](wrapped), canceller)
    return _on_helper(lambda: original(loop, wrapped), canceller)


def _trio_run(async_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    original = _originals["trio.run"]
    if not _nested():
        return original(async_fn, *args, **kwargs)
    canceller = _Canceller()

    async def main() -> Any:
        import trio

        token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            canceller.started(lambda: token.run_sync_soon(scope.cancel))
            return await async_fn(*args)

    return _on_helper(lambda: original(main, **kwargs), canceller)


def _on_helper(call: Callable[[], T], cancel: Callable[[], None]) -> T:
    """Run ``call()`` on a new thread in a copy of the caller's context; wait; an interrupt cancels it."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def target() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    ctx = context.copy_for_thread()
    me = threading.get_ident()
    waiting_threads.add(me)
    try:
        threading.Thread(target=ctx.run, args=(target,), name="async-kernel-nested-loop", daemon=True).start()
        return future.result()
    except KeyboardInterrupt:
        cancel()
        with contextlib.suppress(KeyboardInterrupt):  # a second interrupt stops waiting
            concurrent.futures.wait([future])
        raise
    finally:
        waiting_threads.discard(me)
