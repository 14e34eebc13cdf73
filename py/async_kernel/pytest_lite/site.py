"""The JupyterLite site ``pytest --lite`` runs notebooks in: built once, reused while its inputs are the same.

The site is plain ``jupyter lite build`` output (this package's build addon puts the kernel's runtime into
it). Its contents are the notebooks' folders, staged with their paths relative to the folder they share,
so that ``a/intro.ipynb`` and ``b/intro.ipynb`` both keep their names and the files beside them. The
site lives in a cache folder; pytest-xdist workers share it: the first one builds it under a file lock,
the others wait and reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

BUILD_TIMEOUT = 900
#: Folders never staged as contents (besides hidden ones): caches and dependencies, not notebook files.
SKIPPED_FOLDERS = {"__pycache__", "node_modules"}


class SiteBuildError(RuntimeError):
    """``jupyter lite build`` failed; the message ends with its output."""


@dataclass
class Site:
    """A built site and the folder its contents are relative to."""

    root: Path
    contents_base: Path

    def path_of(self, notebook: Path) -> str:
        """The notebook's path in the site's contents."""
        return notebook.resolve().relative_to(self.contents_base).as_posix()


def contents_folders(notebooks: list[Path]) -> tuple[Path, list[Path]]:
    """(the folder the notebooks' folders share, those folders without the ones inside another)."""
    folders = sorted({nb.resolve().parent for nb in notebooks})
    base = Path(os.path.commonpath(folders))
    kept: list[Path] = []
    for folder in folders:  # sorted: a folder comes before the folders inside it
        if not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return base, kept


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p in SKIPPED_FOLDERS for p in parts):
            continue
        if path.is_file():
            yield path


def _digest(base: Path, folders: list[Path], extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for folder in folders:
        for path in _files(folder):
            h.update(path.relative_to(base).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _stage(base: Path, folders: list[Path], staging: Path) -> None:
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for folder in folders:
        for path in _files(folder):
            target = staging / path.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` between processes (another xdist worker may be building)."""
    with path.open("a+b") as handle:
        if sys.platform == "win32":  # pragma: no cover - CI runs on Linux
            import msvcrt

            handle.seek(0)
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def build_site(notebooks: list[Path], cache: Path) -> Site:
    """The site holding these notebooks and their folders (built now, or the one an earlier run built)."""
    cache.mkdir(parents=True, exist_ok=True)
    base, folders = contents_folders(notebooks)
    site = Site(cache / "site", base)
    stamp = cache / "inputs.sha256"
    versions = [f"{dist}=={version(dist)}" for dist in ("async-kernel-jupyter", "jupyterlite-core")]
    with _locked(cache / "build.lock"):
        want = _digest(base, folders, "\n".join([*versions, str(base)]))
        if stamp.is_file() and stamp.read_text() == want and (site.root / "index.html").is_file():
            return site
        lite_dir = cache / "lite"
        lite_dir.mkdir(exist_ok=True)
        staging = lite_dir / "contents"
        _stage(base, folders, staging)
        config = {"jupyter-lite-schema-version": 0, "jupyter-config-data": {"appName": "pytest --lite"}}
        (lite_dir / "jupyter-lite.json").write_text(json.dumps(config, indent=2))
        (lite_dir / "jupyter_lite_config.json").write_text("{}\n")
        cmd = [sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", str(lite_dir)]
        cmd += ["--output-dir", str(site.root), "--contents", str(staging)]
        result = subprocess.run(cmd, cwd=lite_dir, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-6000:]
            raise SiteBuildError(f"`jupyter lite build` failed (exit {result.returncode}):\n{output}")
        stamp.write_text(want)
        return site


def given_site(root: Path, notebooks: list[Path]) -> Site:
    """A site built elsewhere (--lite-site): its contents base is found from where the notebooks are in it.

    A notebook is looked up by its path's longest tail present in the site's files: ``docs/nb/a.ipynb``
    is ``nb/a.ipynb`` in a site built with ``--contents docs``.
    """
    files = root / "files"
    for notebook in notebooks:
        parts = notebook.resolve().parts
        for start in range(1, len(parts)):
            if (files / Path(*parts[start:])).is_file():
                return Site(root, Path(*parts[:start]))
    return Site(root, Path(os.path.commonpath([nb.resolve().parent for nb in notebooks])))
