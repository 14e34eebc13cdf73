"""Run the native kernel: ZMQ transport, main loop on the main thread, helper loop on another thread."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import anyio

from . import interrupts
from .kernel import Kernel, KernelSettings
from .scheduler import Runner
from .transports.zmq import ZmqTransport

log = logging.getLogger("async_kernel")

#: how long a shutdown may take (the main thread blocked in user code, an exit handler waiting on a lock) before
#: the process exits anyway, with status 0. jupyter_client sends SIGTERM after half its shutdown_wait_time (5 s):
#: stay below that, so that a requested shutdown always ends cleanly.
SHUTDOWN_GRACE = 2.0


def run(connection_file: str | os.PathLike[str], settings: KernelSettings) -> None:
    """Serve the kernel described by ``connection_file`` until a ``shutdown_request``."""
    info = json.loads(Path(connection_file).read_text())
    transport = ZmqTransport(info)
    main, aux = Runner("main"), Runner("aux")

    def interrupt() -> None:
        # Both interrupt modes end here: the SIGINT handler decides what the signal means right now.
        os.kill(os.getpid(), signal.SIGINT)

    def shutdown(restart: bool) -> None:
        main.stop()
        aux.stop()
        watchdog = threading.Timer(SHUTDOWN_GRACE, _exit_now)
        watchdog.daemon = True
        watchdog.start()

    kernel = Kernel(transport, settings, main=main, aux=aux, interrupt=interrupt, shutdown=shutdown)

    interrupts.install_sigint_handler(kernel.on_sigint)
    transport.start(kernel)
    aux_thread = threading.Thread(target=anyio.run, args=(aux.run,), name="async-kernel-aux", daemon=True)
    aux_thread.start()
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    kernel.start_shell()
    try:
        anyio.run(main.run, backend=settings.backend)
    finally:
        kernel.flush_streams()
        transport.close()
        aux_thread.join(1.0)


def _exit_now() -> None:
    log.warning("The kernel did not exit within %.0f s of shutdown_request; exiting now", SHUTDOWN_GRACE)
    sys.__stderr__.flush()
    os._exit(0)
