"""The vector-codebook i-quants (IQ3_S, ...): groups of weights rounded to points of a fixed grid.

Every i-quant follows the same rhythm, per sub-block of 32 weights (see quantlab.ggml.iquants_grids
for what the grids are):
1. split signs from magnitudes: xval = |x|, one sign bit per weight;
2. weights of the fit: x^2, or with an imatrix qw * sqrt(sigma2 + x^2) (sigma2 = 2 mean x^2 per 256);
3. try a ladder of scales; for each, round every group of magnitudes to lattice levels
   l = nearest_int((xval / scale - 1) / 2); if that lattice point is not in the grid, take the best
   of its precomputed grid neighbours (least weighted squared error at this scale); fit the
   least-squares scale sum(w x q) / sum(w q^2) and keep the try that scores best;
4. store the grid indices, the signs, and the sub-block scale as a few bits under one fp16 d.
The search is vectorized over all sub-blocks and all tries at once; `best_neighbour_reference`
is the plain loop that the vectorized neighbour search is tested against.

Not reproduced: weights so large (|x| above about 1e12) that the fit's sums x^2 * x * q overflow
float32; llama.cpp then compares inf and nan scores, and its bytes are an accident of that.
"""

from dataclasses import dataclass

import numpy as np

from .fp16 import fp16_from_bytes, fp16_to_bytes, round_half_to_even, sum_in_order
from . import kquants_search
from .iquants_grids import codebook
from .rowwise import Layout, dequantize_rows, quantize_rows

IQ3_S = Layout("IQ3_S", block_size=256,
               fields=(("d", 2), ("qs", 64), ("qh", 8), ("signs", 32), ("scales", 4)), imatrix="optional")
SUB_BLOCK = 32
_CHUNK = 512          # sub-blocks per pass: bounds the (tries, groups, neighbours, dim) work arrays


