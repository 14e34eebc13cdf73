"""Stress: no stalls under load (default mode), and no iopub message lost under floods (--iopub).

    .venv/bin/python bench/stress.py [--kernel ours|ours-trio|ipykernel] [--runs 50] [--timeout 60]
    .venv/bin/python bench/stress.py --iopub [--kernel ...] [--bursts 10] [--count 2000] [--floods 10]
                                     [--flush-floods 1] [--flush-seconds 8]

Default mode: each run sends 500 executes without waiting, beside two CPU-burning processes, and every reply must
arrive on shell.  One kernel serves the runs in turn (a fresh one after a stall, or for every run with --fresh).
A run *stalls* when its replies stop coming for --stall-after seconds or it exceeds --timeout.  After a stall the
script sends one kernel_info_request and reports whether that released the missing replies (the signature of a
lost wake-up in the kernel's socket handling) before it replaces the kernel.

--iopub mode: counts what arrives on iopub, read through a SUB socket with RCVHWM=0 (unlimited; jupyter_client's
has ZMQ's default of 1000), so that any loss measured is the kernel's.  No CPU burners unless --burners is given.

1. comm bursts (--bursts, default 10): a comm target echoes each comm_msg's data back; the client opens a comm and
   sends --count (2,000) comm_msgs back to back, with no limit on unanswered ones.  For each request its
   ``status: busy``, its echo ``comm_msg`` and its ``status: idle`` must arrive: 3 x 2,000 iopub messages.
2. print floods: (a) --floods (10) cells ``for i in range(20000): print(i)``; (b) --flush-floods (1) cells that
   ``print(i, flush=True)`` in a loop for --flush-seconds (8), the number printed coming back in the reply's
   user_expressions.  The concatenated stdout must be exactly ``0\\n1\\n...``, and the reply and idle must arrive.
3. memory with nobody reading: a fresh kernel per variant runs the (b) cell with iopub not connected at all, then
   connected and subscribed (jupyter_client's socket, RCVHWM 1000) but never read, then read as in 2(b); the
   kernel's peak RSS (VmHWM) is reported before the cell and when its execute_reply has arrived.

A run that misses messages: after QUIET (2) seconds with none of the awaited ones, a kernel_info_request asks whether
the kernel still answers.  If it does and QUIET more seconds bring nothing, the rest is counted as LOST; if it does
not within --stall-after seconds, or the run exceeds --timeout, the run is STALLED: the kernel log tail is printed
and the kernel replaced.

Both modes print one line per run and a summary; exit status 1 if any run stalled or (--iopub) lost anything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import _kernels
import zmq
from _kernels import Kernel, KernelKind, Workspace
from _wire import BenchTimeout, Msg, Wire, is_idle, now, parent_id
from native import ECHO_TARGET

BURN = "while True: pass"


# -- default mode: executes under CPU load -----------------------------------------------------------------------
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


def execute_mode(args: argparse.Namespace, kind: KernelKind, ws: Workspace) -> int:
    print(
        f"{kind.label}: {args.runs} runs of {args.count} x {args.code!r} sent at once, "
        f"{args.burners} CPU burners, timeout {args.timeout:.0f} s, stall after {args.stall_after:.0f} s idle",
        flush=True,
    )
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
        if kernel is not None:
            kernel.shutdown()

    done = [r for r in runs if not r.stalled]
    print(f"\n{kind.label}: {len(done)}/{len(runs)} runs completed, {len(runs) - len(done)} stalled")
    if done:
        secs = [r.seconds for r in done]
        print(
            f"completed runs took min {min(secs):.2f} s, median {statistics.median(secs):.2f} s, "
            f"max {max(secs):.2f} s ({args.count / statistics.median(secs):.0f} executes/s at the median)"
        )
    return 0 if len(done) == len(runs) == args.runs else 1


# -- --iopub mode: counting iopub messages -----------------------------------------------------------------------
QUIET = 2.0  # seconds without an awaited message before asking whether the kernel still answers
PRINTS = 20_000
N_EXPRESSION = {"n": "_bench_n"}  # user_expressions of the flush cell: how many lines it printed


def flush_cell(seconds: float) -> str:
    return (
        "import time as _bench_time\n"
        f"_bench_n, _bench_end = 0, _bench_time.monotonic() + {seconds}\n"
        "while _bench_time.monotonic() < _bench_end:\n"
        "    print(_bench_n, flush=True)\n"
        "    _bench_n += 1\n"
    )


@dataclass
class Outcome:
    """One run of the --iopub mode: its figures, what never arrived (count by kind) and any stall or failure."""

    figures: str = ""
    lost: dict[str, int] = field(default_factory=dict)
    problem: str = ""  # "STALLED: why" or "FAILED: why"
    seconds: float = 0.0
    rate: float = 0.0  # messages per second, of the kind named by the scenario's rate unit

    @property
    def missing(self) -> int:
        return sum(self.lost.values())

    @property
    def status(self) -> str:
        if self.problem:
            return self.problem
        if self.missing:
            return "LOST " + ", ".join(f"{count} {what}" for what, count in self.lost.items() if count)
        return "ok"


@dataclass
class CellRun:
    """What one execute produced on iopub and shell."""

    text: str = ""
    streams: int = 0
    reply: Msg | None = None
    idle: bool = False
    seconds: float = 0.0  # send -> the last message of the cell (its reply or idle when all arrived)
    stall: str = ""  # why the kernel was given up on, if it was


def collect(
    wire: Wire, handle: Callable[[str, Msg], bool], done: Callable[[], bool], timeout: float, stall_after: float
) -> str:
    """Give every message to `handle` (it returns whether the message was awaited) until `done()` or the rest is lost.

    After QUIET s without an awaited message a kernel_info_request is sent: once it is answered and QUIET more
    seconds bring nothing awaited, the rest is lost.  The kernel has stalled when that request is not answered
    within `stall_after` s or the whole wait exceeds `timeout`.  Returns why it stalled, or "" if it did not.
    """
    t0 = last = now()
    info: str | None = None
    info_sent = info_answered = 0.0
    while not done():
        t = now()
        if t - t0 > timeout:
            return f"not complete after {timeout:.0f} s"
        if info is None and t - last > QUIET:
            info, info_sent, info_answered = wire.send("shell", "kernel_info_request", {}), t, 0.0
        elif info is not None and not info_answered and t - info_sent > stall_after:
            return f"nothing for {t - last:.1f} s and no kernel_info_reply within {stall_after:.0f} s"
        elif info_answered and t - max(last, info_answered) > QUIET:
            return ""
        for channel, msg in wire.messages(0.25, strict=False):
            if info is not None and channel == "shell" and parent_id(msg) == info:
                info_answered = now()
            elif handle(channel, msg):
                last = now()
                info = None  # progress again: ask anew after the next quiet spell
    return ""


def comm_burst(wire: Wire, args: argparse.Namespace) -> Outcome:
    comm_id, _ = wire.comm_open("bench_echo")
    count = args.count
    t0 = last = now()
    requests = {wire.comm_msg(comm_id, {"i": i}): i for i in range(count)}
    seen: dict[str, set[int]] = {"busy": set(), "echo": set(), "idle": set()}

    def handle(channel: str, msg: Msg) -> bool:
        nonlocal last
        if channel != "iopub":
            return False
        if msg["msg_type"] == "comm_msg" and msg["content"].get("comm_id") == comm_id:
            kind, i = "echo", msg["content"]["data"]["i"]
        elif msg["msg_type"] == "status" and parent_id(msg) in requests:
            kind, i = msg["content"]["execution_state"], requests[parent_id(msg)]
        else:
            return False
        seen[kind].add(i)
        last = now()
        return True

    stall = collect(wire, handle, lambda: sum(map(len, seen.values())) == 3 * count, args.timeout, args.stall_after)
    wire.send("shell", "comm_close", {"comm_id": comm_id, "data": {}})
    wire.drain()
    got = {kind: len(ids) for kind, ids in seen.items()}
    seconds = last - t0
    rate = sum(got.values()) / seconds if seconds > 0 else 0.0
    figures = ", ".join(f"{kind} {n}/{count}" for kind, n in got.items()) + f" in {seconds:.2f} s"
    lost = {kind: count - n for kind, n in got.items()}
    return Outcome(figures, lost, stalled(stall), seconds, rate)


def run_cell(
    wire: Wire, code: str, timeout: float, stall_after: float, user_expressions: dict[str, str] | None = None
) -> CellRun:
    t0 = now()
    cell = wire.execute(code, user_expressions=user_expressions)
    run = CellRun()
    chunks: list[str] = []

    def handle(channel: str, msg: Msg) -> bool:
        if parent_id(msg) != cell:
            return False
        if channel == "iopub" and msg["msg_type"] == "stream":
            chunks.append(msg["content"]["text"])
            run.streams += 1
        elif channel == "shell":
            run.reply = msg
        elif is_idle(msg):
            run.idle = True
        run.seconds = now() - t0
        return True

    run.stall = collect(wire, handle, lambda: run.reply is not None and run.idle, timeout, stall_after)
    run.text = "".join(chunks)
    return run


def check_prints(run: CellRun, n: int | None) -> Outcome:
    """Compare the stdout of a cell with ``0\\n1\\n...(n-1)\\n``; n None means the reply saying it was lost."""
    lines = run.text.splitlines()
    if n is None:
        n = max((int(line) for line in lines if line.isdigit()), default=-1) + 1
    missing = n - len(set(lines) & {str(i) for i in range(n)})
    exact = run.text == "".join(f"{i}\n" for i in range(n))
    lost = {"lines": missing, "idle": int(not run.idle), "reply": int(run.reply is None)}
    if not exact and not missing:
        lost["garbled text"] = 1
    figures = (
        f"{n - missing:,}/{n:,} lines in {run.streams:,} stream msgs, text {'exact' if exact else 'NOT exact'}, "
        f"{run.seconds:.2f} s to reply+idle"
    )
    return Outcome(figures, lost, stalled(run.stall), run.seconds)


def printed(reply: Msg | None) -> int | None:
    """The flush cell's line count from its reply's user_expressions; None without a reply."""
    if reply is None:
        return None
    content = reply["content"]
    if content["status"] != "ok":
        raise RuntimeError(f"the cell failed: {content.get('ename')}: {content.get('evalue')}")
    return int(content["user_expressions"]["n"]["data"]["text/plain"])


def print_flood(wire: Wire, args: argparse.Namespace) -> Outcome:
    return check_prints(run_cell(wire, f"for i in range({PRINTS}): print(i)", args.timeout, args.stall_after), PRINTS)


def flush_flood(wire: Wire, args: argparse.Namespace) -> Outcome:
    cell = flush_cell(args.flush_seconds)
    run = run_cell(wire, cell, args.flush_seconds + args.timeout, args.stall_after, N_EXPRESSION)
    outcome = check_prints(run, printed(run.reply))
    outcome.rate = run.streams / run.seconds if run.seconds > 0 else 0.0
    outcome.figures += f", {outcome.rate:,.0f} stream msg/s"
    return outcome


def unlimited_iopub(kernel: Kernel) -> None:
    """Swap the client's iopub SUB socket for one with RCVHWM=0, so that only the kernel can lose messages.

    jupyter_client's socket has ZMQ's default RCVHWM (1000), which a burst read slower than it arrives overflows.
    A connection's high-water mark is fixed when it is made, hence a new socket rather than a setsockopt.
    """
    channel = kernel.client.iopub_channel
    info = kernel.client.get_connection_info()
    transport, ip, port = info["transport"], info["ip"], info["iopub_port"]
    sock = channel.socket.context.socket(zmq.SUB)
    sock.rcvhwm = 0
    sock.linger = 0
    sock.connect(f"ipc://{ip}-{port}" if transport == "ipc" else f"{transport}://{ip}:{port}")
    sock.subscribe(b"")
    channel.close()
    channel.socket = sock  # closed with the client's other channels
    kernel.wire.replace_socket("iopub", sock)
    kernel.wire.wait_ready(30)


def reading_kernel(kind: KernelKind, ws: Workspace, stall_after: float) -> Kernel:
    """A kernel read through `unlimited_iopub`, its echo comm target registered; a shell send blocks at most
    `stall_after` s (the shell socket's send high-water mark would otherwise block a burst forever)."""
    kernel = Kernel(kind, ws, timeout=60)
    try:
        unlimited_iopub(kernel)
        kernel.wire.sockets["shell"].sndtimeo = int(stall_after * 1000)
        reply = kernel.wire.wait_reply(kernel.wire.execute(ECHO_TARGET), 30)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"registering the echo target failed: {reply['content'].get('evalue')}")
    except BaseException:
        kernel.kill()
        raise
    return kernel


