"""async_kernel.protocol: validation, (de)serialization and message construction, in-process."""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from async_kernel import protocol
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    import orjson
except ImportError:  # the standard library's json is the fallback
    orjson = None
from async_kernel.protocol import PROTOCOL_VERSION, RemoteProtocolError, Session, dumps, loads, validate

REPO = Path(__file__).resolve().parents[2]


def _msg(**header_extra) -> dict:
    return {
        "header": {"msg_id": "id-1", "msg_type": "execute_request", **header_extra},
        "parent_header": {},
        "metadata": {},
        "content": {"code": "1"},
    }


# -- validate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "kind"), [([], "list"), ("msg", "str"), (None, "NoneType"), (3, "int")])
def test_validate_refuses_a_message_that_is_not_an_object(value, kind):
    with pytest.raises(RemoteProtocolError, match=rf"JSON object, not {kind}"):
        validate(value)


@pytest.mark.parametrize("header", [None, [], "header", 1])
def test_validate_refuses_a_missing_or_non_object_header(header):
    msg = _msg()
    msg["header"] = header
    with pytest.raises(RemoteProtocolError, match="'header'"):
        validate(msg)
    del msg["header"]
    with pytest.raises(RemoteProtocolError, match="'header'"):
        validate(msg)


@pytest.mark.parametrize("key", ["msg_id", "msg_type"])
@pytest.mark.parametrize("value", [None, "", 1, ["a"], {"a": 1}, b"id"])
def test_validate_needs_a_non_empty_string_msg_id_and_msg_type(key, value):
    msg = _msg()
    msg["header"][key] = value
    with pytest.raises(RemoteProtocolError, match=repr(key)):
        validate(msg)
    del msg["header"][key]
    with pytest.raises(RemoteProtocolError, match=repr(key)):
        validate(msg)


def test_validate_fills_optional_header_fields_with_defaults():
    msg = _msg()
    out = validate(msg)
    assert out is msg
    assert out["header"]["session"] == ""
    assert out["header"]["username"] == ""
    assert out["header"]["date"] == ""
    assert out["header"]["version"] == PROTOCOL_VERSION
    assert "subshell_id" not in out["header"]


def test_validate_keeps_given_optional_header_fields():
    header = {"session": "s", "username": "u", "date": "2024-01-01T00:00:00Z", "version": "5.3"}
    out = validate(_msg(**header))
    assert {key: out["header"][key] for key in header} == header


@pytest.mark.parametrize("key", ["session", "username", "date", "version"])
@pytest.mark.parametrize(("value", "kind"), [(1, "int"), (None, "NoneType"), ([], "list"), ({}, "dict")])
def test_validate_type_checks_optional_header_fields(key, value, kind):
    with pytest.raises(RemoteProtocolError, match=rf"{key!r} must be a string, not {kind}"):
        validate(_msg(**{key: value}))


@pytest.mark.parametrize("subshell", ["abc", "", None])
def test_validate_accepts_a_string_or_null_subshell_id(subshell):
    assert validate(_msg(subshell_id=subshell))["header"]["subshell_id"] == subshell


@pytest.mark.parametrize(("subshell", "kind"), [(1, "int"), ([], "list"), ({}, "dict"), (True, "bool")])
def test_validate_refuses_any_other_subshell_id(subshell, kind):
    with pytest.raises(RemoteProtocolError, match=rf"'subshell_id' must be a string or null, not {kind}"):
        validate(_msg(subshell_id=subshell))


def _deep(depth: int) -> dict:
    root = cur = {}
    for _ in range(depth):
        cur["a"] = {}
        cur = cur["a"]
    return root


@pytest.mark.parametrize("extra", [{(1, 2): "tuple key"}, _deep(100_000)], ids=["tuple-key", "deep"])
def test_validate_refuses_a_header_that_cannot_be_echoed_back(extra):
    with pytest.raises(RemoteProtocolError, match="cannot be echoed back"):
        validate(_msg(extra=extra))


def test_a_valid_header_serializes():
    out = validate(_msg(extra={"nested": [1, 2.5, None, "\ud800"]}))
    assert json.loads(dumps(out["header"]))["msg_id"] == "id-1"


@pytest.mark.parametrize("key", ["parent_header", "metadata", "content"])
def test_validate_turns_a_missing_or_null_part_into_an_empty_object(key):
    msg = _msg()
    msg[key] = None
    assert validate(msg)[key] == {}
    msg = _msg()
    del msg[key]
    assert validate(msg)[key] == {}


@pytest.mark.parametrize("key", ["parent_header", "metadata", "content"])
@pytest.mark.parametrize("value", [[], "x", 0, 1.5, True])
def test_validate_refuses_a_part_that_is_not_an_object(key, value):
    msg = _msg()
    msg[key] = value
    with pytest.raises(RemoteProtocolError, match=rf"{key!r} must be a JSON object"):
        validate(msg)


