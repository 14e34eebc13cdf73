"""Start real kernel processes and drive them with jupyter_client, every wait bounded."""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager

TIMEOUT = 30


def make_spec_dir(root: Path, name: str, argv_extra: list[str], interrupt_mode: str) -> Path:
    spec = root / name
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "async_kernel", "-f", "{connection_file}", *argv_extra]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python", "interrupt_mode": interrupt_mode})
    )
    return root


class KernelHandle:
    """A running kernel and a client, with bounded helpers."""

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km = km
        self.kc = kc

    def execute(self, code: str, timeout: float = TIMEOUT, **kwargs: Any) -> tuple[dict, list[dict]]:
        """Run code; return the execute_reply and the iopub messages of the request (up to idle)."""
        msg_id = self.kc.execute(code, **kwargs)
        return self.collect(msg_id, timeout)

    def collect(self, msg_id: str, timeout: float = TIMEOUT, channel: str = "shell") -> tuple[dict, list[dict]]:
        iopub = self.iopub_until_idle(msg_id, timeout)
        reply = self.reply(msg_id, timeout, channel)
        return reply, iopub

    def iopub_until_idle(self, msg_id: str, timeout: float = TIMEOUT) -> list[dict]:
        out: list[dict] = []

        def idle(msg: dict) -> bool:
            if msg["parent_header"].get("msg_id") == msg_id:
                out.append(msg)
                return msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
            return False

        self._until(self.kc.get_iopub_msg, idle, timeout, f"idle status for {msg_id}")
        return out

    def reply(self, msg_id: str, timeout: float = TIMEOUT, channel: str = "shell") -> dict:
        get = self.kc.get_shell_msg if channel == "shell" else self.kc.get_control_msg
        return self._until(get, lambda m: m["parent_header"].get("msg_id") == msg_id, timeout, f"{channel} reply")

    def kernel_info(self, timeout: float = 10) -> dict:
        msg_id = self.kc.kernel_info()
        return self.reply(msg_id, timeout)

    def wait_for_busy(self, msg_id: str, timeout: float = TIMEOUT) -> None:
        """Wait until the kernel publishes ``execute_input`` for ``msg_id`` (the cell is running)."""

        def started(msg: dict) -> bool:
            return msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input"

        self._until(self.kc.get_iopub_msg, started, timeout, f"execute_input for {msg_id}")

    def wait_for_output(self, msg_id: str, marker: str, timeout: float = TIMEOUT) -> None:
        """Wait until the cell ``msg_id`` has written ``marker`` to stdout (a cell signals where it got to)."""

        def printed(msg: dict) -> bool:
            return (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "stream"
                and marker in msg["content"]["text"]
            )

        self._until(self.kc.get_iopub_msg, printed, timeout, f"{marker!r} from {msg_id}")

    @staticmethod
    def _until(get: Callable[..., dict], predicate: Callable[[dict], bool], timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise queue.Empty
                msg = get(timeout=remaining)
            except queue.Empty:
                raise TimeoutError(f"no {what} within {timeout}s") from None
            if predicate(msg):
                return msg


def start_kernel(
    tmp: Path,
    argv_extra: list[str] | None = None,
    interrupt_mode: str = "signal",
    env: dict[str, str] | None = None,
    before_ready: Callable[[KernelManager], None] | None = None,
) -> KernelHandle:
    """Start a kernel and wait until it answers kernel_info (``before_ready`` runs between the two)."""
    root = make_spec_dir(tmp / "kernels", "test-async", argv_extra or [], interrupt_mode)
    km = KernelManager(kernel_name="test-async", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(root)]))
    km.start_kernel(**({"env": {**os.environ, **env}} if env else {}))
    kc = km.client()
    kc.start_channels()
    try:
        if before_ready is not None:
            before_ready(km)
        kc.wait_for_ready(timeout=TIMEOUT)
    except BaseException:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return KernelHandle(km, kc)


def first_kernel_info(kc: BlockingKernelClient, timeout: float = TIMEOUT) -> None:
    """Return as soon as a (re)started kernel answers a kernel_info_request (asked every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg_id = kc.kernel_info()
        try:
            while True:
                if kc.get_shell_msg(timeout=0.01)["parent_header"].get("msg_id") == msg_id:
                    return
        except queue.Empty:
            continue
    raise TimeoutError(f"no kernel_info_reply within {timeout}s")


def stop_kernel(handle: KernelHandle) -> None:
    handle.kc.stop_channels()
    handle.km.shutdown_kernel(now=False)


def output_types(iopub: list[dict]) -> list[str]:
    return [m["msg_type"] for m in iopub]


def stream_text(iopub: list[dict], name: str = "stdout") -> str:
    return "".join(m["content"]["text"] for m in iopub if m["msg_type"] == "stream" and m["content"]["name"] == name)


#: a folder whose ``orjson`` module refuses to import: on PYTHONPATH, the kernel runs on the standard json module
NO_ORJSON = Path(__file__).parent / "no_orjson"


def without_orjson() -> dict[str, str]:
    """Environment for a kernel process that cannot import orjson (as after a plain ``pip install``)."""
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": str(NO_ORJSON) + (os.pathsep + path if path else "")}
