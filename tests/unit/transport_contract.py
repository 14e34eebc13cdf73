"""One conformance check of the transport contract, run against every transport.

Modelled on trio's ``trio/testing/_check_streams.py``: the checks know nothing of sockets or JavaScript. Each
transport gets a :class:`TransportAdapter` (its front end's side plus the kernel's ``receive``) and every
``check_*`` function here runs against every adapter, so the transports cannot drift apart.

The contract, as the core relies on it:

1. A message the front end sends on shell or control reaches ``receive`` once, with its channel name,
   header, parent header, metadata, content and buffers (``bytes``) intact; a reply the core sends with the
   request's ``idents`` reaches the client that sent the request.
2. ``send`` is thread-safe and keeps each sender's order: concurrent senders interleave, never reorder.
3. ``request_input`` (from a thread that is not the transport's) sends an ``input_request`` on stdin and
   returns the front end's ``input_reply``.
4. Bad input never reaches ``receive`` and never stops the transport: it is logged on the ``async_kernel``
   logger and the next good message still arrives. Nor does a ``receive`` that raises stop it.
5. Binary buffers survive both directions byte for byte (bytes, bytearray and typed memoryviews going out).

Every wait is bounded by :data:`TIMEOUT`; absence is checked with a sentinel message, never with a sleep.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import queue
import random
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from async_kernel.protocol import Message, Session

#: seconds any single wait may take before the check fails
TIMEOUT = 5.0
SENDERS = 4
#: iopub messages each sender sends in the ordering check
PER_SENDER = 500
#: shell replies each sender sends in the ordering check (a client rarely has more outstanding)
REPLIES_PER_SENDER = 100
#: shell replies each sender sends while the client reads nothing (beyond ZMQ's default high-water marks)
UNREAD_PER_SENDER = 750

#: a content that exercises JSON: non-ASCII text, nesting, numbers at the edges of 64 bits, null and booleans
CONTENT: dict[str, Any] = {
    "code": "print('héllo ✓ 🐍')\n\t\\ \"quoted\"",
    "nested": {"list": [1, 2.5, -3, None, True, False, "", {"deep": [[[]]]}]},
    "big": 2**63 - 1,
    "small": -(2**63),
    "empty": {},
}
#: buffers from the front end: empty, every byte value, NULs, one large random block
BUFFERS_IN: list[bytes] = [b"", bytes(range(256)), b"\x00" * 7, random.Random(5).randbytes(1 << 20)]


class BadInput(NamedTuple):
    """Something malformed a front end can send, and the channel a good message should still arrive on after it."""

    name: str
    inject: Callable[[], None]
    channel: str = "shell"


class TransportAdapter(abc.ABC):
    """The front end's side of one transport, plus the kernel's ``receive`` the transport delivers to.

    A subclass creates and starts ``transport`` with :meth:`receive` and implements the client's half.
    ``n_clients`` front ends are connected (several only where the wire routes replies by identity).
    """

    transport: Any
    n_clients: int = 1

    def __init__(self) -> None:
        self._received: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self._fail_next = threading.Event()

    # -- the kernel's side -------------------------------------------------------------------------
    def receive(self, channel: str, msg: dict[str, Any]) -> None:
        """What the transport delivers to; raises once after :meth:`fail_next_receive`."""
        if self._fail_next.is_set():
            self._fail_next.clear()
            raise RuntimeError("receive failed on purpose (transport contract check)")
        self._received.put((channel, msg))

    def fail_next_receive(self) -> None:
        self._fail_next.set()

    def kernel_recv(self, timeout: float = TIMEOUT) -> tuple[str, dict[str, Any]]:
        """The next ``(channel, msg)`` the transport delivered to ``receive``."""
        try:
            return self._received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"receive got nothing within {timeout} s") from None

    # -- the front end's side ----------------------------------------------------------------------
    @abc.abstractmethod
    def client_send(self, channel: str, msg: dict[str, Any], buffers: Sequence[bytes] = (), client: int = 0) -> None:
        """Send ``msg`` (header, parent_header, metadata, content) with ``buffers`` as front end ``client``."""

    @abc.abstractmethod
    def client_recv(self, channel: str, timeout: float = TIMEOUT, client: int = 0) -> dict[str, Any]:
        """The next message front end ``client`` got on ``channel``: header, parent_header, metadata,
        content and buffers (a list of bytes). Raises AssertionError after ``timeout`` seconds."""

    @abc.abstractmethod
    def bad_inputs(self) -> list[BadInput]:
        """The malformed input this wire can carry; each must be logged and dropped."""

    def answer_input(self, value: str, client: int = 0, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Wait for an ``input_request`` on stdin, answer it with ``value``; return the request."""
        request = self.client_recv("stdin", timeout, client)
        reply = CLIENT.msg("input_reply", {"value": value}, parent=request)  # type: ignore[arg-type]
        self.client_send("stdin", reply, client=client)
        return request


