"""Install and remove the ``async`` kernelspec.

This module only uses the standard library: the wheel build hook loads it by path.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "async"
DISPLAY_NAME = "Python 3 (async)"
RESOURCES = Path(__file__).parent / "resources"


#: how menus name the GUI toolkit whose main loop hosts the kernel (``--host``)
HOST_LABELS = {"tk": "Tk", "qt": "Qt"}


def kernel_json(
    display_name: str = DISPLAY_NAME, backend: str | None = None, python: str = "python", host: str | None = None
) -> dict[str, object]:
    """The kernel.json content; ``python`` is replaced by the running interpreter by jupyter_client."""
    argv = [python, "-m", "async_kernel", "-f", "{connection_file}"]
    if backend:
        argv += ["--backend", backend]
    if host:
        argv += ["--host", host]
    return {
        "argv": argv,
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": True},
    }


def display_name_for(name: str, backend: str | None, host: str | None = None) -> str:
    """The name shown in menus when none is given: it tells specs installed side by side apart.

    A GUI host is always named (``Tk``, ``Qt``): such a kernel behaves differently (see docs/gui.md).

    Examples
    --------
    >>> from async_kernel.kernelspec import display_name_for
    >>> display_name_for("async", None)
    'Python 3 (async)'
    >>> display_name_for("async", "trio")
    'Python 3 (async, trio)'
    >>> display_name_for("async-trio", "trio")
    'Python 3 (async-trio)'
    >>> display_name_for("python-tk", None, "tk")
    'Python 3 (python-tk, Tk)'
    """
    if name == KERNEL_NAME and not backend and not host:
        return DISPLAY_NAME
    label = name if not backend or backend in name else f"{name}, {backend}"
    if host:
        label += f", {HOST_LABELS.get(host, host)}"
    return f"Python 3 ({label})"


def data_dir(user: bool, prefix: str | None) -> Path:
    """The ``kernels`` folder a spec goes into, as jupyter_client looks for it."""
    if prefix:
        return Path(prefix) / "share" / "jupyter" / "kernels"
    if user:
        from jupyter_core.paths import jupyter_data_dir

        return Path(jupyter_data_dir()) / "kernels"
    return Path(sys.prefix) / "share" / "jupyter" / "kernels"


def install(
    *,
    user: bool = False,
    prefix: str | None = None,
    name: str = KERNEL_NAME,
    display_name: str | None = None,
    backend: str | None = None,
    host: str | None = None,
) -> Path:
    """Write the kernelspec (kernel.json and logos) and return its folder.

    Without ``display_name`` the spec is shown as ``Python 3 (NAME)`` (plus the backend unless the name
    says it), so that ``--name async-trio --backend trio`` does not look like the default spec in menus.
    ``host`` (``"tk"``, ``"qt"``) makes the kernel run inside that GUI toolkit's main loop.

    A spec installed outside this environment names this interpreter explicitly, so that it keeps
    working from a Jupyter installed elsewhere.
    """
    python = "python" if not (user or prefix) else sys.executable
    target = data_dir(user, prefix) / name
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / name
        staged.mkdir()
        display_name = display_name or display_name_for(name, backend, host)
        spec = kernel_json(display_name, backend, python, host)
        (staged / "kernel.json").write_text(json.dumps(spec, indent=2))
        for logo in RESOURCES.iterdir():
            shutil.copy(logo, staged / logo.name)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staged, target)
    return target


def uninstall(*, user: bool = False, prefix: str | None = None, name: str = KERNEL_NAME) -> Path:
    """Remove the kernelspec folder; raise FileNotFoundError when it is not there."""
    target = data_dir(user, prefix) / name
    if not (target / "kernel.json").is_file():
        raise FileNotFoundError(f"No kernelspec named {name!r} in {target.parent}")
    shutil.rmtree(target)
    return target
