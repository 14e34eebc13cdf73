"""Kernel subshells (JEP 91) on one event loop, as in Pyodide: each subshell has its own queues."""

from __future__ import annotations

import pytest

from .kernel_pair import KernelPair

pytestmark = pytest.mark.anyio


async def create(pair: KernelPair) -> str:
    reply = await pair.request("create_subshell_request", {}, channel="control")
    assert reply["content"]["status"] == "ok", reply["content"]
    subshell_id = reply["content"]["subshell_id"]
    assert isinstance(subshell_id, str) and subshell_id
    return subshell_id


def execute_in(pair: KernelPair, subshell_id: str | None, code: str) -> str:
    msg = pair.message("execute_request", {"code": code}, subshell_id=subshell_id)
    msg_id = pair.send(msg)
    assert msg_id is not None
    return msg_id


async def test_kernel_info_lists_kernel_subshells(pair: KernelPair) -> None:
    reply = await pair.request("kernel_info_request", {})
    assert "kernel subshells" in reply["content"]["supported_features"]


async def test_create_list_and_delete(pair: KernelPair) -> None:
    first, second = await create(pair), await create(pair)
    assert first != second
    listed = await pair.request("list_subshell_request", {}, channel="control")
    assert sorted(listed["content"]["subshell_id"]) == sorted([first, second])
    deleted = await pair.request("delete_subshell_request", {"subshell_id": first}, channel="control")
    assert deleted["content"] == {"status": "ok"}
    listed = await pair.request("list_subshell_request", {}, channel="control")
    assert listed["content"]["subshell_id"] == [second]


async def test_deleting_an_unknown_subshell_is_an_error_reply(pair: KernelPair) -> None:
    reply = await pair.request("delete_subshell_request", {"subshell_id": "nope"}, channel="control")
    assert reply["content"]["status"] == "error"
    assert "nope" in reply["content"]["evalue"]


async def test_an_execute_for_an_unknown_subshell_is_an_error_reply(pair: KernelPair) -> None:
    msg_id = execute_in(pair, "nope", "1")
    reply = await pair.reply(msg_id)
    assert reply["content"]["status"] == "error"
    assert "no subshell" in reply["content"]["evalue"]
    assert pair.statuses(msg_id) == ["busy", "idle"]


async def test_a_cell_awaiting_in_the_main_shell_does_not_hold_up_a_subshell(pair: KernelPair) -> None:
    subshell_id = await create(pair)
    waiting = pair.execute("import anyio\ngate = anyio.Event()\nawait gate.wait()\n'released'")
    await pair.wait_started(waiting)
    setter = execute_in(pair, subshell_id, "gate.set()\nprint('from the subshell')")
    reply = await pair.reply(setter)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert pair.stream_text(setter) == "from the subshell\n"
    assert (await pair.reply(waiting))["content"]["status"] == "ok"


async def test_executes_of_one_subshell_run_in_order_and_carry_its_id(pair: KernelPair) -> None:
    subshell_id = await create(pair)
    await pair.run_cell("order = []")
    ids = [execute_in(pair, subshell_id, f"import anyio\nawait anyio.sleep(0)\norder.append({i})") for i in range(3)]
    for msg_id in ids:
        assert (await pair.reply(msg_id))["content"]["status"] == "ok"
        statuses = pair.messages_for(msg_id, msg_type="status")
        assert [m["parent_header"]["subshell_id"] for m in statuses] == [subshell_id, subshell_id]
    reply = await pair.run_cell("order")
    assert reply["content"]["status"] == "ok"
    result = pair.messages_for(reply["parent_header"]["msg_id"], msg_type="execute_result")
    assert result[0]["content"]["data"]["text/plain"] == "[0, 1, 2]"


async def test_deleting_a_subshell_cancels_its_awaiting_cell(pair: KernelPair) -> None:
    subshell_id = await create(pair)
    waiting = execute_in(pair, subshell_id, "import anyio\nawait anyio.sleep(60)")
    await pair.wait_started(waiting)
    await pair.request("delete_subshell_request", {"subshell_id": subshell_id}, channel="control")
    await pair.wait_for(lambda: pair.is_idle(waiting), "the deleted subshell's cell to end")
    assert (await pair.request("kernel_info_request", {}))["content"]["status"] == "ok"
    assert (await pair.run_cell("1 + 1"))["content"]["status"] == "ok"
