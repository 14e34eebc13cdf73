"""The kernel core (async_kernel.kernel) with its real shell, through an in-memory front end (KernelPair).

Each test runs on asyncio and on trio. The main and aux runners share the test's loop, so cells here
``await`` (a cell blocking synchronously would block everything; tests/python covers that case natively).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import anyio
import pytest
from async_kernel.kernel import KernelSettings
from async_kernel.protocol import PROTOCOL_VERSION

from .kernel_pair import TIMEOUT, KernelPair, SharedShell

pytestmark = pytest.mark.anyio


def result_text(pair: KernelPair, msg_id: str) -> list[str]:
    return [m["content"]["data"]["text/plain"] for m in pair.messages_for(msg_id, msg_type="execute_result")]


def unique(prefix: str) -> str:
    """A name no other test (nor the other backend's run of this one) uses in the shared shell."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def assert_still_serving(pair: KernelPair) -> None:
    assert (await pair.request("kernel_info_request"))["content"]["status"] == "ok"
    reply = await pair.run_cell("1 + 1")
    assert reply["content"]["status"] == "ok"


# -- framing ----------------------------------------------------------------------------------------


async def test_a_reply_is_framed_for_its_request(pair: KernelPair):
    msg = pair.message("kernel_info_request")
    msg["idents"] = [b"client", b"route"]
    msg_id = pair.send(msg, channel="control")
    assert msg_id is not None
    reply = await pair.reply(msg_id)
    assert pair.messages_for(msg_id, "control") == [reply]
    assert pair.messages_for(msg_id, "shell") == []
    assert reply["header"]["msg_type"] == "kernel_info_reply"
    assert reply["parent_header"] == msg["header"]
    assert reply["idents"] == [b"client", b"route"]
    assert reply["metadata"]["status"] == "ok"
    header = reply["header"]
    assert header["session"] == pair.kernel.session.session != msg["header"]["session"]
    assert header["version"] == PROTOCOL_VERSION
    assert header["msg_id"] != msg_id
    assert all(isinstance(header[key], str) and header[key] for key in ("msg_id", "username", "date"))
    content = reply["content"]
    assert (content["implementation"], content["protocol_version"]) == ("async-kernel", PROTOCOL_VERSION)
    assert content["language_info"]["name"] == "python"


async def test_an_error_reply_has_error_status_in_its_metadata(pair: KernelPair):
    reply = await pair.request("frobnicate_request")
    assert reply["metadata"]["status"] == reply["content"]["status"] == "error"


async def test_busy_and_idle_frame_iopub_messages_with_the_request_as_parent(pair: KernelPair):
    msg_id = pair.execute("print('hi')\n42")
    await pair.reply(msg_id)
    iopub = pair.messages_for(msg_id)
    assert [m["header"]["msg_type"] for m in iopub] == ["status", "execute_input", "stream", "execute_result", "status"]
    assert {m["header"]["session"] for m in iopub} == {pair.kernel.session.session}
    assert len({m["header"]["msg_id"] for m in iopub}) == len(iopub)


REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "execute_request": ("shell", {"code": "1"}),
    "complete_request": ("shell", {"code": "pri", "cursor_pos": 3}),
    "inspect_request": ("shell", {"code": "len", "cursor_pos": 3, "detail_level": 0}),
    "is_complete_request": ("shell", {"code": "for x in y:"}),
    "history_request": ("shell", {"hist_access_type": "tail", "n": 3, "raw": True, "output": False}),
    "kernel_info_request": ("shell", {}),
    "comm_info_request": ("shell", {}),
    "interrupt_request": ("control", {}),
    "shutdown_request": ("control", {"restart": False}),
}


