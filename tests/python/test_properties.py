"""Property-based tests (hypothesis) at the message boundary, in-process.

Whatever a client sends, decoding and validation end in a message the kernel can serve or in one
``RemoteProtocolError``; whatever the kernel sends serializes to strict JSON; and whatever is written to an
output stream is published whole and in order, however writes, flushes and timers interleave.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from async_kernel.protocol import RemoteProtocolError, dumps, loads, validate
from async_kernel.streams import OutStream
from async_kernel.transports.zmq import DELIM, Signer, deserialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

# text with lone surrogates, NUL and non-BMP characters: everything a Python str can hold
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_like = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=30
)


def strict_loads(data: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(data, parse_constant=refuse)


@given(json_like)
def test_whatever_the_kernel_sends_is_strict_json(value: Any):
    parsed = strict_loads(dumps(value))
    if isinstance(value, float) and not math.isfinite(value):
        assert parsed is None
    elif isinstance(value, str):
        assert parsed == value  # lone surrogates come back through their escapes


@given(st.dictionaries(texts, json_like, max_size=6) | json_like)
def test_validation_accepts_a_servable_message_or_refuses_with_one_error(value: Any):
    for candidate in (
        value,
        {"header": value, "content": {}},
        {"header": {"msg_id": "m", "msg_type": "t", **_dict(value)}},
    ):
        try:
            msg = validate(candidate)
        except RemoteProtocolError:
            continue
        header = msg["header"]
        assert isinstance(header["msg_id"], str) and header["msg_id"]
        assert isinstance(header["msg_type"], str) and header["msg_type"]
        assert header.get("subshell_id") is None or isinstance(header["subshell_id"], str)
        hash((header.get("subshell_id"), header["msg_type"]))  # usable as a queue key
        strict_loads(dumps(header))  # it can be echoed as a parent header
        assert all(isinstance(msg[key], dict) for key in ("parent_header", "metadata", "content"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"extra": value}


frames_strategy = st.lists(st.binary(max_size=40) | st.just(DELIM) | st.just(b"{}"), max_size=10)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(frames_strategy, st.booleans())
def test_any_frames_decode_to_a_message_or_one_error(frames: list[bytes], sign: bool):
    signer = Signer(b"key")
    if sign and DELIM in frames:  # sign what follows the delimiter, so that decoding goes past the signature
        at = frames.index(DELIM)
        parts = (frames[at + 2 : at + 6] + [b"{}"] * 4)[:4]
        frames = [*frames[: at + 1], signer.sign(parts), *parts, *frames[at + 6 :]]
    with contextlib.suppress(RemoteProtocolError):  # any other exception fails the test
        validate(deserialize(frames, signer))


def test_a_signature_is_accepted_once_and_forgotten_after_the_history():
    signer = Signer(b"key", history=3)
    parts = [[f'{{"msg_id": "{n}"}}'.encode(), b"{}", b"{}", b"{}"] for n in range(5)]
    frames = [[DELIM, signer.sign(p), *p] for p in parts]
    deserialize(frames[0], signer)
    with pytest.raises(RemoteProtocolError, match="replayed"):
        deserialize(frames[0], signer)
    for other in frames[1:4]:
        deserialize(other, signer)
    deserialize(frames[0], signer)  # three newer signatures pushed it out of the history


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["write", "flush", "flush_now", "timer"]), texts), max_size=40))
def test_output_is_published_whole_and_in_order(steps: list[tuple[str, str]]):
    published: list[str] = []
    timers: list[Any] = []
    stream = OutStream(
        "stdout", lambda name, text, parent: published.append(text), lambda delay, f: timers.append(f), max_buffer=16
    )
    written = []
    for action, text in steps:
        if action == "write":
            stream.write(text)
            written.append(text)
        elif action == "timer":
            if timers:
                timers.pop(0)()
        else:
            getattr(stream, action)()
    while timers:  # every scheduled flush fires eventually
        timers.pop(0)()
    stream.flush_now()
    assert "".join(published) == "".join(written)
    assert all(published), "no empty stream messages"


def test_deep_nesting_is_a_protocol_error_not_a_crash():
    deep = b"[" * 100_000 + b"]" * 100_000
    signer = Signer(b"key")
    parts = [b'{"msg_id": "a", "msg_type": "b"}', b"{}", b"{}", deep]
    with pytest.raises(RemoteProtocolError, match="invalid JSON"):
        deserialize([DELIM, signer.sign(parts), *parts], signer)
    with pytest.raises((ValueError, RecursionError)):
        loads(deep)  # what the decoder turns into that error
