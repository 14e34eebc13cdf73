"""A thin client over a started kernel's ZMQ sockets, for measuring.

jupyter_client's blocking channels wait on one socket at a time; a benchmark must read shell and iopub together
(a kernel publishes on iopub while we wait for a shell reply, and an unread SUB socket drops at its high-water
mark).  `Wire` polls shell, iopub and control in one loop and yields ``(channel, message)`` pairs; every wait has a
deadline and raises `BenchTimeout` when it passes, so a stalled kernel never hangs the bench.

The wire codec is our own, not `Session.send/recv`: those parse every date with dateutil and re-validate through
traitlets, ~200 us per message, which made the client the bottleneck of the throughput figures (measured with
`native.py --calibrate`).  Here a message costs one HMAC and one orjson call per frame; signatures of incoming
messages are still verified, and a bad one is an error.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import zmq

if TYPE_CHECKING:
    from jupyter_client.blocking.client import BlockingKernelClient

try:
    import orjson

    dumps, loads = orjson.dumps, orjson.loads
except ImportError:  # pragma: no cover - the project venv has orjson
    import json

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    loads = json.loads

DELIM = b"<IDS|MSG>"

Msg = dict[str, Any]
now = time.perf_counter


class BenchTimeout(Exception):
    """A wait passed its deadline; the message says what was awaited."""


class Codec:
    """Encode and decode signed Jupyter messages (protocol 5.4 wire format), for one session."""

    def __init__(self, key: bytes, scheme: str = "hmac-sha256", username: str = "bench") -> None:
        self._auth = hmac.new(key, digestmod=scheme.removeprefix("hmac-")) if key else None
        self.session_id = uuid.uuid4().hex
        self.username = username

    def encode(
        self, msg_type: str, content: dict[str, Any], parent: Msg | None = None, idents: list[bytes] | None = None
    ) -> tuple[str, list[bytes]]:
        """Return (msg_id, frames ready for send_multipart)."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "session": self.session_id,
            "username": self.username,
            "date": datetime.now(UTC).isoformat(),
            "version": "5.4",
        }
        frames = [dumps(header), dumps(parent["header"]) if parent else b"{}", b"{}", dumps(content)]
        return msg_id, [*(idents or []), DELIM, self._sign(frames), *frames]

    def decode(self, raw: list[bytes]) -> tuple[list[bytes], Msg]:
        """Split off routing identities, verify the signature, parse header, parent and content."""
        i = raw.index(DELIM)
        signature, frames = raw[i + 1], raw[i + 2 : i + 6]
        if self._auth is not None and not hmac.compare_digest(signature, self._sign(frames)):
            raise ValueError(f"bad signature on message {frames[0][:200]!r}")
        header = loads(frames[0])
        msg = {
            "header": header,
            "msg_type": header["msg_type"],
            "parent_header": loads(frames[1]),
            "content": loads(frames[3]),
            "buffers": raw[i + 6 :],
        }
        return raw[:i], msg

    def _sign(self, frames: list[bytes]) -> bytes:
        if self._auth is None:
            return b""
        h = self._auth.copy()
        for frame in frames:
            h.update(frame)
        return h.hexdigest().encode()


