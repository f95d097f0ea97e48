"""F32 and F16, the unquantized GGML types: "blocks" of one weight whose bytes are the IEEE value itself."""

import numpy as np


def quantize_f32(blocks):
    """float32 (n, 1) -> their 4 little-endian bytes each."""
    return np.ascontiguousarray(blocks, dtype="<f4").view(np.uint8)


def dequantize_f32(data):
    """uint8 (n, 4) -> float32 (n, 1)."""
    return np.ascontiguousarray(data).view("<f4").astype(np.float32)


def fields_f32(data):
    """The one field of an F32 'block': its value."""
    return {"values": dequantize_f32(data)[:, 0]}


def quantize_f16(blocks):
    """float32 (n, 1) -> float16 rounded to nearest even, 2 little-endian bytes each."""
    return np.ascontiguousarray(blocks, dtype=np.float32).astype("<f2").view(np.uint8)


def dequantize_f16(data):
    """uint8 (n, 2) -> float32 (n, 1), exactly the float16 values."""
    return np.ascontiguousarray(data).view("<f2").astype(np.float32)


def fields_f16(data):
    """The one field of an F16 'block': its value."""
    return {"values": dequantize_f16(data)[:, 0]}
