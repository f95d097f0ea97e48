"""Update time of every explorer (compute + draw + PNG), as a learner moving a slider would cause.

Prints median and p95 over at least 50 control changes each, at the notebooks' default sizes.
Target (issue 2): p95 <= 50 ms kernel-side.   Run:  python benchmarks/explorers.py
"""

import numpy as np
from timing import cycle, time_changes

from quantlab import widgets


CASES = [
    (
        "02 QuantizationExplorer",
        lambda: widgets.QuantizationExplorer(),
        "bits",
        list(range(2, 9)) + list(range(7, 2, -1)),
    ),
    (
        "02 QuantizationExplorer",
        lambda: widgets.QuantizationExplorer(),
        "clip_ratio",
        list(np.round(np.linspace(0.5, 1.0, 26), 2)),
    ),
    ("02 QuantizationExplorer", lambda: widgets.QuantizationExplorer(), "scheme", ["symmetric", "asymmetric"]),
    (
        "03 outliers",
        lambda: widgets.QuantizationExplorer(
            outliers=1,
            outlier_magnitude=100.0,
            n=1024,
            std=0.1,
            show=("bits", "outliers", "outlier_magnitude", "group_size"),
        ),
        "outlier_magnitude",
        list(range(10, 500, 10)),
    ),
    (
        "03 outliers",
        lambda: widgets.QuantizationExplorer(
            outliers=1,
            outlier_magnitude=100.0,
            n=1024,
            std=0.1,
            show=("bits", "outliers", "outlier_magnitude", "group_size"),
        ),
        "group_size",
        [None, 256, 128, 64, 32, 16, 8],
    ),
    (
        "04 groups",
        lambda: widgets.QuantizationExplorer(
            group_size=32,
            show=("bits", "group_size", "scale_dtype", "outliers", "scheme"),
            panels=("histogram", "error", "tradeoff"),
        ),
        "group_size",
        [None, 256, 128, 64, 32, 16, 8],
    ),
    (
        "04 groups",
        lambda: widgets.QuantizationExplorer(
            group_size=32,
            show=("bits", "group_size", "scale_dtype", "outliers", "scheme"),
            panels=("histogram", "error", "tradeoff"),
        ),
        "bits",
        list(range(2, 9)),
    ),
    (
        "00 MemoryExplorer",
        lambda: widgets.MemoryExplorer(),
        "billions_of_parameters",
        list(np.round(np.linspace(0.5, 70, 50), 1)),
    ),
    ("01 FloatExplorer", lambda: widgets.FloatExplorer(), "value", list(np.geomspace(1e-7, 1e5, 50))),
    ("09 GPTQExplorer", lambda: widgets.GPTQExplorer(step=40), "step", list(range(0, 256, 5))),
    ("09 GPTQExplorer", lambda: widgets.GPTQExplorer(step=40), "act_order", [True, False]),
    ("09 AWQExplorer", lambda: widgets.AWQExplorer(), "alpha", list(np.round(np.linspace(0, 1, 21), 2))),
    ("09 ImatrixExplorer", lambda: widgets.ImatrixExplorer(), "block", list(range(0, 256, 5))),
    ("09 ImatrixExplorer", lambda: widgets.ImatrixExplorer(), "type_name", ["Q4_K", "Q3_K", "Q2_K"]),
    ("09 ImatrixExplorer", lambda: widgets.ImatrixExplorer(), "imatrix", [False, True]),
]


def main():
    print(f"{'explorer':<26}{'control':<20}{'n':>4}{'median ms':>11}{'p95 ms':>9}")
    for label, make, control, values in CASES:
        times = time_changes(make(), cycle(control, values))
        print(f"{label:<26}{control:<20}{len(times):>4}{np.median(times):>11.1f}{np.percentile(times, 95):>9.1f}")


if __name__ == "__main__":
    main()
