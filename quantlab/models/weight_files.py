"""Reading weight files without their frameworks: safetensors (by hand) and GGUF (header by hand, rows on demand).

safetensors: 8 bytes (little-endian u64) give the length N of a JSON header; the header maps each
tensor name to its dtype, shape and [begin, end) byte range in the data that follows.

GGUF: "GGUF", a version, counts, typed key-value metadata, one entry per tensor (name, shape, type,
offset), padding to `general.alignment`, then the data. Only the header is parsed up front; weights
are read through a memory map a few rows at a time, so a 262,144 x 640 embedding is never decoded
whole. Shapes: GGUF lists dimensions fastest-first (ne[0] = row length, as llama.cpp prints them:
token_embd [640, 262144]); numpy lists them slowest-first, (262144, 640). GGUFTensor has both.

A truncated or corrupt file raises CorruptFileError (a ValueError) naming the file and the problem.

Why our own reader rather than gguf-py's GGUFReader: on Gemma 3 270M's file (a 262,144-token
vocabulary) GGUFReader took 8.8 s to open it against 0.37 s for this one, the same bytes read
(issue 8's measurement); `python benchmarks/models_memory.py --with-gguf-py` repeats it (on a loaded
2-core machine on 2026-12-06: 47.3 s and 728 MB against 3.6 s and 72 MB, whole processes).
"""

import json
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ggml import FORMATS
from ..ggml import dequantize as ggml_dequantize


class CorruptFileError(ValueError):
    """A weight file that is truncated, or whose bytes do not follow its format."""


def _file_size(path, what):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    return path, path.stat().st_size


# --- safetensors -----------------------------------------------------------------------------------

_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def safetensors_header(path):
    """({name: {dtype, shape, data_offsets}}, metadata, header length) after checking every entry fits."""
    path, size = _file_size(path, "safetensors")
    if size < 8:
        raise CorruptFileError(f"{path}: truncated: {size} bytes, fewer than the 8-byte header length")
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        if length > size - 8 or length > 100_000_000:
            raise CorruptFileError(
                f"{path}: header length field says {length} bytes but the file has {size} "
                f"bytes in all: truncated, or not a safetensors file"
            )
        raw = file.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptFileError(
            f"{path}: the {length}-byte header is not valid JSON ({error}); not a safetensors file, or a damaged one"
        ) from None
    if not isinstance(header, dict):
        raise CorruptFileError(f"{path}: the header is JSON but not an object of tensors")
    metadata = header.pop("__metadata__", {})
    data_size = size - 8 - length
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise CorruptFileError(f"{path}: header entry {name!r} lacks dtype/shape/data_offsets") from None
        if dtype not in _SAFETENSORS_DTYPES:
            raise CorruptFileError(f"{path}: tensor {name!r} has unknown dtype {dtype!r}")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise CorruptFileError(f"{path}: tensor {name!r} has a bad shape {shape!r}")
        expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end) or end - begin != expected:
            raise CorruptFileError(
                f"{path}: tensor {name!r} ({dtype}, shape {shape}) should take {expected} "
                f"bytes but its data_offsets are {[begin, end]}"
            )
        if end > data_size:
            raise CorruptFileError(
                f"{path}: truncated: tensor {name!r} needs data bytes {begin}..{end}, but only {data_size} data "
                f"bytes follow the header (the file has {size} bytes; a complete one has at least {8 + length + end})"
            )
    return header, metadata, length


def read_safetensors(path, names=None):
    """{name: numpy array} for every tensor (or only `names`); BF16 becomes float32 (numpy has no bf16)."""
    header, _, length = safetensors_header(path)
    if names is not None:
        missing = sorted(set(names) - set(header))
        if missing:
            raise KeyError(f"{path}: no tensor(s) {missing[:3]}; it holds e.g. {sorted(header)[:3]}")
        header = {name: header[name] for name in names}
    end = max((entry["data_offsets"][1] for entry in header.values()), default=0)
    data = np.fromfile(path, dtype=np.uint8, count=end, offset=8 + length)
    arrays = {}
    for name, entry in header.items():
        begin, stop = entry["data_offsets"]
        array = data[begin:stop].view(_SAFETENSORS_DTYPES[entry["dtype"]]).reshape(entry["shape"])
        arrays[name] = _bf16_to_f32(array) if entry["dtype"] == "BF16" else array
    return arrays


