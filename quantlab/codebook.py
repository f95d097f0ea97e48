"""Non-uniform grids: k-means codebooks, NF4 and IQ4_NL's fixed table.

A uniform grid spaces its levels evenly; a codebook puts them where the weights are. Three ways to
choose the levels, all with the same rhythm: levels (and a scale) -> each weight's nearest level
(its code) -> dequantize -> error.
- k-means (Lloyd's algorithm) learns k levels from the weights, per tensor or per block; the
  codebook itself must then be stored (k entries at fp16 per block or per tensor).
- NF4 (QLoRA) uses 16 fixed levels at quantiles of a normal distribution, scaled per block by absmax
  (stored in fp32 as QLoRA does; normal_float_bits_per_weight prices double quantization too).
- IQ4_NL (GGML) uses 16 fixed integer levels, scaled per block by one number.
"""

from dataclasses import dataclass

import numpy as np

from ._validate import as_float_array, check_bits, divisors_near
from .floats import round_to_format
from .metrics import mse as mean_squared_error
from .uniform import quantize as quantize_uniform

# The 16 signed levels of GGML's IQ4_NL (and of IQ4_XS), scaled by one fp16 number per block of 32.
# Source: llama.cpp, ggml/src/ggml-common.h, `kvalues_iq4nl`.
IQ4_NL_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.int8)


# ---------------------------------------------------------------- input checks


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _blocks(w, group_size):
    """View weights as (n_blocks, group_size) float64; group_size=None makes the whole tensor one block.

    Blocks run along the last axis (as GGUF's do), so a block never straddles two rows.
    """
    if group_size is None:
        return w.astype(np.float64).reshape(1, -1)
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise TypeError(f"group_size must be a positive integer or None (one block per tensor), got {group_size!r}")
    if group_size < 1:
        raise ValueError(f"group_size={group_size} must be at least 1, or None for one block per tensor")
    row = w.shape[-1] if w.ndim else 1
    if row % group_size:
        suggestions = ", ".join(str(d) for d in divisors_near(row, group_size))
        raise ValueError(
            f"group_size={group_size} does not divide the rows of {row} weights; "
            f"pad the weights or pick a divisor such as {suggestions}"
        )
    return w.astype(np.float64).reshape(-1, int(group_size))


def _check_k(k, group_size):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer number of levels (e.g. 2**bits), got {k!r}")
    if k < 1:
        raise ValueError(f"k={k} must be at least 1 level")
    if k > group_size:
        raise ValueError(
            f"k={k} levels is more than the {group_size} weights per block; a codebook cannot be "
            f"learnt from fewer points than levels — use k <= {group_size} or a larger group_size"
        )
    return int(k)


