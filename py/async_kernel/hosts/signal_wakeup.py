"""Wake the main thread for a SIGINT its handler has not run for yet (native host).

Python runs a signal handler on the main thread, between two bytecodes. A blocking call there is woken by the
signal only if the main thread itself receives it while in the call. Two cases leave the handler waiting for as
long as the call lasts, a cell's ``time.sleep(100)`` say: the signal arrives just before the call enters its
system call (a window of microseconds, wide on a loaded machine), or the kernel delivers it to another of the
process's threads. An interrupt would then be late by the whole sleep.

:class:`SignalWakeup` watches the signals Python catches through :func:`signal.set_wakeup_fd`. When SIGINT
arrives and its handler has not run shortly after, it sends the main thread :data:`NUDGE`, whose handler does
nothing: the blocking call returns with EINTR, Python runs the pending SIGINT handler, which raises
KeyboardInterrupt in the cell (or retries the call, PEP 475, if the handler decides not to). It keeps nudging,
for :data:`PERSIST` seconds at most, until the handler has run. The handler counts as run for this signal if
it ran at most :data:`SLACK` before the watch read the signal (the watch reads it within a millisecond on an
idle machine, after the handler ran in the usual case); a nudge that comes after the handler ran only makes a
system call restart.

The wakeup file descriptor is the process's one: the kernel takes it while its loop runs and passes every
byte on to the one it replaced (trio's own, natively). Code that sets another (asyncio's
``loop.add_signal_handler``) turns the watch off until the kernel's loop ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

#: the signal that wakes the main thread: ignored by default, so a process that inherits the mask or
#: receives a stray one is not affected; its handler here does nothing
NUDGE = signal.SIGURG
#: seconds after SIGINT of the first nudge, and between nudges
FIRST_NUDGE, NUDGE_EVERY = 0.02, 0.1
#: how long to keep nudging a main thread whose SIGINT handler has not run (it may be in C code that does not
#: return for a while; nudging it longer would not help)
PERSIST = 1.0
#: see the module docstring
SLACK = 0.1


class SignalWakeup:
    """See the module docstring. :meth:`decide` wraps the SIGINT policy; :meth:`installed` turns the watch on."""

    def __init__(self) -> None:
        self._last_run = float("-inf")  # time.monotonic() when the SIGINT handler last ran (on the main thread)
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._forward = -1
        self._main = threading.main_thread().ident

    def decide(self, policy: Callable[[FrameType | None], bool]) -> Callable[[FrameType | None], bool]:
        """Wrap ``policy`` (the SIGINT handler's ``decide``) so that the watch sees the handler run."""

        def counted(frame: FrameType | None) -> bool:
            self._last_run = time.monotonic()
            return policy(frame)

        return counted

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Watch signals while the block runs (on the main thread, inside the kernel's loop)."""
        signal.signal(NUDGE, _nudged)
        self._forward = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        watcher = threading.Thread(target=self._watch, name="async-kernel-signals", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            signal.set_wakeup_fd(self._forward)
            self._writer.close()  # ends the watch
            watcher.join(1.0)
            self._reader.close()
            signal.signal(NUDGE, signal.SIG_DFL)

    def _watch(self) -> None:
        while True:
            try:
                data = self._reader.recv(256)
            except OSError:
                return
            if not data:
                return
            if self._forward != -1:
                with contextlib.suppress(OSError):  # full (its loop is busy) or closed: it has its bytes
                    os.write(self._forward, data)
            if signal.SIGINT in data:
                self._wake_main(time.monotonic())

    def _wake_main(self, received: float) -> None:
        time.sleep(FIRST_NUDGE)
        while self._last_run < received - SLACK and time.monotonic() < received + PERSIST:
            try:
                signal.pthread_kill(self._main, NUDGE)
            except OSError:  # the main thread has ended
                return
            time.sleep(NUDGE_EVERY)


def _nudged(signum: int, frame: FrameType | None) -> None:
    """:data:`NUDGE`'s handler: the signal only has to interrupt a system call, see the module docstring."""
