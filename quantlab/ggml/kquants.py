"""llama.cpp's K-quants Q2_K, Q3_K, Q4_K, Q5_K and Q6_K, byte for byte, for whole arrays of blocks.

A K-quant "super-block" holds 256 weights cut into sub-blocks (16 x 16 or 8 x 32). Each sub-block
has a uniform grid of its own, x ~ d * scale_j * code (- dmin * min_j); the sub-block scales and
mins are small integers (4, 6 or 8 bits) times one fp16 number per super-block. That is the
two-level scale hierarchy. Scales and mins come from weighted least-squares searches
(kquants_search.py), not from k-means.

Every format has the same three functions over blocks (n_blocks, 256) <-> bytes (n_blocks, size):
quantize_<type>, dequantize_<type>, fields_<type> (the decoded fields, for teaching).
The quantizers follow quantize_row_*_K_ref in llama.cpp's ggml/src/ggml-quants.c (what
llama-quantize runs when no importance matrix is given). Rounding rules that decide bytes:

- fp16 block scales round to nearest, ties to even (GGML_FP32_TO_FP16); the codes are then
  re-derived from the *rounded* fp16 scale times the integer sub-block scale;
- every float -> int rounding is `nearest_int`, ties to even (kquants_search.nearest_int);
- integer sub-block scales are stored by C assignment into uint8/int8: we wrap the same way;
- a sub-block whose reconstructed scale is exactly 0 keeps the codes of its search (C `continue`s).
"""

import numpy as np

from .fp16 import fp16_from_bytes, fp16_round, fp16_to_bytes, sum_in_order, unpack_fields
from .kquants_search import (
    Workspace,
    largest_magnitude,
    nearest_int,
    round_to_grid,
    scale_and_min_codes,
    search_scale_and_min,
    search_signed_scale,
    search_signed_scale_3bit,
    signed_grid_codes,
)

BLOCK_SIZE = 256
BYTES_PER_BLOCK = {"Q2_K": 84, "Q3_K": 110, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210}
# Blocks per slice of work, per format: big enough that numpy's per-call overhead is small, small
# enough that the search's working arrays stay near the CPU caches (measured on a 2 MB L2).
# (Q3_K's search slices itself; its slices here only turn scales into codes and bytes: 2048
# blocks measured faster than 512, 1024, 4096 or 8192 on the machine that wrote this.)
_CHUNK_BLOCKS = {"Q2_K": 256, "Q3_K": 2048, "Q4_K": 256, "Q5_K": 256, "Q6_K": 256}


# ---------------------------------------------------------------------------------------------
# shared steps


def _check_blocks(blocks, name):
    """float32 (n_blocks, 256), or a clear error."""
    if not isinstance(blocks, np.ndarray) or blocks.dtype != np.float32:
        raise TypeError(
            f"quantize_{name}(blocks) needs a float32 numpy array, got "
            f"{getattr(blocks, 'dtype', type(blocks).__name__)}; use x.astype(np.float32)"
        )
    if blocks.ndim != 2 or blocks.shape[1] != BLOCK_SIZE:
        raise ValueError(
            f"quantize_{name}(blocks) needs shape (n_blocks, {BLOCK_SIZE}), got "
            f"{blocks.shape}; reshape with x.reshape(-1, {BLOCK_SIZE})"
        )
    return blocks


def _check_bytes(data, name):
    """uint8 (n_blocks, bytes_per_block), or a clear error."""
    size = BYTES_PER_BLOCK[name.upper()]
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != size:
        raise ValueError(
            f"{name} data must be uint8 of shape (n_blocks, {size}), got "
            f"{data.dtype} {data.shape}; view raw bytes with .reshape(-1, {size})"
        )
    return data


