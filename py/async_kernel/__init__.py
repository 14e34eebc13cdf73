"""async-kernel: a concurrent Python kernel for Jupyter.

The public surface is small: the kernel core (:class:`Kernel`), the settings that configure it
(:class:`KernelSettings`), the transports in :mod:`async_kernel.transports`, and for user code
:mod:`async_kernel.from_thread` (run code on the kernel's loop from any thread).

The core is imported on first use, so that ``python -m async_kernel`` runs its first instruction (taking
over SIGINT) before anything slow is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

if TYPE_CHECKING:
    from . import from_thread as from_thread
    from .kernel import Kernel as Kernel
    from .kernel import KernelSettings as KernelSettings

__all__ = ("Kernel", "KernelSettings", "__version__", "from_thread")


def __getattr__(name: str) -> Any:
    if name in ("Kernel", "KernelSettings"):
        from . import kernel

        return getattr(kernel, name)
    if name == "from_thread":
        import importlib

        return importlib.import_module(".from_thread", __name__)
    raise AttributeError(f"module 'async_kernel' has no attribute {name!r}")
