"""The native transport: the five ZMQ sockets of a Jupyter connection file.

One I/O thread owns the shell, control, stdin and iopub sockets and every send: other threads hand it
serialized frames through a deque and wake it through a pipe, so no socket is touched by two threads and
a KeyboardInterrupt raised in the main thread can never leave a half-sent multipart message. Heartbeats
are echoed by a ZMQ device in a thread of their own, so they keep answering while Python is busy.

Incoming messages are verified (HMAC-SHA256 over header, parent header, metadata and content) before
anything else; a message with a wrong or missing signature, or a signature already seen (a replay), is
dropped and logged. Nothing one message holds can stop the I/O thread: an error while decoding or routing
it is logged with the message's type and id, and the thread goes on.

Replies on shell, control and stdin are never dropped: they wait for a client that reads slowly (each holds
what that client asked for, one reply per request). Nothing is dropped on iopub silently either. It is an
XPUB socket that refuses (instead of dropping) a message a subscriber has no room for: the message waits in
the I/O thread, in order, and is retried every few milliseconds while the other sockets are served. Senders
wait for room once :data:`OUTBOX_BYTES` are queued, so a fast producer (a comm flood, a print loop) runs at
the pace its slowest reader sets and memory stays bounded. Only a subscriber that reads nothing at all for
:data:`IOPUB_STALL` seconds costs messages, and that is logged. Each new subscription gets an
``iopub_welcome`` message (protocol 5.5's way for a client to know it is connected).
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from .. import interrupts
from ..protocol import PARSE_ERRORS, Channel, Message, RemoteProtocolError, Session, dumps, loads

log = logging.getLogger("async_kernel")

DELIM = b"<IDS|MSG>"

#: bytes of serialized messages queued for the I/O thread before senders wait for room
OUTBOX_BYTES = 64 << 20
#: messages ZMQ queues for one iopub subscriber before a send is refused (then the I/O thread holds them);
#: ZMQ's default, which bounds what a subscriber that reads nothing holds in the kernel's memory (a larger
#: one measured no faster)
IOPUB_HWM = 1_000
#: seconds iopub may stay blocked by a subscriber that reads nothing before waiting messages are dropped
IOPUB_STALL = 10.0
#: how often a blocked iopub send is retried (XPUB has no "room again" event to poll for)
IOPUB_RETRY = 0.005
#: signatures remembered to refuse replays (as many as jupyter_client's Session remembers)
REPLAY_HISTORY = 1 << 16

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
    """Signs and verifies messages as the connection file's key and scheme say; refuses replays."""

    def __init__(self, key: bytes, scheme: str = "hmac-sha256", history: int = REPLAY_HISTORY) -> None:
        if key and scheme != "hmac-sha256":
            raise ValueError(f"unsupported signature_scheme {scheme!r}; async-kernel supports hmac-sha256")
        self._key = key
        self._seen: set[bytes] = set()
        self._order: collections.deque[bytes] = collections.deque()
        self._history = history

    def sign(self, parts: list[bytes]) -> bytes:
        if not self._key:
            return b""
        return hmac.digest(self._key, b"".join(parts), "sha256").hex().encode()

    def verify(self, signature: bytes, parts: list[bytes]) -> bool:
        if not self._key:
            return True
        return hmac.compare_digest(signature, self.sign(parts))

    def first_time(self, signature: bytes) -> bool:
        """Remember a verified signature; False if it was seen among the last ``history`` ones (a replay).

        Every message a client signs has a fresh msg_id and date, so the same signature twice is the same
        message sent twice. Without a key there are no signatures to tell messages apart.
        """
        if not self._key:
            return True
        if signature in self._seen:
            return False
        self._seen.add(signature)
        self._order.append(signature)
        if len(self._order) > self._history:
            self._seen.discard(self._order.popleft())
        return True


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
    if not signer.first_time(signature):
        raise RemoteProtocolError("a replayed message (its signature was seen before)")
    try:
        header, parent, metadata, content = (loads(part) for part in parts)
    except PARSE_ERRORS as exc:
        raise RemoteProtocolError(f"invalid JSON: {str(exc)[:200]}") from None
    return {
        "header": header,
        "parent_header": parent,
        "metadata": metadata,
        "content": content,
        "buffers": rest[5:],
        "idents": idents,
    }


def _url(info: dict[str, Any], port_name: str) -> str:
    transport = info.get("transport", "tcp")
    ip = info.get("ip", "127.0.0.1")
    port = info[port_name]
    if transport == "ipc":
        return f"ipc://{ip}-{port}"
    return f"{transport}://{ip}:{port}"


