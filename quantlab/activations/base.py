"""Input checks shared by the activation modules: a 2-D float input and a weight that fits it."""

import numpy as np

from .._validate import as_float_array  # re-exported: the folder's one door to the core checks

__all__ = ["as_float_array", "as_matrix", "check_bits", "check_linear"]


def as_matrix(x, name="x"):
    """`x` as a float (rows, features) array: one row per token, one column per feature (channel)."""
    array = np.asarray(x)
    if array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
        finite = np.isfinite(array)
        index = tuple(int(i) for i in np.unravel_index(np.argmin(finite), array.shape))
        raise ValueError(
            f"{name} contains {array[index]} at index {index} ({np.count_nonzero(~finite)} non-finite "
            f"values); scales and outlier tests need finite numbers. A NaN/inf activation usually comes "
            f"from an overflow upstream (float16 stops at 65504): find it, or np.nan_to_num({name})"
        )
    x = as_float_array(array, name)
    if x.ndim != 2:
        raise ValueError(
            f"{name} has shape {x.shape}; pass a 2-D (tokens, features) array, "
            f"e.g. {name}.reshape(-1, {name}.shape[-1])"
        )
    return x


def check_linear(x, weight, bias=None):
    """Check that x (tokens, in) fits weight (out, in), PyTorch's layout, and bias (out,); return all three."""
    x, weight = as_matrix(x, "x"), as_matrix(weight, "weight")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features but weight has shape {weight.shape} (out, in), expecting "
            f"in = {x.shape[1]}; pass the weight in PyTorch layout (out_features, in_features)"
        )
    if bias is not None:
        bias = as_float_array(bias, "bias")
        if bias.shape != (weight.shape[0],):
            raise ValueError(
                f"bias has shape {bias.shape}; a weight of shape {weight.shape} needs ({weight.shape[0]},)"
            )
    return x, weight, bias


def check_bits(bits, name):
    """A bit width from 2 to 8 (int8 codes hold them all)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 8:
        raise ValueError(f"{name}={bits!r} must be an integer from 2 to 8, e.g. 8 (W8A8) or 4 (W4A4)")
    return int(bits)
