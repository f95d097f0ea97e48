"""Shared by the calibration methods: checks of a layer's weight and of its calibration inputs."""

import numpy as np

from .. import uniform
from .._validate import as_float_array


def as_weight(weight, name="weight"):
    """A linear layer's weight as float64 (out_features, in_features), or a clear error."""
    array = as_float_array(weight, name)
    if array.ndim != 2:
        raise ValueError(
            f"{name} has shape {array.shape}; pass a linear layer's 2-D weight (out_features, in_features)"
        )
    return array.astype(np.float64)


def as_inputs(inputs, in_features=None, name="inputs"):
    """Calibration inputs as float64 (n_tokens, in_features), one row per token, or a clear error.

    3-D inputs (batch, sequence, features) are flattened to tokens, as the references do.
    """
    array = as_float_array(inputs, name)
    if array.ndim == 3:
        array = array.reshape(-1, array.shape[-1])
    if array.ndim != 2:
        raise ValueError(
            f"{name} has shape {array.shape}; pass one row per token, (n_tokens, "
            f"in_features) (or (batch, sequence, in_features))"
        )
    if in_features is not None and array.shape[1] != in_features:
        raise ValueError(
            f"{name} has {array.shape[1]} features per token but the weight has "
            f"{in_features} input features (columns); pass the activations that enter "
            f"this layer, shape (n_tokens, {in_features})"
        )
    return array.astype(np.float64)


def round_to_nearest(weight, bits=4, scheme="asymmetric", group_size=None, **grid_options):
    """Round-to-nearest, the baseline of every method here: W_hat (out x in) on quantlab.uniform grids.

    One grid per row (group_size None) or per row and run of group_size columns: the very grids
    GPTQ and AWQ use, so any difference in output error comes from the method, not the grid.
    """
    weight = as_weight(weight)
    if group_size is None:
        return uniform.fake_quantize(weight, bits, scheme, axis=1, **grid_options)
    return uniform.fake_quantize(weight, bits, scheme, group_size=group_size, axis=1, **grid_options)
