"""GGML's legacy block formats Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1: 32 weights, one fp16 scale, no search.

Every block is quantized on its own, in one pass: range -> scale d (and min m) -> codes.

    Q8_0  w = d * c,          c in -127..127  (int8),  d = absmax / 127
    Q4_0  w = d * (c - 8),    c in 0..15,              d = signed max / -8
    Q5_0  w = d * (c - 16),   c in 0..31,              d = signed max / -16
    Q4_1  w = d * c + m,      c in 0..15,              d = (max - min) / 15,  m = min
    Q5_1  w = d * c + m,      c in 0..31,              d = (max - min) / 31,  m = min

"signed max" is the weight of largest magnitude *with its sign* (the first one if several tie).
Dividing it by -8 makes that weight land exactly on code 0, i.e. on -8*d: the extreme weight gets
the lonely 16th level of the asymmetric range -8..7, and the other side gets 7 levels.

Rounding, exactly as llama.cpp's quantize_row_*_ref (ggml-quants.c) does it, all in float32:
- The codes are computed with the float32 scale d and its float32 inverse id = 1/d; only the
  stored d is rounded to fp16 (round to nearest, ties to even). So a weight can get a code that is
  not the nearest one under the stored fp16 scale.
- Q8_0 rounds x*id with C's roundf: ties away from zero (np.round would send 2.5 to 2, not 3).
- Q4_0/Q5_0 round by adding an offset, 8.5 (16.5), in float32 and truncating toward zero:
  (int8)(x*id + 8.5). Since x*id + 8.5 >= 0, ties go up, toward +inf (x*id = -2.5 -> 6.0 -> code 6,
  i.e. -2), and the float32 addition may itself round first. The code is then capped at 15 (31).
- Q4_1/Q5_1 do the same with an offset of 0.5 on (x - min)*id; Q5_1 is not capped (it cannot
  exceed 31 by more than rounding noise).
- If d is a nonzero float32 subnormal, 1/d overflows to inf and every x*id is +-inf or nan;
  C's float-to-int conversion then yields 0x80000000, whose low byte is 0: every code is 0.
Layout of a block (little-endian): d (fp16) [, m (fp16)] [, qh (32 high bits)], qs: byte j holds
code j in its low nibble and code j+16 in its high nibble (Q8_0: 32 int8 codes).
"""

import numpy as np

from .fp16 import (fp16_from_bytes, fp16_to_bytes, pack_bits, pack_fields,
                   round_half_away_from_zero, unpack_bits, unpack_fields)

BLOCK_SIZE = 32
BYTES_PER_BLOCK = {"q8_0": 34, "q4_0": 18, "q4_1": 20, "q5_0": 22, "q5_1": 24}


# ---------------------------------------------------------------- shared steps

def _signed_absmax(blocks):
    """Per block, the weight of largest magnitude with its sign, first one on a tie, +0.0 if all zero.

    C keeps `max` from the first v with |v| > amax (starting from amax = max = +0.0).
    """
    top, bottom = blocks.max(axis=1), blocks.min(axis=1)
    signed = np.where(-bottom > top, bottom, top)
    tie = (-bottom == top) & (top != 0)  # +a and -a both present: whichever comes first wins
    if tie.any():
        rows = np.flatnonzero(tie)
        signed[rows] = blocks[rows, np.abs(blocks[rows]).argmax(axis=1)]
    return (signed + np.float32(0))[:, None]  # -0.0 + 0.0 = +0.0: an all-zero block keeps max = +0.0


def _first_extreme(blocks, extreme):
    """Per block min (or max) as C's `if (v < min) min = v` finds it: the first of equal values.

    Only the sign of a zero can differ from np.min/np.max (a block holding both +0.0 and -0.0),
    and it shows in the stored fp16 bytes, so those few blocks are settled by position.
    """
    value = extreme(blocks, axis=1)
    rows = np.flatnonzero(value == 0)
    if len(rows):
        value[rows] = blocks[rows, np.argmax(blocks[rows] == 0, axis=1)]
    return value[:, None]


