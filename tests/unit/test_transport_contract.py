"""The transport contract (tests/unit/transport_contract.py), checked against the ZMQ and the callback transport."""

from __future__ import annotations

import contextlib
import hmac
import json
import queue
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import zmq
from async_kernel.protocol import CHANNELS, Session
from async_kernel.transports.callback import CallbackTransport
from async_kernel.transports.zmq import ZmqTransport
from jupyter_client.session import Session as ClientSession

from . import transport_contract as contract
from .transport_contract import CLIENT, TIMEOUT, BadInput, TransportAdapter

KEY = "contract-secret"
DELIM = b"<IDS|MSG>"
PORTS = ("shell_port", "control_port", "stdin_port", "iopub_port", "hb_port")


# -- ZMQ -------------------------------------------------------------------------------------------


def _connection_info(directory: Path) -> dict[str, Any]:
    """ipc endpoints in ``directory`` (no port races); free TCP ports where ipc is missing (Windows)."""
    info: dict[str, Any] = {"key": KEY, "signature_scheme": "hmac-sha256"}
    if zmq.has("ipc"):
        return {**info, "transport": "ipc", "ip": str(directory / "k"), **{p: n for n, p in enumerate(PORTS, 1)}}
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in PORTS]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        ports = {name: sock.getsockname()[1] for name, sock in zip(PORTS, sockets, strict=True)}
    return {**info, "transport": "tcp", "ip": "127.0.0.1", **ports}


def _endpoint(info: dict[str, Any], channel: str) -> str:
    if info["transport"] == "ipc":
        return f"ipc://{info['ip']}-{info[f'{channel}_port']}"
    return f"tcp://{info['ip']}:{info[f'{channel}_port']}"


class ZmqAdapter(TransportAdapter):
    """Front ends as jupyter_client builds them: DEALERs sharing one identity per client, and a SUB on iopub.

    Only client 0 subscribes to iopub: a subscriber that reads nothing would hold up everyone's iopub.
    """

    n_clients = 2

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.info = _connection_info(directory)
        self.session = ClientSession(key=KEY.encode())  # an independent signer: jupyter_client's
        self.context: zmq.Context[Any] = zmq.Context()
        self.transport = ZmqTransport(self.info)
        self.clients: list[dict[str, zmq.Socket[bytes]]] = []
        try:
            for k in range(self.n_clients):
                self.clients.append(
                    {name: self._connect(zmq.DEALER, name, k) for name in ("shell", "control", "stdin")}
                )
            self.clients[0]["iopub"] = iopub = self._connect(zmq.SUB, "iopub", 0)
            iopub.setsockopt(zmq.SUBSCRIBE, b"")
            self.transport.start(self.receive, Session("kernel-session"))
            assert self.client_recv("iopub")["header"]["msg_type"] == "iopub_welcome"  # subscribed: nothing is lost
        except BaseException:
            self.close()
            raise

    def _connect(self, kind: int, channel: str, client: int) -> zmq.Socket[bytes]:
        sock: zmq.Socket[bytes] = self.context.socket(kind)
        sock.linger = 0
        if kind == zmq.DEALER:
            sock.identity = f"client-{client}".encode()  # the same on shell and stdin, as jupyter_client does
        sock.connect(_endpoint(self.info, channel))
        return sock

    def close(self) -> None:
        self.transport.close()
        for sockets in self.clients:
            for sock in sockets.values():
                sock.close()
        self.context.term()

    def send_frames(self, channel: str, frames: list[bytes], client: int = 0) -> None:
        self.clients[client][channel].send_multipart(frames)

    def frames(self, msg: dict[str, Any], buffers: Sequence[bytes] = ()) -> list[bytes]:
        return [*self.session.serialize(msg), *buffers]

    def client_send(self, channel: str, msg: dict[str, Any], buffers: Sequence[bytes] = (), client: int = 0) -> None:
        self.send_frames(channel, self.frames(msg, buffers), client)

    def client_recv(self, channel: str, timeout: float = TIMEOUT, client: int = 0) -> dict[str, Any]:
        sock = self.clients[client][channel]
        assert sock.poll(timeout * 1000), f"client {client} got nothing on {channel} within {timeout} s"
        _, parts = self.session.feed_identities(sock.recv_multipart())
        assert hmac.compare_digest(parts[0], self.session.sign(parts[1:5])), "the kernel signed it wrongly"
        header, parent, metadata, content = (json.loads(part) for part in parts[1:5])  # exact, dates unparsed
        return {"header": header, "parent_header": parent, "metadata": metadata, "content": content,
                "buffers": [bytes(b) for b in parts[5:]]}  # fmt: skip

    def bad_inputs(self) -> list[BadInput]:
        def signed(parts: list[bytes]) -> list[bytes]:
            return [DELIM, self.session.sign(parts), *parts]

        def good_parts() -> list[bytes]:
            return self.frames(CLIENT.msg("bad_input_request", {}))[2:6]  # type: ignore[arg-type]

        def replay() -> None:
            frames = self.frames(CLIENT.msg("replayed_request", {}))  # type: ignore[arg-type]
            self.send_frames("shell", frames)
            assert self.kernel_recv()[1]["header"]["msg_type"] == "replayed_request"  # the first one is fine
            self.send_frames("shell", frames)

        def frames(channel: str, make: Callable[[], list[bytes]]) -> Callable[[], None]:
            return lambda: self.send_frames(channel, make())

        other_key = ClientSession(key=b"another key")
        stray = CLIENT.msg("execute_request", {})
        return [
            BadInput("wrong key", frames("shell", lambda: [DELIM, other_key.sign(p := good_parts()), *p])),
            BadInput("wrong signature", frames("control", lambda: [DELIM, b"0" * 64, *good_parts()]), "control"),
            BadInput("no signature", frames("shell", lambda: [DELIM, b"", *good_parts()])),
            BadInput("garbage frames", frames("shell", lambda: [b"garbage", b"\xff\x00\x80"])),
            BadInput("garbage on control", frames("control", lambda: [b"\x00"]), "control"),
            BadInput("too few frames", frames("shell", lambda: signed([b"{}", b"{}"])[:3])),
            BadInput("signed, not JSON", frames("shell", lambda: signed([b"{", b"\xff", b"{}", b"[}"]))),
            BadInput("a replay", replay),
            BadInput("stdin, not an input_reply", lambda: self.client_send("stdin", stray)),  # type: ignore[arg-type]
        ]


