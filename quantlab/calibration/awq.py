"""AWQ (Lin et al. 2023): scale up the weights that meet large activations before rounding them.

For a linear layer y = W x, any per-input-channel s > 0 gives the same layer as
W' = W diag(s) fed with x / s. Rounding W' instead of W shrinks the *relative* rounding error of
the columns scaled up, and those are chosen by the activations: with stat_j = mean_t |x_tj|
(the reference's get_act_scale),

    s(alpha) = stat^alpha, clamped below at 1e-4, divided by sqrt(max(s) * min(s))

and alpha on a grid of 20 values 0, 0.05, ..., 0.95 (never 1: range(20) / 20), each scored by the
output error ||W X - Q(W diag(s)) diag(s)^-1 X||^2 on the calibration inputs; the lowest wins
(the first, on a tie). alpha = 0 gives s = 1: plain round-to-nearest. Dividing x by s is
not done at run time: diag(s)^-1 is folded into what produces x, a norm's gain (and bias) or the
rows of the previous linear layer (fold_into_norm, fold_into_linear).
The optional clipping search (auto_clip) then shrinks each group's range: max|w| * (1 - i/20) for
i = 0..9, keeping per row and group the one of least error in that group's share of the output.
Layers that share an input (q, k and v after one norm; gate and up) share one s in the reference:
pass them stacked, np.vstack([w_q, w_k, w_v]), since grids are per row the stack quantizes as
each layer alone and its output error is their sum (the reference scores the whole attention
block's output instead). Where s folds: a norm's gain for q/k/v, ffn_up and the output head; the
rows of v for the attention output; a GELU cannot absorb it, so the reference divides its output
at run time (ScaledActivation) for ffn_down.
Reference: mit-han-lab/llm-awq, awq/quantize/auto_scale.py and auto_clip.py. Grids are
quantlab.uniform's (asymmetric by default, as the reference's zero_point=True).
"""

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_bits, check_group_size
from .base import as_inputs, as_weight, round_to_nearest
from .objective import LayerObjective

N_GRID = 20  # alpha = 0, 1/20, ..., 19/20
MIN_SCALE = 1e-4  # the reference clamps stat^alpha below at 1e-4


@dataclass(frozen=True)
class AWQResult:
    """The chosen scales and what the search saw.

    weight: the effective W_hat = Q(W diag(s)) diag(s)^-1 (out x in), what the layer computes with
        on the original inputs; scaled_weight: Q(W diag(s)), what is stored once s is folded upstream.
    scales: s (in,); alpha: the chosen alpha; alphas, errors: the whole curve (output error per
    alpha, for plotting); clip: per (row, group) max |w| kept by auto_clip, or None.
    """

    weight: np.ndarray
    scaled_weight: np.ndarray
    scales: np.ndarray
    alpha: float
    alphas: np.ndarray
    errors: np.ndarray
    clip: np.ndarray | None


def activation_statistic(inputs):
    """Per input channel, mean |x| over tokens (the reference's get_act_scale)."""
    return np.mean(np.abs(as_inputs(inputs)), axis=0)


def scales_for(statistic, alpha):
    """s = stat^alpha clamped at 1e-4, normalised by sqrt(max(s) * min(s)) so that it centres on 1."""
    scales = np.maximum(np.asarray(statistic, dtype=np.float64) ** alpha, MIN_SCALE)
    return scales / np.sqrt(scales.max() * scales.min())


def _check(weight, inputs, bits, group_size):
    weight = as_weight(weight)
    inputs = as_inputs(inputs, weight.shape[1])
    check_bits(bits)
    if group_size is not None:
        check_group_size(group_size, weight.shape[1], 1)
    return weight, inputs


def quantize_scaled(weight, scales, bits=4, scheme="asymmetric", group_size=None, clip=None, **grid_options):
    """Q(W diag(s)) and the effective weight Q(W diag(s)) diag(s)^-1 that acts on the original x.

    clip: optional per (row, group) limits from search_clip, applied to W diag(s) before rounding.
    """
    scaled = scale_weight(weight, scales)
    if clip is not None:
        scaled = _clamp_groups(scaled, clip, group_size)
    quantized = round_to_nearest(scaled, bits, scheme, group_size, **grid_options)
    return quantized, quantized / np.asarray(scales, dtype=np.float64)[None, :]


