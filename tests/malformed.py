"""Malformed and hostile Jupyter messages, shared by the fault tests of both transports.

The ZMQ fuzz tests (``tests/python/test_fuzz.py``) sign these parts and send them as frames; the callback
transport's tests (``tests/pyodide/test_callback.py``, under CPython and inside Pyodide) join them into the
one JSON text JavaScript hands in (:func:`whole_message`). Only the standard library is used, so the module
runs inside Pyodide too.

A :class:`Case` keeps the four JSON parts of a message (header, parent header, metadata, content) as raw
bytes, so that invalid JSON, NaN literals and nesting too deep for any parser are representable. No case is a
``shutdown_request`` (a client that asks for a shutdown gets one), and no case runs code that blocks (no
``input()``, no sleeps): the kernel must answer a health check right after any batch.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: requests a front end sends, with content that is valid for them
TEMPLATES: dict[str, dict[str, Any]] = {
    "execute_request": {"code": "1", "silent": False, "store_history": True, "user_expressions": {}},
    "complete_request": {"code": "pri", "cursor_pos": 3},
    "inspect_request": {"code": "print", "cursor_pos": 5, "detail_level": 0},
    "is_complete_request": {"code": "for i in x:"},
    "history_request": {"hist_access_type": "tail", "n": 3, "raw": True, "output": False},
    "kernel_info_request": {},
    "comm_info_request": {"target_name": "fuzz"},
    "comm_open": {"comm_id": "fuzz-comm", "target_name": "fuzz-target", "data": {}},
    "comm_msg": {"comm_id": "fuzz-comm", "data": {"x": 1}},
    "comm_close": {"comm_id": "fuzz-comm", "data": {}},
    "interrupt_request": {},
    "frobnicate_request": {},
}

#: code the fuzzer may run: errors and odd text, never anything that blocks
CODES = [
    "",
    "1",
    "pass",
    "1/0",
    "def f(:",
    "x = 1\nx",
    "print('fuzz')",
    "'\\ud800'",
    "import asyncio\nawait asyncio.sleep(0)",
    "%time 1",
    "a" * 50_000,
    "\ud800",
    "\x00",
]

DEEP = 100_000  # deeper than the standard json module's recursion limit
HEADER_FIELDS = ("msg_id", "msg_type", "session", "username", "date", "version", "subshell_id")


@dataclass(frozen=True)
class Case:
    """One message: a name saying what is wrong with it, its channel, its JSON parts and buffers."""

    name: str
    channel: str
    parts: tuple[bytes, bytes, bytes, bytes]
    buffers: tuple[bytes, ...] = field(default=(), repr=False)


def header(msg_type: str, session: str = "fuzz", **extra: Any) -> dict[str, Any]:
    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": "fuzz",
        "date": "2026-01-01T00:00:00+00:00",
        "version": "5.4",
        **extra,
    }


def _json(obj: Any) -> bytes:
    # the standard library writes NaN/Infinity literals and lone surrogates as escapes: both hostile on purpose
    return json.dumps(obj).encode()


def _case(name: str, hdr: Any, content: Any = None, *, channel: str = "shell", **kw: Any) -> Case:
    parts = (
        hdr if isinstance(hdr, bytes) else _json(hdr),
        kw.get("parent", b"{}"),
        kw.get("metadata", b"{}"),
        content if isinstance(content, bytes) else _json({} if content is None else content),
    )
    return Case(name, channel, parts, tuple(kw.get("buffers", ())))


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    """JSON text of ``depth`` nested arrays."""
    return b"[" * depth + leaf + b"]" * depth


def _odd_values() -> list[tuple[str, Any]]:
    return [
        ("int", 7),
        ("float", 1.5),
        ("bool", True),
        ("null", None),
        ("list", []),
        ("dict", {}),
        ("empty", ""),
        ("long", "x" * 100_000),
        ("nan", float("nan")),
        ("bigint", 10**40),
        ("surrogate", "\ud800"),
    ]


def fixed_cases(session: str = "fuzz") -> list[Case]:
    """Every kind of malformation, once each (about 200 cases)."""
    cases: list[Case] = []
    good = header("kernel_info_request", session)
    # parts that are not JSON, or not JSON objects
    for index, label in enumerate(("header", "parent", "metadata", "content")):
        for bad_name, bad in (
            ("invalid-json", b"{not json"),
            ("not-utf8", b"\xff\xfe\x00"),
            ("empty", b""),
            ("array", b"[1, 2]"),
            ("string", b'"text"'),
            ("number", b"12"),
            ("null", b"null"),
            ("deep", nested(DEEP)),
            ("deep-300", nested(300)),
            ("deep-2000", nested(2000)),
            ("nan-literal", b'{"a": NaN, "b": -Infinity}'),
            ("huge-int", b'{"a": ' + b"9" * 5000 + b"}"),
        ):
            parts = [_json(good), b"{}", b"{}", b"{}"]
            parts[index] = bad
            cases.append(Case(f"{label}-{bad_name}", "shell", (parts[0], parts[1], parts[2], parts[3])))
    # every header field missing, or of a wrong type
    for name in HEADER_FIELDS:
        if name != "subshell_id":
            cases.append(_case(f"header-without-{name}", {k: v for k, v in good.items() if k != name}))
        for label, value in _odd_values():
            for msg_type in ("kernel_info_request", "execute_request", "comm_msg"):
                hdr = {**header(msg_type, session), name: value}
                cases.append(_case(f"header-{name}-{label}-{msg_type}", hdr, TEMPLATES[msg_type]))
    # values nested deeper than a serializer allows, where the kernel echoes them (the parent header)
    for depth in (300, 2000, DEEP):
        hdr = _json(good)[:-1] + b', "extra": ' + nested(depth) + b"}"
        cases.append(_case(f"header-extra-nested-{depth}", hdr))
        cases.append(_case(f"execute-code-nested-{depth}", header("execute_request", session), nested(depth)))
    # wrong types in every field of every request's content
    for msg_type, content in TEMPLATES.items():
        for key in content:
            for label, value in _odd_values():
                cases.append(_case(f"{msg_type}-{key}-{label}", header(msg_type, session), {**content, key: value}))
        cases.append(_case(f"{msg_type}-empty-content", header(msg_type, session), {}))
    for code in CODES:
        cases.append(_case(f"execute-code-{code[:12]!r}", header("execute_request", session), {"code": code}))
    # unknown, reply-like and wrong-channel message types
    for msg_type in ("frobnicate", "", "x" * 10_000, "execute_reply", "status", "stream", "input_reply"):
        cases.append(_case(f"type-{msg_type[:12]!r}", header(msg_type, session)))
    for msg_type in ("execute_request", "comm_msg", "complete_request", "input_reply", "frobnicate_request"):
        cases.append(
            _case(f"control-{msg_type}", header(msg_type, session), TEMPLATES.get(msg_type), channel="control")
        )
    # buffers: huge, many, on a request that takes none
    cases.append(_case("huge-buffer", header("comm_msg", session), TEMPLATES["comm_msg"], buffers=[b"\0" * (32 << 20)]))
    cases.append(_case("many-buffers", header("kernel_info_request", session), buffers=[b"b"] * 1000))
    # odd parent headers and metadata (copied around, never trusted)
    for label, value in _odd_values():
        cases.append(_case(f"parent-{label}", good, parent=_json({"msg_id": value})))
        cases.append(
            _case(
                f"metadata-cellId-{label}",
                header("execute_request", session),
                {"code": "1"},
                metadata=_json({"cellId": value}),
            )
        )
    return cases


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """``value`` with one field somewhere replaced, removed or retyped."""
    if isinstance(value, dict) and value and depth < 3 and rng.random() < 0.6:
        key = rng.choice(list(value))
        out = dict(value)
        choice = rng.random()
        if choice < 0.2:
            del out[key]
        else:
            out[key] = _mutate(value[key], rng, depth + 1)
        return out
    return rng.choice([*_odd_values(), ("code", rng.choice(CODES)), ("nested", [[[[{}]]]])])[1]


def random_cases(count: int, seed: int, session: str = "fuzz") -> Iterator[Case]:
    """``count`` cases made by mutating valid requests (deterministic for a seed)."""
    rng = random.Random(seed)
    types = list(TEMPLATES)
    for index in range(count):
        msg_type = rng.choice(types)
        hdr: Any = header(msg_type, session)
        content: Any = dict(TEMPLATES[msg_type])
        if msg_type == "execute_request":
            content["code"] = rng.choice(CODES)
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.4:
                hdr = _mutate(hdr, rng)
            else:
                content = _mutate(content, rng)
        parts = [_json(hdr), b"{}", b"{}", _json(content)]
        if rng.random() < 0.1:  # corrupt the bytes themselves
            part = rng.randrange(4)
            raw = bytearray(parts[part])
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            parts[part] = bytes(raw[: rng.randrange(len(raw) + 1)])
        channel = "control" if rng.random() < 0.1 else "shell"
        yield Case(f"random-{seed}-{index}-{msg_type}", channel, (parts[0], parts[1], parts[2], parts[3]))


def whole_message(case: Case) -> bytes:
    """The case as one JSON text with a ``channel`` key, as the callback transport receives it."""
    header_, parent, metadata, content = case.parts
    return (
        b'{"channel": '
        + _json(case.channel)
        + b', "header": '
        + header_
        + b', "parent_header": '
        + parent
        + b', "metadata": '
        + metadata
        + b', "content": '
        + content
        + b"}"
    )
