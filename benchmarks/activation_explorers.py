"""Update time of notebook 10's explorers (compute + draw + PNG), as a learner moving a control would cause.

Prints median and p95 over 60 changes of each control (target, issue 11: p95 <= 100 ms kernel-side),
after the explorer was built (the first build captures the model and loads the layer's curves:
that setup, and a change of layer, are timed separately).
    python benchmarks/activation_explorers.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/activation_explorers.py --layers
--layers: every layer in dropdown order, each explorer in a fresh process (nothing cached from another
explorer; both models captured first, as notebook 10 does), a first visit per layer; after each change of layer one change of each other control (as the
browser benchmark's round robin does). Prints CPU ms of this process (load independent) per kind of
change and model: median and max (issue 14's target is median <= 150 ms, p95 <= 300 ms in the browser).
"""

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np
from timing import cycle, time_changes

from quantlab import widgets
from quantlab.activations import layers

CASES = [
    (widgets.OutlierThresholdExplorer, "threshold", list(layers.THRESHOLDS) + list(layers.THRESHOLDS[::-1])),
    (widgets.SmoothQuantExplorer, "alpha", list(layers.ALPHAS) + list(layers.ALPHAS[::-1])),
    (widgets.RotationExplorer, "rotated", [True, False]),
]


def layer_sweep(name):
    """CPU ms of each change: {(kind of change, model): [ms]} over every layer, first visits."""
    cls = getattr(widgets, name)
    for model in ("minilm", "char") if layers.minilm_available() else ("char",):
        layers.captured(model)  # as in notebook 10, whose cells capture both models before the explorers
    explorer = cls(layer="planted.lone")  # the last in dropdown order: every other visit is a first
    others = {
        "OutlierThresholdExplorer": [("threshold", (6.0, 2.0))],
        "SmoothQuantExplorer": [("alpha", (0.5, 0.8))],
        "RotationExplorer": [("rotated", (False, True)), ("bits", (8, 4))],
    }[name]
    found = {}
    for i, (_, key) in enumerate(layers.layer_keys()):
        model = key.split(".")[0]
        for control, value in [("layer", key)] + [(c, values[(i + 1) % 2]) for c, values in others]:
            start = time.process_time()
            explorer.set(**{control: value})
            found.setdefault((control, model), []).append(1e3 * (time.process_time() - start))
    return found


def print_sweep():
    print(f"load average at start: {os.getloadavg()[0]:.1f}; CPU ms of the kernel process, first visit of each layer")
    print(f"{'explorer':26}{'change':>10}{'model':>8}{'n':>4}{'median':>8}{'max':>7}")
    for name in ("OutlierThresholdExplorer", "SmoothQuantExplorer", "RotationExplorer"):
        run = subprocess.run(
            [sys.executable, __file__, "--sweep-one", name], capture_output=True, text=True, env=os.environ, check=True
        )
        for line in run.stdout.splitlines():
            control, model, *times = line.split()
            times = np.array(times, dtype=float)
            print(f"{name:26}{control:>10}{model:>8}{len(times):>4}{np.median(times):>8.0f}{times.max():>7.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", action="store_true", help="every layer, each explorer in its own process")
    parser.add_argument("--sweep-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sweep_one:
        for (control, model), times in layer_sweep(args.sweep_one).items():
            print(control, model, *(f"{t:.1f}" for t in times))
        return
    if args.layers:
        print_sweep()
        return
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'explorer':<26}{'control':<12}{'build s':>8}{'n':>4}{'median ms':>11}{'p95 ms':>9}")
    for cls, control, values in CASES:
        start = time.perf_counter()
        explorer = cls()
        build = time.perf_counter() - start
        times = time_changes(explorer, cycle(control, values))
        print(
            f"{cls.__name__:<26}{control:<12}{build:>8.2f}{len(times):>4}{np.median(times):>11.1f}"
            f"{np.percentile(times, 95):>9.1f}"
        )
    explorer = widgets.RotationExplorer(rotated=True)
    times = time_changes(explorer, cycle("bits", [4, 8], n=2))
    print(
        f"RotationExplorer bits (first time at 4 bits: a new layer setup) {times[0]:.0f} ms, back to 8: {times[1]:.0f} ms"
    )
    for cls in (widgets.OutlierThresholdExplorer, widgets.SmoothQuantExplorer, widgets.RotationExplorer):
        explorer = cls()
        times = time_changes(explorer, [{"layer": "minilm.3.ffn_up"}, {"layer": "minilm.1.ffn_up"}])
        print(f"{cls.__name__:<26} new layer: {times[0]:.0f} ms; a layer seen before: {times[1]:.0f} ms")
    print(
        f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
        f"load average at end: {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
