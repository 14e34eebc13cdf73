"""Bad input is logged or answered with an error, never executed, and the kernel keeps serving."""

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


def test_unknown_request_gets_an_error_reply(kernel: KernelHandle):
    msg = kernel.kc.session.msg("frobnicate_request", {})
    kernel.kc.shell_channel.send(msg)
    reply, iopub = kernel.collect(msg["header"]["msg_id"])
    assert reply["msg_type"] == "frobnicate_reply"
    assert reply["content"]["status"] == "error"
    assert "frobnicate_request" in reply["content"]["evalue"]
    assert [m["content"]["execution_state"] for m in iopub] == ["busy", "idle"]
    assert_still_serving(kernel)


def test_a_handler_that_raises_answers_with_an_error(kernel: KernelHandle):
    msg = kernel.kc.session.msg("history_request", {"hist_access_type": "sideways"})
    kernel.kc.shell_channel.send(msg)
    reply = kernel.reply(msg["header"]["msg_id"])
    assert reply["content"]["status"] == "error"
    assert "sideways" in reply["content"]["evalue"]
    msg = kernel.kc.session.msg("execute_request", {"code": 12})
    kernel.kc.shell_channel.send(msg)
    assert kernel.reply(msg["header"]["msg_id"])["content"]["status"] == "error"
    assert_still_serving(kernel)


def test_a_comm_handler_that_raises_is_logged_and_the_comm_keeps_working(kernel: KernelHandle):
    setup = (
        "import comm\nseen = []\n"
        "def target(c, open_msg):\n"
        "    def on_msg(msg):\n"
        "        seen.append(msg['content']['data'])\n"
        "        if msg['content']['data'].get('fail'): raise RuntimeError('handler failed')\n"
        "    c.on_msg(on_msg)\n"
        "comm.get_comm_manager().register_target('fragile', target)"
    )
    assert kernel.execute(setup)[0]["content"]["status"] == "ok"
    send = kernel.kc.session.send
    socket = kernel.kc.shell_channel.socket
    opened = send(socket, "comm_open", {"comm_id": "f1", "target_name": "fragile", "data": {}})
    kernel.iopub_until_idle(opened["header"]["msg_id"])
    for data in ({"fail": True}, {"fail": False}):
        sent = send(socket, "comm_msg", {"comm_id": "f1", "data": data})
        kernel.iopub_until_idle(sent["header"]["msg_id"])
    # a comm message to a comm that does not exist is logged too
    sent = send(socket, "comm_msg", {"comm_id": "nope", "data": {}})
    kernel.iopub_until_idle(sent["header"]["msg_id"])
    reply, _ = kernel.execute("seen", timeout=10)
    assert reply["content"]["status"] == "ok"
    _, iopub = kernel.execute("print(seen)")
    assert "[{'fail': True}, {'fail': False}]" in "".join(
        m["content"]["text"] for m in iopub if m["msg_type"] == "stream"
    )
    assert_still_serving(kernel)


def test_the_kernel_answers_quickly_after_bad_input(kernel: KernelHandle):
    for _ in range(50):
        send_frames(kernel, [b"<IDS|MSG>", b"bad", b"{}", b"{}", b"{}", b"{}"])
    start = time.monotonic()
    assert_still_serving(kernel)
    assert time.monotonic() - start < 10
