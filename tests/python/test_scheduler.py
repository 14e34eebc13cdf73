"""The runner's queues, in-process: a job's failure never ends its queue."""

from __future__ import annotations

import logging

import anyio
import pytest
from async_kernel.scheduler import Runner


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_job_that_raises_does_not_end_its_queue(backend: str, error: type[BaseException], caplog):
    runner = Runner("test")
    served = []

    async def failing() -> None:
        raise error("in a job")

    async def next_job() -> None:
        served.append("next")
        runner.stop()

    async def main() -> None:
        with anyio.fail_after(10):
            runner.submit("queue", failing)
            runner.submit("queue", next_job)
            await runner.run()

    try:
        with caplog.at_level(logging.ERROR, "async_kernel"):
            anyio.run(main, backend=backend)
    except KeyboardInterrupt:
        pytest.fail("a job's KeyboardInterrupt ended the runner")
    assert served == ["next"]
    assert "in a job" in caplog.text
