"""Build ONE JupyterLite site holding both "Python (async)" and jupyterlite-pyodide-kernel 0.8.6.

    python3 bench/browser/build.py [--skip-lite]

A benchmark fixture, not a product: the output goes to bench/browser/_output (gitignored).

1. Unless --skip-lite, `python3 lite/build.py` builds our wheel and our own site (lite/_output)
   and scripts/plain-site.sh a user's site (build/plain-site/site); run.mjs measures both alongside.
2. bench/browser/.venv gets jupyterlite-core 0.8.6, jupyterlite-pyodide-kernel 0.8.6,
   jupyter_server, jupyterlab_widgets (as lite/ has) and our wheel (--no-deps: its build addon
   needs only jupyterlite-core).
3. pyodide-kernel's Pyodide is made local: the Pyodide runtime our wheel ships (the npm pyodide
   314.0.6 files) goes to the build dir's `static/pyodide/` (pyodide-kernel's addon copies it to
   the site and sets `pyodideUrl`),
   beside it the pure-Python wheels that pyodide-kernel loads through pyodide-lock.json
   (micropip, ipython and its dependencies, jedi, ...) downloaded from PyPI at the lock's
   versions, with the lock's `file_name`/`sha256` rewritten to match. `comm` (not in the lock)
   goes to `pypi/` (piplite's local index); the PyPI fallback is disabled.
4. Plain `jupyter lite build`: our addon puts our runtime, wheels and snapshot into the site,
   as in any user's build.
5. Unless $CHROMIUM names a browser, scripts/chromium.sh installs Debian's /usr/bin/chromium, which
   run.mjs drives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LITE = ROOT / "lite"
VENV = HERE / ".venv"
BUILD = HERE / "build"
SITE_SRC = BUILD / "site"
DOWNLOADS = BUILD / "downloads"
OUTPUT = HERE / "_output"
#: The runtime our wheel ships (scripts/browser_runtime.py assembles it, lite/build.py runs that).
PYODIDE_RUNTIME = ROOT / "py" / "async_kernel" / "jupyterlite" / "runtime" / "pyodide"

REQUIREMENTS = (
    "jupyterlite-core==0.8.6",
    "jupyterlite-pyodide-kernel==0.8.6",
    "jupyter_server>=2.14",
    "jupyterlab_widgets>=3.0.15,<4",
)
#: What pyodide-kernel 0.8.6's worker asks Pyodide's lock for (micropip at start, then
#: piplite.install of ipykernel/comm/pyodide-kernel/jedi/ipython, whose dependencies the lock
#: resolves); the lock's dependency closure of these is downloaded.
LOCK_ROOTS = ("micropip", "packaging", "ipython", "jedi", "typing-extensions")
#: pyodide-kernel's dependencies that are not in the lock: served by piplite's local index.
PIPLITE_EXTRA = ("comm",)


def log(text: str) -> None:
    print(f"[bench/browser/build] {text}", flush=True)


def run(cmd: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True, env=env)


def venv_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(VENV)])
    stamp = BUILD / "venv.stamp"
    want = "\n".join(REQUIREMENTS)
    if not stamp.is_file() or stamp.read_text() != want:
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS])
        BUILD.mkdir(parents=True, exist_ok=True)
        stamp.write_text(want)
    return python


def pip_download(python: Path, specs: list[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    run([
        str(python), "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
        "--only-binary=:all:", "--platform", "any", "--python-version", "3.14", "--implementation", "py",
        "--abi", "none", "-d", str(dest), *specs,
    ])  # fmt: skip


def norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def lock_closure(packages: dict[str, dict], roots: tuple[str, ...]) -> list[str]:
    names = {norm(k): k for k in packages}
    seen: list[str] = []
    todo = [norm(r) for r in roots]
    while todo:
        name = todo.pop()
        key = names.get(name)
        if key is None or key in seen:
            continue
        seen.append(key)
        todo.extend(norm(d) for d in packages[key].get("depends", []))
    return sorted(seen)


def wheel_for(folder: Path, name: str, version: str) -> Path | None:
    for path in folder.glob("*.whl"):
        dist, ver = path.name.split("-")[:2]
        if norm(dist) == norm(name) and ver == version:
            return path
    return None


def local_pyodide(python: Path) -> None:
    """static/pyodide/: the npm runtime + a lock whose pure-Python entries name PyPI wheels beside it."""
    target = SITE_SRC / "static" / "pyodide"
    target.mkdir(parents=True, exist_ok=True)
    for source in PYODIDE_RUNTIME.iterdir():
        if source.name != "pyodide-lock.json":
            shutil.copy2(source, target / source.name)
    lock = json.loads((PYODIDE_RUNTIME / "pyodide-lock.json").read_text())
    packages = lock["packages"]
    wanted = lock_closure(packages, LOCK_ROOTS)
    specs = [f"{packages[k]['name']}=={packages[k]['version']}" for k in wanted]
    cache = DOWNLOADS / "lock"
    missing = [s for k, s in zip(wanted, specs, strict=True) if wheel_for(cache, k, packages[k]["version"]) is None]
    if missing:
        pip_download(python, missing, cache)
    for key in wanted:
        entry = packages[key]
        wheel = wheel_for(cache, key, entry["version"])
        if wheel is None:
            raise SystemExit(f"no wheel downloaded for {key}=={entry['version']}")
        shutil.copy2(wheel, target / wheel.name)
        entry["file_name"] = wheel.name
        entry["sha256"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (target / "pyodide-lock.json").write_text(json.dumps(lock))
    log(f"lock: {len(wanted)} entries made local: {', '.join(wanted)}")


def piplite_wheels(python: Path) -> None:
    target = SITE_SRC / "pypi"
    cache = DOWNLOADS / "piplite"
    if not all(any(cache.glob(f"{n}-*.whl")) for n in PIPLITE_EXTRA):
        pip_download(python, list(PIPLITE_EXTRA), cache)
    target.mkdir(parents=True, exist_ok=True)
    for wheel in cache.glob("*.whl"):
        shutil.copy2(wheel, target / wheel.name)


def site_config() -> None:
    ours = json.loads((LITE / "jupyter-lite.json").read_text())
    plugins = ours["jupyter-config-data"]["litePluginSettings"]
    plugins["@jupyterlite/pyodide-kernel-extension:kernel"] = {"disablePyPIFallback": True}
    ours["jupyter-config-data"]["appName"] = "async-kernel bench"
    # window.jupyterapp in lab/ (run.mjs starts kernels through its service manager)
    ours["jupyter-config-data"]["exposeAppInBrowser"] = True
    (SITE_SRC / "jupyter-lite.json").write_text(json.dumps(ours, indent=2))
    config = json.loads((LITE / "jupyter_lite_config.json").read_text())
    config["LiteBuildConfig"]["contents"] = [str(LITE / "content")]
    config["LiteBuildConfig"]["output_dir"] = str(OUTPUT)
    addon = config.get("AsyncKernelAddon", {})
    addon["extra_wheels"] = [str(LITE / path) for path in addon.get("extra_wheels", [])]
    (SITE_SRC / "jupyter_lite_config.json").write_text(json.dumps(config, indent=2))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-lite", action="store_true", help="reuse lite/_output as it is")
    args = parser.parse_args(argv)
    if not args.skip_lite:
        run([sys.executable, str(LITE / "build.py")])
        run([str(ROOT / "scripts" / "plain-site.sh")])
    (our_wheel,) = (LITE / "build" / "dist").glob("async_kernel_jupyter-*.whl")
    python = venv_python()
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--force-reinstall", str(our_wheel)])  # fmt: skip
    SITE_SRC.mkdir(parents=True, exist_ok=True)
    local_pyodide(python)
    piplite_wheels(python)
    site_config()
    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    shutil.rmtree(OUTPUT, ignore_errors=True)
    # doit's state would skip tasks whose targets we just removed (e.g. pyodideUrl's patch)
    for state in SITE_SRC.glob(".jupyterlite.doit.db*"):
        state.unlink()
    run([str(VENV / "bin" / "jupyter"), "lite", "build"], cwd=SITE_SRC, env=env)
    settings = json.loads((OUTPUT / "jupyter-lite.json").read_text())["jupyter-config-data"]["litePluginSettings"]
    log("pyodide-kernel settings: " + json.dumps(settings.get("@jupyterlite/pyodide-kernel-extension:kernel")))
    if "CHROMIUM" not in os.environ:
        run([str(ROOT / "scripts" / "chromium.sh")])
    log(f"site ready in {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
