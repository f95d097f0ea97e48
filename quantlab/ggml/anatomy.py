"""Inside a GGUF block, for teaching: where each field sits, what grid it spans, how K-quants choose it.

Pure functions over the bytes that quantlab.ggml writes:
- `byte_layout(type)`: the fields of one block as (name, offset, length, role, meaning), after the
  structs block_q4_0 ... block_q6_K, block_iq4_nl of llama.cpp's ggml/src/ggml-common.h;
- `bits_breakdown(type)`: bits per weight spent on codes and on scales, from that layout;
- `six_bit_scales(packed)`: Q4_K/Q5_K's twelve scale bytes decoded bit by bit (get_scale_min_k4);
- `sub_block_grids(data, type)`: the levels each sub-block can represent (d*s_j*q - dmin*m_j ...);
- `kquant_search(w, type)`: what the K-quant quantizer computes for one block of 256 weights (a
  weighted least-squares fit of a uniform grid per sub-block), next to a brute-force search over
  uniform grids and a k-means codebook on the same weights.
"""

from dataclasses import dataclass

import numpy as np

from ..codebook import IQ4_NL_LEVELS, kmeans
from . import fields as decode_fields, format_info, quantize
from .fp16 import sum_in_order
from .kquants_search import fit_scale_and_min


@dataclass(frozen=True)
class Field:
    """One field of a block: `length` bytes from byte `offset`, named as in ggml-common.h."""

    name: str  # the struct member: d, dmin, m, scales, qs, qh, hmask, ql
    offset: int  # first byte, from the start of the block
    length: int  # bytes
    role: str  # "super-block scale" (fp16), "sub-block scales" (small integers) or "codes"
    meaning: str


def _fields(*rows):
    """Fields laid end to end: each row is (name, length, role, meaning)."""
    out, offset = [], 0
    for name, length, role, meaning in rows:
        out.append(Field(name, offset, length, role, meaning))
        offset += length
    return tuple(out)


SCALE, SUB_SCALES, CODES = "super-block scale", "sub-block scales", "codes"
# In ggml-common.h's member order. Legacy and IQ4_NL blocks of 32 have one fp16 scale: we call it a
# super-block scale too, since it plays the same part (the only float of the block).
LAYOUTS = {
    "Q8_0": _fields(("d", 2, SCALE, "fp16 scale: w = d * q"), ("qs", 32, CODES, "32 int8 codes q")),
    "Q4_0": _fields(
        ("d", 2, SCALE, "fp16 scale: w = d * (q - 8)"), ("qs", 16, CODES, "4-bit codes: byte j = q_j | q_(j+16) << 4")
    ),
    "Q4_1": _fields(
        ("d", 2, SCALE, "fp16 scale: w = d * q + m"),
        ("m", 2, SCALE, "fp16 min (the lowest level)"),
        ("qs", 16, CODES, "4-bit codes: byte j = q_j | q_(j+16) << 4"),
    ),
    "Q5_0": _fields(
        ("d", 2, SCALE, "fp16 scale: w = d * (q - 16)"),
        ("qh", 4, CODES, "fifth bit of each code: bit j = code j"),
        ("qs", 16, CODES, "low 4 bits: byte j = q_j | q_(j+16) << 4"),
    ),
    "Q5_1": _fields(
        ("d", 2, SCALE, "fp16 scale: w = d * q + m"),
        ("m", 2, SCALE, "fp16 min (the lowest level)"),
        ("qh", 4, CODES, "fifth bit of each code: bit j = code j"),
        ("qs", 16, CODES, "low 4 bits: byte j = q_j | q_(j+16) << 4"),
    ),
    "Q2_K": _fields(
        ("scales", 16, SUB_SCALES, "per sub-block of 16: 4-bit scale s_j | 4-bit min m_j << 4"),
        ("qs", 64, CODES, "2-bit codes q, four per byte"),
        ("d", 2, SCALE, "fp16 super-block scale of the s_j"),
        ("dmin", 2, SCALE, "fp16 super-block scale of the m_j: w = d*s_j*q - dmin*m_j"),
    ),
    "Q3_K": _fields(
        ("hmask", 32, CODES, "high (third) bit of each code"),
        ("qs", 64, CODES, "low 2 bits of each code, four per byte"),
        ("scales", 12, SUB_SCALES, "16 signed 6-bit scales s_j (stored + 32)"),
        ("d", 2, SCALE, "fp16 super-block scale: w = d*s_j*(q - 4)"),
    ),
    "Q4_K": _fields(
        ("d", 2, SCALE, "fp16 super-block scale of the s_j"),
        ("dmin", 2, SCALE, "fp16 super-block scale of the m_j: w = d*s_j*q - dmin*m_j"),
        ("scales", 12, SUB_SCALES, "eight 6-bit scales s_j and eight 6-bit mins m_j"),
        ("qs", 128, CODES, "4-bit codes q, two per byte"),
    ),
    "Q5_K": _fields(
        ("d", 2, SCALE, "fp16 super-block scale of the s_j"),
        ("dmin", 2, SCALE, "fp16 super-block scale of the m_j: w = d*s_j*q - dmin*m_j"),
        ("scales", 12, SUB_SCALES, "eight 6-bit scales s_j and eight 6-bit mins m_j"),
        ("qh", 32, CODES, "fifth bit of each code"),
        ("qs", 128, CODES, "low 4 bits of each code, two per byte"),
    ),
    "Q6_K": _fields(
        ("ql", 128, CODES, "low 4 bits of each code, two per byte"),
        ("qh", 64, CODES, "high 2 bits of each code, four per byte"),
        ("scales", 16, SUB_SCALES, "16 int8 scales s_j, one per sub-block of 16"),
        ("d", 2, SCALE, "fp16 super-block scale: w = d*s_j*(q - 32)"),
    ),
    "IQ4_NL": _fields(
        ("d", 2, SCALE, "fp16 scale: w = d * table[q]"),
        ("qs", 16, CODES, "4-bit indices q into a fixed 16-level table"),
    ),
}
TYPES = tuple(LAYOUTS)

