"""The callback transport: JavaScript (a Pyodide Web Worker) hands messages in, a ``send`` callback takes them out.

JavaScript calls :func:`start` once, on Pyodide's event loop, and keeps the returned :class:`CallbackKernel`::

    kernel = start(send, settings)
    kernel.handle_msg(msg_json, buffers)   # for every message from the front end; returns at once
    kernel.interrupt()                     # cancel an awaiting cell
    kernel.stop()

Messages are JSON text of a whole Jupyter message with a ``channel`` key; binary buffers travel beside
it (``Uint8Array`` in JavaScript, ``bytes`` here). ``send(msg_json, buffers, blocking)`` is called for
every outgoing message; ``blocking`` is true only for an ``input_request``, and then ``send`` must return
the ``input_reply`` message (JSON text) synchronously.

Everything runs on the one event loop that calls in: there are no threads, so the kernel's main and aux
runners are one runner, whose per-queue tasks let comm messages and completions through while a cell
awaits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Mapping
from itertools import accumulate
from typing import Any

from .. import interrupts
from ..kernel import Kernel, KernelSettings
from ..protocol import CHANNELS, Channel, Message, RemoteProtocolError, dumps, loads
from ..scheduler import Runner

log = logging.getLogger("async_kernel")

Send = Callable[[str, Any, bool], Any]

#: The deepest nesting of arrays and objects taken from the front end. Inside Pyodide the json module does not
#: raise RecursionError on deep nesting: it overflows the JavaScript stack, a fatal error that kills the
#: interpreter (Pyodide 314 under Node.js 20: between 5,000 and 10,000 levels, and between 2,000 and 5,000 for
#: ``repr``; fewer where the stack is smaller). CPython's json module (until 3.13) and orjson stop near 1,000 too.
MAX_DEPTH = 1000

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 for an opening bracket, -1 closing
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _to_bytes(buffer: Any) -> bytes:
    to_bytes = getattr(buffer, "to_bytes", None)  # a JsProxy of a typed array
    return to_bytes() if to_bytes is not None else bytes(buffer)


def _too_deep(msg: str | bytes) -> bool:
    """Whether the arrays and objects of JSON text nest deeper than :data:`MAX_DEPTH`, valid JSON or not.

    Without parsing, in time linear in the text: one count for nearly every message; only one with more
    brackets than the limit has its strings cut out and the running depth of its brackets added up.
    """
    if isinstance(msg, str):
        data = msg.encode("utf-8", "surrogatepass")
    elif isinstance(msg, bytes | bytearray | memoryview):
        data = bytes(msg)
    else:  # not text at all: the parser says so
        return False
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return False
    steps = _JSON_STRING.sub(b"", data).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(array("b", steps)), default=0) > MAX_DEPTH


def _decode(msg: str | bytes) -> dict[str, Any]:
    """The message as a dict; :class:`RemoteProtocolError` for anything that is not a JSON object.

    Nesting deeper than :data:`MAX_DEPTH` is refused before the parser sees it.
    """
    if _too_deep(msg):
        raise RemoteProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        decoded = loads(msg)
    except RecursionError as exc:  # the standard json module (CPython before 3.14) on deep nesting
        raise RemoteProtocolError("JSON nested too deeply") from exc
    except (ValueError, TypeError) as exc:
        raise RemoteProtocolError(f"not JSON text: {exc}") from exc
    if not isinstance(decoded, dict):
        raise RemoteProtocolError("a message must be a JSON object")
    return decoded


def _channel(decoded: dict[str, Any]) -> str:
    """Remove and return the ``channel`` key (``shell`` when absent); iopub is the kernel's to send on."""
    channel = decoded.pop("channel", "shell")
    if not isinstance(channel, str) or channel not in CHANNELS or channel == "iopub":
        shown = repr(channel[:80]) if isinstance(channel, str) else f"of type {type(channel).__name__}"
        raise RemoteProtocolError(f"unknown channel {shown}")
    return channel


def _describe(decoded: Any) -> str:
    """``a <msg_type> message <msg_id>`` for a log line, with what the header lets us read.

    Only strings are shown, shortened and escaped (``repr``), so that no value (huge, nested, lone
    surrogates) can make the log line itself fail.
    """
    header = decoded.get("header") if isinstance(decoded, dict) else None
    if not isinstance(header, dict):
        return "a message"
    msg_type, msg_id = header.get("msg_type"), header.get("msg_id")
    text = f"a {msg_type[:80]!r} message" if isinstance(msg_type, str) else "a message"
    return f"{text} {msg_id[:80]!r}" if isinstance(msg_id, str) else text


