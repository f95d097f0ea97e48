"""How fast the codebook explorer answers a control change: compute + in-place redraw + PNG, as in a notebook.

Moves the controls the way a learner does (every change goes through the widget, so the observer runs
exactly as in the browser) and prints median and 95th percentile per control, first visits (nothing
cached yet: new weights need a new k-means run and a new Pareto sweep) and all changes together.
Target: p95 <= 100 ms at default sizes (4,096 weights). Wall time is what a learner waits; CPU time
(this process only) is printed too, since on a shared machine other work inflates the wall clock.
Run: .venv/bin/python benchmarks/codebook_explorer.py
"""

import os

import time
from collections import defaultdict

import numpy as np

from quantlab.widgets.codebook import CodebookExplorer


def changes(explorer):
    """A learner's session: step Lloyd's algorithm, change bits and blocks, switch weights, add an outlier."""
    iteration = explorer.controls["iteration"]
    yield from (("iteration", t) for t in range(1, 16))
    yield from (("bits", b) for b in (3, 2, 5, 4))
    yield from (("group_size", size) for size in (256, 64, 32))
    yield from (("iteration", t) for t in range(0, iteration.max + 1))
    yield from (("start", start) for start in ("quantile", "cube-root", "uniform"))
    yield from (("distribution", name) for name in ("laplace", "student-t", "gaussian"))
    yield from (("outlier_magnitude", m) for m in (10.0, 40.0, 0.0))
    yield from (("group_size", size) for size in (0, 64))  # the widget holds 0 for "per tensor"
    yield from (("bits", b) for b in (3, 4))
    yield from (("iteration", t) for t in range(5, -1, -1))
    yield ("distribution", "laplace")  # seen before: its weights, k-means runs and sweep are cached
    yield from (("iteration", t) for t in range(1, 9))


def summarize(label, values):
    values = np.asarray(values)
    return (
        f"{label:<18}{len(values):>8}{np.median(values):>11.1f}{np.percentile(values, 95):>9.1f}{np.max(values):>9.1f}"
    )


def main():
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    start = time.perf_counter()
    explorer = CodebookExplorer()
    print(
        f"first build (incl. scipy.stats import and the first Pareto sweep): {(time.perf_counter() - start) * 1e3:.0f} ms"
    )

    wall, cpu, first_visit = defaultdict(list), [], []
    seen = set()
    for name, value in changes(explorer):
        if name not in explorer.controls or explorer.controls[name].value == value:
            continue
        before, before_cpu = time.perf_counter(), time.process_time()
        explorer.controls[name].value = value  # the observer recomputes and redraws, as in the browser
        elapsed = (time.perf_counter() - before) * 1e3
        cpu.append((time.process_time() - before_cpu) * 1e3)
        wall[name].append(elapsed)
        key = (id(explorer.weights()), *(explorer.settings[k] for k in ("bits", "group_size", "start")))
        if key not in seen and name != "iteration":
            first_visit.append(elapsed)
        seen.add(key)

    print(f"\nwall time per change\n{'control':<18}{'changes':>8}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for name, values in wall.items():
        print(summarize(name, values))
    print(summarize("first visits", first_visit))
    print(summarize("all changes", np.concatenate([np.array(v) for v in wall.values()])))
    print(summarize("all, CPU time", cpu))
    print(f"load average after: {os.getloadavg()[0]:.2f}\ntarget: p95 <= 100 ms over all changes")


if __name__ == "__main__":
    main()