#: the parts of a message every transport carries as JSON
WIRE_KEYS = ("header", "parent_header", "metadata", "content")
CLIENT = Session("front-end-session", "front-end-user")
KERNEL = Session("kernel-session", "kernel")


# -- helpers ---------------------------------------------------------------------------------------


def _wire(msg: dict[str, Any]) -> dict[str, Any]:
    return {key: msg[key] for key in WIRE_KEYS}


def _assert_intact(sent: dict[str, Any], buffers: Sequence[Any], got: dict[str, Any]) -> None:
    assert _wire(got) == _wire(sent), "the message changed on the way"
    assert all(isinstance(b, bytes) for b in got["buffers"]), [type(b) for b in got["buffers"]]
    assert got["buffers"] == [_as_bytes(b) for b in buffers], "the buffers changed on the way"


def _as_bytes(buffer: Any) -> bytes:
    return memoryview(buffer).tobytes()


def _reply(request: dict[str, Any], msg_type: str, content: dict[str, Any], buffers: Any = None) -> Message:
    """What the core sends in answer to ``request``: parented, with the request's routing ``idents``."""
    reply = KERNEL.msg(msg_type, content, parent=request, buffers=buffers)  # type: ignore[arg-type]
    reply["idents"] = request.get("idents", [])
    return reply


def _request(adapter: TransportAdapter, channel: str, msg_type: str = "kernel_info_request", client: int = 0) -> dict:
    """Send a request as front end ``client``; return it as ``receive`` got it (with its ``idents``)."""
    sent = CLIENT.msg(msg_type, {"client": client})
    adapter.client_send(channel, sent, client=client)  # type: ignore[arg-type]
    got_channel, got = adapter.kernel_recv()
    assert (got_channel, got["header"]) == (channel, sent["header"])
    return got


def _expect_next(adapter: TransportAdapter, channel: str) -> None:
    """Send a sentinel on ``channel``: it must be the next thing ``receive`` gets (nothing came in between)."""
    sentinel = CLIENT.msg("sentinel_request", {})
    adapter.client_send(channel, sentinel)  # type: ignore[arg-type]
    got_channel, got = adapter.kernel_recv()
    assert (got_channel, got["header"]) == (channel, sentinel["header"]), (
        f"receive got {got_channel}/{got['header'].get('msg_type')!r} before the sentinel"
    )