def _bf16_to_f32(bits):
    """bfloat16 is the top half of a float32: shift the 16 bits up."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


# --- GGUF ------------------------------------------------------------------------------------------

# GGML type ids (ggml.h) -> name. Block sizes and bytes come from quantlab.ggml.FORMATS, or for the
# types quantlab cannot decode, from the static_asserts of ggml-common.h (block_iq2_xxs, ...).
GGML_TYPE_NAMES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
    34: "TQ1_0",
    35: "TQ2_0",
    39: "MXFP4",
    40: "NVFP4",
    41: "Q1_0",
    42: "Q2_0",
}
_OTHER_BLOCKS = {  # (weights per block, bytes per block)
    "Q8_1": (32, 36),
    "Q8_K": (256, 292),
    "IQ2_XXS": (256, 66),
    "IQ2_XS": (256, 74),
    "IQ3_XXS": (256, 98),
    "IQ1_S": (256, 50),
    "IQ3_S": (256, 110),
    "IQ2_S": (256, 82),
    "IQ4_XS": (256, 136),
    "I8": (1, 1),
    "I16": (1, 2),
    "I32": (1, 4),
    "I64": (1, 8),
    "F64": (1, 8),
    "IQ1_M": (256, 56),
    "BF16": (1, 2),
    "TQ1_0": (256, 54),
    "TQ2_0": (256, 66),
    "MXFP4": (32, 17),
    "NVFP4": (64, 36),
    "Q1_0": (128, 18),
    "Q2_0": (64, 18),
}


def block_layout(type_name):
    """(weights per block, bytes per block) of a GGML type."""
    if type_name in FORMATS:
        return FORMATS[type_name].block_size, FORMATS[type_name].bytes_per_block
    return _OTHER_BLOCKS[type_name]


# GGUF metadata value types: id -> (struct format, size); 8 = string, 9 = array
_SCALARS = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
_NUMPY = {0: "u1", 1: "i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?", 10: "<u8", 11: "<i8", 12: "<f8"}


class _Cursor:
    """Reads little-endian values from a byte buffer, refusing to run past its end."""

    def __init__(self, buffer, path):
        self.buffer, self.path, self.offset, self.size = buffer, path, 0, len(buffer)

    def need(self, n, what):
        if n < 0 or self.offset + n > self.size:
            raise CorruptFileError(
                f"{self.path}: truncated or corrupt: reading {what} needs bytes "
                f"{self.offset}..{self.offset + n}, but the file has {self.size} bytes"
            )

    def scalar(self, fmt, size, what):
        self.need(size, what)
        (value,) = struct.unpack_from(fmt, self.buffer, self.offset)
        self.offset += size
        return value

    def u32(self, what):
        return self.scalar("<I", 4, what)

    def u64(self, what):
        return self.scalar("<Q", 8, what)

    def string(self, what):
        length = self.u64(f"the length of {what}")
        self.need(length, what)
        raw = bytes(self.buffer[self.offset : self.offset + length])
        self.offset += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptFileError(f"{self.path}: {what} at byte {self.offset - length} is not UTF-8 text") from None

    def value(self, kind, what):
        if kind in _SCALARS:
            return self.scalar(*_SCALARS[kind], what)
        if kind == 8:
            return self.string(what)
        if kind == 9:
            item_kind, count = self.u32(f"the item type of {what}"), self.u64(f"the length of {what}")
            if item_kind in _NUMPY:
                size = np.dtype(_NUMPY[item_kind]).itemsize * count
                self.need(size, what)
                array = np.frombuffer(self.buffer, _NUMPY[item_kind], count, self.offset).copy()
                self.offset += size
                return array
            if item_kind in (8, 9):
                self.need(8 * count, what)  # every item takes at least its 8-byte length
                return [self.value(item_kind, f"item {i} of {what}") for i in range(count)]
            raise CorruptFileError(f"{self.path}: {what} has unknown item type {item_kind}")
        raise CorruptFileError(f"{self.path}: {what} has unknown value type {kind} (corrupt metadata?)")


@dataclass(frozen=True)
class GGUFTensor:
    """Where one tensor lives in a GGUF file, and its two shapes."""

    name: str
    type_name: str
    gguf_shape: tuple  # fastest-first, as llama.cpp prints: (row_length, n_rows, ...)
    offset: int  # absolute byte offset of the data in the file
    n_bytes: int

    @property
    def shape(self):
        """numpy order (slowest-first): the shape a decoded array has."""
        return tuple(reversed(self.gguf_shape))

    @property
    def n_weights(self):
        return int(np.prod(self.gguf_shape, dtype=np.int64))

    @property
    def row_length(self):
        return self.gguf_shape[0]

    @property
    def n_rows(self):
        return self.n_weights // self.row_length

    @property
    def bits_per_weight(self):
        return 8 * self.n_bytes / self.n_weights


class GGUFFile:
    """An open GGUF file: `metadata` (+ `metadata_types`), `tensors` (name -> GGUFTensor), rows on demand.

    model = GGUFFile(path)
    model.tensors["token_embd.weight"].gguf_shape   # (640, 262144)
    model.rows("token_embd.weight", 0, 8)           # float32 (8, 640), decoded on the spot
    """

    def __init__(self, path):
        self.path, size = _file_size(path, "GGUF")
        if size < 24:
            raise CorruptFileError(f"{self.path}: truncated: {size} bytes, fewer than a GGUF header's 24")
        with open(self.path, "rb") as file:
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        cursor = _Cursor(self._map, self.path)
        magic = bytes(self._map[:4])
        if magic != b"GGUF":
            raise CorruptFileError(f"{self.path}: not a GGUF file: it starts with {magic!r}, not b'GGUF'")
        cursor.offset = 4
        self.version = cursor.u32("the version")
        if self.version not in (2, 3):
            raise CorruptFileError(
                f"{self.path}: GGUF version {self.version}; this reader knows versions 2 and 3 "
                f"(a big-endian file also reads as a huge version)"
            )
        n_tensors, n_kv = cursor.u64("the tensor count"), cursor.u64("the metadata count")
        if n_tensors > size // 24 or n_kv > size // 13:
            raise CorruptFileError(
                f"{self.path}: header claims {n_tensors} tensors and {n_kv} metadata entries, "
                f"impossible in {size} bytes (corrupt header)"
            )
        self.metadata, self.metadata_types = {}, {}
        for i in range(n_kv):
            key = cursor.string(f"metadata key {i}")
            kind = cursor.u32(f"the type of {key!r}")
            item_kind = None
            if kind == 9 and cursor.offset + 4 <= size:  # an array: its item type comes next
                item_kind = struct.unpack_from("<I", self._map, cursor.offset)[0]
            self.metadata[key] = cursor.value(kind, f"metadata {key!r}")
            self.metadata_types[key] = (kind, item_kind)  # GGUF value type ids (item type for arrays), to write back
        entries = []
        for i in range(n_tensors):
            name = cursor.string(f"the name of tensor {i}")
            n_dims = cursor.u32(f"the dimension count of {name!r}")
            if not 1 <= n_dims <= 4:
                raise CorruptFileError(f"{self.path}: tensor {name!r} has {n_dims} dimensions (GGUF allows 1 to 4)")
            dims = tuple(cursor.u64(f"the shape of {name!r}") for _ in range(n_dims))
            type_id = cursor.u32(f"the type of {name!r}")
            entries.append((name, dims, type_id, cursor.u64(f"the offset of {name!r}")))
        self.alignment = int(self.metadata.get("general.alignment", 32))
        if self.alignment <= 0 or self.alignment & (self.alignment - 1):
            raise CorruptFileError(f"{self.path}: general.alignment = {self.alignment} is not a power of two")
        self.data_offset = -(-cursor.offset // self.alignment) * self.alignment
        self.tensors = {}
        for name, dims, type_id, offset in entries:
            self.tensors[name] = self._check_tensor(name, dims, type_id, offset, size)
        self._data = np.frombuffer(self._map, dtype=np.uint8)

    def _check_tensor(self, name, dims, type_id, offset, size):
        if name in self.tensors:
            raise CorruptFileError(f"{self.path}: tensor {name!r} appears twice")
        type_name = GGML_TYPE_NAMES.get(type_id)
        if type_name is None:
            raise CorruptFileError(f"{self.path}: tensor {name!r} has unknown GGML type id {type_id}")
        block_size, bytes_per_block = block_layout(type_name)
        if min(dims) == 0 or dims[0] % block_size:
            raise CorruptFileError(
                f"{self.path}: tensor {name!r} of type {type_name} has shape {list(dims)}: rows "
                f"of {dims[0]} are not whole blocks of {block_size}"
            )
        n_bytes = int(np.prod(dims, dtype=np.int64)) // block_size * bytes_per_block
        start = self.data_offset + offset
        if start + n_bytes > size:
            raise CorruptFileError(
                f"{self.path}: truncated: tensor {name!r} needs bytes {start}..{start + n_bytes}, but the file "
                f"has {size} bytes"
            )
        return GGUFTensor(name, type_name, dims, start, n_bytes)

    def __repr__(self):
        return f"GGUFFile({str(self.path)!r}: {len(self.tensors)} tensors, {self.architecture})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Release the memory map (arrays returned by raw_rows must not be used after this)."""
        self._data = None
        try:
            self._map.close()
        except BufferError:  # a raw_rows view is still alive; the map closes when it is collected
            pass

    @property
    def architecture(self):
        return self.metadata.get("general.architecture")

    def gguf_shapes(self):
        """{name: GGUF shape}, the input quantlab.recipes.choose_types expects."""
        return {name: t.gguf_shape for name, t in self.tensors.items()}

    def types(self):
        """{name: GGML type name} as stored in the file."""
        return {name: t.type_name for name, t in self.tensors.items()}

    def hparams(self):
        """n_layer, n_head, n_head_kv, n_expert, architecture from the metadata (for quantlab.recipes)."""
        arch = self.architecture
        found = {"architecture": arch}
        for key, field in (
            ("n_layer", "block_count"),
            ("n_head", "attention.head_count"),
            ("n_head_kv", "attention.head_count_kv"),
            ("n_expert", "expert_count"),
        ):
            value = self.metadata.get(f"{arch}.{field}")
            if value is not None:
                found[key] = int(np.ravel(value)[0])  # per-layer arrays: layer 0, as llama.cpp's n_gqa()
        if ("n_head" in found) != ("n_head_kv" in found):
            found.pop("n_head", None), found.pop("n_head_kv", None)
        return found

    def _tensor(self, name):
        if name not in self.tensors:
            close = [n for n in self.tensors if name.split(".")[-2:] == n.split(".")[-2:]][:3]
            raise KeyError(f"no tensor {name!r} in {self.path.name}; e.g. {close or list(self.tensors)[:3]}")
        return self.tensors[name]

    def raw_rows(self, name, start=0, stop=None):
        """The stored bytes of rows start..stop, uint8 (n_rows, bytes per row): a view, nothing decoded."""
        tensor = self._tensor(name)
        start, stop, _ = slice(start, stop).indices(tensor.n_rows)
        row_bytes = tensor.n_bytes // tensor.n_rows
        first = tensor.offset + start * row_bytes
        return self._data[first : first + max(stop - start, 0) * row_bytes].reshape(-1, row_bytes)

    def rows(self, name, start=0, stop=None):
        """Rows start..stop of a tensor decoded to float32, (n_rows, row_length): only those rows are read."""
        return self._decode(self._tensor(name), self.raw_rows(name, start, stop))

    def take_rows(self, name, indices):
        """The rows at `indices` (e.g. token ids of an embedding), decoded to float32 (len, row_length)."""
        tensor = self._tensor(name)
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu" or indices.ndim != 1:
            raise TypeError(f"indices must be a 1-D array of integer row numbers, got {indices.dtype} {indices.shape}")
        if indices.size and (indices.min() < 0 or indices.max() >= tensor.n_rows):
            raise IndexError(
                f"{name} has rows 0..{tensor.n_rows - 1}; got indices from {indices.min()} to {indices.max()}"
            )
        return self._decode(tensor, self.raw_rows(name)[indices])

    def iter_rows(self, name, chunk_rows=4096):
        """Yield (start, float32 rows) chunk by chunk: a whole tensor with one chunk in memory at a time."""
        tensor = self._tensor(name)
        for start in range(0, tensor.n_rows, chunk_rows):
            yield start, self.rows(name, start, start + chunk_rows)

    def tensor(self, name, max_bytes=256 * 2**20):
        """A whole tensor as float32 in numpy shape; refused above max_bytes (use rows/iter_rows instead)."""
        tensor = self._tensor(name)
        if max_bytes is not None and 4 * tensor.n_weights > max_bytes:
            raise MemoryError(
                f"{name} would take {4 * tensor.n_weights / 2**20:.0f} MiB as float32 (more with the decoding "
                f"temporaries); read it in pieces with rows()/iter_rows()/take_rows(), or pass max_bytes=None"
            )
        return self.rows(name).reshape(tensor.shape)

    @staticmethod
    def _decode(tensor, raw):
        if raw.shape[0] == 0:
            return np.zeros((0, tensor.row_length), np.float32)
        if tensor.type_name == "BF16":
            return _bf16_to_f32(raw.view("<u2"))
        if tensor.type_name not in FORMATS:
            raise NotImplementedError(
                f"{tensor.name} is {tensor.type_name}, which quantlab.ggml cannot decode; "
                f"it decodes {', '.join(FORMATS)} and BF16"
            )
        return ggml_dequantize(raw, tensor.type_name).reshape(raw.shape[0], tensor.row_length)


def storage_report(model, name="token_embd.weight"):
    """Text: a GGUF file's bits per weight over all tensors, one tensor's share, and the rest."""
    n_bytes = sum(t.n_bytes for t in model.tensors.values())
    n_weights = sum(t.n_weights for t in model.tensors.values())
    big = model.tensors[name]
    rest = 8 * (n_bytes - big.n_bytes) / (n_weights - big.n_weights)
    return "\n".join(
        [
            f"real file: {n_weights:,} weights in {n_bytes:,} bytes = {8 * n_bytes / n_weights:.3f} bits per weight",
            f"{name.split('.')[0]} holds {big.n_weights / n_weights:.1%} of the weights and {big.n_bytes / n_bytes:.1%} of the bytes",
            f"everything else: {rest:.3f} bits per weight",
            f"the file is {model.path.stat().st_size:,} bytes: the rest is metadata (the vocabulary) and padding",
        ]
    )
