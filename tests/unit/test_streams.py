"""OutStream's guarantees (async_kernel.streams), with a recording publish and timers fired by hand."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from async_kernel import context, interrupts
from async_kernel.streams import OutStream
from hypothesis import given, settings
from hypothesis import strategies as st

P1 = {"header": {"msg_id": "p1"}}
P2 = {"header": {"msg_id": "p2"}}
# text with lone surrogates, NUL and non-BMP characters: everything a Python str can hold
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)


class Recorder:
    """The stream's injected dependencies: a publish and a schedule that only record."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, object]] = []
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def publish(self, name: str, text: str, parent: object) -> None:
        with self._lock:
            self.published.append((name, text, parent))

    def schedule(self, delay: float, func: Callable[[], None]) -> None:
        with self._lock:
            self.timers.append((delay, func))

    def fire(self) -> None:
        """Run the timers scheduled so far, as the timer thread would when they are due."""
        timers, self.timers = self.timers, []
        for _, func in timers:
            func()

    def texts(self) -> list[str]:
        return [text for _, text, _ in self.published]


@contextmanager
def parent(msg: object) -> Iterator[None]:
    token = context.parent.set(msg)
    try:
        yield
    finally:
        context.parent.reset(token)


@pytest.fixture(autouse=True)
def _no_fallback_parent(monkeypatch):
    monkeypatch.setattr(context, "_last_execute", [None])


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make(rec: Recorder, **kwargs) -> OutStream:
    return OutStream("stdout", rec.publish, rec.schedule, **kwargs)


def test_writes_coalesce_into_one_message_per_run_of_writes_sharing_a_parent(rec):
    stream = make(rec)
    with parent(P1):
        stream.write("a")
        stream.write("b")
    with parent(P2):
        stream.write("c")
        print("d", file=stream)
    with parent(P1):
        stream.writelines(["e", "f"])
    stream.write("g")  # no parent
    assert rec.published == []
    assert len(rec.timers) == 1
    rec.fire()
    assert rec.published == [("stdout", "ab", P1), ("stdout", "cd\n", P2), ("stdout", "ef", P1), ("stdout", "g", None)]


def test_parents_are_told_apart_by_identity(rec):
    stream = make(rec)
    twin = {"header": {"msg_id": "p1"}}  # equal to P1, another request object
    with parent(P1):
        stream.write("a")
    with parent(twin):
        stream.write("b")
    stream.flush_now()
    assert [(text, p) for _, text, p in rec.published] == [("a", P1), ("b", twin)]
    assert rec.published[1][2] is twin


def test_output_without_a_parent_goes_to_the_last_execute_request(rec, monkeypatch):
    last = {"header": {"msg_id": "last"}}
    context.set_last_execute(last)
    stream = make(rec)
    stream.write("from a thread of the user's")
    with parent(P1):
        stream.write("from a request")
    stream.flush_now()
    assert [p for _, _, p in rec.published] == [last, P1]


def test_the_timer_is_scheduled_with_the_interval_and_sends(rec):
    stream = make(rec, interval=0.25)
    with parent(P1):
        assert stream.write("hello") == 5
    assert [delay for delay, _ in rec.timers] == [0.25]
    rec.fire()
    assert rec.published == [("stdout", "hello", P1)]


def test_only_one_timer_is_scheduled_at_a_time(rec):
    stream = make(rec)
    with parent(P1):
        for _ in range(100):
            stream.write("x")
        stream.flush()  # sends now (nothing sent yet) and leaves the timer be
        stream.write("y")
        stream.flush()  # within the interval: waits for the timer already scheduled
    assert len(rec.timers) == 1
    rec.fire()
    assert rec.texts() == ["x" * 100, "y"]
    rec.fire()  # nothing new was scheduled
    assert rec.texts() == ["x" * 100, "y"]
    with parent(P1):
        stream.write("z")  # the timer ran: a new one
    assert len(rec.timers) == 1
    rec.fire()
    assert rec.texts() == ["x" * 100, "y", "z"]


def test_a_timer_that_finds_nothing_sends_nothing(rec):
    stream = make(rec)
    with parent(P1):
        stream.write("a")
    stream.flush_now()
    rec.fire()
    assert rec.texts() == ["a"]
    stream.write("b")
    assert len(rec.timers) == 1  # the empty timer cleared the flag


def test_max_buffer_sends_at_once(rec):
    stream = make(rec, max_buffer=10)
    with parent(P1):
        stream.write("1234")
        assert rec.published == []
        stream.write("567890")  # 10 characters: full
        assert rec.published == [("stdout", "1234567890", P1)]
        stream.write("x" * 25)  # one write larger than the buffer
        assert rec.texts() == ["1234567890", "x" * 25]
        stream.write("a")
    rec.fire()
    assert rec.texts() == ["1234567890", "x" * 25, "a"]