def _in_thread(func: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``func`` in a daemon thread; return a function that waits (bounded) for its result or exception."""
    outcome: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, func()))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name="contract-caller", daemon=True).start()

    def result() -> Any:
        assert done.wait(TIMEOUT), f"{getattr(func, '__name__', func)} did not return within {TIMEOUT} s"
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    return result


class _Records(logging.Handler):
    """Warnings and errors of the ``async_kernel`` logger, waitable (the I/O thread logs asynchronously)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def wait_for_more_than(self, count: int, what: str) -> logging.LogRecord:
        with self._changed:
            logged = self._changed.wait_for(lambda: len(self.records) > count, TIMEOUT)
        assert logged, f"{what}: nothing logged on 'async_kernel' within {TIMEOUT} s"
        return self.records[count]


@contextlib.contextmanager
def _logged() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger("async_kernel")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


# -- the checks ------------------------------------------------------------------------------------


def check_delivery(adapter: TransportAdapter) -> None:
    """Shell and control messages reach ``receive`` once, on their channel, every part intact."""
    for channel in ("shell", "control"):
        parent = CLIENT.msg("execute_request", {})
        sent = CLIENT.msg(f"{channel}_probe_request", CONTENT, parent=parent, metadata={"ünï": ["code", 1]})  # type: ignore[arg-type]
        adapter.client_send(channel, sent, BUFFERS_IN[:3])  # type: ignore[arg-type]
        got_channel, got = adapter.kernel_recv()
        assert got_channel == channel
        _assert_intact(sent, BUFFERS_IN[:3], got)  # type: ignore[arg-type]
        _expect_next(adapter, channel)  # once: no duplicate came after it


def check_replies_reach_their_client(adapter: TransportAdapter) -> None:
    """A reply carrying its request's ``idents`` reaches the client that sent the request, and only it."""
    for channel in ("shell", "control"):
        requests = [_request(adapter, channel, client=k) for k in range(adapter.n_clients)]
        for request in reversed(requests):  # answered in the other order than asked
            adapter.transport.send(channel, _reply(request, "kernel_info_reply", {"status": "ok"}))
        for k, request in enumerate(requests):
            got = adapter.client_recv(channel, client=k)
            assert got["header"]["msg_type"] == "kernel_info_reply"
            assert got["parent_header"] == request["header"], f"client {k} got another client's {channel} reply"
            assert got["buffers"] == []


def _send_concurrently(
    adapter: TransportAdapter, channel: str, request: dict[str, Any], per_sender: int, read_timeout: float = TIMEOUT
) -> None:
    """:data:`SENDERS` threads send ``per_sender`` messages each, all at once, while the client reads nothing;
    then the client must get every one, each sender's in order, and nothing more."""
    start = threading.Barrier(SENDERS)

    def sender(number: int) -> None:
        start.wait(TIMEOUT)
        for seq in range(per_sender):
            adapter.transport.send(channel, _reply(request, "stream", {"sender": number, "seq": seq}))

    for result in [_in_thread(lambda n=n: sender(n)) for n in range(SENDERS)]:
        result()  # send never waits for the client
    last = _reply(request, "last", {})
    adapter.transport.send(channel, last)
    seen: dict[int, list[int]] = {n: [] for n in range(SENDERS)}
    for count in range(SENDERS * per_sender):
        try:
            got = adapter.client_recv(channel, read_timeout)
        except AssertionError:
            raise AssertionError(f"{channel}: the client got {count} of {SENDERS * per_sender} messages") from None
        assert got["header"]["msg_type"] == "stream", f"{channel}: got {got['header']['msg_type']!r} after {count}"
        seen[got["content"]["sender"]].append(got["content"]["seq"])
    for number, seqs in seen.items():
        assert seqs == list(range(per_sender)), f"{channel}: sender {number}'s messages arrived out of order"
    assert adapter.client_recv(channel, read_timeout)["header"] == last["header"], f"{channel}: more than was sent"


def check_send_order(adapter: TransportAdapter) -> None:
    """Concurrent senders on iopub, and of shell replies, each keep their order; nothing is lost or duplicated."""
    request = _request(adapter, "shell", "execute_request")
    _send_concurrently(adapter, "iopub", request, PER_SENDER)
    _send_concurrently(adapter, "shell", request, REPLIES_PER_SENDER)


def check_unread_replies_are_kept(adapter: TransportAdapter) -> None:
    """A client that reads its shell replies late still gets every one (as iopub keeps every message).

    Each request has one reply, so what waits is bounded by what the client asked for.
    """
    _send_concurrently(adapter, "shell", _request(adapter, "shell", "execute_request"), UNREAD_PER_SENDER, 0.5)


def check_request_input(adapter: TransportAdapter) -> None:
    """``request_input`` from another thread: the front end gets the request, the caller its answer."""
    execute = _request(adapter, "shell", "execute_request")
    for value, password in [("Ada Lovelace ✓", False), ("", True), ('line\twith \\ and "', False)]:
        request = _reply(execute, "input_request", {"prompt": f"? {password}", "password": password})
        result = _in_thread(lambda request=request: adapter.transport.request_input(request))
        got_request = adapter.answer_input(value)
        assert got_request["header"] == request["header"]
        assert got_request["parent_header"] == execute["header"]
        assert got_request["content"] == {"prompt": f"? {password}", "password": password}
        reply = result()
        assert reply["header"]["msg_type"] == "input_reply"
        assert reply["content"] == {"value": value}
        assert reply["parent_header"] == request["header"]
    _expect_next(adapter, "shell")  # the input replies never reached receive


def check_bad_input_is_dropped(adapter: TransportAdapter) -> None:
    """Malformed input is logged and dropped, and the next good message still arrives."""
    bad_inputs = adapter.bad_inputs()
    assert bad_inputs, "an adapter must say what bad input its wire can carry"
    with _logged() as logs:
        for bad in bad_inputs:
            before = len(logs.records)
            bad.inject()
            logs.wait_for_more_than(before, bad.name)
            _expect_next(adapter, bad.channel)


def check_receive_errors_do_not_stop_it(adapter: TransportAdapter) -> None:
    """A ``receive`` that raises is logged; the transport goes on delivering."""
    with _logged() as logs:
        for channel in ("shell", "control"):
            before = len(logs.records)
            adapter.fail_next_receive()
            adapter.client_send(channel, CLIENT.msg("doomed_request", {}))  # type: ignore[arg-type]
            record = logs.wait_for_more_than(before, f"a receive that raised on {channel}")
            assert record.levelno >= logging.ERROR
            _expect_next(adapter, channel)


def check_buffers(adapter: TransportAdapter) -> None:
    """Binary buffers survive both directions, byte for byte, whatever buffer type the core sends."""
    sent = CLIENT.msg("comm_msg", {"data": {"method": "update"}})
    adapter.client_send("shell", sent, BUFFERS_IN)  # type: ignore[arg-type]
    channel, request = adapter.kernel_recv()
    assert channel == "shell"
    _assert_intact(sent, BUFFERS_IN, request)  # type: ignore[arg-type]

    outgoing: list[Any] = [
        *BUFFERS_IN,
        bytearray(b"\x00\xffbytearray"),
        memoryview(b"a memoryview"),
        memoryview(array("d", [1.5, -2.25, float("inf")])),  # typed, as numpy arrays in ipywidgets are
    ]
    for channel in ("iopub", "shell"):
        reply = _reply(request, "comm_msg", {"channel": channel}, buffers=outgoing)
        adapter.transport.send(channel, reply)
        _assert_intact(reply, outgoing, adapter.client_recv(channel))  # type: ignore[arg-type]


#: every check, in the order ``check_transport`` runs them
CHECKS: tuple[Callable[[TransportAdapter], None], ...] = (
    check_delivery,
    check_replies_reach_their_client,
    check_send_order,
    check_unread_replies_are_kept,
    check_request_input,
    check_bad_input_is_dropped,
    check_receive_errors_do_not_stop_it,
    check_buffers,
)


def check_transport(make_adapter: Callable[[], contextlib.AbstractContextManager[TransportAdapter]]) -> None:
    """Run every check, each on a fresh adapter from ``make_adapter``."""
    for check in CHECKS:
        with make_adapter() as adapter:
            check(adapter)
