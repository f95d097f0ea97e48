"""SmoothQuant (Xiao et al. 2022): move the difficulty from activations to weights by a per-channel scale.

    s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)       j: input channel; W_j: the weights that multiply x_j
    X W^T = (X diag(s)^-1) (W diag(s))^T               exactly, before quantization
Large activation channels are divided down and their weights scaled up by the same factor.
The division is free when folded into whatever produced X: a LayerNorm/RMSNorm (its gain and bias
divided by s) or a previous linear layer with nothing non-linear between (its output rows divided by s).
alpha = 0.5 splits the difficulty evenly; larger alpha moves more of it to the weights.
"""

import numpy as np

from .base import as_float_array, as_matrix, check_linear


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha!r} must be a number from 0 to 1, e.g. 0.5 (the paper's default for OPT)")
    return float(alpha)


def _check_scales(scales, width, name="scales"):
    scales = as_float_array(scales, name)
    if scales.shape != (width,):
        raise ValueError(f"{name} has shape {scales.shape}; one scale per input channel needs ({width},)")
    if (scales <= 0).any():
        raise ValueError(f"{name} has {int((scales <= 0).sum())} non-positive value(s); smoothing scales must be > 0")
    return scales


def smoothing_scales(activation_absmax, weight, alpha=0.5):
    """s_j = max|X_j|^alpha / max|W_j|^(1-alpha) for every input channel j of weight (out, in).

    activation_absmax: max |x_j| per input channel over calibration tokens (stats.channel_absmax).
    A channel that is all zero in X or in W has nothing to migrate (and would give 0 or inf): s_j = 1.
    """
    alpha = _check_alpha(alpha)
    weight = as_matrix(weight, "weight")
    activation_absmax = as_float_array(activation_absmax, "activation_absmax")
    if activation_absmax.shape != (weight.shape[1],):
        raise ValueError(
            f"activation_absmax has shape {activation_absmax.shape}; weight {weight.shape} (out, in) "
            f"needs one value per input channel, shape ({weight.shape[1]},)"
        )
    if (activation_absmax < 0).any():
        raise ValueError("activation_absmax has negative values; pass max |x| per channel (stats.channel_absmax)")
    weight_absmax = np.abs(weight).max(axis=0).astype(np.float64)
    a = activation_absmax.astype(np.float64)
    usable = (a > 0) & (weight_absmax > 0)
    scales = np.ones_like(a)
    scales[usable] = a[usable] ** alpha / weight_absmax[usable] ** (1 - alpha)
    return scales.astype(weight.dtype)


def smooth(x, weight, scales):
    """(x / s, W * s): the pair the quantizers see; their product equals x W^T."""
    x, weight, _ = check_linear(x, weight)
    scales = _check_scales(scales, weight.shape[1])
    return x / scales, weight * scales


def fold_into_norm(gain, bias, scales):
    """A norm's (gain / s, bias / s): its output comes out already divided by s (bias may be None, as in RMSNorm)."""
    gain = as_float_array(gain, "gain")
    if gain.ndim != 1:
        raise ValueError(f"gain has shape {gain.shape}; a norm's gain is one number per channel, a 1-D array")
    scales = _check_scales(scales, gain.shape[0])
    if bias is None:
        return gain / scales, None
    bias = as_float_array(bias, "bias")
    if bias.shape != gain.shape:
        raise ValueError(f"bias has shape {bias.shape} but gain has {gain.shape}; a norm has one of each per channel")
    return gain / scales, bias / scales


def fold_into_linear(weight, bias, scales):
    """A previous linear's (W / s[:, None], b / s): its output channel j comes out divided by s_j."""
    weight = as_matrix(weight, "weight")
    scales = _check_scales(scales, weight.shape[0])
    return weight / scales[:, None], None if bias is None else as_float_array(bias, "bias") / scales


def fold_into_next(weight, scales):
    """The next linear's W * s (columns scaled): it reads x / s and gives x W^T back."""
    weight = as_matrix(weight, "weight")
    return weight * _check_scales(scales, weight.shape[1])
