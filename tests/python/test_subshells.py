"""Kernel subshells (JEP 91) natively: each subshell runs on a thread of its own, driven with jupyter_client."""

from __future__ import annotations

import queue
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_helpers import TIMEOUT, KernelHandle, start_kernel, stop_kernel


class Subshells:
    """Raw subshell messages over a kernel's control and shell channels, and every iopub message kept by parent."""

    def __init__(self, handle: KernelHandle) -> None:
        self.handle = handle
        self.kc = handle.kc
        self.iopub: dict[str, list[dict]] = defaultdict(list)
        self.replies: dict[str, dict] = {}

    def control(self, msg_type: str, content: dict) -> dict:
        msg = self.kc.session.msg(msg_type, content)
        self.kc.control_channel.send(msg)
        return self.handle.reply(msg["header"]["msg_id"], channel="control")

    def create(self) -> str:
        reply = self.control("create_subshell_request", {})
        assert reply["content"]["status"] == "ok", reply["content"]
        return reply["content"]["subshell_id"]

    def execute(self, code: str, subshell_id: str | None = None) -> str:
        msg = self.kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True})
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def pump(self, timeout: float) -> None:
        """Read one iopub or shell message (whichever comes) into the records."""
        for get, store in ((self.kc.get_iopub_msg, "iopub"), (self.kc.get_shell_msg, "shell")):
            try:
                msg = get(timeout=timeout)
            except queue.Empty:
                continue
            parent = msg["parent_header"].get("msg_id", "")
            if store == "iopub":
                self.iopub[parent].append(msg)
            else:
                self.replies[parent] = msg

    def wait(self, msg_id: str, what: str = "reply and idle", timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while not (msg_id in self.replies and self.idle(msg_id)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} for {msg_id} within {timeout}s")
            self.pump(0.05)
        return self.replies[msg_id]

    def wait_started(self, msg_id: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(m["msg_type"] == "execute_input" for m in self.iopub[msg_id]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{msg_id} did not start within {timeout}s")
            self.pump(0.05)

    def idle(self, msg_id: str) -> bool:
        return any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in self.iopub[msg_id])

    def stdout(self, msg_id: str) -> str:
        return "".join(m["content"]["text"] for m in self.iopub[msg_id] if m["msg_type"] == "stream")


@pytest.fixture
def subshells(tmp_path: Path) -> Iterator[Subshells]:
    handle = start_kernel(tmp_path)
    try:
        yield Subshells(handle)
    finally:
        stop_kernel(handle)


def test_kernel_info_says_subshells_are_supported(subshells: Subshells) -> None:
    assert "kernel subshells" in subshells.handle.kernel_info()["content"]["supported_features"]


def test_create_list_delete_over_control(subshells: Subshells) -> None:
    first = subshells.create()
    listed = subshells.control("list_subshell_request", {})
    assert listed["msg_type"] == "list_subshell_reply" and listed["content"]["subshell_id"] == [first]
    deleted = subshells.control("delete_subshell_request", {"subshell_id": first})
    assert deleted["msg_type"] == "delete_subshell_reply" and deleted["content"]["status"] == "ok"
    assert subshells.control("list_subshell_request", {})["content"]["subshell_id"] == []
    again = subshells.control("delete_subshell_request", {"subshell_id": first})
    assert again["content"]["status"] == "error"


def test_a_subshell_runs_while_the_main_shell_blocks_in_synchronous_code(subshells: Subshells) -> None:
    """The main shell waits on a threading.Event (blocking its thread) that only a subshell's cell sets."""
    subshells.wait(subshells.execute("import threading\ngate = threading.Event()"))
    subshell_id = subshells.create()
    blocked = subshells.execute("print('waiting')\nassert gate.wait(30)\n'released'")
    subshells.wait_started(blocked)
    setter = subshells.execute("gate.set()\nprint('set from the subshell')", subshell_id)
    reply = subshells.wait(setter)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert subshells.stdout(setter) == "set from the subshell\n"
    statuses = [m for m in subshells.iopub[setter] if m["msg_type"] == "status"]
    assert [m["parent_header"].get("subshell_id") for m in statuses] == [subshell_id, subshell_id]
    assert subshells.wait(blocked)["content"]["status"] == "ok"
    assert subshells.stdout(blocked) == "waiting\n"


def test_two_subshells_block_at_once_and_each_keeps_its_order(subshells: Subshells) -> None:
    subshells.wait(subshells.execute("import threading, time\nseen = []\nlock = threading.Lock()"))
    a, b = subshells.create(), subshells.create()
    sent = [
        (sid, subshells.execute(f"time.sleep(0.05)\nwith lock: seen.append(('{name}', {i}))", sid))
        for i in range(3)
        for sid, name in ((a, "a"), (b, "b"))
    ]
    for _, msg_id in sent:
        assert subshells.wait(msg_id)["content"]["status"] == "ok"
    check = subshells.execute("print([i for n, i in seen if n == 'a'], [i for n, i in seen if n == 'b'])")
    subshells.wait(check)
    assert subshells.stdout(check) == "[0, 1, 2] [0, 1, 2]\n"


def test_an_interrupt_cancels_a_subshell_cell_that_awaits(subshells: Subshells) -> None:
    subshell_id = subshells.create()
    waiting = subshells.execute("import asyncio\nawait asyncio.sleep(60)", subshell_id)
    subshells.wait_started(waiting)
    subshells.handle.km.interrupt_kernel()
    reply = subshells.wait(waiting)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    after = subshells.wait(subshells.execute("'still serving'", subshell_id))
    assert after["content"]["status"] == "ok"


def test_deleting_a_subshell_ends_its_thread(subshells: Subshells) -> None:
    count = "import threading\nprint(sum(t.name.startswith('async-kernel-subshell') for t in threading.enumerate()))"
    subshell_id = subshells.create()
    before = subshells.execute(count)
    subshells.wait(before)
    assert subshells.stdout(before) == "1\n"
    subshells.control("delete_subshell_request", {"subshell_id": subshell_id})
    deadline = time.monotonic() + TIMEOUT
    while True:
        after = subshells.execute(count)
        subshells.wait(after)
        if subshells.stdout(after) == "0\n":
            break
        assert time.monotonic() < deadline, "the deleted subshell's thread is still alive"


def test_comm_messages_on_a_subshell_run_on_the_main_loop(subshells: Subshells) -> None:
    """JupyterLab sends comm messages on a subshell: their handlers still run on the cells' thread and loop."""
    subshell_id = subshells.create()
    setup = subshells.execute(
        "import threading, comm\n"
        "threads = []\n"
        "comm.get_comm_manager().register_target('where', lambda c, m: threads.append(threading.current_thread().name))"
    )
    assert subshells.wait(setup)["content"]["status"] == "ok"
    msg = subshells.kc.session.msg("comm_open", {"comm_id": "c1", "target_name": "where", "data": {}})
    msg["header"]["subshell_id"] = subshell_id
    subshells.kc.shell_channel.send(msg)
    deadline = time.monotonic() + TIMEOUT
    while not subshells.idle(msg["header"]["msg_id"]):
        assert time.monotonic() < deadline, "the comm_open was not handled"
        subshells.pump(0.05)
    check = subshells.execute("print(threads)")
    subshells.wait(check)
    assert subshells.stdout(check) == "['MainThread']\n"
