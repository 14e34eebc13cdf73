"""The ``jupyter lite build`` addon that makes "Python (async)" work in any JupyterLite site.

What it puts into the site's ``async-kernel/`` folder (the plugin's default URLs point there):

- ``pyodide/``: the Pyodide runtime shipped in this package (``runtime/pyodide``), its
  standard library's zip with the files stored, and a ``.gz`` of that zip, of the wasm, of
  ``pyodide.asm.mjs`` and of the lock file, which the worker downloads instead: 6.1 MB, not 13.5;
- ``wheels/``: the kernel's wheels for Pyodide (``runtime/wheels``) plus the ``preload_wheels``
  (``index.json``: installed at start, in order) and the ``extra_wheels`` with micropip
  (``extra.json``: offered to ``%pip install``; micropip serves package indexes);
- ``snapshot/``: the Python memory snapshot the kernel starts from, made by ``snapshot.mjs``
  under Node.js from exactly those files. Without Node.js the site starts Python the plain way
  (slower) and the build log says so once.

With ``isolation = "service-worker"`` it also appends ``isolation-sw.js`` to JupyterLite's
``service-worker.js``: the site is then crossOriginIsolated on hosts that cannot send COOP/COEP.

Every task declares its files (doit ``file_dep``/``targets``), so a second build with the same
inputs copies nothing and makes no snapshot. The build needs no network. Bad options stop the
build with a message naming the option.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import doit.tools
from jupyterlite_core.addons.base import BaseAddon
from jupyterlite_core.constants import JUPYTERLITE_JSON
from traitlets import List, Unicode

from .wheels import WheelName

HERE = Path(__file__).resolve().parent
RUNTIME = HERE / "runtime"
SNAPSHOT_SCRIPT = HERE / "snapshot.mjs"
#: The plugin id, the key of the kernel's settings in ``litePluginSettings`` (js/src/tokens.ts).
PLUGIN_ID = "@async-kernel/jupyterlite:kernel"
#: Where the site holds the runtime (the plugin settings' defaults, js/schema/kernel.json).
SITE_FOLDER = "async-kernel"
SNAPSHOT_FILES = ("kernel.snapshot.gz", "site-packages.pack.gz", "site-packages-rest.pack.gz", "snapshot.json")
SNAPSHOT_CHOICES = ("auto", "on", "off")
# runtime files the worker downloads gzipped (js/src/worker/gzip.ts): static hosts seldom compress them
STDLIB_ZIP = "python_stdlib.zip"
GZIPPED = ("pyodide.asm.wasm", "pyodide.asm.mjs", STDLIB_ZIP, "pyodide-lock.json")
ISOLATION_CHOICES = ("headers", "service-worker")
#: What the addon appends to JupyterLite's service worker for ``isolation = "service-worker"``.
ISOLATION_SCRIPT = HERE / "isolation-sw.js"
SERVICE_WORKER = "service-worker.js"
MIN_NODE = 20
#: Our federated extension (js/package.json), among the site's ``extensions/``.
EXTENSION_NAME = "@async-kernel/jupyterlite"
#: What an extension that registers kernels depends on (JupyterLite 0.8's ``IKernelSpecs``, and before it).
KERNEL_SERVICES = ("@jupyterlite/services", "@jupyterlite/kernel")
_KERNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def stored_zip(path: Path) -> bytes:
    """The zip at `path` with its files stored, not compressed (entries, order and dates kept)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as stored:
        for info in source.infolist():
            stored.writestr(info, source.read(info), compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


class AddonError(ValueError):
    """A bad option or a missing file: the build stops with this message."""


Task = dict[str, Any]


class AsyncKernelAddon(BaseAddon):
    """Put the "Python (async)" kernel's runtime, wheels and memory snapshot into the site."""

    __all__ = ["status", "build", "post_build", "check"]

    extra_wheels = List(
        Unicode(),
        help="Pure-Python wheels that `%pip install NAME` installs in the site (offline): .whl files or "
        "folders of them, relative to the lite dir.",
    ).tag(config=True)
    preload_wheels = List(
        Unicode(),
        help="Pure-Python wheels installed when the kernel starts (and imported into the snapshot's file "
        "pack): .whl files or folders of them, relative to the lite dir.",
    ).tag(config=True)
    snapshot = Unicode(
        "auto",
        help="The Python memory snapshot the kernel starts from: 'auto' (made when Node.js >= 20 is found, "
        "else the site starts without it and the log says so), 'on' (Node.js required), 'off'.",
    ).tag(config=True)
    node = Unicode("node", help="The Node.js executable that makes the snapshot.").tag(config=True)
    kernel_aliases = List(
        Unicode(),
        help="More kernel names that start this kernel, for pages that ask for a fixed name: ['python'] "
        "serves jupyterlite-sphinx's try_examples (in sites without another 'python' kernel).",
    ).tag(config=True)

    isolation = Unicode(
        "headers",
        help="How pages become crossOriginIsolated (interrupting busy loops, input() without the service "
        "worker): 'headers' (the server sends COOP/COEP, or the site is not isolated), 'service-worker' "
        "(JupyterLite's service worker adds them, for static hosts that cannot; the first visit reloads "
        "once).",
    ).tag(config=True)

    # -- paths

    @property
    def site_dir(self) -> Path:
        return self.manager.output_dir / SITE_FOLDER

    def runtime_files(self, folder: str) -> list[Path]:
        found = sorted(p for p in (RUNTIME / folder).glob("*") if p.is_file())
        if not found:
            raise AddonError(
                f"async-kernel-jupyter is installed without its browser runtime ({RUNTIME / folder} is "
                "empty: an editable install?). Install the wheel (`pip install async-kernel-jupyter`), or "
                "in a checkout run `python scripts/browser_runtime.py`."
            )
        return found

    # -- options

    def user_wheels(self, option: str) -> list[Path]:
        """The wheel files an option names, checked: existing, wheels, pure Python."""
        found: list[Path] = []
        for value in getattr(self, option):
            path = Path(value).expanduser()
            if not path.is_absolute():
                path = self.manager.lite_dir / path
            if not path.exists():
                raise AddonError(f"AsyncKernelAddon.{option}: {value!r} does not exist ({path})")
            files = sorted(path.glob("*.whl")) if path.is_dir() else [path]
            if not files:
                raise AddonError(f"AsyncKernelAddon.{option}: the folder {value!r} holds no .whl file")
            for file in files:
                try:
                    name = WheelName.parse(file.name)
                except ValueError as exc:
                    raise AddonError(f"AsyncKernelAddon.{option}: {exc}") from None
                if not name.pure:
                    raise AddonError(
                        f"AsyncKernelAddon.{option}: {file.name} is not a pure-Python wheel (tags "
                        f"{name.python}-{name.abi}-{name.platform}); the kernel installs only "
                        "py3-none-any wheels. `python -m async_kernel.jupyterlite.wheels NAME -d DIR` "
                        "downloads pure ones."
                    )
                found.append(file)
        return found

    def wheel_plan(self) -> tuple[list[Path], list[Path]]:
        """(installed at start in order, offered to %pip), every option checked."""
        kernel = [RUNTIME / "wheels" / name for name in json.loads((RUNTIME / "wheels" / "index.json").read_text())]
        shipped = {WheelName.parse(p.name).distribution: p.name for p in kernel}
        preload = self.user_wheels("preload_wheels")
        for path in preload:
            dist = WheelName.parse(path.name).distribution
            if dist in shipped:
                raise AddonError(
                    f"AsyncKernelAddon.preload_wheels: {path.name} is {dist}, which the kernel already "
                    f"installs ({shipped[dist]})"
                )
            shipped[dist] = path.name
        extra: dict[str, Path] = {}
        pip_tools = RUNTIME / "wheels" / "pip.json"
        tools = [RUNTIME / "wheels" / name for name in json.loads(pip_tools.read_text())] if pip_tools.is_file() else []
        for path in [*tools, *self.user_wheels("extra_wheels")]:
            dist = WheelName.parse(path.name).distribution
            if dist in shipped:
                self.log.debug(f"[async-kernel] {path.name}: {dist} is installed at start already")
            elif dist in extra and extra[dist].name != path.name:
                raise AddonError(
                    f"AsyncKernelAddon.extra_wheels: two wheels of {dist} ({extra[dist].name}, {path.name})"
                )
            else:
                extra[dist] = path
        return [*kernel, *preload], sorted(extra.values(), key=lambda p: p.name)

    def checked_snapshot(self) -> str:
        if self.snapshot not in SNAPSHOT_CHOICES:
            raise AddonError(
                f"AsyncKernelAddon.snapshot: {self.snapshot!r} is not one of {', '.join(SNAPSHOT_CHOICES)}"
            )
        return self.snapshot

    def checked_isolation(self) -> str:
        if self.isolation not in ISOLATION_CHOICES:
            raise AddonError(
                f"AsyncKernelAddon.isolation: {self.isolation!r} is not one of {', '.join(ISOLATION_CHOICES)}"
            )
        return self.isolation

    def checked_aliases(self) -> list[str]:
        for name in self.kernel_aliases:
            if not _KERNEL_NAME.match(name) or name == "async":
                raise AddonError(
                    f"AsyncKernelAddon.kernel_aliases: {name!r} is not a usable kernel name (letters, digits, "
                    "'.', '_', '-'; not 'async', the kernel's own name)"
                )
        return list(self.kernel_aliases)

    def find_node(self) -> tuple[str | None, str]:
        """(the Node.js executable, '') or (None, why it cannot be used)."""
        node = shutil.which(self.node)
        if node is None:
            return None, f"Node.js was not found ({self.node!r} is not on PATH)"
        try:
            version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
            major = int(version.strip().lstrip("v").split(".")[0])
        except (OSError, ValueError, subprocess.SubprocessError):
            return None, f"{node} --version did not print a Node.js version"
        if major < MIN_NODE:
            return None, f"{node} is Node.js {version.strip()}, older than {MIN_NODE}"
        return node, ""

    # -- doit phases

    def status(self, manager: Any) -> Iterator[Task]:
        def report() -> None:
            wheels = json.loads((RUNTIME / "wheels" / "index.json").read_text())
            print(f"    runtime:  {RUNTIME}")
            print(f"    wheels:   {len(wheels)} shipped, {len(self.preload_wheels)} preload, "
                  f"{len(self.extra_wheels)} extra options")  # fmt: skip
            print(f"    snapshot: {self.snapshot}")
            print(f"    isolation: {self.isolation}")

        yield self.task(name="async-kernel", actions=[report])

    def build(self, manager: Any) -> Iterator[Task]:
        """Copy the runtime and the wheels into the site; write the wheel lists."""
        self.checked_snapshot()
        self.checked_aliases()
        self.checked_isolation()
        pyodide = self.runtime_files("pyodide")
        yield self.task(
            name="copy:pyodide",
            doc="copy the Pyodide runtime into the site",
            file_dep=pyodide,
            targets=[self.site_dir / "pyodide" / p.name for p in pyodide],
            uptodate=[doit.tools.config_changed({STDLIB_ZIP: "files stored"})],
            actions=[(self.copy_runtime, [pyodide, self.site_dir / "pyodide"])],
        )
        for name in GZIPPED:
            plain = self.site_dir / "pyodide" / name
            yield self.task(
                name=f"gzip:{name}",
                doc=f"write {name}.gz beside {name} (the worker downloads that one)",
                file_dep=[plain],
                targets=[plain.with_name(f"{name}.gz")],
                actions=[(self.gzip_file, [plain])],
            )
        self.runtime_files("wheels")
        start, extra = self.wheel_plan()
        lists = {"index.json": [p.name for p in start], "extra.json": [p.name for p in extra]}
        wheels_dir = self.site_dir / "wheels"
        yield self.task(
            name="copy:wheels",
            doc="copy the kernel's wheels and the preload/extra wheels into the site",
            file_dep=[*start, *extra],
            targets=[*(wheels_dir / p.name for p in [*start, *extra]), *(wheels_dir / name for name in lists)],
            uptodate=[doit.tools.config_changed(lists)],
            actions=[(self.copy_wheels, [[*start, *extra], lists, wheels_dir])],
        )

    def post_build(self, manager: Any) -> Iterator[Task]:
        """Make the snapshot (or remove a stale one); write the plugin settings the addon owns."""
        yield from self.snapshot_tasks()
        config = manager.output_dir / JUPYTERLITE_JSON
        yield self.task(
            name=f"patch:{JUPYTERLITE_JSON}",
            doc="write the kernel's plugin settings that come from the addon's options and the site",
            file_dep=[config],
            # what the site's extensions are is only known once they are copied: decided when the task runs
            uptodate=[lambda: self.patched_settings(config) == self.get_lite_plugin_settings(config, PLUGIN_ID)],
            actions=[(self.patch_settings, [config])],
        )
        worker = manager.output_dir / SERVICE_WORKER
        yield self.task(
            name=f"patch:{SERVICE_WORKER}",
            doc="add (or remove) the COOP/COEP headers in JupyterLite's service worker",
            file_dep=[ISOLATION_SCRIPT],
            uptodate=[lambda: self.patched_worker(worker) == self.read_worker(worker)],
            actions=[(self.patch_worker, [worker])],
        )

    def snapshot_tasks(self) -> Iterator[Task]:
        snapshot_dir = self.site_dir / "snapshot"
        mode = self.checked_snapshot()
        node, why_not = (None, "") if mode == "off" else self.find_node()
        if node is None:
            if mode == "on":
                raise AddonError(f"AsyncKernelAddon.snapshot is 'on' but {why_not}; set AsyncKernelAddon.node")
            if mode == "auto":
                self.log.warning(
                    f"[async-kernel] {why_not}: the site starts Python without a memory snapshot (the "
                    "first start takes seconds longer). Install Node.js >= 20 or set "
                    "--AsyncKernelAddon.node=PATH to make one; --AsyncKernelAddon.snapshot=off silences this."
                )
            yield self.task(
                name="snapshot:none",
                doc="remove a snapshot made by an earlier build",
                uptodate=[lambda: not snapshot_dir.exists()],
                actions=[(self.delete_one, [snapshot_dir])],
            )
            return
        wheels_dir = self.site_dir / "wheels"
        start, _ = self.wheel_plan()
        yield self.task(
            name="snapshot",
            doc="make the Python memory snapshot the kernel starts from (Node.js, ~20 s)",
            file_dep=[
                SNAPSHOT_SCRIPT,
                *(self.site_dir / "pyodide" / p.name for p in self.runtime_files("pyodide")),
                wheels_dir / "index.json",
                *(wheels_dir / p.name for p in start),
            ],
            targets=[snapshot_dir / name for name in SNAPSHOT_FILES],
            actions=[(self.make_snapshot, [node])],
        )

    def check(self, manager: Any) -> Iterator[Task]:
        yield self.task(
            name="site",
            doc="the site holds the runtime and every wheel its lists name",
            actions=[self.check_site],
        )

    # -- actions

    def copy_files(self, files: list[Path], dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copy2(path, dest / path.name)
        self.maybe_timestamp(dest)

    def copy_runtime(self, files: list[Path], dest: Path) -> None:
        """Copy Pyodide's files; its standard library's zip with the files stored, not compressed (the
        worker downloads it gzipped whole, smaller than the zip compressed file by file). The snapshot
        is made from this very zip: a restored Python holds its table of contents (zipimport's offsets)."""
        self.copy_files(files, dest)
        for path in files:
            if path.name == STDLIB_ZIP:
                (dest / path.name).write_bytes(stored_zip(path))

    def gzip_file(self, path: Path) -> None:
        """Write `path`.gz (level 9, no name or time in the header: the same bytes every build)."""
        path.with_name(f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))

    def copy_wheels(self, files: list[Path], lists: dict[str, list[str]], dest: Path) -> None:
        """Make `dest` hold exactly these wheels and lists (a wheel dropped from an option goes)."""
        self.delete_one(dest)
        self.copy_files(files, dest)
        for name, listed in lists.items():
            (dest / name).write_text(json.dumps(listed, indent=1) + "\n")
        self.maybe_timestamp(dest)

    def make_snapshot(self, node: str) -> None:
        self.log.info("[async-kernel] making the Python memory snapshot (Node.js, ~20 s)")
        result = subprocess.run([node, str(SNAPSHOT_SCRIPT), str(self.site_dir)], capture_output=True, text=True)
        for line in result.stdout.splitlines():
            self.log.info(line)
        if result.returncode != 0:
            raise AddonError(f"making the snapshot failed ({node} {SNAPSHOT_SCRIPT}):\n{result.stderr[-4000:]}")
        self.maybe_timestamp(self.site_dir / "snapshot")

    def patched_settings(self, config: Path) -> dict[str, Any]:
        """The plugin settings of ``config`` with those the addon owns: set where they differ from the plugin's
        defaults (js/schema/kernel.json), dropped where they do not."""
        defaults = {"kernelAliases": [], "isolation": "headers", "onlyKernel": False}
        owned = {
            "kernelAliases": self.checked_aliases(),
            "isolation": self.checked_isolation(),
            "onlyKernel": not self.kernel_extensions(),
        }
        settings = dict(self.get_lite_plugin_settings(config, PLUGIN_ID))
        for key, value in owned.items():
            if value == defaults[key]:
                settings.pop(key, None)
            else:
                settings[key] = value
        return settings

    def patch_settings(self, config: Path) -> None:
        settings = self.patched_settings(config)
        if settings != self.get_lite_plugin_settings(config, PLUGIN_ID):
            self.set_lite_plugin_settings(config, PLUGIN_ID, settings)

    def kernel_extensions(self) -> list[str]:
        """The site's other federated extensions that may register kernels: those that depend on
        JupyterLite's kernel services (pyodide-kernel's and xeus' do). With none, this kernel is the only one
        the site's pages can start, whatever kernel they name: the ``onlyKernel`` setting tells the prestart
        script so, which then starts the worker with the page rather than once the app has started."""
        folder = self.manager.output_dir / "extensions"
        found = []
        for package in sorted([*folder.glob("*/package.json"), *folder.glob("@*/*/package.json")]):
            try:
                data = json.loads(package.read_text())
                name = data["name"]
                dependencies = {**data.get("dependencies", {}), **data.get("peerDependencies", {})}
            except (OSError, ValueError, KeyError, TypeError):  # unreadable: it may register kernels
                found.append(str(package.parent))
                continue
            if name != EXTENSION_NAME and any(service in dependencies for service in KERNEL_SERVICES):
                found.append(str(name))
        return found

    def read_worker(self, worker: Path) -> str:
        if not worker.is_file():
            raise AddonError(f"the site has no {SERVICE_WORKER} ({worker}): is jupyterlite-core >= 0.8 installed?")
        return worker.read_text()

    def patched_worker(self, worker: Path) -> str:
        """JupyterLite's service worker, with our script appended when ``isolation`` asks for it."""
        script = ISOLATION_SCRIPT.read_text()
        theirs = self.read_worker(worker).split(f"\n{script.splitlines()[0]}")[0]
        return f"{theirs}\n{script}" if self.checked_isolation() == "service-worker" else theirs

    def patch_worker(self, worker: Path) -> None:
        worker.write_text(self.patched_worker(worker))

    def check_site(self) -> None:
        wheels_dir = self.site_dir / "wheels"
        missing = [p for p in (self.site_dir / "pyodide" / "pyodide.mjs", wheels_dir / "index.json") if not p.is_file()]
        for name in ("index.json", "extra.json"):
            listed = wheels_dir / name
            if listed.is_file():
                missing += [wheels_dir / w for w in json.loads(listed.read_text()) if not (wheels_dir / w).is_file()]
        if missing:
            raise AddonError(f"the site lacks {', '.join(str(p) for p in missing)}: build it again")
