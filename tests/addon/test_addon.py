"""The `jupyter lite build` addon, used the way users use it.

A venv holding our wheel, jupyterlite-core, jupyter_server and jupyterlab_widgets (made by
scripts/plain-site.sh, or $ASYNC_KERNEL_LITE_VENV), and plain `jupyter lite build` run in empty
folders. The sites these builds make are run in Chromium by tests/e2e (see scripts/test.sh).
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ASYNC_KERNEL_LITE_VENV", ROOT / "build" / "plain-site" / ".venv"))
PLUGIN_ID = "@async-kernel/jupyterlite:kernel"
RUNTIME_STDLIB = ROOT / "py" / "async_kernel" / "jupyterlite" / "runtime" / "pyodide" / "python_stdlib.zip"
BUILD_TIMEOUT = 600


@pytest.fixture(scope="session", autouse=True)
def _venv() -> None:
    if not (VENV / "bin" / "jupyter").exists():
        pytest.fail(f"no build venv in {VENV}: run scripts/plain-site.sh first (scripts/test.sh does)")


def lite_build(folder: Path, *args: str, path: str | None = None) -> tuple[int, str]:
    """`jupyter lite build` in `folder` into `folder/site`; (exit code, stdout + stderr)."""
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    result = subprocess.run(
        [str(VENV / "bin" / "jupyter"), "lite", "build", "--output-dir", "site", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    return result.returncode, result.stdout + result.stderr


def write_wheel(folder: Path, file_name: str, module: str = "hello_ak") -> Path:
    """A minimal wheel file (its contents do not matter to the checks under test)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{module}.py", "GREETING = 'hello'\n")
    return path


def kernel_settings(site: Path) -> dict:
    config = json.loads((site / "jupyter-lite.json").read_text())
    return config["jupyter-config-data"].get("litePluginSettings", {}).get(PLUGIN_ID, {})


def test_an_empty_folder_builds_a_site_with_runtime_wheels_and_snapshot_and_a_rebuild_does_nothing(tmp_path):
    code, log = lite_build(tmp_path)
    assert code == 0, log
    site = tmp_path / "site"
    kernel = site / "async-kernel"
    index = json.loads((kernel / "wheels" / "index.json").read_text())
    assert index[-1].startswith("async_kernel_jupyter-"), index
    assert {"ipython", "ipywidgets", "comm"} <= {name.split("-")[0] for name in index}
    assert all((kernel / "wheels" / name).is_file() for name in index)
    extra = json.loads((kernel / "wheels" / "extra.json").read_text())
    assert [name.split("-")[0] for name in extra] == ["jedi", "micropip", "parso"], "offered to %pip, not at start"
    assert (kernel / "pyodide" / "pyodide.mjs").is_file()
    for name in ("pyodide.asm.wasm", "pyodide.asm.mjs", "pyodide-lock.json", "python_stdlib.zip"):
        plain = kernel / "pyodide" / name
        assert gzip.decompress(plain.with_name(f"{name}.gz").read_bytes()) == plain.read_bytes()
    with zipfile.ZipFile(kernel / "pyodide" / "python_stdlib.zip") as stored, zipfile.ZipFile(RUNTIME_STDLIB) as npm:
        assert [i.filename for i in stored.infolist()] == [i.filename for i in npm.infolist()]
        assert {i.compress_type for i in stored.infolist()} == {zipfile.ZIP_STORED}
        assert all(stored.read(name) == npm.read(name) for name in npm.namelist())
    manifest = json.loads((kernel / "snapshot" / "snapshot.json").read_text())
    assert manifest["wheels"] == index
    # the snapshot file holds the memory's pages that are not all zeros, where the runs say
    pages = gzip.decompress((kernel / "snapshot" / manifest["file"]).read_bytes())
    size, runs = manifest["pages"]["size"], manifest["pages"]["runs"]
    assert len(pages) == size * sum(count for _, count in runs) < manifest["bytes"] / 1.5
    assert all(any(pages[at : at + size]) for at in range(0, len(pages), size))
    assert all(first + count < after for (first, count), (after, _) in itertools.pairwise(runs))  # runs are maximal
    assert (runs[-1][0] + runs[-1][1]) * size <= manifest["bytes"]
    assert (site / "extensions" / "@async-kernel" / "jupyterlite" / "package.json").is_file()

    code, log = lite_build(tmp_path)
    assert code == 0, log
    runtime = ("pyodide.asm.wasm", "pyodide.asm.mjs", "python_stdlib.zip", "pyodide-lock.json")
    gzipped = [f"gzip:{name}" for name in runtime]
    for task in ("copy:pyodide", *gzipped, "copy:wheels", "snapshot"):
        task = f"{'post_' if task == 'snapshot' else ''}build:async-kernel:{task}"
        assert f"-- {task}" in log, f"{task} ran again:\n{log}"


