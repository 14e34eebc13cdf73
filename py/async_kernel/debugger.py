"""The native debugger: the Jupyter debug protocol (``debug_request`` on control) served with debugpy.

The kernel hands each ``debug_request`` to :meth:`Debugger.handle` on its *aux* runner, so debug requests are
answered while the main thread runs a cell or is stopped at a breakpoint. The flow follows ipykernel's:

* ``initialize`` starts debugpy in-process (``debugpy.listen`` on 127.0.0.1, called on the main thread, whose
  cells are to be traced) and opens a TCP connection from the kernel to debugpy's adapter;
* requests are forwarded as Content-Length framed DAP messages; events come back as ``debug_event`` on iopub;
* cells are compiled under a file name made from a Murmur2 hash of their code in a temporary folder
  (``debugInfo`` tells the front end the method, seed, prefix and suffix), so a breakpoint set in a cell's
  dumped file (``dumpCell``) is hit when the cell runs;
* ``inspectVariables``, ``richInspectVariables``, ``debugInfo``, ``modules`` and ``dumpCell`` are answered
  here without debugpy; ``variables`` too while no thread is stopped (the user namespace).

debugpy is imported only on the first ``initialize``.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from importlib.util import find_spec
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiologic
import anyio

from . import context

if TYPE_CHECKING:
    from .interfaces import Publisher
    from .protocol import Message
    from .scheduler import Runner
    from .shell import KernelShell

log = logging.getLogger("async_kernel")

HASH_SEED = 0xC70F6907
#: seconds a request to debugpy, or starting debugpy, may take
TIMEOUT = 30.0
#: names of the user namespace no one wants in the variables panel
HIDDEN = frozenset(
    {"In", "Out", "get_ipython", "exit", "quit", "open", "_", "__", "___", "_oh", "_dh", "_ih", "_ii", "_iii"}
)
MAX_CHILDREN = 300


def murmur2(data: bytes, seed: int) -> int:
    """MurmurHash2 (32 bits) of ``data``: the hash JupyterLab computes to find a cell's file."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (seed ^ length) & mask
    whole = length & ~3
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        h = ((h * m) & mask) ^ ((k * m) & mask)
    rest = data[whole:]
    if rest:
        h ^= int.from_bytes(rest, "little")
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    return h ^ (h >> 15)


def cell_folder() -> Path:
    """Where this kernel's cells get their file names (one folder per process)."""
    return Path(tempfile.gettempdir()) / f"async_kernel_{os.getpid()}"


def cell_filename(code: str) -> str:
    """The file name a cell with this code is compiled under (and dumped to)."""
    return f"{cell_folder()}{os.sep}{murmur2(code.encode('utf-8'), HASH_SEED)}.py"


def native_debugger() -> Debugger | None:
    """A debugger for the native host, or None when debugpy is not installed."""
    return Debugger() if find_spec("debugpy") is not None else None


def _response(request: dict[str, Any], success: bool = True, **fields: Any) -> dict[str, Any]:
    return {
        "type": "response",
        "seq": 0,
        "request_seq": request.get("seq", 0),
        "command": request.get("command", ""),
        "success": success,
        **fields,
    }


def _quiet_thread(thread: threading.Thread) -> None:
    """Keep debugpy out of one of the kernel's own threads: it is neither traced nor suspended."""
    thread.pydev_do_not_trace = True  # type: ignore[attr-defined]
    thread.is_pydev_daemon_thread = True  # type: ignore[attr-defined]


def _quiet_kernel_threads() -> None:
    """The aux loop, the ZMQ threads, the history saver: a breakpoint must not stop them."""
    _quiet_thread(threading.current_thread())
    for thread in threading.enumerate():
        name = thread.name
        own = name.startswith("async-kernel") and not name.startswith("async-kernel-subshell")
        if own or name == "IPythonHistorySavingThread":
            _quiet_thread(thread)