# Per type: weights per sub-block (a whole block of 32 for the one-scale types), and how a code
# becomes a level: value = step * (code - code_offset) - shift, or d * table[code] for IQ4_NL.
_SUB_BLOCK = {
    "Q8_0": 32,
    "Q4_0": 32,
    "Q4_1": 32,
    "Q5_0": 32,
    "Q5_1": 32,
    "Q2_K": 16,
    "Q3_K": 16,
    "Q4_K": 32,
    "Q5_K": 32,
    "Q6_K": 16,
    "IQ4_NL": 32,
}
_CODES = {
    "Q8_0": (256, 128),
    "Q4_0": (16, 8),
    "Q4_1": (16, 0),
    "Q5_0": (32, 16),
    "Q5_1": (32, 0),
    "Q2_K": (4, 0),
    "Q3_K": (8, 4),
    "Q4_K": (16, 0),
    "Q5_K": (32, 0),
    "Q6_K": (64, 32),
    "IQ4_NL": (16, 0),
}  # (number of codes, code_offset); Q8_0's codes are int8 -128..127


def _check_type(type_name):
    name = format_info(type_name).name
    if name not in LAYOUTS:
        raise ValueError(f"type_name={type_name!r} is not a quantized block type; choose one of {', '.join(TYPES)}")
    return name


def byte_layout(type_name):
    """The fields of one block of `type_name`, in storage order (a tuple of Field)."""
    return LAYOUTS[_check_type(type_name)]


def field_of_each_byte(type_name, n_blocks=1):
    """For each byte of `n_blocks` consecutive blocks, the index of its field in byte_layout()."""
    layout = byte_layout(type_name)
    one_block = np.concatenate([np.full(field.length, i) for i, field in enumerate(layout)])
    return np.tile(one_block, n_blocks)


def bits_breakdown(type_name):
    """Bits per weight by role (codes, sub-block scales, super-block scale): 8 * bytes / block size.

    The three add up to format_info(type_name).bits_per_weight, e.g. Q4_K: 4 + 0.375 + 0.125 = 4.5.
    """
    name = _check_type(type_name)
    block_size = format_info(name).block_size
    breakdown = {role: 0.0 for role in (CODES, SUB_SCALES, SCALE)}
    for field in LAYOUTS[name]:
        breakdown[field.role] += 8 * field.length / block_size
    return breakdown


