"""The "Python (async)" kernel in JupyterLite sites built with ``jupyter lite build``.

:class:`~async_kernel.jupyterlite.addon.AsyncKernelAddon` (entry point group
``jupyterlite.addon.v0``) copies the runtime this package ships into the site and makes the
Python memory snapshot the kernel starts from. See the README's "Your own JupyterLite site".
"""
