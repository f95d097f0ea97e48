"""BF16 (bfloat16): float32's top 16 bits, rounded to nearest even: 8 exponent bits, 7 mantissa bits.

bf16 keeps float32's range (same exponent) and drops 16 mantissa bits, so it needs no scale and no
block: every weight is its own 2-byte value. llama.cpp rounds as ggml_compute_fp32_to_bf16
(ggml-impl.h) does: add 0x7FFF plus the lowest kept bit to the float32 bits and keep the top half,
which is round to nearest, ties to even; a value that rounds past the largest bf16 becomes inf;
subnormals are kept (not flushed). Decoding shifts the 16 bits back into the top of a float32.
"""

import numpy as np

from .rowwise import Layout, dequantize_rows, quantize_rows

LAYOUT = Layout("BF16", block_size=1, fields=(("bits", 2),), imatrix="ignored")


def bf16_bits(values, may_have_nan=True):
    """The bf16 bit patterns (uint16) of float32 values, rounded to nearest even as llama.cpp does.

    bits + 0x7FFF + (lowest kept bit), top half kept: ties go to the even neighbour. NaN keeps its
    top bits with the quiet bit forced (0x40 of the high half), as in C; quantize_bf16 refuses NaN
    at the door and skips that check (may_have_nan=False). _bf16_bits_reference is the plain
    version; this one saves a pass: the top halves are read by a uint32 view 2 bytes further on,
    whose cast to uint16 keeps each word's top half (little-endian memory).
    """
    values = np.ascontiguousarray(values, dtype=np.float32)
    if not np.little_endian or values.size < 2:
        return _bf16_bits_reference(values, may_have_nan)
    bits = values.view(np.uint32).reshape(-1)
    rounded = np.right_shift(bits, np.uint32(16))
    rounded &= np.uint32(1)
    rounded += bits
    rounded += np.uint32(0x7FFF)
    halves = np.empty(bits.size, dtype=np.uint16)
    top_halves = np.ndarray(bits.size - 1, dtype=np.uint32, buffer=rounded, offset=2)  # word i: top of i, bottom of i+1
    np.copyto(halves[:-1], top_halves, casting="unsafe")  # uint32 -> uint16 keeps the low 16 bits
    halves[-1] = rounded[-1] >> np.uint32(16)
    if may_have_nan:
        _quiet_nan(bits, halves)
    return halves.reshape(values.shape)


def _bf16_bits_reference(values, may_have_nan=True):
    """Readable version of bf16_bits (tested equal)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    if may_have_nan:
        _quiet_nan(bits.reshape(-1), rounded.reshape(-1))
    return rounded


def _quiet_nan(bits, halves):
    """Where bits (flat uint32) is NaN, halves (flat uint16) = its top half with the quiet bit set."""
    nan = (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    if nan.any():
        halves[nan] = (bits[nan] >> np.uint32(16)).astype(np.uint16) | np.uint16(0x40)


def _quantize_blocks(blocks, importance=None):
    return bf16_bits(blocks, may_have_nan=False).view(np.uint8).reshape(len(blocks), -1)


def _dequantize_blocks(data):
    halves = np.ascontiguousarray(data).view("<u2").astype(np.uint32)
    return (halves << np.uint32(16)).view(np.float32)


def quantize_bf16(x, imatrix=None):
    """BF16 bytes of x (2 per weight, little-endian), as llama.cpp writes them; imatrix is ignored."""
    return quantize_rows(x, imatrix, LAYOUT, _quantize_blocks)


def dequantize_bf16(raw):
    """float32 weights from BF16 bytes (exact: every bf16 is a float32)."""
    return dequantize_rows(raw, LAYOUT, _dequantize_blocks)


def fields_bf16(data):
    """Decoded BF16 fields per 1-weight block: the value (float32) and its 16 raw bits."""
    halves = np.ascontiguousarray(data).view("<u2")[:, 0]
    return {"values": _dequantize_blocks(data)[:, 0], "bits": halves.copy()}
