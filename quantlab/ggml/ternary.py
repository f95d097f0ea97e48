"""TQ1_0 and TQ2_0: ternary weights {-1, 0, +1} times one fp16 scale per 256 (BitNet b1.58 models).

Both round x / max|x| to the nearest of -1, 0, 1 (C's lroundf: halves go away from zero) and store
the scale d = max|x| as fp16 at the END of the block. They differ in how the trits t = q + 1 in
{0, 1, 2} are packed:
    TQ2_0: 2 bits per trit, four per byte (trit of weight m + 32 n in bits 2n of byte m of each run
           of 128 weights), 64 + 2 bytes per 256: 2.0625 bits per weight.
    TQ1_0: five trits per byte, as a base-3 number (first weight most significant, 3^5 = 243 <= 256)
           stored as ceil(value * 256 / 243), so that byte * 3^n (mod 256) * 3 >> 8 reads trit n
           back with integer multiplies only. Weights 0..159 go five per byte along 32 bytes, 160..239
           along 16 bytes, the last 16 four per byte in qh (times 3, so they sit in the top trits):
           48 + 4 + 2 bytes per 256: 1.6875 bits per weight (log2(3) = 1.585 is the floor).
A block whose max|x| is so small (below 2^-126, subnormal) that 1/max overflows to inf gets
x * inf = +-inf, for which llama.cpp's lroundf returns LONG_MIN on x86, wrapping to trit 1 (q = 0).
"""

import numpy as np

from .fp16 import fp16_from_bytes, fp16_to_bytes, pack_fields, round_half_away_from_zero, unpack_fields
from .rowwise import Layout, dequantize_rows, quantize_rows

TQ1_0 = Layout("TQ1_0", block_size=256, fields=(("qs", 48), ("qh", 4), ("d", 2)), imatrix="ignored")
TQ2_0 = Layout("TQ2_0", block_size=256, fields=(("qs", 64), ("d", 2)), imatrix="ignored")
_POWERS_OF_3 = np.array([81, 27, 9, 3, 1], dtype=np.uint8)  # first trit most significant


def _trits(blocks):
    """Scale d = max|x| (float32) and trits q + 1 in {0, 1, 2} (uint8) of each block of 256.

    |x / max| <= 1 (up to rounding), so lroundf gives +1 from 0.5 up, -1 from -0.5 down, else 0.
    """
    d = np.abs(np.maximum(blocks.max(axis=1), -blocks.min(axis=1)))  # max|x|, +0.0 for zeros as in C
    with np.errstate(divide="ignore", over="ignore"):  # 1/subnormal overflows to inf, as in C
        inverse = np.where(d > 0, np.float32(1) / np.where(d > 0, d, 1), np.float32(0)).astype(np.float32)
    with np.errstate(invalid="ignore"):  # 0 * inf = nan: such blocks are set below
        scaled = blocks * inverse[:, None]
    trits = np.greater_equal(scaled, np.float32(0.5)).view(np.uint8) + np.uint8(1)
    trits -= np.less_equal(scaled, np.float32(-0.5)).view(np.uint8)
    overflowed = np.isinf(inverse)
    if overflowed.any():  # x * inf: lroundf's LONG_MIN -> trit 1
        trits[overflowed] = 1
    return d, trits


def trits_reference(blocks):
    """The same trits by C's rule spelled out: lroundf(x * (1/max)) + 1, non-finite products -> 1."""
    d = np.abs(blocks).max(axis=1)
    with np.errstate(divide="ignore", over="ignore"):
        inverse = np.where(d > 0, np.float32(1) / np.where(d > 0, d, 1), np.float32(0)).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = blocks * inverse[:, None]
    q = np.where(np.isfinite(scaled), round_half_away_from_zero(np.nan_to_num(scaled)), np.float32(0))
    return d, (q + np.float32(1)).astype(np.uint8)