class DapConnection:
    """A TCP connection to debugpy's adapter: Content-Length framed DAP messages, one reader thread.

    Requests get fresh sequence numbers; their responses are matched by ``request_seq``. Events go to
    ``on_event`` on the reader thread.
    """

    def __init__(self, address: tuple[str, int], on_event: Callable[[dict[str, Any]], None]) -> None:
        self._sock = socket.create_connection(address, timeout=TIMEOUT)
        self._sock.settimeout(None)
        self._on_event = on_event
        self._seq = count(1)
        self._pending: dict[int, list[Any]] = {}  # seq -> [event, response]
        self._lock = threading.Lock()
        self.closed = False
        reader = threading.Thread(target=self._read_loop, name="async-kernel-debugpy-reader", daemon=True)
        _quiet_thread(reader)
        reader.start()

    def send(self, message: dict[str, Any]) -> int:
        """Send a request (its ``seq`` is replaced); return its sequence number."""
        seq = next(self._seq)
        body = json.dumps({**message, "seq": seq}).encode("utf-8")
        waiter: list[Any] = [aiologic.Event(), None]
        self._pending[seq] = waiter
        with self._lock:
            self._sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return seq

    async def response(self, seq: int, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The response to the request ``seq`` (a failed response if the connection ends or time runs out)."""
        waiter = self._pending[seq]
        with anyio.move_on_after(timeout):
            await waiter[0]
        self._pending.pop(seq, None)
        if waiter[1] is None:
            return {"type": "response", "success": False, "message": "debugpy did not answer in time"}
        return waiter[1]

    async def request(self, message: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
        """Send a request and wait for its response; the response names the caller's ``seq``."""
        reply = await self.response(self.send(message), timeout)
        return {**reply, "request_seq": message.get("seq", 0), "command": message.get("command", "")}

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                buffer = self._take_messages(buffer)
        except OSError:
            pass
        finally:
            self.closed = True
            for waiter in list(self._pending.values()):
                waiter[1] = {"type": "response", "success": False, "message": "the connection to debugpy ended"}
                waiter[0].set()

    def _take_messages(self, buffer: bytes) -> bytes:
        """Dispatch every whole message in ``buffer``; return what is left."""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return buffer
            length = 0
            for line in buffer[:end].split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buffer) < end + 4 + length:
                return buffer
            self._dispatch(json.loads(buffer[end + 4 : end + 4 + length]))
            buffer = buffer[end + 4 + length :]

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == "response":
            waiter = self._pending.get(message.get("request_seq", -1))
            if waiter is not None:
                waiter[1] = message
                waiter[0].set()
        elif message.get("type") == "event":
            try:
                self._on_event(message)
            except Exception:
                log.exception("Could not handle the debug event %r", message.get("event"))


def _safe_repr(value: Any, limit: int = 1000) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _children(value: Any) -> list[tuple[str, str, Any]]:
    """(name, evaluate suffix, child) of a container or an object with attributes."""
    if isinstance(value, dict):
        items = list(value.items())[:MAX_CHILDREN]
        return [(_safe_repr(k, 100), f"[{_safe_repr(k, 100)}]", v) for k, v in items]
    if isinstance(value, list | tuple):
        return [(str(i), f"[{i}]", v) for i, v in enumerate(value[:MAX_CHILDREN])]
    if isinstance(value, set | frozenset):
        return [(str(i), "", v) for i, v in enumerate(list(value)[:MAX_CHILDREN])]
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict) and not isinstance(value, type):
        return [(k, f".{k}", v) for k, v in list(attributes.items())[:MAX_CHILDREN] if isinstance(k, str)]
    return []


def visible(name: str) -> bool:
    """Whether a name of the user namespace belongs in the variables panel."""
    if name in HIDDEN or (name.startswith("__") and name.endswith("__")):
        return False
    return not (name.startswith("_i") and name[2:].isdigit()) and not (name[:1] == "_" and name[1:].isdigit())