def fit_weights(blocks, importance, sigma2_share=None):
    """Weights of the least-squares fits, per weight of blocks (n, 256).

    With an imatrix qw: qw * sqrt(sigma2 + x^2), where sigma2 = 2 * mean(x^2) over the 256.
    Without: x^2, or sigma2_share * sigma2 + x^2 for the types that add a floor (IQ2_S: 0.25).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if importance is None and sigma2_share is None:
            return blocks * blocks
        sigma2 = np.float32(2) * sum_in_order(blocks * blocks, axis=1) / np.float32(blocks.shape[1])
        if importance is None:
            return np.float32(sigma2_share) * sigma2[:, None] + blocks * blocks
        return importance * np.sqrt(sigma2[:, None] + blocks * blocks)


def nearest_int(values):
    """llama.cpp's nearest_int of float32 values (kquants_search.nearest_int), as float32.

    Ties to even; beyond 2^22, and for inf (-> -2^22) and nan (-> 0), C's bit trick is reproduced:
    such values arise when 1/max|x| overflows (subnormal blocks) or a sum is nearly 0.
    """
    return kquants_search.nearest_int(values).astype(np.float32)


def c_running_max(values, skip):
    """max over the last axis as C's `m = MAX(m, v)` loop from m = 0 computes it, skipping `skip`.

    A nan v replaces m (`m > nan` is false). Only weights near float32's limit make a nan scale.
    """
    running = np.zeros(values.shape[:-1], dtype=np.float32)
    for column, skipped in zip(np.moveaxis(values, -1, 0), np.moveaxis(skip, -1, 0)):
        running = np.where((running > column) | skipped, running, column)
    return running


def best_neighbour(book, keys, xval, weight, scale, level_values=None):
    """Grid index of the best neighbour of each off-grid lattice key, as iq*_find_best_neighbour.

    keys (k,), xval and weight (k, dim) float32, scale (k,) float32. The error of a grid point q is
    sum_i (weight_i * diff_i) * diff_i with diff = scale*q_i - xval_i, summed in coordinate order in
    float32; the first neighbour (nearest on the lattice, then lowest index) wins a tie.
    Fast path: each coordinate takes one of a few levels, so the terms are computed once per
    (group, coordinate, level) in a small table, and each candidate's error gathers its terms.
    level_values: (k, n_levels) value of each level per group (IQ1's shifted levels); default 2l + 1.
    """
    n_levels = int(book.levels.max()) + 1
    dim = book.dim
    if level_values is None:
        level_values = np.broadcast_to((2 * np.arange(n_levels) + 1).astype(np.float32), (len(keys), n_levels))
    found = np.empty(len(keys), dtype=np.int32)
    for start in range(0, len(keys), 8192):
        part = slice(start, start + 8192)
        candidates = book.neighbours[keys[part]]
        width = int((candidates >= 0).sum(axis=1).max())
        candidates = candidates[:, :width]
        levels = book.levels[np.maximum(candidates, 0)]                  # (k, width, dim) uint8
        k = len(candidates)
        diff = scale[part, None, None] * level_values[part, None, :] - xval[part, :, None]   # (k, dim, L)
        table = ((weight[part, :, None] * diff) * diff).reshape(-1)
        base = (np.arange(k) * (dim * n_levels))[:, None]
        error = table[base + levels[:, :, 0]]
        for i in range(1, dim):
            error = error + table[base + (i * n_levels) + levels[:, :, i]]
        error[candidates < 0] = np.inf
        found[part] = np.take_along_axis(candidates, error.argmin(axis=1)[:, None], axis=1)[:, 0]
    return found


def best_neighbour_reference(book, key, xval, weight, scale):
    """One group, the plain loop of llama.cpp's iq3_find_best_neighbour (for tests)."""
    best, best_error = -1, np.float32(np.finfo(np.float32).max)
    for j in book.neighbours[key]:
        if j < 0:
            break
        error = np.float32(0)
        for i in range(book.dim):
            diff = np.float32(scale) * np.float32(2 * int(book.levels[j, i]) + 1) - xval[i]
            error = np.float32(error + np.float32(weight[i] * diff) * diff)
        if error < best_error:
            best, best_error = j, error
    return best


def _grid_points(book, xval, weight, scale, inverse, max_level):
    """Grid index of each group at one scale: lattice rounding, then the neighbour search off-grid.

    xval, weight (m, groups, dim); scale and inverse (m, 1): the search's scale and 1/scale.
    """
    levels = np.clip(nearest_int(np.float32(0.5) * (inverse[:, :, None] * xval - np.float32(1))),
                     0, max_level).astype(np.int64)
    keys = book.key(levels)                                              # (m, groups)
    index = book.index_of_key[keys]
    off = index < 0
    if off.any():
        index[off] = best_neighbour(book, keys[off], xval[off], weight[off],
                                    np.broadcast_to(scale, keys.shape)[off])
    return index, ~off


def _weighted_sums(book, index, xval, weight):
    """sum(w x q) and sum(w q q) over each sub-block (in order), q = 2l + 1 of the chosen points."""
    q = book.positions()[index].reshape(xval.shape[0], -1)              # (m, 32)
    w = weight.reshape(q.shape)
    x = xval.reshape(q.shape)
    return sum_in_order((w * x) * q, axis=1), sum_in_order((w * q) * q, axis=1)


# ----------------------------------------------------------------------------- the shared search

@dataclass(frozen=True)
class Search:
    """How one i-quant searches a sub-block (the constants of its quantize_row_*_impl)."""

    grid: str               # which codebook
    sub_block: int          # weights per fitted scale
    top_level: int          # kMaxQ - 1: lattice levels 0 .. top_level, positions 1, 3, ..
    step: float             # the ladder of inverse scales (2 kMaxQ - 1 + t * step) / max, t = -9..9
    tiny: float             # sub-blocks with max|x| below this (or == 0 when 0) are stored as zeros
    on_grid_at_start: bool  # IQ3_S starts "off grid" (so it always refits), IQ2_S "on grid"
    redo_all: bool          # the refit re-rounds every group (IQ3_S) or only the off-grid ones
    tries: int = 9          # t = -tries .. tries
    even_signs: bool = False  # 7 sign bits per 8 weights: the count of minus signs is made even
    qp_start: bool = False  # IQ2_XXS/XS: the ladder spans make_qp_quants' scale, not max|x|,
                            # and the refit at the end always runs, on every group


def magnitudes_and_signs(x, weight, even_signs):
    """xval = |x| and the sign bits (x >= 0 counts as +, -0.0 too), as the i-quants split them.

    With even_signs (IQ3_XXS, IQ2_XXS, IQ2_XS), a group of 8 with an odd count of negatives gets
    its least important weight (smallest w * x * x, the first on a tie) flipped: its sign bit is
    toggled and its xval becomes -|x|, so the fit sees the weight it will really get.
    """
    negative = ~(x >= 0)
    xval = np.abs(x)
    if even_signs:
        m = len(x)
        groups = negative.reshape(m, -1, 8)
        odd = groups.sum(axis=2) % 2 == 1
        with np.errstate(over="ignore", invalid="ignore"):
            importance = ((weight * x) * x).reshape(m, -1, 8)
        least = importance.argmin(axis=2)
        rows, group = np.nonzero(odd)
        column = group * 8 + least[rows, group]
        negative = negative.copy()
        negative[rows, column] ^= True
        xval[rows, column] = -xval[rows, column]
    return xval, negative


def make_qp_scale(xval, weight, nmax):
    """The scale llama.cpp's make_qp_quants returns, for rows xval (m, n) with weights (m, n).

    A non-negative grid x ~ scale * l, l = 0..nmax: start at nmax / max, try 8 nearby inverse
    scales (0.1 t + nmax) / max by weighted squared error, then sweep the weights in order (up to
    5 times, stopping after a sweep without change), moving one code at a time to the value the
    other weights' least-squares scale suggests if that raises sum(w x l)^2 / sum(w l^2).
    Vectorized over rows; the sweeps are sequential in the weights, as in C. The codes are kept
    as C's uint8 array keeps them: a negative code (only the parity-flipped weight can get one)
    wraps to 256 + l when stored.
    """
    f32 = np.float32
    m, n = xval.shape
    top = np.maximum(xval.max(axis=1), f32(0))
    zero = top < f32(1e-15)
    top = np.where(zero, f32(1), top)
    nmax_f = f32(nmax)

    def codes_at(inverse, clamp):
        l = nearest_int(inverse[:, None] * xval)
        return np.minimum(l, nmax_f) if clamp else l

    def mse(scale, l):
        diff = xval - scale[:, None] * l
        return sum_in_order((weight * diff) * diff, axis=1)

    inverse = nmax_f / top
    stored = np.mod(codes_at(inverse, False), f32(256))                # uint8 storage of L
    best = mse(f32(1) / inverse, stored)
    for t in (-4, -3, -2, -1, 1, 2, 3, 4):
        trial = (f32(0.1) * f32(t) + nmax_f) / top
        error = mse(f32(1) / trial, codes_at(trial, True))
        better = error < best
        best = np.where(better, error, best)
        inverse = np.where(better, trial, inverse)
    l = codes_at(inverse, True)
    stored = np.mod(l, f32(256))
    sum_lx = sum_in_order((weight * xval) * l, axis=1)
    sum_l2 = sum_in_order((weight * l) * l, axis=1)
    active = ~zero
    for _ in range(5):
        changed = np.zeros(m, dtype=bool)
        for i in range(n):
            w, x, old = weight[:, i], xval[:, i], stored[:, i]
            slx = sum_lx - (w * x) * old
            sl2 = sum_l2 - (w * old) * old
            with np.errstate(divide="ignore", invalid="ignore"):
                new = np.minimum(nearest_int((x * sl2) / slx), nmax_f)
            propose = active & (slx > 0) & (sl2 > 0) & (new != old)
            slx = slx + (w * x) * new
            sl2 = sl2 + (w * new) * new
            accept = propose & ((slx * slx) * sum_l2 > (sum_lx * sum_lx) * sl2)
            stored[:, i] = np.where(accept, np.mod(new, f32(256)), old)
            sum_lx = np.where(accept, slx, sum_lx)
            sum_l2 = np.where(accept, sl2, sum_l2)
            changed |= accept
        active &= changed
        if not active.any():
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(sum_l2 > 0, sum_lx / sum_l2, f32(0))
    return np.where(zero, f32(0), scale).astype(f32)


def _search(spec, x, weight):
    """One i-quant's search over sub-blocks x (m, sub_block).

    Returns the fitted scale (m,) float32, grid indices (m, groups), sign bits (m, sub_block) and
    the mask of sub-blocks stored as zeros.
    """
    book = codebook(spec.grid)
    m, groups = len(x), spec.sub_block // book.dim
    xval, negative = magnitudes_and_signs(x, weight, spec.even_signs)
    top = xval.max(axis=1)
    xval = xval.reshape(m, groups, book.dim)
    w = weight.reshape(m, groups, book.dim)
    waux = np.sqrt(w)
    zero = top < np.float32(spec.tiny) if spec.tiny else top == 0
    top = np.where(zero, np.float32(1), top)
    middle = np.float32(2 * spec.top_level + 1)
    scale = top / middle
    if spec.qp_start:
        scale = make_qp_scale(xval.reshape(m, -1), weight, spec.top_level + 2)   # kMaxQ + 1
        top = scale * np.float32(spec.top_level + 1)                  # eff_max = scale * kMaxQ
        zero |= top <= 0
        top = np.where(zero, np.float32(1), top)
    best = np.zeros(m, dtype=np.float32)
    index = np.zeros((m, groups), dtype=np.int32)         # before any try is kept: levels 0
    on_grid = np.full((m, groups), spec.on_grid_at_start)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for t in range(-spec.tries, spec.tries + 1):
            inverse = ((middle + np.float32(t) * np.float32(spec.step)) / top)[:, None]
            this_scale = np.float32(1) / inverse
            idx, on = _grid_points(book, xval, waux, this_scale, inverse, spec.top_level)
            sum_qx, sum_q2 = _weighted_sums(book, idx, xval, w)
            better = (sum_q2 > 0) & (sum_qx * sum_qx > best * sum_q2)
            scale = np.where(better, sum_qx / sum_q2, scale)
            best = np.where(better, scale * sum_qx, best)
            index = np.where(better[:, None], idx, index)
            on_grid = np.where(better[:, None], on, on_grid)
        # a group of the kept try went through the neighbour search: re-round at the fitted scale
        # (lattice rounding with 1/scale, neighbours scored at scale) and refit once
        redo = (scale > 0) if spec.qp_start else ~on_grid.all(axis=1) & (scale > 0)
        if redo.any():
            s = scale[redo][:, None]
            idx, _ = _grid_points(book, xval[redo], waux[redo], s, np.float32(1) / s, spec.top_level)
            if not spec.redo_all:
                idx = np.where(on_grid[redo], index[redo], idx)
            sum_qx, sum_q2 = _weighted_sums(book, idx, xval[redo], w[redo])
            index[redo] = idx
            scale[redo] = np.where(sum_q2 > 0, sum_qx / sum_q2, scale[redo])
    return np.where(zero, np.float32(0), scale), index, negative, zero


def _sub_block_codes(scale, zero, top_code, factor):
    """fp16 d and 4-bit codes of the sub-block scales: d = max / 31, code = nearest_int((s/d - 1) / 2).

    The stored d is d * factor (llama.cpp's empirical tweak: 1.033 for IQ3_S, 0.9875 for IQ2_S).
    """
    max_scale = c_running_max(scale, zero)          # all-zero sub-blocks are skipped in C
    d = max_scale / np.float32(31)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inverse = np.float32(1) / d
        code = np.clip(nearest_int(np.float32(0.5) * (inverse[:, None] * scale - np.float32(1))), 0, top_code)
    stored = max_scale != 0                          # C's `if (!max_scale) continue;` (nan is stored)
    code = np.where(stored[:, None], code, 0).astype(np.uint8)
    return fp16_to_bytes(np.where(stored, d * np.float32(factor), np.float32(0))), code


def _search_blocks(spec, blocks, weight):
    """_search over every sub-block of blocks (n, 256), in chunks; results shaped per block."""
    n = len(blocks)
    sub = blocks.reshape(-1, spec.sub_block)
    w = weight.reshape(-1, spec.sub_block)
    parts = [_search(spec, sub[i:i + _CHUNK], w[i:i + _CHUNK]) for i in range(0, len(sub), _CHUNK)]
    scale, index, negative, zero = (np.concatenate(p) for p in zip(*parts))
    per_block = 256 // spec.sub_block
    return (scale.reshape(n, per_block), index.reshape(n, per_block, -1),
            negative.reshape(n, per_block, -1), zero.reshape(n, per_block))


# ----------------------------------------------------------------------------- IQ3_S

IQ3_S_SEARCH = Search("IQ3_S", sub_block=32, top_level=7, step=0.2, tiny=0, on_grid_at_start=False, redo_all=True)


def _quantize_iq3_s_blocks(blocks, importance=None):
    n = len(blocks)
    scale, index, negative, zero = _search_blocks(IQ3_S_SEARCH, blocks, fit_weights(blocks, importance))

    qs_sub = (index & 0xFF).astype(np.uint8)                           # (n, 8 sub-blocks, 8 groups)
    signs_sub = np.packbits(negative, axis=2, bitorder="little")        # (n, 8, 4)
    # llama.cpp advances its qs and signs pointers only past non-zero sub-blocks: an all-zero
    # sub-block leaves no slot, the following ones move up, and the last slots stay 0.
    slot = np.cumsum(~zero, axis=1) - 1
    qs = np.zeros((n, 8, 8), dtype=np.uint8)
    signs = np.zeros((n, 8, 4), dtype=np.uint8)
    rows, subs = np.nonzero(~zero)
    qs[rows, slot[rows, subs]] = qs_sub[rows, subs]
    signs[rows, slot[rows, subs]] = signs_sub[rows, subs]
    qh = np.packbits(((index >> 8) & 1).astype(np.uint8) & ~zero[:, :, None], axis=2, bitorder="little")[:, :, 0]

    d_bytes, code = _sub_block_codes(scale, zero, 15, 1.033)
    scales = code[:, 0::2] | (code[:, 1::2] << 4)
    return np.concatenate([d_bytes, qs.reshape(n, 64), qh, signs.reshape(n, 32), scales], axis=1)


def fields_iq3_s(data):
    """Decoded IQ3_S fields: d, 4-bit scales (8 per block), grid indices (64), sign bits (256)."""
    n = len(data)
    high = np.unpackbits(data[:, 66:74], axis=1, bitorder="little").astype(np.int32)
    return {"d": fp16_from_bytes(data[:, 0:2]),
            "scales": np.stack([data[:, 106:110] & 0xF, data[:, 106:110] >> 4], axis=2).reshape(n, 8),
            "grid_index": data[:, 2:66].astype(np.int32) | (high << 8),
            "negative": np.unpackbits(data[:, 74:106], axis=1, bitorder="little")}


def _dequantize_iq3_s_blocks(data):
    f = fields_iq3_s(data)
    n = len(data)
    step = f["d"][:, None] * (np.float32(1) + np.float32(2) * f["scales"].astype(np.float32))   # (n, 8)
    points = codebook("IQ3_S").values.astype(np.float32)[f["grid_index"]].reshape(n, 8, 32)
    sign = np.where(f["negative"].reshape(n, 8, 32) == 1, np.float32(-1), np.float32(1))
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None] * points * sign).reshape(n, 256)


