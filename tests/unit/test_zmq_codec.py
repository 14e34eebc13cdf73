"""The ZMQ wire format, in-process: Signer, serialize and deserialize (no sockets)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from async_kernel.protocol import RemoteProtocolError, Session, dumps, validate
from async_kernel.transports.zmq import DELIM, REPLAY_HISTORY, Signer, deserialize, serialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEY = b"a-secret-key"
PARTS = [b'{"msg_id":"1","msg_type":"t"}', b"{}", b"{}", b'{"code":"1"}']

hypothesis_settings = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _frames(parts: list[bytes], signer: Signer, idents: tuple[bytes, ...] = (), buffers: tuple[bytes, ...] = ()):
    return [*idents, DELIM, signer.sign(parts), *parts, *buffers]


# -- Signer -----------------------------------------------------------------------------------------


def test_sign_with_a_key_is_hex_hmac_sha256_of_the_parts():
    signer = Signer(KEY)
    signature = signer.sign(PARTS)
    assert signature == hmac.new(KEY, b"".join(PARTS), hashlib.sha256).hexdigest().encode()
    assert signer.verify(signature, PARTS)
    assert Signer(KEY).verify(signature, PARTS)  # no state involved


@pytest.mark.parametrize(
    "tamper",
    [
        lambda sig, parts: (b"", parts),
        lambda sig, parts: (sig[:-1] + (b"0" if sig[-1:] != b"0" else b"1"), parts),
        lambda sig, parts: (sig.upper(), parts),
        lambda sig, parts: (sig, [*parts[:3], b'{"code":"2"}']),
        lambda sig, parts: (sig, [parts[1], parts[0], *parts[2:]]),
        lambda sig, parts: (Signer(b"another key").sign(parts), parts),
    ],
    ids=["empty", "one-digit", "case", "content", "order", "other-key"],
)
def test_a_wrong_signature_is_refused(tamper):
    signer = Signer(KEY)
    signature, parts = tamper(signer.sign(PARTS), PARTS)
    assert not signer.verify(signature, parts)
    with pytest.raises(RemoteProtocolError, match="signature"):
        deserialize([DELIM, signature, *parts], signer)


def test_without_a_key_nothing_is_signed_and_everything_verifies():
    signer = Signer(b"")
    assert signer.sign(PARTS) == b""
    assert signer.verify(b"", PARTS)
    assert signer.verify(b"anything", PARTS)
    # without signatures there is nothing to tell messages apart: no replay detection
    assert signer.first_time(b"") and signer.first_time(b"")
    assert deserialize(_frames(PARTS, signer), signer) == deserialize(_frames(PARTS, signer), signer)


def test_a_replayed_signature_is_refused():
    signer = Signer(KEY)
    signature = signer.sign(PARTS)
    assert signer.first_time(signature)
    assert not signer.first_time(signature)
    assert not signer.first_time(signature)


def test_a_replayed_message_is_refused():
    signer = Signer(KEY)
    frames = _frames(PARTS, signer)
    deserialize(list(frames), signer)
    with pytest.raises(RemoteProtocolError, match="replayed"):
        deserialize(list(frames), signer)


def test_signatures_are_forgotten_after_history_others():
    signer = Signer(KEY, history=3)
    a, b, c, d = (bytes([i]) * 64 for i in range(4))
    assert all(signer.first_time(sig) for sig in (a, b, c))
    assert not signer.first_time(a)  # still among the last 3
    assert signer.first_time(d)  # a is now the 4th most recent: forgotten
    assert not signer.first_time(b) and not signer.first_time(c) and not signer.first_time(d)
    assert signer.first_time(a)  # accepted again, and b dropped out
    assert signer.first_time(b)


def test_the_default_history_is_large():
    signer = Signer(KEY)
    first = b"first"
    signer.first_time(first)
    for i in range(1000):
        signer.first_time(str(i).encode())
    assert not signer.first_time(first)
    assert REPLAY_HISTORY >= 1000


def test_a_refused_signature_is_not_remembered():
    signer = Signer(KEY)
    frames = _frames(PARTS, signer)
    bad = [*frames[:3], b'{"x": 1}', *frames[4:]]  # signature of PARTS over other parts
    with pytest.raises(RemoteProtocolError, match="signature"):
        deserialize(bad, signer)
    assert deserialize(frames, signer)["header"] == {"msg_id": "1", "msg_type": "t"}


@pytest.mark.parametrize("scheme", ["hmac-md5", "hmac-sha1", "hmac-sha512", "", "HMAC-SHA256"])
def test_an_unsupported_scheme_raises_value_error(scheme):
    with pytest.raises(ValueError, match="signature_scheme"):
        Signer(KEY, scheme)


def test_the_scheme_does_not_matter_without_a_key():
    assert Signer(b"", "hmac-md5").sign(PARTS) == b""


# -- serialize / deserialize ------------------------------------------------------------------------


@pytest.mark.parametrize("key", [KEY, b""], ids=["key", "no-key"])
def test_serialize_deserialize_round_trip(key):
    session = Session()
    parent = validate({"header": {"msg_id": "p", "msg_type": "comm_msg"}, "content": {}})
    msg = session.msg(
        "comm_msg",
        {"data": {"x": [1, 2.5, "é"]}, "comm_id": "c"},
        parent=parent,
        metadata={"m": True},
        buffers=[b"\x00\x01", memoryview(b"view"), b""],
    )
    msg["idents"] = [b"client-1", b"\x00route"]
    frames = serialize(msg, Signer(key))
    assert frames[2] == DELIM
    assert bytes(frames[3]) == Signer(key).sign([bytes(f) for f in frames[4:8]])
    received = deserialize([bytes(frame) for frame in frames], Signer(key))  # as a socket hands them over
    assert received == {
        "header": msg["header"],
        "parent_header": msg["parent_header"],
        "metadata": {"m": True},
        "content": msg["content"],
        "buffers": [b"\x00\x01", b"view", b""],
        "idents": [b"client-1", b"\x00route"],
    }


def test_serialize_without_idents_or_buffers():
    msg = Session().msg("status", {"execution_state": "busy"})
    del msg["buffers"]
    frames = serialize(msg, Signer(KEY))
    assert frames[0] == DELIM
    assert len(frames) == 6
    out = deserialize(frames, Signer(KEY))
    assert out["idents"] == [] and out["buffers"] == []
    assert out["content"] == {"execution_state": "busy"}


def test_the_first_delimiter_ends_the_identities():
    signer = Signer(KEY)
    frames = _frames(PARTS, signer, idents=(b"id",), buffers=(DELIM, b"after"))
    out = deserialize(frames, signer)
    assert out["idents"] == [b"id"]
    assert out["buffers"] == [DELIM, b"after"]


@pytest.mark.parametrize("frames", [[], [b"a"], [b"<IDS|MSG", *PARTS], [b"", b"sig", *PARTS]])
def test_no_delimiter(frames):
    with pytest.raises(RemoteProtocolError, match="delimiter"):
        deserialize(frames, Signer(KEY))


@pytest.mark.parametrize("count", range(5))
def test_too_few_frames(count):
    signer = Signer(b"")
    with pytest.raises(RemoteProtocolError, match=rf"at least 5 frames.* got {count}"):
        deserialize([b"id", DELIM, *[b"{}"] * count], signer)


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("bad", [b"", b"{", b"not json", b"\xff\xfe", b"[" * 100_000, b"[" * 5000 + b"]" * 5000])
def test_invalid_json_in_a_signed_message(position, bad):
    signer = Signer(KEY)
    parts = list(PARTS)
    parts[position] = bad
    with pytest.raises(RemoteProtocolError, match="invalid JSON"):
        deserialize(_frames(parts, signer), signer)


def test_deserialize_does_not_check_the_shape_validate_does():
    signer = Signer(KEY)
    out = deserialize(_frames([b"[]", b"1", b"null", b'"x"'], signer), signer)
    assert out["header"] == [] and out["content"] == "x"
    with pytest.raises(RemoteProtocolError):
        validate(out)


# -- properties -------------------------------------------------------------------------------------

frame = st.one_of(
    st.binary(max_size=40),
    st.just(DELIM),
    st.sampled_from([b"{}", b"[]", b"null", b"1e999", b'"\\ud800"', b'{"a":', b"\xff", b'{"msg_id":"x"}']),
)


@hypothesis_settings
@given(frames=st.lists(frame, max_size=12))
def test_arbitrary_frames_give_a_dict_or_a_protocol_error(frames):
    for signer in (Signer(b""), Signer(KEY)):
        try:
            out = deserialize(frames, signer)
        except RemoteProtocolError:
            continue
        assert isinstance(out, dict)
        assert set(out) == {"header", "parent_header", "metadata", "content", "buffers", "idents"}


@hypothesis_settings
@given(idents=st.lists(frame.filter(lambda f: f != DELIM), max_size=3), parts=st.lists(frame, min_size=4, max_size=8))
def test_correctly_signed_arbitrary_parts_give_a_dict_or_a_protocol_error(idents, parts):
    # signed with the right key, so decoding (not the signature check) is what meets the garbage
    signer = Signer(KEY)
    try:
        out = deserialize(_frames(parts[:4], signer, tuple(idents), tuple(parts[4:])), signer)
    except RemoteProtocolError as exc:
        assert "invalid JSON" in str(exc)
        return
    assert out["idents"] == idents
    assert out["buffers"] == parts[4:]


json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@hypothesis_settings
@given(
    content=st.dictionaries(st.text(), json_value, max_size=5),
    metadata=st.dictionaries(st.text(), json_value, max_size=3),
    idents=st.lists(st.binary(max_size=8).filter(lambda f: f != DELIM), max_size=3),
    buffers=st.lists(st.binary(max_size=16), max_size=3),
)
def test_serialize_deserialize_round_trip_property(content, metadata, idents, buffers):
    signer = Signer(KEY)
    msg = Session().msg("comm_msg", content, metadata=metadata, buffers=buffers)
    msg["idents"] = idents
    out = deserialize(serialize(msg, signer), signer)
    assert out == {**msg, "idents": idents, "buffers": buffers}
    assert validate(out)["content"] == content
    assert dumps(out["header"]) == dumps(msg["header"])
