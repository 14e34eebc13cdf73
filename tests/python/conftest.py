"""Fixtures: an isolated IPython folder, and real kernels (see kernel_helpers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_helpers import KernelHandle, start_kernel, stop_kernel


@pytest.fixture(autouse=True, scope="session")
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("ipython")
    os.environ["IPYTHONDIR"] = str(home)
    os.environ.pop("MPLBACKEND", None)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelHandle]:
    handle = start_kernel(tmp_path_factory.mktemp("spec"))
    yield handle
    stop_kernel(handle)


@pytest.fixture
def fresh_kernel(tmp_path: Path) -> Iterator[KernelHandle]:
    handle = start_kernel(tmp_path)
    yield handle
    stop_kernel(handle)