def test_validate_keeps_parts_and_defaults_buffers():
    msg = _msg()
    msg["content"] = {"code": "x"}
    msg["metadata"] = {"m": 1}
    out = validate(msg)
    assert out["content"] == {"code": "x"}
    assert out["metadata"] == {"m": 1}
    assert out["buffers"] == []
    buffers = [b"a", memoryview(b"b")]
    msg = _msg()
    msg["buffers"] = buffers
    assert validate(msg)["buffers"] is buffers


def test_remote_protocol_error_is_a_value_error():
    assert issubclass(RemoteProtocolError, ValueError)


# -- dumps / loads ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": [1, 2.5, None, True, False, "text"], "b": {"c": "é ∑ 😀"}},
        'line\nbreak "quoted" \\ back\u0000slash',
        -(2**63),
        2**64 - 1,
        0.1,
    ],
)
def test_dumps_loads_round_trip(value):
    data = dumps(value)
    assert isinstance(data, bytes)
    assert loads(data) == value
    assert loads(data.decode()) == value
    assert loads(memoryview(data)) == value
    assert loads(bytearray(data)) == value
    assert json.loads(data) == value  # strict JSON that any client reads


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", {"k": ["\udc00", "ok"]}, {"\ud83d": 1}])
def test_lone_surrogates_are_written_as_escapes_in_strict_json(value):
    data = dumps(value)
    data.decode("utf-8")  # valid UTF-8, no raw surrogate bytes
    assert json.loads(data) == value


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", {"k": ["\udc00", "ok"]}])
def test_lone_surrogates_round_trip_through_loads(value):
    # Clients send these too: JSON.stringify writes a lone surrogate of a JavaScript string as an escape.
    assert loads(dumps(value)) == value


def test_nan_and_infinities_become_null():
    value = {"nan": math.nan, "list": [math.inf, -math.inf, 1.5], "nested": {"x": (math.nan,)}}
    expected = {"nan": None, "list": [None, None, 1.5], "nested": {"x": [None]}}
    assert json.loads(dumps(value)) == expected
    assert loads(dumps(value)) == expected


def test_nan_and_a_lone_surrogate_together_still_give_strict_json():
    # the fallback path has to handle both at once
    data = dumps({"s": "\ud800", "n": math.nan, "big": 2**70})
    assert json.loads(data) == {"s": "\ud800", "n": None, "big": 2**70}


@pytest.mark.parametrize("value", [2**64, -(2**64) - 1, 10**30, [1, 2**100]])
def test_big_integers_are_written_exactly(value):
    assert json.loads(dumps(value)) == value


@pytest.mark.parametrize("value", [2**64 + 1, -(2**64) - 1, 10**30 + 1])
def test_big_integers_round_trip_through_loads(value):
    # orjson reads integers beyond 64 bits as the nearest float (as JavaScript reads every number); the
    # standard library (Pyodide) reads them exactly.
    assert loads(dumps(value)) == (value if orjson is None else float(value))


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json(text):
    with pytest.raises(ValueError):
        loads(text.encode())


def test_datetimes_are_iso_strings():
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    out = loads(dumps({"date": moment, "naive": datetime(2020, 1, 1)}))
    assert out == {"date": "2024-05-06T07:08:09.123456+00:00", "naive": "2020-01-01T00:00:00"}
    assert datetime.fromisoformat(out["date"]) == moment


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe binary", bytes(range(256))])
def test_bytes_are_base64(raw):
    for value in (raw, bytearray(raw), memoryview(raw)):
        assert base64.b64decode(loads(dumps({"data": value}))["data"]) == raw


def test_sets_and_tuples_are_lists():
    out = loads(dumps({"set": {3, 1, 2}, "frozen": frozenset({"a"}), "tuple": (1, (2, 3))}))
    assert sorted(out["set"]) == [1, 2, 3]
    assert out["frozen"] == ["a"]
    assert out["tuple"] == [1, [2, 3]]


def test_other_objects_are_written_as_their_repr():
    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    assert loads(dumps({"x": Thing()})) == {"x": "<thing>"}


def test_large_output_is_complete():
    value = {"text": "x" * (1 << 17)}
    assert loads(dumps(value)) == value


@pytest.mark.parametrize("data", [b"", b"{", b"{'a': 1}", b"\xff", b"[1,]", b"[" * 100_000 + b"]" * 100_000])
def test_loads_refuses_invalid_json_with_a_parse_error(data):
    with pytest.raises(protocol.PARSE_ERRORS):
        loads(data)


# -- Session ----------------------------------------------------------------------------------------


