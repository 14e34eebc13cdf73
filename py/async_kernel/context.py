"""Which request is current, per task and per thread.

Each request runs with :data:`parent` set to its message, so output written by a cell, by a task the
cell created, or by a comm handler is attributed to the request that caused it. Code with no parent
in its context is attributed to the most recent execute request.

Threads inherit the context of the code that starts them once :func:`inherit_in_threads` is installed (the
hosts install it, as Python 3.14's ``-X thread_inherit_context`` would): a thread a cell starts writes to
that cell, however long it runs. Work handed to a :class:`concurrent.futures.ThreadPoolExecutor` runs in the
context of the code that submitted it, not of the code that happened to start the pool's worker.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from functools import partial, wraps
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .protocol import Message

parent: ContextVar[Message | None] = ContextVar("async_kernel_parent", default=None)
_last_execute: list[Message | None] = [None]


def current_parent() -> Message | None:
    """The request that output written now belongs to."""
    return parent.get() or _last_execute[0]


def set_last_execute(msg: Message) -> None:
    """Remember ``msg`` as the fallback parent for output from contexts without one."""
    _last_execute[0] = msg


def forget_last_execute(msg_id: str) -> None:
    """Stop using the execute request ``msg_id`` as the fallback parent, unless a later one replaced it."""
    last = _last_execute[0]
    if last is not None and last["header"]["msg_id"] == msg_id:
        _last_execute[0] = None


def copy_for_thread() -> contextvars.Context:
    """A copy of the current context for code that runs on another thread, outside any event loop.

    sniffio's variable is cleared: code in a trio task's context would otherwise be told that trio runs on
    a thread that runs no loop at all (and ``anyio.run`` there would refuse to start).
    """
    ctx = contextvars.copy_context()
    import sniffio

    if ctx.get(sniffio.current_async_library_cvar) is not None:
        ctx.run(sniffio.current_async_library_cvar.set, None)
    return ctx


_originals: dict[str, Any] = {}


def inherit_in_threads() -> Callable[[], None]:
    """Make every thread started from now on run in a copy of its starter's context; return the undo.

    Process-wide and idempotent. ``Thread.start`` is wrapped: the thread's ``run`` (the subclass's own,
    if it has one) runs inside the copy. ``ThreadPoolExecutor.submit`` runs each call in a copy of the
    submitter's context.
    """
    if not _originals:
        _originals["start"] = start = threading.Thread.start
        _originals["submit"] = submit = ThreadPoolExecutor.submit

        @wraps(start)
        def start_in_context(self: threading.Thread) -> None:
            self.run = partial(copy_for_thread().run, self.run)  # type: ignore[method-assign]
            start(self)

        @wraps(submit)
        def submit_in_context(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            return submit(self, copy_for_thread().run, fn, *args, **kwargs)

        threading.Thread.start = start_in_context  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign]
    return _restore_threads


def _restore_threads() -> None:
    if _originals:
        threading.Thread.start = _originals.pop("start")  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = _originals.pop("submit")  # type: ignore[method-assign]
