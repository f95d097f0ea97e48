"""Outliers in real weight matrices: how large, in which channels, and which groups they ruin.

A weight matrix here is (out_features, in_features), PyTorch's layout, so a row is one output
channel and a column one input channel; groups of `group_size` run along a row, as GGUF blocks do.
An outlier is a weight with |w| > threshold x std (std of the whole matrix). A group that holds one
has its scale set by it, so its other weights round on a grid far too coarse for them: that group
is "ruined". All functions are pure computations on arrays.
"""

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array
from ..uniform import fake_quantize


def _matrix(w):
    w = as_float_array(w, "w")
    if w.ndim != 2:
        raise ValueError(f"w has shape {w.shape}; pass one weight matrix (out_features, in_features)")
    return w.astype(np.float32, copy=False)


def _check_threshold(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold={threshold!r} must be a positive number of standard deviations, e.g. 6")
    return float(threshold)


def max_over_std(w):
    """max|w| / std(w): about 4-5 for 100k Gaussian weights; far more when a few channels stand out."""
    w = _matrix(w)
    return float(np.abs(w).max() / w.std())


@dataclass(frozen=True)
class Channels:
    """The channels (rows or columns) holding the largest weights, largest first."""

    axis: str  # "output" (rows) or "input" (columns)
    index: np.ndarray  # channel numbers
    max_abs: np.ndarray  # largest |w| in each
    max_over_std: np.ndarray
    n_outliers: np.ndarray  # weights beyond the threshold in each


def outlier_channels(w, top=5, threshold=6.0):
    """The `top` output channels (rows) and input channels (columns) with the largest |w|.

    Returns {"output": Channels, "input": Channels}; n_outliers counts |w| > threshold x std.
    """
    w = _matrix(w)
    threshold = _check_threshold(threshold)
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top={top!r} must be a positive integer")
    std = float(w.std())
    magnitude = np.abs(w)
    beyond = magnitude > threshold * std
    found = {}
    for axis, name in ((1, "output"), (0, "input")):  # reduce over columns -> one value per row
        largest = magnitude.max(axis=axis)
        order = np.argsort(-largest, kind="stable")[:top]
        found[name] = Channels(name, order, largest[order], largest[order] / std, beyond.sum(axis=axis)[order])
    return found


@dataclass(frozen=True)
class GroupDamage:
    """How many groups an outlier sets the scale of, and what that costs at `bits`."""

    group_size: int
    bits: int
    threshold: float
    n_groups: int
    n_ruined: int
    mse_ruined: float  # mean squared rounding error per weight, in groups holding an outlier
    mse_clean: float  # the same in the other groups

    @property
    def fraction_ruined(self):
        return self.n_ruined / self.n_groups

    @property
    def mse_ratio(self):
        """How many times worse a ruined group rounds than a clean one (nan if either kind is absent)."""
        if not (self.n_ruined and self.n_ruined < self.n_groups) or self.mse_clean == 0:
            return float("nan")
        return self.mse_ruined / self.mse_clean


def group_damage(w, group_size=32, bits=4, threshold=6.0):
    """Groups of `group_size` along each row whose absmax is an outlier, and their error at `bits`.

    Quantized with quantlab's symmetric round-to-nearest, one scale per group (the Q4_0 idea).
    """
    w = _matrix(w)
    threshold = _check_threshold(threshold)
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)) or group_size < 1:
        raise ValueError(f"group_size={group_size!r} must be a positive integer, e.g. 32")
    if w.shape[1] % group_size:
        raise ValueError(
            f"rows of {w.shape[1]} weights do not split into groups of {group_size}; "
            f"pick a divisor of {w.shape[1]}, e.g. 32"
        )
    groups = w.reshape(w.shape[0], -1, group_size)
    ruined = (np.abs(groups).max(axis=-1) > threshold * w.std()).ravel()
    error = (fake_quantize(w, bits, group_size=group_size, axis=1) - w).reshape(-1, group_size)
    mse = np.mean(error.astype(np.float64) ** 2, axis=-1)
    mean = lambda values: float(values.mean()) if values.size else float("nan")
    return GroupDamage(
        group_size, bits, threshold, ruined.size, int(ruined.sum()), mean(mse[ruined]), mean(mse[~ruined])
    )


def outlier_table(weights, group_size=32, bits=4, threshold=6.0, top=3):
    """One row per matrix: max|w|/std, where the largest weights sit, and the groups they ruin."""
    rows = []
    for name, w in weights.items():
        channels = outlier_channels(w, top, threshold)
        damage = group_damage(w, group_size, bits, threshold)
        rows.append(
            {
                "name": name,
                "shape": tuple(np.shape(w)),
                "max_over_std": max_over_std(w),
                "top_output_channels": channels["output"].index.tolist(),
                "top_input_channels": channels["input"].index.tolist(),
                "n_outliers": int((np.abs(w) > threshold * np.std(w)).sum()),
                "fraction_groups_ruined": damage.fraction_ruined,
                "mse_ratio": damage.mse_ratio,
            }
        )
    return rows
