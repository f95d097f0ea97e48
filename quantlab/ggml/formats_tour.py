"""A tour of the newer GGML types (notebook 13): their layouts, levels, grids and packings, as plain data.

Nothing here quantizes on its own: it reads the format modules (microscaling, ternary, iq4_xs, iq1/2/3
and their grids) and returns tables and arrays that the notebook prints and quantlab.plots draws.

    bits_table()              exact bits per weight of every newer type, from its byte layout
    grid_facts("IQ2_XXS")     points, dimension, coordinate values, lattice size, the E8 parity check
    fp4_values()              the 16 values of FP4 E2M1
    base3_byte([2, 0, 1, 1, 2])  five trits in one byte, as TQ1_0 packs them
    view("IQ2_XXS", w)        one type on a few weights: reconstruction, levels per sub-block, error, bytes
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import weighted, bf16, iq1, iq2, iq3, iq4_xs, microscaling, ternary
from .iquants_grids import codebook
from .registry import format_info
from .._validate import as_float_array

LAYOUTS = {
    layout.name: layout
    for layout in (
        bf16.LAYOUT,
        microscaling.MXFP4,
        microscaling.NVFP4,
        ternary.TQ1_0,
        ternary.TQ2_0,
        iq4_xs.IQ4_XS,
        iq3.IQ3_S,
        iq3.IQ3_XXS,
        iq2.IQ2_S,
        iq2.IQ2_XS,
        iq2.IQ2_XXS,
        iq1.IQ1_M,
        iq1.IQ1_S,
    )
}
NEW_TYPES = tuple(LAYOUTS)
VECTOR_TYPES = ("IQ3_S", "IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S")
SUB_BLOCK = {
    "MXFP4": 32,
    "NVFP4": 16,
    "TQ1_0": 256,
    "TQ2_0": 256,
    "IQ4_XS": 32,
    "IQ3_S": 32,
    "IQ3_XXS": 32,
    "IQ2_S": 16,
    "IQ2_XS": 16,
    "IQ2_XXS": 32,
    "IQ1_M": 16,
    "IQ1_S": 32,
    "BF16": 256,
}


def prepare_codebooks():
    """Build the codebook and neighbour lists of every i-quant type here, once (about 1.5 s of CPU, 95 MB).

    The format explorer calls it when it opens, so that picking an i-quant in its dropdown for the
    first time costs a search, not a codebook build.
    """
    return {name: codebook("IQ1_S" if name == "IQ1_M" else name) for name in VECTOR_TYPES}


def _layout(type_name):
    name = format_info(type_name).name
    if name not in LAYOUTS:
        raise ValueError(f"type_name={type_name!r} is not one of the newer types; choose one of {', '.join(NEW_TYPES)}")
    return LAYOUTS[name]


def imatrix_use(type_name):
    """'ignored', 'optional' or 'required': what llama.cpp's quantizer of this type does with an imatrix."""
    name = format_info(type_name).name
    if name in LAYOUTS:
        return LAYOUTS[name].imatrix
    return "optional" if name in weighted.WEIGHTED else "ignored"  # the older types


def bits_table():
    """One row per newer type: weights and bytes per block, its fields (name, bytes), exact bits per weight."""
    return [
        {
            "type": layout.name,
            "block_size": layout.block_size,
            "bytes_per_block": layout.bytes_per_block,
            "fields": layout.fields,
            "bits_per_weight": layout.bits_per_weight,
            "imatrix": layout.imatrix,
        }
        for layout in LAYOUTS.values()
    ]


def fp4_values():
    """The 16 values of FP4 E2M1 in code order (0..7 positive, 8..15 their negatives): llama.cpp's table / 2."""
    return microscaling.FP4_LEVELS.astype(np.float32) / np.float32(2)