STALLS = (BenchTimeout, zmq.Again)  # zmq.Again: a shell send blocked for --stall-after s


def stalled(why: str) -> str:
    return f"STALLED: {why}" if why else ""


def attempt(step: Callable[..., Outcome], *args: object) -> Outcome:
    """Run one measurement; a stall or failure becomes the outcome instead of an exception."""
    try:
        return step(*args)
    except STALLS as exc:
        return Outcome(problem=stalled(str(exc) or "a shell send blocked"))
    except RuntimeError as exc:
        return Outcome(problem=f"FAILED: {exc}")


def start(make: Callable[..., Kernel], *args: object) -> Kernel | Outcome:
    """Start a kernel with `make`; a kernel that fails to start becomes a FAILED outcome."""
    try:
        return make(*args)
    except (*STALLS, RuntimeError) as exc:
        return Outcome(problem=f"FAILED: kernel start: {exc}")


def status_mb(pid: int, key: str) -> float:
    """A memory figure of /proc/PID/status (VmHWM: peak RSS, VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


MEMORY_VARIANTS = ("iopub not connected", "subscribed, never read", "read")


def memory_run(kernel: Kernel, variant: str, args: argparse.Namespace) -> Outcome:
    """The flush cell on a fresh kernel; its peak RSS before and once the execute_reply arrived."""
    wire = kernel.wire
    if variant == "read":
        unlimited_iopub(kernel)
    wire.wait_reply(wire.execute("pass"), 30)
    pid = kernel.km.provisioner.process.pid
    before = status_mb(pid, "VmHWM")
    if variant == "iopub not connected":
        kernel.client.iopub_channel.close()
    if variant == "read":
        outcome = flush_flood(wire, args)
    else:
        wire.replace_socket("iopub", None)  # "subscribed, never read": the socket stays connected and subscribed
        reply = wire.wait_reply(
            wire.execute(flush_cell(args.flush_seconds), user_expressions=N_EXPRESSION),
            args.flush_seconds + args.timeout,
            idle=False,
        )
        outcome = Outcome(f"{printed(reply):,} lines printed")
    after = status_mb(pid, "VmHWM")
    rss = status_mb(pid, "VmRSS")
    outcome.figures = (
        f"peak RSS {before:.1f} -> {after:.1f} MB (+{after - before:.1f}), RSS at the reply {rss:.1f} MB; "
        + outcome.figures
    )
    return outcome


Results = dict[str, list[Outcome]]  # scenario (or memory variant) name -> its runs


@dataclass(frozen=True)
class Scenario:
    name: str
    runs: int
    step: Callable[[Wire, argparse.Namespace], Outcome]
    rate_unit: str = ""


def report(results: Results, name: str, label: str, outcome: Outcome, kernel: Kernel | None) -> None:
    """Record one run under `name` and print it as `label`; after a stall also the kernel's log tail."""
    results.setdefault(name, []).append(outcome)
    print(f"{label}: {outcome.figures}  {outcome.status}", flush=True)
    if outcome.problem.startswith("STALLED") and kernel is not None:
        print(f"  kernel log ({kernel.log_path.name}):\n{kernel.log_tail() or '    (empty)'}", flush=True)


