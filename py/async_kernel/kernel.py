"""The kernel core: routes requests to queues, runs their handlers, and publishes results.

It does no I/O. A transport hands it messages through :meth:`Kernel.receive` and it answers through the
transport's :meth:`Transport.send`. Scheduling rules (see :mod:`async_kernel.scheduler`):

* ``execute_request`` runs on the *main* runner, one at a time per subshell, in order;
* ``comm_open`` / ``comm_msg`` / ``comm_close`` run on the main runner in their own queue, so a cell that
  awaits something a comm message sets does not deadlock;
* ``complete``, ``inspect``, ``is_complete``, ``history``, ``kernel_info``, ``comm_info``, ``interrupt`` and
  ``shutdown`` each have their own queue on the *aux* runner. Natively that runner is another thread with its
  own loop, so these are answered while the main thread is blocked in a synchronous call; in Pyodide both
  runners are the same loop.

Every request is wrapped in ``status: busy`` and ``status: idle`` messages whose parent is the request.
After an execute fails with ``stop_on_error``, every execute of that subshell that arrived before the
failure is answered ``aborted``.
"""

from __future__ import annotations

import logging
import math
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import aiologic
import anyio

from . import context
from ._version import __version__
from .protocol import (
    PROTOCOL_VERSION,
    Channel,
    Message,
    RemoteProtocolError,
    Session,
    error_content,
    reply_type,
    validate,
)
from .scheduler import Runner

if TYPE_CHECKING:
    from comm.base_comm import CommManager

    from .shell import KernelShell
    from .streams import OutStream

log = logging.getLogger("async_kernel")


class Transport(Protocol):
    """What the core needs from a transport."""

    def send(self, channel: Channel, msg: Message) -> None:
        """Send ``msg`` on ``channel``. Must be thread-safe and must not block on the network."""

    def request_input(self, msg: Message) -> Message:
        """Send an ``input_request`` on stdin and block until its ``input_reply`` arrives."""

    def call_later(self, delay: float, func: Callable[[], None]) -> None:
        """Call ``func()`` after ``delay`` seconds, from any thread; used to flush coalesced output."""


@dataclass
class KernelSettings:
    """Settings of a kernel; the command line and the Pyodide entry point fill them."""

    #: event loop of the main runner natively: ``asyncio`` or ``trio``
    backend: Literal["asyncio", "trio"] = "asyncio"
    #: seconds a write to stdout/stderr may wait before it is sent (coalescing window)
    output_interval: float = 0.05
    #: use jedi for completion (richer, much slower); the default is IPython's own completer
    use_jedi: bool = False


_MAIN, _AUX = "main", "aux"

#: msg_type -> (runner, queue, handler method). Anything else: the aux runner's "unknown" queue.
ROUTES: dict[str, tuple[str, str, str]] = {
    "execute_request": (_MAIN, "execute", "_execute"),
    "comm_open": (_MAIN, "comm", "_comm"),
    "comm_msg": (_MAIN, "comm", "_comm"),
    "comm_close": (_MAIN, "comm", "_comm"),
    "complete_request": (_AUX, "complete", "_complete"),
    "inspect_request": (_AUX, "inspect", "_inspect"),
    "is_complete_request": (_AUX, "is_complete", "_is_complete"),
    "history_request": (_AUX, "history", "_history"),
    "kernel_info_request": (_AUX, "kernel_info", "_kernel_info"),
    "comm_info_request": (_AUX, "comm_info", "_comm_info"),
    "interrupt_request": (_AUX, "interrupt", "_interrupt"),
    "shutdown_request": (_AUX, "shutdown", "_shutdown"),
}
_UNKNOWN = (_AUX, "unknown", "_unknown")

Handler = Callable[[Message, float, tuple[Any, ...]], Awaitable[dict[str, Any] | None]]


def _describe(msg: Any) -> str:
    """A message's type and id for a log line, as far as they can be read (shortened, never raising)."""
    header = msg.get("header") if isinstance(msg, dict) else None
    if not isinstance(header, dict):
        return "no header"
    shown = [
        repr(value[:60]) if isinstance(value, str) else f"of type {type(value).__name__}"
        for value in (header.get("msg_type"), header.get("msg_id"))
    ]
    return f"msg_type {shown[0]}, msg_id {shown[1]}"


def _ipython_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # slow to import: only when asked

    try:
        return version("ipython")
    except PackageNotFoundError:  # pragma: no cover
        return "?"


