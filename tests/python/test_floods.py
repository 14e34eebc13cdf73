"""Floods: every iopub message arrives, however fast the kernel produces them, and flushed prints coalesce.

The client here is jupyter_client's blocking one: it reads iopub only when asked, so while a burst is sent
the kernel outruns it by thousands of messages, the case in which a PUB socket drops silently at its
high-water mark. ``AK_FLOOD_REPEAT`` sets how many bursts and floods run (default 2; issue 8's closing
figures used 10).
"""

from __future__ import annotations

import collections
import os
import time

import zmq
from kernel_helpers import TIMEOUT, KernelHandle, stream_text

REPEAT = int(os.environ.get("AK_FLOOD_REPEAT", "2"))
BURST = 2000

ECHO_TARGET = """
import comm
def _echo_target(c, open_msg):
    c.on_msg(lambda msg: c.send(msg['content']['data']))
comm.get_comm_manager().register_target('flood_echo', _echo_target)
"""


def iopub_of(kernel: KernelHandle, ids: set[str], timeout: float = TIMEOUT) -> dict[str, list[dict]]:
    """iopub messages by parent msg_id until every one of ``ids`` went idle (or the timeout passed)."""
    seen: dict[str, list[dict]] = collections.defaultdict(list)
    waiting = set(ids)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        try:
            msg = kernel.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        except Exception:  # queue.Empty: the deadline passed
            break
        parent = msg["parent_header"].get("msg_id")
        if parent in ids:
            seen[parent].append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                waiting.discard(parent)
    return seen


def test_comm_bursts_lose_no_iopub_message(kernel: KernelHandle):
    assert kernel.execute(ECHO_TARGET)[0]["content"]["status"] == "ok"
    session, socket = kernel.kc.session, kernel.kc.shell_channel.socket
    opened = session.send(socket, "comm_open", {"comm_id": "flood", "target_name": "flood_echo", "data": {}})
    kernel.iopub_until_idle(opened["header"]["msg_id"])
    for burst in range(REPEAT):
        ids = [
            session.send(socket, "comm_msg", {"comm_id": "flood", "data": {"n": n}})["header"]["msg_id"]
            for n in range(BURST)
        ]
        seen = iopub_of(kernel, set(ids), timeout=60)
        lost = collections.Counter()
        for n, msg_id in enumerate(ids):
            kinds = [
                m["content"]["execution_state"] if m["msg_type"] == "status" else m["msg_type"] for m in seen[msg_id]
            ]
            if kinds != ["busy", "comm_msg", "idle"]:
                lost.update(kind for kind in ("busy", "comm_msg", "idle") if kind not in kinds)
            else:
                (echo,) = (m for m in seen[msg_id] if m["msg_type"] == "comm_msg")
                assert echo["content"]["data"] == {"n": n}
        assert not lost, f"burst {burst}: messages lost on iopub: {dict(lost)}"


def test_print_floods_arrive_whole(kernel: KernelHandle):
    expected = "".join(f"{i}\n" for i in range(20_000))
    for _ in range(REPEAT):
        reply, iopub = kernel.execute("for i in range(20_000): print(i)", timeout=60)
        assert reply["content"]["status"] == "ok"
        assert stream_text(iopub) == expected


def test_flushed_prints_are_coalesced(kernel: KernelHandle):
    code = (
        "import time\nn = 0\nend = time.monotonic() + 1.0\n"
        "while time.monotonic() < end:\n    print(n, flush=True)\n    n += 1\n"
    )
    start = time.monotonic()
    reply, iopub = kernel.execute(code, timeout=60)
    elapsed = time.monotonic() - start
    assert reply["content"]["status"] == "ok"
    _, count = kernel.execute("print(n)")
    n = int(stream_text(count))
    assert n > 1000, "the loop printed too little to show coalescing"
    text = stream_text(iopub)
    assert text == "".join(f"{i}\n" for i in range(n))
    streams = sum(m["msg_type"] == "stream" for m in iopub)
    # one message per 50 ms output interval, one per 64 KiB of text (the buffer's size), one before idle
    bound = elapsed / 0.05 + len(text) / (1 << 16) + 3
    assert streams <= bound, f"{streams} stream messages for {n} flushed prints in {elapsed:.2f} s"


def test_a_new_subscriber_is_welcomed(kernel: KernelHandle):
    """iopub is an XPUB socket: each subscription is answered with iopub_welcome (protocol 5.5, ipykernel >= 7.2)."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    try:
        sub.linger = 0
        sub.connect(kernel.kc._make_url("iopub"))
        sub.subscribe(b"")
        assert sub.poll(TIMEOUT * 1000), "no message on a new iopub subscription"
        _, frames = kernel.kc.session.feed_identities(sub.recv_multipart())
        welcome = kernel.kc.session.deserialize(frames)
        assert welcome["msg_type"] == "iopub_welcome"
        assert welcome["content"] == {"subscription": ""}
    finally:
        sub.close()
