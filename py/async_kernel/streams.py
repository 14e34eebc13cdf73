"""``sys.stdout`` / ``sys.stderr`` replacements that coalesce writes into few ``stream`` messages.

Guarantees:

* every character written is delivered, in order, to the request that was current when it was written
  (the parent is read from :data:`async_kernel.context.parent` at write time);
* lines of different threads do not mix: text a thread writes without a newline (``print`` writes the text,
  then the newline) is held for that thread until its line ends, until that thread flushes, or for at most
  ``interval`` seconds; in between, complete lines of other threads go out;
* a write is sent at most ``interval`` seconds later (a timer flushes), or at once when the buffer
  holds ``max_buffer`` characters;
* :meth:`OutStream.flush` (what ``print(..., flush=True)`` calls) sends at once if nothing was sent for
  ``interval`` seconds, else leaves it to the timer: a loop of flushed prints makes at most one message
  per interval, not one per print;
* :meth:`OutStream.flush_now` sends everything buffered before it returns (but a line another thread is in
  the middle of writing, see above); the kernel calls it before every other message it publishes for a
  request, so streams never overtake results or status;
* a KeyboardInterrupt never lands between taking text from the buffer and publishing it, nor between
  marking a timer as scheduled and scheduling it (see :mod:`async_kernel.interrupts`).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import context, interrupts

_get_ident = threading.get_ident

if TYPE_CHECKING:
    from .protocol import Message

Publish = Callable[[str, str, "Message | None"], None]
Schedule = Callable[[float, Callable[[], None]], None]


class OutStream(io.TextIOBase):
    """A text stream that publishes what is written to it as ``stream`` messages."""

    def __init__(
        self,
        name: str,
        publish: Publish,
        schedule: Schedule,
        *,
        interval: float = 0.05,
        max_buffer: int = 1 << 16,
        fileno: int | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self._publish = publish
        self._schedule = schedule
        self._interval = interval
        self._max_buffer = max_buffer
        self._fileno = fileno
        self._parts: list[tuple[Message | None, str]] = []
        #: thread id -> (parent, text without its newline yet, when that text was first held)
        self._partial: dict[int, tuple[Message | None, str, float]] = {}
        #: the thread writing on the fast path (no other thread's line open: ``_partial`` is empty) and the index
        #: of its first part; only when another thread writes is its unfinished line moved to ``_partial``
        self._writer: int | None = None
        self._writer_from = 0
        self._size = 0
        self._scheduled = False
        self._last_send = -float("inf")
        self._lock = threading.Lock()  # guards the buffer
        self._send_lock = threading.Lock()  # keeps concurrent flushes in order

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self._fileno is None:
            raise io.UnsupportedOperation("fileno")
        return self._fileno

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        parent = context.current_parent()
        # An interrupt anywhere here leaves consistent state: the text is in the buffer or not, and the
        # only flag (``_scheduled``) is set together with its timer in _schedule_flush's deferred section.
        thread = _get_ident()
        with self._lock:
            if thread == self._writer:  # the common case, one writing thread: nothing to keep apart
                self._parts.append((parent, text))
            else:
                self._switch(thread, parent, text)
            self._size += len(text)
            full = self._size >= self._max_buffer
        if full:
            self._flush(everything=True)
        elif not self._scheduled:  # read without the lock: _schedule_flush checks again under it
            self._schedule_flush(self._interval)
        return len(text)

    def _switch(self, thread: int, parent: Message | None, text: str) -> None:
        """A write by another thread than the fast path's: keep the lines of the threads apart."""
        self._detach_tail()
        if self._partial:
            self._append(thread, parent, text)
        else:
            self._writer, self._writer_from = thread, len(self._parts)
            self._parts.append((parent, text))

    def _append(self, thread: int, parent: Message | None, text: str) -> None:
        """Buffer ``text``: up to its last newline as a part, the rest as the thread's unfinished line."""
        held = self._partial.pop(thread, None)
        since = time.monotonic()
        if held is not None:
            if held[0] is parent:
                text, since = held[1] + text, held[2]
            else:
                self._parts.append((held[0], held[1]))
        cut = text.rfind("\n") + 1
        if cut:
            self._parts.append((parent, text[:cut]))
            since = time.monotonic()
        if cut < len(text):
            self._partial[thread] = (parent, text[cut:], since)

    def _detach_tail(self) -> None:
        """Hold the fast path's unfinished line (its parts at the end of the buffer) as its thread's."""
        thread, self._writer = self._writer, None
        if thread is None:
            return
        parts = self._parts
        start = len(parts)
        while start > self._writer_from and parts[start - 1][1][-1] != "\n":
            start -= 1
        if start == len(parts):
            return
        run = parts[start:]
        if any(parent is not run[0][0] for parent, _ in run):
            return  # a line that changed requests midway stays as it is
        text = "".join(part for _, part in run)
        cut = text.rfind("\n") + 1
        del parts[start:]
        if cut:
            self._parts.append((run[0][0], text[:cut]))
        self._partial[thread] = (run[0][0], text[cut:], time.monotonic())

    def _take(self, everything: bool) -> list[tuple[Message | None, str]]:
        """Empty the buffer but for the unfinished lines of other threads held for less than an interval."""
        if not everything and self._writer not in (None, _get_ident()):
            self._detach_tail()
        self._writer = None
        parts, self._parts = self._parts, []
        if self._partial:
            me, oldest = _get_ident(), time.monotonic() - self._interval
            for thread, (parent, text, since) in list(self._partial.items()):
                if everything or thread == me or since <= oldest:
                    parts.append((parent, text))
                    del self._partial[thread]
        self._size = sum(len(text) for _, text, _ in self._partial.values())
        return parts

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def _schedule_flush(self, delay: float) -> None:
        with interrupts.deferred:
            with self._lock:
                if self._scheduled:
                    return
                self._scheduled = True
            self._schedule(delay, self._on_timer)

    def _on_timer(self) -> None:
        with self._lock:
            self._scheduled = False
        self.flush_now()

    def flush(self) -> None:
        """Send soon: now if nothing was sent for ``interval`` seconds, else when the interval is over."""
        if not self._parts and not self._partial:
            return
        wait = self._last_send + self._interval - time.monotonic()
        if wait <= 0:
            self.flush_now()
        else:
            self._schedule_flush(wait)

    def flush_now(self) -> None:
        """Send everything buffered before returning, including what another thread is sending right now;
        only a line another thread is in the middle of writing waits for its end (at most an interval)."""
        self._flush(everything=False)

    def _flush(self, everything: bool) -> None:
        # The common case, called before every message the kernel publishes. Text leaves the buffer only
        # under _send_lock and is published before that lock is released: an empty buffer and a free lock
        # mean that everything written was published.
        if not self._parts and not self._partial and not self._send_lock.locked():
            return
        with interrupts.deferred, self._send_lock:
            with self._lock:
                parts = self._take(everything)
                held = min((since for _, _, since in self._partial.values()), default=None)
            if held is not None:  # another thread's unfinished line: a timer sends it when it is due
                self._schedule_flush(max(0.0, held + self._interval - time.monotonic()))
            if not parts:
                return
            self._last_send = time.monotonic()
            # one message per run of writes that share a parent
            start = 0
            for i in range(1, len(parts) + 1):
                if i == len(parts) or parts[i][0] is not parts[start][0]:
                    text = "".join(part for _, part in parts[start:i])
                    self._publish(self.name, text, parts[start][0])
                    start = i
