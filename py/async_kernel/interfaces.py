"""The seam between the kernel core and the shell: what each needs from the other, as small typed shapes.

The core (:mod:`async_kernel.kernel`) schedules requests and publishes; the shell (:mod:`async_kernel.shell`)
runs code. Neither imports the other:

* the shell and the comms publish through a :class:`Publisher` (the kernel is one);
* the kernel drives a :class:`Shell`: it hands it a :class:`Cell` read from an ``execute_request`` and gets
  back an :class:`Outcome` that knows its ``execute_reply`` content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .protocol import Message, RemoteProtocolError


class Publisher(Protocol):
    """Where the shell and the comms send what they produce, for the request that is current."""

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
    ) -> None:
        """Publish on iopub, after any output written before it."""

    def request_input(self, prompt: str, password: bool) -> str:
        """Ask the front end for a line of input; blocks the calling thread. :class:`InputUnavailable` if the
        front end answered that it cannot take input here."""


class InputUnavailable(Exception):
    """The front end answered an ``input_request`` with an error: it cannot take input (the message says why)."""


@dataclass(frozen=True)
class Cell:
    """What an ``execute_request`` asks for, checked."""

    code: str
    silent: bool = False
    store_history: bool = True
    allow_stdin: bool = True
    stop_on_error: bool = True
    cell_id: str | None = None
    user_expressions: dict[str, Any] = field(default_factory=dict)  # each value is evaluated on its own

    @classmethod
    def from_request(cls, msg: Message) -> Cell:
        """Read a (validated) ``execute_request``; :class:`RemoteProtocolError` if its content does not fit."""
        content = msg["content"]
        code = content.get("code", "")
        if not isinstance(code, str):
            raise RemoteProtocolError("execute_request 'code' must be a string")
        expressions = content.get("user_expressions") or {}
        if not isinstance(expressions, dict):
            raise RemoteProtocolError("execute_request 'user_expressions' must be an object")
        silent = bool(content.get("silent", False))
        cell_id = msg["metadata"].get("cellId")
        return cls(
            code=code,
            silent=silent,
            store_history=bool(content.get("store_history", not silent)) and not silent,
            allow_stdin=bool(content.get("allow_stdin", True)),
            stop_on_error=bool(content.get("stop_on_error", True)),
            cell_id=cell_id if isinstance(cell_id, str) else None,
            user_expressions=expressions,
        )


@dataclass(frozen=True)
class Outcome:
    """How a cell ended. ``error`` is None when it succeeded."""

    execution_count: int
    error: str | None = None  # the exception's name
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)
    payload: list[dict[str, Any]] = field(default_factory=list)
    user_expressions: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def reply(self) -> dict[str, Any]:
        """The ``execute_reply`` content."""
        if self.error is not None:
            return {
                "status": "error",
                "execution_count": self.execution_count,
                "ename": self.error,
                "evalue": self.evalue,
                "traceback": self.traceback,
            }
        return {
            "status": "ok",
            "execution_count": self.execution_count,
            "user_expressions": self.user_expressions,
            "payload": self.payload,
        }


class Shell(Protocol):
    """What the kernel needs from the shell that runs code (:class:`async_kernel.shell.KernelShell`)."""

    execution_count: int

    async def run(self, cell: Cell) -> Outcome:
        """Run a cell on the caller's event loop (cells may ``await``)."""

    def interrupt(self) -> None:
        """Note that the awaiting cells are about to be cancelled by an interrupt (shown as KeyboardInterrupt)."""

    def interrupted_outcome(self) -> Outcome:
        """The outcome of a cell cancelled before it could end by itself."""

    def complete_request(self, code: str, cursor_pos: int) -> dict[str, Any]: ...

    def inspect_request(self, code: str, cursor_pos: int, detail_level: int) -> dict[str, Any]: ...

    def is_complete_request(self, code: str) -> dict[str, Any]: ...

    def history_request(self, content: dict[str, Any]) -> dict[str, Any]: ...


class Comms(Protocol):
    """The comm manager the kernel hands comm messages to (``comm.base_comm.CommManager``)."""

    comms: dict[str, Any]

    def comm_open(self, stream: Any, ident: Any, msg: Any) -> None: ...

    def comm_msg(self, stream: Any, ident: Any, msg: Any) -> None: ...

    def comm_close(self, stream: Any, ident: Any, msg: Any) -> None: ...
