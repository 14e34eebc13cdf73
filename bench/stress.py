"""Stress: 500 executes sent without waiting, beside two CPU-burning processes; every reply must arrive.

    .venv/bin/python bench/stress.py [--kernel ours|ours-trio|ipykernel] [--runs 50] [--timeout 60]

One kernel serves the runs in turn (a fresh one after a stall, or for every run with --fresh).  A run *stalls*
when its replies stop coming for --stall-after seconds or it exceeds --timeout.  After a stall the script sends
one kernel_info_request and reports whether that released the missing replies (the signature of a lost wake-up
in the kernel's socket handling) before it replaces the kernel.  Exit status 1 if any run stalled.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

import _kernels
from _kernels import Kernel, KernelKind, Workspace
from _wire import Wire, now, parent_id

BURN = "while True: pass"


@dataclass
class Run:
    number: int
    answered: int
    seconds: float
    stalled: bool
    detail: str = ""


def one_run(wire: Wire, number: int, count: int, code: str, timeout: float, stall_after: float) -> Run:
    t0 = now()
    pending = {wire.execute(code) for _ in range(count)}
    last_progress = now()
    while pending:
        elapsed = now() - t0
        if elapsed > timeout or now() - last_progress > stall_after:
            why = f"no reply for {now() - last_progress:.1f} s" if elapsed <= timeout else f"over {timeout:.0f} s"
            return Run(number, count - len(pending), elapsed, True, why + "; " + probe(wire, pending))
        for channel, msg in wire.messages(0.25, strict=False):
            if channel == "shell" and parent_id(msg) in pending:
                pending.discard(parent_id(msg))
                last_progress = now()
    seconds = now() - t0
    wire.drain()
    return Run(number, count, seconds, False)


def probe(wire: Wire, pending: set[str]) -> str:
    """After a stall: does one more request unstick the missing replies, and is the kernel alive at all?"""
    before = len(pending)
    info = wire.send("shell", "kernel_info_request", {})
    info_answered = False
    for channel, msg in wire.messages(5, strict=False):
        if channel == "shell" and parent_id(msg) in pending:
            pending.discard(parent_id(msg))
        info_answered |= channel == "shell" and parent_id(msg) == info
        if info_answered and not pending:
            break
    released = before - len(pending)
    return (
        f"kernel_info_request {'answered' if info_answered else 'NOT answered'} within 5 s; "
        f"it released {released}/{before} missing replies"
    )


def start_burners(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(n)]


def pick(kind: str) -> KernelKind:
    return {
        "ours": lambda: _kernels.ours("asyncio"),
        "ours-trio": lambda: _kernels.ours("trio"),
        "ipykernel": _kernels.ipykernel,
    }[kind]()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernel", choices=("ours", "ours-trio", "ipykernel"), default="ours")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--count", type=int, default=500, help="executes per run (default 500)")
    parser.add_argument("--code", default="pass", help="the code of each execute (default 'pass')")
    parser.add_argument("--burners", type=int, default=2, help="CPU-burning processes beside the kernel")
    parser.add_argument("--timeout", type=float, default=60, help="seconds a run may take (default 60)")
    parser.add_argument(
        "--stall-after", type=float, default=15, help="seconds without any reply that count as a stall (default 15)"
    )
    parser.add_argument("--fresh", action="store_true", help="a new kernel for every run")
    args = parser.parse_args(argv)

    kind = pick(args.kernel)
    print(
        f"{kind.label}: {args.runs} runs of {args.count} x {args.code!r} sent at once, "
        f"{args.burners} CPU burners, timeout {args.timeout:.0f} s, stall after {args.stall_after:.0f} s idle",
        flush=True,
    )
    print(f"load average before the burners: {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs", flush=True)
    ws = Workspace()
    burners = start_burners(args.burners)
    runs: list[Run] = []
    kernel: Kernel | None = None
    try:
        for number in range(1, args.runs + 1):
            if kernel is None:
                kernel = Kernel(kind, ws, timeout=60)
            run = one_run(kernel.wire, number, args.count, args.code, args.timeout, args.stall_after)
            runs.append(run)
            status = "STALLED " + run.detail if run.stalled else "ok"
            print(f"run {number:3d}: {run.answered}/{args.count} replies in {run.seconds:6.2f} s  {status}", flush=True)
            if run.stalled or args.fresh:
                if run.stalled and (tail := kernel.log_tail()):
                    print(f"  kernel log ({kernel.log_path.name}):\n{tail}")
                kernel.kill()
                kernel = None
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
        if kernel is not None:
            kernel.shutdown()
        ws.close()

    done = [r for r in runs if not r.stalled]
    print(f"\n{kind.label}: {len(done)}/{len(runs)} runs completed, {len(runs) - len(done)} stalled")
    if done:
        secs = [r.seconds for r in done]
        print(
            f"completed runs took min {min(secs):.2f} s, median {statistics.median(secs):.2f} s, "
            f"max {max(secs):.2f} s ({args.count / statistics.median(secs):.0f} executes/s at the median)"
        )
    return 0 if len(done) == len(runs) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