def quantize_iq3_s(x, imatrix=None):
    """IQ3_S bytes of x, as llama.cpp writes them, with or without an importance vector."""
    return quantize_rows(x, imatrix, IQ3_S, _quantize_iq3_s_blocks)


def dequantize_iq3_s(raw):
    """float32 weights from IQ3_S bytes: d (1 + 2 scale) * grid point * sign."""
    return dequantize_rows(raw, IQ3_S, _dequantize_iq3_s_blocks)


# ----------------------------------------------------------------------------- IQ2_S

IQ2_S = Layout("IQ2_S", block_size=256,
               fields=(("d", 2), ("qs", 32), ("signs", 32), ("qh", 8), ("scales", 8)), imatrix="optional")
IQ2_S_SEARCH = Search("IQ2_S", sub_block=16, top_level=2, step=0.1, tiny=1e-8, on_grid_at_start=True, redo_all=False)


def _quantize_iq2_s_blocks(blocks, importance=None):
    n = len(blocks)
    scale, index, negative, zero = _search_blocks(IQ2_S_SEARCH, blocks, fit_weights(blocks, importance, 0.25))
    index = np.where(zero[:, :, None], 0, index).reshape(n, 32)        # zero sub-blocks: nothing written
    signs = np.packbits(negative & ~zero[:, :, None], axis=2, bitorder="little").reshape(n, 32)
    qh = ((index >> 8) & 3).reshape(n, 8, 4) << (2 * np.arange(4))     # 2 high bits per group of 8
    qh = np.bitwise_or.reduce(qh, axis=2).astype(np.uint8)
    d_bytes, code = _sub_block_codes(scale, zero, 15, 0.9875)
    scales = code[:, 0::2] | (code[:, 1::2] << 4)
    return np.concatenate([d_bytes, (index & 0xFF).astype(np.uint8), signs, qh, scales], axis=1)


