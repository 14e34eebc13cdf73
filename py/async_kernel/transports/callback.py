"""The callback transport: JavaScript (a Pyodide Web Worker) hands messages in, a ``send`` callback takes them out.

The Pyodide host (:mod:`async_kernel.hosts.pyodide`) creates it around JavaScript's ``send`` and connects it
to the kernel; JavaScript then calls :meth:`CallbackTransport.handle_msg` for every message from the front end.

Messages are JSON text of a whole Jupyter message with a ``channel`` key; binary buffers travel beside
it (``Uint8Array`` in JavaScript, ``bytes`` here). ``send(msg_json, buffers, blocking)`` is called for
every outgoing message; ``blocking`` is true only for an ``input_request``, and then ``send`` must return
the ``input_reply`` message (JSON text) synchronously.
"""

from __future__ import annotations

import logging
import re
import sys
from array import array
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any

from ..protocol import CHANNELS, Channel, Message, RemoteProtocolError, dumps, loads

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
    try:
        return to_bytes() if to_bytes is not None else bytes(buffer)
    except (TypeError, ValueError) as exc:  # the front end's mistake: one log line, no traceback
        raise RemoteProtocolError(f"a buffer of type {type(buffer).__name__} is not binary data") from exc


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
    """Moves messages between JavaScript's ``send`` and the kernel's ``receive``; decodes and checks the envelope."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._receive: Callable[[str, dict[str, Any]], None] | None = None
        #: requests whose answers are not sent (see :meth:`quiet`): msg_id -> what to call once done
        self._quiet: dict[str, Callable[[], None] | None] = {}
        if sys.platform == "emscripten":
            from pyodide.ffi import to_js

            self._convert: Callable[[list[bytes]], Any] = to_js
        else:
            self._convert = list

    def connect(self, receive: Callable[[str, dict[str, Any]], None]) -> None:
        """Deliver every message :meth:`handle_msg` takes to ``receive(channel, msg)``."""
        self._receive = receive

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
        if self._quiet and self._quieted(msg):
            return
        self._send(text, buffers, False)

    def quiet(self, msg_id: str, done: Callable[[], None] | None = None) -> None:
        """Send nothing the kernel sends in answer to the request ``msg_id`` (the messages it is the parent
        of), up to and including its ``status: idle``; then call ``done()``. For requests the host makes
        itself: the kernel still encodes what it would send, only ``send`` is not called."""
        self._quiet[msg_id] = done

    def _quieted(self, msg: Message) -> bool:
        parent = msg["parent_header"].get("msg_id")
        if parent not in self._quiet:
            return False
        if msg["header"]["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
            done = self._quiet.pop(parent)
            if done is not None:
                done()
        return True

    def request_input(self, msg: Message) -> dict[str, Any]:
        text, buffers = self._encode("stdin", msg)
        reply = self._send(text, buffers, True)
        if not isinstance(reply, str):
            raise RemoteProtocolError("the front end answered an input_request with no message")
        return _decode(reply)  # the kernel checks it

    def handle_msg(self, msg: str | bytes, buffers: Iterable[Any] = ()) -> None:
        """Take one message from the front end. Returns at once and never raises.

        A message that cannot be decoded or routed is dropped, logged on the ``async_kernel`` logger with
        its type and id as far as they can be read, and the kernel goes on serving. A client's mistake
        (not JSON, nested too deeply, not an object, an unknown channel) is one error line; anything the
        kernel raises while taking a valid-looking message is a bug and is logged with its traceback.
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
            assert self._receive is not None, "handle_msg before connect"
            self._receive(channel, decoded)
        except Exception:
            log.exception("Dropped %s: the kernel failed to take it", _describe(decoded))
