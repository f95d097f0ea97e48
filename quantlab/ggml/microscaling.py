"""MXFP4 and NVFP4: 4-bit floats (FP4 E2M1) under a shared scale per small block — microscaling.

Each weight is an E2M1 float: 1 sign bit, 2 exponent bits, 1 mantissa bit, whose magnitudes are
    0, 0.5, 1, 1.5, 2, 3, 4, 6.
llama.cpp stores them doubled, as the integers FP4_LEVELS = 0 1 2 3 4 6 8 12 (then 0 -1 ... -12 for
codes 8..15, sign in the top bit), and halves the scale instead (ggml-common.h, kvalues_mxfp4).
The two formats differ only in the shared scale:

    MXFP4 (OCP Microscaling spec; gpt-oss): 32 weights share one E8M0 byte, a pure power of two
          2^(e - 127). llama.cpp picks e = floor(log2(max|x|)) - 2 + 127, so the largest weight lands
          in [4, 8) times the scale, the top binade of E2M1 (max 6 = 1.5 * 4).  1 + 16 bytes / 32.
    NVFP4 (NVIDIA Blackwell): 16 weights share one UE4M3 byte, an 8-bit float (4 exponent bits,
          bias 7, 3 mantissa bits), set to max|x| / 6 rounded, so the largest weight maps to 6.
          llama.cpp's block holds 64 weights: the 4 scale bytes first, then 32 bytes of nibbles.
          (NVIDIA's format also has one float32 scale per tensor, which GGUF keeps outside the
          block; the block itself is what is quantized here.)  4 + 32 bytes / 64.

Rounding to a level (best_index_mxfp4 in ggml-quants.c): the level with the smallest float32 error
|level * d - x|, the first one on a tie. Near a boundary those errors are exact (Sterbenz), so
this is: the magnitude goes up past a midpoint between two levels only when strictly beyond it,
and a negative weight that rounds to 0 gets code 0 (+0, which comes before -0 in the table).
When |x| exceeds the top level 12*d the errors can round to equal values (x >> d), and then the
first, smaller level wins; that case is computed with the float32 errors themselves.
"""

import numpy as np

from .rowwise import Layout, dequantize_rows, quantize_rows

FP4_LEVELS = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.int8)  # 2 x E2M1
_MAGNITUDES = FP4_LEVELS[:8].astype(np.float32)
_MIDPOINTS = (_MAGNITUDES[:-1] + _MAGNITUDES[1:]) / np.float32(2)  # 0.5 1.5 2.5 3.5 5 7 10

MXFP4 = Layout("MXFP4", block_size=32, fields=(("e", 1), ("qs", 16)), imatrix="ignored")
NVFP4 = Layout("NVFP4", block_size=64, fields=(("d", 4), ("qs", 32)), imatrix="ignored")
NVFP4_SUB_BLOCK = 16


# ----------------------------------------------------------------------------- the shared scales


def e8m0_half(e):
    """The float32 value 2^(e - 128) of E8M0 bytes (half the scale, as FP4_LEVELS are doubled).

    Exponent 0 and 1 give the subnormals 2^-128 and 2^-127; 255 gives 2^127 (not NaN, as in ggml).
    """
    e = np.asarray(e, dtype=np.uint32)
    bits = np.where(e < 2, np.uint32(0x00200000) << np.minimum(e, 1), (e - np.uint32(1)) << np.uint32(23))
    return bits.astype(np.uint32).view(np.float32)


def mxfp4_exponent(amax):
    """E8M0 byte of each block's max|x| as llama.cpp computes it: uint8(floor(log2f(amax)) - 2 + 127).

    log2f is float32: just below a power of two it rounds up to the integer, so the float64 log2 is
    rounded to float32 before the floor. The conversion to uint8 wraps modulo 256 (x86 behaviour of
    this out-of-range C cast: max|x| < 2^-125, i.e. subnormal, blocks get exponents near 255), and
    an all-zero block gets 0.
    """
    with np.errstate(divide="ignore"):
        log2 = np.log2(amax.astype(np.float64)).astype(np.float32)
    exponent = np.floor(log2) + np.float32(125)
    exponent = np.where(amax > 0, exponent, 0).astype(np.int64)
    return (exponent & 0xFF).astype(np.uint8)


