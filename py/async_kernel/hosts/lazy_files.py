"""Files of the kernel's wheels that a start from the snapshot writes only when an import needs them.

The snapshot (``async_kernel/jupyterlite/snapshot.mjs``) holds every module the kernel imports; the
worker writes the files of those modules (and every file that is not Python source) at start, from
``site-packages.pack.gz``. The other modules' sources (most of pygments' lexers, prompt_toolkit, ...)
wait in ``site-packages-rest.pack.gz``: the first import of a module the snapshot lacks, in one of
their packages, downloads it (a synchronous request: the worker's Python may block) and writes its
files. Same format as the first pack: a 4-byte little-endian length, a JSON header ``{"root",
"files": [[path, size], ...]}``, then the files' bytes.
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import os
import sys
import zlib
from collections.abc import Iterable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class LazyFiles(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: the first import of a module of `packages` that is not imported yet
    writes the rest pack's files, then lets the path finder find the module. (Last would be too late: a
    package whose data files were written at start is a folder without ``__init__.py``, which the path
    finder takes for a namespace package.)"""

    def __init__(self, url: str, packages: Iterable[str]) -> None:
        self.url = url
        self.packages = frozenset(packages)
        self.written = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if self.written or fullname.partition(".")[0] not in self.packages:
            return None
        try:
            write_pack(zlib.decompress(download(self.url), wbits=31))
        except Exception as exc:
            raise ImportError(f"cannot write the files of {fullname!r}: {exc}", name=fullname) from exc
        self.written = True
        importlib.invalidate_caches()
        return None  # the path finder, after this one, finds the files now


def install(url: str, packages: Iterable[str]) -> None:
    """Let imports in `packages` fetch the rest pack at `url` when they need it."""
    sys.meta_path.insert(0, LazyFiles(url, packages))


def download(url: str) -> bytes:
    """The body of `url`, synchronously (a Web Worker may block)."""
    from js import XMLHttpRequest  # type: ignore[import-not-found]

    request = XMLHttpRequest.new()
    request.open("GET", url, False)
    request.responseType = "arraybuffer"
    request.send()
    if request.status != 200:
        raise OSError(f"HTTP {request.status} from {url}")
    return request.response.to_bytes()


def write_pack(pack: bytes) -> None:
    """Write a pack's files (the header's root, then each path)."""
    length = int.from_bytes(pack[:4], "little")
    header = json.loads(pack[4 : 4 + length])
    offset = 4 + length
    for path, size in header["files"]:
        file = os.path.join(header["root"], path)
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(file, "wb") as out:
            out.write(pack[offset : offset + size])
        offset += size
    if offset != len(pack):
        raise ValueError(f"the pack's {len(header['files'])} files do not add up to its size")
