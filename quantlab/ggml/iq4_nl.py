"""IQ4_NL: 32 weights, one fp16 scale, and 4-bit codes into a fixed non-uniform table of 16 levels.

    w = d * IQ4_NL_LEVELS[c],   levels -127 .. 113, denser near zero (see quantlab.codebook)

The scale is searched, as in llama.cpp's quantize_iq4_nl (ggml-quants.c), which is what real GGUF
files use (not quantize_row_iq4_nl_ref, which skips the search). Per block, with weights w_j = x_j^2:
1. candidate inverse scales: 127/max, then (t - 127)/max for t = -7..7, where max is the weight of
   largest magnitude with its sign (so max lands near +127, i.e. on 113, or near -127);
2. for each candidate, every x_j goes to the nearest level (ties to the upper one) and the
   weighted least-squares scale d = sum(w q x) / sum(w q^2) is scored by d * sum(w q x);
3. the first candidate keeps its d; a later one replaces it only if it scores strictly higher;
4. d is stored as fp16, and the codes are reassigned with 1/d in float32 (not the fp16 d).
Blocks with max|x| < 1e-15 get d = 0 and every code 8 (level +1, nearest to 0).
Bit-exactness needs float32 arithmetic in C's order: the sums run left to right (sum_in_order),
and w*q*x is (w*q)*x.
"""

import numpy as np

from ..codebook import IQ4_NL_LEVELS
from .fp16 import fp16_from_bytes, fp16_to_bytes, pack_halves, sum_in_order, unpack_halves

BLOCK_SIZE = 32
BYTES_PER_BLOCK = 18
TRIES = 7  # llama.cpp's ntry: candidate offsets t = -7..7 around the table's end -127
TINY_BLOCK = np.float32(1e-15)  # GROUP_MAX_EPS: below this max|x|, a block is stored as zeros
_LEVELS = IQ4_NL_LEVELS.astype(np.float32)
_CHUNK = 2048  # blocks per pass: bounds the (32, blocks, 16 candidates) work arrays to ~4 MB each

# Nearest level by table lookup. The levels are integers, so the midpoints between neighbours are
# multiples of 1/2, and which level is nearest to v depends only on floor(2v): code = number of
# doubled midpoints (lo + hi) <= floor(2v). A tie (v exactly on a midpoint) goes to the upper
# level, as in llama.cpp's best_index_int8; its float32 test `v - lo < hi - v` is exact near a
# midpoint (both sides are multiples of v's ulp, in v's binade), so the table agrees with it.
# Negative indices count from the end of a numpy array: the table is stored rotated so that
# entry floor(2v) is found directly for -_REACH <= floor(2v) < _REACH.
_REACH = 272  # in the search |v| <= 134 (|x| <= |max|, |id| <= 134/|max|); beyond, clip
_DOUBLED_MIDPOINTS = IQ4_NL_LEVELS[:-1].astype(np.int64) + IQ4_NL_LEVELS[1:]
_CODE_AT_HALF_STEP = np.roll(
    np.searchsorted(_DOUBLED_MIDPOINTS, np.arange(-_REACH, _REACH), side="right").astype(np.uint8), -_REACH
)
_LEVEL_AT_HALF_STEP = _LEVELS[_CODE_AT_HALF_STEP]


def _half_steps(doubled):
    """floor(2v) as indices into the tables, from 2v (float32; scaling by 2 is exact)."""
    return np.floor(doubled, out=doubled).astype(np.intp)


def nearest_level(scaled):
    """Index (uint8) of the IQ4_NL level nearest to each float32 value; ties go to the upper level.

    nan gets the top level, 15, as in best_index_int8 (every comparison with nan is false): fmin
    returns the number when one argument is nan, so nan is clipped to the top first.
    """
    doubled = np.fmax(np.fmin(np.float32(2) * np.asarray(scaled, dtype=np.float32), _REACH - 1), -_REACH)
    return _CODE_AT_HALF_STEP[_half_steps(doubled)]