class Kernel:
    """The transport-free kernel. See the module docstring for its guarantees."""

    def __init__(
        self,
        transport: Transport,
        settings: KernelSettings | None = None,
        *,
        main: Runner,
        aux: Runner,
        session: Session | None = None,
        interrupt: Callable[[], None] | None = None,
        shutdown: Callable[[bool], None] | None = None,
    ) -> None:
        self.transport = transport
        self.settings = settings or KernelSettings()
        self.session = session or Session()
        self._runners = {_MAIN: main, _AUX: aux}
        self._interrupt_hook = interrupt or self.interrupt
        self._shutdown_hook = shutdown
        self._abort_before: dict[Any, float] = {}
        self._running: dict[Any, anyio.CancelScope] = {}
        self._shell_ready = aiologic.Event()
        self._run_code: CodeType | None = None  # InteractiveShell.run_code, once IPython is imported
        self.shell: KernelShell | None = None
        self.comm_manager: CommManager | None = None
        self.streams: list[OutStream] = []

    # -- start-up ----------------------------------------------------------------------------------
    def start_shell(self, **shell_kwargs: Any) -> KernelShell:
        """Import IPython, create the shell, take over stdout/stderr and comms. Call on the main thread."""
        from . import comm
        from .shell import KernelShell, load_profile
        from .streams import OutStream

        streams = []
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            try:
                fileno: int | None = original.fileno()
            except (AttributeError, OSError, ValueError):
                fileno = None
            stream = OutStream(
                name,
                self._publish_stream,
                self.transport.call_later,
                interval=self.settings.output_interval,
                fileno=fileno,
            )
            setattr(sys, name, stream)
            streams.append(stream)
        self.streams = streams
        self.comm_manager = comm.install(self)
        profile = load_profile()
        if sys.platform == "emscripten":
            # No threads in Pyodide: IPython's history-saving thread cannot start (it logs a traceback
            # and falls back to memory). Start in memory; the browser's file system is in memory too.
            profile["config"].HistoryManager.hist_file = ":memory:"
            # No subprocesses either: %%bash, %%script and friends cannot run, and building their
            # parsers is half the shell's start-up time there.
            profile["config"].ScriptMagics.script_magics = []
        self._run_code = KernelShell.run_code.__code__
        shell = KernelShell.instance(kernel=self, **{**profile, **shell_kwargs})
        shell.Completer.use_jedi = self.settings.use_jedi
        shell.run_startup_files()
        self.shell = shell
        self._shell_ready.set()
        return shell

    # -- incoming ----------------------------------------------------------------------------------
    def receive(self, channel: str, msg: Any) -> None:
        """Take one decoded message from a transport. Never raises; bad input is logged."""
        arrived = time.monotonic()
        try:
            msg = validate(msg)
        except RemoteProtocolError as exc:
            log.error("Dropped a malformed %s message (%s): %s", channel, _describe(msg), exc)
            return
        msg_type = msg["header"]["msg_type"]
        runner_name, queue, method = ROUTES.get(msg_type, _UNKNOWN)
        key = (channel, queue, msg["header"].get("subshell_id"))
        handler: Handler = getattr(self, method)
        self._runners[runner_name].submit(key, partial(self._serve, channel, msg, arrived, key, handler))

    async def _serve(self, channel: str, msg: Message, arrived: float, key: tuple[Any, ...], handler: Handler) -> None:
        """Run one request between ``busy`` and ``idle``; whatever happens, the client gets both and a reply."""
        token = context.parent.set(msg)
        msg_type = msg["header"]["msg_type"]
        try:
            self._status("busy", msg)
            try:
                content = await handler(msg, arrived, key)
            except RemoteProtocolError as exc:  # the client's mistake: no kernel traceback in the log
                log.error("Bad %s: %s", msg_type, exc)
                content = self._error_reply(msg_type, exc)
            except Exception as exc:
                log.exception("Error handling %s", msg_type)
                content = self._error_reply(msg_type, exc)
            except KeyboardInterrupt as exc:  # landed in kernel code around a cell: the cell was interrupted
                log.warning("An interrupt escaped the code of a %s", msg_type)
                content = self._error_reply(msg_type, exc)
            self._flush_streams_safely()
            if content is not None:
                self._reply(channel, msg, content)
        finally:
            try:
                self._status("idle", msg)
            finally:
                context.parent.reset(token)

    def _error_reply(self, msg_type: str, exc: BaseException) -> dict[str, Any]:
        content = error_content(exc)
        if msg_type == "execute_request" and self.shell is not None:
            content["execution_count"] = self.shell.execution_count
        return content

    def _reply(self, channel: str, request: Message, content: dict[str, Any]) -> None:
        msg_type = reply_type(request["header"]["msg_type"])
        try:
            self.transport.send(channel, self._reply_msg(msg_type, request, content))  # type: ignore[arg-type]
        except Exception as exc:  # content the wire cannot carry (say, a value a user expression made)
            log.exception("Could not send the %s to %s", msg_type, request["header"]["msg_id"])
            self.transport.send(channel, self._reply_msg(msg_type, request, error_content(exc)))  # type: ignore[arg-type]

    def _reply_msg(self, msg_type: str, request: Message, content: dict[str, Any]) -> Message:
        reply = self.session.msg(msg_type, content, request)
        reply["idents"] = request.get("idents", [])
        if "status" in content:
            reply["metadata"]["status"] = content["status"]
        return reply

    def _flush_streams_safely(self) -> None:
        try:
            self.flush_streams()
        except Exception:
            log.exception("Could not publish buffered output")

    # -- outgoing ----------------------------------------------------------------------------------
    def _status(self, state: str, parent: Message) -> None:
        self.transport.send("iopub", self.session.msg("status", {"execution_state": state}, parent))

    def flush_streams(self) -> None:
        for stream in self.streams:
            stream.flush_now()

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
    ) -> None:
        """Publish on iopub for the current request, after any output written before it."""
        self.flush_streams()
        self.transport.send("iopub", self.session.msg(msg_type, content, context.current_parent(), metadata, buffers))

    def _publish_stream(self, name: str, text: str, parent: Message | None) -> None:
        self.transport.send("iopub", self.session.msg("stream", {"name": name, "text": text}, parent))

    def get_parent(self) -> dict[str, Any]:
        """The current request (ipywidgets' Output widget reads it)."""
        return dict(context.current_parent() or {})

    def request_input(self, prompt: str, password: bool) -> str:
        """Ask the front end for a line of input; blocks the calling thread."""
        self.flush_streams()  # what was printed before the prompt shows before it
        parent = context.current_parent()
        request = self.session.msg("input_request", {"prompt": prompt, "password": password}, parent)
        if parent is not None:  # a client's stdin socket has the identity of its shell socket
            request["idents"] = parent.get("idents", [])
        reply = validate(self.transport.request_input(request))
        value = reply["content"].get("value")
        if not isinstance(value, str):
            raise RemoteProtocolError("input_reply without a string 'value'")
        return value

    # -- interrupt ---------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Cancel every execute that is awaiting. Call on the main runner's loop."""
        shell = self.shell
        for scope in list(self._running.values()):
            if shell is not None:
                shell.interrupted = True
            scope.cancel()

    def on_sigint(self, frame: FrameType | None) -> bool:
        """Decide what SIGINT means now; return True if the caller should raise KeyboardInterrupt.

        When a cell's code is running synchronously on the main thread (``time.sleep``, a loop,
        ``input()``) the signal raises KeyboardInterrupt in it. Otherwise the main loop is idle or a cell
        is awaiting: the awaiting execute is cancelled, and shown as interrupted. Before the shell exists
        (start-up) there is nothing to interrupt. Safe at any moment: it imports nothing and only queues work.
        """
        run_code = self._run_code
        if run_code is None:
            return False
        while frame is not None:
            if frame.f_code is run_code:
                return True
            frame = frame.f_back
        self._runners[_MAIN].call_soon(self.interrupt)
        return False

    # -- handlers ----------------------------------------------------------------------------------
    async def _get_shell(self) -> KernelShell:
        if self.shell is None:
            await self._shell_ready
        assert self.shell is not None
        return self.shell

    async def _execute(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        shell = await self._get_shell()
        content = msg["content"]
        if arrived <= self._abort_before.get(key, -math.inf):
            return {"status": "aborted", "execution_count": shell.execution_count}
        code = content.get("code", "")
        if not isinstance(code, str):
            raise RemoteProtocolError("execute_request 'code' must be a string")
        silent = bool(content.get("silent", False))
        store_history = bool(content.get("store_history", not silent)) and not silent
        context.set_last_execute(msg)
        if not silent:
            self.publish("execute_input", {"code": code, "execution_count": shell.execution_count})
        from .shell import allow_stdin

        stdin_token = allow_stdin.set(bool(content.get("allow_stdin", True)))
        started = time.monotonic()
        try:
            with anyio.CancelScope() as scope:
                self._running[key] = scope
                try:
                    result = await shell.run_cell_concurrently(
                        code,
                        silent=silent,
                        store_history=store_history,
                        cell_id=msg["metadata"].get("cellId"),
                    )
                finally:
                    del self._running[key]
        finally:
            allow_stdin.reset(stdin_token)
        self.flush_streams()
        count = result.execution_count if result.execution_count is not None else shell.execution_count
        reply: dict[str, Any] = {"execution_count": count}
        error = result.error_before_exec or result.error_in_exec
        if error is not None or scope.cancelled_caught:
            name = type(error).__name__ if error is not None else "KeyboardInterrupt"
            if shell.interrupted:
                name = "KeyboardInterrupt"
            reply.update(
                status="error",
                ename=name,
                evalue="" if name == "KeyboardInterrupt" else str(error),
                traceback=shell.last_traceback,
            )
            if content.get("stop_on_error", True):
                self._abort_before[key] = time.monotonic()
            log.debug("execute failed after %.3fs: %s", time.monotonic() - started, name)
        else:
            expressions = content.get("user_expressions") or {}
            reply.update(
                status="ok",
                user_expressions=shell.user_expressions(expressions) if expressions else {},
                payload=shell.payload_manager.read_payload(),
            )
        shell.payload_manager.clear_payload()
        return reply

    async def _comm(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> None:
        await self._get_shell()
        manager = self.comm_manager
        assert manager is not None
        getattr(manager, msg["header"]["msg_type"])(None, None, msg)
        return None

    async def _complete(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        shell = await self._get_shell()
        code, cursor = self._code_cursor(msg)
        return shell.complete_request(code, cursor)

    async def _inspect(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        shell = await self._get_shell()
        code, cursor = self._code_cursor(msg)
        return shell.inspect_request(code, cursor, int(msg["content"].get("detail_level", 0)))

    async def _is_complete(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        shell = await self._get_shell()
        return shell.is_complete_request(str(msg["content"].get("code", "")))

    async def _history(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        shell = await self._get_shell()
        return shell.history_request(msg["content"])

    async def _comm_info(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        await self._get_shell()
        assert self.comm_manager is not None
        target = msg["content"].get("target_name")
        comms = {
            comm_id: {"target_name": comm.target_name}
            for comm_id, comm in list(self.comm_manager.comms.items())
            if target is None or comm.target_name == target
        }
        return {"status": "ok", "comms": comms}

    async def _kernel_info(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        return self.kernel_info()

    def kernel_info(self) -> dict[str, Any]:
        """The ``kernel_info_reply`` content; needs no shell, so it is answered during start-up."""
        py = platform.python_version()
        return {
            "status": "ok",
            "protocol_version": PROTOCOL_VERSION,
            "implementation": "async-kernel",
            "implementation_version": __version__,
            "language_info": {
                "name": "python",
                "version": py,
                "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
                "pygments_lexer": "ipython3",
                "nbconvert_exporter": "python",
                "file_extension": ".py",
            },
            "banner": f"Python {sys.version}\nIPython {_ipython_version()} on async-kernel {__version__}"
            f" ({self.settings.backend})\n",
            "help_links": [
                {"text": "Python Reference", "url": "https://docs.python.org/3/"},
                {"text": "IPython Reference", "url": "https://ipython.readthedocs.io/en/stable/"},
            ],
            "debugger": False,
        }

    async def _interrupt(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        self._interrupt_hook()
        return {"status": "ok"}

    async def _shutdown(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any]:
        restart = bool(msg["content"].get("restart", False))
        if self._shutdown_hook is not None:
            # the hook runs once the reply and the idle status are out
            self._runners[_AUX].call_soon(partial(self._shutdown_hook, restart))
        return {"status": "ok", "restart": restart}

    async def _unknown(self, msg: Message, arrived: float, key: tuple[Any, ...]) -> dict[str, Any] | None:
        msg_type = msg["header"]["msg_type"]
        log.warning("Unknown message type %r", msg_type)
        if not msg_type.endswith("_request"):
            return None
        return error_content(RemoteProtocolError(f"unknown message type {msg_type!r}"))

    @staticmethod
    def _code_cursor(msg: Message) -> tuple[str, int]:
        content = msg["content"]
        code = content.get("code", "")
        if not isinstance(code, str):
            raise RemoteProtocolError("'code' must be a string")
        cursor = content.get("cursor_pos")
        return code, len(code) if cursor is None else int(cursor)
