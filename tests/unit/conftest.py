"""Fixtures for the in-process unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .kernel_pair import KernelPair, SharedShell, shared_shell


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every ``@pytest.mark.anyio`` test runs on asyncio and on trio (as in anyio's own test suite)."""
    return request.param


@pytest.fixture(scope="package")
def kernel_shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedShell]:
    """The process's one IPython shell, with an isolated IPython folder (created on first use).

    Package-scoped: it is cleared once tests/unit is done, before another suite of the same run (the callback
    transport's, tests/pyodide) creates the shell of its own kernel."""
    with shared_shell(tmp_path_factory.mktemp("ipython")) as shared:
        yield shared


@pytest.fixture
async def pair(anyio_backend: str, kernel_shell: SharedShell) -> AsyncIterator[KernelPair]:
    """A kernel with its shell and an in-memory front end, on the test's event loop (asyncio and trio)."""
    async with KernelPair(kernel_shell) as pair:
        yield pair