@pytest.mark.parametrize("msg_type", REQUESTS)
async def test_every_request_is_answered_between_busy_and_idle(pair: KernelPair, msg_type: str):
    channel, content = REQUESTS[msg_type]
    msg_id = pair.send_request(msg_type, content, channel)
    reply = await pair.reply(msg_id)  # checks busy first, idle last, the reply just before idle, parents
    assert reply["header"]["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["content"]["status"] in ("ok", "incomplete")
    assert pair.messages_for(msg_id, channel) == [reply]


async def test_requests_on_one_queue_are_answered_in_order(pair: KernelPair):
    ids = [pair.execute(f"{i}") for i in range(5)]
    for msg_id in ids:
        await pair.reply(msg_id)
    replies = [pair.reply_of(msg_id) for msg_id in ids]
    order = [pair.transport.sent.index(("shell", reply)) for reply in replies]  # type: ignore[comparison-overlap]
    assert order == sorted(order)
    counts = [reply["content"]["execution_count"] for reply in replies]  # type: ignore[index]
    assert counts == list(range(counts[0], counts[0] + 5))


# -- execute ----------------------------------------------------------------------------------------


async def test_stop_on_error_aborts_the_executes_queued_before_the_failure(pair: KernelPair):
    name = unique("aborted")
    failing = pair.execute("1/0")
    queued = [pair.execute(f"{name} = {i}") for i in range(3)]
    reply = await pair.reply(failing)
    assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "ZeroDivisionError")
    for msg_id in queued:
        reply = await pair.reply(msg_id)
        assert reply["content"]["status"] == "aborted"
        assert reply["metadata"]["status"] == "aborted"
        assert pair.messages_for(msg_id, msg_type="execute_input") == []
    # what arrives after the failure runs again, and the aborted cells never ran
    reply = await pair.run_cell(f"{name!r} in globals()")
    assert reply["content"]["status"] == "ok"
    assert result_text(pair, reply["parent_header"]["msg_id"]) == ["False"]


async def test_stop_on_error_false_keeps_going(pair: KernelPair):
    name = unique("kept")
    failing = pair.execute("1/0", stop_on_error=False)
    queued = pair.execute(f"{name} = 5")
    assert (await pair.reply(failing))["content"]["status"] == "error"
    assert (await pair.reply(queued))["content"]["status"] == "ok"
    assert pair.shell.user_ns[name] == 5


async def test_stop_on_error_aborts_only_the_failing_subshell(pair: KernelPair):
    created = await pair.request("create_subshell_request", {}, channel="control")
    subshell_id = created["content"]["subshell_id"]
    failing = pair.execute("1/0")
    same = pair.execute("'same'")
    other = pair.send(pair.message("execute_request", {"code": "'other'"}, subshell_id=subshell_id))
    assert other is not None
    assert (await pair.reply(failing))["content"]["status"] == "error"
    assert (await pair.reply(same))["content"]["status"] == "aborted"
    assert (await pair.reply(other))["content"]["status"] == "ok"


async def test_a_silent_execute_publishes_nothing_and_does_not_count(pair: KernelPair):
    before = (await pair.run_cell("1"))["content"]["execution_count"]
    silent = pair.execute("print('shh')\n2", silent=True)
    reply = await pair.reply(silent)
    assert reply["content"]["status"] == "ok"
    types = [m["header"]["msg_type"] for m in pair.messages_for(silent)]
    assert "execute_input" not in types and "execute_result" not in types
    after = (await pair.run_cell("1"))["content"]["execution_count"]
    assert after == before + 1


async def test_user_expressions_are_evaluated_after_the_cell(pair: KernelPair):
    name = unique("a")
    reply = await pair.run_cell(f"{name} = 3", user_expressions={"double": f"{name} * 2", "bad": "1/0"})
    expressions = reply["content"]["user_expressions"]
    assert expressions["double"]["status"] == "ok"
    assert expressions["double"]["data"]["text/plain"] == "6"
    assert (expressions["bad"]["status"], expressions["bad"]["ename"]) == ("error", "ZeroDivisionError")


async def test_an_error_is_published_and_replied(pair: KernelPair):
    reply = await pair.run_cell("def f():\n    raise KeyError('missing')\nf()")
    content = reply["content"]
    assert (content["status"], content["ename"], content["evalue"]) == ("error", "KeyError", "'missing'")
    assert content["traceback"]
    [error] = pair.messages_for(reply["parent_header"]["msg_id"], msg_type="error")
    assert error["content"]["ename"] == "KeyError"
    await assert_still_serving(pair)


async def test_before_cell_hooks_are_awaited_with_the_code_and_their_error_is_the_cells(pair: KernelPair):
    name = unique("hooked")
    seen: list[str] = []

    async def hook(code: str) -> None:
        await anyio.sleep(0)
        seen.append(code)
        pair.shell.user_ns[name] = "set before the cell"
        if "fail" in code:
            raise ImportError("the package could not be loaded")

    pair.shell.before_cell.append(hook)
    try:
        reply = await pair.run_cell(f"{name}")
        assert reply["content"]["status"] == "ok"
        assert result_text(pair, reply["parent_header"]["msg_id"]) == ["'set before the cell'"]
        reply = await pair.run_cell("'fail'")
        content = reply["content"]
        assert (content["status"], content["ename"]) == ("error", "ImportError")
        assert result_text(pair, reply["parent_header"]["msg_id"]) == [], "the cell did not run"
        assert seen == [f"{name}\n", "'fail'\n"]
    finally:
        pair.shell.before_cell.remove(hook)
    await assert_still_serving(pair)


