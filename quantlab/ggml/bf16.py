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


def bf16_bits(values):
    """The bf16 bit patterns (uint16) of float32 values, rounded to nearest even as llama.cpp does.

    NaN keeps its top bits with the quiet bit forced (0x40 of the high half), as in C; the public
    quantize_bf16 refuses NaN before it gets here.
    """
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    lowest_kept = (bits >> np.uint32(16)) & np.uint32(1)
    rounded = ((bits + np.uint32(0x7FFF) + lowest_kept) >> np.uint32(16)).astype(np.uint16)
    nan = (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    if nan.any():
        rounded[nan] = (bits[nan] >> np.uint32(16)).astype(np.uint16) | np.uint16(0x40)
    return rounded


def _quantize_blocks(blocks, importance=None):
    return bf16_bits(blocks).view(np.uint8).reshape(len(blocks), -1)


def _dequantize_blocks(data):
    halves = np.ascontiguousarray(data).view("<u2").astype(np.uint32)
    return (halves << np.uint32(16)).view(np.float32)


def quantize_bf16(x, imatrix=None):
    """BF16 bytes of x (2 per weight, little-endian), as llama.cpp writes them; imatrix is ignored."""
    return quantize_rows(x, imatrix, LAYOUT, _quantize_blocks)


def dequantize_bf16(raw):
    """float32 weights from BF16 bytes (exact: every bf16 is a float32)."""
    return dequantize_rows(raw, LAYOUT, _dequantize_blocks)