def _ue4m3_values():
    """All 256 UE4M3 bytes decoded as ggml_ue4m3_to_fp32 does (half the scale; the top bit ignored)."""
    byte = np.arange(256)
    exponent, mantissa = (byte >> 3) & 0xF, byte & 0x7
    value = np.where(exponent == 0, mantissa * 2.0**-9, (1 + mantissa / 8) * 2.0 ** (exponent - 7))
    value[(byte == 0) | (byte == 0x7F)] = 0  # 0x7F would be NaN in E4M3; ggml reads 0
    return (value * 0.5).astype(np.float32)


UE4M3_HALF = _ue4m3_values()


def ue4m3_byte(scale):
    """UE4M3 byte of float32 scales >= 0, rounded as ggml_fp32_to_ue4m3 (ggml-impl.h) does.

    Clamp to 448 (the largest E4M3 value); normal values keep 3 mantissa bits and round half away
    from zero on the fourth (the carry may bump the exponent; 2^8 and up saturate at 0x7E = 448);
    below 2^-6 the subnormal step 2^-9 is used: trunc(x * 512 + 0.5) in float32, at most 7; 0 if
    that is 0. Zero and NaN give 0.
    """
    scale = np.asarray(scale, dtype=np.float32)
    positive = scale > 0
    x = np.minimum(np.where(positive, scale, np.float32(1)), np.float32(448))
    bits = x.view(np.uint32).astype(np.int64)
    exponent = ((bits >> 23) & 0xFF) - 127 + 7  # E4M3's biased exponent
    mantissa = ((bits >> 20) & 0x7) + ((bits >> 19) & 1)  # 3 bits, rounded on the 4th
    carried = np.where(mantissa > 7, exponent + 1, exponent)
    normal = np.where(carried >= 15, 0x7E, (carried << 3) | (mantissa & 0x7))
    subnormal = np.minimum(np.trunc(x * np.float32(512) + np.float32(0.5)), 7).astype(np.int64)
    byte = np.where(exponent <= 0, subnormal, normal)
    return np.where(positive, byte, 0).astype(np.uint8)


# ----------------------------------------------------------------------------- rounding to E2M1


def fp4_codes_reference(x, d):
    """Readable reference of best_index_mxfp4: the first code with the least float32 |level*d - x|.

    x: float32 (..., n), d: float32 (..., 1) half-scales. Builds all 16 candidates per weight.
    """
    errors = np.abs(FP4_LEVELS.astype(np.float32) * d[..., None] - x[..., None])
    return np.argmin(errors, axis=-1).astype(np.uint8)


def fp4_codes(x, d):
    """Same result as fp4_codes_reference, by counting the midpoints each |x| is strictly beyond.

    x: float32 (m, n) and d: float32 (m, 1). The midpoints times d are exact float32 (d has at most
    4 significant bits, midpoints at most 3), and so are the errors compared near a midpoint.
    """
    magnitude = np.abs(x)
    step = np.zeros(x.shape, dtype=np.uint8)
    for midpoint in _MIDPOINTS:
        step += magnitude > midpoint * d
    beyond = ~(magnitude <= np.float32(12) * d)  # past the top level (or d = 0, or inf): rare
    if beyond.any():
        rows, cols = np.nonzero(beyond)
        top = magnitude[rows, cols]
        with np.errstate(invalid="ignore"):
            errors = top[:, None] - _MAGNITUDES[None, :] * d[rows]  # float32, as C rounds them
        step[rows, cols] = np.argmax(errors == errors[:, -1:], axis=1)  # first level as good as 12
    negative = np.signbit(x) & (step > 0)
    return step + np.uint8(8) * negative


