"""GUI host loops: the main thread runs a toolkit's own main loop (Tk or Qt) and the kernel's main runner runs
inside it as a *guest*, so windows created by cells stay responsive while other cells await.

* trio has guest mode built in (:func:`trio.lowlevel.start_guest_run`).
* asyncio has none: :class:`AsyncioGuest` runs the loop's iterations (``_run_once``) as GUI callbacks, each one
  only handling what is ready, while a helper thread waits on the loop's selector (I/O, the loop's self-pipe
  that ``call_soon_threadsafe`` writes to, the next timer) and wakes the GUI loop when there is work.

Both toolkits' loops block in C between events, where Python runs no signal handler: a periodic tick
(:data:`TICK_MS`) lets the SIGINT handler (:mod:`async_kernel.interrupts`) run while the GUI loop is idle.
A cell blocked in ``time.sleep`` is interrupted as in the default host: the handler runs inside the sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("async_kernel")

HOSTS = ("tk", "qt")
#: how often (ms) the idle GUI loop runs Python code, so that signal handlers run within this delay
TICK_MS = 50
#: the toolkit whose main loop hosts this process's main runner, if any (``%gui`` reads it)
active: str | None = None

Main = Callable[[], Awaitable[None]]


def _nothing() -> None:
    pass


def _drain(calls: queue.SimpleQueue[Callable[[], Any]]) -> None:
    while True:
        try:
            func = calls.get_nowait()
        except queue.Empty:
            return
        try:
            func()
        except (Exception, KeyboardInterrupt):  # a GUI callback must never end the GUI loop
            log.exception("Unhandled error in a call on the GUI loop")


class TkLoop:
    """Tk's main loop (``mainloop``) on a window-less Tcl interpreter: it serves every Tk window of the thread.

    Other threads wake it through a pipe watched by a Tcl file handler (POSIX only); ``mainloop(-1)`` runs
    until :meth:`quit`, whatever the number of windows, so closing the user's last window ends nothing.
    """

    def __init__(self) -> None:
        import tkinter

        self.on_tick: Callable[[], None] = _nothing
        self._tcl = tkinter.Tcl()
        self._calls: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._tcl.createfilehandler(self._read_fd, tkinter.READABLE, self._on_wakeup)
        self._tick()

    def call_soon_threadsafe(self, func: Callable[[], Any]) -> None:
        """Run ``func()`` on the GUI loop soon. Any thread; never blocks."""
        self._calls.put(func)
        with contextlib.suppress(OSError):  # pipe full (a wake-up is pending anyway) or closed (loop over)
            os.write(self._write_fd, b"\0")

    def _on_wakeup(self, fd: int, mask: int) -> None:
        with contextlib.suppress(OSError):  # a file handler that raises would end the main loop
            os.read(self._read_fd, 65536)
        _drain(self._calls)

    def _tick(self) -> None:
        self._tcl.after(TICK_MS, self._tick)
        self.on_tick()

    def run(self) -> None:
        """Serve Tk events until :meth:`quit`."""
        try:
            self._tcl.mainloop(-1)
        finally:
            self._tcl.deletefilehandler(self._read_fd)
            os.close(self._read_fd)
            os.close(self._write_fd)

    def quit(self) -> None:
        self._tcl.quit()


def _qt_modules() -> tuple[Any, Any]:
    """QtCore and QtWidgets of PySide6 or PyQt6 (``QT_API=pyqt6`` prefers the latter)."""
    order = ["PySide6", "PyQt6"]
    if os.environ.get("QT_API", "").lower() == "pyqt6":
        order.reverse()
    for name in order:
        try:
            core = __import__(f"{name}.QtCore", fromlist=["QtCore"])
            widgets = __import__(f"{name}.QtWidgets", fromlist=["QtWidgets"])
        except ImportError:
            continue
        return core, widgets
    raise ImportError("--host qt needs PySide6 or PyQt6: pip install PySide6-Essentials (or PyQt6)")


class QtLoop:
    """Qt's main loop (``QApplication.exec``); closing the last window does not quit it."""

    def __init__(self) -> None:
        core, widgets = _qt_modules()
        self.on_tick: Callable[[], None] = _nothing
        self._app = widgets.QApplication.instance() or widgets.QApplication([sys.argv[0] or "async-kernel"])
        self._app.setQuitOnLastWindowClosed(False)
        self._calls: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        signal_type = getattr(core, "Signal", None) or core.pyqtSignal
        waker_type = type("AsyncKernelWaker", (core.QObject,), {"wake": signal_type()})
        self._waker = waker_type()
        self._waker.wake.connect(self._on_wakeup, core.Qt.ConnectionType.QueuedConnection)
        self._timer = core.QTimer()
        self._timer.timeout.connect(self._tick)
        self._timer.start(TICK_MS)

    def call_soon_threadsafe(self, func: Callable[[], Any]) -> None:
        """Run ``func()`` on the GUI loop soon. Any thread; never blocks."""
        self._calls.put(func)
        self._waker.wake.emit()  # queued: delivered by the main thread's event loop, even from the main thread

    def _on_wakeup(self) -> None:
        _drain(self._calls)

    def _tick(self) -> None:
        self.on_tick()

    def run(self) -> None:
        """Serve Qt events until :meth:`quit`."""
        try:
            self._app.exec()
        finally:
            self._timer.stop()

    def quit(self) -> None:
        self._app.quit()


