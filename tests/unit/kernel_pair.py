"""``KernelPair``: a real :class:`~async_kernel.kernel.Kernel` and an in-memory front end on the test's own loop.

Modelled on h11's ``ConnectionPair``: the kernel core takes message dicts in (``kernel.receive``) and hands
messages out through a transport; here the transport is a list in memory (:class:`MemoryTransport`), so
protocol behaviour is tested with plain calls, no sockets, no processes and no sleeps. Both runners (main and
aux) run in one task group on the test's event loop (asyncio or trio), as the Pyodide host runs them: a cell
that blocks synchronously blocks everything, so cells in these tests ``await`` instead.

The IPython shell is a process-wide singleton: :func:`shared_shell` creates it once, publishing through a
:class:`Relay` that each pair points at its own kernel while it is open. A pair takes over ``sys.stdout``,
``sys.stderr``, ``builtins.input`` and ``getpass.getpass`` and gives them back when it closes.

Every wait is bounded (:data:`TIMEOUT`) and ends in an ``AssertionError`` that lists what was received.
"""

from __future__ import annotations

import builtins
import copy
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiologic
import anyio
from async_kernel import comm, context
from async_kernel.hosts.common import capture_output
from async_kernel.kernel import Kernel, KernelSettings
from async_kernel.protocol import Message, Session, dumps
from async_kernel.scheduler import Runner

#: seconds any single wait of a test may take (they normally take milliseconds)
TIMEOUT = 10.0


class MemoryTransport:
    """The transport of a :class:`KernelPair`: records what the kernel sends, in order, and wakes waiters.

    ``request_input`` answers at once from :attr:`inputs`, which the test fills: a string becomes the value of
    an ``input_reply``; anything else (a dict, say) is returned as the whole reply, unchecked, as a transport
    would hand over what a front end sent.
    """

    def __init__(self) -> None:
        #: (channel, message) in the order the kernel sent them
        self.sent: list[tuple[str, Message]] = []
        self.inputs: list[Any] = []
        self._changed = aiologic.Event()
        self._session = Session(username="frontend")

    def send(self, channel: str, msg: Message) -> None:
        # what a real transport does first: whatever the kernel sends must serialize
        dumps({key: value for key, value in msg.items() if key not in ("buffers", "idents")})
        self.sent.append((channel, msg))
        changed, self._changed = self._changed, aiologic.Event()
        changed.set()

    def request_input(self, msg: Message) -> Any:
        self.send("stdin", msg)
        if not self.inputs:
            raise AssertionError(f"no input queued for {msg['content']!r}")
        value = self.inputs.pop(0)
        if not isinstance(value, str):
            return value
        return self._session.msg("input_reply", {"value": value}, msg)

    def on(self, channel: str) -> list[Message]:
        return [msg for ch, msg in self.sent if ch == channel]

    def clear(self) -> None:
        """Forget what was sent so far (only when the kernel is idle)."""
        self.sent = []

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        """Wait until ``predicate()`` is true (checked whenever the kernel sends); return its value."""
        with anyio.move_on_after(timeout):
            while True:
                changed = self._changed  # taken before the check: a send in between sets this very event
                found = predicate()
                if found:
                    return found
                await changed
        seen = [(ch, m["header"]["msg_type"], m["parent_header"].get("msg_id")) for ch, m in self.sent[-12:]]
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; last sent: {seen}")


class Relay:
    """The Publisher the shared shell and the comms were created with; forwards to the open pair's kernel."""

    def __init__(self) -> None:
        self.target: Kernel | None = None

    def _kernel(self) -> Kernel:
        if self.target is None:
            raise RuntimeError("no KernelPair is open")
        return self.target

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
    ) -> None:
        self._kernel().publish(msg_type, content, metadata=metadata, buffers=buffers)

    def request_input(self, prompt: str, password: bool) -> str:
        return self._kernel().request_input(prompt, password)

    def get_parent(self) -> dict[str, Any]:
        return self._kernel().get_parent()


@dataclass(frozen=True)
class SharedShell:
    """The process's one shell, its comm manager, and the relay they publish through."""

    shell: Any  # async_kernel.shell.KernelShell (imported lazily: importing IPython is slow)
    comms: Any
    relay: Relay