# -- bad input --------------------------------------------------------------------------------------

VALID_HEADER = {"msg_id": "bad-1", "msg_type": "execute_request", "session": "s", "username": "u", "date": "d"}
MALFORMED = {
    "not-a-dict": 42,
    "a-string": "execute_request",
    "a-list": [VALID_HEADER],
    "none": None,
    "no-header": {"content": {"code": "1"}},
    "header-not-a-dict": {"header": "execute_request"},
    "no-msg-id": {"header": {k: v for k, v in VALID_HEADER.items() if k != "msg_id"}},
    "empty-msg-type": {"header": {**VALID_HEADER, "msg_type": ""}},
    "msg-type-not-a-string": {"header": {**VALID_HEADER, "msg_type": ["execute_request"]}},
    "session-not-a-string": {"header": {**VALID_HEADER, "session": 1}},
    "subshell-id-not-a-string": {"header": {**VALID_HEADER, "subshell_id": 7}},
    "content-not-a-dict": {"header": VALID_HEADER, "content": ["1"]},
    "metadata-not-a-dict": {"header": VALID_HEADER, "content": {"code": "1"}, "metadata": "m"},
}


@pytest.mark.parametrize("msg", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_message_is_logged_and_dropped(pair: KernelPair, msg: Any, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.ERROR, "async_kernel"):
        pair.send(msg)
    [record] = [r for r in caplog.records if r.name == "async_kernel"]
    assert record.levelno == logging.ERROR
    assert "malformed" in record.getMessage()
    assert pair.transport.sent == []
    await assert_still_serving(pair)
    # nothing was queued for it: everything the kernel sent belongs to the two probes
    assert {m["parent_header"]["msg_id"] for _, m in pair.transport.sent} == set(pair.sent_headers) - {"bad-1"}


async def test_an_unknown_request_gets_an_error_reply(pair: KernelPair, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, "async_kernel"):
        reply = await pair.request("frobnicate_request", {"x": 1})
    assert reply["header"]["msg_type"] == "frobnicate_reply"
    assert reply["content"]["status"] == "error"
    assert "frobnicate_request" in reply["content"]["evalue"]
    assert "frobnicate_request" in caplog.text
    await assert_still_serving(pair)


async def test_an_unknown_message_that_is_no_request_gets_only_busy_and_idle(pair: KernelPair):
    msg_id = pair.send_request("frobnicate", {})
    await pair.wait_idle(msg_id)
    pair.check_framing(msg_id, reply=None)
    assert [m["header"]["msg_type"] for _, m in pair.all_for(msg_id)] == ["status", "status"]
    await assert_still_serving(pair)


async def test_a_handler_that_raises_answers_with_an_error(pair: KernelPair, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.ERROR, "async_kernel"):
        reply = await pair.request("history_request", {"hist_access_type": "sideways"})
    assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "ValueError")
    assert "sideways" in reply["content"]["evalue"]
    [record] = [r for r in caplog.records if "history_request" in r.getMessage()]
    assert record.exc_info is not None  # a kernel-side failure: logged with its traceback
    await assert_still_serving(pair)


@pytest.mark.parametrize(
    ("msg_type", "content"),
    [
        ("execute_request", {"code": 12}),
        ("execute_request", {"code": "1", "user_expressions": ["1"]}),
        ("complete_request", {"code": None}),
        ("inspect_request", {"code": "len", "cursor_pos": "end"}),
        ("inspect_request", {"code": "len", "detail_level": "high"}),
    ],
    ids=["code-not-str", "expressions-not-dict", "complete-code-none", "cursor-not-int", "detail-not-int"],
)
async def test_bad_content_is_an_error_reply(pair: KernelPair, msg_type: str, content: dict[str, Any]):
    reply = await pair.request(msg_type, content)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] in ("RemoteProtocolError", "ValueError", "TypeError")
    if msg_type == "execute_request":
        assert isinstance(reply["content"]["execution_count"], int)
    await assert_still_serving(pair)


# -- comms ------------------------------------------------------------------------------------------

