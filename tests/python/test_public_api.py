"""The public surface stays small and every name it exports exists."""

from __future__ import annotations

import async_kernel
from async_kernel.hosts import pyodide


def test_exports_exist():
    assert async_kernel.__all__ == ("Kernel", "KernelSettings", "__version__", "from_thread")
    for name in async_kernel.__all__:
        assert getattr(async_kernel, name) is not None


def test_callback_entry_point():
    assert callable(pyodide.start)
    assert {"handle_msg", "interrupt", "stop"} <= set(dir(pyodide.PyodideKernel))


def test_from_thread_api():
    from async_kernel import from_thread

    assert async_kernel.from_thread is from_thread
    assert from_thread.__all__ == ("run", "run_sync", "set_runner")
    assert all(callable(getattr(from_thread, name)) for name in from_thread.__all__)
