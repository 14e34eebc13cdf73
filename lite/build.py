"""Build the offline JupyterLite site with the "Python (async)" kernel into lite/_output.

    python3 lite/build.py [--force]

On a fresh machine this creates lite/.venv (jupyterlite-core, jupyter_server, jupyterlab for
the extension builder, jupyterlab_widgets), installs the npm packages, builds the extension,
collects the kernel's wheels for Pyodide (lite/wheels.py), installs this repo's wheel into the
build venv (so `jupyter lite build` finds the extension the wheel ships), runs
`jupyter lite build`, vendors the npm `pyodide` runtime and the wheels into the output and
makes the Python memory snapshot the kernel starts from (lite/snapshot.mjs).

Each step is skipped when its inputs have not changed since the last run (stamps in
lite/build/), so a second run takes about a second.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

LITE = Path(__file__).resolve().parent
ROOT = LITE.parent
VENV = LITE / ".venv"
BUILD = LITE / "build"
OUTPUT = LITE / "_output"
WHEELS = BUILD / "wheels"
EXTRA_WHEELS = BUILD / "extra-wheels"
EXTRA_REQUIREMENTS = LITE / "extra-requirements.txt"
LABEXTENSION = ROOT / "py" / "async_kernel" / "labextension"
PYODIDE = ROOT / "node_modules" / "pyodide"
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
#: Where the site serves the runtime and the wheels (see the plugin's default settings).
SITE_PYODIDE = OUTPUT / "async-kernel" / "pyodide"
SITE_WHEELS = OUTPUT / "async-kernel" / "wheels"
SITE_SNAPSHOT = OUTPUT / "async-kernel" / "snapshot"

BUILD_REQUIREMENTS = (
    "jupyterlite-core==0.8.6",
    "jupyter_server>=2.14",
    "jupyterlab==4.6.6",
    "jupyterlab_widgets>=3.0.15,<4",
    "hatchling>=1.25",
)


def log(text: str) -> None:
    print(f"[lite/build] {text}", flush=True)


def run(cmd: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True, env=env)


def digest(paths: Iterable[Path], extra: str = "") -> str:
    """A hash of the files under `paths` (names and contents)."""
    h = hashlib.sha256(extra.encode())
    for top in paths:
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for path in files:
            if "__pycache__" in path.parts or not path.exists():
                continue
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


class Stamp:
    """Remembers the inputs' digest of a step in lite/build/NAME.stamp."""

    def __init__(self, name: str, value: str) -> None:
        self.path = BUILD / f"{name}.stamp"
        self.value = value

    def fresh(self) -> bool:
        return self.path.is_file() and self.path.read_text() == self.value

    def save(self) -> None:
        BUILD.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.value)


def in_build_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv(argv: list[str]) -> None:
    """Create/update lite/.venv, then re-run this script inside it."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log(f"creating {VENV}")
        run([sys.executable, "-m", "venv", str(VENV)])
    stamp = Stamp("venv", digest([], "\n".join(BUILD_REQUIREMENTS)))
    if not stamp.fresh():
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *BUILD_REQUIREMENTS])
        stamp.save()
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def ensure_node_modules() -> None:
    lock = ROOT / "package-lock.json"
    marker = ROOT / "node_modules" / ".package-lock.json"
    stamp = Stamp("npm", digest([lock, ROOT / "package.json", ROOT / "js" / "package.json"]))
    if marker.is_file() and stamp.fresh():
        return
    run(["npm", "ci", "--no-audit", "--no-fund"])
    stamp.save()


def build_extension() -> None:
    js = ROOT / "js"
    inputs = [
        js / "src", js / "py", js / "schema", js / "style", js / "package.json", js / "webpack.config.js",
        ROOT / "tsconfig.json", ROOT / "py" / "async_kernel" / "resources",
    ]  # fmt: skip
    stamp = Stamp("extension", digest(inputs))
    if stamp.fresh() and (LABEXTENSION / "package.json").is_file():
        return
    run(["npm", "run", "build", "--workspace", "js"], env=tool_env())
    stamp.save()


def build_wheels() -> None:
    """This repo's wheel when its sources change; dependency wheels when the requirements do."""
    import wheels  # lite/wheels.py

    requirements = "\n".join([*wheels.kernel_requirements(), *read_requirements(EXTRA_REQUIREMENTS)])
    deps = Stamp("dependency-wheels", digest([LITE / "wheels.py"], requirements))
    inputs = [ROOT / "py", ROOT / "pyproject.toml", ROOT / "hatch_build.py", LITE / "wheels.py", LABEXTENSION]
    project = Stamp("project-wheel", digest(inputs))
    have_deps = (WHEELS / "index.json").is_file() and (EXTRA_WHEELS / "extra.json").is_file()
    if project.fresh() and deps.fresh() and have_deps:
        return
    shipped = wheels.collect(WHEELS, [], download=not (deps.fresh() and have_deps))
    if not (deps.fresh() and have_deps):
        wheels.collect_extra(EXTRA_WHEELS, read_requirements(EXTRA_REQUIREMENTS), shipped)
    deps.save()
    project.save()