def _in_slices(quantize_slice, blocks, name, *per_block):
    """Run a vectorized quantizer on slices of blocks that share one Workspace of buffers.

    Slices keep the search's arrays near the CPU caches; each slice is fully vectorized.
    per_block: arrays with one entry per block, sliced alongside (passed before the workspace).
    """
    size, workspace = _CHUNK_BLOCKS[name], Workspace()
    if len(blocks) == 0:
        return np.zeros((0, BYTES_PER_BLOCK[name]), dtype=np.uint8)
    if len(blocks) <= size:
        return quantize_slice(blocks, *per_block, workspace)
    return np.concatenate(
        [
            quantize_slice(*(a[start : start + size] for a in (blocks,) + per_block), workspace)
            for start in range(0, len(blocks), size)
        ]
    )


def _positive_max(values):
    """max(0, values...) along the last axis, ignoring NaN, as C's `if (v > best) best = v` from 0."""
    largest = np.fmax.reduce(np.ascontiguousarray(values.T), axis=0)  # (fast: not along rows)
    return np.where(largest > 0, largest, np.float32(0)).astype(np.float32)


def _integer_scales(inverse, values, bits):
    """nearest_int(inverse * value), stored as C stores it in a uint8 (mod 256), capped at 2**bits-1."""
    levels = nearest_int(inverse[..., None] * values).astype(np.uint8)
    return np.minimum(levels, np.uint8((1 << bits) - 1))


def _requantize(x, step, codes, highest, lowest=0, offset=None):
    """Final codes on the stored grid: nearest_int((x + offset) / step), clamped, minus lowest.

    step and offset are rebuilt from the fp16 super-block scales and the integer sub-block
    scales, exactly as a reader will; sub-blocks with step == 0 keep their search codes (C skips
    them with `if (!d) continue`).
    x: (n_blocks, n_sub, n); step, offset: (n_blocks, n_sub); codes: the search's codes, uint8
    (n_blocks, n_sub, n), or a function giving them for a boolean mask of sub-blocks (only called
    if some step is 0).
    """
    dead = step == 0
    # The divisor repeated over each sub-block's weights: a full-size divide is faster than one
    # broadcast over the short last axis (numpy's inner loop would run n weights at a time).
    divisor = np.repeat(np.where(dead, np.float32(1), step), x.shape[-1]).reshape(x.shape)
    if offset is None:
        values = np.divide(x, divisor, out=divisor)
    else:
        values = np.add(x, offset[..., None])
        values /= divisor
    round_to_grid(values, lowest, highest)
    fresh = np.subtract(values, lowest, out=np.empty(values.shape, np.uint8), casting="unsafe")
    if dead.any():
        fresh[dead] = codes(dead) if callable(codes) else codes[dead]
    return fresh


def _pack_scales_mins_6bit(scales, mins):
    """Q4_K/Q5_K's 12 bytes holding eight 6-bit scales and eight 6-bit mins (get_scale_min_k4).

    bytes 0-3: scale j (low 6 bits) | high 2 bits of scale j+4 in bits 6-7
    bytes 4-7: min j   (low 6 bits) | high 2 bits of min j+4 in bits 6-7
    bytes 8-11: low 4 bits of scale j+4 | low 4 bits of min j+4 << 4
    """
    first = scales[:, :4] | ((scales[:, 4:] >> 4) << 6)
    second = mins[:, :4] | ((mins[:, 4:] >> 4) << 6)
    third = (scales[:, 4:] & 0xF) | ((mins[:, 4:] & 0xF) << 4)
    return np.concatenate([first, second, third], axis=1).astype(np.uint8)


def _unpack_scales_mins_6bit(packed):
    """Inverse of _pack_scales_mins_6bit: uint8 (n, 12) -> scales, mins uint8 (n, 8)."""
    first, second, third = packed[:, :4], packed[:, 4:8], packed[:, 8:]
    scales = np.concatenate([first & 63, (third & 0xF) | ((first >> 6) << 4)], axis=1)
    mins = np.concatenate([second & 63, (third >> 4) | ((second >> 6) << 4)], axis=1)
    return scales, mins


def _pack_by_place_value(fields, width):
    """fp16.pack_fields as one sum: byte = sum_i field_i * 2**(width * i), over axis -2.

    The fields' bits do not overlap, so the uint8 sum has no carries; one einsum call is about
    twice as fast as shifting and OR-ing field by field.
    """
    place = (1 << (width * np.arange(fields.shape[-2]))).astype(np.uint8)
    return np.einsum("...im,i->...m", fields, place)


