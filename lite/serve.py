"""Serve the built JupyterLite site (lite/_output) on 127.0.0.1 only.

    python3 lite/serve.py [--port 8765] [--no-isolation] [--dir lite/_output]

By default every response carries COOP `same-origin`, COEP `require-corp` and CORP
`same-origin`, so the page is crossOriginIsolated: SharedArrayBuffer works (input() without
the service worker, and the interrupt button stops `while True: pass`). `--no-isolation`
leaves these headers out, as most static hosts do.
"""

from __future__ import annotations

import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent / "_output"

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

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    isolation = True

    def end_headers(self) -> None:
        if self.isolation:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if getattr(self, "_status", 200) >= 400:
            super().log_message(format, *args)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the built site")
    parser.add_argument("--no-isolation", action="store_true", help="omit the COOP/COEP/CORP headers")
    args = parser.parse_args(argv)
    if not (args.dir / "index.html").is_file():
        print(f"{args.dir} holds no site: run `python3 lite/build.py` first", file=sys.stderr)
        return 2
    handler = type("SiteHandler", (Handler,), {"isolation": not args.no_isolation})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(handler, directory=str(args.dir)))
    host, port = server.server_address[:2]
    mode = "not isolated" if args.no_isolation else "crossOriginIsolated"
    print(f"Serving {args.dir} ({mode}) at http://{host}:{port}/lab/index.html", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