class Wire:
    """Send requests and read replies on the shell, iopub and control sockets of one kernel client."""

    def __init__(self, client: BlockingKernelClient) -> None:
        session = client.session
        self.codec = Codec(session.key, session.signature_scheme, session.username)
        self.sockets: dict[str, zmq.Socket] = {
            "shell": client.shell_channel.socket,
            "iopub": client.iopub_channel.socket,
            "control": client.control_channel.socket,
        }
        self._names = {sock: name for name, sock in self.sockets.items()}
        self._poller = zmq.Poller()
        for sock in self.sockets.values():
            self._poller.register(sock, zmq.POLLIN)

    def replace_socket(self, channel: str, sock: zmq.Socket | None) -> None:
        """Read `sock` for `channel` from now on; with None stop reading `channel` (its socket is left as it is)."""
        old = self.sockets.pop(channel, None)
        if old is not None:
            self._poller.unregister(old)
            del self._names[old]
        if sock is not None:
            self.sockets[channel] = sock
            self._names[sock] = channel
            self._poller.register(sock, zmq.POLLIN)

    # -- sending ---------------------------------------------------------------------------------------------
    def send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        """Send one request and return its msg_id."""
        msg_id, frames = self.codec.encode(msg_type, content)
        self.sockets[channel].send_multipart(frames)
        return msg_id

    def execute(
        self,
        code: str,
        *,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
    ) -> str:
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        return self.send("shell", "execute_request", content)

    def complete(self, code: str, cursor_pos: int | None = None) -> str:
        pos = len(code) if cursor_pos is None else cursor_pos
        return self.send("shell", "complete_request", {"code": code, "cursor_pos": pos})

    def comm_open(self, target_name: str, data: dict[str, Any] | None = None) -> tuple[str, str]:
        """Open a comm; return (comm_id, msg_id)."""
        comm_id = uuid.uuid4().hex
        msg_id = self.send("shell", "comm_open", {"comm_id": comm_id, "target_name": target_name, "data": data or {}})
        return comm_id, msg_id

    def comm_msg(self, comm_id: str, data: dict[str, Any]) -> str:
        return self.send("shell", "comm_msg", {"comm_id": comm_id, "data": data})

    # -- receiving -------------------------------------------------------------------------------------------
    def messages(self, timeout: float, what: str = "messages", *, strict: bool = True) -> Iterator[tuple[str, Msg]]:
        """Yield messages as they arrive for up to `timeout` seconds.

        With `strict` (the default) reaching the deadline raises `BenchTimeout` naming `what`; without it the
        iterator simply ends, which is how a paced sender waits "until the next send, reading meanwhile".
        """
        deadline = now() + timeout
        while True:
            remaining = deadline - now()
            if remaining <= 0:
                if strict:
                    raise BenchTimeout(f"no {what} within {timeout:.1f} s")
                return
            for sock, _ in self._poller.poll(remaining * 1000):
                while True:
                    try:
                        raw = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    yield self._names[sock], self.codec.decode(raw)[1]

    def drain(self, quiet_for: float = 0.05) -> int:
        """Discard whatever arrives until the sockets stay quiet for `quiet_for` seconds; return the count."""
        count = 0
        while True:
            got = sum(1 for _ in self.messages(quiet_for, strict=False))
            count += got
            if not got:
                return count

    def wait_reply(self, msg_id: str, timeout: float, *, idle: bool = True) -> Msg:
        """Wait for the reply to `msg_id` and (with `idle`) its iopub ``status: idle``; return the reply."""
        reply: Msg | None = None
        seen_idle = not idle
        for channel, msg in self.messages(timeout, f"reply{'+idle' if idle else ''} to {msg_id[:8]}"):
            if parent_id(msg) != msg_id:
                continue
            if channel in ("shell", "control") and msg["msg_type"].endswith("_reply"):
                reply = msg
            elif is_idle(msg):
                seen_idle = True
            if reply is not None and seen_idle:
                return reply
        raise AssertionError("unreachable")

    def wait_ready(self, timeout: float) -> None:
        """Wait until the kernel answers kernel_info *and* iopub is connected (its status reaches us).

        A SUB socket misses everything published before its subscription lands, so requests are repeated until
        an iopub message for one of them arrives.
        """
        deadline = now() + timeout
        while now() < deadline:
            msg_id = self.send("shell", "kernel_info_request", {})
            got_reply = got_iopub = False
            for channel, msg in self.messages(min(0.5, max(deadline - now(), 0.01)), strict=False):
                if parent_id(msg) != msg_id:
                    continue
                got_reply |= channel == "shell"
                got_iopub |= channel == "iopub"
                if got_reply and is_idle(msg):
                    break
            if got_reply and got_iopub:
                self.drain()
                return
        raise BenchTimeout(f"kernel not ready (kernel_info + iopub) within {timeout:.1f} s")


def parent_id(msg: Msg) -> str | None:
    return (msg.get("parent_header") or {}).get("msg_id")


def is_idle(msg: Msg) -> bool:
    return msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