def fields_iq2_s(data):
    """Decoded IQ2_S fields: d, 4-bit scales (16 per block), grid indices (32), sign bits (256)."""
    n = len(data)
    high = (data[:, 66:74, None].astype(np.int32) >> (2 * np.arange(4))) & 3
    return {"d": fp16_from_bytes(data[:, 0:2]),
            "scales": np.stack([data[:, 74:82] & 0xF, data[:, 74:82] >> 4], axis=2).reshape(n, 16),
            "grid_index": data[:, 2:34].astype(np.int32) | (high.reshape(n, 32) << 8),
            "negative": np.unpackbits(data[:, 34:66], axis=1, bitorder="little")}


def _dequantize_iq2_s_blocks(data):
    f = fields_iq2_s(data)
    n = len(data)
    step = (f["d"][:, None] * (np.float32(0.5) + f["scales"].astype(np.float32))) * np.float32(0.25)
    points = codebook("IQ2_S").values.astype(np.float32)[f["grid_index"]].reshape(n, 16, 16)
    sign = np.where(f["negative"].reshape(n, 16, 16) == 1, np.float32(-1), np.float32(1))
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None] * points * sign).reshape(n, 256)


def quantize_iq2_s(x, imatrix=None):
    """IQ2_S bytes of x, as llama.cpp writes them, with or without an importance vector."""
    return quantize_rows(x, imatrix, IQ2_S, _quantize_iq2_s_blocks)


def dequantize_iq2_s(raw):
    """float32 weights from IQ2_S bytes: d (0.5 + scale) / 4 * grid point * sign."""
    return dequantize_rows(raw, IQ2_S, _dequantize_iq2_s_blocks)


# ----------------------------------------------------------------------------- IQ3_XXS

IQ3_XXS = Layout("IQ3_XXS", block_size=256, fields=(("d", 2), ("qs", 64), ("scales_and_signs", 32)),
                 imatrix="optional")
IQ3_XXS_SEARCH = Search("IQ3_XXS", sub_block=32, top_level=7, step=0.2, tiny=1e-8, on_grid_at_start=True,
                        redo_all=False, tries=15, even_signs=True)


def _signs_7(negative):
    """(n, sub, 32) sign bits -> (n, sub) uint32: 7 bits per group of 8 (the 8th is implied even)."""
    bytes_ = np.packbits(negative.reshape(*negative.shape[:2], 4, 8), axis=3, bitorder="little")[..., 0]
    bytes_ = (bytes_ & 127).astype(np.uint32)
    return bytes_[..., 0] | bytes_[..., 1] << 7 | bytes_[..., 2] << 14 | bytes_[..., 3] << 21


def _quantize_iq3_xxs_blocks(blocks, importance=None):
    n = len(blocks)
    scale, index, negative, zero = _search_blocks(IQ3_XXS_SEARCH, blocks, fit_weights(blocks, importance))
    d_bytes, code = _sub_block_codes(scale, zero, 15, 1.0125)
    signs = np.where(zero, np.uint32(0), _signs_7(negative))
    words = (signs | code.astype(np.uint32) << 28).astype("<u4")
    qs = np.where(zero[:, :, None], 0, index).astype(np.uint8).reshape(n, 64)
    stored = c_running_max(scale, zero) != 0          # C clears the whole block when max_scale is 0
    qs = np.where(stored[:, None], qs, 0)
    words = np.where(stored[:, None], words, 0).astype("<u4")
    return np.concatenate([d_bytes, qs, words.view(np.uint8).reshape(n, 32)], axis=1)


def fields_iq3_xxs(data):
    """Decoded IQ3_XXS fields: d, 4-bit scales (8), grid indices (64), sign bits (256, parity completed)."""
    n = len(data)
    words = data[:, 66:98].copy().view("<u4")                                  # (n, 8)
    seven = (words[:, :, None] >> (7 * np.arange(4, dtype=np.uint32))) & 127    # (n, 8, 4)
    bits = np.unpackbits(seven.astype(np.uint8)[..., None], axis=3, bitorder="little")[..., :7]
    parity = bits.sum(axis=3, keepdims=True) % 2
    negative = np.concatenate([bits, parity], axis=3).reshape(n, 256)
    return {"d": fp16_from_bytes(data[:, 0:2]), "scales": (words >> 28).astype(np.uint8),
            "grid_index": data[:, 2:66].astype(np.int32), "negative": negative}


def _dequantize_iq3_xxs_blocks(data):
    f = fields_iq3_xxs(data)
    n = len(data)
    step = (f["d"][:, None] * (np.float32(0.5) + f["scales"].astype(np.float32))) * np.float32(0.5)
    points = codebook("IQ3_XXS").values.astype(np.float32)[f["grid_index"]].reshape(n, 8, 32)
    sign = np.where(f["negative"].reshape(n, 8, 32) == 1, np.float32(-1), np.float32(1))
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None] * points * sign).reshape(n, 256)


