"""IQ3_S and IQ3_XXS: 4-dimensional grid points (levels 1, 3, .., 15) for groups of 4 magnitudes.

IQ3_S: 512 points (9-bit indices), a sign bit per weight, 4-bit scales per 32 under an fp16 d:
110 bytes per 256 = 3.4375 bits per weight. IQ3_XXS: 256 points (8-bit indices), 7 sign bits per 8
(the 8th makes the count of minus signs even), the 4-bit scale and the signs of 32 weights in one
uint32: 98 bytes per 256 = 3.0625 bits per weight. The search is quantlab.ggml.iquants'.
"""

import numpy as np

from .fp16 import fp16_from_bytes
from .iquants import Search, c_running_max, fit_weights, search_blocks, seven_sign_bits, sub_block_codes
from .iquants_grids import codebook
from .rowwise import Layout, dequantize_rows, quantize_rows

# ----------------------------------------------------------------------------- IQ3_S

IQ3_S = Layout(
    "IQ3_S", block_size=256, fields=(("d", 2), ("qs", 64), ("qh", 8), ("signs", 32), ("scales", 4)), imatrix="optional"
)

IQ3_S_SEARCH = Search(
    "IQ3_S", sub_block=32, top_level=7, step=0.2, tiny=0, on_grid_at_start=False, redo_all=True, bounded="lists"
)


def _quantize_iq3_s_blocks(blocks, importance=None):
    n = len(blocks)
    scale, index, negative, zero = search_blocks(IQ3_S_SEARCH, blocks, fit_weights(blocks, importance))

    qs_sub = (index & 0xFF).astype(np.uint8)  # (n, 8 sub-blocks, 8 groups)
    signs_sub = np.packbits(negative, axis=2, bitorder="little")  # (n, 8, 4)
    # llama.cpp advances its qs and signs pointers only past non-zero sub-blocks: an all-zero
    # sub-block leaves no slot, the following ones move up, and the last slots stay 0.
    slot = np.cumsum(~zero, axis=1) - 1
    qs = np.zeros((n, 8, 8), dtype=np.uint8)
    signs = np.zeros((n, 8, 4), dtype=np.uint8)
    rows, subs = np.nonzero(~zero)
    qs[rows, slot[rows, subs]] = qs_sub[rows, subs]
    signs[rows, slot[rows, subs]] = signs_sub[rows, subs]
    qh = np.packbits(((index >> 8) & 1).astype(np.uint8) & ~zero[:, :, None], axis=2, bitorder="little")[:, :, 0]

    d_bytes, code = sub_block_codes(scale, zero, 15, 1.033)
    scales = code[:, 0::2] | (code[:, 1::2] << 4)
    return np.concatenate([d_bytes, qs.reshape(n, 64), qh, signs.reshape(n, 32), scales], axis=1)


def fields_iq3_s(data):
    """Decoded IQ3_S fields: d, 4-bit scales (8 per block), grid indices (64), sign bits (256)."""
    n = len(data)
    high = np.unpackbits(data[:, 66:74], axis=1, bitorder="little").astype(np.int32)
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "scales": np.stack([data[:, 106:110] & 0xF, data[:, 106:110] >> 4], axis=2).reshape(n, 8),
        "grid_index": data[:, 2:66].astype(np.int32) | (high << 8),
        "negative": np.unpackbits(data[:, 74:106], axis=1, bitorder="little"),
    }


def _dequantize_iq3_s_blocks(data):
    f = fields_iq3_s(data)
    n = len(data)
    step = f["d"][:, None] * (np.float32(1) + np.float32(2) * f["scales"].astype(np.float32))  # (n, 8)
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


# ----------------------------------------------------------------------------- IQ3_XXS

IQ3_XXS = Layout("IQ3_XXS", block_size=256, fields=(("d", 2), ("qs", 64), ("scales_and_signs", 32)), imatrix="optional")
IQ3_XXS_SEARCH = Search(
    "IQ3_XXS",
    sub_block=32,
    top_level=7,
    step=0.2,
    tiny=1e-8,
    on_grid_at_start=True,
    redo_all=False,
    tries=15,
    even_signs=True,
    bounded="grid",
)


def _quantize_iq3_xxs_blocks(blocks, importance=None):
    n = len(blocks)
    scale, index, negative, zero = search_blocks(IQ3_XXS_SEARCH, blocks, fit_weights(blocks, importance))
    d_bytes, code = sub_block_codes(scale, zero, 15, 1.0125)
    signs = np.where(zero, np.uint32(0), seven_sign_bits(negative))
    words = (signs | code.astype(np.uint32) << 28).astype("<u4")
    qs = np.where(zero[:, :, None], 0, index).astype(np.uint8).reshape(n, 64)
    stored = c_running_max(scale, zero) != 0  # C clears the whole block when max_scale is 0
    qs = np.where(stored[:, None], qs, 0)
    words = np.where(stored[:, None], words, 0).astype("<u4")
    return np.concatenate([d_bytes, qs, words.view(np.uint8).reshape(n, 32)], axis=1)


def fields_iq3_xxs(data):
    """Decoded IQ3_XXS fields: d, 4-bit scales (8), grid indices (64), sign bits (256, parity completed)."""
    n = len(data)
    words = data[:, 66:98].copy().view("<u4")  # (n, 8)
    seven = (words[:, :, None] >> (7 * np.arange(4, dtype=np.uint32))) & 127  # (n, 8, 4)
    bits = np.unpackbits(seven.astype(np.uint8)[..., None], axis=3, bitorder="little")[..., :7]
    parity = bits.sum(axis=3, keepdims=True) % 2
    negative = np.concatenate([bits, parity], axis=3).reshape(n, 256)
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "scales": (words >> 28).astype(np.uint8),
        "grid_index": data[:, 2:66].astype(np.int32),
        "negative": negative,
    }


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