@contextlib.contextmanager
def zmq_adapter() -> Iterator[ZmqAdapter]:
    with tempfile.TemporaryDirectory(prefix="ak-contract-") as directory:  # short: ipc paths are limited to ~100
        adapter = ZmqAdapter(Path(directory))
        try:
            yield adapter
        finally:
            adapter.close()


# -- callback --------------------------------------------------------------------------------------


class CallbackAdapter(TransportAdapter):
    """JavaScript's side in Python: ``send`` records what the kernel sends and answers input requests."""

    def __init__(self, transport_class: Callable[[Any], Any] = CallbackTransport) -> None:
        super().__init__()
        self.outgoing: dict[str, queue.SimpleQueue[dict[str, Any]]] = {ch: queue.SimpleQueue() for ch in CHANNELS}
        self.input_replies: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.misuse: list[str] = []
        self.transport = transport_class(self.js_send)
        self.transport.connect(self.receive)

    def js_send(self, msg_json: Any, buffers: Any, blocking: bool) -> str | None:
        if not isinstance(msg_json, str):
            self.misuse.append(f"send got {type(msg_json).__name__}, not JSON text")
        msg = json.loads(msg_json)
        msg["buffers"] = list(buffers)
        is_input_request = msg["header"]["msg_type"] == "input_request"
        if blocking != is_input_request:
            self.misuse.append(f"blocking={blocking} for a {msg['header']['msg_type']}")
        self.outgoing[msg.pop("channel")].put(msg)
        if not blocking:
            return None
        try:  # JavaScript answers synchronously (Atomics.wait / sync XHR); here: what the front end sent on stdin
            return self.input_replies.get(timeout=TIMEOUT)
        except queue.Empty:
            return None

    def client_send(self, channel: str, msg: dict[str, Any], buffers: Sequence[bytes] = (), client: int = 0) -> None:
        text = json.dumps({"channel": channel, **{key: msg[key] for key in contract.WIRE_KEYS}})
        if channel == "stdin":
            assert not buffers
            self.input_replies.put(text)
        else:
            self.transport.handle_msg(text, list(buffers))

    def client_recv(self, channel: str, timeout: float = TIMEOUT, client: int = 0) -> dict[str, Any]:
        try:
            return self.outgoing[channel].get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"send got nothing on {channel} within {timeout} s") from None

    def bad_inputs(self) -> list[BadInput]:
        good = CLIENT.msg("bad_input_request", {})
        handle = self.transport.handle_msg

        def with_channel(channel: Any) -> str:
            return json.dumps({**good, "channel": channel})

        return [
            BadInput("not JSON", lambda: handle("{'not': json")),
            BadInput("not UTF-8", lambda: handle(b"\xff\xfe{}")),
            BadInput("not text", lambda: handle(12345)),  # type: ignore[arg-type]
            BadInput("not an object", lambda: handle("[1, 2]")),
            BadInput("nested too deeply", lambda: handle("[" * 5000 + "]" * 5000)),
            BadInput("unknown channel", lambda: handle(with_channel("nope"))),
            BadInput("iopub from the front end", lambda: handle(with_channel("iopub"))),
            BadInput("channel not a string", lambda: handle(with_channel(["shell"]))),
            BadInput("stdin outside an input request", lambda: handle(with_channel("stdin"))),
            BadInput("a buffer that is not bytes", lambda: handle(with_channel("shell"), [object()])),
            BadInput("not JSON, then control", lambda: handle('{"channel": "control", '), "control"),
        ]