def quantize_iq3_xxs(x, imatrix=None):
    """IQ3_XXS bytes of x, as llama.cpp writes them, with or without an importance vector."""
    return quantize_rows(x, imatrix, IQ3_XXS, _quantize_iq3_xxs_blocks)


def dequantize_iq3_xxs(raw):
    """float32 weights from IQ3_XXS bytes: d (0.5 + scale) / 2 * grid point * sign."""
    return dequantize_rows(raw, IQ3_XXS, _dequantize_iq3_xxs_blocks)


# ----------------------------------------------------------------------------- IQ2_XXS

IQ2_XXS = Layout("IQ2_XXS", block_size=256, fields=(("d", 2), ("qs", 64)), imatrix="required")
IQ2_XXS_SEARCH = Search("IQ2_XXS", sub_block=32, top_level=2, step=0.1, tiny=1e-15, on_grid_at_start=False,
                        redo_all=True, tries=6, even_signs=True, qp_start=True)


def sigma2_weights(blocks, importance):
    """IQ2_XXS/XS fit weights: qw * sqrt(sigma2 + x^2) with sigma2 = mean(x^2) over the 256 (no 2x)."""
    with np.errstate(over="ignore", invalid="ignore"):
        sigma2 = sum_in_order(blocks * blocks, axis=1) / np.float32(blocks.shape[1])
        return importance * np.sqrt(sigma2[:, None] + blocks * blocks)


def _quantize_iq2_xxs_blocks(blocks, importance):
    n = len(blocks)
    scale, index, negative, zero = _search_blocks(IQ2_XXS_SEARCH, blocks, sigma2_weights(blocks, importance))
    d_bytes, code = _sub_block_codes(scale, zero, 15, 1.0)
    grid_words = (index.astype(np.uint32) << (8 * np.arange(4, dtype=np.uint32))).sum(axis=2, dtype=np.uint32)
    sign_words = _signs_7(negative) | code.astype(np.uint32) << 28
    words = np.stack([grid_words, sign_words], axis=2)                  # (n, 8, 2)
    words = np.where(zero[:, :, None], np.uint32(0), words)            # (their code is 0 too)
    stored = c_running_max(scale, zero) != 0
    words = np.where(stored[:, None, None], words, np.uint32(0)).astype("<u4")
    return np.concatenate([d_bytes, words.view(np.uint8).reshape(n, 64)], axis=1)


def _grid_sign_fields(words, n):
    """Grid indices (n, 32) and sign bits (n, 256) from IQ2_XXS's pairs of uint32 words (n, 8, 2)."""
    grid_index = words[:, :, :1].view(np.uint8).reshape(n, 32).astype(np.int32)
    seven = (words[:, :, 1:] >> (7 * np.arange(4, dtype=np.uint32))) & 127          # (n, 8, 4)
    bits = np.unpackbits(seven.astype(np.uint8)[..., None], axis=3, bitorder="little")[..., :7]
    parity = bits.sum(axis=3, keepdims=True) % 2
    return grid_index, np.concatenate([bits, parity], axis=3).reshape(n, 256)


def fields_iq2_xxs(data):
    """Decoded IQ2_XXS fields: d, 4-bit scales (8), grid indices (32), sign bits (256, parity completed)."""
    n = len(data)
    words = data[:, 2:66].copy().view("<u4").reshape(n, 8, 2)
    grid_index, negative = _grid_sign_fields(words, n)
    return {"d": fp16_from_bytes(data[:, 0:2]), "scales": (words[:, :, 1] >> 28).astype(np.uint8),
            "grid_index": grid_index, "negative": negative}


def _dequantize_iq2_xxs_blocks(data):
    f = fields_iq2_xxs(data)
    n = len(data)
    step = (f["d"][:, None] * (np.float32(0.5) + f["scales"].astype(np.float32))) * np.float32(0.25)
    points = codebook("IQ2_XXS").values.astype(np.float32)[f["grid_index"]].reshape(n, 8, 32)
    sign = np.where(f["negative"].reshape(n, 8, 32) == 1, np.float32(-1), np.float32(1))
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None] * points * sign).reshape(n, 256)


def quantize_iq2_xxs(x, imatrix=None):
    """IQ2_XXS bytes of x, as llama.cpp writes them; an importance vector is required, as in llama.cpp."""
    return quantize_rows(x, imatrix, IQ2_XXS, _quantize_iq2_xxs_blocks)


def dequantize_iq2_xxs(raw):
    """float32 weights from IQ2_XXS bytes: d (0.5 + scale) / 4 * grid point * sign."""
    return dequantize_rows(raw, IQ2_XXS, _dequantize_iq2_xxs_blocks)


# ----------------------------------------------------------------------------- IQ2_XS

IQ2_XS = Layout("IQ2_XS", block_size=256, fields=(("d", 2), ("qs", 64), ("scales", 8)), imatrix="required")
IQ2_XS_SEARCH = Search("IQ2_XS", sub_block=16, top_level=2, step=0.1, tiny=1e-15, on_grid_at_start=True,
                       redo_all=False, even_signs=True)


def _quantize_iq2_xs_blocks(blocks, importance):
    n = len(blocks)
    scale, index, negative, zero = _search_blocks(IQ2_XS_SEARCH, blocks, sigma2_weights(blocks, importance))
    seven = np.packbits(negative.reshape(n, 16, 2, 8), axis=3, bitorder="little")[..., 0] & 127
    q2 = index.astype(np.uint16) | (seven.astype(np.uint16) << 9)        # (n, 16, 2): 9-bit index, 7 signs
    q2 = np.where(zero[:, :, None], np.uint16(0), q2)
    stored = c_running_max(scale, zero) != 0
    q2 = np.where(stored[:, None, None], q2, np.uint16(0)).astype("<u2")
    d_bytes, code = _sub_block_codes(scale, zero, 15, 1.0)
    scales = code[:, 0::2] | (code[:, 1::2] << 4)
    return np.concatenate([d_bytes, q2.view(np.uint8).reshape(n, 64), scales], axis=1)


def fields_iq2_xs(data):
    """Decoded IQ2_XS fields: d, 4-bit scales (16), grid indices (32), sign bits (256, parity completed)."""
    n = len(data)
    q2 = data[:, 2:66].copy().view("<u2")                                       # (n, 32)
    bits = np.unpackbits((q2 >> 9).astype(np.uint8)[..., None], axis=2, bitorder="little")[..., :7]
    parity = bits.sum(axis=2, keepdims=True) % 2
    return {"d": fp16_from_bytes(data[:, 0:2]),
            "scales": np.stack([data[:, 66:74] & 0xF, data[:, 66:74] >> 4], axis=2).reshape(n, 16),
            "grid_index": (q2 & 511).astype(np.int32),
            "negative": np.concatenate([bits, parity], axis=2).reshape(n, 256)}


