"""Serve a built JupyterLite site on 127.0.0.1, optionally cross-origin isolated.

Used by ``lite/serve.py`` (our site, the e2e tests, the benchmarks) and by ``pytest --lite``.
Standard library only.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with the MIME types a JupyterLite site needs; logs only failed requests."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    isolation = True
    _status = 200

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


def make_server(site: Path, port: int = 0, *, isolation: bool = True, quiet: bool = False) -> ThreadingHTTPServer:
    """A server for `site` on 127.0.0.1:`port` (0: a free port); call serve_forever() or serve_in_thread()."""
    handler = type("Handler", (SiteHandler,), {"isolation": isolation})
    if quiet:
        handler.log_message = lambda self, format, *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(site)))
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="lite-site-server", daemon=True)
    thread.start()
    return thread