def iopub_mode(args: argparse.Namespace, kind: KernelKind, ws: Workspace) -> int:
    scenarios = (
        Scenario("comm burst", args.bursts, comm_burst, "iopub msg/s"),
        Scenario("print flood", args.floods, print_flood),
        Scenario("flush flood", args.flush_floods, flush_flood, "stream msg/s"),
    )
    print(
        f"{kind.label} --iopub: {args.bursts} comm bursts of {args.count:,}, {args.floods} floods of "
        f"{PRINTS:,} prints, {args.flush_floods} flush floods of {args.flush_seconds:g} s, then memory without a "
        f"reader; client iopub RCVHWM=0, {args.burners} CPU burners, timeout {args.timeout:.0f} s, "
        f"stalled when no kernel_info_reply within {args.stall_after:.0f} s",
        flush=True,
    )
    results: dict[str, list[Outcome]] = {}
    run_scenarios(args, kind, ws, scenarios, results)
    run_memory(args, kind, ws, results)
    return summarize(kind, scenarios, results)


def run_scenarios(
    args: argparse.Namespace, kind: KernelKind, ws: Workspace, scenarios: tuple[Scenario, ...], results: Results
) -> None:
    """The comm bursts and print floods, on one kernel in turn (a fresh one after a stall, or with --fresh)."""
    kernel: Kernel | None = None
    try:
        for scenario in scenarios:
            for number in range(1, scenario.runs + 1):
                label = f"{scenario.name} {number}"
                if kernel is None:
                    got = start(reading_kernel, kind, ws, args.stall_after)
                    if isinstance(got, Outcome):
                        report(results, scenario.name, label, got, None)
                        continue
                    kernel = got
                outcome = attempt(scenario.step, kernel.wire, args)
                report(results, scenario.name, label, outcome, kernel)
                if outcome.problem or args.fresh:
                    kernel.kill()
                    kernel = None
    finally:
        if kernel is not None:
            kernel.shutdown()


