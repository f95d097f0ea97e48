"""IQ2_S, IQ2_XS and IQ2_XXS: 8-dimensional grid points (levels 1, 3, 5) for groups of 8 magnitudes.

IQ2_S: 1024 points, a sign bit per weight, 4-bit scales per 16: 82 bytes per 256 = 2.5625 bpw.
IQ2_XS: 512 points, 7 sign bits per 8 packed with the index in a uint16, 4-bit scales per 16:
74 bytes per 256 = 2.3125 bpw. IQ2_XXS: 256 points, 4 indices in one uint32 and 4 x 7 sign bits
plus a 4-bit scale in another, per 32: 66 bytes per 256 = 2.0625 bpw. llama.cpp refuses IQ2_XS
and IQ2_XXS without an importance matrix; so do these. The search is quantlab.ggml.iquants'.
"""

import numpy as np

from .fp16 import fp16_from_bytes
from .iquants import Search, c_running_max, fit_weights, search_blocks, seven_sign_bits, sigma2_weights, sub_block_codes
from .iquants_grids import codebook
from .rowwise import Layout, dequantize_rows, quantize_rows

# ----------------------------------------------------------------------------- IQ2_S

IQ2_S = Layout(
    "IQ2_S", block_size=256, fields=(("d", 2), ("qs", 32), ("signs", 32), ("qh", 8), ("scales", 8)), imatrix="optional"
)
IQ2_S_SEARCH = Search(
    "IQ2_S", sub_block=16, top_level=2, step=0.1, tiny=1e-8, on_grid_at_start=True, redo_all=False, bounded="lists"
)


def _quantize_iq2_s_blocks(blocks, importance=None):
    n = len(blocks)
    scale, index, negative, zero = search_blocks(IQ2_S_SEARCH, blocks, fit_weights(blocks, importance, 0.25))
    index = np.where(zero[:, :, None], 0, index).reshape(n, 32)  # zero sub-blocks: nothing written
    signs = np.packbits(negative & ~zero[:, :, None], axis=2, bitorder="little").reshape(n, 32)
    qh = ((index >> 8) & 3).reshape(n, 8, 4) << (2 * np.arange(4))  # 2 high bits per group of 8
    qh = np.bitwise_or.reduce(qh, axis=2).astype(np.uint8)
    d_bytes, code = sub_block_codes(scale, zero, 15, 0.9875)
    scales = code[:, 0::2] | (code[:, 1::2] << 4)
    return np.concatenate([d_bytes, (index & 0xFF).astype(np.uint8), signs, qh, scales], axis=1)


def fields_iq2_s(data):
    """Decoded IQ2_S fields: d, 4-bit scales (16 per block), grid indices (32), sign bits (256)."""
    n = len(data)
    high = (data[:, 66:74, None].astype(np.int32) >> (2 * np.arange(4))) & 3
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "scales": np.stack([data[:, 74:82] & 0xF, data[:, 74:82] >> 4], axis=2).reshape(n, 16),
        "grid_index": data[:, 2:34].astype(np.int32) | (high.reshape(n, 32) << 8),
        "negative": np.unpackbits(data[:, 34:66], axis=1, bitorder="little"),
    }


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


# ----------------------------------------------------------------------------- IQ2_XXS

IQ2_XXS = Layout("IQ2_XXS", block_size=256, fields=(("d", 2), ("qs", 64)), imatrix="required")
IQ2_XXS_SEARCH = Search(
    "IQ2_XXS",
    sub_block=32,
    top_level=2,
    step=0.1,
    tiny=1e-15,
    on_grid_at_start=False,
    redo_all=True,
    tries=6,
    even_signs=True,
    qp_start=True,
    bounded="grid",
)


