"""The debugger (Jupyter debug protocol over control, debugpy) driven by jupyter_client, as JupyterLab drives it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from async_kernel.debugger import HASH_SEED, murmur2
from kernel_helpers import TIMEOUT, KernelHandle, start_kernel, stop_kernel

pytest.importorskip("debugpy")

CELL = "def add(a, b):\n    total = a + b\n    return total\n\nresult = add(2, 3)\nprint('done', result)\n"


@pytest.fixture(scope="module")
def debug_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelHandle]:
    handle = start_kernel(tmp_path_factory.mktemp("debugspec"))
    try:
        yield handle
    finally:
        stop_kernel(handle)


class Dap:
    """Sends DAP requests in ``debug_request``s on control, with JupyterLab's sequence numbers."""

    def __init__(self, handle: KernelHandle) -> None:
        self.handle = handle
        self.seq = 0

    def __call__(self, command: str, arguments: dict[str, Any] | None = None, timeout: float = TIMEOUT) -> dict:
        self.seq += 1
        content = {"type": "request", "seq": self.seq, "command": command, "arguments": arguments or {}}
        msg = self.handle.kc.session.msg("debug_request", content)
        self.handle.kc.control_channel.send(msg)
        reply = self.handle.reply(msg["header"]["msg_id"], timeout, channel="control")
        assert reply["msg_type"] == "debug_reply"
        assert reply["content"].get("request_seq") == self.seq, reply["content"]
        return reply["content"]

    def event(self, name: str, timeout: float = TIMEOUT) -> dict:
        def match(msg: dict) -> bool:
            return msg["msg_type"] == "debug_event" and msg["content"].get("event") == name

        return self.handle._until(self.handle.kc.get_iopub_msg, match, timeout, f"debug_event {name!r}")["content"]


INITIALIZE = {
    "clientID": "test",
    "clientName": "test",
    "adapterID": "",
    "pathFormat": "path",
    "linesStartAt1": True,
    "columnsStartAt1": True,
    "supportsVariableType": True,
    "supportsVariablePaging": True,
    "supportsRunInTerminalRequest": True,
    "locale": "en",
}


def test_kernel_info_says_debugger(debug_kernel: KernelHandle) -> None:
    content = debug_kernel.kernel_info()["content"]
    assert content["debugger"] is True
    assert "debugger" in content["supported_features"]


def test_debug_info_before_start(debug_kernel: KernelHandle) -> None:
    body = Dap(debug_kernel)("debugInfo")["body"]
    assert body["hashMethod"] == "Murmur2" and body["hashSeed"] == HASH_SEED
    assert body["tmpFileSuffix"] == ".py" and body["tmpFilePrefix"].endswith(os.sep)
    assert body["richRendering"] is True


def test_breakpoint_stop_inspect_continue(debug_kernel: KernelHandle) -> None:
    dap = Dap(debug_kernel)
    assert dap("initialize", INITIALIZE)["success"]
    assert dap("attach", {})["success"]
    info = dap("debugInfo")["body"]
    assert info["isStarted"] is True
    path = dap("dumpCell", {"code": CELL})["body"]["sourcePath"]
    assert path == f"{info['tmpFilePrefix']}{murmur2(CELL.encode(), HASH_SEED)}{info['tmpFileSuffix']}"
    assert Path(path).read_text() == CELL
    reply = dap("setBreakpoints", {"source": {"path": path}, "breakpoints": [{"line": 3}], "sourceModified": False})
    assert reply["success"] and reply["body"]["breakpoints"][0]["verified"], reply
    assert dap("configurationDone")["success"]
    assert dap("debugInfo")["body"]["breakpoints"] == [{"source": path, "breakpoints": [{"line": 3}]}]

    msg_id = debug_kernel.kc.execute(CELL)
    stopped = dap.event("stopped")
    thread = stopped["body"]["threadId"]
    _inspect_stopped_cell(dap, debug_kernel, thread, path)
    assert dap("next", {"threadId": thread})["success"]  # step out of add() into the cell
    assert dap.event("stopped")["body"]["reason"] == "step"
    frames = dap("stackTrace", {"threadId": thread})["body"]["stackFrames"]
    assert frames[0]["source"]["path"] == path and frames[0]["line"] in (5, 6), frames[0]
    assert dap("continue", {"threadId": thread})["success"]
    reply, iopub = debug_kernel.collect(msg_id)
    assert reply["content"]["status"] == "ok"
    assert "done 5" in "".join(m["content"].get("text", "") for m in iopub if m["msg_type"] == "stream")
    _inspect_namespace(dap)
    disconnected = dap("disconnect", {"restart": False, "terminateDebuggee": True})
    assert disconnected["success"], disconnected
    assert dap("debugInfo")["body"]["isStarted"] is False


