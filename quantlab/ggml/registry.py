"""The registry of GGUF block formats: block size, bytes per block, bits per weight, and the code.

An explicit table: each BlockFormat names the three functions of its type, each over whole arrays of
blocks (a new type is one more row here):
    quantize_blocks(blocks: float32 (n, block_size)) -> uint8 (n, bytes_per_block)
    dequantize_blocks(data: uint8 (n, bytes_per_block)) -> float32 (n, block_size)
    fields(data) -> dict of per-block decoded fields (d, m/dmin, scales, mins, codes, ...)
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import bf16, iq1, iq2, iq3, iq4_nl, iq4_xs, kquants, legacy, microscaling, plain, ternary


@dataclass(frozen=True)
class BlockFormat:
    """One GGML tensor type: `block_size` weights stored in `bytes_per_block` bytes, and its code."""

    name: str  # GGML's name, e.g. "Q4_K"
    block_size: int  # weights per block
    bytes_per_block: int  # bytes per block, scales included
    family: str  # "legacy", "k-quant", "non-linear" or "float"
    description: str
    quantize_blocks: Callable = field(repr=False)  # float32 (n, block_size) -> uint8 (n, bytes_per_block)
    dequantize_blocks: Callable = field(repr=False)  # uint8 (n, bytes_per_block) -> float32 (n, block_size)
    fields: Callable = field(repr=False)  # uint8 (n, bytes_per_block) -> dict of per-block fields

    @property
    def bits_per_weight(self):
        """Storage cost per weight, scales included: 8 * bytes_per_block / block_size.

        Exact as a float: block sizes are powers of two (Q4_K: 8 * 144 / 256 = 4.5).
        """
        return 8 * self.bytes_per_block / self.block_size

    def n_bytes(self, n_weights):
        """Bytes that n_weights take in this type: n_weights / block_size blocks of bytes_per_block.

        Refuses a count that is not a whole number of blocks (llama.cpp stores only whole blocks).
        """
        if isinstance(n_weights, bool) or not isinstance(n_weights, (int, np.integer)) or n_weights < 0:
            raise ValueError(f"n_weights={n_weights!r}; pass a count of weights, a whole number >= 0")
        blocks, partial = divmod(int(n_weights), self.block_size)
        if partial:
            raise ValueError(
                f"{n_weights} weights are not a whole number of {self.name} blocks of {self.block_size} weights"
            )
        return blocks * self.bytes_per_block


def _row(name, block_size, bytes_per_block, family, description, module):
    """A table row whose functions are module.quantize_<name>, dequantize_<name>, fields_<name>."""
    key = name.lower()
    return BlockFormat(
        name,
        block_size,
        bytes_per_block,
        family,
        description,
        getattr(module, f"quantize_{key}"),
        getattr(module, f"dequantize_{key}"),
        getattr(module, f"fields_{key}"),
    )


FORMATS = {
    f.name: f
    for f in [
        _row("F32", 1, 4, "float", "IEEE float32, unquantized", plain),
        _row("F16", 1, 2, "float", "IEEE float16, rounded to nearest even", plain),
        _row("Q8_0", 32, 34, "legacy", "8-bit codes, one fp16 scale per 32 (w = d*c)", legacy),
        _row("Q4_0", 32, 18, "legacy", "4-bit codes, one fp16 scale per 32 (w = d*(c-8))", legacy),
        _row("Q4_1", 32, 20, "legacy", "4-bit codes, fp16 scale and min per 32 (w = d*c + m)", legacy),
        _row("Q5_0", 32, 22, "legacy", "5-bit codes, one fp16 scale per 32 (w = d*(c-16))", legacy),
        _row("Q5_1", 32, 24, "legacy", "5-bit codes, fp16 scale and min per 32 (w = d*c + m)", legacy),
        _row(
            "Q2_K",
            256,
            84,
            "k-quant",
            "2-bit codes; 16 sub-blocks of 16 with 4-bit scales and mins under fp16 d, dmin",
            kquants,
        ),
        _row(
            "Q3_K",
            256,
            110,
            "k-quant",
            "3-bit codes; 16 sub-blocks of 16 with 6-bit signed scales under one fp16 d",
            kquants,
        ),
        _row(
            "Q4_K",
            256,
            144,
            "k-quant",
            "4-bit codes; 8 sub-blocks of 32 with 6-bit scales and mins under fp16 d, dmin",
            kquants,
        ),
        _row(
            "Q5_K",
            256,
            176,
            "k-quant",
            "5-bit codes; 8 sub-blocks of 32 with 6-bit scales and mins under fp16 d, dmin",
            kquants,
        ),
        _row(
            "Q6_K",
            256,
            210,
            "k-quant",
            "6-bit codes; 16 sub-blocks of 16 with 8-bit signed scales under one fp16 d",
            kquants,
        ),
        _row(
            "IQ4_NL",
            32,
            18,
            "non-linear",
            "4-bit indices into a fixed 16-level non-uniform table, one fp16 scale per 32",
            iq4_nl,
        ),
        # The newer types (issue 13). Their module functions also take imatrix= (one weight per column).
        _row("BF16", 1, 2, "float", "bfloat16: float32's top 16 bits, rounded to nearest even", bf16),
        _row("MXFP4", 32, 17, "microscaling", "FP4 E2M1 codes, one E8M0 power-of-two scale per 32", microscaling),
        _row("NVFP4", 64, 36, "microscaling", "FP4 E2M1 codes, one UE4M3 (FP8) scale per 16", microscaling),
        _row("TQ1_0", 256, 54, "ternary", "trits -1/0/+1, five per byte in base 3, one fp16 scale per 256", ternary),
        _row("TQ2_0", 256, 66, "ternary", "trits -1/0/+1, 2 bits each, one fp16 scale per 256", ternary),
        _row(
            "IQ4_XS",
            256,
            136,
            "non-linear",
            "IQ4_NL's 16-level table; 8 sub-blocks of 32 with 6-bit scales under one fp16 d",
            iq4_xs,
        ),
        _row(
            "IQ3_S",
            256,
            110,
            "i-quant",
            "4-dim points of a 512-point grid, sign bits, 4-bit scales per 32 under one fp16 d",
            iq3,
        ),
        _row(
            "IQ3_XXS",
            256,
            98,
            "i-quant",
            "4-dim points of a 256-point grid, 7 sign bits per 8, 4-bit scales per 32 under one fp16 d",
            iq3,
        ),
        _row(
            "IQ2_S",
            256,
            82,
            "i-quant",
            "8-dim points of a 1024-point grid, sign bits, 4-bit scales per 16 under one fp16 d",
            iq2,
        ),
        _row(
            "IQ2_XS",
            256,
            74,
            "i-quant",
            "8-dim points of a 512-point grid, 7 sign bits per 8, 4-bit scales per 16; needs an imatrix",
            iq2,
        ),
        _row(
            "IQ2_XXS",
            256,
            66,
            "i-quant",
            "8-dim points of a 256-point grid, 7 sign bits per 8, 4-bit scales per 32; needs an imatrix",
            iq2,
        ),
        _row(
            "IQ1_S",
            256,
            50,
            "i-quant",
            "8-dim ternary points of a 2048-point grid +-1/8, 3-bit scales per 32; needs an imatrix",
            iq1,
        ),
        _row(
            "IQ1_M",
            256,
            56,
            "i-quant",
            "8-dim ternary points of a 2048-point grid +-1/8 per 8, 3-bit scales per 16",
            iq1,
        ),
    ]
}


def format_info(type_name):
    """The BlockFormat for a GGML type name, case-insensitive ("q4_k" or "Q4_K")."""
    name = getattr(type_name, "name", type_name)  # also accepts gguf's GGMLQuantizationType members
    if not isinstance(name, str):
        raise TypeError(f"type_name must be a string such as 'Q4_K', got {type_name!r}")
    fmt = FORMATS.get(name.upper())
    if fmt is None:
        raise ValueError(f"unknown GGML type {type_name!r}; choose one of {', '.join(FORMATS)}")
    return fmt