def test_session_msg_shape():
    session = Session(session="sess", username="alice")
    msg = session.msg("status", {"execution_state": "idle"})
    header = msg["header"]
    assert header["msg_type"] == "status"
    assert header["session"] == "sess"
    assert header["username"] == "alice"
    assert header["version"] == PROTOCOL_VERSION
    assert header["msg_id"]
    assert abs(datetime.fromisoformat(header["date"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert msg["parent_header"] == {}
    assert msg["metadata"] == {}
    assert msg["content"] == {"execution_state": "idle"}
    assert msg["buffers"] == []
    assert validate(loads(dumps(msg))) == {**msg, "buffers": []}


def test_session_defaults():
    session = Session()
    assert isinstance(session.session, str) and session.session
    assert Session().session != session.session
    assert isinstance(session.username, str) and session.username


def test_session_msg_copies_the_parent_header():
    session = Session()
    parent = validate(_msg(session="client"))
    reply = session.msg("execute_reply", {"status": "ok"}, parent=parent, metadata={"m": 1}, buffers=[b"x"])
    assert reply["parent_header"] == parent["header"]
    assert reply["parent_header"] is not parent["header"]
    parent["header"]["msg_id"] = "changed later"
    assert reply["parent_header"]["msg_id"] == "id-1"
    assert reply["metadata"] == {"m": 1}
    assert reply["buffers"] == [b"x"]


def test_session_msg_ids_are_unique():
    sessions = [Session(), Session()]
    ids = [session.msg("stream", {})["header"]["msg_id"] for _ in range(1000) for session in sessions]
    assert len(set(ids)) == len(ids)


def test_protocol_version_is_a_version_string():
    assert re.fullmatch(r"\d+\.\d+", PROTOCOL_VERSION)


# -- reply_type, error_content ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "reply"),
    [
        ("execute_request", "execute_reply"),
        ("kernel_info_request", "kernel_info_reply"),
        ("create_subshell_request", "create_subshell_reply"),
        ("custom", "custom_reply"),
        ("request_request", "request_reply"),
    ],
)
def test_reply_type(request_type, reply):
    assert protocol.reply_type(request_type) == reply


def test_error_content():
    assert protocol.error_content(ValueError("bad value")) == {
        "status": "error",
        "ename": "ValueError",
        "evalue": "bad value",
        "traceback": [],
    }
    content = protocol.error_content(KeyboardInterrupt(), ["line 1", "line 2"])
    assert content == {"status": "error", "ename": "KeyboardInterrupt", "evalue": "", "traceback": ["line 1", "line 2"]}
    assert json.loads(dumps(content)) == content


# -- properties (hypothesis) ------------------------------------------------------------------------

# text with lone surrogates, NUL and non-BMP characters: everything a Python str can hold
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_like = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=30
)
hypothesis_settings = settings(max_examples=60, deadline=None, database=None)


def _strict_loads(data: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(data, parse_constant=refuse)


@hypothesis_settings
@given(json_like)
def test_whatever_the_kernel_sends_is_strict_json(value: Any):
    parsed = _strict_loads(dumps(value))
    if isinstance(value, float) and not math.isfinite(value):
        assert parsed is None
    elif isinstance(value, str):
        assert parsed == value  # lone surrogates come back through their escapes


@hypothesis_settings
@given(st.dictionaries(texts, json_like, max_size=6) | json_like)
def test_validation_accepts_a_servable_message_or_refuses_with_one_error(value: Any):
    for candidate in (
        value,
        {"header": value, "content": {}},
        {"header": {"msg_id": "m", "msg_type": "t", **(value if isinstance(value, dict) else {"extra": value})}},
    ):
        try:
            msg = validate(candidate)
        except RemoteProtocolError:  # any other exception fails the test
            continue
        header = msg["header"]
        assert isinstance(header["msg_id"], str) and header["msg_id"]
        assert isinstance(header["msg_type"], str) and header["msg_type"]
        assert header.get("subshell_id") is None or isinstance(header["subshell_id"], str)
        hash((header.get("subshell_id"), header["msg_type"]))  # usable as a queue key
        _strict_loads(dumps(header))  # it can be echoed as a parent header
        assert all(isinstance(msg[key], dict) for key in ("parent_header", "metadata", "content"))


# -- the front end agrees on the version ------------------------------------------------------------


def test_the_extension_declares_the_same_protocol_version():
    tokens = (REPO / "js" / "src" / "tokens.ts").read_text(encoding="utf-8")
    line = f"export const PROTOCOL_VERSION = '{PROTOCOL_VERSION}';"
    declared = re.findall(r"^export const PROTOCOL_VERSION = .*$", tokens, re.MULTILINE)
    assert declared == [line], f"js/src/tokens.ts must contain exactly the line {line!r}, has {declared!r}"