def _pack_2bit_codes(codes):
    """Q2_K/Q3_K: each 128 weights -> 32 bytes; byte l holds weights l, l+32, l+64, l+96 (2 bits)."""
    n = len(codes)
    return _pack_by_place_value(codes.reshape(n, 2, 4, 32), 2).reshape(n, 64)


def _unpack_2bit_codes(packed):
    n = len(packed)
    return unpack_fields(packed.reshape(n, 2, 32), 2).reshape(n, 256)


def _pack_high_bits(codes, shift):
    """One bit per weight (bit `shift` of its code): byte l, bit s <- weight 32*s + l (32 bytes)."""
    n = len(codes)
    return _pack_by_place_value(((codes >> shift) & 1).reshape(n, 8, 32), 1)


def _unpack_high_bits(packed):
    return unpack_fields(packed, 1).reshape(len(packed), 256)


def _pack_nibbles_by_64(codes):
    """Q4_K/Q5_K low nibbles: per 64 weights, 32 bytes: weight l in the low, l+32 in the high nibble."""
    n = len(codes)
    return _pack_by_place_value((codes & 0xF).reshape(n, 4, 2, 32), 4).reshape(n, 128)


def _unpack_nibbles_by_64(packed):
    n = len(packed)
    return unpack_fields(packed.reshape(n, 4, 32), 4).reshape(n, 256)


# ---------------------------------------------------------------------------------------------
# Q2_K: 16 sub-blocks of 16, codes 0..3, 4-bit scales and mins; x ~ d*s_j*q - dmin*m_j (2.625 bpw)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def _quantize_q2_k_slice(blocks, workspace):
    n = len(blocks)
    x = blocks.reshape(n, 16, 16)
    scale, offset, iscale, origin = search_scale_and_min(
        x, np.abs, nmax=3, rmin=-0.5, rdelta=0.1, nstep=15, use_mad=True, workspace=workspace
    )
    max_scale, max_offset = _positive_max(scale), _positive_max(offset)
    has_scale, has_offset = max_scale > 0, max_offset > 0
    inverse_scale = np.float32(15) / max_scale  # C: iscale = q4scale / max_scale
    inverse_offset = np.float32(15) / max_offset
    d = np.where(has_scale, max_scale / np.float32(15), np.float32(0))  # d = max/15, not 1/iscale
    dmin = np.where(has_offset, max_offset / np.float32(15), np.float32(0))
    # C assigns the int to a uint8 byte, then ORs (min << 4) into it: both wrap mod 256.
    low = np.where(has_scale[:, None], nearest_int(inverse_scale[:, None] * scale), 0)
    high = np.where(has_offset[:, None], nearest_int(inverse_offset[:, None] * offset), 0)
    packed_scales = ((low & 0xFF) | ((high << 4) & 0xFF)).astype(np.uint8)

    step = fp16_round(d)[:, None] * (packed_scales & 0xF).astype(np.float32)
    shift = fp16_round(dmin)[:, None] * (packed_scales >> 4).astype(np.float32)

    def search_codes(dead):  # needed only where step == 0: computed there alone
        return scale_and_min_codes(x[dead], iscale[dead], origin[dead], nmax=3)

    codes = _requantize(x, step, search_codes, highest=3, offset=shift).reshape(n, 256)
    return np.concatenate([packed_scales, _pack_2bit_codes(codes), fp16_to_bytes(d), fp16_to_bytes(dmin)], axis=1)


def quantize_q2_k(blocks):
    """float32 (n_blocks, 256) -> Q2_K bytes (n_blocks, 84), as llama.cpp's quantize_row_q2_K_ref."""
    return _in_slices(_quantize_q2_k_slice, _check_blocks(blocks, "q2_k"), "Q2_K")


