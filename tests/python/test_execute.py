"""Execution, output and errors on a real kernel process: real stdout, threads, floods, tracebacks, matplotlib.

stop_on_error, silent executes and user_expressions are core behaviour, tested in memory in
tests/unit/test_kernel.py."""

from __future__ import annotations

import re
import time

from kernel_helpers import KernelHandle, output_types, stream_text


def test_result_display_and_streams_arrive_in_order(kernel: KernelHandle):
    code = "print('a')\nfrom IPython.display import display\ndisplay({'text/plain': 'shown'}, raw=True)\nprint('b')\n42"
    reply, iopub = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    types = output_types(iopub)
    assert types[:2] == ["status", "execute_input"]
    assert types[-1] == "status"
    body = [
        (m["msg_type"], m["content"].get("text") or m["content"].get("data", {}).get("text/plain")) for m in iopub[2:-1]
    ]
    assert body == [("stream", "a\n"), ("display_data", "shown"), ("stream", "b\n"), ("execute_result", "42")]
    assert iopub[0]["content"]["execution_state"] == "busy"
    assert iopub[-1]["content"]["execution_state"] == "idle"


def test_update_display_and_clear_output(kernel: KernelHandle):
    code = (
        "from IPython.display import display, update_display, clear_output\n"
        "display('one', display_id='d1')\nupdate_display('two', display_id='d1')\nclear_output(wait=True)"
    )
    _, iopub = kernel.execute(code)
    body = [m for m in iopub if m["msg_type"] not in ("status", "execute_input")]
    assert [m["msg_type"] for m in body] == ["display_data", "update_display_data", "clear_output"]
    assert body[0]["content"]["transient"] == {"display_id": "d1"}
    assert body[1]["content"]["data"]["text/plain"] == "'two'"
    assert body[2]["content"] == {"wait": True}


def test_error_has_ename_evalue_and_ipython_traceback(kernel: KernelHandle):
    reply, iopub = kernel.execute("def f():\n    raise KeyError('missing')\nf()")
    content = reply["content"]
    assert content["status"] == "error"
    assert (content["ename"], content["evalue"]) == ("KeyError", "'missing'")
    errors = [m for m in iopub if m["msg_type"] == "error"]
    assert len(errors) == 1
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(errors[0]["content"]["traceback"]))
    assert "raise KeyError('missing')" in plain
    assert "Traceback" in plain


def test_magics_and_top_level_await(kernel: KernelHandle):
    reply, iopub = kernel.execute("%%capture out\nprint('hidden')")
    assert reply["content"]["status"] == "ok"
    assert stream_text(iopub) == ""
    reply, iopub = kernel.execute("import asyncio\nawait asyncio.sleep(0.01)\nprint(out.stdout.strip())")
    assert stream_text(iopub) == "hidden\n"


def test_twenty_thousand_prints_all_delivered_and_coalesced(kernel: KernelHandle):
    reply, iopub = kernel.execute("for i in range(20000): print(i)", timeout=60)
    assert reply["content"]["status"] == "ok"
    streams = [m for m in iopub if m["msg_type"] == "stream"]
    assert stream_text(iopub) == "".join(f"{i}\n" for i in range(20000))
    assert len(streams) < 100, f"{len(streams)} stream messages for 20,000 prints"


def test_output_from_a_thread_reaches_the_front_end(kernel: KernelHandle):
    _reply, iopub = kernel.execute(
        "import threading\nt = threading.Thread(target=print, args=('from thread',))\nt.start(); t.join()"
    )
    assert "from thread\n" in stream_text(iopub)


def test_stream_is_flushed_before_idle_without_waiting_for_the_timer(kernel: KernelHandle):
    start = time.monotonic()
    _, iopub = kernel.execute("print('quick')")
    assert stream_text(iopub) == "quick\n"
    assert time.monotonic() - start < 5


def test_matplotlib_inline_figure(kernel: KernelHandle):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
    reply, iopub = kernel.execute(code, timeout=90)
    assert reply["content"]["status"] == "ok", reply["content"]
    images = [m for m in iopub if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]]
    assert len(images) == 1


def test_exit_asks_the_front_end(kernel: KernelHandle):
    reply, _ = kernel.execute("exit")
    assert {"source": "ask_exit", "keepkernel": False} in reply["content"]["payload"]


def test_asyncio_run_in_a_cell_leaves_no_warning_for_the_next_cell(kernel: KernelHandle):
    # asyncio.run() and run_until_complete() work in a cell (async_kernel.nested; tests/python/test_nested.py)
    reply, _ = kernel.execute("import asyncio\nasync def job(): pass\nasyncio.run(job())")
    assert reply["content"]["status"] == "ok"
    reply, _ = kernel.execute("loop = asyncio.get_running_loop()\nloop.run_until_complete(job())")
    assert reply["content"]["status"] == "ok"
    # but not inside the coroutine a nested asyncio.run() runs: that loop is running, as in a script
    reply, _ = kernel.execute("async def outer(): asyncio.run(job())\nasyncio.run(outer())")
    assert reply["content"]["ename"] == "RuntimeError"
    for code in ("1/0", "import gc; gc.collect(); print('next')"):  # the error drops the last traceback
        _, iopub = kernel.execute(code)
        assert stream_text(iopub, "stderr") == ""
