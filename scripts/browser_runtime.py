"""Assemble what the wheel ships for the browser, from a clean checkout.

    python scripts/browser_runtime.py        # what the wheel build (hatch_build.py) runs

1. The JupyterLite extension: `npm ci` when node_modules is missing or stale, then
   `npm run build --workspace js` into py/async_kernel/labextension/ when js/ changed.
2. The runtime the build addon puts into sites, in py/async_kernel/jupyterlite/runtime/:
   - `pyodide/`: the npm `pyodide` runtime (the five files a site needs);
   - `wheels/`: the kernel's wheels for Pyodide with `index.json` (install order): every
     pure-Python dependency for Pyodide's Python, downloaded from PyPI when the requirements
     change, and `async_kernel_jupyter-*.whl`, a wheel of the kernel's own Python code only
     (no runtime, no addon), written byte-for-byte reproducibly; beside them, listed in
     `pip.json` and not installed at start: jedi and parso (completion does without them), and
     micropip at the version of Pyodide's lock file, which `%pip` installs when a site sets
     package indexes (pipIndexUrls, packagesUrl).

Each step is skipped when its inputs did not change (stamps in build/browser-runtime/).
Needs Node.js >= 20 with npm, and PyPI for the dependency wheels. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "py" / "async_kernel"
LABEXTENSION = PKG / "labextension"
RUNTIME = PKG / "jupyterlite" / "runtime"
STAMPS = ROOT / "build" / "browser-runtime"
WHEEL_CACHE = STAMPS / "wheel-cache"
PYODIDE_NPM = ROOT / "node_modules" / "pyodide"
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")

#: Installed in the browser besides the kernel's own dependencies.
BROWSER_EXTRAS = ("ipywidgets>=8.1",)
#: What `%pip` installs from the site when it needs a package index (Pyodide's lock gives the versions).
PIP_TOOLS = ("micropip",)
#: Shipped but not installed at start (so neither downloaded nor in the snapshot): `%pip install`
#: takes them from the site. jedi (with its typeshed, ~5 MB) only serves completion, which the kernel
#: does without it (use_jedi is off by default).
ON_DEMAND = frozenset({*PIP_TOOLS, "jedi", "parso"})
#: Not installable or not useful under Pyodide: no subprocesses, no terminals, no debugger (debugpy
#: needs sockets and threads; Pyodide's kernel_info says debugger: false); the widget front-end assets
#: come with the site, not with Python.
EXCLUDED = frozenset(
    {"pexpect", "ptyprocess", "psutil", "pyzmq", "widgetsnbextension", "jupyterlab-widgets", "debugpy"}
)
#: Parts of the package the browser never imports (the build addon, its runtime, the
#: extension, kernelspec logos, the pytest plugin).
NOT_IN_BROWSER = ("jupyterlite", "labextension", "resources", "pytest_lite")
#: Zip entries' time: the wheel's bytes depend on its contents only (the snapshot is keyed on them).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BuildError(RuntimeError):
    """A step cannot run; the message says what to install or do."""


def log(text: str) -> None:
    print(f"[browser-runtime] {text}", flush=True)


def load_wheels_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_ak_wheels", PKG / "jupyterlite" / "wheels.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def digest(paths: Iterable[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for top in paths:
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for path in files:
            if "__pycache__" in path.parts or not path.exists():
                continue
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def stamp_fresh(name: str, value: str) -> bool:
    path = STAMPS / f"{name}.stamp"
    return path.is_file() and path.read_text() == value


def stamp_save(name: str, value: str) -> None:
    STAMPS.mkdir(parents=True, exist_ok=True)
    (STAMPS / f"{name}.stamp").write_text(value)


def npm(*args: str) -> None:
    npm_exe = shutil.which("npm")
    if npm_exe is None:
        raise BuildError(
            "async-kernel-jupyter's wheel bundles its JupyterLite extension and the Pyodide runtime, "
            "built with Node.js >= 20 and npm, and npm is not on PATH. Install Node.js "
            "(https://nodejs.org or your system's package manager) and build again."
        )
    log("+ npm " + " ".join(args))
    subprocess.run([npm_exe, *args], cwd=ROOT, check=True)


def ensure_node_modules() -> None:
    inputs = [ROOT / "package-lock.json", ROOT / "package.json", ROOT / "js" / "package.json"]
    value = digest(inputs)
    if (ROOT / "node_modules" / ".package-lock.json").is_file() and stamp_fresh("npm", value):
        return
    npm("ci", "--no-audit", "--no-fund")
    stamp_save("npm", value)


def build_extension() -> None:
    js = ROOT / "js"
    inputs = [
        js / "src", js / "py", js / "schema", js / "style", js / "package.json", js / "webpack.config.js",
        ROOT / "tsconfig.json", PKG / "resources",
    ]  # fmt: skip
    value = digest(inputs)
    if stamp_fresh("extension", value) and (LABEXTENSION / "package.json").is_file():
        return
    npm("run", "build", "--workspace", "js")
    stamp_save("extension", value)


def sync_files(sources: list[Path], target: Path) -> None:
    """Make `target` hold exactly copies of `sources` (by name)."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {source.name: source for source in sources}
    for existing in target.iterdir():
        if existing.name not in wanted:
            existing.unlink()
    for name, source in wanted.items():
        dest = target / name
        if not dest.is_file() or dest.read_bytes() != source.read_bytes():
            shutil.copyfile(source, dest)


