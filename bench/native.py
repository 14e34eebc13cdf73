"""Benchmark our native kernel against ipykernel, in one run, over jupyter_client and ZMQ.

    .venv/bin/python bench/native.py [--only ours|ipykernel] [--quick] [--no-trio] [--calibrate] [--baseline REV]

Not a test: it prints a table of figures, our targets and the ratio ours/ipykernel (see bench/README.md for what
each figure means).  Every wait is bounded; a kernel that fails a step gets the failure printed, a fresh kernel
for the next step, and the run goes on.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import _kernels
from _kernels import Kernel, KernelKind, Workspace
from _wire import BenchTimeout, Msg, Wire, is_idle, now, parent_id


@dataclass(frozen=True)
class Sizes:
    starts: int = 5
    round_trips: int = 500
    burst: int = 500
    completions: int = 50
    busy_sleep: float = 3.0
    comm_messages: int = 2000
    prints: int = 20000
    repeats: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(starts=2, round_trips=100, burst=200, completions=20, busy_sleep=1.5, comm_messages=500, repeats=1)


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    digits: int = 2

    def meets(self, value: float) -> bool:
        assert self.target is not None
        return value >= self.target if self.higher_is_better else value <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'>=' if self.higher_is_better else '<='} {self.target:g}"


FIGURES = (
    Figure("start", "(a) start -> first kernel_info_reply, median", "s", 0.4),
    Figure("rtt_median", "(b) execute 'pass' round trip, median", "ms", 2.5),
    Figure("rtt_p95", "(b) execute 'pass' round trip, p95", "ms"),
    Figure("burst_rate", "(c) executes/s, all sent at once", "/s", 600, True, 0),
    Figure("complete_busy", "(d) complete_request while cell sleeps, median", "ms", 20, digits=1),
    Figure("complete_busy_max", "(d) complete_request while cell sleeps, max", "ms", digits=1),
    Figure("complete_early", "(d) completions answered before the cell ended", "n", digits=0),
    Figure("comm_rate", "(e) comm echo throughput", "msg/s", 2500, True, 0),
    Figure("print_idle", "(f) 20,000 prints: execute -> idle", "s", 0.25, digits=3),
    Figure("print_streams", "(f) 20,000 prints: stream messages", "n", digits=0),
    Figure("print_complete", "(f) 20,000 prints: all text arrived (1=yes)", "", digits=0),
)


@dataclass
class Result:
    label: str
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# -- the measurements; each takes a ready kernel and returns figures ---------------------------------------------
def measure_round_trip(wire: Wire, sizes: Sizes) -> dict[str, float]:
    for _ in range(20):  # warm-up: first executes compile, create history, etc.
        wire.wait_reply(wire.execute("pass"), 10)
    times = []
    for _ in range(sizes.round_trips):
        t0 = now()
        wire.wait_reply(wire.execute("pass"), 10)
        times.append(now() - t0)
    return {"rtt_median": statistics.median(times) * 1e3, "rtt_p95": percentile(times, 0.95) * 1e3}


def measure_burst(wire: Wire, sizes: Sizes) -> dict[str, float]:
    t0 = now()
    pending = {wire.execute("pass") for _ in range(sizes.burst)}
    last = None
    errors = 0
    try:
        for channel, msg in wire.messages(60, f"all {sizes.burst} execute_replies"):
            if channel == "shell" and parent_id(msg) in pending:
                pending.discard(parent_id(msg))
                errors += msg["content"].get("status") != "ok"
                if not pending:
                    last = now()
                    break
    except BenchTimeout as exc:
        raise BenchTimeout(f"{exc} ({sizes.burst - len(pending)} arrived)") from None
    assert last is not None
    if errors:
        raise AssertionError(f"{errors} replies with status != ok")
    wire.drain()
    return {"burst_rate": sizes.burst / (last - t0)}


def measure_completion_while_busy(wire: Wire, sizes: Sizes) -> dict[str, float]:
    wire.wait_reply(wire.complete("pri"), 30)  # warm-up: the completer's first call may import jedi
    cell = wire.execute(f"import time; time.sleep({sizes.busy_sleep})")
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    cell_state = {"started": False, "replied": 0.0, "idle": False}

    def track(channel: str, msg: Msg) -> None:
        pid = parent_id(msg)
        if channel == "shell" and pid in sent and msg["msg_type"] == "complete_reply":
            answered[pid] = now()
        elif pid == cell and channel == "shell":
            cell_state["replied"] = now()
        elif pid == cell and msg["msg_type"] == "execute_input":
            cell_state["started"] = True
        elif pid == cell and is_idle(msg):
            cell_state["idle"] = True

    for channel, msg in wire.messages(10, "execute_input of the sleeping cell"):
        track(channel, msg)
        if cell_state["started"]:
            break
    for channel, msg in wire.messages(0.05, strict=False):  # let the cell enter time.sleep
        track(channel, msg)
    interval = min(0.02, sizes.busy_sleep / 3 / sizes.completions)
    t_start = now()
    deadline = t_start + sizes.busy_sleep + 30
    while len(answered) < sizes.completions or not cell_state["idle"] or not cell_state["replied"]:
        if now() > deadline:
            raise BenchTimeout(
                f"{len(answered)}/{sizes.completions} completions answered, cell "
                f"{'replied' if cell_state['replied'] else 'no reply'}, "
                f"{'idle' if cell_state['idle'] else 'not idle'} after {deadline - t_start:.0f} s"
            )
        due = t_start + len(sent) * interval
        if len(sent) < sizes.completions and now() >= due:
            sent[wire.complete("pri")] = now()
            continue
        wait = due - now() if len(sent) < sizes.completions else 0.5
        for channel, msg in wire.messages(max(wait, 0.0), strict=False):
            track(channel, msg)
            if len(sent) < sizes.completions and now() >= due:
                break
    latencies = [(answered[m] - sent[m]) * 1e3 for m in sent]
    early = sum(1 for m in sent if answered[m] < cell_state["replied"])
    return {"complete_busy": statistics.median(latencies), "complete_busy_max": max(latencies), "complete_early": early}


ECHO_TARGET = """
import comm as _bench_comm

