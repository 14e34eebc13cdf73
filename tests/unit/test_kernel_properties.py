"""Property-based tests (hypothesis) of the kernel core at its message boundary, ``Kernel.receive``.

Whatever a transport hands in, the kernel either answers it (busy, a reply for a ``*_request``, idle) or
logs it and sends nothing; ``receive`` never raises, and no queue dies: after every example the kernel
still answers ``kernel_info``, a trivial execute, and a well-formed message of the type just drawn.

Code is never drawn freely: an ``execute_request``'s ``code`` and ``user_expressions`` come from a small safe
set (or are not strings at all). Other types get arbitrary content; they complete, inspect or parse code but
never run it.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from async_kernel.kernel import ROUTES
from async_kernel.protocol import RemoteProtocolError, reply_type, validate
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .kernel_pair import KernelPair

pytestmark = pytest.mark.anyio

hypothesis_settings = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# text with lone surrogates, NUL and non-BMP characters: everything a Python str can hold
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_like = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=12
)
#: small values for the fields handlers read (deep nesting is validate's and dumps' business, tested elsewhere)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(texts, inner, max_size=2), max_leaves=4
)
not_strings = st.none() | st.booleans() | st.integers() | st.floats() | st.lists(scalars, max_size=2)

MSG_TYPES = [*sorted(ROUTES), "frobnicate_request", "frobnicate", "input_reply"]
SAFE_CODE = ["", "1", "x_prop = 1", "1/0", "print('out')", "import sys; sys.stderr.write('err')", "def f(:", "%pwd"]
SAFE_EXPRESSIONS = ["1", "1/0", "undefined_name", "[1, 2]"]
HEADER_KEYS = ("msg_id", "msg_type", "session", "username", "date", "version", "subshell_id")

execute_content = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(SAFE_CODE) | not_strings,
        "silent": values,
        "store_history": values,
        "allow_stdin": values,
        "stop_on_error": values,
        "user_expressions": st.dictionaries(texts, st.sampled_from(SAFE_EXPRESSIONS) | not_strings, max_size=3)
        | not_strings,
    },
)
other_content = st.fixed_dictionaries(
    {},
    optional={
        "code": texts | values,
        "cursor_pos": st.integers(-5, 20) | values,
        "detail_level": st.sampled_from([0, 1]) | values,
        "hist_access_type": st.sampled_from(["tail", "range", "search"]) | values,
        "n": st.integers(-3, 5) | values,
        "session": st.integers(-3, 3) | values,
        "start": st.integers(-3, 3) | values,
        "stop": st.integers(-3, 3) | values,
        "pattern": texts | values,
        "raw": values,
        "output": values,
        "unique": values,
        "target_name": texts | values,
        "comm_id": texts | values,
        "data": values,
        "restart": values,
        "value": values,
    },
)


objects = st.dictionaries(texts, values, max_size=3)


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, Any]:
    """A well-formed message of a routed type with arbitrary content, metadata and parent header;
    one in five has one header field or part replaced by an arbitrary JSON value."""
    msg_type = draw(st.sampled_from(MSG_TYPES))
    header: dict[str, Any] = {"msg_id": draw(texts.filter(bool)), "msg_type": msg_type}
    for key in ("session", "username", "date", "version"):
        if draw(st.booleans()):
            header[key] = draw(texts)
    if draw(st.booleans()):
        header["subshell_id"] = draw(st.none() | st.sampled_from(["sub-a", "sub-b"]))
    header.update(draw(st.dictionaries(texts.filter(lambda k: k not in HEADER_KEYS), values, max_size=2)))
    msg: dict[str, Any] = {"header": header}
    content = execute_content if msg_type == "execute_request" else other_content
    for key, part in (("content", content), ("metadata", objects), ("parent_header", objects)):
        if draw(st.booleans()):
            msg[key] = draw(part)
    if draw(st.booleans()):
        msg["buffers"] = draw(st.lists(st.binary(max_size=8), max_size=2))
    corrupt = draw(st.sampled_from([None, None, None, None, "header", "part"]))
    if corrupt == "header":
        header[draw(st.sampled_from(HEADER_KEYS))] = draw(json_like)
    elif corrupt == "part":
        msg[draw(st.sampled_from(["header", "content", "metadata", "parent_header"]))] = draw(json_like)
    channel = draw(st.sampled_from(["shell", "control", "stdin"]))
    return channel, msg


PROBES: dict[str, dict[str, Any]] = {
    "execute_request": {"code": "1"},
    "complete_request": {"code": "pri", "cursor_pos": 3},
    "inspect_request": {"code": "len", "cursor_pos": 3},
    "is_complete_request": {"code": "1"},
    "history_request": {"hist_access_type": "tail", "n": 1},
    "kernel_info_request": {},
    "comm_info_request": {},
    "interrupt_request": {},
    "shutdown_request": {},
    "comm_open": {"comm_id": "probe", "target_name": "no-such-target", "data": {}},
    "comm_msg": {"comm_id": "no-such-comm", "data": {}},
    "comm_close": {"comm_id": "no-such-comm", "data": {}},
}


def servable(msg: Any) -> dict[str, Any] | None:
    """``msg`` as the kernel will serve it, or None if it must be dropped (decided on a copy)."""
    try:
        return validate(copy.deepcopy(msg))
    except RemoteProtocolError:
        return None


async def check_still_serving(pair: KernelPair, msg_type: str, subshell_id: Any) -> None:
    """The queues the example went through, and the main ones, still answer well-formed messages."""
    probe = pair.message(msg_type, PROBES.get(msg_type, {}))
    if isinstance(subshell_id, str):
        probe["header"]["subshell_id"] = subshell_id  # type: ignore[typeddict-unknown-key]
    msg_id = pair.send(probe)
    assert msg_id is not None
    await pair.wait_idle(msg_id)
    if msg_type.endswith("_request"):
        reply = await pair.reply(msg_id)
        # the in-memory kernel has no debugger (as in Pyodide): a debug_request gets an error reply
        expected = {
            "frobnicate_request": "error",
            "is_complete_request": "complete",
            "debug_request": "error",
            "delete_subshell_request": "error",  # the probe names no subshell
        }.get(msg_type, "ok")
        if msg_type == "execute_request" and isinstance(subshell_id, str) and subshell_id not in pair.kernel.subshells:
            expected = "error"  # an execute for a subshell that does not exist
        assert reply["content"]["status"] == expected, reply["content"]
    assert (await pair.request("kernel_info_request"))["content"]["status"] == "ok"
    assert (await pair.run_cell("1"))["content"]["status"] == "ok"


async def receive_one(pair: KernelPair, caplog: pytest.LogCaptureFixture, channel: str, msg: Any) -> None:
    pair.transport.clear()
    caplog.clear()
    expected = servable(msg)
    pair.send(msg, channel)  # Kernel.receive: an exception here fails the example
    event("dropped" if expected is None else "served")
    if expected is None:
        assert any("malformed" in r.getMessage() for r in caplog.records if r.name == "async_kernel")
        assert pair.transport.sent == [], "a dropped message gets nothing"
        await check_still_serving(pair, "kernel_info_request", None)
        return
    header = expected["header"]
    msg_id, msg_type = header["msg_id"], header["msg_type"]
    await pair.wait_idle(msg_id)
    assert pair.statuses(msg_id) == ["busy", "idle"]
    mine = pair.all_for(msg_id)
    reply = pair.reply_of(msg_id)
    if msg_type.endswith("_request"):
        assert reply is not None, f"no reply to {msg_type}"
        assert reply["header"]["msg_type"] == reply_type(msg_type)
        assert [m for _, m in mine].index(reply) == len(mine) - 2, "the reply comes just before idle"
        assert reply["parent_header"] == header
        assert reply["content"]["status"] in ("ok", "error", "aborted", "complete", "incomplete", "invalid", "unknown")
    else:
        assert reply is None, f"a {msg_type} got a {reply['header']['msg_type']}"
    assert all(m["parent_header"] == header for _, m in mine)
    await check_still_serving(pair, msg_type, header.get("subshell_id"))


@hypothesis_settings
@given(value=json_like, channel=st.sampled_from(["shell", "control", "stdin"]))
async def test_any_json_value_is_answered_or_logged(
    pair: KernelPair, caplog: pytest.LogCaptureFixture, value: Any, channel: str
):
    with caplog.at_level(logging.WARNING):
        await receive_one(pair, caplog, channel, value)


@hypothesis_settings
@given(drawn=messages())
async def test_any_message_of_a_routed_type_is_answered_or_logged(
    pair: KernelPair, caplog: pytest.LogCaptureFixture, drawn: tuple[str, Any]
):
    channel, msg = drawn
    with caplog.at_level(logging.WARNING):
        await receive_one(pair, caplog, channel, msg)