def fields_q2_k(data):
    """Decoded Q2_K fields: d, dmin (n,), scales, mins (n, 16) 4-bit, codes (n, 256) 0..3."""
    data = _check_bytes(data, "q2_k")
    packed_scales = data[:, :16]
    return {
        "d": fp16_from_bytes(data[:, 80:82]),
        "dmin": fp16_from_bytes(data[:, 82:84]),
        "scales": packed_scales & 0xF,
        "mins": packed_scales >> 4,
        "codes": _unpack_2bit_codes(data[:, 16:80]),
    }


@np.errstate(all="ignore")  # an inf scale times code 0 is NaN, silently, as in C
def dequantize_q2_k(data):
    """Q2_K bytes (n_blocks, 84) -> float32 (n_blocks, 256): (d * s_j) * q - dmin * m_j."""
    f = fields_q2_k(data)
    step = f["d"][:, None] * f["scales"].astype(np.float32)
    shift = f["dmin"][:, None] * f["mins"].astype(np.float32)
    codes = f["codes"].reshape(-1, 16, 16).astype(np.float32)
    return (step[..., None] * codes - shift[..., None]).reshape(-1, 256)


# ---------------------------------------------------------------------------------------------
# Q3_K: 16 sub-blocks of 16, codes -4..3, signed 6-bit scales; x ~ d * s_j * q (3.4375 bpw)


def _pack_q3_k_scales(stored):
    """Twelve bytes of sixteen 6-bit values: low nibbles two per byte (j, j+8), then the top 2 bits
    of value j in byte 8 + j % 4 at bit 2 * (j // 4)."""
    n = len(stored)
    low = _pack_by_place_value((stored & 0xF).reshape(n, 2, 8), 4)
    high = _pack_by_place_value((stored >> 4).reshape(n, 4, 4), 2)
    return np.concatenate([low, high], axis=1)


def _unpack_q3_k_scales(packed):
    n = len(packed)
    low = unpack_fields(packed[:, :8], 4).reshape(n, 16)
    high = unpack_fields(packed[:, 8:], 2).reshape(n, 16)
    return low | (high << 4)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def _quantize_q3_k_slice(blocks, scale, search_codes, workspace):
    """Bytes for a slice of blocks, from the search's sub-block scales and codes (n, 16[, 16])."""
    n = len(blocks)
    x = blocks.reshape(n, 16, 16)
    max_scale, _ = largest_magnitude(np.ascontiguousarray(scale.T))
    live = max_scale != 0
    inverse = np.float32(-32) / max_scale
    # int8 in C: nearest_int's value is stored in an int8_t before the clamp to [-32, 31].
    levels = nearest_int(inverse[:, None] * scale).astype(np.int8).astype(np.int32)
    d = np.where(live, np.float32(1) / inverse, np.float32(0))  # d = 1/iscale
    stored = np.where(live[:, None], np.clip(levels, -32, 31) + 32, 0).astype(np.uint8)
    # With max_scale == 0 C zeroes the scale bytes, so they decode to -32 (times d = 0).
    step = fp16_round(d)[:, None] * (stored.astype(np.float32) - 32)

    def kept_codes(dead):  # the search's codes, needed only where step == 0
        return (search_codes[dead] + 4).astype(np.uint8)

    codes = _requantize(x, step, kept_codes, highest=3, lowest=-4).reshape(n, 256)
    return np.concatenate(
        [_pack_high_bits(codes, 2), _pack_2bit_codes(codes & 3), _pack_q3_k_scales(stored), fp16_to_bytes(d)], axis=1
    )


def quantize_q3_k(blocks):
    """float32 (n_blocks, 256) -> Q3_K bytes (n_blocks, 110), as llama.cpp's quantize_row_q3_K_ref."""
    blocks = _check_blocks(blocks, "q3_k")
    # The search runs over all blocks at once (it slices itself); then bytes, slice by slice.
    scale, codes = search_signed_scale_3bit(blocks.reshape(-1, 16, 16), nmax=4)
    return _in_slices(_quantize_q3_k_slice, blocks, "Q3_K", scale, codes)