FRAGILE = """
import comm
{seen} = []
def _target(c, open_msg):
    def on_msg(msg):
        data = msg['content']['data']
        {seen}.append(data)
        if data.get('fail'):
            raise RuntimeError('handler failed')
        c.send({{'echo': data}})
    c.on_msg(on_msg)
comm.get_comm_manager().register_target({target!r}, _target)
"""


async def test_a_comm_handler_that_raises_is_logged_and_the_comm_keeps_working(
    pair: KernelPair, caplog: pytest.LogCaptureFixture
):
    seen, target, comm_id = unique("seen"), unique("fragile"), unique("comm")
    assert (await pair.run_cell(FRAGILE.format(seen=seen, target=target)))["content"]["status"] == "ok"
    with caplog.at_level(logging.WARNING):
        opened = pair.send_request("comm_open", {"comm_id": comm_id, "target_name": target, "data": {}})
        await pair.wait_idle(opened)
        failing = pair.send_request("comm_msg", {"comm_id": comm_id, "data": {"fail": True}})
        await pair.wait_idle(failing)
        working = pair.send_request("comm_msg", {"comm_id": comm_id, "data": {"n": 2}})
        echoes = await pair.wait_idle(working)
        missing = pair.send_request("comm_msg", {"comm_id": "no-such-comm", "data": {}})
        await pair.wait_idle(missing)
    for msg_id in (opened, failing, working, missing):
        pair.check_framing(msg_id, reply=None)  # comm messages get no reply
        assert pair.messages_for(msg_id, "shell") == []
    assert "handler failed" in caplog.text and "no-such-comm" in caplog.text
    [echo] = [m for m in echoes if m["header"]["msg_type"] == "comm_msg"]
    assert echo["content"] == {"comm_id": comm_id, "data": {"echo": {"n": 2}}}
    assert pair.shell.user_ns[seen] == [{"fail": True}, {"n": 2}]
    info = await pair.request("comm_info_request", {"target_name": target})
    assert info["content"]["comms"] == {comm_id: {"target_name": target}}


async def test_a_comm_open_for_an_unknown_target_is_logged_and_closed(
    pair: KernelPair, caplog: pytest.LogCaptureFixture
):
    comm_id = unique("comm")
    with caplog.at_level(logging.ERROR):
        msg_id = pair.send_request("comm_open", {"comm_id": comm_id, "target_name": unique("nobody"), "data": {}})
        iopub = await pair.wait_idle(msg_id)
    assert "No such comm target" in caplog.text
    [closed] = [m for m in iopub if m["header"]["msg_type"] == "comm_close"]
    assert closed["content"]["comm_id"] == comm_id
    assert pair.messages_for(msg_id, "shell") == []


async def test_a_comm_message_without_a_comm_id_is_logged_and_gets_no_reply(
    pair: KernelPair, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.ERROR, "async_kernel"):
        msg_id = pair.send_request("comm_msg", {"data": {}})
        await pair.wait_idle(msg_id)
    assert "comm_msg" in caplog.text
    pair.check_framing(msg_id, reply=None)
    assert pair.messages_for(msg_id, "shell") == [], "the protocol has no comm_msg_reply"
    await assert_still_serving(pair)


AWAIT_COMM = """
import aiologic, comm
{event} = aiologic.Event()
comm.get_comm_manager().register_target({target!r}, lambda c, msg: c.on_msg(lambda m: {event}.set()))
"""


async def test_a_cell_awaiting_an_event_a_comm_message_sets_finishes_when_it_arrives(pair: KernelPair):
    event, target, comm_id = unique("event"), unique("wake"), unique("comm")
    assert (await pair.run_cell(AWAIT_COMM.format(event=event, target=target)))["content"]["status"] == "ok"
    waiting = pair.execute(f"await {event}\n'woken'")
    await pair.wait_started(waiting)
    # the comm queue is served while the cell awaits: no deadlock
    opened = pair.send_request("comm_open", {"comm_id": comm_id, "target_name": target, "data": {}})
    await pair.wait_idle(opened)
    assert pair.reply_of(waiting) is None
    pair.send_request("comm_msg", {"comm_id": comm_id, "data": {"click": True}})
    reply = await pair.reply(waiting)
    assert reply["content"]["status"] == "ok"
    assert result_text(pair, waiting) == ["'woken'"]


# -- concurrency and interrupts ---------------------------------------------------------------------