_SOCKETS = {"shell": zmq.ROUTER, "control": zmq.ROUTER, "stdin": zmq.ROUTER, "iopub": zmq.XPUB}


def _bind(context: zmq.Context[Any], kind: int, info: dict[str, Any], name: str) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = context.socket(kind)
    sock.linger = 1000
    if kind == zmq.ROUTER:
        sock.router_handover = 1
        # A ROUTER drops a message for a peer whose queue is full, silently: with no limit, a reply waits for a
        # client that reads slowly. It holds at most what that client asked for (one reply per request).
        sock.sndhwm = 0
    else:
        sock.sndhwm = IOPUB_HWM
        sock.setsockopt(zmq.XPUB_NODROP, 1)  # refuse, never drop, a message a subscriber has no room for
        sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscription, not only the first to a topic
    sock.bind(_url(info, f"{name}_port"))
    return sock


def _size(frames: list[Any]) -> int:
    return sum(map(len, frames))


class ZmqTransport:
    """Serves a kernel over the sockets a connection file describes."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.signer = Signer(str(info.get("key", "")).encode(), info.get("signature_scheme", "hmac-sha256"))
        self.context = zmq.Context()
        self.sockets = {name: _bind(self.context, kind, info, name) for name, kind in _SOCKETS.items()}
        self._heartbeat = self.context.socket(zmq.ROUTER)
        self._heartbeat.linger = 0
        self._heartbeat.bind(_url(info, "hb_port"))
        self._outbox: collections.deque[tuple[str, list[Any], int]] = collections.deque()
        # Set by senders before they write a wake-up byte, cleared by the I/O thread after it drained the
        # pipe and before it drains the outbox: a message appended later either sees False and writes, or
        # sees True set by a sender whose byte is still in the pipe. Setting it and writing the byte happen
        # in an interrupt-deferred section, so a KeyboardInterrupt cannot separate them.
        self._wake_pending = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # Bytes queued (outbox and iopub backlog); senders wait on ``_room`` while it exceeds OUTBOX_BYTES.
        self._room = threading.Condition(threading.Lock())
        self._queued = 0
        self._waiting = 0
        # iopub messages ZMQ refused for now (a subscriber has no room), oldest first
        self._backlog: collections.deque[tuple[list[Any], int]] = collections.deque()
        self._blocked_since: float | None = None
        self._stdin_replies: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._running = False
        self._io_thread: threading.Thread | None = None
        self._receive: Callable[[str, dict[str, Any]], None] | None = None
        self._session = Session()

    # -- Transport interface -----------------------------------------------------------------------
    def send(self, channel: Channel, msg: Message) -> None:
        if channel == "iopub":
            topic = f"kernel.{msg['header']['msg_type']}".encode()
            msg = {**msg, "idents": [topic]}  # type: ignore[typeddict-item]
        frames = serialize(msg, self.signer)
        size = _size(frames)
        with interrupts.deferred:
            if self._queued > OUTBOX_BYTES and threading.current_thread() is not self._io_thread:
                self._wait_for_room()
            with self._room:
                self._queued += size
            self._outbox.append((channel, frames, size))
            if not self._wake_pending:  # one wake-up byte per batch: each write costs a GIL hand-over
                self._wake_pending = True
                with contextlib.suppress(BlockingIOError):  # a full pipe means a wake-up is pending anyway
                    os.write(self._wake_w, b"\0")

    def _wait_for_room(self) -> None:
        """Block the sender until the I/O thread has sent enough (it always makes progress: see IOPUB_STALL)."""
        with self._room:
            self._waiting += 1
            try:
                while self._queued > OUTBOX_BYTES and self._running:
                    self._room.wait(1.0)
            finally:
                self._waiting -= 1

    def request_input(self, msg: Message) -> dict[str, Any]:
        while True:  # drop replies to earlier, abandoned requests
            try:
                self._stdin_replies.get_nowait()
            except queue.Empty:
                break
        self.send("stdin", msg)
        return self._stdin_replies.get()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, receive: Callable[[str, dict[str, Any]], None], session: Session) -> None:
        """Start the I/O and heartbeat threads; messages go to ``receive(channel, msg)`` from then on.

        ``session`` stamps the messages the transport sends of its own accord (``iopub_welcome``).
        """
        self._receive = receive
        self._session = session
        self._running = True
        self._io_thread = threading.Thread(target=self._io_loop, name="async-kernel-io", daemon=True)
        self._io_thread.start()
        threading.Thread(target=self._heartbeat_loop, name="async-kernel-heartbeat", daemon=True).start()

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (for at most ``timeout`` seconds), then stop the I/O thread and close the sockets."""
        self._running = False
        with self._room:
            self._room.notify_all()  # senders waiting for room give up
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
        iopub = self.sockets["iopub"]
        poller.register(iopub, zmq.POLLIN)  # subscriptions
        poller.register(self._wake_r, zmq.POLLIN)
        closing_deadline = math.inf
        while True:
            ready = dict(poller.poll(IOPUB_RETRY * 1000 if self._backlog else None))
            for sock, name in inputs.items():
                if sock in ready:
                    self._drain(sock, name)
            if iopub in ready:
                self._subscriptions(iopub)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 65536):
                        pass
                self._wake_pending = False
            self._flush_outbox()
            if not self._running:
                closing_deadline = min(closing_deadline, time.monotonic() + 1.0)
                if not self._backlog or time.monotonic() > closing_deadline:
                    return

    def _flush_outbox(self) -> None:
        outbox, backlog, sockets = self._outbox, self._backlog, self.sockets
        done = 0
        while outbox:
            channel, frames, size = outbox.popleft()
            if channel == "iopub":
                backlog.append((frames, size))
                continue
            try:
                send_frames(sockets[channel], frames)
            except zmq.ZMQError as exc:
                log.error("Could not send a %s message: %s", channel, exc)
            done += size
        if backlog:
            done += self._send_backlog()
        if done:
            with self._room:
                self._queued -= done
                if self._waiting:
                    self._room.notify_all()

    def _send_backlog(self) -> int:
        """Send waiting iopub messages in order until a subscriber has no room; return the bytes sent."""
        backlog, sock = self._backlog, self.sockets["iopub"]
        done = 0
        while backlog:
            frames, size = backlog[0]
            try:
                # XPUB takes a multipart message whole or not at all: only its first frame can be refused
                sock.send(frames[0], _SNDMORE | _NOBLOCK)
            except zmq.Again:
                return done + self._blocked()
            except zmq.ZMQError as exc:
                log.error("Could not send an iopub message: %s", exc)
            else:
                send_frames(sock, frames[1:])
            backlog.popleft()
            done += size
            self._blocked_since = None
        return done

    def _blocked(self) -> int:
        """iopub refused a message: note since when; past IOPUB_STALL, drop what waits (and say so)."""
        now = time.monotonic()
        if self._blocked_since is None:
            self._blocked_since = now
            return 0
        if now - self._blocked_since < IOPUB_STALL:
            return 0
        dropped = sum(size for _, size in self._backlog)
        log.warning(
            "An iopub subscriber has read nothing for %.0f s: dropped %d waiting iopub messages",
            now - self._blocked_since,
            len(self._backlog),
        )
        self._backlog.clear()
        self._blocked_since = None
        return dropped

    def _subscriptions(self, sock: zmq.Socket[bytes]) -> None:
        """Answer each new subscription with ``iopub_welcome`` (sent before anything queued after it)."""
        while True:
            try:
                event = sock.recv(_NOBLOCK)
            except zmq.Again:
                return
            if event[:1] != b"\x01":  # an unsubscription
                continue
            topic = event[1:]
            try:
                subscription = topic.decode()
            except UnicodeDecodeError:
                continue
            welcome = self._session.msg("iopub_welcome", {"subscription": subscription})
            welcome["idents"] = [topic or b"kernel.iopub_welcome"]
            frames = serialize(welcome, self.signer)
            self._backlog.append((frames, 0))  # not counted in _queued: it never went through send()

    def _drain(self, sock: zmq.Socket[bytes], name: str) -> None:
        while True:
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            try:
                self._route(name, deserialize(frames, self.signer))
            except RemoteProtocolError as exc:
                log.error("Dropped a message on %s: %s", name, exc)
            except Exception:
                log.exception("Dropped a message on %s (%s) after an error", name, _describe(frames))

    def _route(self, name: str, msg: dict[str, Any]) -> None:
        assert self._receive is not None
        if name != "stdin":
            self._receive(name, msg)
        elif isinstance(msg.get("header"), dict) and msg["header"].get("msg_type") == "input_reply":
            self._stdin_replies.put(msg)  # the kernel checks it
        else:
            log.warning("Ignored a stdin message that is not an input_reply")


def _describe(frames: list[bytes]) -> str:
    """The type and id of the message in ``frames``, as far as they can be read."""
    try:
        header = loads(frames[frames.index(DELIM) + 2])
        return f"{header.get('msg_type')!r}, msg_id {header.get('msg_id')!r}"
    except Exception:
        return "unreadable header"
