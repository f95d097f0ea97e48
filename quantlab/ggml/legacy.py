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
Layout of a block (little-endian), as byte slices in LAYOUTS: d (fp16) [, m (fp16)] [, qh: the
32 fifth bits, bit j = code j], qs: byte j holds code j in its low nibble and code j+16 in its
high nibble (Q8_0: 32 int8 codes).

Speed: the blocks are processed a few thousand at a time, so that the work arrays stay in the
CPU cache, and the per-block max/min use a pairwise tree over the flat array (np.max(axis=1) on
rows of 32 pays a loop per row), on the float32 bits read as integers (see _top_and_bottom). Both
are exact: max and min never round. Readable *_reference versions sit beside the fast ones.
"""

import numpy as np

from .fp16 import fp16_from_bytes, pack_bits, pack_halves, unpack_bits, unpack_halves

BLOCK_SIZE = 32
LAYOUTS = {  # byte slices of one block, in storage order
    "q8_0": {"d": slice(0, 2), "qs": slice(2, 34)},
    "q4_0": {"d": slice(0, 2), "qs": slice(2, 18)},
    "q4_1": {"d": slice(0, 2), "m": slice(2, 4), "qs": slice(4, 20)},
    "q5_0": {"d": slice(0, 2), "qh": slice(2, 6), "qs": slice(6, 22)},
    "q5_1": {"d": slice(0, 2), "m": slice(2, 4), "qh": slice(4, 8), "qs": slice(8, 24)},
}
BYTES_PER_BLOCK = {name: layout["qs"].stop for name, layout in LAYOUTS.items()}
_CHUNK = 16384  # blocks per pass: 2 MB of float32, so the intermediate arrays stay in cache (measured)
_HALF_BELOW = np.nextafter(np.float32(0.5), np.float32(0))  # 0.49999997


# ---------------------------------------------------------------- shared steps


def _in_chunks(quantize_chunk, blocks, name):
    """Run quantize_chunk(blocks, out) over slices of blocks, filling one uint8 output array."""
    blocks = np.asarray(blocks, dtype=np.float32)
    out = np.empty((len(blocks), BYTES_PER_BLOCK[name]), dtype=np.uint8)
    for start in range(0, len(blocks), _CHUNK):
        quantize_chunk(blocks[start : start + _CHUNK], out[start : start + _CHUNK], LAYOUTS[name])
    return out


def _block_reduce(blocks, pairwise):
    """Per-block max or min (pairwise = np.maximum / np.minimum) by a tree of adjacent pairs."""
    values = blocks.reshape(-1)
    while values.size > len(blocks):
        pairs = values.reshape(-1, 2)
        values = pairwise(pairs[:, 0], pairs[:, 1])
    return values


# The extremes are found on the float32 bits read as integers: an integer tree is about twice as fast
# as a float one (no NaN to propagate), and the two orders below give max, min and max |x| exactly.
#   as int32:  every weight with sign bit 0 (+0.0 included) is above every negative one, in float order;
#   as uint32: every negative weight is above every positive one, ordered by magnitude.
# So the int32 max is the largest weight if there is one >= +0.0, the uint32 max the most negative
# weight if there is a negative one, and the int32 min, on one-sign blocks, the other extreme.
# (For finite weights, which is what quantlab.ggml.quantize lets through: NaN has no place in
# either order.)


def _as_float(bits):
    return bits.view(np.float32)


def _top_and_bottom(blocks):
    """int32 max and uint32 max of the bits: max(x) and min(x) of a block with both signs; on a
    block of one sign, both are its weight of largest magnitude."""
    bits = blocks.view(np.int32)
    return _as_float(_block_reduce(bits, np.maximum)), _as_float(_block_reduce(bits.view(np.uint32), np.maximum))


def _max_and_min(blocks):
    """Per-block max(x) and min(x), exact (a zero extreme may have either sign: see the callers)."""
    top, bottom = _top_and_bottom(blocks)
    one_sign = np.flatnonzero(np.signbit(top) == np.signbit(bottom))
    if len(one_sign):  # the other extreme: the one of smallest magnitude, the int32 min
        nearest_zero = _as_float(_block_reduce(blocks[one_sign].view(np.int32), np.minimum))
        negative = np.signbit(top[one_sign])
        top[one_sign] = np.where(negative, nearest_zero, top[one_sign])
        bottom[one_sign] = np.where(negative, bottom[one_sign], nearest_zero)
    return top, bottom


def _max_and_min_reference(blocks):
    """Readable version of _max_and_min (tested equal)."""
    return blocks.max(axis=1), blocks.min(axis=1)


def _first_zero_where_zero(blocks, extreme):
    """Where a block's extreme is 0, take the first zero of the block, with its sign.

    C scans in order and keeps the first of equal values (`if (v < min) min = v`), so in a block
    holding both +0.0 and -0.0 the first one wins; the sign shows in the stored fp16 bytes.
    """
    rows = np.flatnonzero(extreme == 0)
    if len(rows):
        extreme[rows] = blocks[rows, np.argmax(blocks[rows] == 0, axis=1)]
    return extreme


def _signed_absmax(blocks):
    """Per block, the weight of largest magnitude with its sign, first one on a tie, +0.0 if all zero.

    C keeps `max` from the first v with |v| > amax (starting from amax = max = +0.0).
    """
    top, bottom = _top_and_bottom(blocks)  # max and min, or twice the answer on one-sign blocks
    signed = np.where(np.abs(bottom) > np.abs(top), bottom, top)
    tie = (bottom == -top) & (top != 0)  # +a and -a both present: whichever comes first wins
    if tie.any():
        rows = np.flatnonzero(tie)
        signed[rows] = blocks[rows, np.abs(blocks[rows]).argmax(axis=1)]
    return signed + np.float32(0)  # -0.0 + 0.0 = +0.0: an all-zero block keeps max = +0.0


def _signed_absmax_reference(blocks):
    """Readable version of _signed_absmax (tested equal): argmax finds the first largest |x|."""
    first = np.abs(blocks).argmax(axis=1)
    return np.take_along_axis(blocks, first[:, None], axis=1)[:, 0] + np.float32(0)


def _absmax(blocks):
    """Per-block max |x|: the sign bit cleared, then a uint32 tree."""
    magnitudes = np.bitwise_and(blocks.view(np.uint32), np.uint32(0x7FFFFFFF))
    return _as_float(_block_reduce(magnitudes, np.maximum))


def _inverse(scale):
    """id = 1/d in float32 (0 where d == 0, as `d ? 1.0f/d : 0.0f`), and where 1/d overflowed.

    A nonzero subnormal d has no finite inverse; there C computes with id = inf and every code
    comes out 0 (see the module docstring). We compute with id = 0 and zero those codes after.
    """
    with np.errstate(divide="ignore", over="ignore"):
        inverse = np.where(scale == 0, np.float32(0), np.float32(1) / scale).astype(np.float32)
    overflowed = np.isinf(inverse)
    inverse[overflowed] = 0
    return inverse, overflowed


def _scale_rows(blocks, inverse, low=None):
    """(x - low) * id for every weight, float32, flat: id repeated over each block of 32."""
    scaled = np.repeat(inverse, BLOCK_SIZE)
    if low is None:
        return np.multiply(blocks.reshape(-1), scaled, out=scaled)  # in place: no second array
    shifted = np.repeat(low, BLOCK_SIZE)
    np.subtract(blocks.reshape(-1), shifted, out=shifted)
    return np.multiply(shifted, scaled, out=scaled)


def _truncated_codes(scaled, offset, top, overflowed):
    """C's `MIN(top, (int8_t)(scaled + offset))` as uint8 (n, 32): add in float32, truncate, cap.

    top is 2**bits - 1 (or None for no cap). x*id stays within the block's range, so the only code
    above top is top + 1 = 2**bits, and min(c, top) = c - (c >> bits): same result, and numpy does
    it several times faster than np.minimum on uint8.
    """
    scaled += np.float32(offset)
    codes = scaled.astype(np.uint8).reshape(-1, BLOCK_SIZE)  # all in [0, top + 2): truncation
    if top is not None:
        codes -= codes >> np.uint8(int(top).bit_length())
    if overflowed.any():
        codes[overflowed] = 0
    return codes


def _centered(codes, offset):
    """codes - offset as float32, via int8 (exact: |codes - offset| <= 16)."""
    return (codes - np.uint8(offset)).view(np.int8).astype(np.float32)


def _fp16(data, layout, field):
    return fp16_from_bytes(data[:, layout[field]])


def _column(out, span, dtype):
    """The bytes out[:, span] of every block as one value of `dtype` (as wide as the span): a 1-D
    strided view, which numpy fills in one loop (a 2-D slice costs a loop per block)."""
    return out[:, span].view(dtype)[:, 0]


@np.errstate(over="ignore")  # beyond fp16's range -> inf, as GGML_FP32_TO_FP16 does
def _store_fp16(out, layout, field, values):
    """Write float32 values as fp16 (round to nearest even, as fp16_to_bytes) into a field."""
    _column(out, layout[field], "<f2")[...] = values


def _store_bytes(out, layout, field, data):
    """Write uint8 (n, width) into a field of `width` bytes per block."""
    width = data.shape[1]
    _column(out, layout[field], f"V{width}")[...] = data.view(f"V{width}")[:, 0]


_LOW_BIT_OF_EACH_BYTE = np.uint64(0x0101010101010101)
_GATHER_LOW_BITS = np.uint64(0x0102040810204080)  # sum_k 2**(56 - 7k)


def _fifth_bits(codes):
    """qh of Q5_0/Q5_1: bit j of the little-endian word is bit 4 of code j, (n, 32) -> uint8 (n, 4).

    Same bytes as pack_bits((codes >> 4) & 1) (the readable version, tested equal), 8 codes per
    uint64 operation: mask bit 4 of every byte down to bit 0, then one multiplication by
    sum_k 2**(56 - 7k) carries bit 0 of byte k to bit 56 + k (every other product lands below bit
    56 or beyond bit 63, on distinct bits, so nothing carries), and the top byte is the 8 bits.
    """
    words = np.ascontiguousarray(codes, dtype=np.uint8).view(np.uint64)  # (n, 4)
    bits = np.right_shift(words, np.uint64(4))
    bits &= _LOW_BIT_OF_EACH_BYTE
    bits *= _GATHER_LOW_BITS
    bits >>= np.uint64(56)
    return bits.astype(np.uint8)


def _fifth_bits_reference(codes):
    """Readable version of _fifth_bits (tested equal)."""
    return pack_bits((codes >> np.uint8(4)) & np.uint8(1))


# ---------------------------------------------------------------- Q8_0


def _quantize_q8_0_chunk(blocks, out, layout):
    scale = _absmax(blocks) / np.float32(127)
    inverse, overflowed = _inverse(scale)
    scaled = _scale_rows(blocks, inverse)
    # roundf (ties away from zero) = trunc(v + copysign(0.49999997, v)) in float32, for |v| <= 128.5:
    # checked against float64 trunc(v + 0.5) on every float32 from 0 to 128.5. With 0.5 itself,
    # 0.49999997 + 0.5 would round up to 1.0 in float32.
    # copysign on the bits: sign of v | bits of 0.49999997 (np.copysign is several times slower).
    half = np.bitwise_and(scaled.view(np.uint32), np.uint32(0x80000000))
    half |= _HALF_BELOW.view(np.uint32)
    scaled += half.view(np.float32)
    codes = scaled.astype(np.int8).reshape(-1, BLOCK_SIZE)
    if overflowed.any():
        codes[overflowed] = 0
    _store_fp16(out, layout, "d", scale)
    _store_bytes(out, layout, "qs", codes.view(np.uint8))


def quantize_q8_0(blocks):
    """Q8_0: d = absmax/127 stored as fp16, codes = roundf(x / d) as int8 (ties away from zero)."""
    return _in_chunks(_quantize_q8_0_chunk, blocks, "q8_0")


def fields_q8_0(data):
    """Decoded Q8_0 fields: d (float32, per block) and codes (int8, 32 per block); w = d * codes."""
    layout = LAYOUTS["q8_0"]
    return {"d": _fp16(data, layout, "d"), "codes": np.ascontiguousarray(data[:, layout["qs"]]).view(np.int8)}


def dequantize_q8_0(data):
    """Q8_0 weights: d * codes in float32."""
    f = fields_q8_0(data)
    return f["d"][:, None] * f["codes"].astype(np.float32)


# ---------------------------------------------------------------- Q4_0 / Q5_0: d = signed max / -8 (-16)


def _symmetric_codes(blocks, levels_below_zero):
    """d = signed max / -levels and codes = min(2*levels - 1, trunc(x*id + levels + 0.5))."""
    scale = _signed_absmax(blocks) / np.float32(-levels_below_zero)
    inverse, overflowed = _inverse(scale)
    codes = _truncated_codes(
        _scale_rows(blocks, inverse), levels_below_zero + 0.5, 2 * levels_below_zero - 1, overflowed
    )
    return scale, codes


def _quantize_q4_0_chunk(blocks, out, layout):
    scale, codes = _symmetric_codes(blocks, 8)
    _store_fp16(out, layout, "d", scale)
    _store_bytes(out, layout, "qs", pack_halves(codes))


def quantize_q4_0(blocks):
    """Q4_0: d = signed max / -8 (fp16), codes 0..15 in nibbles; w = d * (code - 8)."""
    return _in_chunks(_quantize_q4_0_chunk, blocks, "q4_0")


def fields_q4_0(data):
    """Decoded Q4_0 fields: d (float32) and codes (uint8 0..15); w = d * (codes - 8)."""
    layout = LAYOUTS["q4_0"]
    return {"d": _fp16(data, layout, "d"), "codes": unpack_halves(data[:, layout["qs"]])}


def dequantize_q4_0(data):
    """Q4_0 weights: d * (code - 8) in float32."""
    f = fields_q4_0(data)
    return f["d"][:, None] * _centered(f["codes"], 8)


def _quantize_q5_0_chunk(blocks, out, layout):
    scale, codes = _symmetric_codes(blocks, 16)
    _store_fp16(out, layout, "d", scale)
    _store_bytes(out, layout, "qh", _fifth_bits(codes))
    _store_bytes(out, layout, "qs", pack_halves(codes & np.uint8(15)))


def quantize_q5_0(blocks):
    """Q5_0: d = signed max / -16 (fp16), 5-bit codes 0..31; w = d * (code - 16)."""
    return _in_chunks(_quantize_q5_0_chunk, blocks, "q5_0")


def _five_bit_codes(data, layout):
    """Low nibbles from qs, fifth bits from qh: codes 0..31, (n, 32)."""
    return unpack_halves(data[:, layout["qs"]]) | (unpack_bits(data[:, layout["qh"]]) << np.uint8(4))


def fields_q5_0(data):
    """Decoded Q5_0 fields: d (float32) and codes (uint8 0..31); w = d * (codes - 16)."""
    layout = LAYOUTS["q5_0"]
    return {"d": _fp16(data, layout, "d"), "codes": _five_bit_codes(data, layout)}


def dequantize_q5_0(data):
    """Q5_0 weights: d * (code - 16) in float32."""
    f = fields_q5_0(data)
    return f["d"][:, None] * _centered(f["codes"], 16)


# ---------------------------------------------------------------- Q4_1 / Q5_1: m = min, d = (max - min)/15 (31)


def _affine_codes(blocks, top, capped):
    """m = min, d = (max - min)/top, codes = trunc((x - m)*id + 0.5), capped at top or not (Q5_1)."""
    high, low = _max_and_min(blocks)
    low, high = _first_zero_where_zero(blocks, low), _first_zero_where_zero(blocks, high)
    scale = (high - low) / np.float32(top)
    inverse, overflowed = _inverse(scale)
    codes = _truncated_codes(_scale_rows(blocks, inverse, low), 0.5, top if capped else None, overflowed)
    return scale, low, codes


def _quantize_q4_1_chunk(blocks, out, layout):
    scale, low, codes = _affine_codes(blocks, 15, capped=True)
    _store_fp16(out, layout, "d", scale)
    _store_fp16(out, layout, "m", low)
    _store_bytes(out, layout, "qs", pack_halves(codes))


def quantize_q4_1(blocks):
    """Q4_1: d = (max - min)/15 and m = min (both fp16), codes 0..15; w = d * code + m."""
    return _in_chunks(_quantize_q4_1_chunk, blocks, "q4_1")


def fields_q4_1(data):
    """Decoded Q4_1 fields: d, m (float32) and codes (uint8 0..15); w = d * codes + m."""
    layout = LAYOUTS["q4_1"]
    return {"d": _fp16(data, layout, "d"), "m": _fp16(data, layout, "m"), "codes": unpack_halves(data[:, layout["qs"]])}


def dequantize_q4_1(data):
    """Q4_1 weights: d * code + m in float32 (two roundings, no fused multiply-add)."""
    f = fields_q4_1(data)
    return f["d"][:, None] * f["codes"].astype(np.float32) + f["m"][:, None]


def _quantize_q5_1_chunk(blocks, out, layout):
    scale, low, codes = _affine_codes(blocks, 31, capped=False)  # C stores (uint8)(...) bit by bit
    _store_fp16(out, layout, "d", scale)
    _store_fp16(out, layout, "m", low)
    _store_bytes(out, layout, "qh", _fifth_bits(codes))  # bit 4 only: a code of 32 gives 0, as in C
    _store_bytes(out, layout, "qs", pack_halves(codes & np.uint8(15)))


def quantize_q5_1(blocks):
    """Q5_1: d = (max - min)/31 and m = min (fp16), 5-bit codes 0..31; w = d * code + m."""
    return _in_chunks(_quantize_q5_1_chunk, blocks, "q5_1")


def fields_q5_1(data):
    """Decoded Q5_1 fields: d, m (float32) and codes (uint8 0..31); w = d * codes + m."""
    layout = LAYOUTS["q5_1"]
    return {"d": _fp16(data, layout, "d"), "m": _fp16(data, layout, "m"), "codes": _five_bit_codes(data, layout)}


def dequantize_q5_1(data):
    """Q5_1 weights: d * code + m in float32."""
    f = fields_q5_1(data)
    return f["d"][:, None] * f["codes"].astype(np.float32) + f["m"][:, None]
