"""A package index and a Pyodide distribution on 127.0.0.1, for tests/e2e/packages.spec.ts.

    python3 tests/e2e/package_index.py LOCK_URL      # prints "listening on http://127.0.0.1:PORT/"

- ``/simple/NAME/``: the simple JSON API (PEP 691) for ``index-hello`` (which requires ``index-dep``)
  and ``index-dep``; any other name is 404, as on a real index. Wheels under ``/files/``.
- ``/pyodide/``: a Pyodide distribution: the lock file at LOCK_URL (the site's own, so the same
  runtime) plus ``dist-hello``, whose wheel is beside it.

Every response allows CORS and cross-origin embedding: the site runs on another origin (port).
Standard library only; the wheels are made in memory at start.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOURCES = {
    ("index-hello", "1.0"): (
        "from index_dep import WORD\n\n\ndef hello():\n    return f'hello from the index, {WORD}'\n",
        ["index-dep"],
    ),
    ("index-dep", "2.0"): ("WORD = 'with its dependency'\n", []),
    ("dist-hello", "1.0"): ("WHERE = 'the Pyodide distribution'\n", []),
}


def make_wheel(name: str, version: str, source: str, requires: list[str]) -> tuple[str, bytes]:
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{module}.py": source.encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{path},sha256={digest(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue()


def build(lock_url: str) -> dict[str, tuple[str, bytes]]:
    """Every path served: (content type, body)."""
    routes: dict[str, tuple[str, bytes]] = {}
    wheels = {name: (version, *make_wheel(name, version, *spec)) for (name, version), spec in SOURCES.items()}
    for name in ("index-hello", "index-dep"):
        version, file_name, data = wheels[name]
        routes[f"/files/{file_name}"] = ("application/octet-stream", data)
        page = {
            "meta": {"api-version": "1.1"},
            "name": name,
            "versions": [version],
            "files": [
                {
                    "filename": file_name,
                    "url": f"/files/{file_name}",
                    "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
                }
            ],
        }
        routes[f"/simple/{name}/"] = ("application/vnd.pypi.simple.v1+json", json.dumps(page).encode())
    with urllib.request.urlopen(lock_url, timeout=30) as response:
        lock = json.load(response)
    version, file_name, data = wheels["dist-hello"]
    lock["packages"]["dist-hello"] = {
        "name": "dist-hello",
        "version": version,
        "file_name": file_name,
        "install_dir": "site",
        "sha256": hashlib.sha256(data).hexdigest(),
        "package_type": "package",
        "imports": ["dist_hello"],
        "depends": [],
        "unvendored_tests": False,
    }
    routes["/pyodide/pyodide-lock.json"] = ("application/json", json.dumps(lock).encode())
    routes[f"/pyodide/{file_name}"] = ("application/octet-stream", data)
    return routes


def main() -> None:
    routes = build(sys.argv[1])

    class Handler(BaseHTTPRequestHandler):
        def send_common(self, status: int, content_type: str, length: int) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(length))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "*")
            self.send_header("Cross-Origin-Resource-Policy", "cross-origin")
            self.end_headers()

        def do_OPTIONS(self) -> None:
            self.send_common(204, "text/plain", 0)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path not in routes:
                self.send_common(404, "text/plain", 0)
                return
            content_type, body = routes[path]
            if content_type.startswith("application/vnd.pypi"):  # file URLs on the index's own origin
                base = f"http://{self.headers['Host']}"
                body = body.replace(b'"url": "/files/', f'"url": "{base}/files/'.encode())
            self.send_common(200, content_type, len(body))
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            print(f"package_index: {format % args}", file=sys.stderr, flush=True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