def bits_per_weight_table():
    """One row per block type: name, weights per block, bytes per block, bits per weight and its parts."""
    rows = []
    for name in TYPES:
        fmt = format_info(name)
        rows.append(
            {
                "type": name,
                "block_size": fmt.block_size,
                "bytes_per_block": fmt.bytes_per_block,
                "bits_per_weight": fmt.bits_per_weight,
                **bits_breakdown(name),
            }
        )
    return rows


# ---------------------------------------------------------------- Q4_K / Q5_K scale bytes


@dataclass(frozen=True)
class ScaleBits:
    """One 6-bit value of the 12 scale bytes: which bits of which bytes hold it, and its value."""

    kind: str  # "scale" or "min"
    index: int  # sub-block j = 0..7
    sources: tuple  # (byte, lowest bit, number of bits) pieces, least significant piece first
    value: int

    def __str__(self):
        pieces = [f"byte {byte:>2} bits {low}-{low + count - 1}" for byte, low, count in self.sources]
        return f"{self.kind:<5} {self.index} = {' | '.join(pieces) + (' << 4' if len(pieces) > 1 else ''):<42} = {self.value:2d}"


def _six_bit_sources(kind, j):
    """Where get_scale_min_k4 (ggml-quants.c) finds scale or min j in the 12 bytes."""
    first = j if kind == "scale" else j + 4  # bytes 0-3 hold scales 0-3, bytes 4-7 mins 0-3
    if j < 4:
        return ((first, 0, 6),)
    nibble = 0 if kind == "scale" else 4  # bytes 8-11: scale j in the low, min j in the high nibble
    top = j - 4 if kind == "scale" else j  # the top 2 bits ride in bits 6-7 of bytes 0-7
    return ((j + 4, nibble, 4), (top, 6, 2))


def six_bit_scales(packed):
    """Decode Q4_K/Q5_K's 12 scale bytes bit by bit: 8 scales then 8 mins, as ScaleBits rows."""
    packed = np.asarray(packed)
    if packed.shape != (12,) or packed.dtype != np.uint8:
        raise ValueError(
            f"packed must be the 12 uint8 scale bytes of one Q4_K/Q5_K block (bytes 4..15), "
            f"got {packed.dtype} {packed.shape}"
        )
    rows = []
    for kind in ("scale", "min"):
        for j in range(8):
            sources = _six_bit_sources(kind, j)
            value, shift = 0, 0
            for byte, low, count in sources:
                value |= ((int(packed[byte]) >> low) & ((1 << count) - 1)) << shift
                shift += count
            rows.append(ScaleBits(kind, j, sources, value))
    return rows


# ---------------------------------------------------------------- the grid of each sub-block


@dataclass(frozen=True, eq=False)
class SubBlockGrids:
    """Every level each sub-block can represent, and which one each weight uses.

    levels[j, c] is the value code c decodes to in sub-block j, computed in float32 exactly as
    dequantize() does, so levels[j][codes[j]] equals the dequantized weights bit for bit. For the
    32-weight types a sub-block is a whole block. step[j] is the spacing of sub-block j's uniform grid
    (d * s_j for K-quants, d for legacy types); NaN for IQ4_NL, whose table is not uniform.
    """

    type_name: str
    sub_block_size: int
    levels: np.ndarray  # (n_sub_blocks, n_codes) float32, indexed by code
    codes: np.ndarray  # (n_sub_blocks, sub_block_size) int
    step: np.ndarray  # (n_sub_blocks,) float32
    shift: np.ndarray  # (n_sub_blocks,) float32: level of code `code_offset`, negated (dmin*m_j; -m for Q4_1)

    @property
    def reconstruction(self):
        """The dequantized weights, (n_sub_blocks, sub_block_size)."""
        return np.take_along_axis(self.levels, self.codes, axis=1)