def fp4_from_nibbles(nibbles, d):
    """Weights from codes 0..15 and half-scales d: FP4_LEVELS[code] * d in float32."""
    return FP4_LEVELS.astype(np.float32)[nibbles] * d


# ----------------------------------------------------------------------------- MXFP4


def _pack_runs(codes):
    """Nibbles of runs of 2k codes: byte j = code j | code j+k << 4 (ggml's layout), (..., 2k) -> (..., k)."""
    half = codes.shape[-1] // 2
    return codes[..., :half] | (codes[..., half:] << np.uint8(4))


def _unpack_runs(qs):
    return np.concatenate([qs & np.uint8(0x0F), qs >> np.uint8(4)], axis=-1)


def _quantize_mxfp4_blocks(blocks, importance=None):
    amax = np.abs(blocks).max(axis=1)
    e = mxfp4_exponent(amax)
    codes = fp4_codes(blocks, e8m0_half(e)[:, None])
    return np.concatenate([e[:, None], _pack_runs(codes)], axis=1)


def _dequantize_mxfp4_blocks(data):
    return fp4_from_nibbles(_unpack_runs(data[:, 1:]), e8m0_half(data[:, :1]))


def quantize_mxfp4(x, imatrix=None):
    """MXFP4 bytes of x, as llama.cpp writes them (its MXFP4 quantizer takes no imatrix: ignored)."""
    return quantize_rows(x, imatrix, MXFP4, _quantize_mxfp4_blocks)


def dequantize_mxfp4(raw):
    """float32 weights from MXFP4 bytes: 2 x E2M1 level times 2^(e - 128)."""
    return dequantize_rows(raw, MXFP4, _dequantize_mxfp4_blocks)


def fields_mxfp4(data):
    """Decoded MXFP4 fields per block: e (E8M0 byte), scale 2^(e-127), codes 0..15."""
    return {"e": data[:, 0].copy(), "scale": np.float32(2) * e8m0_half(data[:, 0]), "codes": _unpack_runs(data[:, 1:])}


# ----------------------------------------------------------------------------- NVFP4


def _quantize_nvfp4_blocks(blocks, importance=None):
    sub = blocks.reshape(-1, NVFP4_SUB_BLOCK)  # (4 n, 16)
    scale_bytes = ue4m3_byte(np.abs(sub).max(axis=1) / np.float32(6))
    codes = fp4_codes(sub, UE4M3_HALF[scale_bytes][:, None])
    qs = _pack_runs(codes).reshape(len(blocks), -1)  # per sub-block: 8 bytes, j | j+8 << 4
    return np.concatenate([scale_bytes.reshape(len(blocks), -1), qs], axis=1)


def _dequantize_nvfp4_blocks(data):
    d = UE4M3_HALF[data[:, :4]].reshape(-1, 1)
    codes = _unpack_runs(data[:, 4:].reshape(-1, NVFP4_SUB_BLOCK // 2))
    return fp4_from_nibbles(codes, d).reshape(len(data), -1)


def quantize_nvfp4(x, imatrix=None):
    """NVFP4 bytes of x, as llama.cpp writes them (its NVFP4 quantizer takes no imatrix: ignored)."""
    return quantize_rows(x, imatrix, NVFP4, _quantize_nvfp4_blocks)


def dequantize_nvfp4(raw):
    """float32 weights from NVFP4 bytes: 2 x E2M1 level times half the UE4M3 scale of its 16."""
    return dequantize_rows(raw, NVFP4, _dequantize_nvfp4_blocks)


def fields_nvfp4(data):
    """Decoded NVFP4 fields per block: 4 UE4M3 scale bytes, their values, 64 codes 0..15."""
    return {
        "scale_bytes": data[:, :4].copy(),
        "scales": np.float32(2) * UE4M3_HALF[data[:, :4]],
        "codes": _unpack_runs(data[:, 4:].reshape(-1, 8)).reshape(len(data), -1),
    }
