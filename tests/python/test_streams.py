"""OutStream, in-process: ordering guarantees that the kernel's busy/idle framing relies on."""

from __future__ import annotations

import threading

from async_kernel.streams import OutStream


def test_flush_now_waits_for_text_another_thread_is_publishing():
    """The kernel flushes before idle; text a timer thread took a moment earlier must not come after idle."""
    events: list[str] = []
    publishing, release = threading.Event(), threading.Event()

    def publish(name: str, text: str, parent: object) -> None:
        if text == "first":
            publishing.set()
            assert release.wait(10)
        events.append(f"published {text}")

    stream = OutStream("stdout", publish, lambda delay, func: None)
    stream.write("first")
    timer = threading.Thread(target=stream.flush_now)  # as the output timer does
    timer.start()
    assert publishing.wait(10)
    kernel = threading.Thread(target=lambda: (stream.flush_now(), events.append("flushed before idle")))
    kernel.start()
    kernel.join(0.5)  # a flush that does not wait returns at once
    release.set()
    timer.join(10)
    kernel.join(10)
    assert events == ["published first", "flushed before idle"]