@contextlib.contextmanager
def callback_adapter(transport_class: Callable[[Any], Any] = CallbackTransport) -> Iterator[CallbackAdapter]:
    adapter = CallbackAdapter(transport_class)
    yield adapter
    assert not adapter.misuse, adapter.misuse


ADAPTERS = {"zmq": zmq_adapter, "callback": callback_adapter}


def _cases() -> Iterator[Any]:
    for name in sorted(ADAPTERS):
        for check in contract.CHECKS:
            yield pytest.param(name, check, id=f"{name}-{check.__name__.removeprefix('check_')}")


@pytest.mark.parametrize(("transport", "check"), list(_cases()))
def test_transport_keeps_the_contract(transport: str, check: Callable[[TransportAdapter], None]) -> None:
    with ADAPTERS[transport]() as adapter:
        check(adapter)


# -- the checker has teeth: it fails a transport that breaks the contract --------------------------


class _DropsBuffers(CallbackTransport):
    def send(self, channel: Any, msg: Any) -> None:
        super().send(channel, {**msg, "buffers": []})


class _Duplicates(CallbackTransport):
    def handle_msg(self, msg: Any, buffers: Any = ()) -> None:
        super().handle_msg(msg, buffers)
        super().handle_msg(msg, buffers)


class _SwapsPairs(CallbackTransport):
    """Holds every other message back and sends it after the next one (a per-sender reorder)."""

    def __init__(self, send: Any) -> None:
        super().__init__(send)
        self._held: dict[str, Any] = {}
        self._lock = threading.Lock()

    def send(self, channel: Any, msg: Any) -> None:
        with self._lock:
            if channel not in self._held:
                self._held[channel] = msg
                return
            super().send(channel, msg)
            super().send(channel, self._held.pop(channel))


class _LetsBadInputThrough(CallbackTransport):
    def handle_msg(self, msg: Any, buffers: Any = ()) -> None:
        if msg == "[1, 2]":
            assert self._receive is not None
            self._receive("shell", {"header": {}})
        super().handle_msg(msg, buffers)


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_DropsBuffers, contract.check_buffers),
        (_Duplicates, contract.check_delivery),
        (_SwapsPairs, contract.check_send_order),
        (_LetsBadInputThrough, contract.check_bad_input_is_dropped),
    ],
    ids=lambda value: getattr(value, "__name__", "").strip("_"),
)
def test_the_checker_fails_a_broken_transport(broken: type, check: Callable[[TransportAdapter], None]) -> None:
    with callback_adapter(broken) as adapter, pytest.raises(AssertionError):
        check(adapter)
