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

import numpy as np

from .fp16 import fp16_from_bytes, fp16_to_bytes, round_half_to_even, sum_in_order
from .iquants_grids import codebook
from .rowwise import Layout, dequantize_rows, quantize_rows

IQ3_S = Layout("IQ3_S", block_size=256,
               fields=(("d", 2), ("qs", 64), ("qh", 8), ("signs", 32), ("scales", 4)), imatrix="optional")
SUB_BLOCK = 32
_CHUNK = 512          # sub-blocks per pass: bounds the (tries, groups, neighbours, dim) work arrays


def fit_weights(blocks, importance):
    """Weights of the least-squares fits: x^2, or qw * sqrt(sigma2 + x^2) with sigma2 per 256 weights."""
    with np.errstate(over="ignore", invalid="ignore"):
        if importance is None:
            return blocks * blocks
        sigma2 = np.float32(2) * sum_in_order(blocks * blocks, axis=1) / np.float32(blocks.shape[1])
        return importance * np.sqrt(sigma2[:, None] + blocks * blocks)


def nearest_int(values):
    """llama.cpp's nearest_int of float32 values, as float32: ties to even; inf gives -4194304, nan 0.

    nearest_int adds 1.5 * 2^23 and reads the mantissa bits: for inf those are 0 (-> -2^22) and for
    a quiet nan 0x400000 (-> 0). inf and nan arise when 1/max|x| overflows (subnormal blocks).
    """
    finite = np.isfinite(values)
    if finite.all():
        return round_half_to_even(values)
    return np.where(finite, round_half_to_even(np.where(finite, values, 0)),
                    np.where(np.isnan(values), np.float32(0), np.float32(-4194304)))


def c_running_max(values, skip):
    """max over the last axis as C's `m = MAX(m, v)` loop from m = 0 computes it, skipping `skip`.

    A nan v replaces m (`m > nan` is false). Only weights near float32's limit make a nan scale.
    """
    running = np.zeros(values.shape[:-1], dtype=np.float32)
    for column, skipped in zip(np.moveaxis(values, -1, 0), np.moveaxis(skip, -1, 0)):
        running = np.where((running > column) | skipped, running, column)
    return running


def best_neighbour(book, keys, xval, weight, scale):
    """Grid index of the best neighbour of each off-grid lattice key, as iq*_find_best_neighbour.

    keys (m,), xval and weight (m, dim) float32, scale (m,) float32. The error of a grid point q is
    sum_i (weight_i * diff_i) * diff_i with diff = scale*q - xval, summed in coordinate order in
    float32; the first neighbour (nearest on the lattice, then lowest index) wins a tie.
    """
    positions = book.positions()
    found = np.empty(len(keys), dtype=np.int32)
    for start in range(0, len(keys), 4096):
        part = slice(start, start + 4096)
        candidates = book.neighbours[keys[part]]
        width = int((candidates >= 0).sum(axis=1).max())
        candidates = candidates[:, :width]
        points = positions[np.maximum(candidates, 0)]                 # (m, width, dim)
        diff = scale[part, None, None] * points - xval[part, None, :]
        weighted = weight[part, None, :] * diff
        error = sum_in_order(weighted * diff, axis=2)
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


# ----------------------------------------------------------------------------- IQ3_S

IQ3_S_TRIES = np.arange(-9, 10)   # scales (15 + 0.2 t) / max|x|, t = -9 .. 9


def _iq3_s_sub_blocks(x, weight):
    """IQ3_S's search for sub-blocks x (m, 32): scale (m,) float32, grid index (m, 8), sign bits (m, 32)."""
    book = codebook("IQ3_S")
    m = len(x)
    negative = ~(x >= 0)
    xval = np.abs(x).reshape(m, 8, 4)
    w = weight.reshape(m, 8, 4)
    waux = np.sqrt(w)
    top = np.abs(x).max(axis=1)
    zero = ~(top > 0)
    top = np.where(zero, np.float32(1), top)
    scale = top / np.float32(15)
    best = np.zeros(m, dtype=np.float32)
    index = np.zeros((m, 8), dtype=np.int32)     # before any try is kept: levels 0, "not on grid"
    on_grid = np.zeros((m, 8), dtype=bool)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for t in IQ3_S_TRIES:
            inverse = ((np.float32(15) + np.float32(t) * np.float32(0.2)) / top)[:, None]
            this_scale = np.float32(1) / inverse
            idx, on = _grid_points(book, xval, waux, this_scale, inverse, 7)
            sum_qx, sum_q2 = _weighted_sums(book, idx, xval, w)
            better = (sum_q2 > 0) & (sum_qx * sum_qx > best * sum_q2)
            scale = np.where(better, sum_qx / sum_q2, scale)
            best = np.where(better, scale * sum_qx, best)
            index = np.where(better[:, None], idx, index)
            on_grid = np.where(better[:, None], on, on_grid)
        # a group of the kept try went through the neighbour search: redo all groups at the fitted
        # scale (lattice rounding with 1/scale, neighbours scored at scale) and refit once
        redo = ~on_grid.all(axis=1) & (scale > 0)
        if redo.any():
            s = scale[redo][:, None]
            idx, _ = _grid_points(book, xval[redo], waux[redo], s, np.float32(1) / s, 7)
            sum_qx, sum_q2 = _weighted_sums(book, idx, xval[redo], w[redo])
            index[redo] = idx
            scale[redo] = np.where(sum_q2 > 0, sum_qx / sum_q2, scale[redo])
    return np.where(zero, np.float32(0), scale), index, negative, zero


def _quantize_iq3_s_blocks(blocks, importance=None):
    n = len(blocks)
    weight = fit_weights(blocks, importance)
    sub = blocks.reshape(-1, SUB_BLOCK)
    w = weight.reshape(-1, SUB_BLOCK)
    parts = [_iq3_s_sub_blocks(sub[i:i + _CHUNK], w[i:i + _CHUNK]) for i in range(0, len(sub), _CHUNK)]
    scale, index, negative, zero = (np.concatenate(p) for p in zip(*parts))
    scale, index, negative, zero = scale.reshape(n, 8), index.reshape(n, 8, 8), negative.reshape(n, 8, 32), zero.reshape(n, 8)

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

    max_scale = c_running_max(scale, zero)          # all-zero sub-blocks are skipped in C
    d = max_scale / np.float32(31)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inverse = np.float32(1) / d
        code = np.clip(nearest_int(np.float32(0.5) * (inverse[:, None] * scale - np.float32(1))), 0, 15)
    stored = max_scale != 0                     # C's `if (!max_scale) continue;` (nan is stored)
    code = np.where(stored[:, None], code, 0).astype(np.uint8)
    scales = code[:, 0::2] | (code[:, 1::2] << 4)
    d_bytes = fp16_to_bytes(np.where(stored, d * np.float32(1.033), np.float32(0)))
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