def fields_q3_k(data):
    """Decoded Q3_K fields: d (n,), scales (n, 16) signed -32..31, codes (n, 256) 0..7 (q = code - 4)."""
    data = _check_bytes(data, "q3_k")
    codes = _unpack_2bit_codes(data[:, 32:96]) | (_unpack_high_bits(data[:, :32]) << 2)
    scales = _unpack_q3_k_scales(data[:, 96:108]).astype(np.int8) - np.int8(32)
    return {"d": fp16_from_bytes(data[:, 108:110]), "scales": scales, "codes": codes}


@np.errstate(all="ignore")  # an inf scale times code 0 is NaN, silently, as in C
def dequantize_q3_k(data):
    """Q3_K bytes (n_blocks, 110) -> float32 (n_blocks, 256): (d * s_j) * (code - 4)."""
    f = fields_q3_k(data)
    step = f["d"][:, None] * f["scales"].astype(np.float32)
    q = f["codes"].reshape(-1, 16, 16).astype(np.float32) - 4
    return (step[..., None] * q).reshape(-1, 256)


# ---------------------------------------------------------------------------------------------
# Q4_K and Q5_K: 8 sub-blocks of 32, codes 0..15 / 0..31, 6-bit scales and mins (4.5 / 5.5 bpw)


def _quantize_asymmetric_6bit(blocks, nmax, rmin, nstep, workspace):
    """Shared by Q4_K and Q5_K: weights, search, 6-bit sub-block scales, final codes."""
    n = len(blocks)
    x = blocks.reshape(n, 8, 32)

    def importance(xs):
        """w = rms(sub-block) + |x| (C: av_x = sqrtf(sum_x2 / 32), summed in order), for the
        element-first x (32, sub-blocks) of the search."""
        root_mean_square = np.sqrt(sum_in_order(xs * xs) / np.float32(32))
        return np.add(root_mean_square, np.abs(xs), out=workspace.array("importance", xs.shape))

    scale, offset, iscale, origin = search_scale_and_min(
        x, importance, nmax=nmax, rmin=rmin, rdelta=0.1, nstep=nstep, use_mad=False, workspace=workspace
    )
    max_scale, max_offset = _positive_max(scale), _positive_max(offset)
    inverse_scale = np.where(max_scale > 0, np.float32(63) / max_scale, np.float32(0))
    inverse_offset = np.where(max_offset > 0, np.float32(63) / max_offset, np.float32(0))
    scales6 = _integer_scales(inverse_scale, scale, 6)
    mins6 = _integer_scales(inverse_offset, offset, 6)
    d, dmin = max_scale / np.float32(63), max_offset / np.float32(63)

    step = fp16_round(d)[:, None] * scales6.astype(np.float32)
    shift = fp16_round(dmin)[:, None] * mins6.astype(np.float32)

    def search_codes(dead):  # needed only where step == 0: computed there alone
        return scale_and_min_codes(x[dead], iscale[dead], origin[dead], nmax=nmax)

    codes = _requantize(x, step, search_codes, highest=nmax, offset=shift).reshape(n, 256)
    header = [fp16_to_bytes(d), fp16_to_bytes(dmin), _pack_scales_mins_6bit(scales6, mins6)]
    return header, codes


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def _quantize_q4_k_slice(blocks, workspace):
    header, codes = _quantize_asymmetric_6bit(blocks, 15, -1.0, 20, workspace)  # nmax, rmin, nstep
    return np.concatenate(header + [_pack_nibbles_by_64(codes)], axis=1)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def _quantize_q5_k_slice(blocks, workspace):
    header, codes = _quantize_asymmetric_6bit(blocks, 31, -0.5, 15, workspace)  # nmax, rmin, nstep
    return np.concatenate(header + [_pack_high_bits(codes, 4), _pack_nibbles_by_64(codes)], axis=1)


def quantize_q4_k(blocks):
    """float32 (n_blocks, 256) -> Q4_K bytes (n_blocks, 144), as llama.cpp's quantize_row_q4_K_ref."""
    return _in_slices(_quantize_q4_k_slice, _check_blocks(blocks, "q4_k"), "Q4_K")


