"""The Pyodide host: the interpreter of a Web Worker, where JavaScript starts the kernel and relays messages.

JavaScript calls :func:`start` once, on Pyodide's event loop, and keeps the returned :class:`PyodideKernel`::

    kernel = start(send, settings)
    kernel.warm_up()                       # while no page has claimed it yet
    kernel.place(cwd, interrupt_buffer)    # once the page has claimed the kernel, before its first message
    kernel.handle_msg(msg_json, buffers)   # for every message from the front end; returns at once
    kernel.interrupt()                     # cancel an awaiting cell
    kernel.stop()

``send`` and the message format are the callback transport's (:mod:`async_kernel.transports.callback`).
``settings`` (a JavaScript object or a dict) may hold ``env`` (variables to set), ``output_interval`` and
``use_jedi``. The worker starts the kernel as soon as Python is loaded, before a page claims it (the page's
notebook folder and interrupt buffer are not known yet): :meth:`PyodideKernel.place` then gives it those.

Everything runs on the one event loop that calls in: there are no threads, so the kernel's main and aux
runners are one runner, whose per-queue tasks let comm messages and completions through while a cell
awaits, and whose loop is the clock of coalesced output.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import context, interrupts
from ..kernel import Kernel, KernelSettings
from ..protocol import Session, dumps
from ..scheduler import Runner
from ..transports.callback import CallbackTransport, Send
from . import lazy_files, pyodide_pip  # noqa: F401 (imported here so that they are in the snapshot: the worker uses them)
from .common import capture_output, session, start_shell

if TYPE_CHECKING:
    from traitlets.config import Config

    from ..shell import KernelShell


class PyodideKernel:
    """What :func:`start` returns to JavaScript."""

    def __init__(
        self,
        kernel: Kernel,
        transport: CallbackTransport,
        sigint: interrupts.SigintPolicy,
        task: asyncio.Task[None],
        shell: KernelShell,
    ) -> None:
        self.kernel = kernel
        #: what SIGINT (the worker's interrupt buffer) means; installed as the SIGINT handler in Pyodide
        self.sigint = sigint
        self._transport = transport
        self._task = task
        self._shell = shell

    def warm_up(self, done: Callable[[], None] | None = None) -> None:
        """Run what a page's first requests run, answered to no one: a ``kernel_info_request``, a
        ``history_request`` and an ``execute_request`` that prints and stores no history. Under wasm the first run
        of a code path costs several times the next ones (V8 compiles each wasm function on its first call,
        Python fills its caches): run before a page claims the kernel, it leaves that page's first requests
        cheaper. Returns at once; the requests wait in the kernel's queues ahead of any later ones, and
        ``done()`` is called once the last one has ended. Nothing they make is sent, the execution count and
        the history are unchanged, and later output with no request of its own is not attributed to them."""
        requests = Session(session=WARM_UP_SESSION, username="kernel")
        msgs = [requests.msg(msg_type, dict(content)) for msg_type, content in WARM_UP_REQUESTS]
        waiting = {msg["header"]["msg_id"] for msg in msgs}
        execute = next(msg["header"]["msg_id"] for msg in msgs if msg["header"]["msg_type"] == "execute_request")

        def ended(msg_id: str) -> None:
            waiting.discard(msg_id)
            if not waiting:
                context.forget_last_execute(execute)
                if done is not None:
                    done()

        for msg in msgs:
            msg_id = msg["header"]["msg_id"]
            self._transport.quiet(msg_id, partial(ended, msg_id))
            self._transport.handle_msg(dumps({"channel": "shell", **msg}))

    def place(self, cwd: str | None = None, interrupt_buffer: Any = None) -> None:
        """Give the kernel what the page that claimed it decides: the working directory ``cwd`` (the notebook's
        folder in the drive), as if the kernel had started there, and ``interrupt_buffer`` (the
        ``SharedArrayBuffer`` behind Pyodide's interrupt buffer, on a crossOriginIsolated page): ``time.sleep``
        then waits on it, so that an interrupt wakes it at once."""
        if cwd:
            os.chdir(cwd)
            # IPython noted the directory it started in (``_dh``, ``%dhist``)
            self._shell.starting_dir = os.getcwd()
            self._shell.history_manager.dir_hist[:] = [Path.cwd()]
        if interrupt_buffer is not None and sys.platform == "emscripten":
            _interruptible_sleep(interrupt_buffer)

    def handle_msg(self, msg: str | bytes, buffers: Iterable[Any] = ()) -> None:
        """Take one message from the front end; returns at once and never raises (bad input is logged)."""
        self._transport.handle_msg(msg, buffers)

    def interrupt(self) -> None:
        """Cancel the cell that is awaiting, if any."""
        self.kernel.interrupt()

    def stop(self) -> None:
        """Stop serving; pending requests are dropped."""
        self.kernel.runners["main"].stop()


def start(send: Send, settings: Mapping[str, Any] | Any = None) -> PyodideKernel:
    """Set up the interpreter, create the kernel and serve it on the running event loop (see the module doc)."""
    options: dict[str, Any] = dict(settings.to_py() if hasattr(settings, "to_py") else (settings or {}))
    _set_up_process(options)
    runner = Runner("pyodide")
    transport = CallbackTransport(send)
    kernel_settings = KernelSettings(
        output_interval=float(options.get("output_interval", KernelSettings.output_interval)),
        use_jedi=bool(options.get("use_jedi", KernelSettings.use_jedi)),
    )
    kernel = Kernel(
        transport, kernel_settings, main=runner, aux=runner, session=session(), shutdown=lambda restart: runner.stop()
    )
    capture_output(kernel, runner.call_later)
    policy = interrupts.SigintPolicy(kernel.interrupt)  # JavaScript's interrupt runs on this very loop
    shell = start_shell(kernel, _configure if sys.platform == "emscripten" else None)
    policy.arm(type(shell).run_code.__code__, type(shell).run.__code__, shell.hold_interrupt)
    if sys.platform == "emscripten":  # (under CPython the test runner's own SIGINT handling stays)
        # The worker's interrupt buffer ends in Python's SIGINT handler: raise KeyboardInterrupt only in a
        # cell's code, never in the kernel's, and never inside a critical section.
        interrupts.install_sigint_handler(policy)
    transport.connect(kernel.receive)
    task = asyncio.get_event_loop().create_task(runner.run())
    return PyodideKernel(kernel, transport, policy, task, shell)


def _set_up_process(options: dict[str, Any]) -> None:
    for name, value in dict(options.get("env") or {}).items():
        os.environ[str(name)] = str(value)
    if not logging.getLogger().handlers:  # logs (ours, comm's) go to the worker's console, not a cell's stderr
        logging.basicConfig(stream=sys.__stderr__, format="[async-kernel %(levelname)s] %(name)s: %(message)s")


#: the session of the requests :meth:`PyodideKernel.warm_up` makes
WARM_UP_SESSION = "async-kernel-warm-up"

#: what :meth:`PyodideKernel.warm_up` asks, in order: what JupyterLab's consoles and notebooks ask first
WARM_UP_REQUESTS: tuple[tuple[str, Mapping[str, Any]], ...] = (
    ("kernel_info_request", {}),
    ("history_request", {"hist_access_type": "tail", "n": 100, "output": False, "raw": True}),
    ("execute_request", {"code": "print(1)", "silent": False, "store_history": False, "allow_stdin": False}),
)

#: the longest stretch ``time.sleep`` waits without looking at the clock and the interrupt flag again
SLEEP_SLICE = 0.25


def _interruptible_sleep(buffer: Any) -> None:
    """Make ``time.sleep`` wait on the interrupt buffer (``Atomics.wait``): Pyodide's own cannot be interrupted
    (pyodide#6082). The page writes SIGINT into the buffer and notifies it; the sleep wakes, and Python's signal
    check that follows raises KeyboardInterrupt in the cell."""
    import time

    from js import Atomics, Int32Array  # type: ignore[import-not-found]

    flag = Int32Array.new(buffer, 0, 1)
    clock = time.monotonic

    def sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = clock() + seconds
        while (left := deadline - clock()) > 0:
            Atomics.wait(flag, 0, 0, min(left, SLEEP_SLICE) * 1000)

    sleep.__doc__ = time.sleep.__doc__
    time.sleep = sleep


def _configure(config: Config) -> None:
    # No threads in Pyodide: IPython's history-saving thread cannot start (it logs a traceback and falls back
    # to memory). Start in memory; the browser's file system is in memory too.
    config.HistoryManager.hist_file = ":memory:"
    # No subprocesses either: %%bash, %%script and friends cannot run, and building their parsers is half the
    # shell's start-up time there.
    config.ScriptMagics.script_magics = []