def awq(
    weight, inputs, bits=4, scheme="asymmetric", group_size=None, auto_clip=False, n_sample_tokens=512, **grid_options
):
    """Search AWQ's per-channel scales for a layer weight (out x in) on inputs (n_tokens, in).

    Returns an AWQResult; fold result.scales into the previous operation with fold_into_norm or
    fold_into_linear, and store result.scaled_weight.
    """
    weight, inputs = _check(weight, inputs, bits, group_size)
    statistic = np.mean(np.abs(inputs), axis=0)
    alphas = np.arange(N_GRID) / N_GRID
    errors = np.empty(N_GRID)
    objective = LayerObjective(weight, inputs)
    for k, alpha in enumerate(alphas):
        _, effective = quantize_scaled(weight, scales_for(statistic, alpha), bits, scheme, group_size, **grid_options)
        errors[k] = objective(effective).total
    best = int(np.argmin(errors))  # first minimum, as `loss < best_error`
    scales = scales_for(statistic, alphas[best])
    clip = None
    if auto_clip:
        clip = search_clip(
            weight * scales[None, :],
            inputs / scales[None, :],
            bits,
            scheme,
            group_size,
            n_sample_tokens,
            **grid_options,
        )
    scaled, effective = quantize_scaled(weight, scales, bits, scheme, group_size, clip, **grid_options)
    return AWQResult(
        weight=effective,
        scaled_weight=scaled,
        scales=scales,
        alpha=float(alphas[best]),
        alphas=alphas,
        errors=errors,
        clip=clip,
    )


def _clamp_groups(weight, clip, group_size):
    out, width = weight.shape
    group = width if group_size is None else group_size
    grouped = weight.reshape(out, width // group, group)
    return np.clip(grouped, -clip[..., None], clip[..., None]).reshape(out, width)


def search_clip(
    weight,
    inputs,
    bits=4,
    scheme="asymmetric",
    group_size=None,
    n_sample_tokens=512,
    n_grid=N_GRID,
    max_shrink=0.5,
    **grid_options,
):
    """AWQ's auto_clip: per row and group, the max |w| (shrunk by 1 - i/n_grid) of least output error.

    weight and inputs are those the quantizer will see (already scaled: W diag(s) and X / s). The
    error of a group is that of its share of the output, sum over the group of x_j w_ij, averaged
    over every (n_tokens // n_sample_tokens)-th token, as the reference does. Returns (out, n_groups).
    """
    weight, inputs = _check(weight, inputs, bits, group_size)
    out, width = weight.shape
    group = width if group_size is None else group_size
    step = max(len(inputs) // n_sample_tokens, 1)
    tokens = inputs[::step].reshape(-1, width // group, group)  # (t, n_groups, g)
    grouped = weight.reshape(out, width // group, group)  # (out, n_groups, g)
    original = np.einsum("tkg,okg->otk", tokens, grouped)
    top = np.abs(grouped).max(axis=-1)  # (out, n_groups)
    best, best_error = top.copy(), np.full(top.shape, np.inf)
    for i in range(int(max_shrink * n_grid)):
        limit = top * (1 - i / n_grid)
        clamped = np.clip(grouped, -limit[..., None], limit[..., None]).reshape(out, width)
        quantized = round_to_nearest(clamped, bits, scheme, group_size, **grid_options)
        output = np.einsum("tkg,okg->otk", tokens, quantized.reshape(grouped.shape))
        error = np.mean((output - original) ** 2, axis=1)  # (out, n_groups)
        better = error < best_error
        best_error[better], best[better] = error[better], limit[better]
    return best


# ---------------------------------------------------------------- folding diag(s)^-1 upstream


def fold_into_norm(gain, scales, bias=None):
    """A norm's gain (and bias) divided by s: the norm now outputs x / s. Returns (gain, bias)."""
    gain, scales = _vector(gain, "gain"), _vector(scales, "scales")
    _same_length(gain, scales, "gain")
    new_bias = None if bias is None else _vector(bias, "bias") / scales
    return gain / scales, new_bias


def fold_into_linear(weight, scales, bias=None):
    """The previous linear layer's rows (and bias) divided by s: it now outputs x / s. Returns (weight, bias)."""
    weight, scales = as_weight(weight, "weight"), _vector(scales, "scales")
    if weight.shape[0] != scales.size:
        raise ValueError(
            f"weight has {weight.shape[0]} output rows but scales has {scales.size} entries; "
            f"fold into the layer whose outputs feed the scaled layer's inputs"
        )
    new_bias = None if bias is None else _vector(bias, "bias") / scales
    return weight / scales[:, None], new_bias


def scale_weight(weight, scales):
    """W diag(s): the layer that consumes x / s computes the same y."""
    weight, scales = as_weight(weight), _vector(scales, "scales")
    if weight.shape[1] != scales.size:
        raise ValueError(f"weight has {weight.shape[1]} input columns but scales has {scales.size} entries")
    return weight * scales[None, :]


def _vector(values, name):
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, one entry per channel; got shape {array.shape}")
    array = as_float_array(array, name).astype(np.float64)
    if name == "scales" and not (array > 0).all():
        raise ValueError("scales must all be > 0 (AWQ's s is stat^alpha clamped at 1e-4, normalised)")
    return array


def _same_length(vector, scales, name):
    if vector.size != scales.size:
        raise ValueError(f"{name} has {vector.size} entries but scales has {scales.size}; one scale per channel")
