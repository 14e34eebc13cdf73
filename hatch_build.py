"""Hatch build hook: what the wheel ships besides the kernel's Python code.

- the kernelspec (``share/jupyter/kernels/async``);
- the JupyterLite extension (``share/jupyter/labextensions/@async-kernel/jupyterlite``);
- the runtime the ``jupyter lite build`` addon puts into sites (``async_kernel/jupyterlite/runtime``):
  the npm ``pyodide`` runtime and the kernel's wheels for Pyodide.

The last two are built from this checkout by ``scripts/browser_runtime.py`` (Node.js and npm, and
PyPI for the dependency wheels), as JupyterLab extensions build their ``js`` with
hatch-jupyter-builder; the build fails with a message saying what is missing, never ships without
them. Editable installs (``pip install -e .``, native development) get the kernelspec only.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HERE = Path(__file__).parent
PKG = HERE / "py" / "async_kernel"
LABEXTENSION_TARGET = "share/jupyter/labextensions/@async-kernel/jupyterlite"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        kernelspec = _load("_ak_kernelspec", PKG / "kernelspec.py")
        self._tmp = tempfile.TemporaryDirectory()
        spec_dir = Path(self._tmp.name)
        (spec_dir / "kernel.json").write_text(json.dumps(kernelspec.kernel_json(), indent=2))
        shared = build_data.setdefault("shared_data", {})
        shared[str(spec_dir / "kernel.json")] = f"share/jupyter/kernels/{kernelspec.KERNEL_NAME}/kernel.json"
        for logo in (PKG / "resources").iterdir():
            shared[str(logo)] = f"share/jupyter/kernels/{kernelspec.KERNEL_NAME}/{logo.name}"
        if version == "editable":
            self.app.display_info("editable install: the JupyterLite extension and runtime are not included")
            return
        runtime = _load("_ak_browser_runtime", HERE / "scripts" / "browser_runtime.py")
        try:
            runtime.build()
        except runtime.BuildError as exc:
            self.app.abort(f"async-kernel-jupyter: {exc}")
        for path in runtime.LABEXTENSION.rglob("*"):
            if path.is_file():
                shared[str(path)] = f"{LABEXTENSION_TARGET}/{path.relative_to(runtime.LABEXTENSION).as_posix()}"
        build_data.setdefault("force_include", {})[str(runtime.RUNTIME)] = "async_kernel/jupyterlite/runtime"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()