@np.errstate(all="ignore")
def sub_block_grids(data, type_name):
    """The reconstruction grid of every sub-block of the blocks in `data` (bytes from ggml.quantize)."""
    name = _check_type(type_name)
    f = decode_fields(data, name)
    n_codes, code_offset = _CODES[name]
    size = _SUB_BLOCK[name]
    per_block = format_info(name).block_size // size
    codes = f["codes"].reshape(-1, size).astype(np.int64)
    if name == "Q8_0":
        codes = codes + code_offset  # int8 -128..127 -> index 0..255
    q = np.arange(n_codes, dtype=np.float32) - np.float32(code_offset)
    d = np.repeat(f["d"], per_block)
    if name == "IQ4_NL":
        levels = d[:, None] * IQ4_NL_LEVELS.astype(np.float32)
        nan = np.full(len(d), np.nan, dtype=np.float32)
        return SubBlockGrids(name, size, levels, codes, nan, np.zeros_like(d))
    step = d * f["scales"].reshape(-1).astype(np.float32) if "scales" in f else d
    if "dmin" in f:  # K-quants with mins: w = (d*s_j)*q - (dmin*m_j)
        shift = np.repeat(f["dmin"], per_block) * f["mins"].reshape(-1).astype(np.float32)
        levels = step[:, None] * q - shift[:, None]
    elif "m" in f:  # Q4_1 / Q5_1: w = d*q + m
        shift = -f["m"]
        levels = step[:, None] * q + f["m"][:, None]
    else:  # symmetric grids: w = step * (code - offset)
        shift = np.zeros_like(step)
        levels = step[:, None] * q
    return SubBlockGrids(
        name, size, levels.astype(np.float32), codes, step.astype(np.float32), shift.astype(np.float32)
    )


def spacing_in_steps(values, step):
    """Gaps between the distinct sorted `values`, in units of `step`: all whole numbers on a uniform grid."""
    distinct = np.unique(np.asarray(values, dtype=np.float64))
    return np.diff(distinct) / abs(float(step))


def gap_ratio(levels):
    """Largest gap / smallest gap between distinct levels: 1 for a uniform grid whose levels are all used."""
    gaps = np.diff(np.unique(np.asarray(levels, dtype=np.float64)))
    return float(gaps.max() / gaps.min()) if gaps.size else 1.0


# ---------------------------------------------------------------- what the K-quant search does

# make_qkx2_quants arguments of quantize_row_q4_K_ref / q5_K_ref in ggml-quants.c:
# (levels - 1, rmin, rdelta, nstep); sub-blocks of 32, importance rms(sub-block) + |x|, squared error.
SEARCH_SETTINGS = {"Q4_K": (15, -1.0, 0.1, 20), "Q5_K": (31, -0.5, 0.1, 15)}


def _weighted_error(x, importance, scale, minimum, nmax):
    """sum(importance * (scale*q - min - x)^2) with each q the nearest code 0..nmax (float64)."""
    scale = np.where(scale > 0, scale, np.finfo(float).tiny)
    codes = np.clip(np.rint((x + minimum[..., None]) / scale[..., None]), 0, nmax)
    return np.sum(importance * (scale[..., None] * codes - minimum[..., None] - x) ** 2, axis=-1)


def weighted_least_squares(x, importance, codes):
    """Closed-form (scale, min) minimizing sum(importance * (scale*q - min - x)^2) for fixed codes q.

    The normal equations of a weighted linear fit, solved in float64 per sub-block (last axis = weights).
    Sub-blocks whose codes are all equal have no unique fit: NaN.
    """
    x, w, q = (np.asarray(a, dtype=np.float64) for a in (x, importance, codes))
    sum_w, sum_q, sum_qq = w.sum(-1), (w * q).sum(-1), (w * q * q).sum(-1)
    sum_x, sum_qx = (w * x).sum(-1), (w * q * x).sum(-1)
    det = sum_w * sum_qq - sum_q * sum_q
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (sum_w * sum_qx - sum_q * sum_x) / det
        offset = (sum_qq * sum_x - sum_q * sum_qx) / det  # x ~ scale*q + offset
    return scale, -offset