def _bench_echo_target(c, open_msg):
    c.on_msg(lambda msg: c.send(msg["content"]["data"]))

_bench_comm.get_comm_manager().register_target("bench_echo", _bench_echo_target)
"""


def measure_comm_echo(wire: Wire, sizes: Sizes) -> dict[str, float]:
    reply = wire.wait_reply(wire.execute(ECHO_TARGET), 30)
    if reply["content"]["status"] != "ok":
        raise AssertionError(f"registering the echo target failed: {reply['content'].get('evalue')}")
    comm_id, _ = wire.comm_open("bench_echo")
    wire.comm_msg(comm_id, {"i": -1})  # ping: proves the comm is open and echoing before timing starts
    for channel, msg in wire.messages(10, "echo of the first comm_msg"):
        if channel == "iopub" and msg["msg_type"] == "comm_msg" and msg["content"].get("comm_id") == comm_id:
            break
    window = 100  # bounded in-flight count, so iopub is read while we send and never hits its high-water mark
    total = sizes.comm_messages
    sent = 0
    echoed: set[int] = set()
    t0 = now()
    while sent < min(window, total):
        wire.comm_msg(comm_id, {"i": sent})
        sent += 1
    try:
        for channel, msg in wire.messages(60, f"{total} comm echoes"):
            if channel == "iopub" and msg["msg_type"] == "comm_msg" and msg["content"].get("comm_id") == comm_id:
                i = msg["content"]["data"].get("i", -1)
                if i >= 0:
                    echoed.add(i)
                while sent < total and sent - len(echoed) < window:
                    wire.comm_msg(comm_id, {"i": sent})
                    sent += 1
                if len(echoed) == total:
                    break
    except BenchTimeout as exc:
        raise BenchTimeout(f"{exc} ({len(echoed)} echoed of {sent} sent)") from None
    elapsed = now() - t0
    wire.send("shell", "comm_close", {"comm_id": comm_id, "data": {}})
    wire.drain()
    return {"comm_rate": total / elapsed}


def measure_prints(wire: Wire, sizes: Sizes) -> dict[str, float]:
    expected = "".join(f"{i}\n" for i in range(sizes.prints))
    t0 = now()
    cell = wire.execute(f"for i in range({sizes.prints}): print(i)")
    chunks: list[str] = []
    streams = 0
    replied = False
    for channel, msg in wire.messages(60, "idle after the print loop"):
        if parent_id(msg) != cell:
            continue
        if channel == "iopub" and msg["msg_type"] == "stream":
            streams += 1
            chunks.append(msg["content"]["text"])
        elif channel == "shell":
            replied = True
        elif is_idle(msg):
            break
    elapsed = now() - t0
    if not replied:  # idle came first (allowed on another socket); the reply must still come
        wire.wait_reply(cell, 10, idle=False)
    text = "".join(chunks)
    return {"print_idle": elapsed, "print_streams": streams, "print_complete": float(text == expected)}


Step = Callable[[Wire, Sizes], dict[str, float]]

# (name, measurement, repeated?): throughput figures are the median of `Sizes.repeats` runs, which damps the noise
# of a shared 2-core machine; the round trip and completion steps already take a median over many requests.
STEPS: tuple[tuple[str, Step, bool], ...] = (
    ("(b) round trip", measure_round_trip, False),
    ("(c) burst", measure_burst, True),
    ("(d) completion while busy", measure_completion_while_busy, False),
    ("(e) comm echo", measure_comm_echo, True),
    ("(f) 20,000 prints", measure_prints, True),
)


# -- running one kernel through all steps ------------------------------------------------------------------------
def bench_kernel(kind: KernelKind, ws: Workspace, sizes: Sizes) -> Result:
    result = Result(kind.label)
    print(f"\n== {kind.label}: {' '.join(kind.argv)}", flush=True)
    starts = []
    for i in range(sizes.starts):
        try:
            kernel = Kernel(kind, ws)
        except Exception as exc:
            report_failure(result, f"(a) start #{i + 1}", exc)
            continue
        starts.append(kernel.start_seconds)
        outcome = kernel.shutdown()
        print(f"   start #{i + 1}: {kernel.start_seconds:.3f} s; shutdown: {outcome}", flush=True)
        if not outcome.startswith("clean"):
            result.notes.append(f"shutdown after start #{i + 1}: {outcome}")
    if starts:
        result.values["start"] = statistics.median(starts)

    kernel: Kernel | None = None
    for name, step, repeated in STEPS:
        try:
            if kernel is None:
                kernel = Kernel(kind, ws)
            kernel.wire.drain()
            t0 = now()
            runs = [step(kernel.wire, sizes) for _ in range(sizes.repeats if repeated else 1)]
            values = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            result.values.update(values)
            shown = ", ".join(
                f"{key}={value:.4g}"
                + (f" (of {', '.join(f'{run[key]:.4g}' for run in runs)})" if len(runs) > 1 else "")
                for key, value in values.items()
            )
            print(f"   {name}: {shown}  ({now() - t0:.1f} s)", flush=True)
        except Exception as exc:
            report_failure(result, name, exc, kernel)
            if kernel is not None:
                kernel.kill()
            kernel = None  # the next step starts a fresh kernel
    if kernel is not None:
        outcome = kernel.shutdown()
        if not outcome.startswith("clean"):
            result.notes.append(f"final shutdown: {outcome}")
    return result


def report_failure(result: Result, step: str, exc: BaseException, kernel: Kernel | None = None) -> None:
    text = f"{step} FAILED: {type(exc).__name__}: {exc}"
    result.notes.append(text)
    print(f"   {text}", flush=True)
    if kernel is not None and (tail := kernel.log_tail()):
        print(f"   kernel log ({kernel.log_path.name}):\n{tail}", flush=True)


# -- the table ---------------------------------------------------------------------------------------------------
def fmt(figure: Figure, value: float | None) -> str:
    if value is None:
        return "FAIL"
    text = f"{value:.{figure.digits}f}"
    if figure.target is not None:
        text += " ok" if figure.meets(value) else " MISS"
    return text


def print_table(results: list[Result], peer: str) -> None:
    labels = [r.label for r in results]
    ours = [r for r in results if r.label.startswith("ours")]
    base = next((r for r in results if r.label == peer), None)
    ratio_cols = [f"{r.label}/ipyk" for r in ours] if base else []
    header = ["figure", "unit", "target", *labels, *ratio_cols]
    rows = [header]
    for fig in FIGURES:
        row = [fig.title, fig.unit, fig.target_text()]
        row += [
            fmt(fig, r.values.get(fig.key)) if r in ours else fmt_plain(fig, r.values.get(fig.key)) for r in results
        ]
        for r in ours if base else []:
            a, b = r.values.get(fig.key), base.values.get(fig.key)
            row.append(f"{a / b:.3g}" if a is not None and b else "-")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for r in results:
        for note in r.notes:
            print(f"note [{r.label}]: {note}")


def print_baseline_ratios(results: list[Result], baseline: str) -> None:
    """One line per figure: ours / ours at the baseline revision (below 1 is faster for times)."""
    ours = next((r for r in results if r.label == "ours"), None)
    base = next((r for r in results if r.label == baseline), None)
    if ours is None or base is None:
        return
    print(f"\nours / {baseline} (same run):")
    for fig in FIGURES:
        a, b = ours.values.get(fig.key), base.values.get(fig.key)
        shown = f"{a / b:.3g}" if a is not None and b else "-"
        better = "higher is better" if fig.higher_is_better else "lower is better"
        print(f"  {fig.title}: {shown} ({better})")


def fmt_plain(figure: Figure, value: float | None) -> str:
    return "FAIL" if value is None else f"{value:.{figure.digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("ours", "ipykernel"), help="bench only one side")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--no-trio", action="store_true", help="skip our kernel on the trio backend")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="also bench a do-nothing kernel (bench/_null_kernel.py): the client's ceiling",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also bench our kernel as of git revision REV (its py/ folder), for before/after figures in one run",
    )
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()

    ws = Workspace()
    kinds: list[KernelKind] = []
    if args.only != "ipykernel":
        kinds.append(_kernels.ours("asyncio"))
        if args.baseline:
            kinds.append(_kernels.ours("asyncio", _kernels.checkout_py(args.baseline, ws.root), args.baseline))
        if not args.no_trio and _kernels.has_module(_kernels.OUR_PYTHON, "trio"):
            kinds.append(_kernels.ours("trio"))
    if args.only != "ours":
        kinds.append(_kernels.ipykernel())
        print(f"peer: ipykernel {_kernels.peer_version()} in {_kernels.PEER_VENV}")
    if args.calibrate:
        kinds.append(_kernels.null())
    print(f"client: jupyter_client over pyzmq, Python {sys.version.split()[0]}; sizes: {sizes}")
    print(
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        f"load average {os.getloadavg()[0]:.2f},",
        f"{os.cpu_count()} CPUs",
    )

    try:
        results = [bench_kernel(kind, ws, sizes) for kind in kinds]
    finally:
        ws.close()
    print_table(results, "ipykernel")
    if args.baseline:
        print_baseline_ratios(results, f"ours@{args.baseline}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (figures are noisy when other work runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