def quantize_q5_k(blocks):
    """float32 (n_blocks, 256) -> Q5_K bytes (n_blocks, 176), as llama.cpp's quantize_row_q5_K_ref."""
    return _in_slices(_quantize_q5_k_slice, _check_blocks(blocks, "q5_k"), "Q5_K")


def _fields_asymmetric_6bit(data, codes):
    scales, mins = _unpack_scales_mins_6bit(data[:, 4:16])
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "dmin": fp16_from_bytes(data[:, 2:4]),
        "scales": scales,
        "mins": mins,
        "codes": codes,
    }


def fields_q4_k(data):
    """Decoded Q4_K fields: d, dmin (n,), scales, mins (n, 8) 6-bit, codes (n, 256) 0..15."""
    data = _check_bytes(data, "q4_k")
    return _fields_asymmetric_6bit(data, _unpack_nibbles_by_64(data[:, 16:144]))


def fields_q5_k(data):
    """Decoded Q5_K fields: d, dmin (n,), scales, mins (n, 8) 6-bit, codes (n, 256) 0..31."""
    data = _check_bytes(data, "q5_k")
    codes = _unpack_nibbles_by_64(data[:, 48:176]) | (_unpack_high_bits(data[:, 16:48]) << 4)
    return _fields_asymmetric_6bit(data, codes)


@np.errstate(all="ignore")  # an inf scale times code 0 is NaN, silently, as in C
def _dequantize_asymmetric(f):
    step = f["d"][:, None] * f["scales"].astype(np.float32)
    shift = f["dmin"][:, None] * f["mins"].astype(np.float32)
    codes = f["codes"].reshape(-1, 8, 32).astype(np.float32)
    return (step[..., None] * codes - shift[..., None]).reshape(-1, 256)


def dequantize_q4_k(data):
    """Q4_K bytes (n_blocks, 144) -> float32 (n_blocks, 256): (d * s_j) * q - dmin * m_j."""
    return _dequantize_asymmetric(fields_q4_k(data))


def dequantize_q5_k(data):
    """Q5_K bytes (n_blocks, 176) -> float32 (n_blocks, 256): (d * s_j) * q - dmin * m_j."""
    return _dequantize_asymmetric(fields_q5_k(data))


# ---------------------------------------------------------------------------------------------
# Q6_K: 16 sub-blocks of 16, codes -32..31, int8 scales; x ~ d * s_j * q (6.5625 bpw)


def _pack_q6_k_codes(codes):
    """ql: per 128 weights, 64 bytes of low nibbles (weights l | l+64 << 4, then l+32 | l+96 << 4);
    qh: per 128 weights, 32 bytes holding the top 2 bits of weights l, l+32, l+64, l+96."""
    n = len(codes)
    halves = codes.reshape(n, 2, 2, 2, 32)  # (half, +64, +32, l)
    low = _pack_by_place_value((halves & 0xF).transpose(0, 1, 3, 2, 4), 4).reshape(n, 128)
    high = _pack_by_place_value((codes >> 4).reshape(n, 2, 4, 32), 2).reshape(n, 64)
    return low, high


def _unpack_q6_k_codes_reference(low, high):
    """Readable inverse of _pack_q6_k_codes, field by field; _unpack_q6_k_codes is the fast one."""
    n = len(low)
    nibbles = unpack_fields(low.reshape(n, 2, 2, 32), 4)  # (half, +32, +64, l)
    nibbles = nibbles.transpose(0, 1, 3, 2, 4).reshape(n, 256)
    return nibbles | (unpack_fields(high.reshape(n, 2, 32), 2).reshape(n, 256) << 4)


_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)  # the low 4 bits of each of 8 bytes
_BITS_4_5 = np.uint64(0x3030303030303030)  # bits 4 and 5 of each of 8 bytes