def _quantize_iq2_xxs_blocks(blocks, importance):
    n = len(blocks)
    scale, index, negative, zero = search_blocks(IQ2_XXS_SEARCH, blocks, sigma2_weights(blocks, importance))
    d_bytes, code = sub_block_codes(scale, zero, 15, 1.0)
    grid_words = (index.astype(np.uint32) << (8 * np.arange(4, dtype=np.uint32))).sum(axis=2, dtype=np.uint32)
    sign_words = seven_sign_bits(negative) | code.astype(np.uint32) << 28
    words = np.stack([grid_words, sign_words], axis=2)  # (n, 8, 2)
    words = np.where(zero[:, :, None], np.uint32(0), words)  # (their code is 0 too)
    stored = c_running_max(scale, zero) != 0
    words = np.where(stored[:, None, None], words, np.uint32(0)).astype("<u4")
    return np.concatenate([d_bytes, words.view(np.uint8).reshape(n, 64)], axis=1)


def _grid_sign_fields(words, n):
    """Grid indices (n, 32) and sign bits (n, 256) from IQ2_XXS's pairs of uint32 words (n, 8, 2)."""
    grid_index = words[:, :, :1].view(np.uint8).reshape(n, 32).astype(np.int32)
    seven = (words[:, :, 1:] >> (7 * np.arange(4, dtype=np.uint32))) & 127  # (n, 8, 4)
    bits = np.unpackbits(seven.astype(np.uint8)[..., None], axis=3, bitorder="little")[..., :7]
    parity = bits.sum(axis=3, keepdims=True) % 2
    return grid_index, np.concatenate([bits, parity], axis=3).reshape(n, 256)


def fields_iq2_xxs(data):
    """Decoded IQ2_XXS fields: d, 4-bit scales (8), grid indices (32), sign bits (256, parity completed)."""
    n = len(data)
    words = data[:, 2:66].copy().view("<u4").reshape(n, 8, 2)
    grid_index, negative = _grid_sign_fields(words, n)
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "scales": (words[:, :, 1] >> 28).astype(np.uint8),
        "grid_index": grid_index,
        "negative": negative,
    }


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
IQ2_XS_SEARCH = Search(
    "IQ2_XS",
    sub_block=16,
    top_level=2,
    step=0.1,
    tiny=1e-15,
    on_grid_at_start=True,
    redo_all=False,
    even_signs=True,
    bounded="grid",
)


def _quantize_iq2_xs_blocks(blocks, importance):
    n = len(blocks)
    scale, index, negative, zero = search_blocks(IQ2_XS_SEARCH, blocks, sigma2_weights(blocks, importance))
    seven = np.packbits(negative.reshape(n, 16, 2, 8), axis=3, bitorder="little")[..., 0] & 127
    q2 = index.astype(np.uint16) | (seven.astype(np.uint16) << 9)  # (n, 16, 2): 9-bit index, 7 signs
    q2 = np.where(zero[:, :, None], np.uint16(0), q2)
    stored = c_running_max(scale, zero) != 0
    q2 = np.where(stored[:, None, None], q2, np.uint16(0)).astype("<u2")
    d_bytes, code = sub_block_codes(scale, zero, 15, 1.0)
    scales = code[:, 0::2] | (code[:, 1::2] << 4)
    return np.concatenate([d_bytes, q2.view(np.uint8).reshape(n, 64), scales], axis=1)


def fields_iq2_xs(data):
    """Decoded IQ2_XS fields: d, 4-bit scales (16), grid indices (32), sign bits (256, parity completed)."""
    n = len(data)
    q2 = data[:, 2:66].copy().view("<u2")  # (n, 32)
    bits = np.unpackbits((q2 >> 9).astype(np.uint8)[..., None], axis=2, bitorder="little")[..., :7]
    parity = bits.sum(axis=2, keepdims=True) % 2
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "scales": np.stack([data[:, 66:74] & 0xF, data[:, 66:74] >> 4], axis=2).reshape(n, 16),
        "grid_index": (q2 & 511).astype(np.int32),
        "negative": np.concatenate([bits, parity], axis=2).reshape(n, 256),
    }


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
