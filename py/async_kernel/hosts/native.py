"""The native host: a process of its own, the ZMQ transport, the main loop on the main thread and the aux
loop on a helper thread.

It owns the process: SIGINT (both interrupt modes end in it, see :class:`~async_kernel.interrupts.SigintPolicy`;
:mod:`.signal_wakeup` makes sure it reaches a main thread blocked in a system call),
``sys.stdout``/``sys.stderr``, the IPython profile, and a watchdog that ends a shutdown that hangs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from functools import partial
from pathlib import Path

import anyio

from .. import interrupts
from ..debugger import native_debugger
from ..kernel import Kernel, KernelSettings
from ..scheduler import Runner
from ..transports.zmq import ZmqTransport
from .common import capture_output, session, start_shell
from .signal_wakeup import SignalWakeup

log = logging.getLogger("async_kernel")

#: how long a shutdown may take (the main thread blocked in user code, an exit handler waiting on a lock) before
#: the process exits anyway, with status 0. jupyter_client sends SIGTERM after half its shutdown_wait_time (5 s):
#: stay below that, so that a requested shutdown always ends cleanly.
SHUTDOWN_GRACE = 2.0


def run(connection_file: str | os.PathLike[str], settings: KernelSettings, host: str | None = None) -> None:
    """Serve the kernel described by ``connection_file`` until a ``shutdown_request``.

    ``host`` (``"tk"`` or ``"qt"``) runs the main runner as a guest of that toolkit's main loop (:mod:`.gui`).
    """
    transport = ZmqTransport(json.loads(Path(connection_file).read_text()))
    main, aux = Runner("main"), Runner("aux")
    kernel = Kernel(
        transport,
        settings,
        main=main,
        aux=aux,
        session=session(),
        interrupt=_send_sigint,
        shutdown=partial(_shutdown, main, aux),
        subshells=ThreadSubshells(settings.backend),
        debugger=native_debugger(),
    )
    policy = interrupts.SigintPolicy(partial(main.call_soon, kernel.interrupt))
    wakeup = SignalWakeup()
    interrupts.install_sigint_handler(wakeup.decide(policy))
    transport.start(kernel.receive, kernel.session)
    aux_thread = threading.Thread(target=anyio.run, args=(aux.run,), name="async-kernel-aux", daemon=True)
    aux_thread.start()
    # The aux loop is the clock of coalesced output: it keeps time while a cell blocks the main thread.
    capture_output(kernel, aux.call_later)
    from ..shell import KernelShell

    shell = start_shell(kernel)
    policy.arm(KernelShell.run_code.__code__, KernelShell.run.__code__, shell.hold_interrupt)
    try:
        _run_main(main, wakeup, settings.backend, host)
    finally:
        kernel.flush_streams()
        transport.close()
        aux_thread.join(1.0)


def _run_main(main: Runner, wakeup: SignalWakeup, backend: str, host: str | None) -> None:
    async def serve() -> None:
        with wakeup.installed():  # inside the loop: trio takes the wakeup fd as it starts; the watch passes it on
            await main.run()

    if host is None:
        anyio.run(serve, backend=backend)
    else:
        from .gui import run_hosted

        run_hosted(host, serve, backend)


class ThreadSubshells:
    """Each subshell runs on a thread of its own, with its own event loop (the kernel's backend): a cell that
    blocks in one subshell (``time.sleep``) does not hold up the others."""

    def __init__(self, backend: str) -> None:
        self._backend = backend

    def start(self, subshell_id: str) -> Runner:
        runner = Runner(f"subshell-{subshell_id[:8]}")
        thread = threading.Thread(
            target=anyio.run,
            args=(runner.run,),
            kwargs={"backend": self._backend},
            name=f"async-kernel-subshell-{subshell_id[:8]}",
            daemon=True,
        )
        thread.start()
        return runner

    def stop(self, subshell_id: str, runner: Runner) -> None:
        runner.stop()  # cancels what awaits; a cell blocked in synchronous code ends its thread when it returns


def _send_sigint() -> None:
    """An ``interrupt_request``: both interrupt modes end in the SIGINT handler, which decides what it means."""
    os.kill(os.getpid(), signal.SIGINT)


def _shutdown(main: Runner, aux: Runner, restart: bool) -> None:
    main.stop()
    aux.stop()
    watchdog = threading.Timer(SHUTDOWN_GRACE, _exit_now)
    watchdog.daemon = True
    watchdog.start()


def _exit_now() -> None:
    log.warning("The kernel did not exit within %.0f s of shutdown_request; exiting now", SHUTDOWN_GRACE)
    sys.__stderr__.flush()
    os._exit(0)
