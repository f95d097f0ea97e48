"""Quantizing with an importance matrix: the code path llama.cpp's quantizers take when given one.

`llama-quantize --imatrix` passes each quantizer `quant_weights`, one importance per column of the
tensor (the mean of x_j^2 over calibration tokens, see quantlab.calibration.imatrix). Every type
then minimizes a *weighted* error. As quantize_<type> in ggml/src/ggml-quants.c does it:

    type        weight of x_j in the search                       search that uses it
    Q4_0, Q5_0  qw_j * sqrt(sigma2 + x_j^2), sigma2 = mean x^2 of the ROW      make_qx_quants
    Q4_1, Q5_1  same                                               make_qkx3_quants (36 grids)
    Q2_K        qw_j * sqrt(sigma2 + x_j^2), sigma2 = mean x^2 of the 256-block; make_qkx3_quants
                then the 4-bit sub-block scales and mins by make_qp_quants, weighted by each
                sub-block's total weight (instead of max / 15)
    Q3_K        same with sigma2 = 2 * mean x^2; make_qx_quants per sub-block, then the 6-bit
                scales by make_qx_quants weighted by the sub-block totals (instead of max / -32)
    Q4_K, Q5_K  as Q3_K's weights; make_qkx3_quants, then 6-bit scales/mins by make_qp_quants
    Q6_K        qw_j itself (no sigma2 term)                       make_qx_quants
    IQ4_NL      qw_j * sqrt(sigma2 + x_j^2), sigma2 = 2 * mean x^2 of the 32-block; its search
    Q8_0 (and F32, F16) ignore the importance matrix.

So the legacy types are not "the same with weights": without an importance matrix they take one
pass (d = max / -8), with one they search 19 (Q4_0/Q5_0) or 37 (Q4_1/Q5_1) grids, and their codes
come from the search rather than from the stored fp16 scale. And the legacy weights depend on the
whole row (sigma2), so a row is the unit here, not a block.
"""

import numpy as np

from . import iq4_nl
from .fp16 import fp16_round, fp16_to_bytes, pack_bits, pack_halves, sum_in_order
from .kquants import (
    _pack_2bit_codes,
    _pack_high_bits,
    _pack_nibbles_by_64,
    _pack_q3_k_scales,
    _pack_scales_mins_6bit,
    _quantize_q6_k_slice,
    _requantize,
    _unpack_scales_mins_6bit,
)
from .kquants_search import (
    GROUP_MAX_EPS,
    Workspace,
    nearest_int,
    scale_and_min_codes,
    search_scale_and_min,
    search_signed_scale,
    signed_grid_codes,
)

IGNORED = ("F32", "F16", "Q8_0")  # types whose quantizer does not read quant_weights
_SLICE_WEIGHTS = 65536  # weights per slice of a search: its work arrays stay near the cache


def _row_sum_of_squares(rows):
    """sum_j x_j^2 of each row, added left to right in float32 (np.cumsum is sequential)."""
    return np.cumsum(rows * rows, axis=-1, dtype=np.float32)[..., -1]


def _importance(x, imatrix, sigma2):
    """qw_j * sqrtf(sigma2 + x_j^2) in float32, the weights of the legacy, K (but Q6_K) and IQ4_NL types."""
    return imatrix * np.sqrt(sigma2 + x * x)


# ---------------------------------------------------------------- legacy types (rows)


def _legacy_weights(rows, imatrix, block):
    """Per-block weights (n_blocks, 32): sigma2 is the mean x^2 of the row, as in quantize_row_q4_0_impl."""
    sigma2 = _row_sum_of_squares(rows) / np.float32(rows.shape[1])
    return _importance(rows, imatrix[None, :], sigma2[:, None]).reshape(-1, block)


