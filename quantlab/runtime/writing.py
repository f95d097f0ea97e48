"""Writing a GGUF model file: a type for every tensor, checked, then streamed through gguf.GGUFWriter.

The container (header, typed metadata, tensor table, alignment padding) is written by the `gguf`
package, llama.cpp's own Python writer; every tensor's bytes come from quantlab.ggml. Tensors are
written one at a time in the order given, so only one tensor's bytes (and the float rows it is
made from) are in memory at once.

    plan = check_plan({"blk.0.ffn_down.weight": "Q4_K", ...}, shapes)   # refuses misfits by name
    write_gguf(path, "bert", add_metadata, tensors)                      # tensors: TensorToWrite
"""

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import ggml
from ..ggml import FORMATS

# Mix name -> llama.cpp's file type id (general.file_type; llama.h LLAMA_FTYPE_*, gguf.LlamaFileType).
FILE_TYPES = {
    "F32": 0,
    "F16": 1,
    "Q4_0": 2,
    "Q4_1": 3,
    "Q8_0": 7,
    "Q5_0": 8,
    "Q5_1": 9,
    "Q2_K": 10,
    "Q3_K_S": 11,
    "Q3_K_M": 12,
    "Q3_K_L": 13,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q5_K_S": 16,
    "Q5_K_M": 17,
    "Q6_K": 18,
    "IQ4_NL": 25,
}
# A single type -> the file type llama.cpp reports for a file "mostly" of it; 1024 = LLAMA_FTYPE_GUESSED.
_MOSTLY = {
    "F32": 0,
    "F16": 1,
    "Q4_0": 2,
    "Q4_1": 3,
    "Q8_0": 7,
    "Q5_0": 8,
    "Q5_1": 9,
    "Q2_K": 10,
    "Q3_K": 11,
    "Q4_K": 14,
    "Q5_K": 16,
    "Q6_K": 18,
    "IQ4_NL": 25,
}
GUESSED = 1024


@dataclass(frozen=True)
class TensorToWrite:
    """One tensor of the file to write: its GGUF name, numpy shape, type, and how to make its bytes."""

    name: str
    shape: tuple  # numpy order: (n_rows, row_length) for a matrix
    type_name: str
    make_bytes: Callable[[], np.ndarray]  # -> uint8 (or float32/float16 for F32/F16), called once, in order

    @property
    def byte_shape(self):
        """The shape of the stored bytes: each row of weights becomes row_length / block_size blocks."""
        return (*self.shape[:-1], FORMATS[self.type_name].n_bytes(self.shape[-1]))

    @property
    def n_bytes(self):
        return int(np.prod(self.byte_shape, dtype=np.int64))


def check_writable(path):
    """The path as a Path, after making sure a file can be created there (before any slow work)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path such as 'minilm-q4_0.gguf', got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"path={str(path)!r} is a directory; give a file name inside it, e.g. {str(path / 'model.gguf')!r}"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"path={str(path)!r}: the folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(
            f"path={str(path)!r} is not writable (no permission to write in {str(folder)!r}); "
            f"choose a folder you can write to, such as the current one"
        )
    return path


def check_plan(types, shapes, what="types"):
    """{name: canonical type name} after checking each named tensor exists and its rows take the type.

    `shapes` maps every tensor of the model to its numpy shape. A quantized type needs whole blocks
    along each row (GGUF rows are the last numpy axis); 1-D tensors (norms, biases) stay F32.
    """
    if not hasattr(types, "items"):
        raise TypeError(f"{what} must map tensor names to GGML type names, got {type(types).__name__}")
    plan = {}
    for name, type_name in types.items():
        if name not in shapes:
            close = [n for n in shapes if n.split(".")[-2:] == str(name).split(".")[-2:]][:3]
            raise ValueError(
                f"{what} names tensor {name!r}, which this model does not have; its tensors are "
                f"GGUF names such as {close or list(shapes)[:3]}"
            )
        fmt = ggml.format_info(type_name)
        shape = shapes[name]
        if len(shape) < 2 and fmt.name != "F32":
            raise ValueError(
                f"{what}[{name!r}] = {fmt.name}, but {name} is 1-D (shape {tuple(shape)}): norms and "
                f"biases stay F32, as llama.cpp's converter writes them"
            )
        row_length = shape[-1]
        if row_length % fmt.block_size:
            raise ValueError(
                f"{what}[{name!r}] = {fmt.name}: {name} has rows of {row_length} weights, not a whole "
                f"number of {fmt.name} blocks of {fmt.block_size}; choose a type with 32-weight blocks "
                f"(Q8_0, Q5_0, Q4_0, ...) or a llama.cpp mix, which falls back the way llama.cpp does"
            )
        plan[name] = fmt.name
    return plan


def file_type(plan, mix=None):
    """general.file_type: the mix's id, else "mostly" the type holding the most tensors (marked guessed)."""
    if mix is not None:
        return FILE_TYPES[mix]
    quantized = Counter(t for t in plan.values() if t != "F32")
    if not quantized:
        return FILE_TYPES["F32"]
    most = quantized.most_common(1)[0][0]
    return _MOSTLY.get(most, 0) | (0 if len(quantized) == 1 else GUESSED)


def tensor_bytes(rows, type_name, imatrix=None):
    """The stored bytes of float rows in a GGML type: quantlab.ggml's quantizer (F32/F16: the floats).

    imatrix: the tensor's importance per column (llama-quantize --imatrix), or None.
    """
    data = ggml.quantize(np.asarray(rows, np.float32).reshape(-1, rows.shape[-1]), type_name, imatrix=imatrix)
    return data.reshape(*rows.shape[:-1], -1)


def write_gguf(path, architecture, add_metadata, tensors):
    """Write a GGUF file: metadata by `add_metadata(writer)`, then each TensorToWrite's bytes in order.

    The file is written to a temporary name beside `path` and renamed when complete, so a failure
    never leaves a half-written model where a loader would find it. Returns the file size in bytes.
    """
    import gguf

    path = check_writable(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    writer = gguf.GGUFWriter(partial, architecture)
    try:
        add_metadata(writer)
        for tensor in tensors:
            writer.add_tensor_info(
                tensor.name,
                tensor.byte_shape,
                np.dtype(np.uint8),
                tensor.n_bytes,
                raw_dtype=gguf.GGMLQuantizationType[tensor.type_name],
            )
        try:
            writer.write_header_to_file()
        except OSError as error:
            raise ValueError(f"path={str(path)!r} cannot be written: {error.strerror or error}") from None
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for tensor in tensors:
            data = np.ascontiguousarray(tensor.make_bytes()).view(np.uint8)
            if data.nbytes != tensor.n_bytes:  # a bug in a producer, never the learner's input
                raise RuntimeError(f"{tensor.name}: made {data.nbytes} bytes, expected {tensor.n_bytes}")
            writer.write_tensor_data(data)
        writer.close()
        os.replace(partial, path)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)
    return path.stat().st_size