async def test_completion_and_inspection_are_answered_while_a_cell_awaits(pair: KernelPair):
    release = unique("release")
    pair.shell.user_ns[release] = anyio.Event()
    waiting = pair.execute(f"await {release}.wait()\n'released'")
    await pair.wait_started(waiting)
    complete = await pair.request("complete_request", {"code": "pri", "cursor_pos": 3})
    assert "print" in complete["content"]["matches"]
    inspect = await pair.request("inspect_request", {"code": "len", "cursor_pos": 3})
    assert inspect["content"]["found"] is True
    assert (await pair.request("is_complete_request", {"code": "x = ("}))["content"]["status"] == "incomplete"
    assert (await pair.request("kernel_info_request", channel="control"))["content"]["status"] == "ok"
    assert pair.reply_of(waiting) is None
    pair.shell.user_ns[release].set()
    assert (await pair.reply(waiting))["content"]["status"] == "ok"
    assert result_text(pair, waiting) == ["'released'"]


@pytest.mark.parametrize("how", ["kernel.interrupt", "interrupt_request"])
async def test_an_interrupt_cancels_an_awaiting_cell_and_the_next_cell_runs(pair: KernelPair, how: str):
    reached = unique("reached")
    pair.shell.user_ns[reached] = anyio.Event()
    running = pair.execute(f"import anyio\n{reached}.set()\nawait anyio.sleep_forever()")
    queued = pair.execute("'queued'")
    with anyio.fail_after(TIMEOUT):
        await pair.shell.user_ns[reached].wait()
    if how == "kernel.interrupt":
        pair.kernel.interrupt()
    else:
        assert (await pair.request("interrupt_request", channel="control"))["content"]["status"] == "ok"
    reply = await pair.reply(running)
    assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "KeyboardInterrupt")
    errors = pair.messages_for(running, msg_type="error")
    assert [m["content"]["ename"] for m in errors] == ["KeyboardInterrupt"]
    # as any failure with stop_on_error, it aborts what was queued behind it (Run All stops) ...
    assert (await pair.reply(queued))["content"]["status"] == "aborted"
    # ... and the next cell runs
    reply = await pair.run_cell("'next'")
    assert reply["content"]["status"] == "ok"
    assert result_text(pair, reply["parent_header"]["msg_id"]) == ["'next'"]


async def test_an_interrupt_with_nothing_running_changes_nothing(pair: KernelPair):
    pair.kernel.interrupt()
    reply = await pair.run_cell("'fine'")
    assert reply["content"]["status"] == "ok"


# -- stdin ------------------------------------------------------------------------------------------


async def test_input_and_getpass_use_the_stdin_channel(pair: KernelPair):
    pair.transport.inputs = ["Ada", "secret"]
    msg = pair.message(
        "execute_request",
        {
            "code": "print('before', end='')\nname = input('name? ')\n"
            "import getpass\npw = getpass.getpass('pw? ')\nprint(name, pw)",
            "allow_stdin": True,
        },
    )
    msg["idents"] = [b"client"]
    msg_id = pair.send(msg)
    assert msg_id is not None
    reply = await pair.reply(msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    requests = pair.messages_for(msg_id, "stdin")
    assert [(r["content"]["prompt"], r["content"]["password"]) for r in requests] == [("name? ", False), ("pw? ", True)]
    assert all(r["header"]["msg_type"] == "input_request" for r in requests)
    assert all(r["idents"] == [b"client"] for r in requests), "stdin replies route to the client's socket"
    assert pair.stream_text(msg_id) == "before" + "Ada secret\n"
    # what was printed before the prompt was sent before it
    order = [(ch, m["header"]["msg_type"]) for ch, m in pair.all_for(msg_id)]
    assert order.index(("iopub", "stream")) < order.index(("stdin", "input_request"))


async def test_input_without_allow_stdin_is_a_clear_error(pair: KernelPair):
    reply = await pair.run_cell("input()", allow_stdin=False)
    assert reply["content"]["ename"] == "StdinNotImplementedError"
    assert "does not support input" in reply["content"]["evalue"]
    assert pair.transport.on("stdin") == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            {"header": {"msg_id": "r", "msg_type": "execute_request"}, "content": {"value": "x"}},
            "expected an input_reply",
        ),
        ({"header": {"msg_id": "r", "msg_type": "input_reply"}, "content": {"value": 5}}, "without a string"),
        ({"header": {"msg_id": "r", "msg_type": "input_reply"}, "content": {}}, "without a string"),
        (b"not a message", "JSON object"),
        ({"content": {"value": "x"}}, "no 'header'"),
    ],
    ids=["wrong-type", "value-not-str", "no-value", "not-a-dict", "no-header"],
)
async def test_a_bad_input_reply_is_an_error_in_the_cell(pair: KernelPair, answer: Any, message: str):
    pair.transport.inputs = [answer]
    reply = await pair.run_cell("input('? ')", allow_stdin=True)
    assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "RemoteProtocolError")
    assert message in reply["content"]["evalue"]
    await assert_still_serving(pair)