class CallbackTransport:
    """Implements the core's transport interface on top of a ``send`` callable."""

    def __init__(self, send: Send, loop: asyncio.AbstractEventLoop) -> None:
        self._send = send
        self._loop = loop
        if sys.platform == "emscripten":
            from pyodide.ffi import to_js

            self._convert: Callable[[list[bytes]], Any] = to_js
        else:
            self._convert = list

    def _encode(self, channel: str, msg: Message) -> tuple[str, Any]:
        wire = {
            "channel": channel,
            "header": msg["header"],
            "parent_header": msg["parent_header"],
            "metadata": msg["metadata"],
            "content": msg["content"],
        }
        buffers = [bytes(b) for b in msg.get("buffers", [])]
        return dumps(wire).decode(), self._convert(buffers)

    def send(self, channel: Channel, msg: Message) -> None:
        text, buffers = self._encode(channel, msg)
        self._send(text, buffers, False)

    def request_input(self, msg: Message) -> Message:
        text, buffers = self._encode("stdin", msg)
        reply = self._send(text, buffers, True)
        if not isinstance(reply, str):
            raise RemoteProtocolError("the front end answered an input_request with no message")
        return _decode(reply)  # type: ignore[return-value]  # Kernel.request_input validates it

    def call_later(self, delay: float, func: Callable[[], None]) -> None:
        self._loop.call_later(delay, func)


class CallbackKernel:
    """What :func:`start` returns to JavaScript."""

    def __init__(self, kernel: Kernel, runner: Runner, task: asyncio.Task[None]) -> None:
        self.kernel = kernel
        self._runner = runner
        self._task = task

    def handle_msg(self, msg: str | bytes, buffers: Iterable[Any] = ()) -> None:
        """Take one message from the front end. Returns at once and never raises.

        A message that cannot be decoded or routed is dropped, logged on the ``async_kernel`` logger with
        its type and id as far as they can be read, and the kernel goes on serving. A client's mistake
        (not JSON, nested too deeply, not an object, an unknown channel) is one error line; anything the
        kernel core raises while taking a valid-looking message is a bug and is logged with its traceback.
        """
        decoded: Any = None
        try:
            decoded = _decode(msg)
            channel = _channel(decoded)
            decoded["buffers"] = [_to_bytes(b) for b in (buffers or ())]
        except RemoteProtocolError as exc:
            log.error("Dropped %s from the front end: %s", _describe(decoded), exc)
            return
        except Exception:
            log.exception("Dropped %s from the front end: could not decode it", _describe(decoded))
            return
        if channel == "stdin":
            log.warning("Ignored %s: a stdin message outside an input request", _describe(decoded))
            return
        try:
            self.kernel.receive(channel, decoded)
        except Exception:
            log.exception("Dropped %s: the kernel failed to take it", _describe(decoded))

    def interrupt(self) -> None:
        """Cancel the cell that is awaiting, if any."""
        self.kernel.interrupt()

    def stop(self) -> None:
        """Stop serving; pending requests are dropped."""
        self._runner.stop()


def start(send: Send, settings: Mapping[str, Any] | Any = None) -> CallbackKernel:
    """Create the kernel and serve it on the running event loop; see the module docstring."""
    options: dict[str, Any] = dict(settings.to_py() if hasattr(settings, "to_py") else (settings or {}))
    for name, value in dict(options.get("env") or {}).items():
        os.environ[str(name)] = str(value)
    if options.get("cwd"):
        os.chdir(options["cwd"])
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    kernel_settings = KernelSettings(
        output_interval=float(options.get("output_interval", KernelSettings.output_interval)),
        use_jedi=bool(options.get("use_jedi", KernelSettings.use_jedi)),
    )
    if not logging.getLogger().handlers:  # logs (ours, comm's) go to the worker's console, not a cell's stderr
        logging.basicConfig(stream=sys.__stderr__, format="[async-kernel %(levelname)s] %(name)s: %(message)s")
    loop = asyncio.get_event_loop()
    runner = Runner("pyodide")
    transport = CallbackTransport(send, loop)
    kernel = Kernel(transport, kernel_settings, main=runner, aux=runner, shutdown=lambda restart: runner.stop())
    kernel.start_shell()
    if sys.platform == "emscripten":  # (under CPython the test runner's own SIGINT handling stays)
        # The worker's interrupt buffer ends in Python's SIGINT handler: raise KeyboardInterrupt only in a
        # cell's code, never in the kernel's, and never inside a critical section.
        interrupts.install_sigint_handler(kernel.on_sigint)
    task = loop.create_task(runner.run())
    return CallbackKernel(kernel, runner, task)
