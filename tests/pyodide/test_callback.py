"""The Pyodide host (``async_kernel.hosts.pyodide``) and its callback transport, driven by a Python front end.

The same file runs under CPython (pytest; ``conftest.py`` runs the coroutines on one event loop) and
inside real Pyodide under Node.js (``run.mjs``). The front end here plays the part of the JavaScript
worker: it passes JSON text (and, under Pyodide, ``Uint8Array`` buffers) to ``handle_msg``, collects what
the kernel sends, and answers ``input_request`` synchronously when ``send`` is called with
``blocking=True``.

There is only one kernel per interpreter (the IPython shell is a singleton): :func:`frontend` starts it
once and every test shares it. Each test waits for its own replies, so the kernel is idle between tests.
Every wait is bounded (:data:`TIMEOUT`).
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import getpass
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import malformed
from async_kernel import context, interrupts
from async_kernel.hosts import pyodide as host
from async_kernel.transports import callback

TIMEOUT = 30.0
PYODIDE = sys.platform == "emscripten"
PYODIDE_CWD = "/home/pyodide/ak-test-cwd"  # where ``PyodideKernel.place`` puts the kernel, under Pyodide only


def _to_bytes_list(buffers: Any) -> list[bytes]:
    out = []
    for buffer in buffers or ():
        to_bytes = getattr(buffer, "to_bytes", None)  # JsProxy of a Uint8Array under Pyodide
        out.append(to_bytes() if to_bytes is not None else bytes(buffer))
    return out


def _wire_buffers(buffers: Iterable[bytes]) -> Any:
    """Buffers as JavaScript would hand them in: an Array of Uint8Array under Pyodide."""
    buffers = list(buffers)
    if PYODIDE:
        from pyodide.ffi import to_js

        return to_js(buffers)
    return buffers


def _check_shape(msg: Any) -> None:
    """Assert that ``msg``, as the kernel sent it, is a whole Jupyter message on a known channel."""
    assert isinstance(msg, dict), f"a message must be a JSON object, not {type(msg).__name__}"
    assert msg.get("channel") in ("shell", "control", "stdin", "iopub"), f"channel {msg.get('channel')!r}"
    header = msg.get("header")
    assert isinstance(header, dict), "no header object"
    for key in ("msg_id", "msg_type", "session", "username", "date", "version"):
        assert isinstance(header.get(key), str) and header[key], f"header {key!r} is {header.get(key)!r:.80}"
    for key in ("parent_header", "metadata", "content"):
        assert isinstance(msg.get(key), dict), f"{key!r} is not an object"


class LogRecords(logging.Handler):
    """Keeps the kernel's log records (and keeps them out of cell output)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class FrontEnd:
    """The JavaScript side of the callback transport, in Python."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.inputs: list[str] = []  # values for the next input_request(s)
        self.executes: list[str] = []  # execute requests of the current test
        self.errors: list[str] = []  # what the kernel sent wrongly
        self.ready = False  # kernel_info answered once
        self.session = uuid.uuid4().hex
        self.logs = LogRecords()
        self.kernel: host.PyodideKernel | None = None
        self.saved: dict[str, Any] = {}
        self.warmed_up = False  # the kernel's warm-up requests have ended

    # -- the callback --------------------------------------------------------------------------------
    def send(self, text: Any, buffers: Any, blocking: Any) -> str | None:
        try:
            assert isinstance(text, str), f"send() got {type(text).__name__}, not JSON text"
            assert isinstance(blocking, bool), f"send() got blocking={blocking!r}"
            msg = json.loads(text)
            _check_shape(msg)
            msg["buffers"] = _to_bytes_list(buffers)
        except Exception as exc:  # an exception here would only reach the kernel's log: keep it for the test
            self.errors.append(f"bad send({text!r:.200}, {buffers!r:.100}, {blocking!r}): {exc!r}")
            raise
        self.received.append(msg)
        if not blocking:
            return None
        if msg["channel"] != "stdin" or msg["header"]["msg_type"] != "input_request":
            self.errors.append(f"blocking send of a {msg['channel']} {msg['header']['msg_type']}")
        value = self.inputs.pop(0) if self.inputs else ""
        reply = self.message("input_reply", {"value": value}, channel="stdin", parent=msg)
        return json.dumps(reply)

    # -- life cycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        logger = logging.getLogger("async_kernel")
        logger.addHandler(self.logs)
        self.saved = {
            "streams": (sys.stdout, sys.stderr),
            "input": builtins.input,
            "getpass": getpass.getpass,
            "environ": dict(os.environ),
        }
        settings: Any = {"output_interval": 0.01, "env": {"ASYNC_KERNEL_TEST_ENV": "from settings"}}
        send: Any = self.send
        if PYODIDE:
            # Cross the FFI as the Web Worker does: a JavaScript send() and a JavaScript settings object.
            from pyodide.ffi import create_proxy, to_js

            import js

            settings = to_js(settings, dict_converter=js.Object.fromEntries)
            relay = js.Function.new("send", "return (text, buffers, blocking) => send(text, buffers, blocking);")
            send = relay(create_proxy(self.send))
        self.kernel = host.start(send, settings)
        # as the worker does before any page claims the kernel
        self.kernel.warm_up(lambda: setattr(self, "warmed_up", True))
        if PYODIDE:
            # as the worker does once a page claims the kernel it started beforehand
            os.makedirs(PYODIDE_CWD, exist_ok=True)
            self.kernel.place(PYODIDE_CWD)

    def activate(self) -> None:
        """Put the kernel's stdout/stderr back (pytest's capture swaps ``sys.stdout`` between tests)."""
        assert self.kernel is not None
        streams = self.kernel.kernel.streams
        if streams:
            sys.stdout, sys.stderr = streams

    async def stop(self) -> None:
        if self.kernel is None:
            return
        self.kernel.stop()
        task = self.kernel._task
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), TIMEOUT)
        # give the interpreter back (matters under pytest, where other tests follow in this process)
        sys.stdout, sys.stderr = self.saved["streams"]
        builtins.input = self.saved["input"]
        getpass.getpass = self.saved["getpass"]
        os.environ.clear()
        os.environ.update(self.saved["environ"])
        logging.getLogger("async_kernel").removeHandler(self.logs)

    # -- sending -------------------------------------------------------------------------------------
    def message(
        self, msg_type: str, content: dict[str, Any], channel: str = "shell", parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "channel": channel,
            "header": {
                "msg_id": uuid.uuid4().hex,
                "msg_type": msg_type,
                "session": self.session,
                "username": "test",
                "date": "2026-01-01T00:00:00Z",
                "version": "5.4",
            },
            "parent_header": dict(parent["header"]) if parent else {},
            "metadata": {},
            "content": content,
        }

    def raw(self, text: str | bytes, buffers: Iterable[bytes] = ()) -> None:
        assert self.kernel is not None
        self.kernel.handle_msg(text, _wire_buffers(buffers))

    def request(
        self, msg_type: str, content: dict[str, Any], channel: str = "shell", buffers: Iterable[bytes] = ()
    ) -> str:
        msg = self.message(msg_type, content, channel)
        self.raw(json.dumps(msg), buffers)
        return msg["header"]["msg_id"]

    def execute(self, code: str, **content: Any) -> str:
        return self.track(
            self.request("execute_request", {"code": code, "silent": False, "allow_stdin": True, **content})
        )

    def track(self, msg_id: str) -> str:
        self.executes.append(msg_id)
        return msg_id

    def forget(self) -> None:
        """Drop what was received so far, so that lookups stay fast in a long test. Only when idle."""
        assert not self.errors, self.errors
        assert all(self.reply_of(m) and self.idle(m) for m in self.executes), "an execute is still running"
        self.received = []
        self.executes = []

    async def settle(self) -> None:
        """Interrupt whatever a failed test left running, so the next test starts on an idle kernel."""
        pending = [m for m in self.executes if not (self.reply_of(m) and self.idle(m))]
        self.executes = []
        if not pending:
            return
        deadline = time.monotonic() + TIMEOUT
        while any(not (self.reply_of(m) and self.idle(m)) for m in pending):
            assert time.monotonic() < deadline, "could not interrupt the cells a failed test left running"
            self.kernel.interrupt()  # type: ignore[union-attr]
            await asyncio.sleep(0.05)

    # -- receiving -----------------------------------------------------------------------------------
    def of(self, msg_id: str, msg_type: str | None = None, channel: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.received
            if m["parent_header"].get("msg_id") == msg_id
            and (msg_type is None or m["header"]["msg_type"] == msg_type)
            and (channel is None or m["channel"] == channel)
        ]

    def reply_of(self, msg_id: str) -> dict[str, Any] | None:
        for m in self.of(msg_id):
            if m["channel"] != "iopub" and m["header"]["msg_type"].endswith("_reply"):
                return m
        return None

    def idle(self, msg_id: str) -> bool:
        return any(m["content"].get("execution_state") == "idle" for m in self.of(msg_id, "status"))

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = predicate()
            if found:
                return found
            if time.monotonic() > deadline:
                seen = [(m["channel"], m["header"]["msg_type"]) for m in self.received[-15:]]
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; last received: {seen}")
            await asyncio.sleep(0.005)

    async def reply(self, msg_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Wait for the reply and the idle status of request ``msg_id``; check busy ... idle framing."""
        await self.wait_for(lambda: self.reply_of(msg_id) and self.idle(msg_id), f"reply to {msg_id}", timeout)
        reply = self.reply_of(msg_id)
        assert reply is not None
        self.check_framing(msg_id, reply=reply)
        return reply

    def check_framing(self, msg_id: str, reply: dict[str, Any] | None = None) -> None:
        assert not self.errors, self.errors
        mine = self.of(msg_id)
        statuses = [m["content"]["execution_state"] for m in mine if m["header"]["msg_type"] == "status"]
        assert statuses == ["busy", "idle"], statuses
        assert mine[0]["header"]["msg_type"] == "status" and mine[0]["content"]["execution_state"] == "busy"
        assert mine[-1]["header"]["msg_type"] == "status" and mine[-1]["content"]["execution_state"] == "idle"
        for m in mine:
            assert m["header"]["session"] == self.kernel.kernel.session.session  # type: ignore[union-attr]
        if reply is not None:
            assert mine.index(reply) == len(mine) - 2, "the reply must come just before idle"

    def stream_text(self, msg_id: str, name: str = "stdout") -> str:
        return "".join(m["content"]["text"] for m in self.of(msg_id, "stream") if m["content"]["name"] == name)


