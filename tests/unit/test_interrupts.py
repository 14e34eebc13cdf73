"""async_kernel.interrupts: a KeyboardInterrupt waits for the end of the outermost critical section."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable

import pytest
from async_kernel import interrupts
from async_kernel.interrupts import deferred, raise_or_defer


def test_raises_at_once_outside_a_section():
    with pytest.raises(KeyboardInterrupt):
        raise_or_defer()


def test_held_inside_a_section_and_raised_when_it_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt), deferred:
        raise_or_defer()
        reached.append("after the interrupt")
    assert reached == ["after the interrupt"]


def test_nested_sections_raise_when_the_outermost_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt), deferred:
        with deferred:
            with deferred:
                raise_or_defer()
            reached.append("inner ended")
        reached.append("middle ended")
        raise_or_defer()  # a second interrupt in the same section: still one KeyboardInterrupt
        reached.append("outer body ended")
    assert reached == ["inner ended", "middle ended", "outer body ended"]


def test_the_interrupt_replaces_an_error_in_the_section():
    with pytest.raises(KeyboardInterrupt) as info, deferred:
        raise_or_defer()
        raise ValueError("an error in the section")
    assert isinstance(info.value.__context__, ValueError)


def test_an_error_leaving_an_inner_section_keeps_the_interrupt_held():
    with pytest.raises(KeyboardInterrupt) as info, deferred:
        try:
            with deferred:
                raise_or_defer()
                raise ValueError("inner")
        except ValueError:
            pass  # the inner section ends with its own error: the interrupt is still held
    assert not isinstance(info.value.__context__, ValueError)


def test_sections_are_clean_after_a_held_interrupt_was_raised():
    with pytest.raises(KeyboardInterrupt), deferred:
        raise_or_defer()
    with deferred:
        pass  # nothing pending any more
    with deferred, deferred:
        pass
    with pytest.raises(KeyboardInterrupt):
        raise_or_defer()


def test_a_section_without_an_interrupt_is_transparent():
    with deferred:
        value = 1
    assert value == 1
    with pytest.raises(ValueError, match="own error"), deferred:
        raise ValueError("own error")


def test_state_is_per_thread():
    inside = threading.Event()
    release = threading.Event()
    outcome: list[str] = []

    def other() -> None:
        with deferred:
            inside.set()
            release.wait(5)
        outcome.append("other thread ended its section")

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert inside.wait(5)
        # another thread's open section does not hold this thread's interrupt
        with pytest.raises(KeyboardInterrupt):
            raise_or_defer()
    finally:
        release.set()
        thread.join(5)
    assert outcome == ["other thread ended its section"]

    def pending_elsewhere() -> None:
        with deferred:
            try:
                raise_or_defer()
            finally:
                outcome.append("held")

    def run() -> None:
        try:
            pending_elsewhere()
        except KeyboardInterrupt:
            outcome.append("raised in its own thread")

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(5)
    assert outcome[1:] == ["held", "raised in its own thread"]
    with deferred:
        pass  # nothing leaked into this thread


@pytest.fixture
def restore_sigint():
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("restore_sigint")
def test_the_sigint_handler_asks_decide_and_honours_sections():
    answers = [True]
    frames = []

    def decide(frame) -> bool:
        frames.append(frame)
        return answers[0]

    interrupts.install_sigint_handler(decide)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert frames and frames[-1] is not None
    with pytest.raises(KeyboardInterrupt), deferred:
        signal.raise_signal(signal.SIGINT)
        frames.append("section went on")
    assert frames[-1] == "section went on"
    answers[0] = False
    signal.raise_signal(signal.SIGINT)  # declined: nothing raised
    assert len(frames) == 4


@pytest.mark.usefixtures("restore_sigint")
def test_an_error_in_decide_is_logged_not_raised(caplog):
    def decide(frame) -> bool:
        raise RuntimeError("decide failed")

    interrupts.install_sigint_handler(decide)
    with caplog.at_level(logging.ERROR, "async_kernel"):
        signal.raise_signal(signal.SIGINT)
    assert "decide failed" in caplog.text


def test_the_policy_raises_in_a_statement_holds_between_statements_and_cancels_otherwise():
    calls: list[str] = []
    policy = interrupts.SigintPolicy(lambda: calls.append("cancel"))

    def statement() -> bool:
        return policy(sys._getframe())

    def outside_statements() -> bool:
        return policy(sys._getframe())

    def cell(step: Callable[[], bool]) -> bool:
        return step()

    assert cell(statement) is False and calls == []  # not armed yet: start-up
    policy.arm(statement.__code__, cell.__code__, lambda: calls.append("hold"))
    assert cell(statement) is True and calls == []
    assert cell(outside_statements) is False and calls == ["hold", "cancel"]
    assert outside_statements() is False and calls == ["hold", "cancel", "cancel"]  # idle, or a cell awaits
