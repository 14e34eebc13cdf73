"""Serve a built JupyterLite site on 127.0.0.1, optionally cross-origin isolated.

Used by ``lite/serve.py`` (our site, the e2e tests, the benchmarks) and by ``pytest --lite``.
Standard library only.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MIME_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".ipynb": "application/json",
    ".whl": "application/octet-stream",
    ".zip": "application/zip",
    ".svg": "image/svg+xml",
    ".css": "text/css",
    ".map": "application/json",
}

#: With these on every response the page is crossOriginIsolated: SharedArrayBuffer works
#: (input() without the service worker, and interrupting `while True: pass`).
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def merge_config(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`data` with `overrides` merged in, dictionaries key by key (at any depth), other values replaced."""
    merged = dict(data)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = value
    return merged


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with the MIME types a JupyterLite site needs; logs only failed requests.

    With `config` set, every ``jupyter-lite.json`` is served with it merged into its
    ``jupyter-config-data`` (the site on disk is unchanged).
    """

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    isolation = True
    config: dict[str, Any] | None = None
    _status = 200

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if self.config is None or not path.endswith("/jupyter-lite.json"):
            return super().do_GET()
        file = Path(self.translate_path(path))
        if not file.is_file():
            return super().do_GET()
        data = json.loads(file.read_text(encoding="utf-8"))
        data["jupyter-config-data"] = merge_config(data.get("jupyter-config-data", {}), self.config)
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def end_headers(self) -> None:
        if self.isolation:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if self._status >= 400:
            super().log_message(format, *args)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)


class SiteServer(ThreadingHTTPServer):
    """A threading HTTP server that takes a client hanging up mid-response (a closed tab or browser) calmly."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def make_server(
    site: Path,
    port: int = 0,
    *,
    isolation: bool = True,
    quiet: bool = False,
    config: dict[str, Any] | None = None,
) -> SiteServer:
    """A server for `site` on 127.0.0.1:`port` (0: a free port); call serve_forever() or serve_in_thread().

    `config`: merged into the ``jupyter-config-data`` of every ``jupyter-lite.json`` served.
    """
    handler = type("Handler", (SiteHandler,), {"isolation": isolation, "config": config})
    if quiet:
        handler.log_message = lambda self, format, *args: None  # type: ignore[method-assign]
    return SiteServer(("127.0.0.1", port), functools.partial(handler, directory=str(site)))


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="lite-site-server", daemon=True)
    thread.start()
    return thread