def _dequantize_iq2_xs_blocks(data):
    f = fields_iq2_xs(data)
    n = len(data)
    step = (f["d"][:, None] * (np.float32(0.5) + f["scales"].astype(np.float32))) * np.float32(0.25)
    points = codebook("IQ2_XS").values.astype(np.float32)[f["grid_index"]].reshape(n, 16, 16)
    sign = np.where(f["negative"].reshape(n, 16, 16) == 1, np.float32(-1), np.float32(1))
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None] * points * sign).reshape(n, 256)


def quantize_iq2_xs(x, imatrix=None):
    """IQ2_XS bytes of x, as llama.cpp writes them; an importance vector is required, as in llama.cpp."""
    return quantize_rows(x, imatrix, IQ2_XS, _quantize_iq2_xs_blocks)


def dequantize_iq2_xs(raw):
    """float32 weights from IQ2_XS bytes: d (0.5 + scale) / 4 * grid point * sign."""
    return dequantize_rows(raw, IQ2_XS, _dequantize_iq2_xs_blocks)


# ----------------------------------------------------------------------------- IQ1_S

IQ1_S = Layout("IQ1_S", block_size=256, fields=(("d", 2), ("qs", 32), ("qh", 16)), imatrix="required")
IQ1S_DELTA = np.float32(0.125)
# the three values a level 0, 1, 2 stands for, shifted up (+delta) or down (-delta) per sub-block
IQ1_SHIFTED = {1: np.array([-1, 0, 1], dtype=np.float32) + IQ1S_DELTA,
               -1: np.array([-1, 0, 1], dtype=np.float32) - IQ1S_DELTA}
_SPLITS = np.array([(i1, i2) for i1 in range(33) for i2 in range(i1, 33)])   # C's loop order


def _iq1_best_split(x, weight):
    """IQ1_S's exhaustive search: sorted x cut into three runs (levels 0, 1, 2) at i1 <= i2.

    For each cut and each shift (+delta first, then -delta), the least-squares scale of
    x ~ scale * value[level] is scored from prefix sums; the first best (C's `>` test on
    cross-multiplied float32 scores) wins. Returns scale, levels (m, 32), shift (+-1), found.
    """
    f32 = np.float32
    m, n = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    ws = np.take_along_axis(weight, order, axis=1)
    zeros = np.zeros((m, 1), dtype=f32)
    sum_x = np.concatenate([zeros, np.cumsum(ws * xs, axis=1, dtype=f32)], axis=1)    # sequential
    sum_w = np.concatenate([zeros, np.cumsum(ws, axis=1, dtype=f32)], axis=1)
    i1, i2 = _SPLITS[:, 0], _SPLITS[:, 1]
    a, b, c = sum_x[:, i1] - sum_x[:, :1], sum_x[:, i2] - sum_x[:, i1], sum_x[:, n:] - sum_x[:, i2]
    wa, wb, wc = sum_w[:, i1] - sum_w[:, :1], sum_w[:, i2] - sum_w[:, i1], sum_w[:, n:] - sum_w[:, i2]
    best = np.full(m, -np.finfo(f32).max, dtype=f32)
    scale = np.abs(x).max(axis=1)
    pick = np.full(m, -1)
    shift = np.zeros(m, dtype=np.int8)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        candidates = []
        for sign in (1, -1):
            p = IQ1_SHIFTED[sign]
            sum_qx = (a * p[0] + b * p[1]) + c * p[2]
            sum_q2 = ((wa * p[0]) * p[0] + (wb * p[1]) * p[1]) + (wc * p[2]) * p[2]
            candidates.append((sum_qx, sum_q2))
        for k in range(len(_SPLITS)):
            for sign, (sum_qx, sum_q2) in zip((1, -1), candidates):
                qx, q2 = sum_qx[:, k], sum_q2[:, k]
                better = (q2 > 0) & (qx * qx > best * q2)
                scale = np.where(better, qx / q2, scale)
                best = np.where(better, scale * qx, best)
                pick = np.where(better, k, pick)
                shift = np.where(better, np.int8(sign), shift)
    found = pick >= 0
    position = np.arange(n)
    cut1, cut2 = i1[np.maximum(pick, 0)], i2[np.maximum(pick, 0)]
    sorted_levels = (position >= cut1[:, None]).astype(np.int8) + (position >= cut2[:, None])
    levels = np.empty_like(sorted_levels)
    np.put_along_axis(levels, order, sorted_levels, axis=1)
    return scale, levels, shift, found


def _iq1_neighbours(book, keys, x, weight, scale, shift):
    """iq1_find_best_neighbour2: least sum (w * diff) * diff, diff = scale * value[level] - x."""
    values = np.where(np.asarray(shift)[:, None] > 0, IQ1_SHIFTED[1], IQ1_SHIFTED[-1])
    return best_neighbour(book, keys, x, weight, scale, values)