class VariableExplorer:
    """DAP variables of the user namespace while no thread is stopped; children by reference."""

    def __init__(self) -> None:
        self._refs: dict[int, Any] = {}
        self._ids = count(1)

    def reset(self, namespace: dict[str, Any]) -> list[dict[str, Any]]:
        self._refs = {}
        names = sorted(name for name in list(namespace) if isinstance(name, str) and visible(name))
        return [self._variable(name, name, namespace[name]) for name in names if name in namespace]

    def children(self, reference: int) -> list[dict[str, Any]]:
        if reference not in self._refs:
            return []
        parent_name, value = self._refs[reference]
        return [self._variable(name, parent_name + suffix, child) for name, suffix, child in _children(value)]

    def _variable(self, name: str, evaluate: str, value: Any) -> dict[str, Any]:
        reference = 0
        if _children(value):
            reference = next(self._ids)
            self._refs[reference] = (evaluate, value)
        return {
            "name": name,
            "value": _safe_repr(value),
            "type": type(value).__name__,
            "evaluateName": evaluate,
            "variablesReference": reference,
        }


class Debugger:
    """debugpy behind the Jupyter debug protocol. The kernel calls :meth:`attach` once, then :meth:`handle`
    for each ``debug_request`` (on its aux runner, one at a time)."""

    def __init__(self, just_my_code: bool = True) -> None:
        self.just_my_code = just_my_code
        self.started = False
        self.breakpoints: dict[str, list[dict[str, Any]]] = {}
        self.stopped_threads: set[int] = set()
        self.explorer = VariableExplorer()
        self._shell: KernelShell | None = None
        self._publisher: Publisher | None = None
        self._main: Runner | None = None
        self._address: tuple[str, int] | None = None
        self._connection: DapConnection | None = None
        self._initialized = aiologic.Event()
        self._configured = False
        self._parent: Message | None = None
        self._removed_transforms: list[tuple[int, Any]] = []

    def attach(self, shell: Any, publisher: Publisher, main: Runner) -> None:
        """Take the shell (its cells get file names from now on), where events go, and the main runner."""
        self._shell, self._publisher, self._main = shell, publisher, main
        shell.compile.name_cell = cell_filename

    async def handle(self, request: dict[str, Any], parent: Message) -> dict[str, Any]:
        """The ``debug_reply`` content for one DAP request."""
        command = request.get("command")
        if command in ("initialize", "attach"):
            self._parent = parent
        handler = getattr(self, f"_do_{command}", None) if isinstance(command, str) else None
        if handler is not None and (self.started or command in STATIC or command == "initialize"):
            return await handler(request)
        if not self.started:
            return _response(request, False, message="the debugger is not started (send 'initialize')")
        return await self._forward(request)

    async def _forward(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._connection is None or self._connection.closed:
            return _response(request, False, message="no connection to debugpy")
        return await self._connection.request(request)

    # -- events (on the connection's reader thread) ---------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        name, body = event.get("event"), event.get("body") or {}
        if name == "initialized":
            self._initialized.set()
        elif name == "stopped" and isinstance(body.get("threadId"), int):
            self.stopped_threads.add(body["threadId"])
        elif name == "continued":
            if body.get("allThreadsContinued", True):
                self.stopped_threads.clear()
            else:
                self.stopped_threads.discard(body.get("threadId"))
        self._publish(event)

    def _publish(self, event: dict[str, Any]) -> None:
        if self._publisher is None:
            return
        token = context.parent.set(self._parent)
        try:
            self._publisher.publish("debug_event", event)
        finally:
            context.parent.reset(token)

    # -- starting and stopping ------------------------------------------------------------------------
    async def _do_initialize(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._connection is not None and not self._connection.closed:
            return await self._forward(request)
        try:
            if self._address is None:
                self._address = await self._listen()
            self._initialized = aiologic.Event()
            self._configured = False
            self._connection = DapConnection(self._address, self._on_event)
        except Exception as exc:
            log.exception("Could not start debugpy")
            return _response(request, False, message=f"could not start debugpy: {exc}")
        cell_folder().mkdir(mode=0o700, parents=True, exist_ok=True)
        self._keep_leading_empty_lines()
        self.started = True
        return await self._forward(request)

    async def _listen(self) -> tuple[str, int]:
        """``debugpy.listen`` on the main thread (the thread whose cells are traced); waits for it there."""
        assert self._main is not None
        _quiet_kernel_threads()
        done, result = aiologic.Event(), []

        def listen() -> None:
            try:
                import debugpy

                debugpy.configure(subProcess=False)
                result.append(debugpy.listen(("127.0.0.1", 0)))
            except BaseException as exc:
                result.append(exc)
            finally:
                done.set()

        self._main.call_soon(listen)
        with anyio.move_on_after(TIMEOUT):
            await done
        if not result:
            raise TimeoutError("the main thread is busy (a cell is running); try again when it is idle")
        if isinstance(result[0], BaseException):
            raise result[0]
        host, port = result[0]
        return str(host), int(port)

    def _keep_leading_empty_lines(self) -> None:
        """IPython drops a cell's leading empty lines: keep them, so line numbers match the cell's."""
        from IPython.core.inputtransformer2 import leading_empty_lines

        assert self._shell is not None
        transforms = self._shell.input_transformer_manager.cleanup_transforms
        if leading_empty_lines in transforms:
            index = transforms.index(leading_empty_lines)
            self._removed_transforms.append((index, transforms.pop(index)))

    async def _do_disconnect(self, request: dict[str, Any]) -> dict[str, Any]:
        arguments = {**(request.get("arguments") or {}), "terminateDebuggee": False}  # never end the kernel
        reply = await self._forward({**request, "arguments": arguments})
        if self._connection is not None:
            if self._connection.closed:  # debugpy may end the connection instead of answering: disconnected
                reply = _response(request)
            self._connection.close()
        self._connection = None
        self.started = False
        self.breakpoints.clear()
        self.stopped_threads.clear()
        if self._shell is not None:
            for index, transform in reversed(self._removed_transforms):
                self._shell.input_transformer_manager.cleanup_transforms.insert(index, transform)
        self._removed_transforms.clear()
        return reply

    async def _do_attach(self, request: dict[str, Any]) -> dict[str, Any]:
        """Attach, then end debugpy's configuration phase at once (as ipykernel does): breakpoints sent later
        still apply, and the front end's own ``configurationDone`` is answered here."""
        assert self._connection is not None and self._address is not None
        arguments = dict(request.get("arguments") or {})
        arguments["connect"] = {"host": self._address[0], "port": self._address[1]}
        arguments.setdefault("justMyCode", self.just_my_code)
        if not arguments["justMyCode"]:
            arguments.setdefault("debugOptions", ["DebugStdLib"])
        arguments.setdefault("rules", [{"path": path, "include": False} for path in _kernel_files()])
        attach = self._connection.send({**request, "arguments": arguments})
        if not self._configured:
            with anyio.move_on_after(TIMEOUT):
                await self._initialized
            done = self._connection.send({"type": "request", "command": "configurationDone"})
            await self._connection.response(done)
            self._configured = True
        reply = await self._connection.response(attach)
        return {**reply, "request_seq": request.get("seq", 0)}

    async def _do_configurationDone(self, request: dict[str, Any]) -> dict[str, Any]:
        return _response(request)

    # -- cells and breakpoints --------------------------------------------------------------------------
    async def _do_dumpCell(self, request: dict[str, Any]) -> dict[str, Any]:
        code = (request.get("arguments") or {}).get("code", "")
        if not isinstance(code, str):
            return _response(request, False, message="'code' must be a string")
        path = Path(cell_filename(code))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
        return _response(request, body={"sourcePath": str(path)})

    async def _do_setBreakpoints(self, request: dict[str, Any]) -> dict[str, Any]:
        arguments = request.get("arguments") or {}
        path = (arguments.get("source") or {}).get("path")
        reply = await self._forward(request)
        if isinstance(path, str) and reply.get("success"):
            lines = [{"line": b["line"]} for b in reply.get("body", {}).get("breakpoints", []) if "line" in b]
            self.breakpoints[path] = lines
            if not lines:
                del self.breakpoints[path]
        return reply

    async def _do_source(self, request: dict[str, Any]) -> dict[str, Any]:
        path = ((request.get("arguments") or {}).get("source") or {}).get("path")
        if isinstance(path, str) and Path(path).is_file():
            return _response(request, body={"content": Path(path).read_text(encoding="utf-8")})
        return _response(request, False, message="source unavailable", body={})

    async def _do_debugInfo(self, request: dict[str, Any]) -> dict[str, Any]:
        body = {
            "isStarted": self.started,
            "hashMethod": "Murmur2",
            "hashSeed": HASH_SEED,
            "tmpFilePrefix": f"{cell_folder()}{os.sep}",
            "tmpFileSuffix": ".py",
            "breakpoints": [{"source": path, "breakpoints": lines} for path, lines in self.breakpoints.items()],
            "stoppedThreads": sorted(self.stopped_threads),
            "richRendering": True,
            "exceptionPaths": ["Python Exceptions"],
            "copyToGlobals": True,
        }
        return _response(request, body=body)

    # -- variables --------------------------------------------------------------------------------------
    async def _do_inspectVariables(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._shell is not None
        return _response(request, body={"variables": self.explorer.reset(self._shell.user_ns)})

    async def _do_variables(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.stopped_threads:
            reference = (request.get("arguments") or {}).get("variablesReference", 0)
            return _response(request, body={"variables": self.explorer.children(int(reference))})
        reply = await self._forward(request)
        body = reply.get("body") or {}
        if isinstance(body.get("variables"), list):
            body["variables"] = [v for v in body["variables"] if visible(str(v.get("name", "")))]
        return reply

    async def _do_richInspectVariables(self, request: dict[str, Any]) -> dict[str, Any]:
        arguments = request.get("arguments") or {}
        name = arguments.get("variableName", "")
        if not isinstance(name, str) or not name.isidentifier():
            return _response(request, body={"data": {}, "metadata": {}})
        if self.stopped_threads and "frameId" in arguments:
            data, metadata = await self._rich_in_frame(name, arguments["frameId"])
        else:
            data, metadata = self._rich_in_namespace(name)
        metadata = {key: value for key, value in metadata.items() if key in data}
        return _response(request, body={"data": data, "metadata": metadata})

    def _rich_in_namespace(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        assert self._shell is not None
        result = self._shell.user_expressions({name: name})[name]
        if result.get("status") != "ok":
            return {}, {}
        return result.get("data", {}), result.get("metadata", {})

    async def _rich_in_frame(self, name: str, frame_id: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The display formatter's output for ``name`` in a stopped frame, evaluated there by debugpy."""
        expression = f"__import__('json').dumps(get_ipython().display_formatter.format({name}), default=str)"
        reply = await self._forward(
            {
                "type": "request",
                "command": "evaluate",
                "arguments": {"expression": expression, "frameId": frame_id, "context": "clipboard"},
            }
        )
        if not reply.get("success"):
            return {}, {}
        try:
            data, metadata = json.loads(ast.literal_eval(reply["body"]["result"]))
        except (ValueError, SyntaxError, TypeError, KeyError):
            return {}, {}
        return data, metadata

    async def _do_copyToGlobals(self, request: dict[str, Any]) -> dict[str, Any]:
        arguments = request.get("arguments") or {}
        source, target = arguments.get("srcVariableName", ""), arguments.get("dstVariableName", "")
        if not all(isinstance(name, str) and name.isidentifier() for name in (source, target)):
            return _response(request, False, message="variable names must be identifiers")
        forward = {
            **request,
            "command": "setExpression",
            "arguments": {
                "expression": f"globals()[{target!r}]",
                "value": source,
                "frameId": arguments.get("srcFrameId"),
            },
        }
        reply = await self._forward(forward)
        return {**reply, "command": "copyToGlobals"}

    async def _do_modules(self, request: dict[str, Any]) -> dict[str, Any]:
        arguments = request.get("arguments") or {}
        modules = list(sys.modules.items())
        start = int(arguments.get("startModule", 0))
        stop = start + int(arguments.get("moduleCount", len(modules)))
        found = []
        for index, (name, module) in enumerate(modules[start:stop], start):
            origin = getattr(getattr(module, "__spec__", None), "origin", None)
            if isinstance(origin, str) and origin.endswith(".py"):
                found.append({"id": index, "name": name, "path": origin})
        return _response(request, body={"modules": found, "totalModules": len(modules)})


#: requests answered before ``initialize`` too (they need no debugpy)
STATIC = frozenset({"debugInfo", "inspectVariables", "richInspectVariables", "modules", "dumpCell", "source"})


def _kernel_files() -> list[str]:
    """The kernel's own source files: stepping never enters them."""
    return sorted(str(path) for path in Path(__file__).parent.rglob("*.py"))
