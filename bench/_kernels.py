"""The kernels under test and how to start and stop them, isolated from the user's Jupyter setup.

Each kernel is described by a `KernelKind` (an interpreter + argv + env).  It is started through jupyter_client's
`KernelManager` from a kernelspec written into a private temp directory (`KernelSpecManager(kernel_dirs=[tmp])`),
so the user's kernelspecs are neither read nor written.  Both kernels get the same fresh IPYTHONDIR, so no profile
or startup file of the user affects the figures.

The peer, ipykernel, lives in its own venv (`bench/.venv-ipykernel`), created on first use with pip.  Our kernel
runs on the project venv's interpreter with the repository's `py/` first on PYTHONPATH, so the code measured is
the working tree, never some other installed `async_kernel`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _wire import BenchTimeout, Wire, now, parent_id
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEER_VENV = BENCH / ".venv-ipykernel"
PEER_PACKAGES = ("ipykernel", "ipywidgets")
OUR_PYTHON = REPO / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class KernelKind:
    label: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


def ours(backend: str = "asyncio", py_dir: Path = REPO / "py", tag: str = "") -> KernelKind:
    """Our kernel from ``py_dir`` (the working tree's ``py/``, or an older revision's, labelled ``ours@tag``)."""
    python = OUR_PYTHON if OUR_PYTHON.exists() else Path(sys.executable)
    argv = [str(python), "-m", "async_kernel", "-f", "{connection_file}"]
    if backend != "asyncio":
        argv += ["--backend", backend]
    label = ("ours" if backend == "asyncio" else f"ours-{backend}") + (f"@{tag}" if tag else "")
    return KernelKind(label, tuple(argv), {"PYTHONPATH": str(py_dir)})


def checkout_py(rev: str, into: Path) -> Path:
    """Write revision ``rev``'s ``py/`` folder into ``into`` (``git archive``); return that ``py`` folder."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "py"], capture_output=True, check=False)
    if archive.returncode:
        sys.exit(f"git archive {rev} py failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "py"


def ipykernel() -> KernelKind:
    python = ensure_peer_venv()
    argv = (str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}")
    return KernelKind("ipykernel", argv, {"PYTHONPATH": ""})


def null() -> KernelKind:
    """The do-nothing kernel of `_null_kernel.py`: what the client alone can measure."""
    python = OUR_PYTHON if OUR_PYTHON.exists() else Path(sys.executable)
    return KernelKind("null", (str(python), str(BENCH / "_null_kernel.py"), "-f", "{connection_file}"))


def ensure_peer_venv(venv: Path = PEER_VENV) -> Path:
    """Create the ipykernel venv unless a previous run completed it; return its interpreter.

    A marker file written after a successful install makes later runs instant; a half-made venv (no marker) is
    rebuilt from scratch.
    """
    python = venv / "bin" / "python"
    marker = venv / ".bench-installed"
    wanted = " ".join(PEER_PACKAGES)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"creating {venv} with {wanted} (once) ...", flush=True)
    for cmd in (
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEER_PACKAGES],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}{done.stderr}")
    marker.write_text(wanted)
    return python


def peer_version() -> str:
    python = ensure_peer_venv()
    out = subprocess.run(
        [str(python), "-c", "import ipykernel; print(ipykernel.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "?"


class Workspace:
    """A temp directory holding kernelspecs, connection files, logs and the shared IPYTHONDIR."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="async-kernel-bench-")
        self.root = Path(self._tmp.name)
        (self.root / "kernels").mkdir()
        (self.root / "ipython").mkdir()
        self._count = 0

    def close(self) -> None:
        self._tmp.cleanup()

    def next_name(self, label: str) -> str:
        self._count += 1
        return f"{label}-{self._count}"

    def spec_manager(self, kind: KernelKind) -> tuple[KernelSpecManager, str]:
        spec_name = f"bench-{kind.label}"
        spec_dir = self.root / "kernels" / spec_name
        if not spec_dir.exists():
            spec_dir.mkdir()
            env = {"IPYTHONDIR": str(self.root / "ipython"), **kind.env}
            spec = {"argv": list(kind.argv), "display_name": kind.label, "language": "python", "env": env}
            (spec_dir / "kernel.json").write_text(json.dumps(spec))
        ksm = KernelSpecManager(kernel_dirs=[str(self.root / "kernels")], ensure_native_kernel=False)
        return ksm, spec_name


class Kernel:
    """One started kernel: its manager, client and `Wire`.  `start_seconds` is start → first kernel_info_reply."""

    def __init__(self, kind: KernelKind, ws: Workspace, *, timeout: float = 30.0) -> None:
        self.kind = kind
        name = ws.next_name(kind.label)
        ksm, spec_name = ws.spec_manager(kind)
        self.log_path = ws.root / f"{name}.log"
        self.km = KernelManager(
            kernel_name=spec_name, kernel_spec_manager=ksm, connection_file=str(ws.root / f"{name}.json")
        )
        self._log = self.log_path.open("wb")
        t0 = now()
        try:
            self.km.start_kernel(cwd=str(ws.root), stdout=self._log, stderr=subprocess.STDOUT)
            self.client: BlockingKernelClient = self.km.client()
            self.client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
            self.wire = Wire(self.client)
            msg_id = self.wire.send("shell", "kernel_info_request", {})
            self.start_seconds = self._first_reply(msg_id, t0, timeout)
            self.wire.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def _first_reply(self, msg_id: str, t0: float, timeout: float) -> float:
        """Seconds from t0 to the reply to `msg_id`; fails at once if the kernel process exits meanwhile."""
        while now() - t0 < timeout:
            for channel, msg in self.wire.messages(0.1, strict=False):
                if channel == "shell" and parent_id(msg) == msg_id:
                    return now() - t0
            if not self.km.is_alive():
                raise RuntimeError(f"kernel exited during start; its log:\n{self.log_tail()}")
        raise BenchTimeout(f"no kernel_info_reply within {timeout:.0f} s of the start")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    | " + line for line in text[-lines:])

    def shutdown(self, timeout: float = 5.0) -> str:
        """Ask politely (shutdown_request on control); kill if that fails.  Return what happened, for the report."""
        outcome = "killed"
        try:
            t0 = now()
            self.wire.wait_reply(self.wire.send("control", "shutdown_request", {"restart": False}), timeout, idle=False)
            while self.km.is_alive() and now() - t0 < timeout:
                time.sleep(0.01)
            alive = self.km.is_alive()
            outcome = "replied but did not exit; killed" if alive else f"clean in {now() - t0:.2f} s"
        except Exception as exc:
            outcome = f"no clean shutdown ({exc}); killed"
        self.kill()
        return outcome

    def kill(self) -> None:
        try:
            if hasattr(self, "client"):
                self.client.stop_channels()
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
            else:
                self.km.cleanup_resources()
        except Exception as exc:
            print(f"    (cleanup of {self.kind.label}: {exc})", file=sys.stderr)
        finally:
            self._log.close()


def has_module(python: Path | str, module: str, extra_path: str = "") -> bool:
    env = {**os.environ, "PYTHONPATH": extra_path}
    result = subprocess.run(
        [str(python), "-c", f"import {module}"], env=env, capture_output=True, timeout=60, check=False
    )
    return result.returncode == 0