@dataclass(frozen=True)
class GridFacts:
    """What an i-quant's codebook is: its points, and where they sit."""

    name: str
    points: np.ndarray  # int8 (n, dim): the stored coordinate values
    coordinate_values: tuple  # the values a coordinate takes
    lattice_points: int  # all combinations of those values: the points the grid picks from
    even_level_sum: float  # share of points whose levels l (value 2l + 1) sum to an even number

    @property
    def size(self):
        return len(self.points)

    @property
    def dim(self):
        return self.points.shape[1]

    @property
    def index_bits(self):
        return int(np.log2(self.size))


def grid_facts(type_name):
    """GridFacts of an i-quant ("IQ2_XXS", "IQ3_S", ...; IQ1_M shares IQ1_S's grid)."""
    name = format_info(type_name).name
    if name not in VECTOR_TYPES:
        raise ValueError(f"type_name={type_name!r} has no vector codebook; choose one of {', '.join(VECTOR_TYPES)}")
    book = codebook("IQ1_S" if name == "IQ1_M" else name)
    values = tuple(int(v) for v in np.unique(book.values))
    levels = book.levels.astype(np.int64)
    return GridFacts(name, book.values, values, len(values) ** book.dim, float(np.mean(levels.sum(axis=1) % 2 == 0)))


def e8_points(points, negative):
    """Grid points (levels 1 3 5, as the quantizer sees them) with signs, halved: (n, 8) float.

    A point of the E8 lattice has all coordinates integers or all in Z + 1/2, summing to an even number.
    """
    return np.where(negative, -1.0, 1.0) * np.asarray(points, dtype=np.float64) / 2


def in_e8(x):
    """True where the 8-vectors x lie on the E8 lattice (all in Z or all in Z + 1/2, even sum)."""
    x = np.asarray(x, dtype=np.float64)
    integer = np.all(x == np.round(x), axis=-1)
    half = np.all(x - 0.5 == np.round(x - 0.5), axis=-1)
    total = x.sum(axis=-1)
    return (integer | half) & (total == np.round(total)) & (np.round(total) % 2 == 0)


def base3_byte(trits):
    """TQ1_0's byte for five trits (each 0, 1, 2 = weight -1, 0, +1), first most significant: ceil(v * 256 / 243)."""
    trits = np.asarray(trits)
    if trits.shape != (5,) or not np.isin(trits, (0, 1, 2)).all():
        raise ValueError(f"trits must be five values from 0, 1, 2, got {trits.tolist()}")
    value = int(np.dot(trits, [81, 27, 9, 3, 1]))
    return value, (value * 256 + 242) // 243


def trits_of_byte(byte):
    """The five trits TQ1_0's decoder reads from one byte: ((byte * 3^n) mod 256) * 3 >> 8."""
    if not 0 <= int(byte) <= 255:
        raise ValueError(f"byte must be 0..255, got {byte}")
    return [((int(byte) * 3**n) % 256) * 3 >> 8 for n in range(5)]


# ----------------------------------------------------------------------------- one type on a few weights


@dataclass(frozen=True, eq=False)
class TypeView:
    """One type applied to a few weights: everything the explorer shows (nothing drawn)."""

    type_name: str
    x: np.ndarray  # the weights
    reconstruction: np.ndarray  # what llama.cpp reads back
    levels: np.ndarray  # (n_sub_blocks, k): values each sub-block can hold (or holds, for i-quants), nan-padded
    data: np.ndarray  # the bytes
    importance: str  # how the imatrix was chosen, for the readout

    @property
    def mse(self):
        return float(np.mean((self.x.astype(np.float64) - self.reconstruction) ** 2))

    @property
    def levels_are_complete(self):
        """True when `levels` lists every value the sub-block could take; False when only those used."""
        return self.type_name not in VECTOR_TYPES


