"""Hostile clients: malformed, wrongly typed, unsigned and replayed messages over raw ZMQ frames.

Every case of ``tests/malformed.py`` and a stream of mutated requests go to a real kernel, signed (so that only
the malformation is under test) and, for a sample, with a wrong signature; after every batch a health check
must pass: a kernel_info_request and an execute answered within :data:`HEALTHY_WITHIN` seconds. The kernel runs
with orjson and, in a second process, with the standard json module (as after a plain ``pip install``).

``AK_FUZZ_RANDOM`` sets how many mutated requests each kernel gets (default 1,500; the closing figures of
issue 8 used 10,000).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_helpers import KernelHandle, start_kernel, stop_kernel, without_orjson
from malformed import Case, fixed_cases, random_cases

DELIM = b"<IDS|MSG>"
HEALTHY_WITHIN = 2.0
BATCH = 50
RANDOM_CASES = int(os.environ.get("AK_FUZZ_RANDOM", "1500"))


@pytest.fixture(scope="module", params=["orjson", "json"])
def fuzzed_kernel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelHandle]:
    env = without_orjson() if request.param == "json" else None
    handle = start_kernel(tmp_path_factory.mktemp("fuzz"), env=env)
    yield handle
    stop_kernel(handle)


def frames_of(kernel: KernelHandle, case: Case, signed: bool = True) -> list[bytes]:
    parts = list(case.parts)
    signature = kernel.kc.session.sign(parts) if signed else b"0" * 64
    return [DELIM, signature, *parts, *case.buffers]


def send(kernel: KernelHandle, case: Case, signed: bool = True) -> None:
    channel = kernel.kc.control_channel if case.channel == "control" else kernel.kc.shell_channel
    channel.socket.send_multipart(frames_of(kernel, case, signed))


def assert_healthy(kernel: KernelHandle, after: str) -> None:
    """kernel_info and an execute, each answered within HEALTHY_WITHIN seconds."""
    start = time.monotonic()
    replies = {}
    for what, ask in (("kernel_info", kernel.kc.kernel_info), ("execute", lambda: kernel.kc.execute("40 + 2"))):
        request = ask()
        try:
            replies[what] = kernel.reply(request, timeout=HEALTHY_WITHIN)
        except TimeoutError:
            try:  # slow, or no answer at all?
                kernel.reply(request, timeout=30)
                late = f"answered after {time.monotonic() - start:.1f} s"
            except TimeoutError:
                late = "never answered"
            pytest.fail(f"after {after}: the {what} request was not answered within {HEALTHY_WITHIN} s ({late})")
    info, reply = replies["kernel_info"], replies["execute"]
    assert info["content"]["status"] == "ok"
    # an error in the batch (with stop_on_error) may abort an execute that arrived before it ran
    assert reply["content"]["status"] in ("ok", "aborted"), reply["content"]
    assert time.monotonic() - start < 2 * HEALTHY_WITHIN


def batches(cases: list[Case], size: int = BATCH) -> Iterator[list[Case]]:
    for start in range(0, len(cases), size):
        yield cases[start : start + size]


def test_every_kind_of_malformed_message(fuzzed_kernel: KernelHandle):
    cases = fixed_cases(fuzzed_kernel.kc.session.session)
    assert len(cases) > 500
    for batch in batches(cases):
        for case in batch:
            send(fuzzed_kernel, case)
        assert_healthy(fuzzed_kernel, f"cases {batch[0].name} .. {batch[-1].name}")


def test_mutated_requests(fuzzed_kernel: KernelHandle):
    cases = list(random_cases(RANDOM_CASES, seed=8, session=fuzzed_kernel.kc.session.session))
    rng = random.Random(8)
    for batch in batches(cases):
        for case in batch:
            send(fuzzed_kernel, case, signed=rng.random() > 0.1)
        assert_healthy(fuzzed_kernel, f"cases {batch[0].name} .. {batch[-1].name}")


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [b""],
        [b"no delimiter at all"],
        [DELIM],
        [DELIM, b"", b"{}"],
        [b"ident"] * 100 + [DELIM, b"", b"{}", b"{}", b"{}", b"{}"],
        [DELIM, DELIM, DELIM, DELIM, DELIM, DELIM],
        [DELIM, b"x" * 1_000_000, b"{}", b"{}", b"{}", b"{}"],
    ],
    ids=[
        "no-frames",
        "one-empty",
        "no-delimiter",
        "only-delimiter",
        "too-few",
        "many-idents",
        "delimiters",
        "long-sig",
    ],
)
def test_wrong_frame_counts(kernel: KernelHandle, frames: list[bytes]):
    if frames:
        kernel.kc.shell_channel.socket.send_multipart(frames)
    else:  # a message of zero frames cannot be sent; an empty one is the nearest
        kernel.kc.shell_channel.socket.send(b"")
    assert_healthy(kernel, f"frames {frames[:3]!r}")


def test_a_replayed_message_runs_once(kernel: KernelHandle, tmp_path: Path):
    counter = tmp_path / "runs"
    msg = kernel.kc.session.msg("execute_request", {"code": f"open({str(counter)!r}, 'a').write('x')", "silent": False})
    frames = kernel.kc.session.serialize(msg)
    for _ in range(3):
        kernel.kc.shell_channel.socket.send_multipart(frames)
    reply = kernel.reply(msg["header"]["msg_id"])
    assert reply["content"]["status"] == "ok"
    assert_healthy(kernel, "the replays")
    assert counter.read_text() == "x"


def test_a_replayed_message_on_another_channel_is_refused_too(kernel: KernelHandle, tmp_path: Path):
    counter = tmp_path / "runs"
    msg = kernel.kc.session.msg("execute_request", {"code": f"open({str(counter)!r}, 'a').write('x')", "silent": False})
    frames = kernel.kc.session.serialize(msg)
    kernel.kc.shell_channel.socket.send_multipart(frames)
    kernel.reply(msg["header"]["msg_id"])
    kernel.kc.control_channel.socket.send_multipart(frames)
    assert_healthy(kernel, "the replay on control")
    assert counter.read_text() == "x"