class _NonBlocking:
    """The loop's selector as the GUI thread sees it: ``select`` never waits (the helper thread does)."""

    def __init__(self, selector: Any) -> None:
        self._selector = selector

    def select(self, timeout: float | None = None) -> Any:
        return self._selector.select(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._selector, name)


_STOP = object()


class AsyncioGuest:
    """An asyncio loop driven by a GUI loop: one ``_run_once`` per GUI callback, never blocking in it.

    After an iteration, either callbacks are ready (another iteration is queued on the GUI loop) or the helper
    thread waits on the real selector until the next timer, I/O or a thread-safe call, then queues one. Exactly
    one iteration or one wait is pending at a time. The loop stays the main thread's running loop throughout, so
    GUI callbacks may call ``asyncio.get_running_loop()``; what they schedule is noticed on the next tick.
    """

    def __init__(self, gui: TkLoop | QtLoop) -> None:
        self._gui = gui
        self._loop: Any = asyncio.SelectorEventLoop()
        self._selector = self._loop._selector
        self._loop._selector = _NonBlocking(self._selector)
        self._waits: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._task: asyncio.Task[None] | None = None
        self._stepping = False
        gui.on_tick = self._poke

    def run(self, main: Main) -> None:
        """Run ``main()`` as the loop's task inside the GUI loop; return (or raise) when it ends."""
        loop = self._loop
        hooks = sys.get_asyncgen_hooks()
        waiter = threading.Thread(target=self._wait, name="async-kernel-gui-selector", daemon=True)
        asyncio.events._set_running_loop(loop)
        loop._thread_id = threading.get_ident()
        sys.set_asyncgen_hooks(firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook)
        try:
            self._task = loop.create_task(main())  # type: ignore[arg-type]
            waiter.start()
            self._gui.call_soon_threadsafe(self._step)
            self._gui.run()
        finally:
            self._waits.put(_STOP)
            loop._write_to_self()
            waiter.join(1.0)
            asyncio.events._set_running_loop(None)
            loop._thread_id = None
            sys.set_asyncgen_hooks(*hooks)
            self._close()
        self._task.result()

    def _step(self) -> None:
        if self._stepping:  # a cell runs a nested GUI loop (``update()``): the outer iteration goes on
            return
        self._stepping = True
        try:
            self._loop._run_once()
        except Exception:  # asyncio's own machinery failed: keep the loop alive, as run_forever would not
            log.exception("Error in an iteration of the asyncio loop")
        finally:
            self._stepping = False
        assert self._task is not None
        if self._task.done():
            self._gui.quit()
        elif self._loop._ready:
            self._gui.call_soon_threadsafe(self._step)
        else:
            scheduled = self._loop._scheduled
            self._waits.put(max(0.0, scheduled[0]._when - self._loop.time()) if scheduled else None)

    def _wait(self) -> None:
        while True:
            timeout = self._waits.get()
            if timeout is _STOP:
                return
            try:
                self._selector.select(timeout)
            except (OSError, ValueError):  # closed at exit
                return
            self._gui.call_soon_threadsafe(self._step)

    def _poke(self) -> None:
        """Wake the waiting helper if a GUI callback scheduled work on the loop (``loop.call_soon``)."""
        if self._loop._ready and not self._stepping:
            self._loop._write_to_self()

    def _close(self) -> None:
        loop = self._loop
        loop._selector = self._selector
        try:
            tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _run_trio_guest(gui: TkLoop | QtLoop, main: Main) -> None:
    import trio

    outcomes: list[Any] = []

    def done(outcome: Any) -> None:
        outcomes.append(outcome)
        gui.quit()

    trio.lowlevel.start_guest_run(
        main,
        run_sync_soon_threadsafe=gui.call_soon_threadsafe,
        done_callback=done,
        host_uses_signal_set_wakeup_fd=False,
    )
    gui.run()
    if not outcomes:
        raise RuntimeError("the GUI loop ended before the kernel's main loop")
    outcomes[0].unwrap()


def run_hosted(host: str, main: Main, backend: str) -> None:
    """Run ``main()`` on ``backend`` as a guest of the ``host`` toolkit's main loop, on this (the main) thread."""
    global active
    gui = TkLoop() if host == "tk" else QtLoop()
    active = host
    try:
        if backend == "trio":
            _run_trio_guest(gui, main)
        else:
            AsyncioGuest(gui).run(main)
    finally:
        active = None