def _levels(type_name, data, reconstruction):
    """Per sub-block: every value it can take (scalar types) or the values its weights use (i-quants)."""
    fields = format_info(type_name).fields(data.reshape(-1, format_info(type_name).bytes_per_block))
    if type_name == "BF16":  # every weight is its own float: no grid to draw
        return np.full((len(reconstruction) // SUB_BLOCK[type_name], 1), np.nan, dtype=np.float32)
    if type_name == "MXFP4":
        return fields["scale"][:, None] * fp4_values()[None]
    if type_name == "NVFP4":
        return fields["scales"].reshape(-1, 1) * fp4_values()[None]
    if type_name in ("TQ1_0", "TQ2_0"):
        return fields["d"][:, None] * np.array([-1, 0, 1], dtype=np.float32)
    if type_name == "IQ4_XS":
        from ..codebook import IQ4_NL_LEVELS

        step = fields["d"][:, None] * fields["multipliers"].astype(np.float32)
        return step.reshape(-1, 1) * IQ4_NL_LEVELS.astype(np.float32)[None]
    sub = reconstruction.reshape(-1, SUB_BLOCK[type_name])
    rows = [np.unique(row) for row in sub]
    width = max(len(row) for row in rows)
    return np.array([np.pad(row, (0, width - len(row)), constant_values=np.nan) for row in rows])


def view(type_name, x, imatrix=None):
    """The type on 1-D weights x (a multiple of 256): bytes, reconstruction, levels, error.

    A type that needs an imatrix and gets none uses x**2 of these weights as its importance (the
    readout says so): a stand-in for the mean squared activations of a real imatrix.
    """
    layout = _layout(type_name)
    x = as_float_array(x, "x").astype(np.float32)
    if x.ndim != 1 or x.size % 256:
        raise ValueError(f"x must be 1-D with a multiple of 256 weights, got shape {x.shape}")
    importance = "none"
    if imatrix is None and layout.imatrix == "required":
        imatrix, importance = x * x, "x² of these weights (required; stand-in)"
    elif imatrix is not None:
        importance = "given" if layout.imatrix != "ignored" else "given, ignored by this type"
    fmt = format_info(layout.name)
    data = fmt.quantize_blocks(x.reshape(1, -1), imatrix=None if imatrix is None else np.asarray(imatrix, np.float32))
    reconstruction = fmt.dequantize_blocks(data.reshape(-1, fmt.bytes_per_block)).reshape(-1)
    return TypeView(
        layout.name, x, reconstruction, _levels(layout.name, data, reconstruction), data.reshape(-1), importance
    )


# ----------------------------------------------------------------------------- text for the notebook


def bits_table_text():
    """The bits-per-weight table as text: type, weights and bytes per block, the fields, exact bits per weight."""
    lines = [f"{'type':<8}{'weights':>8}{'bytes':>6}{'bits/weight':>12}  imatrix   fields (bytes)"]
    for row in sorted(bits_table(), key=lambda r: -r["bits_per_weight"]):
        fields = " + ".join(f"{name} {size}" for name, size in row["fields"])
        lines.append(
            f"{row['type']:<8}{row['block_size']:>8}{row['bytes_per_block']:>6}{row['bits_per_weight']:>12g}"
            f"  {row['imatrix']:<9} {fields}"
        )
    return "\n".join(lines)


def grid_text(type_name):
    """One i-quant codebook in a few lines: points, dimension, index bits, coordinate values, lattice share."""
    facts = grid_facts(type_name)
    return (
        f"{facts.name}: {facts.size} points in {facts.dim} dimensions ({facts.index_bits}-bit index), "
        f"coordinates from {facts.coordinate_values}\n"
        f"  picked from {facts.lattice_points} lattice points ({len(facts.coordinate_values)}^{facts.dim}): "
        f"{100 * facts.size / facts.lattice_points:.1f} % of them kept\n"
        f"  points whose levels l (value 2l+1) sum to an even number: {100 * facts.even_level_sum:.0f} %"
    )


def tensor_scaled_mse(w, type_name, tensor_scale):
    """MSE of w stored as type_name after dividing by one per-tensor scale (multiplied back when read)."""
    fmt = format_info(type_name)
    w = as_float_array(w, "w").astype(np.float32)
    stored = fmt.dequantize_blocks(fmt.quantize_blocks(w.reshape(1, -1) / np.float32(tensor_scale), imatrix=None))
    return float(np.mean((w.astype(np.float64) - stored.reshape(-1) * np.float32(tensor_scale)) ** 2))


def scales_text(w):
    """MXFP4's and NVFP4's shared scales for the first 32 weights of w, and where each block's max lands."""
    w = as_float_array(w, "w").astype(np.float32)
    mx = format_info("MXFP4").fields(format_info("MXFP4").quantize_blocks(w[:32].reshape(1, -1), imatrix=None))
    nv = format_info("NVFP4").fields(format_info("NVFP4").quantize_blocks(w[:64].reshape(1, -1), imatrix=None))
    amax32 = float(np.abs(w[:32]).max())
    amax16 = np.abs(w[:32]).reshape(2, 16).max(axis=1)
    lines = [
        f"MXFP4, weights 0-31: max|w| = {amax32:.5f}; E8M0 byte {int(mx['e'][0])} -> scale 2^{int(mx['e'][0]) - 127}"
        f" = {mx['scale'][0]:.6g}; max|w| / scale = {amax32 / mx['scale'][0]:.3f} (top FP4 value 6)"
    ]
    for j in range(2):
        scale = float(nv["scales"][0, j])
        lines.append(
            f"NVFP4, weights {16 * j}-{16 * j + 15}: max|w| = {amax16[j]:.5f}; max/6 = {amax16[j] / 6:.6f}"
            f" -> UE4M3 byte 0x{int(nv['scale_bytes'][0, j]):02x} = {scale:.6g}; max|w| / scale = {amax16[j] / scale:.3f}"
        )
    return "\n".join(lines)


def clipped_share(w, type_name="MXFP4"):
    """Share of blocks (of 32 for MXFP4, 16 for NVFP4) whose largest weight lies beyond 6 x its scale (clipped)."""
    w = as_float_array(w, "w").astype(np.float32)
    fmt = format_info(type_name)
    fields = fmt.fields(fmt.quantize_blocks(w.reshape(1, -1), imatrix=None).reshape(-1, fmt.bytes_per_block))
    scale = fields["scale"] if type_name == "MXFP4" else fields["scales"].reshape(-1)
    amax = np.abs(w).reshape(len(scale), -1).max(axis=1)
    return float(np.mean(amax > 6 * scale))


QUALITY_ASSET = Path(__file__).resolve().parents[1] / "assets" / "new_formats_quality.json"


def quality_table():
    """The committed quality table of the newer types (benchmarks/new_formats_quality.py --write)."""
    return json.loads(QUALITY_ASSET.read_text())


def quality_text(table=None):
    """The character model's perplexity and KL per type, and MiniLM's cosine per type, as text."""
    table = quality_table() if table is None else table
    minilm = {(row["type"], bool(row.get("imatrix"))): row for row in table["minilm"]["rows"]}
    newer = [row for row in table["char_lm"]["rows"] if row["type"] in NEW_TYPES]  # notebook 08 has the K rows too
    rows = sorted(newer, key=lambda r: (-r["bits_per_weight"], r["imatrix"]))
    lines = [f"{'type':<8}{'imatrix':>8}{'bits/w':>8}{'perplexity':>11}{'KL':>9}{'MiniLM cos':>12}"]
    for row in rows:
        cos = minilm.get((row["type"], bool(row["imatrix"])))
        lines.append(
            f"{row['type']:<8}{'yes' if row['imatrix'] else 'no':>8}{row['bits_per_weight']:>8g}"
            f"{row['perplexity']:>11.4f}{row['kl_divergence']:>9.4f}"
            f"{cos['mean_cosine'] if cos else float('nan'):>12.4f}"
        )
    lines.append(f"F32 perplexity {rows[0]['f32_perplexity']:.4f}; MiniLM: mean cosine to FP32 (nan: not measured)")
    return "\n".join(lines)
