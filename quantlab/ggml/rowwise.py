"""Row-level entry points shared by the newer GGML types: validate once, reshape to blocks, reshape back.

Each newer format module (bf16, microscaling, ternary, iq4_xs, iquants) writes its quantizer over
blocks, float32 (n_blocks, block_size), and describes its block with a `Layout`: the byte size of
every field, from which the bytes per block and the bits per weight follow. This module turns such
a pair into the public functions `quantize_<type>(x, imatrix=None)` and `dequantize_<type>(raw)`.

An importance matrix (imatrix), as llama.cpp uses it, is one non-negative weight per column of the
weight matrix: a vector as long as a row. Blocks never straddle rows, so it is tiled over the rows.
"""

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array

# The vector-codebook i-quants fit their scales with float32 sums of w^2 * |w| * q over a sub-block.
# Around |w| = 1e12 these overflow in llama.cpp too, which then compares inf and nan scores, so its bytes
# are an accident. quantlab matches llama.cpp byte for byte up to this bound (tested) and refuses beyond.
CODEBOOK_TYPES = frozenset({"IQ3_S", "IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S"})
CODEBOOK_MAX_ABS = 1e10


@dataclass(frozen=True)
class Layout:
    """One GGML block: `block_size` weights stored as named fields of a given number of bytes."""

    name: str  # GGML's type name, e.g. "MXFP4"
    block_size: int  # weights per block
    fields: tuple  # ((field name, bytes), ...) in storage order
    imatrix: str = "optional"  # "ignored", "optional" or "required" (llama.cpp's behaviour)

    @property
    def bytes_per_block(self):
        return sum(size for _, size in self.fields)

    @property
    def bits_per_weight(self):
        """Storage cost per weight, every field included: 8 * bytes_per_block / block_size."""
        return 8 * self.bytes_per_block / self.block_size

    def offsets(self):
        """{field name: slice of the block's bytes}, in storage order."""
        spans, start = {}, 0
        for field, size in self.fields:
            spans[field] = slice(start, start + size)
            start += size
        return spans


def as_rows(x, layout):
    """Validate weights and return float32 rows (n_rows, row_length) of whole blocks."""
    array = as_float_array(x, "x")
    if array.ndim not in (1, 2):
        raise ValueError(
            f"x has {array.ndim} dimension(s) (shape {array.shape}); pass a 1-D vector or "
            f"2-D rows, e.g. x.reshape(-1, x.shape[-1])"
        )
    with np.errstate(over="ignore"):
        rows = np.ascontiguousarray(np.atleast_2d(array), dtype=np.float32)
    if array.dtype != np.float32 and not np.isfinite(rows).all():  # float64 beyond float32's range
        raise ValueError("x has values beyond float32's range (max 3.4e38); GGML quantizes float32 weights")
    if rows.shape[1] % layout.block_size:
        below = rows.shape[1] // layout.block_size * layout.block_size
        options = " or ".join(str(n) for n in (below, below + layout.block_size) if n > 0)
        raise ValueError(
            f"x has rows of {rows.shape[1]} weights, not a whole number of {layout.name} blocks "
            f"of {layout.block_size}; pad or trim to a multiple of {layout.block_size} "
            f"(nearest: {options})"
        )
    if layout.name in CODEBOOK_TYPES:
        largest = float(max(rows.max(), -rows.min()))  # finite: as_float_array refuses nan and inf
        if largest > CODEBOOK_MAX_ABS:
            raise ValueError(
                f"x has |w| up to {largest:.3g}; {layout.name} fits its scales with float32 sums of w^2 * |w| * q, "
                f"which overflow for weights this large (llama.cpp then compares inf and nan scores), so quantlab "
                f"refuses |w| > {CODEBOOK_MAX_ABS:.0e}: divide the tensor by a power of two first"
            )
    return rows


def as_importance(imatrix, layout, row_length):
    """Validate an importance vector (one weight >= 0 per column) or enforce llama.cpp's need for one."""
    if imatrix is None:
        if layout.imatrix == "required":
            raise ValueError(
                f"{layout.name} needs an importance matrix: llama.cpp refuses to quantize to it without "
                f"one, because at under 2.5 bits per weight the plain squared error picks poor grid "
                f"points. Pass imatrix=, one non-negative weight per column (length {row_length}), "
                f"e.g. the mean squared activation of each input channel"
            )
        return None
    importance = as_float_array(imatrix, "imatrix")
    if importance.ndim != 1 or importance.size != row_length:
        raise ValueError(
            f"imatrix has shape {importance.shape}; pass one weight per column of x, a 1-D array of length {row_length}"
        )
    if (importance < 0).any():
        raise ValueError(
            f"imatrix has negative entries (min {importance.min()}); importances are "
            f"non-negative, e.g. mean squared activations"
        )
    return np.ascontiguousarray(importance, dtype=np.float32)


def quantize_rows(x, imatrix, layout, quantize_blocks):
    """quantize_blocks over x's blocks, with the importance tiled per block when it is used.

    quantize_blocks(blocks, importance) takes float32 (n_blocks, block_size) and importance of the
    same shape, or None; it returns uint8 (n_blocks, bytes_per_block).
    """
    rows = as_rows(x, layout)
    importance = as_importance(imatrix, layout, rows.shape[1])
    blocks = rows.reshape(-1, layout.block_size)
    if importance is not None and layout.imatrix != "ignored":
        importance = np.broadcast_to(importance.reshape(1, -1), rows.shape).reshape(-1, layout.block_size)
    else:
        importance = None
    data = quantize_blocks(blocks, importance)
    return data.reshape(-1) if np.ndim(x) == 1 else data.reshape(len(rows), -1)


def as_raw_blocks(raw, layout):
    """Validate GGML bytes and return uint8 (n_blocks, bytes_per_block) and the leading (row) shape."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = np.frombuffer(raw, dtype=np.uint8)
    raw = np.asarray(raw)
    if raw.dtype != np.uint8:
        raise TypeError(
            f"raw has dtype {raw.dtype}; pass the uint8 bytes that quantize_ returned "
            f"(for raw bytes of another dtype, raw.view(np.uint8))"
        )
    if raw.ndim not in (1, 2) or raw.size == 0:
        raise ValueError(
            f"raw has shape {raw.shape}; pass 1-D bytes or 2-D rows of bytes, at least one "
            f"{layout.name} block of {layout.bytes_per_block} bytes"
        )
    if raw.shape[-1] % layout.bytes_per_block:
        raise ValueError(
            f"raw rows have {raw.shape[-1]} bytes, not a whole number of {layout.name} blocks "
            f"of {layout.bytes_per_block} bytes; was it quantized with another type?"
        )
    return np.ascontiguousarray(raw).reshape(-1, layout.bytes_per_block), raw.shape[:-1]


def dequantize_rows(raw, layout, dequantize_blocks):
    """dequantize_blocks over raw's blocks: float32 with raw's leading shape, rows of weights."""
    blocks, leading = as_raw_blocks(raw, layout)
    return dequantize_blocks(blocks).reshape(*leading, -1)
