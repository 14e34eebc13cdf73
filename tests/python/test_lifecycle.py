"""Start-up, restart, shutdown and the kernelspec command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_helpers import KernelHandle


def test_restart_gives_a_fresh_kernel(fresh_kernel: KernelHandle):
    fresh_kernel.execute("marker = 1")
    fresh_kernel.km.restart_kernel(now=False)
    fresh_kernel.kc.wait_for_ready(timeout=30)
    reply, _ = fresh_kernel.execute("'marker' in globals()")
    assert reply["content"]["status"] == "ok"
    _, iopub = fresh_kernel.execute("print('marker' in globals())")
    assert any(m["msg_type"] == "stream" and m["content"]["text"] == "False\n" for m in iopub)


def test_shutdown_request_replies_then_exits(fresh_kernel: KernelHandle):
    msg = fresh_kernel.kc.session.msg("shutdown_request", {"restart": False})
    fresh_kernel.kc.control_channel.send(msg)
    reply = fresh_kernel.reply(msg["header"]["msg_id"], channel="control")
    assert reply["content"] == {"status": "ok", "restart": False}
    process = fresh_kernel.km.provisioner.process
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("kernel still alive 10s after shutdown_request")
    assert process.returncode == 0


def test_banner_version_lists_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Once IPython is imported, the banner takes its version from it and lists no folder.

    Reading the version from the metadata lists every folder of ``sys.path``: in the browser the
    current folder is the JupyterLite drive, where that costs a request per file, on every
    ``kernel_info_request``.
    """
    import IPython
    from async_kernel import kernel as kernel_module

    listed: list[str] = []
    recording = True

    def record(event: str, args: tuple[object, ...]) -> None:
        if recording and event in ("os.listdir", "os.scandir"):
            listed.append(str(args[0]))

    sys.addaudithook(record)  # audit hooks cannot be removed: it stops recording below
    monkeypatch.syspath_prepend(str(tmp_path))
    kernel_module._ipython_version.cache_clear()
    try:
        assert kernel_module._ipython_version() == IPython.__version__
    finally:
        recording = False
        kernel_module._ipython_version.cache_clear()
    assert str(tmp_path) not in listed


def test_comm_info_lists_open_comms(kernel: KernelHandle):
    kernel.execute("import comm\nc = comm.create_comm(target_name='listed')")
    msg_id = kernel.kc.comm_info(target_name="listed")
    comms = kernel.reply(msg_id)["content"]["comms"]
    assert list(comms.values()) == [{"target_name": "listed"}]


def test_kernel_info_describes_python(kernel: KernelHandle):
    content = kernel.kernel_info()["content"]
    assert content["protocol_version"] == "5.4"
    assert content["language_info"]["name"] == "python"
    assert content["language_info"]["version"] == ".".join(map(str, sys.version_info[:3]))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "async_kernel", *args], capture_output=True, text=True, timeout=60)


def test_install_and_uninstall_a_kernelspec(tmp_path: Path):
    result = cli("install", "--prefix", str(tmp_path), "--name", "ak-test", "--display-name", "AK", "--backend", "trio")
    assert result.returncode == 0, result.stderr
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "ak-test"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["display_name"] == "AK"
    assert spec["argv"][1:] == ["-m", "async_kernel", "-f", "{connection_file}", "--backend", "trio"]
    assert Path(spec["argv"][0]).exists()
    assert {p.name for p in spec_dir.iterdir()} >= {"kernel.json", "logo-32x32.png", "logo-64x64.png"}
    assert cli("uninstall", "--prefix", str(tmp_path), "--name", "ak-test").returncode == 0
    assert not spec_dir.exists()
    again = cli("uninstall", "--prefix", str(tmp_path), "--name", "ak-test")
    assert again.returncode == 1
    assert "No kernelspec named 'ak-test'" in again.stderr


def test_a_named_kernelspec_says_so_in_menus(tmp_path: Path):
    kernels = tmp_path / "share" / "jupyter" / "kernels"
    for args, shown in (
        (["--name", "async-trio", "--backend", "trio"], "Python 3 (async-trio)"),
        (["--backend", "trio"], "Python 3 (async, trio)"),
        (["--name", "mine"], "Python 3 (mine)"),
        ([], "Python 3 (async)"),
    ):
        result = cli("install", "--prefix", str(tmp_path), *args)
        assert result.returncode == 0, result.stderr
        name = args[args.index("--name") + 1] if "--name" in args else "async"
        assert json.loads((kernels / name / "kernel.json").read_text())["display_name"] == shown


def test_the_installed_package_ships_the_async_kernelspec():
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "async" / "kernel.json"
    content = json.loads(spec.read_text())
    assert content["argv"] == ["python", "-m", "async_kernel", "-f", "{connection_file}"]
    assert content["display_name"] == "Python 3 (async)"


def test_running_without_a_connection_file_explains_what_to_do():
    result = cli()
    assert result.returncode == 2
    assert "give -f CONNECTION_FILE" in result.stderr


def test_profile_config_and_startup_files_are_loaded(tmp_path: Path, monkeypatch):
    from kernel_helpers import start_kernel, stop_kernel

    profile = tmp_path / "ipython" / "profile_default"
    (profile / "startup").mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text("c.InteractiveShell.ast_node_interactivity = 'all'\n")
    (profile / "startup" / "00-hello.py").write_text("started_up = 'yes'\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    handle = start_kernel(tmp_path)
    try:
        _, iopub = handle.execute("started_up\n1 + 1")
        results = [m["content"]["data"]["text/plain"] for m in iopub if m["msg_type"] == "execute_result"]
        assert results == ["'yes'", "2"]  # 'all' shows both expressions
    finally:
        stop_kernel(handle)
