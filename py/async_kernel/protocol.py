"""Jupyter messaging protocol 5.4: message shapes, construction and (de)serialization.

Rules this module keeps:

* A message is a dict with ``header``, ``parent_header``, ``metadata``, ``content`` and ``buffers``.
  Transports may attach routing data under ``idents`` (ZMQ identities), which the core carries from a
  request to its replies without looking at it.
* Dates are ISO 8601 strings; they are never parsed.
* Anything a client sends that does not fit is a :class:`RemoteProtocolError`: the kernel logs it or
  answers with an error, and keeps serving.
"""

from __future__ import annotations

import itertools
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

PROTOCOL_VERSION = "5.4"

Channel = Literal["shell", "control", "stdin", "iopub"]
CHANNELS: frozenset[str] = frozenset({"shell", "control", "stdin", "iopub"})


class Header(TypedDict):
    msg_id: str
    msg_type: str
    session: str
    username: str
    date: str
    version: str
    subshell_id: NotRequired[str | None]


class Message(TypedDict):
    header: Header
    parent_header: dict[str, Any]
    metadata: dict[str, Any]
    content: dict[str, Any]
    buffers: list[bytes | memoryview]
    idents: NotRequired[list[bytes]]


class RemoteProtocolError(ValueError):
    """A message from a client breaks the protocol (bad JSON, missing fields, ...)."""


#: what parsing hostile JSON may raise: bad syntax or encoding (ValueError), nesting deeper than the parser's
#: recursion limit (RecursionError; orjson reports that as a ValueError)
PARSE_ERRORS = (ValueError, RecursionError)

_COMPACT_BELOW = 1 << 16


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: the standard library's parser, refusing NaN and Infinity as orjson does
_strict = json.JSONDecoder(parse_constant=_refuse_constant)

try:  # orjson is several times faster; the standard library is the fallback
    import orjson

    def dumps(obj: Any) -> bytes:
        """Serialize to UTF-8 JSON bytes (see :func:`_dumps_fallback` for what orjson refuses)."""
        try:
            data = orjson.dumps(obj, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # lone surrogates, integers beyond 64 bits, nesting deeper than 254
            return _dumps_fallback(obj)
        # orjson's bytes keep their whole write buffer (4 KiB even for b"{}"): a message waiting to be sent
        # would hold 16 KiB. A copy of a small result costs less than a microsecond.
        return bytes(memoryview(data)) if len(data) < _COMPACT_BELOW else data

    def loads(data: bytes | bytearray | memoryview | str) -> Any:
        """Parse JSON bytes or text (integers beyond 64 bits come back as floats, as JavaScript reads them)."""
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            # orjson refuses a lone surrogate's escape ("\ud800"), which dumps writes and JSON.stringify sends:
            # the standard library reads it. Text that is not JSON fails there too.
            return _strict.decode(data if isinstance(data, str) else bytes(data).decode("utf-8"))

except ImportError:  # pragma: no cover - exercised where orjson is absent (Pyodide)
    _encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=lambda o: _json_default(o))

    def dumps(obj: Any) -> bytes:
        """Serialize to UTF-8 JSON bytes (see :func:`_dumps_fallback` for what this fast path refuses)."""
        try:
            return _encoder.encode(obj).encode()
        except ValueError:  # NaN or infinity (UnicodeEncodeError, for lone surrogates, is a ValueError too)
            return _dumps_fallback(obj)

    def loads(data: bytes | bytearray | memoryview | str) -> Any:
        """Parse JSON bytes or text."""
        return _strict.decode(data if isinstance(data, str) else bytes(data).decode("utf-8"))


_ascii_encoder = json.JSONEncoder(ensure_ascii=True, allow_nan=False, default=lambda o: _json_default(o))


def _dumps_fallback(obj: Any) -> bytes:
    """The slow path for values the fast one refuses; the output is always strict JSON.

    Lone surrogates (which Python strings may hold, e.g. decoded from a ``\\ud800`` escape) are written as
    escapes, not-a-number and infinities as ``null`` (as orjson does), big integers as they are. Nesting
    deeper than the interpreter's recursion limit still raises (RecursionError).
    """
    try:
        return _ascii_encoder.encode(obj).encode()
    except ValueError:
        return _ascii_encoder.encode(_finite(obj)).encode()