def copy_pyodide() -> None:
    missing = [name for name in PYODIDE_FILES if not (PYODIDE_NPM / name).is_file()]
    if missing:
        raise BuildError(f"node_modules/pyodide lacks {missing}: run `npm ci` at the repository root")
    sync_files([PYODIDE_NPM / name for name in PYODIDE_FILES], RUNTIME / "pyodide")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def browser_requirements(wheels: ModuleType) -> list[str]:
    requirements = [*project()["dependencies"], *BROWSER_EXTRAS]
    return [r for r in requirements if wheels.requirement_name(r) not in EXCLUDED]


def pip_tool_requirements() -> list[str]:
    lock = json.loads((PYODIDE_NPM / "pyodide-lock.json").read_text())["packages"]
    return [f"{name}=={lock[name]['version']}" for name in PIP_TOOLS]


def dependency_wheels(wheels: ModuleType) -> list[Path]:
    """The kernel's dependency wheels for Pyodide and the pip tools; resolved again when the requirements change."""
    requirements = [*browser_requirements(wheels), *pip_tool_requirements()]
    value = digest([PKG / "jupyterlite" / "wheels.py"], "\n".join(requirements))
    resolved = STAMPS / "dependency-wheels.json"
    if stamp_fresh("dependency-wheels", value) and resolved.is_file():
        names = json.loads(resolved.read_text())
        if all((WHEEL_CACHE / name).is_file() for name in names):
            return [WHEEL_CACHE / name for name in names]
    # pip copies what it resolves into a fresh folder: exactly one wheel per distribution; the
    # cache spares downloads.
    fresh = STAMPS / "resolving"
    shutil.rmtree(fresh, ignore_errors=True)
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    try:
        # what the browser never installs stands in for itself: newer releases that need it elsewhere resolve
        wheels.download(requirements, fresh, find_links=WHEEL_CACHE, stand_ins=EXCLUDED)
    except subprocess.CalledProcessError as exc:
        raise BuildError(
            "pip could not download the kernel's dependency wheels for Pyodide from the package index "
            f"(see pip's message above): {exc}"
        ) from exc
    keep = [p for p in fresh.glob("*.whl") if wheels.WheelName.parse(p.name).distribution not in EXCLUDED]
    names = sorted(p.name for p in keep)
    for path in keep:
        shutil.copyfile(path, WHEEL_CACHE / path.name)
    shutil.rmtree(fresh)
    resolved.write_text(json.dumps(names, indent=1) + "\n")
    stamp_save("dependency-wheels", value)
    return [WHEEL_CACHE / name for name in names]


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def kernel_wheel(dest: Path) -> Path:
    """A wheel of the kernel's Python code only, as the browser installs it."""
    meta = project()
    version = {}
    exec((PKG / "_version.py").read_text(), version)
    version = version["__version__"]
    dist_info = f"async_kernel_jupyter-{version}.dist-info"
    files: list[tuple[str, bytes]] = []
    for path in sorted(PKG.rglob("*")):
        rel = path.relative_to(PKG)
        if not path.is_file() or rel.parts[0] in NOT_IN_BROWSER or "__pycache__" in rel.parts:
            continue
        files.append((f"async_kernel/{rel.as_posix()}", path.read_bytes()))
    metadata = [
        "Metadata-Version: 2.1",
        "Name: async-kernel-jupyter",
        f"Version: {version}",
        f"Summary: {meta['description']}",
        f"Requires-Python: {meta['requires-python']}",
        *(f"Requires-Dist: {r}" for r in meta["dependencies"]),
    ]
    files.append((f"{dist_info}/METADATA", ("\n".join(metadata) + "\n").encode()))
    wheel_info = "Wheel-Version: 1.0\nGenerator: async-kernel scripts/browser_runtime.py\nRoot-Is-Purelib: true\n"
    files.append((f"{dist_info}/WHEEL", (wheel_info + "Tag: py3-none-any\n").encode()))
    record = "".join(f"{name},{record_hash(data)},{len(data)}\n" for name, data in files)
    files.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    path = dest / f"async_kernel_jupyter-{version}-py3-none-any.whl"
    dest.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    tmp.replace(path)
    return path


def assemble_wheels() -> None:
    wheels = load_wheels_module()
    dependencies = dependency_wheels(wheels)
    staging = STAMPS / "kernel-wheel"
    shutil.rmtree(staging, ignore_errors=True)
    own = kernel_wheel(staging)
    sync_files([*dependencies, own], RUNTIME / "wheels")
    tools = sorted(p.name for p in dependencies if wheels.WheelName.parse(p.name).distribution in ON_DEMAND)
    index = [*sorted(p.name for p in dependencies if p.name not in tools), own.name]
    (RUNTIME / "wheels" / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    (RUNTIME / "wheels" / "pip.json").write_text(json.dumps(tools, indent=1) + "\n")
    shutil.rmtree(staging)


def build() -> None:
    """Everything the wheel ships for the browser (see the module docstring)."""
    ensure_node_modules()
    build_extension()
    copy_pyodide()
    assemble_wheels()
    size = sum(p.stat().st_size for p in RUNTIME.rglob("*") if p.is_file())
    log(f"runtime ready in {RUNTIME.relative_to(ROOT)} ({size / 1e6:.1f} MB)")


def main() -> int:
    try:
        build()
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