def _signed_absmax(blocks):
    """Weight of largest magnitude with its sign, the first one on a tie (argmax finds the first)."""
    first = np.abs(blocks).argmax(axis=1)
    return np.take_along_axis(blocks, first[:, None], axis=1)[:, 0]


def search_scale(blocks, weight=None):
    """The scale d of each block (float32, before fp16 rounding), by llama.cpp's candidate search.

    weight: per-weight importance of the least-squares fits (n, 32), given with an importance matrix
    (see quantlab.ggml.weighted); None means C's default x^2. IQ4_XS runs the same search on its
    32-weight sub-blocks.
    """
    return np.concatenate(
        [
            _search_scale(blocks[i : i + _CHUNK], None if weight is None else weight[i : i + _CHUNK])
            for i in range(0, len(blocks), _CHUNK)
        ]
    )


def _search_scale(blocks, weight=None):
    signed_max = _signed_absmax(blocks)
    tiny = np.abs(signed_max) < TINY_BLOCK
    signed_max = np.where(tiny, np.float32(1), signed_max)  # placeholder; these blocks get d = 0
    # candidate inverse scales, (n, 16): first 1/(max/127), then (t - 127)/max for t = -7..7
    first = np.float32(1) / (signed_max / np.float32(127))
    offsets = np.arange(-TRIES, TRIES + 1, dtype=np.float32) + _LEVELS[0]
    inverse = np.concatenate([first[:, None], offsets[None, :] / signed_max[:, None]], axis=1)

    x = blocks.T[:, :, None]  # (32, n, 1): element axis first, for sum_in_order
    with np.errstate(over="ignore", invalid="ignore"):  # |x| > 1e19 overflows x*x to inf, as in C
        weight = x * x if weight is None else np.asarray(weight, dtype=np.float32).T[:, :, None]
        levels = _LEVEL_AT_HALF_STEP[_half_steps(x * (2 * inverse)[None])]  # (32, n, 16), |2v| < _REACH
        weighted = weight * levels
        sum_qx = sum_in_order(weighted * x, axis=0)  # (n, 16)
        sum_q2 = sum_in_order(weighted * levels, axis=0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fitted = sum_qx / sum_q2  # least-squares d of every candidate
    scale = np.where(sum_q2[:, 0] > 0, fitted[:, 0], np.float32(0))
    best = scale * sum_qx[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, inverse.shape[1]):  # the 15 tries, in C's order
            better = (sum_q2[:, k] > 0) & (sum_qx[:, k] * sum_qx[:, k] > best * sum_q2[:, k])
            scale = np.where(better, fitted[:, k], scale)
            best = np.where(better, scale * sum_qx[:, k], best)
    return np.where(tiny, np.float32(0), scale)


def quantize_iq4_nl(blocks, weights=None):
    """IQ4_NL: searched scale d (fp16) and 4-bit indices into IQ4_NL_LEVELS, in nibbles.

    weights: per-weight importance (n, 32) for the search (see quantlab.ggml.weighted), or None.
    """
    blocks = np.asarray(blocks, dtype=np.float32)
    scale = search_scale(blocks, weights)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        inverse = np.where(scale == 0, np.float32(0), np.float32(1) / scale)  # 1/fp32 d, not 1/fp16 d
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 = nan goes to level 15, as in C
        codes = nearest_level(blocks * inverse[:, None])
    return np.concatenate([fp16_to_bytes(scale), pack_halves(codes)], axis=1)


def fields_iq4_nl(data):
    """Decoded IQ4_NL fields: d (float32) and codes (uint8 0..15); w = d * IQ4_NL_LEVELS[codes]."""
    return {"d": fp16_from_bytes(data[:, 0:2]), "codes": unpack_halves(data[:, 2:])}


def dequantize_iq4_nl(data):
    """IQ4_NL weights: d * level in float32."""
    f = fields_iq4_nl(data)
    return f["d"][:, None] * _LEVELS[f["codes"]]
