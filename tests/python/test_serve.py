"""The static server of built sites (async_kernel.jupyterlite.serve), used by lite/serve.py and pytest --lite."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from async_kernel.jupyterlite.serve import make_server, merge_config, serve_in_thread


@pytest.fixture
def site(tmp_path: Path) -> Path:
    config = {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "mine",
            "litePluginSettings": {"@async-kernel/jupyterlite:kernel": {"prestart": False}},
        },
    }
    (tmp_path / "jupyter-lite.json").write_text(json.dumps(config))
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "jupyter-lite.json").write_text(json.dumps({"jupyter-config-data": {"appUrl": "./lab"}}))
    (tmp_path / "index.html").write_text("<html></html>")
    return tmp_path


def get(server, path: str) -> tuple[bytes, dict[str, str]]:
    host, port = server.server_address[:2]
    with urllib.request.urlopen(f"http://{host}:{port}/{path}", timeout=10) as response:
        return response.read(), dict(response.headers)


def test_the_given_config_is_merged_into_every_jupyter_lite_json(site: Path) -> None:
    overrides = {
        "exposeAppInBrowser": True,
        "litePluginSettings": {"@async-kernel/jupyterlite:kernel": {"spareWorker": True}},
    }
    server = make_server(site, quiet=True, config=overrides)
    serve_in_thread(server)
    try:
        body, headers = get(server, "jupyter-lite.json?_=1")
        data = json.loads(body)["jupyter-config-data"]
        assert data["appName"] == "mine" and data["exposeAppInBrowser"] is True
        assert data["litePluginSettings"] == {
            "@async-kernel/jupyterlite:kernel": {"prestart": False, "spareWorker": True}
        }
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        lab = json.loads(get(server, "lab/jupyter-lite.json")[0])["jupyter-config-data"]
        assert lab["appUrl"] == "./lab" and lab["exposeAppInBrowser"] is True
        assert get(server, "index.html")[0] == b"<html></html>"
    finally:
        server.shutdown()
        server.server_close()
    on_disk = json.loads((site / "jupyter-lite.json").read_text())["jupyter-config-data"]
    assert "exposeAppInBrowser" not in on_disk


def test_without_config_jupyter_lite_json_is_served_as_it_is(site: Path) -> None:
    server = make_server(site, quiet=True, isolation=False)
    serve_in_thread(server)
    try:
        body, headers = get(server, "jupyter-lite.json")
        assert body == (site / "jupyter-lite.json").read_bytes()
        assert "Cross-Origin-Embedder-Policy" not in headers
    finally:
        server.shutdown()
        server.server_close()


def test_merge_config_merges_dictionaries_and_replaces_the_rest() -> None:
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    assert merge_config(base, {"a": {"c": [2], "e": 3}, "d": {"x": 1}}) == {
        "a": {"b": 1, "c": [2], "e": 3},
        "d": {"x": 1},
    }
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1}


def test_a_client_that_hangs_up_is_no_error_other_errors_are(site: Path, capfd: pytest.CaptureFixture[str]) -> None:
    server = make_server(site, quiet=True)
    try:
        for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "Connection reset by peer")):
            try:
                raise error
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capfd.readouterr().err == ""
        try:
            raise ValueError("a real bug")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a real bug" in capfd.readouterr().err
    finally:
        server.server_close()
