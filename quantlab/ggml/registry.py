"""The registry of GGUF block formats: block size, bytes per block, bits per weight, and the code.

Each quantized format lives in a module exposing, per lowercase key (q4_0, q4_k, iq4_nl, ...),
three functions over whole arrays of blocks:
    quantize_<key>(blocks: float32 (n, block_size)) -> uint8 (n, bytes_per_block)
    dequantize_<key>(data: uint8 (n, bytes_per_block)) -> float32 (n, block_size)
    fields_<key>(data) -> dict of per-block decoded fields (d, m/dmin, scales, mins, codes, ...)
Modules are imported on first use, so the package works while a family is still being written.
"""

import importlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockFormat:
    """One GGML tensor type: `block_size` weights stored in `bytes_per_block` bytes."""

    name: str              # GGML's name, e.g. "Q4_K"
    block_size: int        # weights per block
    bytes_per_block: int   # bytes per block, scales included
    family: str            # "legacy", "k-quant", "non-linear" or "float"
    description: str
    module: str            # where quantize_<key>, dequantize_<key>, fields_<key> live

    @property
    def key(self):
        """Lowercase name used in function names: quantize_q4_k."""
        return self.name.lower()

    @property
    def bits_per_weight(self):
        """Storage cost per weight, scales included: 8 * bytes_per_block / block_size.

        Exact as a float: block sizes are powers of two (Q4_K: 8 * 144 / 256 = 4.5).
        """
        return 8 * self.bytes_per_block / self.block_size

    def _function(self, kind):
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as error:
            if error.name != self.module:
                raise
            raise NotImplementedError(
                f"{self.name} is not implemented yet: {self.module} does not exist") from None
        function = getattr(module, f"{kind}_{self.key}", None)
        if function is None:
            raise NotImplementedError(f"{self.name} is not implemented yet: {self.module} has no {kind}_{self.key}")
        return function

    def quantize_blocks(self, blocks):
        """float32 (n_blocks, block_size) -> uint8 (n_blocks, bytes_per_block)."""
        return self._function("quantize")(blocks)

    def dequantize_blocks(self, data):
        """uint8 (n_blocks, bytes_per_block) -> float32 (n_blocks, block_size)."""
        return self._function("dequantize")(data)

    def fields(self, data):
        """uint8 (n_blocks, bytes_per_block) -> dict of decoded per-block fields."""
        return self._function("fields")(data)


_LEGACY = "quantlab.ggml.legacy"
_KQUANTS = "quantlab.ggml.kquants"

FORMATS = {f.name: f for f in [
    BlockFormat("F32", 1, 4, "float", "IEEE float32, unquantized", __name__),
    BlockFormat("F16", 1, 2, "float", "IEEE float16, rounded to nearest even", __name__),
    BlockFormat("Q8_0", 32, 34, "legacy", "8-bit codes, one fp16 scale per 32 (w = d*c)", _LEGACY),
    BlockFormat("Q4_0", 32, 18, "legacy", "4-bit codes, one fp16 scale per 32 (w = d*(c-8))", _LEGACY),
    BlockFormat("Q4_1", 32, 20, "legacy", "4-bit codes, fp16 scale and min per 32 (w = d*c + m)", _LEGACY),
    BlockFormat("Q5_0", 32, 22, "legacy", "5-bit codes, one fp16 scale per 32 (w = d*(c-16))", _LEGACY),
    BlockFormat("Q5_1", 32, 24, "legacy", "5-bit codes, fp16 scale and min per 32 (w = d*c + m)", _LEGACY),
    BlockFormat("Q2_K", 256, 84, "k-quant",
                "2-bit codes; 16 sub-blocks of 16 with 4-bit scales and mins under fp16 d, dmin", _KQUANTS),
    BlockFormat("Q3_K", 256, 110, "k-quant",
                "3-bit codes; 16 sub-blocks of 16 with 6-bit signed scales under one fp16 d", _KQUANTS),
    BlockFormat("Q4_K", 256, 144, "k-quant",
                "4-bit codes; 8 sub-blocks of 32 with 6-bit scales and mins under fp16 d, dmin", _KQUANTS),
    BlockFormat("Q5_K", 256, 176, "k-quant",
                "5-bit codes; 8 sub-blocks of 32 with 6-bit scales and mins under fp16 d, dmin", _KQUANTS),
    BlockFormat("Q6_K", 256, 210, "k-quant",
                "6-bit codes; 16 sub-blocks of 16 with 8-bit signed scales under one fp16 d", _KQUANTS),
    BlockFormat("IQ4_NL", 32, 18, "non-linear",
                "4-bit indices into a fixed 16-level non-uniform table, one fp16 scale per 32",
                "quantlab.ggml.iq4_nl"),
]}


def format_info(type_name):
    """The BlockFormat for a GGML type name, case-insensitive ("q4_k" or "Q4_K")."""
    name = getattr(type_name, "name", type_name)  # also accepts gguf's GGMLQuantizationType members
    if not isinstance(name, str):
        raise TypeError(f"type_name must be a string such as 'Q4_K', got {type_name!r}")
    fmt = FORMATS.get(name.upper())
    if fmt is None:
        raise ValueError(f"unknown GGML type {type_name!r}; choose one of {', '.join(FORMATS)}")
    return fmt


# F32 and F16 are "blocks" of one weight: the bytes are the IEEE value itself.

def quantize_f32(blocks):
    return np.ascontiguousarray(blocks, dtype="<f4").view(np.uint8)


def dequantize_f32(data):
    return np.ascontiguousarray(data).view("<f4").astype(np.float32)


def fields_f32(data):
    return {"values": dequantize_f32(data)[:, 0]}


def quantize_f16(blocks):
    return np.ascontiguousarray(blocks, dtype=np.float32).astype("<f2").view(np.uint8)


def dequantize_f16(data):
    return np.ascontiguousarray(data).view("<f2").astype(np.float32)


def fields_f16(data):
    return {"values": dequantize_f16(data)[:, 0]}
