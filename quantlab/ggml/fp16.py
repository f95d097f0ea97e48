"""Small helpers shared by every GGUF block format: fp16 scales, rounding rules and bit packing.

GGML stores each block's scale as an IEEE half (fp16) and packs small integer codes several to a
byte. These helpers do both for whole arrays of blocks at once, and name the two rounding rules
that llama.cpp's C code uses, because mixing them up changes bytes on exact ties.
"""

import numpy as np


def fp16_round(values):
    """Round float32 values to the nearest fp16 and return them as float32.

    Same as GGML_FP32_TO_FP16 followed by GGML_FP16_TO_FP32: round to nearest, ties to even
    (numpy's float16 cast does exactly that, subnormal halves included). llama.cpp quantizes with
    the fp16-rounded scale in some formats and with the fp32 one in others: each format says which.
    Values beyond fp16's range (|x| >= 65520) become +-inf, as in C, without a warning.
    """
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float32).astype(np.float16).astype(np.float32)


def fp16_to_bytes(values):
    """Little-endian fp16 bytes of float32 values: shape (...,) -> uint8 (..., 2).

    The cast to fp16 rounds to nearest, ties to even, as GGML_FP32_TO_FP16 does (overflow -> inf).
    """
    with np.errstate(over="ignore"):
        halves = np.asarray(values, dtype=np.float32).astype("<f2")
    return halves[..., None].view(np.uint8)


def fp16_from_bytes(data):
    """Decode little-endian fp16 bytes: uint8 (..., 2) -> float32 (...,), exactly (every half fits)."""
    data = np.ascontiguousarray(data, dtype=np.uint8)
    return data.view("<f2")[..., 0].astype(np.float32)


def round_half_to_even(values):
    """Round float32 to the nearest integer, ties to even (returns float32).

    This is what llama.cpp's `nearest_int` does (it adds 1.5*2**23 and reads the mantissa, so the
    FPU's round-to-nearest-even decides ties); np.rint does the same.
    """
    return np.rint(np.asarray(values, dtype=np.float32))


def round_half_away_from_zero(values):
    """Round float32 to the nearest integer, ties away from zero (returns float32), like C's roundf.

    Not trunc(x + 0.5): in float32, 0.49999997 + 0.5 rounds up to 1.0. Here the fractional part
    x - trunc(x) is exact, so the comparison with 0.5 decides ties correctly.
    """
    values = np.asarray(values, dtype=np.float32)
    whole = np.trunc(values)
    away = np.abs(values - whole) >= np.float32(0.5)
    return whole + np.where(away, np.sign(values), np.float32(0))


def pack_fields(fields, width):
    """Pack small unsigned integers `width` bits each, 8 // width of them per byte.

    fields: integer array (..., 8 // width, m) with values < 2**width. Returns uint8 (..., m)
    where byte j = sum_i fields[..., i, j] << (width * i): field 0 in the low bits. With width=4
    this is GGML's nibble layout (low nibble = first half of a run, high nibble = second half);
    width=2 and width=1 give the 2-bit code and high-bit planes of the K-quants.
    """
    fields = np.asarray(fields)
    per_byte = 8 // width
    if fields.shape[-2] != per_byte:
        raise ValueError(
            f"pack_fields(width={width}) needs {per_byte} fields per byte on axis -2, got shape {fields.shape}"
        )
    packed = fields[..., 0, :].astype(np.uint8)
    for i in range(1, per_byte):
        packed |= fields[..., i, :].astype(np.uint8) << np.uint8(width * i)
    return packed


def unpack_fields(packed, width):
    """Inverse of pack_fields: uint8 (..., m) -> uint8 (..., 8 // width, m), field 0 = low bits."""
    packed = np.asarray(packed, dtype=np.uint8)
    per_byte = 8 // width
    shifts = (np.arange(per_byte, dtype=np.uint8) * np.uint8(width))[:, None]
    mask = np.uint8((1 << width) - 1)
    return (packed[..., None, :] >> shifts) & mask