def _inverse(scale):
    """id = 1/d in float32 (0 where d == 0, as `d ? 1.0f/d : 0.0f`), and where 1/d overflowed.

    A nonzero subnormal d has no finite inverse; there C computes with id = inf and every code
    comes out 0 (see the module docstring). We compute with id = 0 and zero those codes after.
    """
    with np.errstate(divide="ignore", over="ignore"):
        inverse = np.where(scale == 0, np.float32(0), np.float32(1) / scale).astype(np.float32)
    overflowed = np.isinf(inverse)
    inverse[overflowed] = 0
    return inverse, overflowed[:, 0]


def _truncated_codes(scaled, offset, top, overflowed):
    """C's `MIN(top, (int8_t)(scaled + offset))` as uint8: float32 add, truncate toward zero, cap."""
    shifted = scaled + np.float32(offset)
    codes = shifted.astype(np.uint8)  # values are in [0, top + 1.5): the cast truncates toward zero
    if top is not None:
        np.minimum(codes, np.uint8(top), out=codes)
    codes[overflowed] = 0
    return codes


def _pack_halves(codes):
    """Nibble layout: byte j = code j (low nibble) | code j+16 (high nibble)."""
    return pack_fields(codes.reshape(len(codes), 2, BLOCK_SIZE // 2), 4)


def _unpack_halves(qs):
    """Inverse of _pack_halves: (n, 16) bytes -> (n, 32) codes 0..15."""
    return unpack_fields(qs, 4).reshape(len(qs), BLOCK_SIZE)


def _quantize_symmetric(blocks, levels_below_zero):
    """Q4_0 / Q5_0: d = signed max / -levels, codes = min(2*levels - 1, trunc(x*id + levels + 0.5))."""
    blocks = np.asarray(blocks, dtype=np.float32)
    scale = _signed_absmax(blocks) / np.float32(-levels_below_zero)
    inverse, overflowed = _inverse(scale)
    codes = _truncated_codes(blocks * inverse, levels_below_zero + 0.5, 2 * levels_below_zero - 1, overflowed)
    return scale[:, 0], codes


def _quantize_affine(blocks, top, capped):
    """Q4_1 / Q5_1: m = min, d = (max - min) / top, codes = trunc((x - m)*id + 0.5), capped or masked."""
    blocks = np.asarray(blocks, dtype=np.float32)
    low = _first_extreme(blocks, np.min)
    scale = (_first_extreme(blocks, np.max) - low) / np.float32(top)
    inverse, overflowed = _inverse(scale)
    codes = _truncated_codes((blocks - low) * inverse, 0.5, top if capped else None, overflowed)
    return scale[:, 0], low[:, 0], codes & np.uint8(top)


# ---------------------------------------------------------------- Q8_0

def quantize_q8_0(blocks):
    """Q8_0: d = absmax/127 stored as fp16, codes = roundf(x / d) as int8 (ties away from zero)."""
    blocks = np.asarray(blocks, dtype=np.float32)
    absmax = np.abs(np.maximum(blocks.max(axis=1), -blocks.min(axis=1)))[:, None]  # abs: never -0.0
    scale = absmax / np.float32(127)
    inverse, overflowed = _inverse(scale)
    codes = round_half_away_from_zero(blocks * inverse).astype(np.int8)
    codes[overflowed] = 0
    return np.concatenate([fp16_to_bytes(scale[:, 0]), codes.view(np.uint8)], axis=1)


def fields_q8_0(data):
    """Decoded Q8_0 fields: d (float32, per block) and codes (int8, 32 per block); w = d * codes."""
    return {"d": fp16_from_bytes(data[:, 0:2]), "codes": data[:, 2:].view(np.int8)}


def dequantize_q8_0(data):
    """Q8_0 weights: d * codes in float32."""
    f = fields_q8_0(data)
    return f["d"][:, None] * f["codes"].astype(np.float32)


# ---------------------------------------------------------------- Q4_0

def quantize_q4_0(blocks):
    """Q4_0: d = signed max / -8 (fp16), codes 0..15 in nibbles; w = d * (code - 8)."""
    scale, codes = _quantize_symmetric(blocks, 8)
    return np.concatenate([fp16_to_bytes(scale), _pack_halves(codes)], axis=1)


def fields_q4_0(data):
    """Decoded Q4_0 fields: d (float32) and codes (uint8 0..15); w = d * (codes - 8)."""
    return {"d": fp16_from_bytes(data[:, 0:2]), "codes": _unpack_halves(data[:, 2:])}


def dequantize_q4_0(data):
    """Q4_0 weights: d * (code - 8) in float32."""
    f = fields_q4_0(data)
    return f["d"][:, None] * (f["codes"].astype(np.float32) - np.float32(8))


# ---------------------------------------------------------------- Q4_1

def quantize_q4_1(blocks):
    """Q4_1: d = (max - min)/15 and m = min (both fp16), codes 0..15; w = d * code + m."""
    scale, low, codes = _quantize_affine(blocks, 15, capped=True)
    return np.concatenate([fp16_to_bytes(scale), fp16_to_bytes(low), _pack_halves(codes)], axis=1)


def fields_q4_1(data):
    """Decoded Q4_1 fields: d, m (float32) and codes (uint8 0..15); w = d * codes + m."""
    return {"d": fp16_from_bytes(data[:, 0:2]), "m": fp16_from_bytes(data[:, 2:4]),
            "codes": _unpack_halves(data[:, 4:])}


def dequantize_q4_1(data):
    """Q4_1 weights: d * code + m in float32 (two roundings, no fused multiply-add)."""
    f = fields_q4_1(data)
    return f["d"][:, None] * f["codes"].astype(np.float32) + f["m"][:, None]


# ---------------------------------------------------------------- Q5_0 / Q5_1: a 5th bit in qh

def _pack_five_bits(codes):
    """Low 4 bits as nibbles (qs), 5th bits as a little-endian uint32 (qh): returns (qh, qs)."""
    return pack_bits(codes >> np.uint8(4)), _pack_halves(codes & np.uint8(15))


def _unpack_five_bits(qh, qs):
    """Inverse of _pack_five_bits: 5-bit codes 0..31, (n, 32)."""
    return _unpack_halves(qs) | (unpack_bits(qh) << np.uint8(4))


def quantize_q5_0(blocks):
    """Q5_0: d = signed max / -16 (fp16), 5-bit codes 0..31; w = d * (code - 16)."""
    scale, codes = _quantize_symmetric(blocks, 16)
    qh, qs = _pack_five_bits(codes)
    return np.concatenate([fp16_to_bytes(scale), qh, qs], axis=1)


def fields_q5_0(data):
    """Decoded Q5_0 fields: d (float32) and codes (uint8 0..31); w = d * (codes - 16)."""
    return {"d": fp16_from_bytes(data[:, 0:2]), "codes": _unpack_five_bits(data[:, 2:6], data[:, 6:])}


def dequantize_q5_0(data):
    """Q5_0 weights: d * (code - 16) in float32."""
    f = fields_q5_0(data)
    return f["d"][:, None] * (f["codes"].astype(np.float32) - np.float32(16))


def quantize_q5_1(blocks):
    """Q5_1: d = (max - min)/31 and m = min (fp16), 5-bit codes 0..31; w = d * code + m."""
    scale, low, codes = _quantize_affine(blocks, 31, capped=False)  # C stores (uint8)(..) & 31
    qh, qs = _pack_five_bits(codes)
    return np.concatenate([fp16_to_bytes(scale), fp16_to_bytes(low), qh, qs], axis=1)


def fields_q5_1(data):
    """Decoded Q5_1 fields: d, m (float32) and codes (uint8 0..31); w = d * codes + m."""
    return {"d": fp16_from_bytes(data[:, 0:2]), "m": fp16_from_bytes(data[:, 2:4]),
            "codes": _unpack_five_bits(data[:, 4:8], data[:, 8:])}


def dequantize_q5_1(data):
    """Q5_1 weights: d * code + m in float32."""
    f = fields_q5_1(data)
    return f["d"][:, None] * f["codes"].astype(np.float32) + f["m"][:, None]
