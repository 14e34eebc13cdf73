"""What both hosts do to a process: take over its output streams and create the shell (IPython) and the comms."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..protocol import Session
from ..streams import OutStream

if TYPE_CHECKING:
    from traitlets.config import Config

    from ..kernel import Kernel
    from ..shell import KernelShell

Clock = Callable[[float, Callable[[], Any]], None]


def session() -> Session:
    """The identity the kernel stamps on its messages: a fresh session id, the user's name."""
    return Session(username=os.environ.get("USER", "kernel"))


def capture_output(kernel: Kernel, clock: Clock) -> list[OutStream]:
    """Replace ``sys.stdout`` and ``sys.stderr`` by streams that publish through ``kernel``.

    ``clock(delay, func)`` calls ``func`` later on some event loop: it flushes coalesced output, so it must
    keep running while a cell blocks the main thread (natively: the aux runner's thread).
    """
    streams = []
    for name in ("stdout", "stderr"):
        original = getattr(sys, name)
        try:
            fileno: int | None = original.fileno()
        except (AttributeError, OSError, ValueError):
            fileno = None
        stream = OutStream(name, kernel.publish_stream, clock, interval=kernel.settings.output_interval, fileno=fileno)
        setattr(sys, name, stream)
        streams.append(stream)
    kernel.streams = streams
    return streams


def start_shell(kernel: Kernel, configure: Callable[[Config], None] | None = None) -> KernelShell:
    """Import IPython, create the shell and the comm manager with the user's profile, attach them to ``kernel``.

    ``configure`` may change the profile's configuration first. Call on the main thread.
    """
    from .. import comm
    from ..shell import KernelShell, load_profile

    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    install_threading(kernel)
    comms = comm.install(kernel)
    profile = load_profile()
    if configure is not None:
        configure(profile["config"])
    shell = KernelShell.instance(publisher=kernel, **profile)
    shell.Completer.use_jedi = kernel.settings.use_jedi
    shell.run_startup_files()
    kernel.attach(shell, comms)
    return shell


def install_threading(kernel: Kernel) -> None:
    """What threads need, process-wide: they inherit the context of the code that starts them (their output
    goes to the cell that started them), :mod:`async_kernel.from_thread` targets the kernel's main runner,
    and (where there are threads) ``asyncio.run()``/``trio.run()`` in a cell run on a helper thread."""
    from .. import context, from_thread, nested

    context.inherit_in_threads()
    main = kernel.runners["main"]
    from_thread.set_runner(main)
    if sys.platform == "emscripten":
        return

    def in_cell_thread() -> bool:
        return main.in_loop_thread() or any(runner.in_loop_thread() for runner in list(kernel.subshells.values()))

    nested.install(in_cell_thread, trio=kernel.settings.backend == "trio")