def brute_force_uniform_fit(x, importance, nmax, n_grid=81, rounds=3):
    """The best uniform grid (scale, min >= 0) per sub-block by exhaustive search, nothing clever.

    Every (scale, min) pair on an n_grid x n_grid lattice is tried, each weight on its nearest code
    0..nmax, and the pair of least weighted squared error kept; then the lattice shrinks around it
    (`rounds` times). Scales span 0.5-1.5x (max - min)/nmax, mins 0-1.5x max(-min(x), 0).
    Returns scale, min and the weighted error, per sub-block (float64).
    """
    x, w = np.asarray(x, dtype=np.float64), np.asarray(importance, dtype=np.float64)
    low, high = np.minimum(x.min(-1), 0), x.max(-1)
    span = np.where(high > low, (high - low) / nmax, 1.0)
    scale_range = np.stack([0.5 * span, 1.5 * span], axis=-1)
    min_range = np.stack([np.zeros_like(low), -1.5 * low], axis=-1)
    lattice = np.linspace(0, 1, n_grid)
    for _ in range(rounds):
        scales = scale_range[..., :1] + lattice * (scale_range[..., 1:] - scale_range[..., :1])  # (..., G)
        mins = min_range[..., :1] + lattice * (min_range[..., 1:] - min_range[..., :1])
        s, m = scales[..., :, None, None], mins[..., None, :, None]
        codes = np.clip(np.rint((x[..., None, None, :] + m) / s), 0, nmax)
        error = np.sum(w[..., None, None, :] * (s * codes - m - x[..., None, None, :]) ** 2, axis=-1)
        best = error.reshape(*error.shape[:-2], -1).argmin(-1)
        i, k = np.unravel_index(best, (n_grid, n_grid))
        best_scale = np.take_along_axis(scales, i[..., None], -1)[..., 0]
        best_min = np.take_along_axis(mins, k[..., None], -1)[..., 0]
        scale_width = 2 * (scale_range[..., 1] - scale_range[..., 0]) / (n_grid - 1)
        min_width = 2 * (min_range[..., 1] - min_range[..., 0]) / (n_grid - 1)
        scale_range = np.stack([best_scale - scale_width, best_scale + scale_width], axis=-1)
        min_range = np.stack([np.maximum(best_min - min_width, 0), best_min + min_width], axis=-1)
    return best_scale, best_min, _weighted_error(x, w, best_scale, best_min, nmax)


@dataclass(frozen=True, eq=False)
class KQuantSearch:
    """One K-quant block of 256 weights, sub-block by sub-block (arrays have a leading axis of 8).

    The quantizer's float fit (search_scale, search_min), the same fit redone by closed-form weighted
    least squares on the search's codes (wls_*), the stored two-level values d*s_j and dmin*m_j, the
    best uniform grid found by brute force, and a k-means codebook with as many free levels.
    `errors` maps each method to its importance-weighted squared error per sub-block.
    """

    type_name: str
    x: np.ndarray  # (8, 32) the weights
    importance: np.ndarray  # (8, 32) rms(sub-block) + |x|
    search_scale: np.ndarray
    search_min: np.ndarray
    search_codes: np.ndarray  # (8, 32)
    wls_scale: np.ndarray
    wls_min: np.ndarray
    d: float  # fp16 super-block scales, as stored
    dmin: float
    sub_scales: np.ndarray  # (8,) 6-bit integers s_j
    sub_mins: np.ndarray  # (8,) 6-bit integers m_j
    stored_levels: np.ndarray  # (8, 2**bits) d*s_j*q - dmin*m_j
    brute_scale: np.ndarray
    brute_min: np.ndarray
    kmeans_levels: np.ndarray  # (8, 2**bits) a k-means codebook per sub-block (same importance)
    errors: dict

    @property
    def stored_scale(self):
        return np.float32(self.d) * self.sub_scales.astype(np.float32)


