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
        raise ValueError(f"pack_fields(width={width}) needs {per_byte} fields per byte on axis -2, "
                         f"got shape {fields.shape}")
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


def pack_bits(bits):
    """Pack 0/1 values little-endian along the last axis: (..., 8m) -> uint8 (..., m).

    Bit k of byte j holds bits[..., 8j + k]; read as a little-endian uint32 this is GGML's `qh`
    word of Q5_0/Q5_1, whose bit i is the fifth bit of weight i.
    """
    return np.packbits(np.asarray(bits, dtype=np.uint8), axis=-1, bitorder="little")


def unpack_bits(packed):
    """Inverse of pack_bits: uint8 (..., m) -> uint8 (..., 8m) of 0/1 values."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=-1, bitorder="little")


def sum_in_order(values, axis=-1):
    """Sum float32 values one by one along `axis`, starting from +0.0, as a C loop `s += v[j]` does.

    np.sum adds pairwise, which rounds differently; llama.cpp's scale searches compare such sums,
    so matching its bytes on close calls needs the same order. Vectorized over the other axes.
    """
    values = np.moveaxis(np.asarray(values, dtype=np.float32), axis, 0)
    total = np.zeros(values.shape[1:], dtype=np.float32)
    for term in values:
        total += term
    return total