def _iq1_s_sub_blocks(x, weight):
    """IQ1_S per sub-block of 32: scale, grid indices (m, 4), shift (+-1), zero mask."""
    book = codebook("IQ1_S")
    m = len(x)
    zero = np.abs(x).max(axis=1) < np.float32(1e-12)
    scale, levels, shift, found = _iq1_best_split(x, weight)
    zero |= ~found
    flip = scale < 0
    levels = np.where(flip[:, None], 2 - levels, levels)
    scale = np.where(flip, -scale, scale)
    shift = np.where(flip, -shift, shift)
    keys = book.key(levels.reshape(m, 4, 8))
    index = book.index_of_key[keys]
    off = index < 0
    if off.any():
        rows = np.nonzero(off)[0]
        index[off] = _iq1_neighbours(book, keys[off], x.reshape(m, 4, 8)[off], weight.reshape(m, 4, 8)[off],
                                     scale[rows], shift[rows])
        refit = off.any(axis=1)
        q = np.where(shift[:, None] > 0, IQ1_SHIFTED[1][book.levels[index].reshape(m, 32)],
                     IQ1_SHIFTED[-1][book.levels[index].reshape(m, 32)])
        sum_qx = sum_in_order((weight * q) * x, axis=1)
        sum_q2 = sum_in_order((weight * q) * q, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(refit & (sum_qx > 0) & (sum_q2 > 0), sum_qx / sum_q2, scale)
    shift = np.where(zero, np.int8(1), shift)
    return np.where(zero, np.float32(0), scale), index, shift, zero


def _quantize_iq1_s_blocks(blocks, importance):
    n = len(blocks)
    weight = fit_weights(blocks, importance)
    sub, w = blocks.reshape(-1, 32), weight.reshape(-1, 32)
    chunk = 4096
    parts = [_iq1_s_sub_blocks(sub[i:i + chunk], w[i:i + chunk]) for i in range(0, len(sub), chunk)]
    scale, index, shift, zero = (np.concatenate(p) for p in zip(*parts))
    scale, index, shift, zero = scale.reshape(n, 8), index.reshape(n, 8, 4), shift.reshape(n, 8), zero.reshape(n, 8)
    index = np.where(zero[:, :, None], 0, index)                        # nothing written for those
    qh = ((index >> 8) << (3 * np.arange(4))).sum(axis=2)               # 3 high bits per group
    max_scale = c_running_max(scale, zero)
    d = max_scale / np.float32(15)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        code = np.clip(nearest_int(np.float32(0.5) * ((np.float32(1) / d)[:, None] * scale - np.float32(1))), 0, 7)
    code = code.astype(np.int64) | np.where(shift == -1, 8, 0)
    stored = max_scale != 0
    qh = qh | np.where(stored[:, None], code << 12, 0)
    d_bytes = fp16_to_bytes(np.where(stored, d * np.float32(1.125), np.float32(0)))
    return np.concatenate([d_bytes, (index & 0xFF).astype(np.uint8).reshape(n, 32),
                           qh.astype("<u2").view(np.uint8).reshape(n, 16)], axis=1)


def fields_iq1_s(data):
    """Decoded IQ1_S fields: d, 3-bit scales (8), shift sign (8, -1 = down), grid indices (32)."""
    n = len(data)
    qh = data[:, 34:50].copy().view("<u2").astype(np.int32)                    # (n, 8)
    high = (qh[:, :, None] >> (3 * np.arange(4))) & 7
    return {"d": fp16_from_bytes(data[:, 0:2]), "scales": ((qh >> 12) & 7).astype(np.uint8),
            "shift": np.where(qh & 0x8000, -1, 1).astype(np.int8),
            "grid_index": data[:, 2:34].astype(np.int32) | (high.reshape(n, 32) << 8)}


def _dequantize_iq1_s_blocks(data):
    f = fields_iq1_s(data)
    n = len(data)
    step = f["d"][:, None] * (np.float32(2) * f["scales"].astype(np.float32) + np.float32(1))
    delta = np.where(f["shift"] < 0, -IQ1S_DELTA, IQ1S_DELTA)
    points = codebook("IQ1_S").values.astype(np.float32)[f["grid_index"]].reshape(n, 8, 32)
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None] * (points + delta[:, :, None])).reshape(n, 256)


def quantize_iq1_s(x, imatrix=None):
    """IQ1_S bytes of x, as llama.cpp writes them; an importance vector is required, as in llama.cpp."""
    return quantize_rows(x, imatrix, IQ1_S, _quantize_iq1_s_blocks)


def dequantize_iq1_s(raw):
    """float32 weights from IQ1_S bytes: d (2 scale + 1) * (grid point +- 1/8)."""
    return dequantize_rows(raw, IQ1_S, _dequantize_iq1_s_blocks)


# ----------------------------------------------------------------------------- IQ1_M

IQ1_M = Layout("IQ1_M", block_size=256, fields=(("qs", 32), ("qh", 16), ("scales", 8)), imatrix="optional")
_SPLITS_16 = np.array([(i1, i2) for i1 in range(17) for i2 in range(i1, 17)])
_SHIFT_MASKS = np.array([0x00, 0x80, 0x08, 0x88])   # k = 2 * (first half shifted down) + second half


