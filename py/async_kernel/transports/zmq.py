"""The native transport: the five ZMQ sockets of a Jupyter connection file.

One I/O thread owns the shell, control and stdin sockets and every send: other threads hand it
serialized frames through a deque and wake it through a pipe, so no socket is touched by two threads and
a KeyboardInterrupt raised in the main thread can never leave a half-sent multipart message. Heartbeats
are echoed by a ZMQ device in a thread of their own, so they keep answering while Python is busy.

Incoming messages are verified (HMAC-SHA256 over header, parent header, metadata and content) before
anything else; a message with a wrong or missing signature is dropped and logged.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import hmac
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

from ..protocol import Channel, Message, RemoteProtocolError, dumps, loads

if TYPE_CHECKING:
    from ..kernel import Kernel

log = logging.getLogger("async_kernel")

DELIM = b"<IDS|MSG>"

# Plain ints: pyzmq's send_multipart/recv_multipart combine enum flags per frame, which costs more than the
# sends themselves at thousands of messages a second.
_SNDMORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)
_NOBLOCK = int(zmq.NOBLOCK)


def send_frames(sock: zmq.Socket[bytes], frames: list[Any]) -> None:
    """``sock.send_multipart(frames)``, without per-frame flag arithmetic."""
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        sock.send(frame, _SNDMORE if i < last else 0)


def recv_frames(sock: zmq.Socket[bytes]) -> list[bytes]:
    """``sock.recv_multipart(NOBLOCK)``; raises zmq.Again when nothing is waiting."""
    frames = [sock.recv(_NOBLOCK)]
    while sock.get(_RCVMORE):
        frames.append(sock.recv())
    return frames


class Signer:
    """Signs and verifies messages as the connection file's key and scheme say."""

    def __init__(self, key: bytes, scheme: str = "hmac-sha256") -> None:
        if key and scheme != "hmac-sha256":
            raise ValueError(f"unsupported signature_scheme {scheme!r}; async-kernel supports hmac-sha256")
        self._key = key

    def sign(self, parts: list[bytes]) -> bytes:
        if not self._key:
            return b""
        return hmac.digest(self._key, b"".join(parts), "sha256").hex().encode()

    def verify(self, signature: bytes, parts: list[bytes]) -> bool:
        if not self._key:
            return True
        return hmac.compare_digest(signature, self.sign(parts))


def serialize(msg: Message, signer: Signer) -> list[Any]:
    """Message -> multipart frames, identities first."""
    parts = [dumps(msg["header"]), dumps(msg["parent_header"]), dumps(msg["metadata"]), dumps(msg["content"])]
    return [*msg.get("idents", []), DELIM, signer.sign(parts), *parts, *msg.get("buffers", [])]


def deserialize(frames: list[bytes], signer: Signer) -> dict[str, Any]:
    """Multipart frames -> a message dict with ``idents``; raises RemoteProtocolError on bad input."""
    try:
        split = frames.index(DELIM)
    except ValueError:
        raise RemoteProtocolError("no <IDS|MSG> delimiter in the frames") from None
    idents, rest = frames[:split], frames[split + 1 :]
    if len(rest) < 5:
        raise RemoteProtocolError(f"expected at least 5 frames after the delimiter, got {len(rest)}")
    signature, parts = rest[0], rest[1:5]
    if not signer.verify(signature, parts):
        raise RemoteProtocolError("invalid or missing signature")
    try:
        header, parent, metadata, content = (loads(part) for part in parts)
    except ValueError as exc:
        raise RemoteProtocolError(f"invalid JSON: {exc}") from None
    return {
        "header": header,
        "parent_header": parent,
        "metadata": metadata,
        "content": content,
        "buffers": rest[5:],
        "idents": idents,
    }


