"""GGUF block formats, bit-exact with llama.cpp: quantize to the very bytes it writes, and back.

    data = quantize(w, "Q4_K")          # uint8, exactly llama.cpp's bytes for float32 w
    w_hat = dequantize(data, "Q4_K")    # float32, exactly what llama.cpp reads back
    fields(data, "Q4_K")                # d, dmin, sub-block scales and mins, codes, per block
    format_info("Q4_K").bits_per_weight # 4.5
    quantize(w, "Q4_K", imatrix=v)      # with an importance matrix (llama-quantize --imatrix)

Input policy: weights must be real floats. float16 and float64 are converted to float32 first, as
llama.cpp's converter does before quantizing (float64 values too large for float32 are refused);
integer, bool and complex arrays are refused, since codes passed as weights are a common slip.
"""

import numpy as np

from .._validate import as_float_array
from . import weighted
from .registry import FORMATS, BlockFormat, format_info

__all__ = ["quantize", "dequantize", "fields", "format_info", "FORMATS", "BlockFormat"]


def _nearest_multiples(length, step):
    """The whole multiples of `step` on either side of `length` (at least one block)."""
    below = length // step * step
    return [n for n in (below, below + step) if n > 0]


def _as_rows(x, fmt):
    """Validate weights and return them as float32 rows (n_rows, row_length) of whole blocks."""
    array = as_float_array(x, "x")
    if array.ndim not in (1, 2):
        raise ValueError(
            f"x has {array.ndim} dimension(s) (shape {array.shape}); pass a 1-D vector or 2-D rows, "
            f"e.g. x.reshape(-1, x.shape[-1])"
        )
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused below
        rows = np.ascontiguousarray(np.atleast_2d(array), dtype=np.float32)
    if array.dtype != np.float32 and not np.isfinite(rows).all():
        index = int(np.argmin(np.isfinite(rows).ravel()))
        raise ValueError(
            f"x has {array.ravel()[index]} at flat index {index}, beyond float32's range "
            f"(max 3.4e38); GGML quantizes float32 weights"
        )
    length = rows.shape[1]
    if length % fmt.block_size:
        options = " or ".join(str(n) for n in _nearest_multiples(length, fmt.block_size))
        what = "x has" if array.ndim == 1 else "x has rows of"
        hint = (
            " (llama.cpp falls back to a 32-weight type such as Q5_0 or Q8_0 for such rows)"
            if fmt.block_size > 32
            else ""
        )
        raise ValueError(
            f"{what} {length} weights, not a whole number of {fmt.name} blocks of {fmt.block_size}; "
            f"pad or trim to a multiple of {fmt.block_size} (nearest: {options}){hint}"
        )
    return rows


