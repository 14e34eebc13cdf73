"""Serve the built JupyterLite site (lite/_output) on 127.0.0.1 only.

    python3 lite/serve.py [--port 8765] [--no-isolation] [--dir lite/_output]

By default every response carries COOP `same-origin`, COEP `require-corp` and CORP
`same-origin`, so the page is crossOriginIsolated: SharedArrayBuffer works (input() without
the service worker, and the interrupt button stops `while True: pass`). `--no-isolation`
leaves these headers out, as most static hosts do. The server itself is
async_kernel.jupyterlite.serve (also used by `pytest --lite`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = HERE / "_output"
# Runs with any python3, the package need not be installed: its serve module is standard library only.
sys.path.insert(0, str(HERE.parent / "py"))
from async_kernel.jupyterlite.serve import make_server  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the built site")
    parser.add_argument("--no-isolation", action="store_true", help="omit the COOP/COEP/CORP headers")
    args = parser.parse_args(argv)
    if not (args.dir / "index.html").is_file():
        print(f"{args.dir} holds no site: run `python3 lite/build.py` first", file=sys.stderr)
        return 2
    server = make_server(args.dir, args.port, isolation=not args.no_isolation)
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
