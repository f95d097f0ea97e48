"""A lone outlier vs an outlier channel, planted in Gaussian data: what finer scales and rotation do to each.

    lone:    one entry of the matrix is `size` (a single token's spike, or a single large weight)
    channel: one column is `size` (1 + noise/10) in every row: a feature that is large for every token
    row:     one row is `size` / 10 times larger throughout (a loud token, or a large output channel of W)
Rows are tokens (for activations) or output channels (for weights); the rotation x -> x Q mixes the
columns (the summed axis), so it spreads whatever sits in one column over all of them: each row keeps
its length, and a value `size` becomes about size / sqrt(n) everywhere in its row. What that buys
depends on the scale: per row, every row is rescued; per tensor, a lone spike leaves its row still
sqrt(n) times too large for the others to share one scale with, while a channel, spread into every
row alike, does not. A loud row stays loud (a rotation keeps each row's length): only per-row
scales help it.
"""

from dataclasses import dataclass

import numpy as np

from .hadamard import random_hadamard
from .w8a8 import quantize_symmetric

KINDS = ("none", "lone", "channel", "row")


def planted(kind, rows=256, width=384, size=100.0, seed=0):
    """A (rows, width) standard-normal matrix with an outlier of `kind` planted in column 7 and/or row 3."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; choose one of {KINDS}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, width))
    if kind == "lone":
        x[3, 7] = size
    elif kind == "channel":
        x[:, 7] = size * (1 + rng.normal(size=rows) / 10)
    elif kind == "row":
        x[3] *= size / 10
    return x


@dataclass(frozen=True)
class PlantedError:
    """Relative error ||Y_hat - Y|| / ||Y|| of Y = A B^T after quantizing A, over all rows and for the typical row."""

    kind: str
    scale: str
    rotated: bool
    bits: int
    relative_error: float  # over the whole product
    median_row_error: float  # the median row's relative error (what a typical token sees)


def planted_error(kind, scale="tensor", rotated=False, bits=8, rows=256, width=384, size=100.0, seed=0):
    """Quantize a planted matrix A (per tensor or per row, optionally rotated first) and measure A B^T's error."""
    if scale not in ("tensor", "row"):
        raise ValueError(f"scale={scale!r}; choose 'tensor' or 'row'")
    a = planted(kind, rows, width, size, seed)
    b = np.random.default_rng(seed + 1).normal(size=(64, width))
    q = random_hadamard(width, seed) if rotated else None
    a_in, b_in = (q.rotate(a), q.rotate(b)) if rotated else (a, b)
    codes, step = quantize_symmetric(a_in, bits, None if scale == "tensor" else 1)
    exact, approx = a @ b.T, (codes * step) @ b_in.T
    row_error = np.linalg.norm(approx - exact, axis=1) / np.linalg.norm(exact, axis=1)
    return PlantedError(
        kind,
        scale,
        rotated,
        bits,
        float(np.linalg.norm(approx - exact) / np.linalg.norm(exact)),
        float(np.median(row_error)),
    )


def planted_table(bits=(8, 4), size=100.0):
    """Every kind x scale x rotation x bits: the rows of the lone-vs-channel comparison."""
    return [
        planted_error(kind, scale, rotated, b, size=size)
        for b in bits
        for kind in KINDS
        for scale in ("tensor", "row")
        for rotated in (False, True)
    ]