def test_without_node_the_site_starts_without_a_snapshot_and_the_log_says_so_once(tmp_path):
    code, log = lite_build(tmp_path, path=str(VENV / "bin"))
    assert code == 0, log
    assert log.count("Node.js was not found") == 1, log
    assert "starts Python without a memory snapshot" in log
    kernel = tmp_path / "site" / "async-kernel"
    assert (kernel / "wheels" / "index.json").is_file()
    assert not (kernel / "snapshot").exists()


def test_extra_and_preload_wheels_reach_the_wheel_lists(tmp_path):
    extra = write_wheel(tmp_path / "extra", "extra_ak-1.0-py3-none-any.whl", "extra_ak")
    write_wheel(tmp_path / "extra", "traitlets-1.0-py3-none-any.whl", "traitlets")  # shipped already: left out
    preload = write_wheel(tmp_path / "preload", "hello_ak-1.0-py2.py3-none-any.whl")
    args = ("--AsyncKernelAddon.extra_wheels=extra", f"--AsyncKernelAddon.preload_wheels={preload}")
    code, log = lite_build(tmp_path, *args, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    wheels = tmp_path / "site" / "async-kernel" / "wheels"
    index = json.loads((wheels / "index.json").read_text())
    assert index[-2].startswith("async_kernel_jupyter-") and index[-1] == preload.name
    assert [name.split("-")[0] for name in json.loads((wheels / "extra.json").read_text())] == [
        "extra_ak",
        "jedi",
        "micropip",
        "parso",
    ]
    assert (wheels / extra.name).is_file() and (wheels / preload.name).is_file()

    # Dropping an option drops its wheel from the site.
    code, log = lite_build(tmp_path, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    assert extra.name not in json.loads((wheels / "extra.json").read_text())
    assert not (wheels / extra.name).exists() and not (wheels / preload.name).exists()


def test_kernel_aliases_are_written_to_the_plugin_settings_and_removed_with_the_option(tmp_path):
    code, log = lite_build(tmp_path, "--AsyncKernelAddon.kernel_aliases=python", "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    assert kernel_settings(tmp_path / "site")["kernelAliases"] == ["python"]
    code, log = lite_build(tmp_path, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    assert "kernelAliases" not in kernel_settings(tmp_path / "site")


def fake_kernel_extension(folder: Path) -> Path:
    """A prebuilt federated extension that depends on JupyterLite's kernel services, as kernel extensions do
    (pyodide-kernel's, xeus'); the folder to give FederatedExtensionAddon.extra_labextensions_path."""
    extension = folder / "labextensions" / "other-kernel"
    (extension / "static").mkdir(parents=True)
    (extension / "static" / "remoteEntry.0.js").write_text("")
    package = {
        "name": "other-kernel",
        "version": "0.1.0",
        "dependencies": {"@jupyterlite/services": "^0.8.0"},
        "jupyterlab": {"_build": {"load": "static/remoteEntry.0.js", "extension": "./extension"}},
    }
    (extension / "package.json").write_text(json.dumps(package))
    return extension.parent


def test_only_kernel_is_set_unless_another_extension_may_register_kernels(tmp_path):
    plain, other = tmp_path / "plain", tmp_path / "other"
    plain.mkdir()
    other.mkdir()
    # a plain site: ours is its only kernel, whatever defaultKernelName says
    code, log = lite_build(plain, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    assert kernel_settings(plain / "site")["onlyKernel"] is True
    extensions = fake_kernel_extension(tmp_path)
    code, log = lite_build(
        other, "--AsyncKernelAddon.snapshot=off", f"--FederatedExtensionAddon.extra_labextensions_path={extensions}"
    )
    assert code == 0, log
    assert (other / "site" / "extensions" / "other-kernel" / "package.json").is_file()
    assert "onlyKernel" not in kernel_settings(other / "site")


def test_isolation_through_the_service_worker_patches_it_and_the_settings_and_undoes_both(tmp_path):
    worker = tmp_path / "site" / "service-worker.js"
    code, log = lite_build(tmp_path, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    theirs = worker.read_text()
    assert "Cross-Origin-Embedder-Policy" not in theirs and "isolation" not in kernel_settings(tmp_path / "site")

    option = "--AsyncKernelAddon.isolation=service-worker"
    code, log = lite_build(tmp_path, option, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    patched = worker.read_text()
    assert patched.startswith(theirs) and "'Cross-Origin-Embedder-Policy': 'require-corp'" in patched
    assert kernel_settings(tmp_path / "site")["isolation"] == "service-worker"
    code, log = lite_build(tmp_path, option, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    assert worker.read_text() == patched, "a second build appended the script again"
    assert "-- post_build:async-kernel:patch:service-worker.js" in log, log

    code, log = lite_build(tmp_path, "--AsyncKernelAddon.snapshot=off")
    assert code == 0, log
    assert worker.read_text() == theirs
    assert "isolation" not in kernel_settings(tmp_path / "site")


BAD_OPTIONS = {
    "missing path": (
        ["--AsyncKernelAddon.extra_wheels=no/such/folder"],
        "AsyncKernelAddon.extra_wheels: 'no/such/folder' does not exist",
    ),
    "compiled wheel": (
        ["--AsyncKernelAddon.extra_wheels=wheels/numpy-2.3.0-cp314-cp314-manylinux_2_28_x86_64.whl"],
        "AsyncKernelAddon.extra_wheels: numpy-2.3.0-cp314-cp314-manylinux_2_28_x86_64.whl is not a pure-Python wheel",
    ),
    "not a wheel": (
        ["--AsyncKernelAddon.preload_wheels=wheels/README.txt"],
        "AsyncKernelAddon.preload_wheels: 'README.txt' is not a wheel file name",
    ),
    "preload of a shipped distribution": (
        ["--AsyncKernelAddon.preload_wheels=wheels/traitlets-1.0-py3-none-any.whl"],
        "AsyncKernelAddon.preload_wheels: traitlets-1.0-py3-none-any.whl is traitlets, which the kernel already "
        "installs",
    ),
    "unknown snapshot value": (
        ["--AsyncKernelAddon.snapshot=sometimes"],
        "AsyncKernelAddon.snapshot: 'sometimes' is not one of auto, on, off",
    ),
    "snapshot on without Node.js": (
        ["--AsyncKernelAddon.snapshot=on", "--AsyncKernelAddon.node=no-such-node"],
        "AsyncKernelAddon.snapshot is 'on' but Node.js was not found ('no-such-node' is not on PATH)",
    ),
    "unknown isolation value": (
        ["--AsyncKernelAddon.isolation=always"],
        "AsyncKernelAddon.isolation: 'always' is not one of headers, service-worker",
    ),
    "bad kernel alias": (
        ["--AsyncKernelAddon.kernel_aliases=two words"],
        "AsyncKernelAddon.kernel_aliases: 'two words' is not a usable kernel name",
    ),
}


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_a_bad_option_stops_the_build_with_a_message_naming_it(tmp_path, case):
    args, message = BAD_OPTIONS[case]
    write_wheel(tmp_path / "wheels", "numpy-2.3.0-cp314-cp314-manylinux_2_28_x86_64.whl", "numpy")
    write_wheel(tmp_path / "wheels", "traitlets-1.0-py3-none-any.whl", "traitlets")
    (tmp_path / "wheels" / "README.txt").write_text("not a wheel\n")
    code, log = lite_build(tmp_path, *args)
    assert code != 0, log
    assert message in log, log


def test_a_bad_value_in_jupyter_lite_config_json_stops_the_build_too(tmp_path):
    (tmp_path / "jupyter_lite_config.json").write_text(json.dumps({"AsyncKernelAddon": {"snapshot": "yes"}}))
    code, log = lite_build(tmp_path)
    assert code != 0, log
    assert "AsyncKernelAddon.snapshot: 'yes' is not one of auto, on, off" in log, log
