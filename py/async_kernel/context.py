"""Which request is current, per task and per thread.

Each request runs with :data:`parent` set to its message, so output written by a cell, by a task the
cell created, or by a comm handler is attributed to the request that caused it. Code with no parent
in its context (a thread the user started, say) is attributed to the most recent execute request.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

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