def _unpack_q6_k_codes(low, high):
    """Codes 0..63 (n, 256) from ql (n, 128) and qh (n, 64), 8 codes per uint64 operation.

    Within each half of 128 weights, byte j of ql holds weight j in its low nibble and weight
    j + 64 in its high nibble, so the low nibbles of 8 consecutive bytes are 8 consecutive codes;
    byte l of qh holds the top 2 bits of weights l, l+32, l+64, l+96 at bits 0-1, 2-3, 4-5, 6-7.
    A shift of a whole word moves every byte's bits alike; the masks drop what crossed a byte.
    """
    n = len(low)
    ql = np.ascontiguousarray(low).view(np.uint64).reshape(n, 2, 8)  # (half, word)
    qh = np.ascontiguousarray(high).view(np.uint64).reshape(n, 2, 4)
    words = np.empty((n, 2, 2, 8), dtype=np.uint64)  # (half, +64, word)
    np.bitwise_and(ql, _NIBBLES, out=words[:, :, 0])
    np.right_shift(ql, np.uint64(4), out=words[:, :, 1])
    words[:, :, 1] &= _NIBBLES
    words = words.reshape(n, 2, 4, 4)  # (half, +32 k, word): weights 32k..32k+31 of the half
    top = np.empty_like(qh)
    for k in range(4):  # bits 2k, 2k+1 of each qh byte -> bits 4, 5 of weight 32k + l
        shift = 4 - 2 * k
        if shift >= 0:
            np.left_shift(qh, np.uint64(shift), out=top)
        else:
            np.right_shift(qh, np.uint64(-shift), out=top)
        top &= _BITS_4_5
        words[:, :, k] |= top
    return words.view(np.uint8).reshape(n, 256)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def _quantize_q6_k_slice(blocks, workspace, weights=None):
    """weights: the importance matrix's entries for these blocks (n, 256), used as they are
    (quantize_row_q6_K_impl), or None for the search's default w = x * x."""
    n = len(blocks)
    x = blocks.reshape(n, 16, 16)
    scale, iscale = search_signed_scale(
        x, nmax=32, workspace=workspace, weights=None if weights is None else weights.reshape(n, 16, 16)
    )
    max_scale, max_magnitude = largest_magnitude(np.ascontiguousarray(scale.T))
    empty = max_magnitude < np.float32(1e-15)  # C writes an all-zero block
    inverse = np.float32(-128) / max_scale
    d = np.where(empty, np.float32(0), np.float32(1) / inverse)  # d = 1/iscale
    levels = np.minimum(nearest_int(inverse[:, None] * scale), 127).astype(np.int8)
    levels[empty] = 0
    step = fp16_round(d)[:, None] * levels.astype(np.float32)

    def search_codes(dead):  # needed only where step == 0: computed there alone
        return signed_grid_codes(x[dead], iscale[dead], nmax=32)

    codes = _requantize(x, step, search_codes, highest=31, lowest=-32).reshape(n, 256)
    codes[empty] = 0
    low, high = _pack_q6_k_codes(codes)
    return np.concatenate([low, high, levels.view(np.uint8), fp16_to_bytes(d)], axis=1)


def quantize_q6_k(blocks):
    """float32 (n_blocks, 256) -> Q6_K bytes (n_blocks, 210), as llama.cpp's quantize_row_q6_K_ref."""
    return _in_slices(_quantize_q6_k_slice, _check_blocks(blocks, "q6_k"), "Q6_K")


def fields_q6_k(data):
    """Decoded Q6_K fields: d (n,), scales (n, 16) int8, codes (n, 256) 0..63 (q = code - 32)."""
    data = _check_bytes(data, "q6_k")
    return {
        "d": fp16_from_bytes(data[:, 208:210]),
        "scales": data[:, 192:208].view(np.int8).copy(),
        "codes": _unpack_q6_k_codes(data[:, :128], data[:, 128:192]),
    }


@np.errstate(all="ignore")  # an inf scale times code 0 is NaN, silently, as in C
def dequantize_q6_k(data):
    """Q6_K bytes (n_blocks, 210) -> float32 (n_blocks, 256): (d * s_j) * (code - 32)."""
    f = fields_q6_k(data)
    step = f["d"][:, None] * f["scales"].astype(np.float32)
    q = (f["codes"] - np.uint8(32)).view(np.int8).astype(np.float32)  # exact: -32..31
    q = q.reshape(-1, 16, 16)
    q *= step[..., None]
    return q.reshape(-1, 256)