async def test_a_front_end_that_cannot_take_input_says_why_in_one_line(pair: KernelPair):
    why = "input() is unavailable on this page: it is not cross-origin isolated and has no service worker"
    answer = {"header": {"msg_id": "r", "msg_type": "input_reply"}, "content": {"status": "error", "evalue": why}}
    pair.transport.inputs = [answer]
    msg_id = pair.execute("input('? ')", allow_stdin=True)
    reply = await pair.reply(msg_id)
    assert (reply["content"]["ename"], reply["content"]["evalue"]) == ("StdinNotImplementedError", why)
    [error] = pair.messages_for(msg_id, msg_type="error")
    shown = "\n".join(error["content"]["traceback"])
    # the user's line, then input() and the line that raises; nothing of the transport or the kernel
    assert "input('? ')" in shown and shown.count("File ") == 2 and "kernel.py" not in shown, shown
    await assert_still_serving(pair)


# -- start-up and output ----------------------------------------------------------------------------


async def test_kernel_info_is_answered_before_the_shell_is_attached(kernel_shell: SharedShell):
    async with KernelPair(kernel_shell, attach=False) as pair:
        execute = pair.execute("'late'")
        complete = pair.send_request("complete_request", {"code": "pri", "cursor_pos": 3})
        info = await pair.request("kernel_info_request")
        assert info["content"]["status"] == "ok"
        assert pair.reply_of(execute) is None and pair.reply_of(complete) is None
        pair.attach()
        assert (await pair.reply(execute))["content"]["status"] == "ok"
        assert "print" in (await pair.reply(complete))["content"]["matches"]


async def test_stream_output_is_parented_to_its_cell_and_flushed_before_idle(kernel_shell: SharedShell):
    # an output interval far beyond the test's length: only the flush before every other message sends it
    async with KernelPair(kernel_shell, KernelSettings(output_interval=3600)) as pair:
        msg_id = pair.execute("import sys\nprint('out')\nprint('err', file=sys.stderr)")
        await pair.reply(msg_id)
        iopub = pair.messages_for(msg_id)
        assert [m["header"]["msg_type"] for m in iopub] == ["status", "execute_input", "stream", "stream", "status"]
        assert [(m["content"]["name"], m["content"]["text"]) for m in iopub[2:4]] == [
            ("stdout", "out\n"),
            ("stderr", "err\n"),
        ]
        # output written before a result is published before it
        msg_id = pair.execute("print('first')\n'second'")
        await pair.reply(msg_id)
        types = [m["header"]["msg_type"] for m in pair.messages_for(msg_id)]
        assert types == ["status", "execute_input", "stream", "execute_result", "status"]


async def test_output_of_an_awaiting_cell_is_sent_while_it_awaits(pair: KernelPair):
    seen = unique("seen")
    pair.shell.user_ns[seen] = anyio.Event()
    msg_id = pair.execute(f"print('tick')\nawait {seen}.wait()")
    await pair.wait_for(lambda: pair.stream_text(msg_id) == "tick\n", "the output timer to send 'tick'")
    assert pair.reply_of(msg_id) is None
    pair.shell.user_ns[seen].set()
    assert (await pair.reply(msg_id))["content"]["status"] == "ok"
    assert pair.stream_text(msg_id) == "tick\n"


async def test_output_of_a_comm_handler_is_parented_to_the_comm_message(pair: KernelPair):
    target, comm_id = unique("printer"), unique("comm")
    code = (
        "import comm\n"
        f"comm.get_comm_manager().register_target({target!r}, "
        "lambda c, m: c.on_msg(lambda msg: print('got', msg['content']['data'])))"
    )
    assert (await pair.run_cell(code))["content"]["status"] == "ok"
    opened = pair.send_request("comm_open", {"comm_id": comm_id, "target_name": target, "data": {}})
    await pair.wait_idle(opened)
    msg_id = pair.send_request("comm_msg", {"comm_id": comm_id, "data": {"k": 1}})
    await pair.wait_idle(msg_id)
    assert pair.stream_text(msg_id) == "got {'k': 1}\n"