def pack_halves(codes):
    """Pack 32 codes 0..15 per block into 16 bytes: byte j = code j | code j+16 << 4, (n, 32) -> (n, 16).

    The nibble layout of Q4_0, Q4_1, IQ4_NL (and of the low bits of Q5_0, Q5_1). Done on uint64 words, 8 codes at a time: shifting a word left by 4 moves every byte's low
    nibble to its high nibble, and nothing crosses a byte because the high nibbles are 0. Each
    block is 4 words (codes 0-7, 8-15, 16-23, 24-31); word k is combined with word k + 2.
    """
    words = np.ascontiguousarray(codes, dtype=np.uint8).view(np.uint64).reshape(-1)
    packed = np.empty_like(words)
    np.left_shift(words[2:], np.uint64(4), out=packed[:-2])
    packed[:-2] |= words[:-2]
    return packed.reshape(-1, 4)[:, :2].view(np.uint8)  # words 0 and 1 of each block


def unpack_halves(qs):
    """Inverse of pack_halves: (n, 16) bytes -> (n, 32) codes 0..15, also 8 codes per uint64 op."""
    words = np.ascontiguousarray(qs, dtype=np.uint8).view(np.uint64)  # (n, 2)
    nibbles = np.uint64(0x0F0F0F0F0F0F0F0F)
    codes = np.empty((len(qs), 4), dtype=np.uint64)
    np.bitwise_and(words, nibbles, out=codes[:, :2])  # codes 0..15: low nibbles
    np.bitwise_and(words >> np.uint64(4), nibbles, out=codes[:, 2:])  # codes 16..31: high nibbles
    return codes.view(np.uint8)


def pack_bits(bits):
    """Pack 0/1 values little-endian along the last axis: (..., 8m) -> uint8 (..., m).

    Bit k of byte j holds bits[..., 8j + k]; read as a little-endian uint32 this is GGML's `qh`
    word of Q5_0/Q5_1, whose bit i is the fifth bit of weight i.
    """
    return np.packbits(np.asarray(bits, dtype=np.uint8), axis=-1, bitorder="little")


def unpack_bits(packed):
    """Inverse of pack_bits: uint8 (..., m) -> uint8 (..., 8m) of 0/1 values."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=-1, bitorder="little")


def sum_in_order(terms, axis=0, start_at_zero=True, out=None):
    """Sum float32 terms over `axis` one at a time, in index order, as C's loop `s += t[i]` does.

    np.sum adds pairwise, which rounds differently; llama.cpp's scale searches compare such sums,
    so matching its bytes on close calls needs the same order. Vectorized over the other axes.
    numpy adds directly, without pairwise summation, when the summed axis is not the fast axis in
    memory (np.sum, Notes): true for a C-contiguous array summed over any axis but the last, when
    the last has length >= 2. Then it is one C-level loop, starting from np.add's identity 0.0
    (ufunc.reduce, `initial`) as C's `s = 0` does; otherwise we add the slices ourselves.
    axis: 0 by default (the K-quant searches keep element i of every sub-block in row i); the
    row-wise callers pass axis=1 or -1.
    start_at_zero: C's `s = 0` (True) or `s = t[0]` (False). They differ only when every term is
    -0.0 (0 + -0.0 is +0.0); adding a final +0.0 to a sum started at t[0] gives the former.
    out: an array to write the sums into (optional).
    """
    terms = np.asarray(terms, dtype=np.float32)
    axis = axis % terms.ndim
    if start_at_zero and axis != terms.ndim - 1 and terms.shape[-1] >= 2 and terms.flags.c_contiguous:
        return np.add.reduce(terms, axis=axis, out=out)
    terms = np.moveaxis(terms, axis, 0)
    if out is None:
        total = terms[0].copy()
    else:
        total = out
        total[...] = terms[0]
    for term in terms[1:]:
        total += term
    if start_at_zero:
        total += np.float32(0)
    return total