def run_memory(args: argparse.Namespace, kind: KernelKind, ws: Workspace, results: Results) -> None:
    """Each memory variant on a fresh kernel, killed afterwards (its peak RSS is spent)."""
    for variant in MEMORY_VARIANTS:
        name = f"memory, {variant}"
        got = start(Kernel, kind, ws)
        if isinstance(got, Outcome):
            report(results, name, name, got, None)
            continue
        report(results, name, name, attempt(memory_run, got, variant, args), got)
        got.kill()


def summarize(kind: KernelKind, scenarios: tuple[Scenario, ...], results: Results) -> int:
    """Print one line per scenario; return 1 if any run lost messages, stalled or failed."""
    print(f"\n{kind.label} --iopub summary:")
    units = {s.name: s.rate_unit for s in scenarios}
    failed = 0
    for name, outcomes in results.items():
        done = [o for o in outcomes if not o.problem]
        lossy = [o for o in done if o.missing]
        failed += len(outcomes) - len(done) + len(lossy)
        if name not in units:  # a memory variant: its one line again
            print(f"  {name}: {outcomes[0].figures}  {outcomes[0].status}")
            continue
        totals: dict[str, int] = {}
        for o in done:
            for what, n in o.lost.items():
                totals[what] = totals.get(what, 0) + n
        line = (
            f"  {name}: {len(done) - len(lossy)}/{len(outcomes)} ok, {len(lossy)} lost messages, "
            f"{len(outcomes) - len(done)} stalled/failed; lost in all: "
            + (", ".join(f"{what} {n:,}" for what, n in totals.items()) or "-")
        )
        if done:
            line += f"; median {statistics.median(o.seconds for o in done):.2f} s"
            if units[name]:
                line += f", {statistics.median(o.rate for o in done):,.0f} {units[name]}"
        print(line)
    return 1 if failed else 0


