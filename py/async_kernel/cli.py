"""``async-kernel`` and ``python -m async_kernel``: run a kernel, or install/remove its kernelspec."""

from __future__ import annotations

import argparse
import logging
import sys

from . import kernelspec
from ._version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="async-kernel", description="A concurrent Python kernel for Jupyter.")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-f", "--connection-file", help="run a kernel for this connection file")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio", help="event loop of cells")
    parser.add_argument("--host", choices=["tk", "qt"], help="run cells inside this GUI toolkit's main loop")
    parser.add_argument("--output-interval", type=float, default=0.05, help="seconds output may be held back")
    parser.add_argument("--use-jedi", action="store_true", help="complete with jedi (slower, richer)")
    parser.add_argument("--log-level", default="WARNING", help="kernel log level (to stderr)")
    sub = parser.add_subparsers(dest="command")
    for name, text in (("install", "install the kernelspec"), ("uninstall", "remove the kernelspec")):
        cmd = sub.add_parser(name, help=text)
        where = cmd.add_mutually_exclusive_group()
        where.add_argument("--user", action="store_true", help="for this user only")
        where.add_argument("--prefix", help="under PREFIX/share/jupyter/kernels")
        cmd.add_argument("--name", default=kernelspec.KERNEL_NAME, help="kernelspec name (default: %(default)s)")
        if name == "install":
            cmd.add_argument(
                "--display-name", help="name shown in menus (default: 'Python 3 (NAME)', plus the backend)"
            )
            cmd.add_argument("--backend", dest="spec_backend", choices=["asyncio", "trio"], help="event loop")
            cmd.add_argument("--host", dest="spec_host", choices=["tk", "qt"], help="GUI main loop (see docs/gui.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``async-kernel`` command."""
    args = _parser().parse_args(argv)
    if args.command == "install":
        path = kernelspec.install(
            user=args.user,
            prefix=args.prefix,
            name=args.name,
            display_name=args.display_name,
            backend=args.spec_backend,
            host=args.spec_host,
        )
        print(f"Installed kernelspec {args.name!r} in {path}")
        return 0
    if args.command == "uninstall":
        try:
            path = kernelspec.uninstall(user=args.user, prefix=args.prefix, name=args.name)
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"Removed kernelspec {args.name!r} from {path}")
        return 0
    if not args.connection_file:
        _parser().print_usage(sys.stderr)
        print(
            "async-kernel: give -f CONNECTION_FILE to run a kernel, or a command (install, uninstall)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.__stderr__, format="[async-kernel %(levelname)s] %(message)s"
    )
    from .hosts.native import run
    from .kernel import KernelSettings

    settings = KernelSettings(backend=args.backend, output_interval=args.output_interval, use_jedi=args.use_jedi)
    run(args.connection_file, settings, host=args.host)
    return 0