_frontend: FrontEnd | None = None


def start_frontend() -> FrontEnd:
    """Create the shared front end and start its kernel; a plain call, as the Web Worker makes it.

    ``run.mjs`` calls this from JavaScript outside any coroutine (like js/src/worker/boot.ts does); under
    pytest :func:`frontend` calls it on first use.
    """
    global _frontend
    if _frontend is None:
        fe = FrontEnd()
        fe.start()
        _frontend = fe
    return _frontend


async def frontend() -> FrontEnd:
    """The shared front end, its kernel started and answering kernel_info; idle, with no input queued."""
    fe = start_frontend()
    if not fe.ready:
        msg_id = fe.request("kernel_info_request", {})
        await fe.reply(msg_id)
        fe.ready = True
    fe.activate()
    await fe.settle()
    fe.inputs = []
    return fe


async def shutdown() -> None:
    """Stop the shared kernel (the test runners call this once at the end)."""
    global _frontend
    if _frontend is not None:
        await _frontend.stop()
        _frontend = None


# -- tests ------------------------------------------------------------------------------------------


async def test_warm_up_sends_nothing_and_stores_nothing() -> None:
    """The requests ``warm_up`` makes before a page claims the kernel: nothing they make reaches ``send``, and
    the first cell a client runs finds the kernel as if they had never run (first in this file: the kernel is
    shared, and no other test has executed anything yet)."""
    fe = await frontend()
    await fe.wait_for(lambda: fe.warmed_up, "the end of the warm-up")
    warm = [m for m in fe.received if m["parent_header"].get("session") == host.WARM_UP_SESSION]
    assert not warm, [(m["channel"], m["header"]["msg_type"]) for m in warm]
    assert context.current_parent() is None  # no output with no request of its own goes to a warm-up
    code = "get_ipython().execution_count, In[1:], len(get_ipython().history_manager.input_hist_raw)"
    msg_id = fe.execute(code)
    reply = await fe.reply(msg_id)
    assert reply["content"]["execution_count"] == 1
    value = fe.of(msg_id, "execute_result")[0]["content"]["data"]["text/plain"]
    # IPython counts the running cell already; its history holds "" and this cell
    assert ast.literal_eval(value) == (2, [code], 2)


