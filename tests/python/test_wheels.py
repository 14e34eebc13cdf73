"""Downloading the kernel's wheels for Pyodide (``async_kernel.jupyterlite.wheels.download``), offline:
pip resolves from a local folder of wheels made here (``PIP_NO_INDEX``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from async_kernel.jupyterlite import wheels


def make_wheel(folder: Path, name: str, version: str, requires: list[str]) -> None:
    dist_info = f"{name}-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        zf.writestr(f"{name}/__init__.py", "")
        zf.writestr(f"{dist_info}/METADATA", "\n".join(metadata) + "\n")
        zf.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist_info}/RECORD", "")


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A release that needs a compiled package except on emscripten (as IPython >= 9.13 needs psutil), and an
    older one that does not; the compiled package has no pure wheel."""
    folder = tmp_path / "index"
    folder.mkdir()
    make_wheel(folder, "ak_probe_app", "1.0", ['ak-probe-native>=7; sys_platform != "emscripten"'])
    make_wheel(folder, "ak_probe_app", "0.9", [])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return folder


def test_a_dependency_other_platforms_need_makes_pip_settle_for_an_older_release(index: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    wheels.download(["ak-probe-app"], dest, find_links=index)
    assert sorted(p.name for p in dest.glob("*.whl")) == ["ak_probe_app-0.9-py3-none-any.whl"]


def test_a_stand_in_lets_pip_take_the_newest_release_and_is_left_out(index: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    wheels.download(["ak-probe-app"], dest, find_links=index, stand_ins=["ak-probe-native"])
    assert sorted(p.name for p in dest.glob("*.whl")) == ["ak_probe_app-1.0-py3-none-any.whl"]
