"""Activation quantization (W8A8 and friends): int codes for x and W, an integer matmul, one rescale.

A linear layer y = x W^T becomes, with symmetric absmax scales (codes in [-qmax, qmax], qmax = 2^(b-1) - 1)
    x ~ scale_x * codes_x      per tensor (one scale), per token (one per row of x) or per channel
    W ~ scale_w * codes_w      per output channel (one scale per row of W), or one per tensor
    y ~ (codes_x @ codes_w^T) * scale_x[token] * scale_w[out]     integer sums, rescaled once
The rescale factors out of the sum only when the scales sit on the outer axes (tokens, output
channels). A per-(input-)channel activation scale sits on the summed axis, so no integer matmul
can use it (SmoothQuant, Xiao et al. 2022, sec. 3); here it is simulated: dequantize, then multiply in float.
"""

import numpy as np

from .base import as_matrix, check_bits, check_linear

GRANULARITIES = ("tensor", "token", "channel")


def quantize_symmetric(x, bits=8, axis=None):
    """(codes as int8, scale): absmax scale over `axis` (None: the whole tensor), round to nearest, clamp.

    axis=1 gives one scale per row (per token of x, per output channel of W); axis=0 one per column.
    An all-zero slice gets scale 1 (its codes are 0), so nothing divides by zero.
    """
    qmax = 2 ** (check_bits(bits, "bits") - 1) - 1
    absmax = np.abs(x).max(axis=axis, keepdims=axis is not None)
    scale = np.where(absmax > 0, absmax / qmax, 1).astype(x.dtype)
    codes = np.clip(np.rint(x / scale), -qmax, qmax).astype(np.int8)
    return codes, scale


def quantize_activations(x, bits=8, granularity="token"):
    """(codes, scale) of x (tokens, features): scale shape () per tensor, (tokens, 1) per token, (1, features) per channel."""
    x = as_matrix(x)
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity={granularity!r}; choose one of {GRANULARITIES}")
    axis = {"tensor": None, "token": 1, "channel": 0}[granularity]
    return quantize_symmetric(x, bits, axis)


WEIGHT_GRANULARITIES = ("channel", "tensor")


def quantize_weight(weight, bits=8, granularity="channel"):
    """(codes, scale) of weight (out, in): one scale per output channel (row), shape (out, 1), or one per tensor.

    Per channel is what LLM.int8() (vector-wise) and QuaRot use; SmoothQuant's paper quantizes weights
    per tensor (its Table 2), the coarsest choice an int8 GEMM allows.
    """
    if granularity not in WEIGHT_GRANULARITIES:
        raise ValueError(f"weight granularity={granularity!r}; choose one of {WEIGHT_GRANULARITIES}")
    return quantize_symmetric(as_matrix(weight, "weight"), bits, axis=1 if granularity == "channel" else None)


def integer_matmul_reference(codes_a, codes_b):
    """codes_a @ codes_b.T summed in int32, as an int8 GEMM accumulates (int64 if int32 could overflow)."""
    bound = codes_a.shape[1] * 127 * 127
    accumulator = np.int32 if bound < 2**31 else np.int64
    return codes_a.astype(accumulator) @ codes_b.T.astype(accumulator)


def exact_integer_sums(codes_a, codes_b):
    """codes_a @ codes_b.T through BLAS, as floats that hold the integer sums exactly.

    Each product is at most qmax_a * qmax_b and a sum has k terms, so |partial sum| <= k qmax_a qmax_b.
    float32 holds every integer up to 2^24, float64 up to 2^53: the cheaper one that is exact is used
    (numpy's own integer matmul does not use BLAS and is far slower).
    """
    if codes_a.shape[1] != codes_b.shape[1]:
        raise ValueError(
            f"codes_a has {codes_a.shape[1]} columns but codes_b has {codes_b.shape[1]}; both must be (rows, k)"
        )
    bound = codes_a.shape[1] * int(np.abs(codes_a).max(initial=0)) * int(np.abs(codes_b).max(initial=0))
    if bound >= 2**53:  # k > 5.6e11 at 8 bits: no layer is that wide
        raise ValueError(f"sums of {codes_a.shape[1]} products may exceed 2^53; use integer_matmul_reference")
    dtype = np.float32 if bound < 2**24 else np.float64
    return codes_a.astype(dtype) @ codes_b.T.astype(dtype)


def integer_matmul(codes_a, codes_b):
    """codes_a @ codes_b.T as int64, computed exactly by exact_integer_sums (equal to integer_matmul_reference)."""
    return exact_integer_sums(codes_a, codes_b).astype(np.int64)


def quantized_linear(
    x, weight, bias=None, activation_bits=8, weight_bits=8, granularity="token", weight_granularity="channel"
):
    """x W^T + b with x quantized per `granularity` and W per `weight_granularity`; float32 (tokens, out)."""
    x, weight, bias = check_linear(x, weight, bias)
    codes_x, scale_x = quantize_activations(x, activation_bits, granularity)
    codes_w, scale_w = quantize_weight(weight, weight_bits, weight_granularity)
    if granularity == "channel":  # the scale is on the summed axis: no integer matmul can use it
        y = (codes_x * scale_x) @ (codes_w * scale_w).T
    else:  # integer sums, then one rescale per (token, output channel)
        sums = exact_integer_sums(codes_x, codes_w)
        y = sums * scale_x.astype(sums.dtype)
        y *= scale_w.T.astype(sums.dtype)
    y = y.astype(np.float32, copy=False)
    return y if bias is None else y + bias