def _as_blocks(data, fmt):
    """Validate a byte buffer and return it as uint8 (n_blocks, bytes_per_block), plus its row shape."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = np.frombuffer(data, dtype=np.uint8)
    data = np.asarray(data)
    if data.dtype != np.uint8:
        raise TypeError(
            f"data has dtype {data.dtype}; pass the uint8 bytes that quantize() returned "
            f"(for raw bytes of another dtype, data.view(np.uint8))"
        )
    if data.ndim not in (1, 2):
        raise ValueError(f"data has {data.ndim} dimension(s) (shape {data.shape}); pass 1-D bytes or 2-D rows of bytes")
    if data.size == 0:
        raise ValueError(
            f"data is empty (shape {data.shape}); pass at least one {fmt.name} block of {fmt.bytes_per_block} bytes"
        )
    row_bytes = data.shape[-1]
    if row_bytes % fmt.bytes_per_block:
        options = " or ".join(
            f"{n} bytes = {n // fmt.bytes_per_block} block(s)"
            for n in _nearest_multiples(row_bytes, fmt.bytes_per_block)
        )
        what = "data has" if data.ndim == 1 else "each row of data has"
        raise ValueError(
            f"{what} {row_bytes} bytes, not a whole number of {fmt.name} blocks of {fmt.bytes_per_block} bytes "
            f"(nearest: {options}); was it quantized with another type?"
        )
    blocks = np.ascontiguousarray(data).reshape(-1, fmt.bytes_per_block)
    return blocks, data.shape[:-1]


def _as_importance(imatrix, row_length):
    """Validate an importance matrix: float32 (row_length,), one finite entry >= 0 per column."""
    values = np.asarray(imatrix)
    if values.dtype.kind in "iub":
        values = values.astype(np.float64)
    values = as_float_array(values, "imatrix")
    if values.ndim != 1 or values.size != row_length:
        raise ValueError(
            f"imatrix has shape {values.shape}; it needs one entry per column of x, i.e. shape "
            f"({row_length},) for rows of {row_length} weights (the mean of x_j^2 over calibration "
            f"tokens, quantlab.calibration.imatrix)"
        )
    with np.errstate(over="ignore"):
        importance = values.astype(np.float32)
    if not np.isfinite(importance).all():
        raise ValueError("imatrix has values beyond float32's range (max 3.4e38); llama.cpp reads it as float32")
    if (importance < 0).any():
        index = int(np.argmax(importance < 0))
        raise ValueError(
            f"imatrix[{index}] = {importance[index]} is negative; importances are means of "
            f"squares, >= 0 (a zero column is allowed: it says that column is never used)"
        )
    return importance


def quantize(x, type_name, imatrix=None):
    """Quantize float weights to a GGML type: the exact bytes llama.cpp's quantizer writes.

    x is 1-D, or 2-D rows (as a GGUF tensor stores them); each row length must be a multiple of the
    type's block size. Returns uint8 bytes: 1-D for 1-D x, else (n_rows, bytes_per_row).
    imatrix: optional importance matrix, one value >= 0 per column (llama-quantize --imatrix); the
    quantizer then takes llama.cpp's weighted code path (quantlab.ggml.weighted, or the i-quants' own
    searches). Q8_0, F16, F32, BF16, MXFP4, NVFP4, TQ1_0 and TQ2_0 ignore it, as llama.cpp does;
    IQ2_XXS, IQ2_XS and IQ1_S refuse to quantize without one, as llama.cpp does.
    """
    fmt = format_info(type_name)
    rows = _as_rows(x, fmt)
    importance = None if imatrix is None else _as_importance(imatrix, rows.shape[1])
    if fmt.name in weighted.WEIGHTED and importance is not None:
        data = weighted.quantize_rows(rows, fmt.name, importance)
    elif fmt.name in weighted.WEIGHTED or fmt.name in weighted.IGNORED:
        data = fmt.quantize_blocks(rows.reshape(-1, fmt.block_size))
    else:  # the newer types read their importance per column themselves (and refuse to go without
        data = fmt.quantize_blocks(rows, imatrix=importance)  # one where llama.cpp requires it)
    return data.reshape(-1) if np.ndim(x) == 1 else data.reshape(len(rows), -1)


def dequantize(data, type_name, shape=None):
    """Decode GGML bytes back to float32 weights, exactly as llama.cpp does.

    data is the uint8 output of quantize (1-D, or 2-D rows). The result is 1-D or (n_rows,
    row_length), or reshaped to `shape` if given (e.g. the original tensor's shape).
    """
    fmt = format_info(type_name)
    blocks, row_shape = _as_blocks(data, fmt)
    weights = fmt.dequantize_blocks(blocks).reshape(*row_shape, -1)
    if shape is None:
        return weights
    shape = tuple(int(n) for n in np.atleast_1d(shape))
    if int(np.prod(shape)) != weights.size:
        raise ValueError(
            f"shape={shape} holds {int(np.prod(shape))} weights but data decodes to "
            f"{weights.size}; pass the shape of the tensor that was quantized"
        )
    return weights.reshape(shape)


def fields(data, type_name):
    """The decoded fields of every block (d, dmin, scales, mins, codes, ...), leading axis = block.

    Blocks are numbered in storage order (row by row). Scales are float32 (from fp16) and codes are
    the raw stored integers; each format module's docstring gives the formula that rebuilds weights.
    """
    fmt = format_info(type_name)
    blocks, _ = _as_blocks(data, fmt)
    return fmt.fields(blocks)