@contextmanager
def shared_shell(ipython_dir: Path) -> Iterator[SharedShell]:
    """Create the shell (in ``ipython_dir``, history in memory) and the comms; undo their process-wide changes.

    IPython changes ``sys.modules['__main__']``, ``os.environ`` and ``builtins``; the comm package is patched.
    All of that is put back afterwards, and the singleton is cleared, so that other in-process suites (the
    callback transport's) can create their own shell.
    """
    import comm as comm_package
    from async_kernel.shell import KernelShell, load_profile

    saved_environ = dict(os.environ)
    saved_main = sys.modules["__main__"]
    saved_builtins = (builtins.input, getpass.getpass)
    saved_comm = (comm_package.create_comm, comm_package.get_comm_manager, comm.KernelComm.publisher)
    os.environ["IPYTHONDIR"] = str(ipython_dir)
    relay = Relay()
    try:
        comms = comm.install(relay)
        profile = load_profile()
        profile["config"].HistoryManager.hist_file = ":memory:"  # no history thread, no file
        if KernelShell.initialized():  # another in-process suite left its shell behind
            KernelShell.clear_instance()
        shell = KernelShell.instance(publisher=relay, **profile)
        shell.Completer.use_jedi = False
        # Context tracebacks (stack_data, pygments) take ~0.3 s per error, over a second through the event
        # loop's frames of an interrupted cell; their content is tested natively (tests/python/test_execute.py).
        shell.InteractiveTB.set_mode("Plain")
        yield SharedShell(shell, comms, relay)
    finally:
        KernelShell.clear_instance()
        comm_package.create_comm, comm_package.get_comm_manager, comm.KernelComm.publisher = saved_comm
        builtins.input, getpass.getpass = saved_builtins
        sys.modules["__main__"] = saved_main
        os.environ.clear()
        os.environ.update(saved_environ)


