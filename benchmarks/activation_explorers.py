"""Update time of notebook 10's explorers (compute + draw + PNG), as a learner moving a control would cause.

Prints median and p95 over 60 changes of each control (target, issue 11: p95 <= 100 ms kernel-side),
after the explorer was built (the first build captures the model and computes the layer's curves:
that setup, and a change of layer, which repeats it for a new layer, are timed separately).
    python benchmarks/activation_explorers.py
"""

import os
import resource
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


def main():
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
        print(f"{cls.__name__:<26} new layer (curves computed): {times[0]:.0f} ms; cached layer: {times[1]:.0f} ms")
    print(
        f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
        f"load average at end: {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
