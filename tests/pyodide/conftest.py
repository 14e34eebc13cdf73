"""Run this folder's ``async def test_*`` functions under CPython, all on ONE asyncio event loop.

The callback transport serves its kernel on the loop that called ``start()``, and there is one kernel per
interpreter, shared by all tests (see ``test_callback.frontend``). anyio's pytest plugin closes its loop
after each test unless a fixture keeps it alive, which would strand the kernel, so this hook runs each
coroutine on a loop that lives for the whole session and stops the kernel at the end.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from typing import Any

import pytest

#: a hang is a failure with a message, not a stuck run
TEST_TIMEOUT = 60.0

_loop: asyncio.AbstractEventLoop | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    try:
        _loop.run_until_complete(asyncio.wait_for(func(**kwargs), TEST_TIMEOUT))
    except TimeoutError:
        pytest.fail(f"{pyfuncitem.name} did not finish within {TEST_TIMEOUT} s")
    return True


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _loop
    if _loop is None:
        return
    module = sys.modules.get("test_callback") or next(
        (m for name, m in sys.modules.items() if name.endswith("pyodide.test_callback")), None
    )
    if module is not None:
        _loop.run_until_complete(module.shutdown())
    _loop.run_until_complete(_loop.shutdown_asyncgens())
    _loop.close()
    _loop = None