class KernelPair:
    """A kernel and its front end in memory; ``async with KernelPair(shared) as pair:``.

    With ``attach=False`` the kernel starts without its shell (as during a host's start-up) until
    :meth:`attach` is called.
    """

    def __init__(self, shared: SharedShell, settings: KernelSettings | None = None, *, attach: bool = True) -> None:
        self.shared = shared
        self.transport = MemoryTransport()
        self.main, self.aux = Runner("main"), Runner("aux")
        self.kernel = Kernel(self.transport, settings or KernelSettings(), main=self.main, aux=self.aux)
        self.session = Session(username="frontend")
        #: headers of the requests this front end sent, by msg_id, as they were sent
        self.sent_headers: dict[str, dict[str, Any]] = {}
        self._attach = attach
        self._stack = AsyncExitStack()

    @property
    def shell(self) -> Any:
        return self.shared.shell

    @property
    def comms(self) -> Any:
        return self.shared.comms

    # -- life cycle ----------------------------------------------------------------------------------
    async def __aenter__(self) -> KernelPair:
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _open(self) -> None:
        saved = (sys.stdout, sys.stderr, builtins.input, getpass.getpass)

        def restore() -> None:
            sys.stdout, sys.stderr, builtins.input, getpass.getpass = saved
            self.shared.relay.target = None
            context.set_last_execute(None)  # type: ignore[arg-type]  # no fallback parent for the next pair

        self._stack.callback(restore)
        self.shared.relay.target = self.kernel
        builtins.input, getpass.getpass = self.shell.input, self.shell.getpass
        capture_output(self.kernel, self.aux.call_later)  # the aux loop is the output clock, as natively
        task_group = await self._stack.enter_async_context(anyio.create_task_group())
        self._stack.callback(self.aux.stop)
        self._stack.callback(self.main.stop)
        task_group.start_soon(self.main.run, name="main runner")
        task_group.start_soon(self.aux.run, name="aux runner")
        if self._attach:
            self.attach()

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.__aexit__(*exc_info)

    def attach(self) -> None:
        self.kernel.attach(self.shell, self.comms)

    def _activate(self) -> None:
        """Put the kernel's stdout/stderr back: pytest's capture sets its own between a fixture and the test."""
        if self.kernel.streams:
            sys.stdout, sys.stderr = self.kernel.streams  # type: ignore[assignment]

    # -- sending -------------------------------------------------------------------------------------
    def message(self, msg_type: str, content: dict[str, Any] | None = None, **header: Any) -> Message:
        """A request as a front end would build it; ``header`` adds fields (``subshell_id``, say)."""
        msg = self.session.msg(msg_type, {} if content is None else content)
        msg["header"].update(header)  # type: ignore[typeddict-item]
        return msg

    def send(self, msg: Any, channel: str = "shell") -> str | None:
        """Hand ``msg`` to the kernel as a transport would; return its msg_id if it has one."""
        header = msg.get("header") if isinstance(msg, dict) else None
        msg_id = header.get("msg_id") if isinstance(header, dict) else None
        if isinstance(msg_id, str):
            self.sent_headers[msg_id] = copy.deepcopy(header)
        self._activate()
        self.kernel.receive(channel, msg)
        return msg_id if isinstance(msg_id, str) else None

    def send_request(self, msg_type: str, content: dict[str, Any] | None = None, channel: str = "shell") -> str:
        msg_id = self.send(self.message(msg_type, content), channel)
        assert msg_id is not None
        return msg_id

    def execute(self, code: str, **content: Any) -> str:
        """Send an ``execute_request`` (content defaults as the kernel reads them); return its msg_id."""
        return self.send_request("execute_request", {"code": code, **content})

    async def request(self, msg_type: str, content: dict[str, Any] | None = None, channel: str = "shell") -> Message:
        """Send a request and return its reply, once the kernel is idle again (framing checked)."""
        return await self.reply(self.send_request(msg_type, content, channel))

    async def run_cell(self, code: str, **content: Any) -> Message:
        """Execute ``code`` and return the ``execute_reply`` (framing checked)."""
        return await self.reply(self.execute(code, **content))

    # -- receiving -----------------------------------------------------------------------------------
    def messages_for(self, msg_id: str, channel: str = "iopub", msg_type: str | None = None) -> list[Message]:
        """What the kernel sent on ``channel`` with ``msg_id`` as the parent, in order."""
        return [
            msg
            for ch, msg in self.transport.sent
            if ch == channel
            and msg["parent_header"].get("msg_id") == msg_id
            and (msg_type is None or msg["header"]["msg_type"] == msg_type)
        ]

    def all_for(self, msg_id: str) -> list[tuple[str, Message]]:
        """(channel, message) of every message with ``msg_id`` as the parent, in the order they were sent."""
        return [(ch, msg) for ch, msg in self.transport.sent if msg["parent_header"].get("msg_id") == msg_id]

    def reply_of(self, msg_id: str) -> Message | None:
        for ch, msg in self.all_for(msg_id):
            if ch != "iopub" and msg["header"]["msg_type"].endswith("_reply"):
                return msg
        return None

    def statuses(self, msg_id: str) -> list[str]:
        return [m["content"]["execution_state"] for m in self.messages_for(msg_id, msg_type="status")]

    def is_idle(self, msg_id: str) -> bool:
        return "idle" in self.statuses(msg_id)

    def stream_text(self, msg_id: str, name: str = "stdout") -> str:
        return "".join(
            m["content"]["text"] for m in self.messages_for(msg_id, msg_type="stream") if m["content"]["name"] == name
        )

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        return await self.transport.wait_for(predicate, what, timeout)

    async def wait_idle(self, msg_id: str, timeout: float = TIMEOUT) -> list[Message]:
        """Wait for the idle status of request ``msg_id``; return its iopub messages."""
        await self.wait_for(lambda: self.is_idle(msg_id), f"idle after {msg_id}", timeout)
        return self.messages_for(msg_id)

    async def wait_started(self, msg_id: str, timeout: float = TIMEOUT) -> None:
        """Wait until the execute ``msg_id`` published its ``execute_input`` (its cell is about to run)."""
        await self.wait_for(lambda: self.messages_for(msg_id, msg_type="execute_input"), f"{msg_id} to start", timeout)

    async def reply(self, msg_id: str, timeout: float = TIMEOUT) -> Message:
        """Wait for the reply to ``msg_id`` and the idle after it; check the framing; return the reply."""
        await self.wait_idle(msg_id, timeout)
        reply = self.reply_of(msg_id)
        assert reply is not None, (
            f"idle but no reply for {msg_id}: {[m['header']['msg_type'] for _, m in self.all_for(msg_id)]}"
        )
        self.check_framing(msg_id, reply)
        return reply

    def check_framing(self, msg_id: str, reply: Message | None) -> None:
        """busy first, idle last, exactly one of each, the reply just before idle, every header the kernel's."""
        mine = self.all_for(msg_id)
        assert self.statuses(msg_id) == ["busy", "idle"], self.statuses(msg_id)
        first, last = mine[0][1], mine[-1][1]
        assert (first["header"]["msg_type"], first["content"]) == ("status", {"execution_state": "busy"})
        assert (last["header"]["msg_type"], last["content"]) == ("status", {"execution_state": "idle"})
        if reply is not None:
            assert [m for _, m in mine].index(reply) == len(mine) - 2, "the reply must come just before idle"
        for _, msg in mine:
            assert msg["header"]["session"] == self.kernel.session.session
            assert msg["parent_header"] == self.sent_headers[msg_id]
