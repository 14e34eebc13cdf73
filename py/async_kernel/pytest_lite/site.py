"""The JupyterLite site ``pytest --lite`` runs notebooks in: built once, reused while its inputs are the same.

The site is plain ``jupyter lite build`` output (this package's build addon puts the kernel's runtime into
it) with the notebooks' folders as contents, in a cache folder. pytest-xdist workers share it: the first
one builds it under a file lock, the others wait and reuse it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

BUILD_TIMEOUT = 900


class SiteBuildError(RuntimeError):
    """``jupyter lite build`` failed; the message ends with its output."""


def _digest(folders: Iterable[Path], extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(folder).parts):
                continue
            h.update(str(path).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def build_site(contents: list[Path], kernel: str, cache: Path) -> Path:
    """The site for these contents folders (built now, or the one built by an earlier run)."""
    cache.mkdir(parents=True, exist_ok=True)
    site = cache / "site"
    stamp = cache / "inputs.sha256"
    versions = [f"{dist}=={version(dist)}" for dist in ("async-kernel-jupyter", "jupyterlite-core")]
    want = _digest(contents, "\n".join([kernel, *versions, *map(str, contents)]))
    with (cache / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another xdist worker may be building it
        if stamp.is_file() and stamp.read_text() == want and (site / "index.html").is_file():
            return site
        lite_dir = cache / "lite"
        lite_dir.mkdir(exist_ok=True)
        config = {
            "jupyter-lite-schema-version": 0,
            "jupyter-config-data": {
                "appName": "pytest --lite",
                "defaultKernelName": kernel,
                # window.jupyterapp: the runner drives the notebook through the app's commands
                "exposeAppInBrowser": True,
            },
        }
        (lite_dir / "jupyter-lite.json").write_text(json.dumps(config, indent=2))
        # Hidden folders (.pytest_cache, .git, .ipynb_checkpoints, ...) are not contents.
        build_config = {"LiteBuildConfig": {"extra_ignore_contents": [r"/\."]}}
        (lite_dir / "jupyter_lite_config.json").write_text(json.dumps(build_config, indent=2))
        cmd = [sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", str(lite_dir), "--output-dir", str(site)]
        for folder in contents:
            cmd += ["--contents", str(folder)]
        try:
            result = subprocess.run(cmd, cwd=lite_dir, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        except FileNotFoundError as exc:  # pragma: no cover - sys.executable always exists
            raise SiteBuildError(str(exc)) from None
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-6000:]
            raise SiteBuildError(f"`jupyter lite build` failed (exit {result.returncode}):\n{output}")
        stamp.write_text(want)
        return site