# -- main --------------------------------------------------------------------------------------------------------
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
    parser.add_argument("--iopub", action="store_true", help="count iopub messages: comm bursts, print floods, memory")
    parser.add_argument("--runs", type=int, default=50, help="runs of the default mode (default 50)")
    parser.add_argument(
        "--count", type=int, help="executes per run (default 500); with --iopub comm_msgs per burst (default 2000)"
    )
    parser.add_argument("--code", default="pass", help="the code of each execute (default 'pass')")
    parser.add_argument("--bursts", type=int, default=10, help="--iopub: comm bursts (default 10)")
    parser.add_argument("--floods", type=int, default=10, help=f"--iopub: cells printing {PRINTS:,} lines (default 10)")
    parser.add_argument("--flush-floods", type=int, default=1, help="--iopub: print(i, flush=True) cells (default 1)")
    parser.add_argument("--flush-seconds", type=float, default=8, help="--iopub: how long those print (default 8)")
    parser.add_argument(
        "--burners", type=int, help="CPU-burning processes beside the kernel (default 2; with --iopub 0)"
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds a run may take (default 60)")
    parser.add_argument(
        "--stall-after",
        type=float,
        default=15,
        help="seconds without any reply (--iopub: without a kernel_info_reply) that count as a stall (default 15)",
    )
    parser.add_argument("--fresh", action="store_true", help="a new kernel for every run")
    args = parser.parse_args(argv)
    if args.count is None:
        args.count = 2000 if args.iopub else 500
    if args.burners is None:
        args.burners = 0 if args.iopub else 2

    kind = pick(args.kernel)
    print(f"load average before the burners: {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs", flush=True)
    ws = Workspace()
    burners = start_burners(args.burners)
    try:
        status = (iopub_mode if args.iopub else execute_mode)(args, kind, ws)
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
        ws.close()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