async def test_kernel_info() -> None:
    fe = await frontend()
    msg_id = fe.request("kernel_info_request", {}, channel="control")
    reply = await fe.reply(msg_id)
    assert reply["channel"] == "control"
    content = reply["content"]
    assert content["status"] == "ok"
    assert content["implementation"] == "async-kernel"
    assert content["protocol_version"] == "5.4"
    assert content["language_info"]["name"] == "python"
    assert content["language_info"]["version"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")


async def test_settings_applied() -> None:
    fe = await frontend()
    msg_id = fe.execute("import os; os.environ.get('ASYNC_KERNEL_TEST_ENV'), os.getcwd(), str(_dh[0])")
    assert (await fe.reply(msg_id))["content"]["status"] == "ok"
    value = fe.of(msg_id, "execute_result")[0]["content"]["data"]["text/plain"]
    expected_cwd = PYODIDE_CWD if PYODIDE else os.getcwd()
    # IPython's directory history starts where the kernel was placed, not where it was started
    assert value == repr(("from settings", expected_cwd, expected_cwd))


async def test_execute_result_and_stream() -> None:
    fe = await frontend()
    msg_id = fe.execute("print('hello'); import sys; print('warn', file=sys.stderr); 6 * 7")
    reply = await fe.reply(msg_id)
    assert reply["channel"] == "shell"
    assert reply["header"]["msg_type"] == "execute_reply"
    assert reply["content"]["status"] == "ok", reply["content"]
    count = reply["content"]["execution_count"]
    assert isinstance(count, int) and count >= 1
    (executed,) = fe.of(msg_id, "execute_input")
    assert executed["content"]["code"].startswith("print('hello')")
    assert fe.stream_text(msg_id) == "hello\n"
    assert fe.stream_text(msg_id, "stderr") == "warn\n"
    (result,) = fe.of(msg_id, "execute_result")
    assert result["channel"] == "iopub"
    assert result["content"]["data"]["text/plain"] == "42"
    assert result["content"]["execution_count"] == count
    types = [m["header"]["msg_type"] for m in fe.of(msg_id, channel="iopub")]
    assert types.index("stream") < types.index("execute_result"), types

    # the next cell counts on, and display() publishes display_data
    msg_id = fe.execute("from IPython.display import display; display({'text/plain': 'shown'}, raw=True)")
    reply = await fe.reply(msg_id)
    assert reply["content"]["status"] == "ok" and reply["content"]["execution_count"] == count + 1
    (shown,) = fe.of(msg_id, "display_data")
    assert shown["content"]["data"] == {"text/plain": "shown"}


async def test_execute_error() -> None:
    fe = await frontend()
    msg_id = fe.execute("print('before'); 1 / 0")
    reply = await fe.reply(msg_id)
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "ZeroDivisionError"
    assert content["evalue"] == "division by zero"
    assert content["traceback"], "the reply carries the traceback"
    (error,) = fe.of(msg_id, "error")
    assert error["content"]["ename"] == "ZeroDivisionError"
    assert error["content"]["evalue"] == "division by zero"
    assert any("ZeroDivisionError" in line for line in error["content"]["traceback"])
    assert fe.stream_text(msg_id) == "before\n"
    # a syntax error is an error too, and the kernel keeps executing afterwards
    msg_id = fe.execute("def broken(:\n    pass")
    reply = await fe.reply(msg_id)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "SyntaxError"
    msg_id = fe.execute("'still alive'")
    reply = await fe.reply(msg_id)
    assert reply["content"]["status"] == "ok"
    assert fe.of(msg_id, "execute_result")[0]["content"]["data"]["text/plain"] == "'still alive'"


COMM_CELL = """
import aiologic, comm
event = aiologic.Event()
got = []

def _target(c, open_msg):
    got.append(('open', open_msg['content']['data']))

    @c.on_msg
    def _on_msg(msg):
        got.append(('msg', msg['content']['data']))
        c.send({'ack': msg['content']['data']['n']})
        event.set()

comm.get_comm_manager().register_target('test_wait', _target)
print('waiting', flush=True)
await event
print('resolved', got)
"""


async def test_comm_message_resolves_awaiting_cell() -> None:
    fe = await frontend()
    exec_id = fe.execute(COMM_CELL)
    await fe.wait_for(lambda: "waiting" in fe.stream_text(exec_id), "the cell to await")
    await asyncio.sleep(0.05)
    assert fe.reply_of(exec_id) is None, "the cell must still be awaiting"
    comm_id = uuid.uuid4().hex
    open_id = fe.request("comm_open", {"comm_id": comm_id, "target_name": "test_wait", "data": {"hi": 1}})
    await fe.wait_for(lambda: fe.idle(open_id), "comm_open to be handled")
    assert fe.reply_of(exec_id) is None, "comm_open alone must not finish the cell"
    assert not fe.of(open_id, "comm_close"), "the target exists, so the comm must not be closed"
    msg_id = fe.request("comm_msg", {"comm_id": comm_id, "data": {"n": 7}})
    reply = await fe.reply(exec_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert fe.stream_text(exec_id) == "waiting\nresolved [('open', {'hi': 1}), ('msg', {'n': 7})]\n"
    await fe.wait_for(lambda: fe.idle(msg_id), "comm_msg to finish")
    fe.check_framing(open_id)
    fe.check_framing(msg_id)
    (ack,) = fe.of(msg_id, "comm_msg")
    assert ack["content"] == {"comm_id": comm_id, "data": {"ack": 7}}
    # comm_info lists the comm; comm_close removes it
    info_id = fe.request("comm_info_request", {"target_name": "test_wait"})
    assert (await fe.reply(info_id))["content"]["comms"] == {comm_id: {"target_name": "test_wait"}}
    close_id = fe.request("comm_close", {"comm_id": comm_id, "data": {}})
    await fe.wait_for(lambda: fe.idle(close_id), "comm_close")
    info_id = fe.request("comm_info_request", {})
    assert comm_id not in (await fe.reply(info_id))["content"]["comms"]


def completed(code: str, content: dict[str, Any]) -> list[str]:
    """The texts a front end gets by applying each match of a complete_reply to ``code``."""
    start, end = content["cursor_start"], content["cursor_end"]
    return [code[:start] + match + code[end:] for match in content["matches"]]


async def test_completion_while_cell_awaits() -> None:
    fe = await frontend()
    exec_id = fe.execute(
        "import aiologic\nrelease = aiologic.Event()\nsome_long_name = 1\nprint('waiting', flush=True)\n"
        "await release\n'released'"
    )
    await fe.wait_for(lambda: "waiting" in fe.stream_text(exec_id), "the cell to await")
    queued_id = fe.execute("'second'")  # executes are served in order: this one waits for the first
    complete_id = fe.request("complete_request", {"code": "some_lo", "cursor_pos": 7})
    reply = await fe.reply(complete_id)
    content = reply["content"]
    assert content["status"] == "ok"
    assert "some_long_name" in content["matches"], content["matches"]
    assert (content["cursor_start"], content["cursor_end"]) == (0, 7)
    code = "x = 1\nif x:\n    y = some_lo"
    complete_id = fe.request("complete_request", {"code": code, "cursor_pos": len(code)})
    content = (await fe.reply(complete_id))["content"]
    assert code.replace("some_lo", "some_long_name") in completed(code, content), content
    code = "import aiologic\naiologic.Eve"
    complete_id = fe.request("complete_request", {"code": code, "cursor_pos": len(code)})
    content = (await fe.reply(complete_id))["content"]
    assert "import aiologic\naiologic.Event" in completed(code, content), content
    inspect_id = fe.request("is_complete_request", {"code": "for i in range(3):"})
    reply = await fe.reply(inspect_id)
    assert reply["content"]["status"] == "incomplete"
    assert fe.reply_of(exec_id) is None and fe.reply_of(queued_id) is None, "the cells must still wait"
    assert not fe.of(queued_id, "execute_input"), "the second cell must not have started"
    kernel = fe.kernel.kernel  # type: ignore[union-attr]
    kernel.shell.user_ns["release"].set()
    first = await fe.reply(exec_id)
    second = await fe.reply(queued_id)
    assert first["content"]["status"] == "ok" and second["content"]["status"] == "ok"
    assert fe.of(exec_id, "execute_result")[0]["content"]["data"]["text/plain"] == "'released'"
    assert second["content"]["execution_count"] == first["content"]["execution_count"] + 1
    assert fe.received.index(first) < fe.received.index(second)


async def test_a_subshell_runs_while_a_main_shell_cell_awaits() -> None:
    """Subshells on the one loop (main and aux are the same runner here): their own queues, so a subshell's
    execute runs while a main-shell cell awaits; as JupyterLab's subshell console sends them."""
    fe = await frontend()
    created = await fe.reply(fe.request("create_subshell_request", {}, channel="control"))
    subshell_id = created["content"]["subshell_id"]
    exec_id = fe.execute("import aiologic\ngate = aiologic.Event()\nprint('waiting', flush=True)\nawait gate")
    await fe.wait_for(lambda: "waiting" in fe.stream_text(exec_id), "the cell to await")
    msg = fe.message("execute_request", {"code": "gate.set()\n6 * 7", "silent": False})
    msg["header"]["subshell_id"] = subshell_id
    fe.raw(json.dumps(msg))
    setter = fe.track(msg["header"]["msg_id"])
    reply = await fe.reply(setter)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert fe.of(setter, "execute_result")[0]["content"]["data"]["text/plain"] == "42"
    assert (await fe.reply(exec_id))["content"]["status"] == "ok"
    deleted = await fe.reply(fe.request("delete_subshell_request", {"subshell_id": subshell_id}, channel="control"))
    assert deleted["content"]["status"] == "ok"


async def test_interrupt_cancels_awaiting_cell() -> None:
    fe = await frontend()
    exec_id = fe.execute("import asyncio\nprint('sleeping', flush=True)\nawait asyncio.sleep(100)")
    await fe.wait_for(lambda: "sleeping" in fe.stream_text(exec_id), "the cell to await")
    queued_id = fe.execute("'queued before the interrupt'")
    started = time.monotonic()
    fe.kernel.interrupt()  # type: ignore[union-attr]
    reply = await fe.reply(exec_id, timeout=10)
    assert time.monotonic() - started < 5
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "KeyboardInterrupt", content
    (error,) = fe.of(exec_id, "error")
    assert error["content"]["ename"] == "KeyboardInterrupt"
    # stop_on_error: an execute queued before the failure is aborted, a later one runs
    queued = await fe.reply(queued_id)
    assert queued["content"]["status"] == "aborted"
    msg_id = fe.execute("'after'")
    assert (await fe.reply(msg_id))["content"]["status"] == "ok"

    # the same through an interrupt_request on the control channel
    exec_id = fe.execute("import asyncio\nprint('sleeping', flush=True)\nawait asyncio.sleep(100)")
    await fe.wait_for(lambda: "sleeping" in fe.stream_text(exec_id), "the cell to await")
    interrupt_id = fe.request("interrupt_request", {}, channel="control")
    assert (await fe.reply(interrupt_id))["content"]["status"] == "ok"
    reply = await fe.reply(exec_id, timeout=10)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    msg_id = fe.execute("'after again'")
    assert (await fe.reply(msg_id))["content"]["status"] == "ok"


async def test_sigint_raises_only_in_a_cell_and_waits_for_critical_sections() -> None:
    """The interrupt buffer's SIGINT (Pyodide) goes through the kernel's handler, as natively."""
    fe = await frontend()
    assert fe.kernel is not None
    original = signal.getsignal(signal.SIGINT)
    if PYODIDE:  # host.start installed it
        assert getattr(original, "__qualname__", "") == "install_sigint_handler.<locals>.on_sigint", original
    else:  # under CPython the test runner keeps its own handler: install the kernel's for this test
        interrupts.install_sigint_handler(fe.kernel.sigint)
    try:
        # in a cell's synchronous code: KeyboardInterrupt, where the cell is
        msg_id = fe.execute("import signal\nsignal.raise_signal(signal.SIGINT)\nprint('not reached')")
        reply = await fe.reply(msg_id)
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
        assert "not reached" not in fe.stream_text(msg_id)
        # in a critical section: held until the section ends
        msg_id = fe.execute(
            "from async_kernel import interrupts\n"
            "with interrupts.deferred:\n    signal.raise_signal(signal.SIGINT)\n    print('inside')\n"
            "print('after')"
        )
        reply = await fe.reply(msg_id)
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
        assert fe.stream_text(msg_id) == "inside\n"
        # outside any cell (the kernel's own code runs): nothing is raised, the kernel keeps serving
        signal.raise_signal(signal.SIGINT)
        msg_id = fe.execute("'still serving'")
        reply = await fe.reply(msg_id)
        assert reply["content"]["status"] == "ok"
    finally:
        if not PYODIDE:
            signal.signal(signal.SIGINT, original)


async def test_stdin() -> None:
    fe = await frontend()
    fe.inputs = ["Ada", "Lovelace", "s3cret"]
    code = "a = input('first? ')\nb = input('last? ')\nimport getpass\np = getpass.getpass()\nprint(a, b, len(p))"
    msg_id = fe.execute(code)
    reply = await fe.reply(msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    requests = fe.of(msg_id, "input_request")
    assert [r["channel"] for r in requests] == ["stdin"] * 3
    assert [r["content"] for r in requests] == [
        {"prompt": "first? ", "password": False},
        {"prompt": "last? ", "password": False},
        {"prompt": "Password: ", "password": True},
    ]
    assert fe.stream_text(msg_id) == "Ada Lovelace 6\n"
    assert fe.inputs == []
    # a front end that does not allow stdin gets an error, not a request
    msg_id = fe.execute("input('no? ')", allow_stdin=False)
    reply = await fe.reply(msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "StdinNotImplementedError"
    assert not fe.of(msg_id, "input_request")


ECHO_CELL = """
import comm

def _echo_target(c, open_msg):
    @c.on_msg
    def _echo(msg):
        c.send({'sizes': [len(b) for b in msg['buffers']]}, buffers=msg['buffers'])

comm.get_comm_manager().register_target('test_echo', _echo_target)
"""


async def test_binary_buffers_round_trip() -> None:
    fe = await frontend()
    msg_id = fe.execute(ECHO_CELL)
    assert (await fe.reply(msg_id))["content"]["status"] == "ok"
    comm_id = uuid.uuid4().hex
    open_id = fe.request("comm_open", {"comm_id": comm_id, "target_name": "test_echo", "data": {}})
    await fe.wait_for(lambda: fe.idle(open_id), "comm_open")
    buffers = [
        bytes(range(256)),
        b"\x00" * 17,
        b"",
        "héllo wörld ✓".encode(),
        bytes((i * 7919) % 256 for i in range(300_000)),
    ]
    msg_id = fe.request("comm_msg", {"comm_id": comm_id, "data": {"n": len(buffers)}}, buffers=buffers)
    await fe.wait_for(lambda: fe.idle(msg_id), "the echo")
    fe.check_framing(msg_id)
    (echo,) = fe.of(msg_id, "comm_msg")
    assert echo["content"]["data"] == {"sizes": [len(b) for b in buffers]}
    assert echo["buffers"] == buffers
    # buffers also survive bytes(), memoryview and bytearray on the way out
    msg_id = fe.execute(
        "c = comm.create_comm(target_name='out', data={})\n"
        "c.send({}, buffers=[b'\\xff\\x00abc', memoryview(b'mv'), bytearray(b'ba')])"
    )
    assert (await fe.reply(msg_id))["content"]["status"] == "ok"
    (out_open,) = fe.of(msg_id, "comm_open")
    assert out_open["content"]["target_name"] == "out"
    (out,) = fe.of(msg_id, "comm_msg")
    assert out["buffers"] == [b"\xff\x00abc", b"mv", b"ba"]


async def test_bad_messages_then_kernel_info() -> None:
    fe = await frontend()
    fe.logs.records.clear()
    before = len(fe.received)
    good = fe.message("kernel_info_request", {})
    no_header_fields = dict(good, header={"msg_type": "kernel_info_request"})
    bad_msg_id = dict(good, header=dict(good["header"], msg_id=5))
    bad_content = dict(good, content=[1, 2])
    bad = [
        "{not json",
        b"\xff\xfe",
        "[1, 2, 3]",
        '"a string"',
        "null",
        json.dumps({k: v for k, v in good.items() if k != "header"}),
        json.dumps(no_header_fields),
        json.dumps(bad_msg_id),
        json.dumps(bad_content),
        json.dumps(dict(good, channel="nowhere")),
        json.dumps(dict(good, channel="iopub")),
        json.dumps(dict(good, channel=None)),
        json.dumps(fe.message("input_reply", {"value": "stray"}, channel="stdin")),
    ]
    for text in bad:
        fe.raw(text)
    fe.raw(json.dumps(good), buffers=[b"unused"])  # buffers on a message that takes none are harmless
    await fe.reply(good["header"]["msg_id"])
    dropped = fe.received[before:]
    assert all(m["parent_header"].get("msg_id") == good["header"]["msg_id"] for m in dropped), [
        (m["header"]["msg_type"], m["content"]) for m in dropped
    ]
    warnings = [r for r in fe.logs.records if r.levelno >= logging.WARNING]
    assert len(warnings) == len(bad), [r.getMessage() for r in warnings]

    # an unknown request gets an error reply; an unknown non-request is only logged
    unknown_id = fe.request("frobnicate_request", {})
    reply = await fe.reply(unknown_id)
    assert reply["header"]["msg_type"] == "frobnicate_reply"
    assert reply["content"]["status"] == "error"
    assert "frobnicate_request" in reply["content"]["evalue"]
    other_id = fe.request("frobnicate", {})
    await fe.wait_for(lambda: fe.idle(other_id), "the unknown message to be handled")
    fe.check_framing(other_id)
    assert fe.reply_of(other_id) is None

    # an execute whose code is not a string is an error reply, and the kernel goes on
    msg_id = fe.request("execute_request", {"code": 42})
    assert (await fe.reply(msg_id))["content"]["status"] == "error"
    msg_id = fe.request("kernel_info_request", {})
    assert (await fe.reply(msg_id))["content"]["status"] == "ok"
    msg_id = fe.execute("1 + 1")
    reply = await fe.reply(msg_id)
    assert reply["content"]["status"] == "ok"
    assert fe.of(msg_id, "execute_result")[0]["content"]["data"]["text/plain"] == "2"


#: random corpus cases sent after the ~600 fixed ones (the whole test takes ~2 s, under CPython and in Pyodide)
CORPUS_RANDOM = 500 if PYODIDE else 2000
CORPUS_SEED = 5
CORPUS_BATCH = 50
#: the health check after each batch: kernel_info and an execute answered within this (seconds) by a kernel
#: that has served the batch. A batch and its health check take under 0.3 s in either interpreter; Pyodide,
#: several times slower at everything, gets a wider margin for slow shared machines.
HEALTH_TIMEOUT = 5.0 if PYODIDE else 2.0
#: a batch's accepted messages all answered (busy ... idle) within this; only a kernel that lost one waits it out
DRAIN_TIMEOUT = 20.0

_UUID_MSG_ID = re.compile(rb'"msg_id": "[0-9a-f]{32}"')


@dataclass(frozen=True)
class CorpusMessage:
    """One corpus case as sent: its text, and the id and type the kernel will read in its header."""

    case: malformed.Case
    text: bytes
    msg_id: str | None
    msg_type: str | None


def corpus_message(case: malformed.Case) -> CorpusMessage:
    """The case with a msg_id of its own (the corpus reuses one header in many cases), ready to send."""
    header, found = _UUID_MSG_ID.subn(f'"msg_id": "{uuid.uuid4().hex}"'.encode(), case.parts[0], count=1)
    if found:
        case = replace(case, parts=(header, *case.parts[1:]))
    parsed = None
    # json.loads on deep nesting would kill Pyodide (see callback.MAX_DEPTH): fewer brackets are shallower
    if header.count(b"[") + header.count(b"{") <= callback.MAX_DEPTH:
        with contextlib.suppress(ValueError):
            parsed = json.loads(header)
    fields = parsed if isinstance(parsed, dict) else {}
    msg_id, msg_type = fields.get("msg_id"), fields.get("msg_type")
    return CorpusMessage(
        case,
        malformed.whole_message(case),
        msg_id if isinstance(msg_id, str) else None,
        msg_type if isinstance(msg_type, str) else None,
    )


def corpus_batches(messages: Iterable[CorpusMessage]) -> list[list[CorpusMessage]]:
    """Batches of at most :data:`CORPUS_BATCH` in which no two messages share a msg_id (replies tell them apart)."""
    batches: list[list[CorpusMessage]] = [[]]
    ids: set[str] = set()
    for message in messages:
        if len(batches[-1]) == CORPUS_BATCH or message.msg_id in ids:
            batches.append([])
            ids = set()
        batches[-1].append(message)
        if message.msg_id is not None:
            ids.add(message.msg_id)
    return batches


@contextlib.contextmanager
def kept_logs(fe: FrontEnd, *names: str) -> Iterator[None]:
    """Inside the block the records of these loggers go to ``fe.logs`` only, not on to the console."""
    loggers = [logging.getLogger(name) for name in names]
    added = [logger for logger in loggers if fe.logs not in logger.handlers]
    for logger in added:
        logger.addHandler(fe.logs)
    for logger in loggers:
        logger.propagate = False
    try:
        yield
    finally:
        for logger in loggers:
            logger.propagate = True
        for logger in added:
            logger.removeHandler(fe.logs)


def _formatted(records: Iterable[logging.LogRecord]) -> str:
    return "\n".join(
        record.getMessage()[:300]
        + ("\n" + "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else "")
        for record in records
    )


async def _send_corpus_batch(fe: FrontEnd, batch: list[CorpusMessage]) -> list[str]:
    """Send ``batch``, wait for it to be served, run the health check; return what went wrong, by case."""
    problems: list[str] = []
    accepted: dict[str, CorpusMessage] = {}  # by msg_id
    for message in batch:
        name = message.case.name
        mark = len(fe.logs.records)
        try:
            fe.raw(message.text, message.case.buffers)
        except Exception as exc:
            problems.append(f"{name}: handle_msg raised {exc!r:.300}")
            continue
        taken = fe.logs.records[mark:]  # handle_msg logs a refusal before it returns; serving comes later
        if any(record.exc_info for record in taken):  # Kernel.receive must take any message without raising
            problems.append(f"{name}: the kernel raised while taking it:\n{_formatted(taken)}")
        elif any(record.levelno >= logging.WARNING for record in taken):
            pass  # refused, and said so
        elif message.msg_id is None:
            problems.append(f"{name}: accepted, yet its header has no msg_id the test can read")
        else:
            accepted[message.msg_id] = message
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while (stuck := [i for i in accepted if not fe.idle(i)]) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    if stuck:
        problems += [f"{accepted[i].case.name}: accepted, but no idle status within {DRAIN_TIMEOUT} s" for i in stuck]
        traced = [record for record in fe.logs.records if record.exc_info]
        problems.append(f"kernel tracebacks while serving the batch:\n{_formatted(traced)}")
    # the health check: the kernel still answers, and runs code
    started = time.monotonic()
    info_id = fe.request("kernel_info_request", {})
    exec_id = fe.execute("1 + 1")
    try:
        info = await fe.reply(info_id, timeout=HEALTH_TIMEOUT)
        assert info["content"]["status"] == "ok", info["content"]
        reply = await fe.reply(exec_id, timeout=max(0.0, HEALTH_TIMEOUT - (time.monotonic() - started)))
        assert reply["content"]["status"] == "ok", reply["content"]
        assert fe.of(exec_id, "execute_result")[0]["content"]["data"]["text/plain"] == "2"
    except AssertionError as exc:
        return [*problems, f"the health check failed: {exc}"]
    # what the kernel sent in answer to the batch: whole messages, each request framed busy ... (reply) idle,
    # and nothing for a message it refused
    problems += fe.errors
    for msg in fe.received:
        parent_id = msg["parent_header"].get("msg_id")
        if parent_id not in accepted and parent_id not in (info_id, exec_id):
            problems.append(f"a {msg['header']['msg_type']} for {parent_id!r:.80}, which was refused")
    for msg_id, message in accepted.items():
        if msg_id in stuck:
            continue
        reply_msg = fe.reply_of(msg_id)
        try:
            fe.check_framing(msg_id, reply=reply_msg)
            if message.msg_type is not None and message.msg_type.endswith("_request"):
                assert reply_msg is not None, "a request with no reply"
                assert reply_msg["channel"] == message.case.channel, f"the reply came on {reply_msg['channel']}"
        except AssertionError as exc:
            problems.append(f"{message.case.name}: {exc}")
    return problems


async def test_malformed_messages_leave_kernel_answering() -> None:
    """The shared fault corpus (tests/malformed.py) through handle_msg, in batches.

    After each batch: handle_msg never raised and the core never raised into it; every message accepted was
    served, framed busy ... (reply) idle, and nothing was sent for one refused; everything sent was a whole
    message; and the kernel answers kernel_info and runs ``1 + 1``. Fails at the first batch where that is
    not so, naming the cases.
    """
    fe = await frontend()
    cases = [*malformed.fixed_cases(fe.session), *malformed.random_cases(CORPUS_RANDOM, CORPUS_SEED, fe.session)]
    batches = corpus_batches(corpus_message(case) for case in cases)
    with kept_logs(fe, "async_kernel", "Comm"):  # thousands of expected error lines: not for the console
        for number, batch in enumerate(batches, 1):
            fe.forget()
            fe.logs.records.clear()
            problems = await _send_corpus_batch(fe, batch)
            assert not problems, f"batch {number} of {len(batches)}:\n" + "\n".join(problems)
    fe.forget()
    assert sum(map(len, batches)) == len(cases) > 600


async def test_handle_msg_survives_a_failing_core() -> None:
    """What Kernel.receive raises is logged with the message's type, id and traceback; handle_msg returns."""
    fe = await frontend()
    assert fe.kernel is not None
    transport = fe.kernel._transport

    def fail(channel: str, msg: Any) -> None:
        raise RuntimeError("core failure")

    fe.logs.records.clear()
    msg = fe.message("kernel_info_request", {})
    transport.connect(fail)
    try:
        with kept_logs(fe, "async_kernel"):
            fe.raw(json.dumps(msg))
    finally:
        transport.connect(fe.kernel.kernel.receive)
    (record,) = fe.logs.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "kernel_info_request" in record.getMessage() and msg["header"]["msg_id"] in record.getMessage()
    assert "core failure" in "".join(traceback.format_exception(*record.exc_info))
    assert (await fe.reply(fe.request("kernel_info_request", {})))["content"]["status"] == "ok"


SEED_CELL = """
import ipywidgets as ipw
from aiologic import Event
b = ipw.Button(description="Click me"); event = Event()
b.on_click(lambda _: event.set()); display(b)
await event
'clicked'
"""


async def test_seed_example_button_click() -> None:
    """The issue's example: a cell awaiting a widget button completes when the front end clicks it."""
    fe = await frontend()
    exec_id = fe.execute(SEED_CELL)
    views = await fe.wait_for(lambda: fe.of(exec_id, "display_data"), "the button to be displayed")
    model_id = views[0]["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    opens = [m for m in fe.of(exec_id, "comm_open") if m["content"]["comm_id"] == model_id]
    assert opens and opens[0]["content"]["target_name"] == "jupyter.widget"
    assert opens[0]["content"]["data"]["state"]["description"] == "Click me"
    # the cell awaits; completion is still served
    complete_id = fe.request("complete_request", {"code": "ipw.Butt", "cursor_pos": 8})
    assert "ipw.Button" in completed("ipw.Butt", (await fe.reply(complete_id))["content"])
    await asyncio.sleep(0.05)
    assert fe.reply_of(exec_id) is None, "the cell must wait for the click"
    click_id = fe.request(
        "comm_msg", {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}}
    )
    reply = await fe.reply(exec_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert fe.of(exec_id, "execute_result")[0]["content"]["data"]["text/plain"] == "'clicked'"
    await fe.wait_for(lambda: fe.idle(click_id), "the click to be handled")
    fe.check_framing(click_id)
