"""Update time of notebook 06's BlockExplorer (compute + draw + PNG), as a learner moving a control would cause.

Prints median and p95 over at least 50 changes per control, at the notebook's default sizes, plus a
mixed run of random control changes. Target: p95 <= 50 ms kernel-side.
Run:  python benchmarks/block_explorer.py
"""

import numpy as np
from timing import cycle, time_changes

from quantlab.ggml import anatomy
from quantlab.widgets.gguf import DISTRIBUTION_CHOICES, BlockExplorer


def random_changes(n=100, seed=0):
    rng = np.random.default_rng(seed)
    options = {
        "type_name": list(anatomy.TYPES),
        "block": list(range(16)),
        "distribution": list(DISTRIBUTION_CHOICES),
        "seed": list(range(21)),
    }
    names = list(options)
    return [{name: options[name][rng.integers(len(options[name]))]} for name in rng.choice(names, n)]


CASES = [
    ("block", lambda: cycle("block", list(range(16)) + list(range(14, 0, -1)))),
    ("type_name", lambda: cycle("type_name", list(anatomy.TYPES), n=66)),
    ("distribution", lambda: cycle("distribution", list(DISTRIBUTION_CHOICES))),
    ("seed", lambda: cycle("seed", list(range(21)))),
    ("random mix", lambda: random_changes()),
]


def main():
    print(f"{'control':<14}{'n':>5}{'median ms':>11}{'p95 ms':>9}")
    for name, changes in CASES:
        times = time_changes(BlockExplorer(), changes())
        print(f"{name:<14}{len(times):>5}{np.median(times):>11.1f}{np.percentile(times, 95):>9.1f}")


if __name__ == "__main__":
    main()