def _finite(obj: Any) -> Any:
    """``obj`` with every float that is not finite replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(value) for value in obj]
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, bytes | bytearray | memoryview):
        import base64

        return base64.b64encode(obj).decode()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return repr(obj)


def now() -> str:
    """The current time as the protocol's ISO 8601 date string (UTC)."""
    return datetime.now(UTC).isoformat()


class Session:
    """Identity stamped on every message the kernel sends."""

    __slots__ = ("_ids", "session", "username")

    def __init__(self, session: str | None = None, username: str | None = None) -> None:
        self.session = session or uuid.uuid4().hex
        self.username = username or "kernel"
        # msg_ids: unique per session, cheaper than a uuid4 for each of the ~4 messages of every request
        self._ids = itertools.count(1)

    def header(self, msg_type: str) -> Header:
        return {
            "msg_id": f"{self.session}_{next(self._ids)}",
            "msg_type": msg_type,
            "session": self.session,
            "username": self.username,
            "date": now(),
            "version": PROTOCOL_VERSION,
        }

    def msg(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: Message | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes | memoryview] | None = None,
    ) -> Message:
        """Build a message; with ``parent`` its header becomes the parent header."""
        msg: Message = {
            "header": self.header(msg_type),
            "parent_header": dict(parent["header"]) if parent else {},
            "metadata": metadata if metadata is not None else {},
            "content": content,
            "buffers": buffers if buffers is not None else [],
        }
        return msg


_REQUIRED_HEADER = ("msg_id", "msg_type")
_OPTIONAL_HEADER = ("session", "username", "date", "version")


def validate(msg: Any) -> Message:
    """Check that a decoded message has the shape the kernel relies on; fill optional parts.

    Raises :class:`RemoteProtocolError` naming what is wrong. A header that passes can be sent back as
    the parent header of replies: its standard fields are strings (``subshell_id`` a string or null) and
    the whole of it serializes.
    """
    if not isinstance(msg, dict):
        raise RemoteProtocolError(f"a message must be a JSON object, not {type(msg).__name__}")
    header = msg.get("header")
    if not isinstance(header, dict):
        raise RemoteProtocolError("message has no 'header' object")
    for key in _REQUIRED_HEADER:
        if not isinstance(header.get(key), str) or not header[key]:
            raise RemoteProtocolError(f"message header lacks a string {key!r}")
    for key in _OPTIONAL_HEADER:
        value = header.setdefault(key, "" if key != "version" else PROTOCOL_VERSION)
        if not isinstance(value, str):
            raise RemoteProtocolError(f"message header {key!r} must be a string, not {type(value).__name__}")
    subshell = header.get("subshell_id")
    if subshell is not None and not isinstance(subshell, str):
        kind = type(subshell).__name__
        raise RemoteProtocolError(f"message header 'subshell_id' must be a string or null, not {kind}")
    try:
        dumps(header)
    except (ValueError, TypeError, RecursionError) as exc:
        raise RemoteProtocolError(f"message header cannot be echoed back in replies: {exc}") from None
    for key in ("parent_header", "metadata", "content"):
        value = msg.get(key)
        if value is None:
            msg[key] = {}
        elif not isinstance(value, dict):
            raise RemoteProtocolError(f"message {key!r} must be a JSON object")
    msg.setdefault("buffers", [])
    return msg  # type: ignore[return-value]


def reply_type(msg_type: str) -> str:
    """``execute_request`` -> ``execute_reply``; anything else gets ``_reply`` appended."""
    base = msg_type.removesuffix("_request")
    return f"{base}_reply"


def error_content(exc: BaseException, traceback: list[str] | None = None) -> dict[str, Any]:
    """Reply content for a failed request."""
    return {
        "status": "error",
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": traceback if traceback is not None else [],
    }