def _in_slices(search, *arrays):
    """search(*slices, workspace) over slices of blocks (_SLICE_WEIGHTS weights), outputs concatenated."""
    workspace, size = Workspace(), max(_SLICE_WEIGHTS // arrays[0][0].size, 1)
    parts = [search(*(a[s : s + size] for a in arrays), workspace) for s in range(0, len(arrays[0]), size)]
    return [np.concatenate(outputs) for outputs in zip(*parts)]


def _symmetric(rows, imatrix, nmax):
    """Q4_0/Q5_0: make_qx_quants with weights; d = its least-squares scale, codes from its best grid."""
    blocks = rows.reshape(-1, 32)

    def search(blocks, weights, workspace):
        return search_signed_scale(blocks, nmax, workspace, weights=weights)

    scale, iscale = _in_slices(search, blocks, _legacy_weights(rows, imatrix, 32))
    return scale, signed_grid_codes(blocks, iscale, nmax)  # all-zero block: codes 0, as C leaves L


def _affine(rows, imatrix, nmax):
    """Q4_1/Q5_1: make_qkx3_quants (rmin -0.9, rdelta 0.05, 36 steps, squared error); m = min."""
    blocks = rows.reshape(-1, 32)

    def search(blocks, weights, workspace):
        return search_scale_and_min(
            blocks, weights, nmax=nmax, rmin=-0.9, rdelta=0.05, nstep=36, use_mad=False, workspace=workspace
        )

    scale, minimum, iscale, origin = _in_slices(search, blocks, _legacy_weights(rows, imatrix, 32))
    with np.errstate(invalid="ignore"):  # a subnormal range gives iscale inf: C's garbage codes, silently
        codes = scale_and_min_codes(blocks, iscale, origin, nmax)
    return scale, -minimum, codes


def quantize_q4_0(rows, imatrix):
    scale, codes = _symmetric(rows, imatrix, 8)
    return np.concatenate([fp16_to_bytes(scale), pack_halves(codes)], axis=1)


def quantize_q5_0(rows, imatrix):
    scale, codes = _symmetric(rows, imatrix, 16)
    return np.concatenate(
        [fp16_to_bytes(scale), pack_bits(codes >> np.uint8(4)), pack_halves(codes & np.uint8(15))], axis=1
    )


def quantize_q4_1(rows, imatrix):
    scale, low, codes = _affine(rows, imatrix, 15)
    return np.concatenate([fp16_to_bytes(scale), fp16_to_bytes(low), pack_halves(codes)], axis=1)


def quantize_q5_1(rows, imatrix):
    scale, low, codes = _affine(rows, imatrix, 31)
    return np.concatenate(
        [fp16_to_bytes(scale), fp16_to_bytes(low), pack_bits(codes >> np.uint8(4)), pack_halves(codes & np.uint8(15))],
        axis=1,
    )


def quantize_iq4_nl(rows, imatrix):
    """IQ4_NL: its scale search with w_j = qw_j * sqrt(sigma2 + x_j^2), sigma2 = 2 * mean x^2 of the block."""
    blocks = rows.reshape(-1, 32)
    sigma2 = _row_sum_of_squares(blocks) * np.float32(2.0 / 32)
    weights = _importance(blocks, np.tile(imatrix, len(rows)).reshape(-1, 32), sigma2[:, None])
    return iq4_nl.quantize_iq4_nl(blocks, weights)


# ---------------------------------------------------------------- make_qp_quants


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def fit_positive_scale(x, weights, nmax, passes=5):
    """llama.cpp's make_qp_quants: x ~ scale * L with L in 0..nmax, weighted least squares.

    Used for the sub-block scales and mins of Q2_K/Q4_K/Q5_K under an importance matrix, weighted
    by each sub-block's total importance. Steps: the grid of max(x) (iscale = nmax / max); of the
    8 stretches (nmax + 0.1 k) / max, k = -4..4, keep the one of least weighted squared error; round;
    then sweep the values in order up to `passes` times, moving a code to the least-squares
    suggestion of the others when that raises sum(w x L)^2 / sum(w L^2), as make_q3_quants does.

    x, weights: float32 (n, m) element-first, one column per set. Returns scale (m,) and the codes
    (n, m) uint8, stored as C's uint8 stores them (a negative code wraps, as in C).
    """
    f32 = np.float32
    n, m = x.shape
    peak = np.fmax.reduce(np.concatenate([np.zeros((1, m), f32), x]), axis=0)  # MAX from 0
    zero = peak < GROUP_MAX_EPS
    peak = np.where(zero, f32(1), peak)

    def weighted_error(scale, codes):
        diff = x - scale * codes
        return sum_in_order((weights * diff) * diff)

    iscale = f32(nmax) / peak
    best = weighted_error(f32(1) / iscale, nearest_int(iscale * x).astype(np.uint8).astype(f32))
    for k in (-4, -3, -2, -1, 1, 2, 3, 4):
        trial = (f32(0.1) * f32(k) + f32(nmax)) / peak
        codes = np.minimum(nearest_int(trial * x), nmax).astype(f32)
        error = weighted_error(f32(1) / trial, codes)
        better = error < best
        best = np.where(better, error, best)
        iscale = np.where(better, trial, iscale)

    level = np.minimum(nearest_int(iscale * x), nmax)  # int, as C's `int l`
    sum_lx = sum_in_order((weights * x) * level.astype(f32))
    sum_l2 = sum_in_order((weights * level.astype(f32)) * level.astype(f32))
    stored = level.astype(np.uint8).astype(np.int32)  # L[i], C's uint8
    wx = weights * x
    going = ~zero
    for _ in range(passes):
        changed = np.zeros(m, dtype=bool)
        for i in range(n):
            current = stored[i].astype(f32)
            slx = sum_lx - wx[i] * current
            sl2 = sum_l2 - (weights[i] * current) * current
            new = np.minimum(nearest_int((x[i] * sl2) / slx), nmax)
            try_it = going & (slx > 0) & (sl2 > 0) & (new != stored[i])
            new_f = new.astype(f32)
            slx = slx + wx[i] * new_f
            sl2 = sl2 + (weights[i] * new_f) * new_f
            accept = try_it & ((slx * slx) * sum_l2 > (sum_lx * sum_lx) * sl2)
            stored[i] = np.where(accept, new.astype(np.uint8), stored[i])
            sum_lx = np.where(accept, slx, sum_lx)
            sum_l2 = np.where(accept, sl2, sum_l2)
            changed |= accept
        going &= changed
        if not going.any():
            break
    scale = np.where(sum_l2 > 0, sum_lx / sum_l2, f32(0)).astype(f32)
    scale[zero] = 0
    stored[:, zero] = 0
    return scale, stored.astype(np.uint8)


# ---------------------------------------------------------------- K-quants (super-blocks of 256)
# The sub-block searches run a slice of super-blocks at a time (_in_slices);
# the scale quantization (make_qp_quants / make_qx_quants over 8 or 16 scales) and the final codes
# run over all super-blocks at once: their Python-level loops are short and their arrays small.


def _k_weights(rows, imatrix, sub, twice):
    """x as (n, n_sub, sub) super-blocks, their weights qw * sqrt(sigma2 + x^2) and per-sub-block sums.

    sigma2 = sum x^2 / 256 over the super-block (twice that for Q3_K..Q5_K); sums from 0, in order.
    """
    blocks = rows.reshape(-1, 256)
    importance = np.broadcast_to(imatrix.reshape(1, -1, 256), (len(rows), rows.shape[1] // 256, 256))
    sum_x2 = _row_sum_of_squares(blocks)
    sigma2 = (np.float32(2) * sum_x2 if twice else sum_x2) / np.float32(256)
    weights = _importance(blocks, importance.reshape(-1, 256), sigma2[:, None])
    x, weights = blocks.reshape(len(blocks), -1, sub), weights.reshape(len(blocks), -1, sub)
    return x, weights, sum_in_order(np.moveaxis(weights, -1, 0))


def _scale_and_min_levels(scale, minimum, totals, levels):
    """make_qp_quants for the sub-block scales and for the mins: (d, scale codes), (dmin, min codes).

    Both sets share the weights (the sub-block totals), so they run as one batch of columns.
    """
    n = len(scale)
    columns = np.concatenate([scale.T, minimum.T], axis=1)
    weights = np.concatenate([totals.T, totals.T], axis=1)
    factor, codes = fit_positive_scale(np.ascontiguousarray(columns), np.ascontiguousarray(weights), levels)
    return factor[:n], factor[n:], codes[:, :n].T, codes[:, n:].T


def _asymmetric_k(rows, imatrix, sub, nmax, twice):
    """Q2_K/Q4_K/Q5_K: make_qkx3_quants per sub-block, then make_qp_quants for its scales and mins."""
    x, weights, totals = _k_weights(rows, imatrix, sub, twice)

    def search(x, weights, workspace):
        return search_scale_and_min(
            x, weights, nmax=nmax, rmin=-0.9, rdelta=0.05, nstep=36, use_mad=False, workspace=workspace
        )

    scale, minimum, iscale, origin = _in_slices(search, x, weights)
    d, dmin, scale_codes, min_codes = _scale_and_min_levels(scale, minimum, totals, 15 if sub == 16 else 63)

    def search_codes(dead):  # needed only where step == 0: computed there alone
        return scale_and_min_codes(x[dead], iscale[dead], origin[dead], nmax=nmax)

    return x, d, dmin, scale_codes, min_codes, search_codes


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def quantize_q2_k(rows, imatrix):
    x, d, dmin, scale_codes, min_codes, search_codes = _asymmetric_k(rows, imatrix, 16, 3, False)
    packed_scales = scale_codes | (min_codes << np.uint8(4))  # C: Ls[j] | (Lm[j] << 4)
    step = fp16_round(d)[:, None] * (packed_scales & 0xF).astype(np.float32)
    shift = fp16_round(dmin)[:, None] * (packed_scales >> 4).astype(np.float32)
    codes = _requantize(x, step, search_codes, highest=3, offset=shift).reshape(len(x), 256)
    return np.concatenate([packed_scales, _pack_2bit_codes(codes), fp16_to_bytes(d), fp16_to_bytes(dmin)], axis=1)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def _quantize_q45_k(rows, imatrix, nmax):
    x, d, dmin, scales6, mins6, search_codes = _asymmetric_k(rows, imatrix, 32, nmax, True)
    if nmax == 31:  # Q5_K: MIN(63, ls)
        scales6, mins6 = np.minimum(scales6, 63), np.minimum(mins6, 63)
    packed = _pack_scales_mins_6bit(scales6, mins6)
    scales6, mins6 = _unpack_scales_mins_6bit(packed)  # what a reader sees
    step = fp16_round(d)[:, None] * scales6.astype(np.float32)
    shift = fp16_round(dmin)[:, None] * mins6.astype(np.float32)
    codes = _requantize(x, step, search_codes, highest=nmax, offset=shift).reshape(len(x), 256)
    header = [fp16_to_bytes(d), fp16_to_bytes(dmin), packed]
    if nmax == 15:
        return np.concatenate(header + [_pack_nibbles_by_64(codes)], axis=1)
    return np.concatenate(header + [_pack_high_bits(codes, 4), _pack_nibbles_by_64(codes)], axis=1)


def quantize_q4_k(rows, imatrix):
    return _quantize_q45_k(rows, imatrix, 15)


def quantize_q5_k(rows, imatrix):
    return _quantize_q45_k(rows, imatrix, 31)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def quantize_q3_k(rows, imatrix):
    """make_qx_quants per sub-block (weighted), then make_qx_quants over the 16 scales, weighted
    by the sub-block totals: 6-bit signed scale codes (C's Ls = l + 32) and d."""
    x, weights, totals = _k_weights(rows, imatrix, 16, True)

    def search(x, weights, workspace):
        return search_signed_scale(x, 4, workspace, weights=weights)

    scale, iscale = _in_slices(search, x, weights)
    d, block_iscale = search_signed_scale(scale, 32, weights=totals)
    stored = signed_grid_codes(scale, block_iscale, 32)
    step = fp16_round(d)[:, None] * (stored.astype(np.float32) - 32)

    def search_codes(dead):
        return signed_grid_codes(x[dead], iscale[dead], 4)

    codes = _requantize(x, step, search_codes, highest=3, lowest=-4).reshape(len(x), 256)
    return np.concatenate(
        [_pack_high_bits(codes, 2), _pack_2bit_codes(codes & 3), _pack_q3_k_scales(stored), fp16_to_bytes(d)], axis=1
    )


def quantize_q6_k(rows, imatrix):
    """make_qx_quants with the importance matrix's entries themselves as weights, then as without."""
    blocks = rows.reshape(-1, 256)
    importance = np.broadcast_to(imatrix.reshape(1, -1), rows.shape).reshape(-1, 256)

    def quantize_slice(blocks, weights, workspace):
        return [_quantize_q6_k_slice(blocks, workspace, weights=weights)]

    return _in_slices(quantize_slice, blocks, importance)[0]


WEIGHTED = {
    "Q4_0": quantize_q4_0,
    "Q4_1": quantize_q4_1,
    "Q5_0": quantize_q5_0,
    "Q5_1": quantize_q5_1,
    "IQ4_NL": quantize_iq4_nl,
    "Q2_K": quantize_q2_k,
    "Q3_K": quantize_q3_k,
    "Q4_K": quantize_q4_k,
    "Q5_K": quantize_q5_k,
    "Q6_K": quantize_q6_k,
}


def quantize_rows(rows, type_name, imatrix):
    """float32 rows (n_rows, row_length) -> uint8 blocks (n_blocks, bytes), with importance imatrix."""
    return WEIGHTED[type_name](rows, imatrix)
