"""llama.cpp's own types on the same weights as notebook 05's grids, each at its exact bits per weight.

codebook_tradeoff sweeps textbook grids (uniform, k-means, NF, IQ4_NL's table) over bits and block
sizes; here every GGML type quantizes the same weights with llama.cpp's own algorithm (quantlab.ggml,
byte-identical to libgguf), and each is set beside the best swept grid of each family that fits
within the type's bits per weight: the honest comparison at equal budget.

    rows = type_scores(w)                 # TypeScore per type: bits per weight, MSE, imatrix used
    print(types_text(w, points))          # points: codebook_tradeoff.sweep_grids(w), reused if given

Importance matrix: weights alone come with no activations. llama.cpp refuses IQ2_XXS, IQ2_XS and
IQ1_S without one; they get all ones (every input column equally important: inputs of unit variance),
which llama.cpp accepts. Every other type runs without one, as llama-quantize does by default.
"""

from dataclasses import dataclass

import numpy as np

from .. import codebook_tradeoff
from .._validate import as_float_array
from . import dequantize, format_info, quantize
from .formats_tour import imatrix_use

# Ordered by bits per weight; BF16 (16 bits) is left out: it is a float format, not a grid (notebook 01).
TYPES = (
    "Q4_K",
    "Q4_0",
    "IQ4_NL",
    "NVFP4",
    "IQ4_XS",
    "MXFP4",
    "Q3_K",
    "IQ3_S",
    "IQ3_XXS",
    "Q2_K",
    "IQ2_S",
    "IQ2_XS",
    "IQ2_XXS",
    "TQ2_0",
    "IQ1_M",
    "TQ1_0",
    "IQ1_S",
)


@dataclass(frozen=True)
class TypeScore:
    """One GGML type on the weights: its exact bits per weight, the MSE of what llama.cpp reads back."""

    name: str
    bits_per_weight: float
    mse: float
    imatrix: str  # "none" or "ones" (required by llama.cpp, no activations to collect it from)


def type_scores(w, types=TYPES):
    """TypeScore of each type on 1-D weights w (a multiple of 256), most bits first."""
    w = as_float_array(w, "w")
    if w.ndim != 1 or w.size % 256:
        raise ValueError(
            f"w must be 1-D with a multiple of 256 weights (the K- and i-quants' block), got shape {w.shape}"
        )
    w = w.astype(np.float32)
    scores = []
    for type_name in types:
        name = format_info(type_name).name
        ones = imatrix_use(name) == "required"
        data = quantize(w, name, imatrix=np.ones(w.size, np.float32) if ones else None)
        w_hat = dequantize(data, name)
        mse = float(np.mean((w.astype(np.float64) - w_hat) ** 2))
        scores.append(TypeScore(name, format_info(name).bits_per_weight, mse, "ones" if ones else "none"))
    return sorted(scores, key=lambda s: -s.bits_per_weight)


def types_text(w, points=None, types=TYPES):
    """Text: each type's MSE / var(w) at its bits per weight, then the best swept grid of each family within them.

    points: codebook_tradeoff.sweep_grids(w) (computed if not given). A grid cell reads
    `relative MSE @its bits per weight` (codebook_tradeoff.budget_table tells its bits and block); '-': none fits.
    """
    w = as_float_array(w, "w")
    points = codebook_tradeoff.sweep_grids(w) if points is None else points
    variance = float(np.var(w.astype(np.float64)))

    def cell(point):
        if point is None:
            return "-"
        return f"{codebook_tradeoff.format_relative(point['mse'] / variance)} @{point['bits_per_weight']:.2f}"

    grids = codebook_tradeoff.GRIDS
    lines = [f"{'type':<8}{'bits/w':>7}  {'MSE/var':<9}{'imatrix':<8}| " + "".join(f"{g:<15}" for g in grids)]
    for score in type_scores(w, types):
        best = codebook_tradeoff.best_within_budget(points, score.bits_per_weight)
        lines.append(
            f"{score.name:<8}{score.bits_per_weight:>7.4g}  {codebook_tradeoff.format_relative(score.mse / variance):<9}"
            f"{score.imatrix:<8}| " + "".join(f"{cell(best[grid]):<15}" for grid in grids)
        )
    return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class OutlierBlock:
    """What one type does to the 32 weights around a row's largest |w| (the sub-block that holds it)."""

    name: str
    outlier: float  # the largest |w| ...
    outlier_read_back: float  # ... and what the type reads back there
    neighbours_mean_abs: float  # mean |w| of the other 31 weights of its sub-block of 32
    neighbours_read_back_mean_abs: float  # mean |w_hat| of those 31
    error_share: float  # share of the row's squared error that lies in this sub-block


def outlier_blocks(w, types):
    """OutlierBlock per type on 1-D weights w (a multiple of 256): where a grid without zero hurts."""
    w = as_float_array(w, "w").astype(np.float32)
    if w.ndim != 1 or w.size % 256:
        raise ValueError(f"w must be 1-D with a multiple of 256 weights, got shape {w.shape}")
    index = int(np.argmax(np.abs(w)))
    block = slice(index // 32 * 32, index // 32 * 32 + 32)
    others = np.arange(block.start, block.stop) != index
    rows = []
    for type_name in types:
        name = format_info(type_name).name
        ones = imatrix_use(name) == "required"
        w_hat = dequantize(quantize(w, name, imatrix=np.ones(w.size, np.float32) if ones else None), name)
        error = (w.astype(np.float64) - w_hat) ** 2
        rows.append(
            OutlierBlock(
                name,
                float(w[index]),
                float(w_hat[index]),
                float(np.abs(w[block][others]).mean()),
                float(np.abs(w_hat[block][others]).mean()),
                float(error[block].sum() / error.sum()),
            )
        )
    return rows


def outlier_text(w, types):
    """outlier_blocks as text: one line per type."""
    lines = []
    for row in outlier_blocks(w, types):
        lines.append(
            f"{row.name:<8} outlier {row.outlier:+.2f} read back {row.outlier_read_back:+.2f}; its 31 neighbours: "
            f"mean |w| {row.neighbours_mean_abs:.3f} read back as {row.neighbours_read_back_mean_abs:.3f}; "
            f"{row.error_share:.0%} of the row's error"
        )
    return "\n".join(lines)
