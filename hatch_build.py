"""Hatch build hook: ship the kernelspec and the prebuilt JupyterLite extension as wheel shared data."""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HERE = Path(__file__).parent
PKG = HERE / "py" / "async_kernel"
LABEXTENSION = PKG / "labextension"
LABEXTENSION_TARGET = "share/jupyter/labextensions/@async-kernel/jupyterlite"


def _load_kernelspec_module() -> Any:
    spec = importlib.util.spec_from_file_location("_ak_kernelspec", PKG / "kernelspec.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        kernelspec = _load_kernelspec_module()
        self._tmp = tempfile.TemporaryDirectory()
        spec_dir = Path(self._tmp.name)
        (spec_dir / "kernel.json").write_text(json.dumps(kernelspec.kernel_json(), indent=2))
        shared = build_data.setdefault("shared_data", {})
        shared[str(spec_dir / "kernel.json")] = f"share/jupyter/kernels/{kernelspec.KERNEL_NAME}/kernel.json"
        for logo in (PKG / "resources").iterdir():
            shared[str(logo)] = f"share/jupyter/kernels/{kernelspec.KERNEL_NAME}/{logo.name}"
        if (LABEXTENSION / "package.json").is_file():
            for path in LABEXTENSION.rglob("*"):
                if path.is_file():
                    shared[str(path)] = f"{LABEXTENSION_TARGET}/{path.relative_to(LABEXTENSION).as_posix()}"
        elif os.environ.get("ASYNC_KERNEL_REQUIRE_LABEXTENSION"):
            raise RuntimeError(
                f"The JupyterLite extension is not built ({LABEXTENSION} is missing): run `npm run build` first."
            )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()