_CEIL_256_243 = ((np.arange(243) * 256 + 242) // 243).astype(np.uint8)  # ceil(v * 256 / 243)


def _base3_bytes(trits):
    """(..., 5, m) trits -> (..., m) bytes: ceil(sum trit_n 3^(4-n) * 256 / 243)."""
    value = trits[..., 0, :] * np.uint8(3)  # Horner: at most 242, fits a byte
    for n in range(1, 5):
        value += trits[..., n, :]
        if n < 4:
            value *= np.uint8(3)
    return _CEIL_256_243[value]


def _base3_trits(data, count):
    """Inverse of _base3_bytes: (..., m) bytes -> (..., count, m) trits, by (byte * 3^n mod 256) * 3 >> 8."""
    shifted = data[..., None, :] * _POWERS_OF_3[::-1][:count, None]  # uint8: wraps mod 256
    return ((shifted.astype(np.uint16) * 3) >> 8).astype(np.uint8)


def _quantize_tq1_0_blocks(blocks, importance=None):
    d, t = _trits(blocks)
    n = len(blocks)
    first = _base3_bytes(t[:, :160].reshape(n, 5, 32))
    second = _base3_bytes(t[:, 160:240].reshape(n, 5, 16))
    last = t[:, 240:].reshape(n, 4, 4)  # weight 240 + j + 4 m at [m, j]
    qh = _base3_bytes(np.concatenate([last, np.zeros((n, 1, 4), np.uint8)], axis=1))  # times 3
    return np.concatenate([first, second, qh, fp16_to_bytes(d)], axis=1)


def _dequantize_tq1_0_blocks(data):
    n = len(data)
    trits = np.concatenate(
        [
            _base3_trits(data[:, :32], 5).reshape(n, 160),
            _base3_trits(data[:, 32:48], 5).reshape(n, 80),
            _base3_trits(data[:, 48:52], 4).reshape(n, 16),
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore"):  # an inf scale times trit 0 is nan, as in C
        return (trits.astype(np.float32) - np.float32(1)) * fp16_from_bytes(data[:, 52:54])[:, None]


def _quantize_tq2_0_blocks(blocks, importance=None):
    d, t = _trits(blocks)
    qs = pack_fields(t.reshape(len(blocks), 2, 4, 32), width=2).reshape(len(blocks), 64)
    return np.concatenate([qs, fp16_to_bytes(d)], axis=1)


def _dequantize_tq2_0_blocks(data):
    trits = unpack_fields(data[:, :64].reshape(-1, 2, 32), width=2).reshape(len(data), 256)
    with np.errstate(invalid="ignore"):
        return (trits.astype(np.float32) - np.float32(1)) * fp16_from_bytes(data[:, 64:66])[:, None]


def quantize_tq1_0(x, imatrix=None):
    """TQ1_0 bytes of x, as llama.cpp writes them (its quantizer takes no imatrix: ignored)."""
    return quantize_rows(x, imatrix, TQ1_0, _quantize_tq1_0_blocks)


def dequantize_tq1_0(raw):
    """float32 weights from TQ1_0 bytes: (trit - 1) * d."""
    return dequantize_rows(raw, TQ1_0, _dequantize_tq1_0_blocks)


def quantize_tq2_0(x, imatrix=None):
    """TQ2_0 bytes of x, as llama.cpp writes them (its quantizer takes no imatrix: ignored)."""
    return quantize_rows(x, imatrix, TQ2_0, _quantize_tq2_0_blocks)


def dequantize_tq2_0(raw):
    """float32 weights from TQ2_0 bytes: (trit - 1) * d."""
    return dequantize_rows(raw, TQ2_0, _dequantize_tq2_0_blocks)


def fields_tq1_0(data):
    """Decoded TQ1_0 fields per block: d (float32) and the 256 trits 0..2 (weight = (trit - 1) * d)."""
    n = len(data)
    trits = np.concatenate(
        [
            _base3_trits(data[:, :32], 5).reshape(n, 160),
            _base3_trits(data[:, 32:48], 5).reshape(n, 80),
            _base3_trits(data[:, 48:52], 4).reshape(n, 16),
        ],
        axis=1,
    )
    return {"d": fp16_from_bytes(data[:, 52:54]), "trits": trits}


def fields_tq2_0(data):
    """Decoded TQ2_0 fields per block: d (float32) and the 256 trits 0..3 (weight = (trit - 1) * d)."""
    trits = unpack_fields(data[:, :64].reshape(-1, 2, 32), width=2).reshape(len(data), 256)
    return {"d": fp16_from_bytes(data[:, 64:66]), "trits": trits}
