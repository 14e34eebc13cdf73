"""async-kernel: a concurrent Python kernel for Jupyter.

The public surface is small: the kernel core (:class:`Kernel`), the settings that configure it
(:class:`KernelSettings`), and the transports in :mod:`async_kernel.transports`.
"""

from ._version import __version__ as __version__
from .kernel import Kernel as Kernel
from .kernel import KernelSettings as KernelSettings

__all__ = ("Kernel", "KernelSettings", "__version__")
