"""IQ4_XS: IQ4_NL's 16-level table under K-quant super-blocks: 256 weights, 8 sub-blocks of 32.

    w = d * (ls - 32) * IQ4_NL_LEVELS[c],   d: fp16 per 256,  ls: 6 bits per 32,  c: 4 bits per weight

Where IQ4_NL spends an fp16 scale on every 32 weights (4.5 bits per weight), IQ4_XS stores one fp16
d per 256 and a 6-bit multiplier per 32: 2 + 2 + 4 + 128 = 136 bytes per 256 = 4.25 bits per weight.
llama.cpp (quantize_row_iq4_nl_impl in ggml-quants.c, called with super-block 256):
1. each sub-block of 32 gets IQ4_NL's searched scale (quantlab.ggml.iq4_nl.search_scale), fitted
   with weights x^2, or with an imatrix qw * sqrt(sigma2 + x^2), sigma2 = 2 * mean(x^2) over the 256;
2. d = -s / 32, where s is the sub-block scale of largest magnitude (the first on a tie), so that
   s itself maps to the multiplier -32; d is stored as fp16 but the float32 d is used below;
3. multiplier l = nearest_int(s_i / d) in [-32, 31] (ties to even), stored as l + 32: the low 4
   bits two per byte (scales_l), the high 2 bits in one little-endian uint16 (scales_h, 2 bits each);
4. the codes are reassigned with 1 / (d * l) (float32), nearest level, ties to the upper level.
A super-block with no sub-block scale gets d = -0.0 (stored 0x8000) and every multiplier 32.
Weights near float32's limit overflow x^2 to inf and a sub-block's fit to nan: C's comparisons skip
that nan scale when picking s, and its multiplier comes out 0, as reproduced here.
"""

import numpy as np

from ..codebook import IQ4_NL_LEVELS
from .fp16 import fp16_from_bytes, fp16_to_bytes, pack_halves, round_half_to_even, sum_in_order, unpack_halves
from .iq4_nl import nearest_level, search_scale
from .rowwise import Layout, dequantize_rows, quantize_rows

IQ4_XS = Layout(
    "IQ4_XS", block_size=256, fields=(("d", 2), ("scales_h", 2), ("scales_l", 4), ("qs", 128)), imatrix="optional"
)
SUB_BLOCK = 32
_LEVELS = IQ4_NL_LEVELS.astype(np.float32)


def importance_weights(blocks, importance):
    """llama.cpp's per-weight fit weights: x^2, or with an imatrix qw * sqrt(sigma2 + x^2) per super-block."""
    if importance is None:
        return blocks * blocks
    sigma2 = sum_in_order(blocks * blocks, axis=1) * np.float32(2 / blocks.shape[1])
    return importance * np.sqrt(sigma2[:, None] + blocks * blocks)


def _quantize_blocks(blocks, importance=None):
    n = len(blocks)
    with np.errstate(over="ignore", invalid="ignore"):
        weight = importance_weights(blocks, importance)
    sub = blocks.reshape(-1, SUB_BLOCK)
    scales = search_scale(sub, weight.reshape(-1, SUB_BLOCK)).reshape(n, -1)  # (n, 8) float32
    magnitude = np.where(np.isnan(scales), np.float32(-1), np.abs(scales))  # C's `>` skips a nan scale
    largest = np.take_along_axis(scales, magnitude.argmax(axis=1)[:, None], axis=1)[:, 0]
    largest = np.where(magnitude.max(axis=1) > 0, largest, np.float32(0))  # C starts from max 0
    d = -largest / np.float32(32)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        inverse = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), np.float32(0)).astype(np.float32)
        multiplier = np.clip(round_half_to_even(inverse[:, None] * scales), -32, 31)
        multiplier[np.isnan(multiplier)] = 0  # nearest_int reads a quiet nan's mantissa: 0
        step = d[:, None] * multiplier  # float32 d * l
        inverse_step = np.where(step != 0, np.float32(1) / np.where(step != 0, step, 1), np.float32(0))
        codes = nearest_level(
            (sub.reshape(n, -1, SUB_BLOCK) * inverse_step[:, :, None].astype(np.float32)).reshape(-1, SUB_BLOCK)
        )
    stored = (multiplier + 32).astype(np.uint16)  # 0..63
    scales_l = (stored[:, 0::2] & 0xF) | ((stored[:, 1::2] & 0xF) << 4)
    scales_h = np.bitwise_or.reduce((stored >> 4) << (2 * np.arange(8, dtype=np.uint16)), axis=1).astype("<u2")
    return np.concatenate(
        [
            fp16_to_bytes(d),
            scales_h[:, None].view(np.uint8),
            scales_l.astype(np.uint8),
            pack_halves(codes).reshape(n, -1),
        ],
        axis=1,
    )


def fields_iq4_xs(data):
    """Decoded IQ4_XS fields: d (float32), multipliers l = ls - 32 (int8, 8 per block), codes 0..15."""
    high = (data[:, 2:4].copy().view("<u2").astype(np.int16) >> (2 * np.arange(8, dtype=np.int16))) & 3
    low = np.stack([data[:, 4:8] & 0xF, data[:, 4:8] >> 4], axis=2).reshape(len(data), 8).astype(np.int16)
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "multipliers": (low | (high << 4)) - 32,
        "codes": unpack_halves(data[:, 8:].reshape(-1, 16)).reshape(len(data), 256),
    }


def _dequantize_blocks(data):
    f = fields_iq4_xs(data)
    with np.errstate(invalid="ignore", over="ignore"):  # inf d * 0: nan, as in C
        step = f["d"][:, None] * f["multipliers"].astype(np.float32)  # dl = d * (ls - 32)
        return (step[:, :, None] * _LEVELS[f["codes"]].reshape(len(data), 8, SUB_BLOCK)).reshape(len(data), -1)


def quantize_iq4_xs(x, imatrix=None):
    """IQ4_XS bytes of x, as llama.cpp writes them, with or without an importance vector (one per column)."""
    return quantize_rows(x, imatrix, IQ4_XS, _quantize_blocks)


def dequantize_iq4_xs(raw):
    """float32 weights from IQ4_XS bytes: d * (ls - 32) * level."""
    return dequantize_rows(raw, IQ4_XS, _dequantize_blocks)