def test_flush_sends_at_once_once_the_interval_has_passed(rec, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("async_kernel.streams.time", SimpleNamespace(monotonic=lambda: now[0]))
    stream = make(rec, interval=0.05)
    stream.flush()  # nothing buffered: nothing to do
    assert rec.published == [] and rec.timers == []
    with parent(P1):
        stream.write("a")
        stream.flush()  # nothing was ever sent
        assert rec.texts() == ["a"]
        now[0] += 0.01
        stream.write("b")
        stream.flush()  # 10 ms after a send: left to the timer
        assert rec.texts() == ["a"]
        now[0] += 0.03
        stream.flush()  # 40 ms: still within the interval
        assert rec.texts() == ["a"]
        now[0] += 0.02
        stream.flush()  # 60 ms: at once
        assert rec.texts() == ["a", "b"]
    assert len(rec.timers) == 1  # the one the first write scheduled


def test_a_loop_of_flushed_prints_makes_one_message_per_interval(rec, monkeypatch):
    now = [0.0]
    monkeypatch.setattr("async_kernel.streams.time", SimpleNamespace(monotonic=lambda: now[0]))
    stream = make(rec, interval=0.05)
    with parent(P1):
        for i in range(100):  # 100 prints over 100 ms
            print(i, file=stream, flush=True)
            now[0] += 0.001
    rec.fire()
    assert "".join(rec.texts()) == "".join(f"{i}\n" for i in range(100))
    assert len(rec.published) <= 4


def test_flush_now_sends_everything(rec):
    stream = make(rec)
    with parent(P1):
        stream.write("a")
    with parent(P2):
        stream.write("b")
    stream.flush_now()
    assert rec.published == [("stdout", "a", P1), ("stdout", "b", P2)]
    stream.flush_now()
    assert len(rec.published) == 2
    rec.fire()
    assert len(rec.published) == 2


def test_write_refuses_anything_but_str(rec):
    stream = make(rec)
    for value in (b"bytes", None, 1, ["a"]):
        with pytest.raises(TypeError, match="must be str"):
            stream.write(value)
    assert stream.write("") == 0
    assert rec.timers == [] and rec.published == []


def test_fileno(rec):
    with pytest.raises(io.UnsupportedOperation):
        make(rec).fileno()
    assert make(rec, fileno=7).fileno() == 7


def test_stream_attributes(rec):
    stream = OutStream("stderr", rec.publish, rec.schedule)
    assert stream.name == "stderr"
    assert stream.encoding == "utf-8"
    assert stream.writable() and not stream.readable() and not stream.isatty()
    stream.write("err")
    stream.flush_now()
    assert rec.published == [("stderr", "err", None)]


@pytest.mark.parametrize("max_buffer", [1 << 16, 64], ids=["timer", "small-buffer"])
def test_concurrent_writers_lose_nothing_and_keep_their_order(rec, max_buffer):
    stream = make(rec, max_buffer=max_buffer)
    threads, lines = 8, 300
    parents = [{"header": {"msg_id": f"thread-{t}"}} for t in range(threads)]
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            context.parent.set(parents[t])
            barrier.wait(5)
            for i in range(lines):
                stream.write(f"{t}:{i}\n")
                if i % 50 == 0:
                    stream.flush()
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert not errors
    assert not any(worker.is_alive() for worker in workers)
    rec.fire()
    stream.flush_now()
    by_parent: dict[str, str] = {}
    for name, text, p in rec.published:
        assert name == "stdout"
        assert p is not None
        by_parent[p["header"]["msg_id"]] = by_parent.get(p["header"]["msg_id"], "") + text
    for t in range(threads):
        assert by_parent[f"thread-{t}"] == "".join(f"{t}:{i}\n" for i in range(lines))


def test_an_interrupt_while_publishing_is_held_until_everything_is_published(rec):
    published: list[str] = []

    def publish(name: str, text: str, parent_msg: object) -> None:
        if not published:
            interrupts.raise_or_defer()  # SIGINT lands in the middle of a flush
        published.append(text)

    stream = OutStream("stdout", publish, rec.schedule)
    with parent(P1):
        stream.write("a")
    with parent(P2):
        stream.write("b")
    with pytest.raises(KeyboardInterrupt):
        stream.flush_now()
    assert published == ["a", "b"]
    stream.flush_now()
    assert published == ["a", "b"]


def test_an_interrupt_while_scheduling_leaves_the_timer_scheduled(rec):
    def schedule(delay: float, func: Callable[[], None]) -> None:
        interrupts.raise_or_defer()  # SIGINT lands between setting the flag and scheduling
        rec.schedule(delay, func)

    stream = OutStream("stdout", rec.publish, schedule)
    with parent(P1), pytest.raises(KeyboardInterrupt):
        stream.write("a")
    assert len(rec.timers) == 1  # the flag says "scheduled", and it is
    rec.fire()
    assert rec.published == [("stdout", "a", P1)]


class ObservedLock:
    """A lock that calls ``on_acquire`` when a thread starts to take it, so a test knows without sleeping."""

    def __init__(self, on_acquire: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._on_acquire = on_acquire

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> None:
        self._on_acquire()
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


def test_flush_now_waits_for_text_another_thread_is_publishing():
    """The kernel flushes before idle; text a timer took from the buffer a moment earlier must not come after idle."""
    events: list[str] = []
    publishing, release = threading.Event(), threading.Event()
    kernel_flushing = threading.Event()  # the kernel's flush reached the lock, or returned without it

    def publish(name: str, text: str, parent: object) -> None:
        if text == "first\n":
            publishing.set()
            assert release.wait(10)
        events.append(f"published {text}")

    def kernel_flush() -> None:
        stream.flush_now()
        events.append("flushed before idle")
        kernel_flushing.set()

    kernel = threading.Thread(target=kernel_flush)
    stream = OutStream("stdout", publish, lambda delay, func: None)
    stream._send_lock = ObservedLock(lambda: threading.current_thread() is kernel and kernel_flushing.set())  # type: ignore[assignment]
    stream.write("first\n")  # a whole line: a line this thread is in the middle of waits for its end
    timer = threading.Thread(target=stream.flush_now)  # as the output timer does
    timer.start()
    assert publishing.wait(10)  # the timer took "first" from the buffer and is publishing it
    kernel.start()
    assert kernel_flushing.wait(10)
    release.set()
    timer.join(10)
    kernel.join(10)
    assert events == ["published first\n", "flushed before idle"]


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(["write", "flush", "flush_now", "timer"]), texts), max_size=40))
def test_output_is_published_whole_and_in_order(steps: list[tuple[str, str]]):
    """However writes, flushes and timers interleave, every character is published once, in order."""
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