class Timers:
    """Delayed calls on one daemon thread (for flushing coalesced output)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="async-kernel-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, func: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._counter), func))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, func = heapq.heappop(self._heap)
            try:
                func()
            except Exception:
                log.exception("Error in a delayed call")


def _url(info: dict[str, Any], port_name: str) -> str:
    transport = info.get("transport", "tcp")
    ip = info.get("ip", "127.0.0.1")
    port = info[port_name]
    if transport == "ipc":
        return f"ipc://{ip}-{port}"
    return f"{transport}://{ip}:{port}"


class ZmqTransport:
    """Serves a kernel over the sockets a connection file describes."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.signer = Signer(str(info.get("key", "")).encode(), info.get("signature_scheme", "hmac-sha256"))
        self.context = zmq.Context()
        self.sockets: dict[str, zmq.Socket[bytes]] = {}
        for name, kind in (
            ("shell", zmq.ROUTER),
            ("control", zmq.ROUTER),
            ("stdin", zmq.ROUTER),
            ("iopub", zmq.PUB),
        ):
            sock = self.context.socket(kind)
            sock.linger = 1000
            if kind == zmq.ROUTER:
                sock.router_handover = 1
            sock.bind(_url(info, f"{name}_port"))
            self.sockets[name] = sock
        self._heartbeat = self.context.socket(zmq.ROUTER)
        self._heartbeat.linger = 0
        self._heartbeat.bind(_url(info, "hb_port"))
        self._outbox: collections.deque[tuple[str, list[Any]]] = collections.deque()
        # Set by senders before they write a wake-up byte, cleared by the I/O thread after it drained the
        # pipe and before it drains the outbox: a message appended later either sees False and writes, or
        # sees True set by a sender whose byte is still in the pipe.
        self._wake_pending = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stdin_replies: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._timers = Timers()
        self._running = False
        self._io_thread: threading.Thread | None = None
        self._kernel: Kernel | None = None

    # -- Transport interface -----------------------------------------------------------------------
    def send(self, channel: Channel, msg: Message) -> None:
        if channel == "iopub":
            topic = f"kernel.{msg['header']['msg_type']}".encode()
            msg = {**msg, "idents": [topic]}  # type: ignore[typeddict-item]
        self._outbox.append((channel, serialize(msg, self.signer)))
        if not self._wake_pending:  # one wake-up byte per batch: each write costs a GIL hand-over
            self._wake_pending = True
            with contextlib.suppress(BlockingIOError):  # a full pipe means a wake-up is pending anyway
                os.write(self._wake_w, b"\0")

    def request_input(self, msg: Message) -> Message:
        while True:  # drop replies to earlier, abandoned requests
            try:
                self._stdin_replies.get_nowait()
            except queue.Empty:
                break
        self.send("stdin", msg)
        return self._stdin_replies.get()

    def call_later(self, delay: float, func: Callable[[], None]) -> None:
        self._timers.call_later(delay, func)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, kernel: Kernel) -> None:
        """Start the I/O and heartbeat threads; messages go to ``kernel.receive`` from then on."""
        self._kernel = kernel
        self._running = True
        self._io_thread = threading.Thread(target=self._io_loop, name="async-kernel-io", daemon=True)
        self._io_thread.start()
        threading.Thread(target=self._heartbeat_loop, name="async-kernel-heartbeat", daemon=True).start()

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued, then stop the I/O thread and close the sockets."""
        self._running = False
        os.write(self._wake_w, b"\0")
        if self._io_thread is not None:
            self._io_thread.join(timeout)
        for sock in self.sockets.values():
            sock.close()
        self.context.destroy(linger=0)

    # -- internals ---------------------------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        try:
            zmq.device(zmq.QUEUE, self._heartbeat, self._heartbeat)
        except zmq.ZMQError as exc:
            if self._running:  # otherwise the sockets were closed on purpose
                log.error("Heartbeat stopped: %s", exc)

    def _io_loop(self) -> None:
        poller = zmq.Poller()
        inputs = {self.sockets[name]: name for name in ("control", "shell", "stdin")}
        for sock in inputs:
            poller.register(sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        while True:
            ready = dict(poller.poll())
            for sock, name in inputs.items():
                if sock in ready:
                    self._drain(sock, name)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 65536):
                        pass
                self._wake_pending = False
            self._flush_outbox()
            if not self._running:
                self._flush_outbox()
                return

    def _flush_outbox(self) -> None:
        outbox = self._outbox
        sockets = self.sockets
        while outbox:
            channel, frames = outbox.popleft()
            try:
                send_frames(sockets[channel], frames)
            except zmq.ZMQError as exc:
                log.error("Could not send a %s message: %s", channel, exc)

    def _drain(self, sock: zmq.Socket[bytes], name: str) -> None:
        assert self._kernel is not None
        while True:
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            try:
                msg = deserialize(frames, self.signer)
            except RemoteProtocolError as exc:
                log.error("Dropped a message on %s: %s", name, exc)
                continue
            if name == "stdin":
                if isinstance(msg.get("header"), dict) and msg["header"].get("msg_type") == "input_reply":
                    self._stdin_replies.put(msg)  # type: ignore[arg-type]
                else:
                    log.warning("Ignored a stdin message that is not an input_reply")
                continue
            self._kernel.receive(name, msg)
