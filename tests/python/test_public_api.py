"""The public surface stays small and every name it exports exists."""

from __future__ import annotations

import async_kernel
from async_kernel.hosts import pyodide


def test_exports_exist():
    assert async_kernel.__all__ == ("Kernel", "KernelSettings", "__version__")
    for name in async_kernel.__all__:
        assert getattr(async_kernel, name) is not None


def test_callback_entry_point():
    assert callable(pyodide.start)
    assert {"handle_msg", "interrupt", "stop"} <= set(dir(pyodide.PyodideKernel))