def _inspect_stopped_cell(dap: Dap, handle: KernelHandle, thread: int, path: str) -> None:
    assert handle.kernel_info()["content"]["status"] == "ok"  # the other queues keep serving
    assert thread in dap("debugInfo")["body"]["stoppedThreads"]
    frames = dap("stackTrace", {"threadId": thread})["body"]["stackFrames"]
    assert frames[0]["source"]["path"] == path and frames[0]["line"] == 3, frames[0]
    scopes = dap("scopes", {"frameId": frames[0]["id"]})["body"]["scopes"]
    local = next(s for s in scopes if s["name"] == "Locals")
    variables = dap("variables", {"variablesReference": local["variablesReference"]})["body"]["variables"]
    values = {v["name"]: v["value"] for v in variables}
    assert values["total"] == "5" and values["a"] == "2", values
    rich = dap("richInspectVariables", {"variableName": "total", "frameId": frames[0]["id"]})
    assert rich["success"] and rich["body"]["data"]["text/plain"] == "5", rich
    assert dap("source", {"source": {"path": path}})["body"]["content"] == CELL


def _inspect_namespace(dap: Dap) -> None:
    variables = dap("inspectVariables")["body"]["variables"]
    names = {v["name"]: v for v in variables}
    assert names["result"]["value"] == "5" and "add" in names
    assert "In" not in names and "get_ipython" not in names
    rich = dap("richInspectVariables", {"variableName": "result"})
    assert rich["body"]["data"]["text/plain"] == "5"


def test_restart_after_disconnect(debug_kernel: KernelHandle) -> None:
    dap = Dap(debug_kernel)
    assert dap("initialize", INITIALIZE)["success"]
    assert dap("attach", {})["success"]
    assert dap("configurationDone")["success"]
    reply, _ = debug_kernel.execute("x = [1, 2, {'k': 3}]")
    assert reply["content"]["status"] == "ok"
    variables = {v["name"]: v for v in dap("inspectVariables")["body"]["variables"]}
    children = dap("variables", {"variablesReference": variables["x"]["variablesReference"]})["body"]["variables"]
    assert [c["value"] for c in children[:2]] == ["1", "2"]
    assert dap("disconnect", {"restart": False, "terminateDebuggee": True})["success"]


def test_debug_requests_are_served_while_a_cell_blocks(debug_kernel: KernelHandle) -> None:
    dap = Dap(debug_kernel)
    msg_id = debug_kernel.kc.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(3)")
    debug_kernel.wait_for_output(msg_id, "sleeping")
    assert dap("debugInfo", timeout=1.5)["success"]
    assert dap("inspectVariables", timeout=1.5)["success"]
    reply, _ = debug_kernel.collect(msg_id)
    assert reply["content"]["status"] == "ok"


def test_unknown_command_before_initialize_fails_cleanly(debug_kernel: KernelHandle) -> None:
    reply = Dap(debug_kernel)("stackTrace", {"threadId": 1})
    assert reply["success"] is False and "not started" in reply["message"]
