"""Memory arithmetic: how many bytes a model's weights take in each storage format.

GB are decimal (10^9 bytes, what disk and model cards say); GiB are binary (2^30 bytes, what
`free -h` and most GPU tools say). A "7B model in fp16 = 14 GB" is 13.0 GiB.
"""

import numpy as np

GB = 10**9
GIB = 2**30

# Bits per weight of common storage formats. The GGML block formats store a fp16 scale per block of
# 32 weights: Q8_0 = 34 bytes per 32 weights, Q4_0 = 18 bytes per 32 (llama.cpp, ggml-common.h:
# block_q8_0, block_q4_0). Tests check these against the `gguf` package's GGML_QUANT_SIZES.
BITS_PER_WEIGHT = {
    "fp32": 32.0,
    "fp16 / bf16": 16.0,
    "Q8_0 (8-bit + fp16 scale / 32)": 8.5,
    "Q4_0 (4-bit + fp16 scale / 32)": 4.5,
}


def weight_bytes(n_params, bits_per_weight):
    """Bytes needed to store `n_params` weights at `bits_per_weight` bits each."""
    if not (np.isfinite(n_params) and n_params > 0):
        raise ValueError(f"n_params={n_params!r} must be a positive number of parameters, e.g. 7e9")
    if not (np.isfinite(bits_per_weight) and bits_per_weight > 0):
        raise ValueError(f"bits_per_weight={bits_per_weight!r} must be a positive number, e.g. 4.5")
    return n_params * bits_per_weight / 8


def memory_table(n_params, formats=None):
    """Rows of (format, bits per weight, GB, GiB) for a model of `n_params` weights."""
    formats = BITS_PER_WEIGHT if formats is None else formats
    rows = []
    for name, bits in formats.items():
        size = weight_bytes(n_params, bits)
        rows.append({"format": name, "bits_per_weight": bits, "GB": size / GB, "GiB": size / GIB})
    return rows