def install_project_wheel() -> None:
    """`jupyter lite build` finds the extension in the build venv, installed from our wheel
    (the way `pip install .` users get it)."""
    (project_wheel,) = WHEELS.glob("async_kernel_jupyter-*.whl")
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(project_wheel)])


def read_requirements(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def lite_build(force: bool) -> None:
    inputs = [LITE / "jupyter-lite.json", LITE / "jupyter_lite_config.json", LITE / "content", LABEXTENSION]
    stamp = Stamp("lite", digest(inputs, "\n".join(BUILD_REQUIREMENTS)))
    if not force and stamp.fresh() and (OUTPUT / "index.html").is_file():
        return
    install_project_wheel()
    run(["jupyter", "lite", "build"], cwd=LITE, env=tool_env())
    stamp.save()


def sync_tree(sources: Iterable[Path], target: Path) -> None:
    """Copy files whose size or mtime differ; remove files no longer in `sources`."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for source in sources:
        wanted[source.name] = source
        dest = target / source.name
        st = source.stat()
        if not dest.exists() or dest.stat().st_size != st.st_size or dest.stat().st_mtime < st.st_mtime:
            shutil.copy2(source, dest)
    for existing in target.iterdir():
        if existing.name not in wanted:
            existing.unlink()


def vendor_runtime() -> None:
    missing = [name for name in PYODIDE_FILES if not (PYODIDE / name).is_file()]
    if missing:
        raise SystemExit(f"node_modules/pyodide lacks {missing}: run `npm ci` at the repository root")
    sync_tree([PYODIDE / name for name in PYODIDE_FILES], SITE_PYODIDE)
    extra = [EXTRA_WHEELS / name for name in json.loads((EXTRA_WHEELS / "extra.json").read_text())]
    sync_tree([*WHEELS.glob("*.whl"), WHEELS / "index.json", *extra, EXTRA_WHEELS / "extra.json"], SITE_WHEELS)


def make_snapshot() -> None:
    """The Python memory snapshot the kernel starts from (lite/snapshot.mjs, ~15 s)."""
    stamp = Stamp("snapshot", digest([SITE_PYODIDE, SITE_WHEELS, LITE / "snapshot.mjs"]))
    if stamp.fresh() and (SITE_SNAPSHOT / "snapshot.json").is_file():
        return
    run(["node", str(LITE / "snapshot.mjs"), str(SITE_SNAPSHOT.parent)])
    stamp.save()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild every step")
    args = parser.parse_args(argv)
    if not in_build_venv():
        ensure_venv(argv)
    if args.force:
        shutil.rmtree(BUILD, ignore_errors=True)
    sys.path.insert(0, str(LITE))
    ensure_node_modules()
    build_extension()
    build_wheels()
    lite_build(args.force)
    vendor_runtime()
    make_snapshot()
    log(f"site ready in {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
