"""The kernel core: routes requests to queues, runs their handlers, and publishes results.

It does no I/O. A transport hands it messages through :meth:`Kernel.receive` and it answers through the
transport's :meth:`Transport.send`. Scheduling rules (see :mod:`async_kernel.scheduler`):

* ``execute_request`` runs on the *main* runner, one at a time per subshell, in order;
* ``comm_open`` / ``comm_msg`` / ``comm_close`` run on the main runner in their own queue, so a cell that
  awaits something a comm message sets does not deadlock;
* ``complete``, ``inspect``, ``is_complete``, ``history``, ``kernel_info``, ``comm_info``, ``interrupt`` and
  ``shutdown`` each have their own queue on the *aux* runner. Natively that runner is another thread with its
  own loop, so these are answered while the main thread is blocked in a synchronous call; in Pyodide both
  runners are the same loop;
* subshells (JEP 91): ``create_subshell_request`` / ``delete_subshell_request`` / ``list_subshell_request``
  on the aux runner; an execute whose header names a subshell runs on that subshell's runner (natively a
  thread of its own, see :class:`Subshells`), in order within the subshell; one naming a subshell that does
  not exist gets an error reply. Comm messages stay on the main runner whatever subshell they name
  (JupyterLab sends them on one): widget callbacks run on the cells' loop, where the ``asyncio.Event`` a
  cell awaits may be set safely;
* ``debug_request`` (the Jupyter debug protocol) has its own queue on the aux runner, so it is answered while
  a cell runs or is stopped at a breakpoint; the host passes the :class:`Debugger` (natively: debugpy's, see
  :mod:`async_kernel.debugger`); without one, ``kernel_info`` says ``debugger: false``.

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
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import aiologic
import anyio

from . import context
from ._version import __version__
from .interfaces import Cell, Comms, InputUnavailable, Publisher, Shell
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
    from .streams import OutStream

log = logging.getLogger("async_kernel")


class Transport(Protocol):
    """What the core needs from a transport: moving messages, nothing else."""

    def send(self, channel: Channel, msg: Message) -> None:
        """Send ``msg`` on ``channel``. Must be thread-safe and must not block on the network."""

    def request_input(self, msg: Message) -> Any:
        """Send an ``input_request`` on stdin and block until a reply arrives; return it (decoded, unchecked)."""


class Subshells(Protocol):
    """Where the executes and comm messages of a subshell (JEP 91) run; the host decides."""

    def start(self, subshell_id: str) -> Runner:
        """A runner for a new subshell (natively: a thread with its own loop)."""

    def stop(self, subshell_id: str, runner: Runner) -> None:
        """End a deleted subshell: cancel what runs or waits on it."""


class Debugger(Protocol):
    """Serves the Jupyter debug protocol (DAP requests inside ``debug_request``); the host provides it."""

    def attach(self, shell: Shell, publisher: Publisher, main: Runner) -> None:
        """Take the shell (before its first cell), where ``debug_event`` goes, and the runner of cells."""

    async def handle(self, request: dict[str, Any], parent: Message) -> dict[str, Any]:
        """The ``debug_reply`` content for the DAP request ``request`` (the content of ``parent``)."""


class SharedLoopSubshells:
    """Subshells on the main runner (Pyodide's one loop): each has its own queues, so a cell that awaits in
    one does not hold up the others; a cell that blocks holds up all of them."""

    def __init__(self, main: Runner) -> None:
        self._main = main

    def start(self, subshell_id: str) -> Runner:
        return self._main

    def stop(self, subshell_id: str, runner: Runner) -> None:
        runner.drop(lambda key: isinstance(key, tuple) and key[-1] == subshell_id)


@dataclass
class KernelSettings:
    """Settings of a kernel; the command line and the Pyodide entry point fill them."""

    #: event loop of the main runner natively: ``asyncio`` or ``trio``
    backend: Literal["asyncio", "trio"] = "asyncio"
    #: seconds a write to stdout/stderr may wait before it is sent (coalescing window)
    output_interval: float = 0.05
    #: use jedi for completion (richer, much slower); the default is IPython's own completer
    use_jedi: bool = False


@dataclass(frozen=True)
class Request:
    """One request as a handler sees it: the message, its channel, when it arrived and the queue it waited in."""

    channel: str
    msg: Message
    arrived: float
    queue: tuple[str, str, str | None]  # (channel, queue name, subshell id)

    @property
    def msg_type(self) -> str:
        return self.msg["header"]["msg_type"]

    @property
    def content(self) -> dict[str, Any]:
        return self.msg["content"]

    def code_and_cursor(self) -> tuple[str, int]:
        """``code`` and ``cursor_pos`` of a completion or inspection request (the cursor defaults to the end)."""
        code = self.content.get("code", "")
        if not isinstance(code, str):
            raise RemoteProtocolError("'code' must be a string")
        cursor = self.content.get("cursor_pos")
        return code, len(code) if cursor is None else int(cursor)


Handler = Callable[["Kernel", Request], Awaitable[dict[str, Any] | None]]


class Route(NamedTuple):
    """Where a message type is served: which runner (``main`` or ``aux``), which queue, which handler."""

    runner: Literal["main", "aux"]
    queue: str
    handler: Handler


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


@cache
def _ipython_version() -> str:
    """IPython's version for the banner: the module's once it is imported, else its metadata's.

    Reading the metadata lists every folder of ``sys.path``, the current one included: in the
    browser that is the JupyterLite drive, one request per file. Without IPython imported (a
    ``kernel_info_request`` before the shell is attached), importing it just for this is slower.
    """
    imported = getattr(sys.modules.get("IPython"), "__version__", None)  # None while importing
    if isinstance(imported, str):
        return imported
    from importlib.metadata import PackageNotFoundError, version  # slow to import: only when asked

    try:
        return version("ipython")
    except PackageNotFoundError:  # pragma: no cover
        return "?"


class Kernel:
    """The transport-free kernel. See the module docstring for its guarantees.

    The host that runs it creates the shell and the comm manager and hands them over with :meth:`attach`;
    until then every request that needs the shell waits, and ``kernel_info_request`` is answered at once.
    """

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
        subshells: Subshells | None = None,
        debugger: Debugger | None = None,
    ) -> None:
        self.transport = transport
        self.settings = settings or KernelSettings()
        self.session = session or Session()
        self.runners = {"main": main, "aux": aux}
        self._subshell_host = subshells or SharedLoopSubshells(main)
        #: subshell id -> the runner of its executes and comm messages
        self.subshells: dict[str, Runner] = {}
        self._interrupt_hook = interrupt or self.interrupt
        self._shutdown_hook = shutdown
        self._abort_before: dict[Any, float] = {}
        self._running: dict[Any, tuple[Runner, anyio.CancelScope]] = {}
        self._attached = aiologic.Event()
        self.shell: Shell | None = None
        self.comms: Comms | None = None
        #: serves debug_request (None: no debugger, as in Pyodide)
        self.debugger = debugger
        #: output streams flushed before every other message of a request (the host sets them)
        self.streams: list[OutStream] = []

    def attach(self, shell: Shell, comms: Comms) -> None:
        """Take the shell that runs cells and the comm manager; requests waiting for them go on."""
        self.shell, self.comms = shell, comms
        if self.debugger is not None:
            self.debugger.attach(shell, self, self.runners["main"])
        self._attached.set()

    # -- incoming ----------------------------------------------------------------------------------
    def receive(self, channel: str, msg: Any) -> None:
        """Take one decoded message from a transport. Never raises; bad input is logged."""
        arrived = time.monotonic()
        try:
            msg = validate(msg)
        except RemoteProtocolError as exc:
            log.error("Dropped a malformed %s message (%s): %s", channel, _describe(msg), exc)
            return
        route = ROUTES.get(msg["header"]["msg_type"], UNKNOWN)
        subshell = msg["header"].get("subshell_id")
        runner = self.runners[route.runner]
        if route.queue == "execute" and subshell is not None:
            found = self.subshells.get(subshell)
            if found is None:
                route = Route("aux", "unknown_subshell", Kernel.unknown_subshell)
            runner = found or self.runners["aux"]
        request = Request(channel, msg, arrived, (channel, route.queue, subshell))
        runner.submit(request.queue, partial(self._serve, request, route.handler))

    async def _serve(self, request: Request, handler: Handler) -> None:
        """Run one request between ``busy`` and ``idle``; whatever happens, the client gets both and, for a
        ``*_request``, a reply. Other messages (comm messages) get none, even when their handler fails."""
        token = context.parent.set(request.msg)
        try:
            self._status("busy", request.msg)
            content = await self._handle(request, handler)
            self._flush_streams_safely()
            if content is not None and request.msg_type.endswith("_request"):
                self._reply(request, content)
        finally:
            try:
                self._status("idle", request.msg)
            finally:
                context.parent.reset(token)

    async def _handle(self, request: Request, handler: Handler) -> dict[str, Any] | None:
        """The handler's reply content, or an error reply for whatever it raised."""
        try:
            return await handler(self, request)
        except RemoteProtocolError as exc:  # the client's mistake: no kernel traceback in the log
            log.error("Bad %s: %s", request.msg_type, exc)
            return self._error_reply(request, exc)
        except Exception as exc:
            log.exception("Error handling %s", request.msg_type)
            return self._error_reply(request, exc)
        except KeyboardInterrupt as exc:  # landed in kernel code around a cell: the cell was interrupted
            log.warning("An interrupt escaped the code of a %s", request.msg_type)
            return self._error_reply(request, exc)

    def _error_reply(self, request: Request, exc: BaseException) -> dict[str, Any]:
        content = error_content(exc)
        if request.msg_type == "execute_request" and self.shell is not None:
            content["execution_count"] = self.shell.execution_count
        return content

    def _reply(self, request: Request, content: dict[str, Any]) -> None:
        msg_type = reply_type(request.msg_type)
        channel: Channel = request.channel  # type: ignore[assignment]
        try:
            self.transport.send(channel, self._reply_msg(msg_type, request.msg, content))
        except Exception as exc:  # content the wire cannot carry (say, a value a user expression made)
            log.exception("Could not send the %s to %s", msg_type, request.msg["header"]["msg_id"])
            self.transport.send(channel, self._reply_msg(msg_type, request.msg, error_content(exc)))

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

    # -- outgoing (the Publisher interface of the shell and the comms) -----------------------------
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

    def publish_stream(self, name: str, text: str, parent: Message | None) -> None:
        """Publish text written to ``stdout`` or ``stderr`` (what :class:`OutStream` calls)."""
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
        if reply["header"]["msg_type"] != "input_reply":
            raise RemoteProtocolError(f"expected an input_reply, got a {reply['header']['msg_type']!r}")
        if reply["content"].get("status") == "error":
            raise InputUnavailable(str(reply["content"].get("evalue") or "the front end cannot take input"))
        value = reply["content"].get("value")
        if not isinstance(value, str):
            raise RemoteProtocolError("input_reply without a string 'value'")
        return value

    # -- interrupt ---------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Cancel every execute that is awaiting, in every subshell. Thread-safe."""
        for runner, scope in list(self._running.values()):
            if self.shell is not None:
                self.shell.interrupt()
            runner.call_soon(scope.cancel)

    # -- handlers ----------------------------------------------------------------------------------
    async def _shell(self) -> Shell:
        if self.shell is None:
            await self._attached
        assert self.shell is not None
        return self.shell

    async def execute_request(self, request: Request) -> dict[str, Any]:
        shell = await self._shell()
        if request.arrived <= self._abort_before.get(request.queue, -math.inf):
            return {"status": "aborted", "execution_count": shell.execution_count}
        cell = Cell.from_request(request.msg)
        context.set_last_execute(request.msg)
        if not cell.silent:
            self.publish("execute_input", {"code": cell.code, "execution_count": shell.execution_count})
        outcome = None
        with anyio.CancelScope() as scope:
            self._running[request.queue] = (self._runner_of(request), scope)
            try:
                outcome = await shell.run(cell)
            finally:
                del self._running[request.queue]
        self.flush_streams()
        if outcome is None:  # cancelled before the shell could end the cell itself
            outcome = shell.interrupted_outcome()
        if outcome.failed and cell.stop_on_error:
            self._abort_before[request.queue] = time.monotonic()
        return outcome.reply()

    async def comm_message(self, request: Request) -> None:
        await self._shell()
        assert self.comms is not None
        getattr(self.comms, request.msg_type)(None, None, request.msg)

    async def complete_request(self, request: Request) -> dict[str, Any]:
        shell = await self._shell()
        return shell.complete_request(*request.code_and_cursor())

    async def inspect_request(self, request: Request) -> dict[str, Any]:
        shell = await self._shell()
        detail = int(request.content.get("detail_level", 0))
        return shell.inspect_request(*request.code_and_cursor(), detail)

    async def is_complete_request(self, request: Request) -> dict[str, Any]:
        shell = await self._shell()
        return shell.is_complete_request(str(request.content.get("code", "")))

    async def history_request(self, request: Request) -> dict[str, Any]:
        shell = await self._shell()
        return shell.history_request(request.content)

    async def comm_info_request(self, request: Request) -> dict[str, Any]:
        await self._shell()
        assert self.comms is not None
        target = request.content.get("target_name")
        comms = {
            comm_id: {"target_name": comm.target_name}
            for comm_id, comm in list(self.comms.comms.items())
            if target is None or comm.target_name == target
        }
        return {"status": "ok", "comms": comms}

    async def kernel_info_request(self, request: Request) -> dict[str, Any]:
        return self.kernel_info()

    def kernel_info(self) -> dict[str, Any]:
        """The ``kernel_info_reply`` content; needs no shell, so it is answered during start-up."""
        return {
            "status": "ok",
            "protocol_version": PROTOCOL_VERSION,
            "implementation": "async-kernel",
            "implementation_version": __version__,
            "language_info": {
                "name": "python",
                "version": platform.python_version(),
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
            "debugger": self.debugger is not None,
            "supported_features": ["kernel subshells", *(["debugger"] if self.debugger is not None else [])],
        }

    async def debug_request(self, request: Request) -> dict[str, Any]:
        await self._shell()
        if self.debugger is None:
            raise RemoteProtocolError("this kernel has no debugger")
        return await self.debugger.handle(request.content, request.msg)

    async def interrupt_request(self, request: Request) -> dict[str, Any]:
        self._interrupt_hook()
        return {"status": "ok"}

    async def shutdown_request(self, request: Request) -> dict[str, Any]:
        restart = bool(request.content.get("restart", False))
        if self._shutdown_hook is not None:
            # the hook runs once the reply and the idle status are out
            self.runners["aux"].call_soon(partial(self._shutdown_hook, restart))
        return {"status": "ok", "restart": restart}

    def _runner_of(self, request: Request) -> Runner:
        subshell = request.msg["header"].get("subshell_id")
        return self.runners["main"] if subshell is None else self.subshells[subshell]

    # -- subshells (JEP 91) ------------------------------------------------------------------------
    async def create_subshell_request(self, request: Request) -> dict[str, Any]:
        subshell_id = uuid.uuid4().hex
        self.subshells[subshell_id] = self._subshell_host.start(subshell_id)
        return {"status": "ok", "subshell_id": subshell_id}

    async def delete_subshell_request(self, request: Request) -> dict[str, Any]:
        subshell_id = request.content.get("subshell_id")
        runner = self.subshells.pop(subshell_id, None) if isinstance(subshell_id, str) else None
        if runner is None:
            raise RemoteProtocolError(f"no subshell with id {subshell_id!r}")
        self._subshell_host.stop(subshell_id, runner)
        return {"status": "ok"}

    async def list_subshell_request(self, request: Request) -> dict[str, Any]:
        return {"status": "ok", "subshell_id": list(self.subshells)}

    async def unknown_subshell(self, request: Request) -> dict[str, Any] | None:
        subshell_id = request.msg["header"].get("subshell_id")
        log.warning("A %s for subshell %r, which does not exist", request.msg_type, subshell_id)
        return error_content(RemoteProtocolError(f"no subshell with id {subshell_id!r}"))

    async def unknown_message(self, request: Request) -> dict[str, Any] | None:
        log.warning("Unknown message type %r", request.msg_type)
        if not request.msg_type.endswith("_request"):
            return None
        return error_content(RemoteProtocolError(f"unknown message type {request.msg_type!r}"))


#: msg_type -> where it is served. Anything else: the aux runner's "unknown" queue.
ROUTES: dict[str, Route] = {
    "execute_request": Route("main", "execute", Kernel.execute_request),
    "comm_open": Route("main", "comm", Kernel.comm_message),
    "comm_msg": Route("main", "comm", Kernel.comm_message),
    "comm_close": Route("main", "comm", Kernel.comm_message),
    "complete_request": Route("aux", "complete", Kernel.complete_request),
    "inspect_request": Route("aux", "inspect", Kernel.inspect_request),
    "is_complete_request": Route("aux", "is_complete", Kernel.is_complete_request),
    "history_request": Route("aux", "history", Kernel.history_request),
    "kernel_info_request": Route("aux", "kernel_info", Kernel.kernel_info_request),
    "comm_info_request": Route("aux", "comm_info", Kernel.comm_info_request),
    "interrupt_request": Route("aux", "interrupt", Kernel.interrupt_request),
    "debug_request": Route("aux", "debug", Kernel.debug_request),
    "shutdown_request": Route("aux", "shutdown", Kernel.shutdown_request),
    "create_subshell_request": Route("aux", "subshells", Kernel.create_subshell_request),
    "delete_subshell_request": Route("aux", "subshells", Kernel.delete_subshell_request),
    "list_subshell_request": Route("aux", "subshells", Kernel.list_subshell_request),
}
UNKNOWN = Route("aux", "unknown", Kernel.unknown_message)
