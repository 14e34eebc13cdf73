"""`pytest --lite` on a suite of small notebooks: the time per notebook, serially and with `-n 2`.

    .venv/bin/python bench/lite_pytest.py [--runs 3] [--notebooks 10] [--venv build/lite-pytest/.venv]

The venv is the one scripts/test.sh makes (our wheel with the `lite-test` extra, and pytest-xdist). The
script writes the notebooks into a temp folder, runs pytest once to build the site (not measured), then
alternates serial and `-n 2` runs. Figures:

- overhead per notebook after the first: from asking for a notebook to its kernel answering, for every
  notebook but a process's first (the plugin writes it to the junit XML as `lite_open_seconds`);
- suite: pytest's wall time (process start to exit), median of the runs; and the share of both cores busy
  during it (/proc/stat), which says how much room `-n 2` has left.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 900
TARGET_OVERHEAD_S = 3.0
TARGET_RATIO = 0.65


def write_notebooks(folder: Path, count: int) -> None:
    """Small notebooks: a print, a display, a top-level await, a computation."""
    cells = [
        "n = {i}\nprint('notebook', n)",
        "from IPython.display import HTML, display\ndisplay(HTML(f'<b>{{n}}</b>'))",
        "import asyncio\nawait asyncio.sleep(0.05)\nsum(range(10_000 * (n + 1)))",
    ]
    for i in range(count):
        notebook = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c.format(i=i)}
                for c in cells
            ],
            "metadata": {"kernelspec": {"name": "async", "display_name": "Python (async)", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (folder / f"nb{i:02d}.ipynb").write_text(json.dumps(notebook))
    (folder / "pytest.ini").write_text("[pytest]\n")


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def run(venv: Path, folder: Path, junit: Path, *extra: str) -> tuple[float, float, list[tuple[float, bool]]]:
    """(wall s, share of the cores busy, [(open s, new page)]) of one `pytest --lite` run."""
    busy0, total0 = busy_jiffies()
    start = time.perf_counter()
    result = subprocess.run(
        [str(venv / "bin" / "pytest"), "--lite", ".", "-q", f"--junitxml={junit}", *extra],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    wall = time.perf_counter() - start
    busy1, total1 = busy_jiffies()
    if result.returncode != 0:
        sys.exit(f"pytest --lite {' '.join(extra)} failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
    opens = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        opens.append((float(props["lite_open_seconds"]), props["lite_new_page"] == "true"))
    return wall, (busy1 - busy0) / max(total1 - total0, 1), opens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode (default 3)")
    parser.add_argument("--notebooks", type=int, default=10, help="notebooks in the suite (default 10)")
    parser.add_argument("--venv", type=Path, default=ROOT / "build" / "lite-pytest" / ".venv")
    args = parser.parse_args()
    if not (args.venv / "bin" / "pytest").exists():
        sys.exit(f"no venv in {args.venv}: scripts/test.sh makes it (WHEEL_EXTRAS=lite-test scripts/wheel-venv.sh)")
    with tempfile.TemporaryDirectory(prefix="bench-lite-pytest-") as tmp:
        folder = Path(tmp)
        write_notebooks(folder, args.notebooks)
        print(f"building the site for {args.notebooks} notebooks (not measured) ...", flush=True)
        run(args.venv, folder, folder / "warm.xml")
        modes = {"serial": (), "-n 2": ("-n", "2")}
        walls: dict[str, list[float]] = {m: [] for m in modes}
        loads: dict[str, list[float]] = {m: [] for m in modes}
        overheads: dict[str, list[float]] = {m: [] for m in modes}
        for i in range(args.runs):
            for mode, extra in modes.items():
                wall, load, opens = run(args.venv, folder, folder / f"run{i}.xml", *extra)
                walls[mode].append(wall)
                loads[mode].append(load)
                overheads[mode] += [seconds for seconds, new_page in opens if not new_page]
                print(f"run {i + 1} {mode:>6}: {wall:5.1f} s, cores busy {load:4.0%}", flush=True)
    serial = statistics.median(walls["serial"])
    parallel = statistics.median(walls["-n 2"])
    overhead = statistics.median(overheads["serial"])
    ratio = parallel / serial
    print()
    print(f"{'figure':<44} {'value':>9}  target")
    print(f"{'overhead per notebook after the first (serial)':<44} {overhead:8.2f}s  <= {TARGET_OVERHEAD_S:g} s")
    print(f"{'overhead per notebook after the first (-n 2)':<44} {statistics.median(overheads['-n 2']):8.2f}s")
    for mode, wall in (("serial", serial), ("-n 2", parallel)):
        label = f"suite of {args.notebooks}, {mode}"
        print(f"{label:<44} {wall:8.1f}s  cores busy {statistics.median(loads[mode]):.0%}")
    print(f"{'-n 2 / serial':<44} {ratio:8.2f}x  <= {TARGET_RATIO:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
