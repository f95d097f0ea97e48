"""LLM.int8()'s mixed-precision decomposition (Dettmers et al. 2022): outlier features in float, the rest int8.

    X W^T = X[:, O] W[:, O]^T  +  X[:, ~O] W[:, ~O]^T
            (float matmul)        (int8: row-wise scales for X, one per output channel for W)
O is the set of feature columns in which any token has |x| >= threshold (6.0 in the paper). The
paper keeps those columns of X and W in fp16; bitsandbytes, without fp16 weights, recovers W's
outlier columns from its int8 copy instead. Here they stay in the input's own float precision.
"""

from dataclasses import dataclass

import numpy as np

from .base import check_linear
from .w8a8 import exact_integer_sums, quantize_activations, quantize_weight

THRESHOLD = 6.0


def check_threshold(threshold):
    """A positive, finite magnitude threshold."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float, np.floating, np.integer))
        or not np.isfinite(threshold)
        or threshold <= 0
    ):
        raise ValueError(f"threshold={threshold!r} must be a positive number, e.g. 6.0 (LLM.int8()'s default)")
    return float(threshold)


def outlier_columns(x, threshold=THRESHOLD):
    """Boolean mask over x's features: True where any token reaches |x| >= threshold."""
    return (np.abs(x) >= check_threshold(threshold)).any(axis=0)


@dataclass(frozen=True)
class Decomposed:
    """The output of one decomposed matmul and what went where."""

    output: np.ndarray  # (tokens, out) float32
    outlier_columns: np.ndarray  # (in,) bool: the features multiplied in float
    int8_share: float  # share of the multiply-adds done in int8: 1 - |O| / in


def decomposed_linear(x, weight, bias=None, threshold=THRESHOLD, activation_bits=8, weight_bits=8):
    """x W^T + b the LLM.int8() way: outlier columns in float, the others quantized vector-wise.

    The paper's method is 8 and 8 bits; other widths (W4A4 with the same decomposition) are for comparison.
    """
    x, weight, bias = check_linear(x, weight, bias)
    outliers = outlier_columns(x, threshold)
    y = x[:, outliers] @ weight[:, outliers].T
    regular = ~outliers
    if regular.any():
        codes_x, scale_x = quantize_activations(x[:, regular], activation_bits, "token")
        codes_w, scale_w = quantize_weight(weight[:, regular], weight_bits)
        y = y + exact_integer_sums(codes_x, codes_w) * scale_x * scale_w.T
    y = y.astype(np.float32)
    return Decomposed(y if bias is None else y + bias, outliers, float(regular.mean()))