def _check_importance(importance, w, n_blocks):
    """Per-weight importance (k-means sample weights) as (n_blocks, group_size) float64; None means all 1."""
    if importance is None:
        return np.ones((n_blocks, w.size // n_blocks))
    importance = as_float_array(importance, "importance")
    if importance.shape != w.shape:
        raise ValueError(
            f"importance has shape {importance.shape} but w has shape {w.shape}; give one importance per weight"
        )
    if (importance < 0).any():
        raise ValueError("importance has negative entries; importance is a weight in a weighted mean and must be >= 0")
    importance = importance.astype(np.float64).reshape(n_blocks, -1)
    total = importance.sum(axis=1)
    if not (total > 0).all():
        block = int(np.argmin(total > 0))
        raise ValueError(
            f"importance sums to 0 in block {block} (of {n_blocks}); "
            f"every block needs some positive importance to place its levels"
        )
    return importance


def _initial_codebook(init, blocks, importance, k):
    """The starting levels, sorted, (n_blocks, k): a named rule from INITS, or given levels.

    Given levels have shape (k,) for every block or (n_blocks, k), one row per block.
    """
    n_blocks = len(blocks)
    if isinstance(init, str):
        if init not in INITS:
            raise ValueError(
                f"init={init!r} is not known; choose one of {', '.join(map(repr, INITS))} or pass an array of levels"
            )
        return INITS[init](blocks, importance, k)
    init = as_float_array(init, "init").astype(np.float64)
    if init.shape == (k,):
        init = np.broadcast_to(init, (n_blocks, k))
    if init.shape != (n_blocks, k):
        raise ValueError(
            f"init has shape {init.shape}; give ({k},) levels for every block or ({n_blocks}, {k}), one row per block"
        )
    return np.sort(init, axis=1)


def _store_fp16(values, what):
    """Round numbers to fp16, the precision they are stored and counted at; refuse overflow."""
    stored = round_to_format(values, "fp16").astype(np.float64)
    if not np.isfinite(stored).all():
        raise ValueError(f"a {what} of {np.max(np.abs(values)):.3g} overflows fp16 (max 65504); rescale the weights")
    return stored


def _safe_divide(w, scale):
    """w / scale, with 0 where the scale is 0 (an all-zero block): no division by zero."""
    return np.where(scale == 0, 0.0, w / np.where(scale == 0, 1.0, scale))


# ---------------------------------------------------------------- nearest level


def _count_below(values, boundaries):
    """For each entry of `values` (n, p): how many entries in the same row of `boundaries` (n, m) are smaller.

    A np.searchsorted(boundaries, values, side='left') for every row at once: sort each row of values
    and boundaries together and count the boundaries met so far. Values come first in the merge, so a
    boundary equal to a value is not counted.
    """
    if len(values) == 1:  # one row (a whole tensor): numpy's own searchsorted, no need to sort the values
        return np.searchsorted(np.sort(boundaries[0]), values[0], side="left")[None]
    merged = np.concatenate([values, boundaries], axis=1)
    order = np.argsort(merged, axis=1, kind="stable")
    boundaries_so_far = np.cumsum(order >= values.shape[1], axis=1)
    counts = np.empty(merged.shape, dtype=np.intp)
    np.put_along_axis(counts, order, boundaries_so_far, axis=1)  # undo the sort
    return counts[:, : values.shape[1]]


def nearest_codes(blocks, levels):
    """Index of the nearest level for every weight: blocks (n_blocks, group_size), levels ascending.

    `levels` is one table shared by every block, shape (k,), or one codebook per block, (n_blocks, k).
    In 1-D the nearest level is found by counting the decision boundaries (midpoints between
    neighbouring levels) below a weight; a weight exactly on a boundary takes the lower level.
    """
    blocks = np.asarray(blocks, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim not in (1, 2) or levels.shape[-1] < 1:
        raise ValueError(f"levels has shape {levels.shape}; pass (k,) for a shared table or (n_blocks, k)")
    if not np.isfinite(levels).all():
        raise ValueError("levels contain NaN or inf; every level must be a finite number")
    if (np.diff(levels, axis=-1) < 0).any():
        raise ValueError(
            "levels must be in ascending order along the last axis; sort them with np.sort(levels, axis=-1)"
        )
    midpoints = (levels[..., 1:] + levels[..., :-1]) / 2
    if levels.ndim == 1:
        return np.searchsorted(midpoints, blocks, side="left")
    if blocks.ndim != 2 or blocks.shape[0] != levels.shape[0]:
        raise ValueError(
            f"blocks has shape {blocks.shape} but levels has {levels.shape[0]} rows; pass one codebook row per block"
        )
    return _count_below(blocks, midpoints)


# ---------------------------------------------------------------- k-means


@dataclass(frozen=True, eq=False)
class KMeansResult:
    """A learnt codebook per block (or per tensor) and each weight's code: w_hat = codebook[block, code].

    `history[t]` is the codebook after t Lloyd steps (history[0] is the initial one, history[-1] is
    `codebook`); `mse_history[t]` is the (importance-weighted) mean squared error of history[t] with
    every weight on its nearest level. `codes` always index the nearest level of `codebook`; the
    codes at step t are nearest_codes(w.reshape(-1, group_size), history[t]).
    """

    codebook: np.ndarray  # (n_blocks, k), ascending in each block
    codes: np.ndarray  # the weights' shape, unsigned ints
    history: np.ndarray  # (n_iterations + 1, n_blocks, k)
    mse_history: np.ndarray  # (n_iterations + 1,)
    group_size: int
    converged: bool  # True when a Lloyd step left every assignment unchanged
    dtype: np.dtype

    @property
    def k(self):
        return self.codebook.shape[1]

    @property
    def n_iterations(self):
        return len(self.history) - 1

    @property
    def mse(self):
        return float(self.mse_history[-1])

    @property
    def bits_per_weight(self):
        """Codes at ceil(log2 k) bits, plus k fp16 codebook entries per block (see codebook_bits_per_weight)."""
        return codebook_bits_per_weight(self.k, self.group_size)

    def dequantize(self):
        """w_hat: every weight replaced by its level, in the weights' float dtype."""
        codes = self.codes.reshape(-1, self.group_size).astype(np.intp)
        return np.take_along_axis(self.codebook, codes, axis=1).reshape(self.codes.shape).astype(self.dtype)


def _sorted_with_importance(blocks, importance):
    order = np.argsort(blocks, axis=1, kind="stable")
    return np.take_along_axis(blocks, order, axis=1), np.take_along_axis(importance, order, axis=1)


def _at_fractions(sorted_blocks, cumulative, k):
    """Where a non-decreasing `cumulative` (n, B), running from 0, reaches (i + 1/2)/k of its total.

    Linear interpolation between neighbouring sorted weights; a row with zero total (a constant
    block) gives its first weight.
    """
    targets = (np.arange(k) + 0.5) / k * cumulative[:, -1:]
    upper = np.clip(_count_below(targets, cumulative), 1, sorted_blocks.shape[1] - 1)  # first index reaching it
    lower = upper - 1
    c_low, c_high = (np.take_along_axis(cumulative, i, axis=1) for i in (lower, upper))
    x_low, x_high = (np.take_along_axis(sorted_blocks, i, axis=1) for i in (lower, upper))
    fraction = _safe_divide(targets - c_low, c_high - c_low)
    return np.clip(x_low + fraction * (x_high - x_low), x_low, x_high)  # clip: rounding must not unsort


def cube_root_init(blocks, importance, k):
    """Initial levels spread with density proportional to p(x)^(1/3), per block.

    For squared error and many levels, the best level density is p^(1/3) (Panter & Dite, 1951): denser
    where weights are dense, but less so than the weights themselves, so the tails get more levels than
    their share of weights. p is estimated from the sorted weights: the gap between neighbours holding
    importance m gets measure m^(1/3) * gap^(2/3) (its length times density^(1/3)).
    """
    if blocks.shape[1] == 1:
        return blocks.copy()
    sorted_blocks, sorted_importance = _sorted_with_importance(blocks, importance)
    gap = np.diff(sorted_blocks, axis=1)
    mass = (sorted_importance[:, 1:] + sorted_importance[:, :-1]) / 2
    measure = np.cbrt(mass) * np.cbrt(gap) ** 2
    cumulative = np.concatenate([np.zeros((len(blocks), 1)), np.cumsum(measure, axis=1)], axis=1)
    return _at_fractions(sorted_blocks, cumulative, k)


def quantile_init(blocks, importance, k):
    """Initial levels at the (i + 1/2)/k quantiles of each block's importance-weighted distribution.

    The obvious choice (levels where the weights are), and fine for a whole tensor; in small blocks it
    crowds the middle and Lloyd's algorithm then stalls in a poor local minimum (see cube_root_init).
    """
    if blocks.shape[1] == 1:
        return blocks.copy()
    sorted_blocks, sorted_importance = _sorted_with_importance(blocks, importance)
    share = (sorted_importance[:, 1:] + sorted_importance[:, :-1]) / 2  # importance between neighbours
    cumulative = np.concatenate([np.zeros((len(blocks), 1)), np.cumsum(share, axis=1)], axis=1)
    return _at_fractions(sorted_blocks, cumulative, k)


INITS = {"cube-root": cube_root_init, "quantile": quantile_init}


def _weighted_mse(blocks, importance, codebook, codes):
    error = blocks - np.take_along_axis(codebook, codes, axis=1)
    return float(np.sum(importance * error**2) / np.sum(importance))


def _lloyd_step(blocks, importance, codebook, codes):
    """Move every level to the importance-weighted mean of the weights assigned to it.

    Written as level + mean error of its members: the same mean, but exact for a level that already
    sits on its members (a constant block stays exactly constant). A level with no members (or only
    zero-importance ones) stays where it is, as scipy's kmeans2 does.
    """
    n_blocks, k = codebook.shape
    error = blocks - np.take_along_axis(codebook, codes, axis=1)
    slot = (codes + k * np.arange(n_blocks)[:, None]).ravel()  # which (block, level) each weight feeds
    mass = np.bincount(slot, weights=importance.ravel(), minlength=n_blocks * k).reshape(n_blocks, k)
    pull = np.bincount(slot, weights=(importance * error).ravel(), minlength=n_blocks * k).reshape(n_blocks, k)
    shift = np.where(mass > 0, pull / np.where(mass > 0, mass, 1.0), 0.0)
    return np.sort(codebook + shift, axis=1)  # means of ordered intervals are ordered; sort guards rounding


def kmeans(w, k, group_size=None, *, importance=None, init="cube-root", max_iter=100):
    """Learn k levels per block (or per tensor) by weighted Lloyd iterations, vectorized over blocks.

    Start (`init`): "cube-root" spreads levels with density p^(1/3), the high-resolution optimum;
    "quantile" puts them at the weights' quantiles; both are deterministic and use the importance.
    Or pass levels, shape (k,) or (n_blocks, k). Each step assigns every weight to its nearest
    level, then moves each level to the importance-weighted mean of its weights, so the weighted MSE
    never increases. Stops when no assignment changes or after `max_iter` steps.

    Edge cases: a level no weight picks stays where it was (as in scipy's kmeans2); k > weights per
    block is a ValueError; a block with fewer distinct values than k leaves levels unused (a constant
    or all-zero block gets k equal levels and is reproduced exactly); spare levels are still stored.
    """
    w = as_float_array(w, "w")
    blocks = _blocks(w, group_size)
    k = _check_k(k, blocks.shape[1])
    importance = _check_importance(importance, w, len(blocks))
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"max_iter={max_iter!r} must be a non-negative integer number of Lloyd steps")

    codebook = _initial_codebook(init, blocks, importance, k)
    codes = nearest_codes(blocks, codebook)
    history, mse_history = [codebook], [_weighted_mse(blocks, importance, codebook, codes)]
    converged = False
    for _ in range(max_iter):
        codebook = _lloyd_step(blocks, importance, codebook, codes)
        new_codes = nearest_codes(blocks, codebook)
        history.append(codebook)
        mse_history.append(_weighted_mse(blocks, importance, codebook, new_codes))
        converged = np.array_equal(new_codes, codes)
        codes = new_codes
        if converged:
            break

    return KMeansResult(
        codebook=codebook,
        codes=codes.reshape(w.shape).astype(np.min_scalar_type(k - 1)),
        history=np.stack(history),
        mse_history=np.array(mse_history),
        group_size=blocks.shape[1],
        converged=converged,
        dtype=w.dtype,
    )


# ---------------------------------------------------------------- fixed tables: NF4 and IQ4_NL


def normal_float_levels(bits=4):
    """The 2^bits NormalFloat levels of QLoRA (Dettmers et al. 2023): NF4 for bits=4.

    Quantiles of N(0, 1) at evenly spaced probabilities from 1/2 up to `offset`: 2^(bits-1) positive
    ones, 2^(bits-1) - 1 negative ones, and an exact 0, then divided by the largest so they span [-1, 1]
    (bitsandbytes' create_normal_map). offset = ((1 - 1/(2(n-1))) + (1 - 1/(2n))) / 2 with n = 2^bits
    is our reading of bitsandbytes' 0.9677083 (it reproduces that number for n = 16): it keeps the
    outermost quantile finite. For bits != 4 this is the same construction, not a published table.
    """
    from scipy.stats import norm  # imported here: scipy.stats takes a moment to load

    bits = check_bits(bits, low=2, high=8)
    n = 2**bits
    offset = ((1 - 1 / (2 * (n - 1))) + (1 - 1 / (2 * n))) / 2
    positive = norm.ppf(np.linspace(offset, 0.5, n // 2 + 1)[:-1])  # n/2 levels above 0
    negative = -norm.ppf(np.linspace(offset, 0.5, n // 2)[:-1])  # n/2 - 1 levels below 0
    levels = np.sort(np.concatenate([negative, [0.0], positive]))
    return levels / levels.max()


@dataclass(frozen=True, eq=False)
class TableResult:
    """Weights on a fixed table of levels, scaled per block: w_hat = scale[block] * levels[code]."""

    name: str
    levels: np.ndarray  # (k,), ascending, the same for every block
    scale: np.ndarray  # (n_blocks,), rounded to the precision it is stored at (scale_bits)
    codes: np.ndarray  # the weights' shape, unsigned ints
    group_size: int
    dtype: np.dtype
    scale_bits: int = 16  # 16: an fp16 scale (IQ4_NL); 32: QLoRA's fp32 absmax

    @property
    def bits_per_weight(self):
        """Codes at ceil(log2 k) bits plus one scale per block; the table is part of the format, free."""
        return codebook_bits_per_weight(len(self.levels), self.group_size, level_bits=0, scale_bits=self.scale_bits)

    def dequantize(self):
        """w_hat = scale * level, in the weights' float dtype."""
        blocks = self.levels[self.codes.reshape(-1, self.group_size)] * self.scale[:, None]
        return blocks.reshape(self.codes.shape).astype(self.dtype)


def _quantize_to_table(w, group_size, levels, scale_of, name, scale_bits=16):
    w = as_float_array(w, "w")
    blocks = _blocks(w, group_size)
    if scale_bits == 16:
        scale = _store_fp16(scale_of(blocks), "scale")
    else:  # fp32, as QLoRA stores its absmax
        scale = scale_of(blocks).astype(np.float32).astype(np.float64)
    codes = nearest_codes(_safe_divide(blocks, scale[:, None]), levels)
    return TableResult(
        name, levels, scale, codes.reshape(w.shape).astype(np.uint8), blocks.shape[1], w.dtype, scale_bits
    )


def quantize_normal_float(w, group_size=64, bits=4):
    """NF4 (by default) as in QLoRA: per block, scale = max|w| (absmax), code = nearest level of w / scale.

    The absmax is stored in fp32, as QLoRA does without double quantization (Dettmers et al. 2023,
    arXiv:2305.14314, section 3): 4 + 32/64 = 4.5 bits per weight in blocks of 64. Double
    quantization's price is normal_float_bits_per_weight(double_quant=True).
    """
    levels = normal_float_levels(bits)
    name = f"NF{bits}"
    return _quantize_to_table(w, group_size, levels, lambda blocks: np.abs(blocks).max(axis=1), name, scale_bits=32)


def normal_float_bits_per_weight(bits=4, group_size=64, double_quant=False, second_group_size=256):
    """Bits per weight of NF{bits} as QLoRA stores it: codes + fp32 absmax per block, or double-quantized.

    QLoRA, section 3 "Double Quantization": the first-level constants (one absmax per block of 64)
    cost 32/64 = 0.5 bits per weight in fp32; double quantization stores them as 8-bit floats in
    blocks of 256, each block with one fp32 second-level constant: 8/64 + 32/(64*256) = 0.127 bits.
    So NF4 costs 4.5 bits per weight, or 4.127 (exactly 4.126953125) with double quantization.
    """
    bits = check_bits(bits, low=2, high=8)
    group_size = _check_positive_int(group_size, "group_size")
    second_group_size = _check_positive_int(second_group_size, "second_group_size")
    if not isinstance(double_quant, (bool, np.bool_)):
        raise TypeError(f"double_quant={double_quant!r} must be True or False")
    if not double_quant:
        return bits + 32 / group_size
    return bits + 8 / group_size + 32 / (group_size * second_group_size)


def quantize_iq4_nl_table(w, group_size=32):
    """IQ4_NL's table used the simple way: the block's largest-magnitude weight lands on level -127.

    The table is lopsided (-127 .. 113), so scale = extreme / -127 (negative when the extreme is
    positive) puts the extreme on the longer arm exactly. The real GGUF IQ4_NL format then searches
    nearby scales and refits the scale by least squares; that bit-exact version is quantlab.ggml's.
    """

    def scale_of(blocks):
        extreme = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=1)[:, None], axis=1)[:, 0]
        return extreme / float(IQ4_NL_LEVELS[0])

    return _quantize_to_table(w, group_size, IQ4_NL_LEVELS.astype(np.float64), scale_of, "IQ4_NL")


# ---------------------------------------------------------------- storage cost and comparison


def codebook_bits_per_weight(k, group_size, *, level_bits=16, scale_bits=0):
    """Bits stored per weight by a codebook scheme: code bits + (k levels + one scale) per block.

    = ceil(log2 k) + (k * level_bits + scale_bits) / group_size
    - learnt codebooks (k-means) store their k levels, at fp16 by default: level_bits=16;
      per tensor, pass group_size = the number of weights.
    - fixed tables (NF4, IQ4_NL) live in the format, not the file: level_bits=0, scale_bits=16.
    E.g. k-means k=16 in blocks of 64: 4 + 256/64 = 8 bits; IQ4_NL: 4 + 16/32 = 4.5 bits.
    """
    k = _check_positive_int(k, "k")
    group_size = _check_positive_int(group_size, "group_size")
    for name, value in (("level_bits", level_bits), ("scale_bits", scale_bits)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name}={value!r} must be a non-negative integer number of bits")
    code_bits = (k - 1).bit_length()  # ceil(log2 k): 16 levels need 4 bits, 1 level needs none
    return code_bits + (k * level_bits + scale_bits) / group_size


@dataclass(frozen=True)
class GridScore:
    """One row of a grid comparison: a scheme's error and what it costs to store."""

    name: str
    bits: int  # bits per code
    bits_per_weight: float  # codes plus scales, zero points and codebooks
    mse: float


def compare_grids(w, bits=4, group_size=64):
    """MSE and bits per weight of four grids on the same weights and blocks (None: per tensor).

    - uniform: asymmetric min-max, fp16 scale and integer zero point per block (quantlab.uniform)
    - k-means: k = 2^bits levels learnt per block, stored (and scored) at fp16
    - NF{bits}: QLoRA's normal-quantile table with absmax scales (a published table only at bits=4)
    - IQ4_NL: always 4 bits, its table has 16 levels
    """
    w = as_float_array(w, "w")
    bits = check_bits(bits, low=2, high=8)
    uniform = quantize_uniform(w, bits, "asymmetric", group_size=group_size, scale_dtype="float16")

    learnt = kmeans(w, 2**bits, group_size)
    blocks = _blocks(w, group_size)
    stored_codebook = _store_fp16(learnt.codebook, "k-means level")
    stored_codes = nearest_codes(blocks, stored_codebook)
    kmeans_w_hat = np.take_along_axis(stored_codebook, stored_codes, axis=1).reshape(w.shape)

    normal_float = quantize_normal_float(w, group_size, bits)
    iq4_nl = quantize_iq4_nl_table(w, group_size)
    return (
        GridScore("uniform", bits, uniform.bits_per_weight, mean_squared_error(w, uniform.dequantize())),
        GridScore("k-means", bits, learnt.bits_per_weight, mean_squared_error(w, kmeans_w_hat)),
        GridScore(
            normal_float.name, bits, normal_float.bits_per_weight, mean_squared_error(w, normal_float.dequantize())
        ),
        GridScore("IQ4_NL", 4, iq4_nl.bits_per_weight, mean_squared_error(w, iq4_nl.dequantize())),
    )
