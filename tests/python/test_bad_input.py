"""Bad input on the wire (signatures, frames) is dropped, never executed, and the kernel keeps serving.

Bad messages that decode (unknown types, bad content, failing handlers and comm handlers) are the core's
business: tests/unit/test_kernel.py and test_kernel_properties.py cover them in memory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kernel_helpers import KernelHandle


def send_frames(kernel: KernelHandle, frames: list[bytes]) -> None:
    kernel.kc.shell_channel.socket.send_multipart(frames)


def signed_execute(kernel: KernelHandle, code: str) -> list[bytes]:
    msg = kernel.kc.session.msg("execute_request", {"code": code, "silent": False})
    return kernel.kc.session.serialize(msg)


def assert_still_serving(kernel: KernelHandle) -> None:
    reply = kernel.kernel_info()
    assert reply["content"]["status"] == "ok"
    reply, _ = kernel.execute("1 + 1")
    assert reply["content"]["status"] == "ok"


@pytest.mark.parametrize("signature", [b"0" * 64, b""], ids=["wrong", "missing"])
def test_a_badly_signed_message_is_never_executed(kernel: KernelHandle, tmp_path: Path, signature: bytes):
    marker = tmp_path / "ran"
    frames = signed_execute(kernel, f"open({str(marker)!r}, 'w').close()")
    index = frames.index(b"<IDS|MSG>")
    frames[index + 1] = signature
    send_frames(kernel, frames)
    assert_still_serving(kernel)
    assert not marker.exists()


@pytest.mark.parametrize(
    "frames",
    [
        [b"no delimiter at all"],
        [b"<IDS|MSG>", b""],
        [b"<IDS|MSG>", b"", b"{not json", b"{}", b"{}", b"{}"],
        [b"<IDS|MSG>", b"", json.dumps({"msg_type": "execute_request"}).encode(), b"{}", b"{}", b"{}"],
        [b"<IDS|MSG>", b"", b"[]", b"{}", b"{}", b"{}"],
    ],
    ids=["no-delimiter", "too-few-frames", "invalid-json", "header-without-msg-id", "header-not-an-object"],
)
def test_malformed_frames_are_dropped(kernel: KernelHandle, frames: list[bytes]):
    session = kernel.kc.session
    if len(frames) == 6:  # sign the parts so only the malformation itself is under test
        frames[1] = session.sign(frames[2:6])
    send_frames(kernel, frames)
    assert_still_serving(kernel)


def test_the_kernel_answers_quickly_after_bad_input(kernel: KernelHandle):
    for _ in range(50):
        send_frames(kernel, [b"<IDS|MSG>", b"bad", b"{}", b"{}", b"{}", b"{}"])
    start = time.monotonic()
    assert_still_serving(kernel)
    assert time.monotonic() - start < 10
