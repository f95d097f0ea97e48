"""Control-to-pixels latency of every explorer in a real browser (JupyterLab in headless Chromium).

For each notebook with explorers: open it, run all cells, then operate each explorer's controls in
turn as a learner would (slider ArrowRight, next dropdown option, the other toggle button, a typed
number), always to a setting not shown just before, and time each operation inside the page: from
the input event to the frame after the new figure is decoded (tests/browser/lab_driver.py).
Prints, per explorer, median and p95 over the operations that changed the figure, to the first new figure and
to the final one (they differ where an explorer sends a preview first: notebook 08's shows a new setting's exact
bits per weight at once and its measured scores when they are ready), the readout's median, and the median CPU
time the kernel spent per operation (psutil; unlike the latency, it is not inflated by other processes);
--per-control adds one line per control. Target (issue 14): median <= 150 ms and p95 <= 300 ms for every
explorer, judged here on the final figure. A control that runs a model now (class quantlab-live-run:
notebook 11's "run this file now" in llama.cpp, seconds by design) is operated in the same round robin
but reported on its own row, "(live run)", outside the target.

Run:  python benchmarks/browser_latency.py [--operations 16] [--per-control] [notebook name fragments ...]
Needs /usr/bin/chromium and playwright (pip install -e .[test]); takes a few minutes.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))  # the driver the browser tests use

import lab_driver  # noqa: E402

TARGET_MEDIAN_MS, TARGET_P95_MS = 150, 300


def kernel_process(lab, notebook):
    """The psutil.Process of the notebook's kernel (a child of the server, named by its connection file)."""
    import psutil

    kernel_id = lab_driver.notebook_kernel(lab, notebook.name)["kernel"]["id"]
    for child in psutil.Process(lab.process.pid).children(recursive=True):
        if any(f"kernel-{kernel_id}.json" in part for part in child.cmdline()):
            return child
    raise RuntimeError(f"no kernel process for {notebook.name}")


def cpu_seconds(process):
    times = process.cpu_times()
    return times.user + times.system


def measure_explorer(page, explorer, n_operations, kernel):
    """n_operations on the explorer's controls, round robin, each moving one control forward.

    Returns the operations and the kernel's CPU milliseconds for each.
    """
    operations, cpu_ms = [], []
    for k in range(n_operations):
        index = k % len(explorer["controls"])
        before = cpu_seconds(kernel)
        operations.append(lab_driver.operate(page, explorer, index, timeout=30))
        cpu_ms.append(1e3 * (cpu_seconds(kernel) - before))
    return operations, cpu_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=16, help="operations per explorer (default 16)")
    parser.add_argument("--per-control", action="store_true", help="also one line per control")
    parser.add_argument("notebooks", nargs="*", help="only notebooks whose name contains one of these")
    args = parser.parse_args()
    if not lab_driver.CHROMIUM.is_file():
        print(f"skipped: {lab_driver.CHROMIUM} not found (apt-get install chromium)")
        return
    from playwright.sync_api import sync_playwright

    notebooks = [
        path
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        if lab_driver.explorer_calls(path) and (not args.notebooks or any(a in path.name for a in args.notebooks))
    ]
    rows, errors = [], []
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "notebooks"
        shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        (Path(temp) / "jupyter").mkdir()
        lab = lab_driver.JupyterLab(root, Path(temp) / "jupyter").start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(lab_driver.CHROMIUM), headless=True, args=lab_driver.CHROMIUM_ARGS
                )
                for notebook in notebooks:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    try:
                        lab_driver.open_and_run(page, lab, notebook, run_timeout=900)
                        kernel = kernel_process(lab, notebook)
                        for explorer in lab_driver.find_explorers(page, len(lab_driver.explorer_calls(notebook))):
                            operations, cpu_ms = measure_explorer(page, explorer, args.operations, kernel)
                            for live in (False, True):
                                picked = [i for i, op in enumerate(operations) if op.live == live]
                                if picked:
                                    row = [operations[i] for i in picked], [cpu_ms[i] for i in picked]
                                    rows.append((notebook.name[:2], explorer, *row, live))
                                    print_row(*rows[-1], flush=True)
                            if args.per_control:
                                print_controls(explorer, operations, cpu_ms)
                    finally:
                        lab_driver.stop_kernel(lab, notebook)
                        page.close()
                browser.close()
        finally:
            lab.stop()
    print(f"\ntarget: median <= {TARGET_MEDIAN_MS} ms, p95 <= {TARGET_P95_MS} ms (to the final figure)")
    over = [f"{nb} {explorer['name']}" for nb, explorer, ops, _, live in rows if not live and not meets_target(ops)]
    print("over target: " + (", ".join(over) if over else "none"))
    real = lab_driver.real_errors(errors)
    print(f"page errors: {len(real)}" + "".join(f"\n  {e[:200]}" for e in real))


def figure_times(operations, final=False):
    """ms to the first new figure (final=True: to the final one) of the operations that changed it (a control can
    be inert in the state the round robin left, e.g. notebook 02's symmetric range while the scheme is asymmetric)."""
    times = [op.final_ms if final else op.figure_ms for op in operations if op.figure_ms is not None]
    return np.array([np.nan if t is None else t for t in times])


def meets_target(operations):
    times = figure_times(operations, final=True)
    return len(times) > 0 and np.median(times) <= TARGET_MEDIAN_MS and np.percentile(times, 95) <= TARGET_P95_MS


HEADER_PRINTED = []


def print_row(notebook, explorer, operations, cpu_ms, live=False, flush=False):
    if not HEADER_PRINTED:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
        print(
            f"{'nb':<4}{'explorer':<30}{'changed/n':>10}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}"
            f"{'final median':>14}{'final p95':>11}{'readout ms':>12}{'kernel CPU ms':>15}  controls"
        )
        HEADER_PRINTED.append(True)
    times, final = figure_times(operations), figure_times(operations, final=True)
    readout = np.median([op.readout_ms for op in operations if op.readout_ms is not None] or [np.nan])
    changed = f"{len(times)}/{len(operations)}"
    if not len(times):
        times = final = np.array([np.nan])
    controls = ", ".join(f"{c['label']} ({c['kind']})" for c in explorer["controls"] if c.get("live", False) == live)
    name = f"{explorer['name']} (live run)" if live else explorer["name"]
    print(
        f"{notebook:<4}{name:<30}{changed:>10}{np.median(times):>11.0f}{np.percentile(times, 95):>9.0f}"
        f"{times.max():>9.0f}{np.median(final):>14.0f}{np.percentile(final, 95):>11.0f}{readout:>12.0f}"
        f"{np.median(cpu_ms):>15.0f}  {controls}",
        flush=flush,
    )


def print_controls(explorer, operations, cpu_ms):
    """One line per control: its operations' first-figure and final-figure times (ms) and kernel CPU (ms)."""
    for control in explorer["controls"]:
        mine = [(op, cpu) for op, cpu in zip(operations, cpu_ms) if op.control == control["label"]]
        first = [f"{op.figure_ms:.0f}" if op.figure_ms is not None else "-" for op, _ in mine]
        final = [f"{op.final_ms:.0f}" if op.final_ms is not None else "-" for op, _ in mine]
        cpu = [f"{c:.0f}" for _, c in mine]
        print(
            f"      {control['label']:<24} first {'/'.join(first):<14} final {'/'.join(final):<14} CPU {'/'.join(cpu)}"
        )


if __name__ == "__main__":
    main()
