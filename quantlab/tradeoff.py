"""What one quantization setting costs and buys: the numbers behind every explorer, as plain data.

`summarize` quantizes once and returns everything a figure needs (grid, transfer curve, errors,
metrics); `sweep` runs many settings for an error-vs-bits-per-weight (Pareto) picture.
"""

from dataclasses import dataclass

import numpy as np

from .metrics import error_report
from .uniform import quantize, snap_to_levels


@dataclass(frozen=True)
class Summary:
    """One quantization of a 1-D weight vector, ready to draw and to print."""

    weights: np.ndarray
    reconstruction: np.ndarray
    levels: np.ndarray  # the grid of the group that holds the largest |w|
    group: int  # index of that group
    n_groups: int
    transfer_x: np.ndarray
    transfer_y: np.ndarray
    step: float  # level spacing of that group
    steps: np.ndarray  # level spacing of every weight's own group
    metrics: dict
    bits_per_weight: float

    @property
    def errors(self):
        return self.weights.astype(np.float64) - self.reconstruction

    @property
    def errors_in_steps(self):
        """Each error divided by its own group's level spacing (0 in all-zero groups, whose step is 0)."""
        safe = np.where(self.steps > 0, self.steps, 1.0)
        return np.where(self.steps > 0, self.errors / safe, 0.0)

    @property
    def clipped(self):
        """How many weights lie more than half a step from their reconstruction (outside the grid)."""
        return int(np.count_nonzero(np.abs(self.errors_in_steps) > 0.5 + 1e-9))

    def text(self):
        """The key numbers as one short block of text (printed beside each figure)."""
        m = self.metrics
        grouping = (
            "one scale for the tensor"
            if self.n_groups == 1
            else f"{self.n_groups} groups (grid shown: group {self.group})"
        )
        return (
            f"MSE            {m['mse']:.3e}\n"
            f"RMSE           {m['rmse']:.3e}\n"
            f"SQNR           {m['sqnr_db']:.1f} dB\n"
            f"max |error|    {m['max_abs_error']:.3e}\n"
            f"step           {self.step:.3e}\n"
            f"levels         {len(self.levels)}\n"
            f"bits/weight    {self.bits_per_weight:.4g}\n"
            f"clipped        {self.clipped} weights\n"
            f"{grouping}"
        )


def summarize(w, bits=4, scheme="symmetric", group_size=None, transfer_points=600, **options):
    """Quantize a 1-D weight vector and collect what the explorers show."""
    w = np.asarray(w)
    if w.ndim != 1:
        raise ValueError(f"summarize takes a 1-D weight vector, got shape {w.shape}; pass w.ravel() or one row")
    q = quantize(w, bits, scheme, group_size, **options)
    reconstruction = q.dequantize().astype(np.float64)
    group = int(np.argmax(np.abs(w)) // q.group_size)
    levels = q.levels().reshape(q.n_groups, -1)[group]
    low, high = float(w.min()), float(w.max())  # the weights' range, so the picture holds still as bits change
    margin = 0.05 * (high - low) or 1.0
    x = np.linspace(low - margin, high + margin, transfer_points)
    return Summary(
        weights=w,
        reconstruction=reconstruction,
        levels=levels,
        group=group,
        n_groups=q.n_groups,
        transfer_x=x,
        transfer_y=snap_to_levels(x, levels),
        step=float(np.ravel(q.step)[group]),
        steps=np.broadcast_to(q._expand(q.step), w.shape),
        metrics=error_report(w, reconstruction),
        bits_per_weight=q.bits_per_weight,
    )


def sweep(w, bits=(2, 3, 4, 5, 6, 8), group_sizes=(None, 256, 128, 64, 32, 16), scheme="symmetric", **options):
    """MSE and bits per weight for every (bits, group size) pair; group sizes that do not divide are skipped."""
    points = []
    for group_size in group_sizes:
        if group_size is not None and np.shape(w)[-1] % group_size:  # groups run along the last axis
            continue
        label = "per tensor" if group_size is None else f"group {group_size}"
        for b in bits:
            q = quantize(w, b, scheme, group_size, **options)
            mse = float(np.mean((np.asarray(w, dtype=np.float64) - q.dequantize()) ** 2))
            points.append(
                {"bits": b, "group_size": group_size, "label": label, "bits_per_weight": q.bits_per_weight, "mse": mse}
            )
    return points


def pareto_front(points):
    """The points no other point beats on both bits per weight and MSE, sorted by bits per weight."""
    ordered = sorted(points, key=lambda p: (p["bits_per_weight"], p["mse"]))
    front, best = [], np.inf
    for point in ordered:
        if point["mse"] < best:
            front.append(point)
            best = point["mse"]
    return front