def kquant_search(w, type_name="Q4_K", block=0):
    """Follow the K-quant quantizer through block `block` of `w` (1-D float32, whole blocks of 256).

    Steps (quantize_row_q4_K_ref in llama.cpp's ggml-quants.c; PR #1684 "k-quants"): per sub-block of
    32, importance = rms + |x|; a search over ~20 stretched uniform grids, each refitted by weighted
    least squares, gives a float (scale, min); then the 8 scales and 8 mins are themselves quantized to
    6 bits under one fp16 d and dmin. The result is compared with brute force and with k-means.
    """
    name = _check_type(type_name)
    if name not in SEARCH_SETTINGS:
        raise ValueError(
            f"type_name={type_name!r}: the search shown here is the one of {' and '.join(SEARCH_SETTINGS)} "
            f"(8 sub-blocks of 32, scale and min)"
        )
    nmax, rmin, rdelta, nstep = SEARCH_SETTINGS[name]
    w = np.asarray(w, dtype=np.float32).reshape(-1)
    n_blocks = w.size // 256
    if w.size % 256 or not 0 <= block < n_blocks:
        raise ValueError(
            f"block={block} must index one of the {n_blocks} whole blocks of 256 in w "
            f"({w.size} weights); pass w with a multiple of 256 weights and 0 <= block < {max(n_blocks, 1)}"
        )
    x = w[256 * block : 256 * (block + 1)].reshape(8, 32)
    mean_square = sum_in_order(x * x, axis=-1) / np.float32(32)  # summed in C's loop order
    importance = np.sqrt(mean_square)[:, None] + np.abs(x)
    scale, minimum, codes = fit_scale_and_min(
        x, importance, nmax=nmax, rmin=rmin, rdelta=rdelta, nstep=nstep, use_mad=False
    )
    wls_scale, wls_min = weighted_least_squares(x, importance, codes)
    pinned = wls_min < 0  # the search pins min to 0 (0 stays on the grid) and refits the scale
    w64, q64, x64 = importance.astype(float), codes.astype(float), x.astype(float)
    wls_scale = np.where(pinned, (w64 * q64 * x64).sum(-1) / (w64 * q64 * q64).sum(-1), wls_scale)
    wls_min = np.where(pinned, 0.0, wls_min)

    data = quantize(x.reshape(-1), name)
    grids = sub_block_grids(data, name)
    f = decode_fields(data, name)
    brute_scale, brute_min, brute_error = brute_force_uniform_fit(x, importance, nmax)
    learnt = kmeans(x.reshape(-1), nmax + 1, group_size=32, importance=importance.reshape(-1))
    reconstruction = learnt.dequantize().reshape(8, 32).astype(np.float64)
    low, high = np.minimum(x.min(-1), 0).astype(float), x.max(-1).astype(float)
    errors = {
        "min-max grid": _weighted_error(x64, w64, (high - low) / nmax, -low, nmax),
        "search (float scale, min)": np.sum(w64 * (scale[:, None] * q64 - minimum[:, None] - x64) ** 2, -1),
        "stored (6-bit s_j, m_j)": np.sum(w64 * (grids.reconstruction - x64) ** 2, -1),
        "best uniform grid (brute force)": brute_error,
        f"k-means, {nmax + 1} free levels": np.sum(w64 * (reconstruction - x64) ** 2, -1),
    }
    return KQuantSearch(
        name,
        x,
        importance,
        scale,
        minimum,
        codes,
        wls_scale,
        wls_min,
        float(f["d"][0]),
        float(f["dmin"][0]),
        f["scales"][0],
        f["mins"][0],
        grids.levels,
        brute_scale,
        brute_min,
        learnt.codebook,
        errors,
    )


def spacing_report(grids, search, sub_block=0):
    """Text: a K-quant sub-block's gaps between stored values (in steps) beside k-means' gaps, and their ratios."""
    kmeans_levels = search.kmeans_levels[sub_block]
    kmeans_gaps = np.diff(kmeans_levels)
    return "\n".join(
        [
            f"Q4_K sub-block {sub_block}, gaps between its distinct values, in steps:",
            f"   {np.round(spacing_in_steps(grids.reconstruction[sub_block], grids.step[sub_block]), 4).tolist()}",
            "k-means, 16 levels on the same weights, gaps / smallest gap:",
            f"   {np.round(kmeans_gaps / kmeans_gaps.min(), 2).tolist()}",
            f"largest / smallest gap: Q4_K {gap_ratio(search.stored_levels[sub_block]):.4f}, "
            f"k-means {gap_ratio(kmeans_levels):.2f}",
        ]
    )


def search_error_ratios(w, type_name="Q4_K", blocks=range(16)):
    """{method: error / best uniform grid's error, per sub-block} over several blocks of kquant_search."""
    ratios = {}
    for block in blocks:
        search = kquant_search(w, type_name, block=block)
        best = search.errors["best uniform grid (brute force)"]
        for name, error in search.errors.items():
            ratios.setdefault(name, []).extend(error / best)
    return {name: np.array(values) for name, values in ratios.items()}