def _iq1_m_best_split(x, weight):
    """IQ1_M's split search on sub-blocks of 16: like IQ1_S, but each half (8) picks its own shift.

    k = 0..3 encodes the shifts (first half down if k >= 2, second half down if k is odd). The sums
    of every split are added term by term in sorted order, as libgguf's build does (the older
    llama.cpp loop; current llama.cpp uses per-half prefix sums, which round differently and so
    break near-ties, e.g. in constant blocks, another way).
    """
    f32 = np.float32
    m, n = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    xs, ws = np.take_along_axis(x, order, axis=1), np.take_along_axis(weight, order, axis=1)
    # value[run, half, k]: the level a run stands for, shifted per half as k says
    value = np.empty((3, 2, 4), dtype=f32)
    for k in range(4):
        value[:, 0, k] = IQ1_SHIFTED[1 if k < 2 else -1]
        value[:, 1, k] = IQ1_SHIFTED[1 if k % 2 == 0 else -1]
    half = (order >= n // 2).astype(np.intp)                                  # (m, n) sorted
    v = value[:, half, :].transpose(1, 2, 0, 3)                              # (m, n, 3 runs, 4 k)
    wv = ws[:, :, None, None] * v
    terms_qx, terms_q2 = wv * xs[:, :, None, None], wv * v                   # (w * v) * x, (w * v) * v
    i1, i2 = _SPLITS_16[:, 0], _SPLITS_16[:, 1]
    position = np.arange(n)
    runs = (position[None, :] >= i1[:, None]).astype(np.intp) + (position[None, :] >= i2[:, None])  # (153, n)
    # every split's sums, each added in sorted order as libgguf's loops do: (m, 153, 4)
    sum_qx = np.zeros((m, len(runs), 4), dtype=f32)
    sum_q2 = np.zeros((m, len(runs), 4), dtype=f32)
    for j in range(n):
        sum_qx += terms_qx[:, j, runs[:, j], :]
        sum_q2 += terms_q2[:, j, runs[:, j], :]
    sums = [(sum_qx[:, :, k], sum_q2[:, :, k]) for k in range(4)]
    best = np.full(m, -np.finfo(f32).max, dtype=f32)
    scale = np.abs(x).max(axis=1)
    pick = np.full(m, -1)
    shifts = np.zeros(m, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for j in range(len(_SPLITS_16)):
            for k, (sum_qx, sum_q2) in enumerate(sums):
                qx, q2 = sum_qx[:, j], sum_q2[:, j]
                better = (q2 > 0) & (qx * qx > best * q2)
                scale = np.where(better, qx / q2, scale)
                best = np.where(better, scale * qx, best)
                pick = np.where(better, j, pick)
                shifts = np.where(better, k, shifts)
    found = pick >= 0
    sorted_levels = runs[np.maximum(pick, 0)].astype(np.int8)
    levels = np.empty_like(sorted_levels)
    np.put_along_axis(levels, order, sorted_levels, axis=1)
    return scale, levels, shifts, found


def _iq1_m_group_shifts(k):
    """(m, 2) shift signs of the two groups of 8 from IQ1_M's k: first down if k >= 2, second if odd."""
    return np.stack([np.where(k < 2, 1, -1), np.where(k % 2 == 0, 1, -1)], axis=1)


def _iq1_m_sub_blocks(x, weight):
    book = codebook("IQ1_S")
    m = len(x)
    zero = np.abs(x).max(axis=1) < np.float32(1e-7)
    scale, levels, k, found = _iq1_m_best_split(x, weight)
    zero |= ~found
    flip = scale < 0
    levels = np.where(flip[:, None], 2 - levels, levels)
    scale = np.where(flip, -scale, scale)
    k = np.where(flip, 3 - k, k)
    group_shift = _iq1_m_group_shifts(k)                                 # (m, 2)
    keys = book.key(levels.reshape(m, 2, 8))
    index = book.index_of_key[keys]
    off = index < 0
    if off.any():
        rows = np.nonzero(off)[0]
        index[off] = _iq1_neighbours(book, keys[off], x.reshape(m, 2, 8)[off], weight.reshape(m, 2, 8)[off],
                                     scale[rows], group_shift[off])
        point_levels = book.levels[index]                                # (m, 2, 8)
        q = np.where(group_shift[:, :, None] > 0, IQ1_SHIFTED[1][point_levels],
                     IQ1_SHIFTED[-1][point_levels]).reshape(m, 16)
        sum_qx = sum_in_order((weight * q) * x, axis=1)
        sum_q2 = sum_in_order((weight * q) * q, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(off.any(axis=1) & (sum_qx > 0) & (sum_q2 > 0), sum_qx / sum_q2, scale)
    k = np.where(zero, 0, k)
    return np.where(zero, np.float32(0), scale), np.where(zero[:, None], 0, index), k, zero


def _quantize_iq1_m_blocks(blocks, importance=None):
    f32 = np.float32
    n = len(blocks)
    weight = fit_weights(blocks, importance)
    sub, w = blocks.reshape(-1, 16), weight.reshape(-1, 16)
    chunk = 4096
    parts = [_iq1_m_sub_blocks(sub[i:i + chunk], w[i:i + chunk]) for i in range(0, len(sub), chunk)]
    scale, index, k, zero = (np.concatenate(p) for p in zip(*parts))
    scale, index, k, zero = scale.reshape(n, 16), index.reshape(n, 16, 2), k.reshape(n, 16), zero.reshape(n, 16)
    qs = (index & 0xFF).astype(np.uint8).reshape(n, 32)
    qh = (index[:, :, 0] >> 8) | ((index[:, :, 1] >> 8) << 4)
    max_scale = c_running_max(scale, zero)
    stored = max_scale != 0
    d = max_scale / f32(15)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        code = np.clip(nearest_int(f32(0.5) * ((f32(1) / d)[:, None] * scale - f32(1))), 0, 7)
        qh = qh | np.where(stored[:, None], _SHIFT_MASKS[k], 0)
        # refit d over the whole super-block with the stored codes and points (zero sub-blocks too)
        group_shift = _iq1_m_group_shifts(k.reshape(-1)).reshape(n, 16, 2)
        point_levels = codebook("IQ1_S").levels[index]                     # (n, 16, 2, 8)
        q = np.where(group_shift[..., None] > 0, IQ1_SHIFTED[1][point_levels], IQ1_SHIFTED[-1][point_levels])
        q = (q * (f32(2) * code[:, :, None, None] + f32(1))).reshape(n, 256)
        sum_qx = sum_in_order((weight * q) * blocks, axis=1)
        sum_q2 = sum_in_order((weight * q) * q, axis=1)
        d = np.where(sum_q2 > 0, sum_qx / sum_q2, d)
    d_bits = fp16_to_bytes(d * f32(1.1125)).view("<u2")[:, 0].astype(np.int64)
    code = code.astype(np.int64)
    sc = (code.reshape(n, 4, 4) << (3 * np.arange(4))).sum(axis=2)        # (n, 4) uint16 words
    sc = sc | ((d_bits[:, None] >> (4 * np.arange(4))) & 0xF) << 12       # d's 4 nibbles on top
    sc = np.where(stored[:, None], sc, 0)
    return np.concatenate([qs, qh.astype(np.uint8), sc.astype("<u2").view(np.uint8).reshape(n, 8)], axis=1)


def fields_iq1_m(data):
    """Decoded IQ1_M fields: d (assembled from 4 nibbles), 3-bit scales (16), shift signs (32), grid indices (32)."""
    n = len(data)
    sc = data[:, 48:56].copy().view("<u2").astype(np.int64)                   # (n, 4)
    d_bits = ((sc >> 12) << (4 * np.arange(4))).sum(axis=1).astype("<u2")
    qh = data[:, 32:48].astype(np.int64)
    high = np.stack([qh & 7, (qh >> 4) & 7], axis=2).reshape(n, 32)
    down = np.stack([qh & 0x08, qh & 0x80], axis=2).reshape(n, 32) != 0
    return {"d": d_bits.view("<f2").astype(np.float32),
            "scales": ((sc[:, :, None] >> (3 * np.arange(4))) & 7).reshape(n, 16).astype(np.uint8),
            "shift": np.where(down, -1, 1).astype(np.int8),
            "grid_index": (data[:, :32].astype(np.int64) | (high << 8)).astype(np.int32)}


def _dequantize_iq1_m_blocks(data):
    f = fields_iq1_m(data)
    n = len(data)
    step = f["d"][:, None] * (np.float32(2) * f["scales"].astype(np.float32) + np.float32(1))   # (n, 16)
    delta = np.where(f["shift"] < 0, -IQ1S_DELTA, IQ1S_DELTA).reshape(n, 16, 2, 1)
    points = codebook("IQ1_S").values.astype(np.float32)[f["grid_index"]].reshape(n, 16, 2, 8)
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None, None] * (points + delta)).reshape(n, 256)


def quantize_iq1_m(x, imatrix=None):
    """IQ1_M bytes of x, as llama.cpp writes them, with or without an importance vector."""
    return quantize_rows(x, imatrix, IQ1_M, _quantize_iq1_m_blocks)


def dequantize_iq1_m(raw):
    """float32 weights from IQ1_M bytes: d (2 scale + 1) * (grid point +- 1/8)."""
    return dequantize_rows(raw, IQ1_M, _dequantize_iq1_m_blocks)
