"""KeyboardInterrupt that waits for the end of a short critical section.

An interrupt raises KeyboardInterrupt in whatever the main thread runs at that instant (``time.sleep`` in a
cell, say). Some kernel code must not be cut in half: a "wake-up pending" or "flush scheduled" flag set
without the action it promises would stall replies or output for good, and text taken from a stream's buffer
but not yet published would be lost. Such code runs inside :data:`deferred`; an interrupt that lands there
is held and raised when the outermost section ends. Sections are short (appending to a queue, publishing
buffered text; at worst waiting a few seconds for room in the outbox), so an interrupt is late by at most
that much and never lost.

The SIGINT handler (:func:`install_sigint_handler`, natively and in Pyodide, where the interrupt buffer
ends in the same handler) asks :func:`raise_or_defer` instead of raising itself. State is per thread, and Python
runs signal handlers on the main thread only, so sections on other threads never hold an interrupt.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import CodeType, FrameType, TracebackType

log = logging.getLogger("async_kernel")


class _State(threading.local):
    depth = 0
    pending = False


_state = _State()


class _Deferred:
    """Context manager: hold KeyboardInterrupt raised by :func:`raise_or_defer` until the block ends."""

    __slots__ = ()

    def __enter__(self) -> None:
        _state.depth += 1

    def __exit__(self, etype: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        # Decrement first: a signal handled after this line raises by itself; one handled before it set
        # ``pending``, which the next line sees.
        _state.depth -= 1
        if _state.pending and not _state.depth:
            _state.pending = False
            raise KeyboardInterrupt  # the interrupt the user asked for wins over an error in the section


#: ``with deferred: ...`` — see the module docstring; nestable, reusable, cheap (no allocation)
deferred = _Deferred()


def raise_or_defer() -> None:
    """Raise KeyboardInterrupt now, or when the current critical section ends. Call from a SIGINT handler."""
    if _state.depth:
        _state.pending = True
        return
    raise KeyboardInterrupt


def install_sigint_handler(decide: Callable[[FrameType | None], bool]) -> None:
    """Handle SIGINT by asking ``decide(frame)`` whether to raise KeyboardInterrupt (held in critical sections).

    The handler raises nothing else: an exception from ``decide`` is logged, since any other exception raised
    by a signal handler would end up in whatever the main thread was doing, kernel code included.
    """

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        try:
            raise_now = decide(frame)
        except Exception:
            log.exception("Error while handling SIGINT")
            return
        if raise_now:
            raise_or_defer()

    signal.signal(signal.SIGINT, on_sigint)


class SigintPolicy:
    """What SIGINT means at the moment it arrives; the host installs it with :func:`install_sigint_handler`.

    When a cell's code is running synchronously on the main thread (``time.sleep``, a loop, ``input()``) the
    signal raises KeyboardInterrupt in it. When the main thread runs a cell but none of its statements (before
    the first, or between two: IPython compiles each one just before it runs), the interrupt is held for the
    cell: ``hold`` is called and the cell's next statement raises instead of running. Otherwise the main loop
    is idle or a cell is awaiting: ``cancel_awaiting`` is called (it must only queue work; it is called for a
    held interrupt too, in case the cell awaits before its next statement), and the awaiting execute is shown
    as interrupted.
    Until :meth:`arm` names the code objects that run cells (during start-up) there is nothing to interrupt.
    Safe at any moment: it imports nothing.
    """

    def __init__(self, cancel_awaiting: Callable[[], None]) -> None:
        self._cancel_awaiting = cancel_awaiting
        self._armed: tuple[CodeType, CodeType, Callable[[], None]] | None = None

    def arm(self, statement: CodeType, cell: CodeType, hold: Callable[[], None]) -> None:
        """From now on, a frame running ``statement`` (the shell's ``run_code``) means "in a cell's code", and
        one running ``cell`` (the shell's ``run``) without it means "in a cell, not in a statement"."""
        self._armed = (statement, cell, hold)

    def __call__(self, frame: FrameType | None) -> bool:
        """Return True if the handler should raise KeyboardInterrupt in ``frame``."""
        armed = self._armed
        if armed is None:
            return False
        statement, cell, hold = armed
        in_cell = False
        while frame is not None:
            code = frame.f_code
            if code is statement:
                return True
            in_cell = in_cell or code is cell
            frame = frame.f_back
        if in_cell:
            hold()
        self._cancel_awaiting()
        return False
