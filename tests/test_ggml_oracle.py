"""quantlab.ggml against llama.cpp itself: bytes equal to libgguf, floats equal to gguf-py, bit for bit.

libgguf is a build of llama.cpp's C quantizers (quantize_rows -> the bytes llama-quantize writes
without an importance matrix); gguf-py is llama.cpp's own Python reader and dequantizer. Both are
independent of quantlab, so every comparison here can fail.
"""

import importlib.util

import numpy as np
import pytest


import quantlab.ggml as ggml

import gguf  # noqa: E402  (an oracle: in the test extra, so a missing one fails)
import libgguf  # noqa: E402
from gguf import GGMLQuantizationType  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES  # noqa: E402

LEGACY = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL"]
K_QUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
TYPES = LEGACY + K_QUANTS
ROWS, ROW_LENGTH = 8, 1024  # 8192 weights per case: 256 blocks of 32, 32 super-blocks of 256
KQUANTS_MISSING = importlib.util.find_spec("quantlab.ggml.kquants") is None


def require(type_name):
    """Skip the K types, cleanly, only while quantlab/ggml/kquants.py does not exist."""
    if type_name in K_QUANTS and KQUANTS_MISSING:
        pytest.skip("kquants not yet implemented")


def blockwise(rng, make_block, block=32):
    """A (ROWS, ROW_LENGTH) array built one block at a time by make_block(rng, block)."""
    return np.concatenate([make_block(rng, block) for _ in range(ROWS * ROW_LENGTH // block)])


def ties(rng):
    """Exact ties for every rounding rule: a 32-block holds +-8 (or +-127) times a power of two, so
    Q4_0's (Q8_0's) float32 scale is that power of two, and half-steps k + 0.5 of it."""
    n_blocks = ROWS * ROW_LENGTH // 32
    step = np.float32(2.0) ** rng.integers(-6, 4, size=(n_blocks, 1))
    top = rng.choice([8, 127], size=(n_blocks, 1))
    halves = np.floor(rng.uniform(-top, top, size=(n_blocks, 32))) + 0.5
    halves[:, :1] = top * rng.choice([-1, 1], size=(n_blocks, 1))
    halves[:, 5] = -halves[:, 0] * rng.integers(0, 2, size=n_blocks)  # sometimes +a and -a both
    return step * halves


def mixed_blocks(rng):
    """One row, many kinds of block side by side: the per-block logic must not leak across blocks."""
    kinds = [
        lambda n: np.zeros(n),
        lambda n: np.full(n, 0.37),
        lambda n: np.full(n, -2.0),
        lambda n: rng.standard_normal(n) * 1e-30,
        lambda n: rng.standard_normal(n) * 1e4,
        lambda n: rng.standard_normal(n),
        lambda n: rng.standard_normal(n) * 1e-40,
        lambda n: np.where(rng.random(n) < 0.05, 50.0, rng.standard_normal(n)),
    ]
    return np.concatenate([kinds[rng.integers(len(kinds))](32) for _ in range(ROWS * ROW_LENGTH // 32)])


def subnormal_mix(rng):
    """float32 subnormals alone and beside normal numbers, and +0.0 beside -0.0."""
    x = rng.standard_normal(ROWS * ROW_LENGTH) * np.float32(1e-40)
    x[rng.random(x.size) < 0.3] = 0.0
    x[rng.random(x.size) < 0.3] = -0.0
    normal = rng.random(x.size // 256) < 0.5  # half of the 256-blocks get a few normal weights
    x.reshape(-1, 256)[normal, ::37] = rng.standard_normal((normal.sum(), 7)) * 1e-3
    return x


CASES = {
    "gaussian": lambda rng: rng.standard_normal(ROWS * ROW_LENGTH) * 0.02,
    "laplace": lambda rng: rng.laplace(size=ROWS * ROW_LENGTH),
    "student_t2": lambda rng: rng.standard_t(2, size=ROWS * ROW_LENGTH),
    "outliers": lambda rng: (
        np.where(rng.random(ROWS * ROW_LENGTH) < 0.002, 300.0, 1.0) * rng.standard_normal(ROWS * ROW_LENGTH)
    ),
    "all_zero": lambda rng: np.zeros(ROWS * ROW_LENGTH),
    "signed_zeros": lambda rng: np.where(rng.random(ROWS * ROW_LENGTH) < 0.5, -0.0, 0.0),
    "constant_positive": lambda rng: np.full(ROWS * ROW_LENGTH, 0.75),
    "constant_negative": lambda rng: np.full(ROWS * ROW_LENGTH, -1.3),
    "constant_per_block": lambda rng: blockwise(rng, lambda r, n: np.full(n, r.normal() * 3), block=256),
    "tiny_1e-30": lambda rng: rng.standard_normal(ROWS * ROW_LENGTH) * 1e-30,
    "large_1e4": lambda rng: rng.standard_normal(ROWS * ROW_LENGTH) * 1e4,
    "subnormal": subnormal_mix,
    "positive_only": lambda rng: np.abs(rng.standard_normal(ROWS * ROW_LENGTH)),
    "negative_only": lambda rng: -np.abs(rng.standard_normal(ROWS * ROW_LENGTH)),
    "ties": ties,
    "mixed_blocks": mixed_blocks,
}


def make_case(case):
    rng = np.random.default_rng(sorted(CASES).index(case))
    return np.asarray(CASES[case](rng), dtype=np.float32).reshape(ROWS, ROW_LENGTH)


def bits(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("type_name", TYPES)
def test_quantize_bytes_equal_llama_cpp(type_name, case):
    require(type_name)
    x = make_case(case)
    expected = libgguf.quantize_rows(x, GGMLQuantizationType[type_name])
    ours = ggml.quantize(x, type_name)
    assert ours.dtype == np.uint8 and ours.shape == expected.shape
    wrong = np.flatnonzero((ours != expected).reshape(-1, ggml.format_info(type_name).bytes_per_block).any(axis=1))
    assert len(wrong) == 0, f"{type_name}/{case}: {len(wrong)} blocks differ from llama.cpp, first {wrong[:5]}"


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("type_name", TYPES)
def test_dequantize_equals_gguf_py(type_name, case):
    require(type_name)
    data = libgguf.quantize_rows(make_case(case), GGMLQuantizationType[type_name])  # llama.cpp's bytes
    expected = gguf.quants.dequantize(data, GGMLQuantizationType[type_name])
    ours = ggml.dequantize(data, type_name)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    assert np.array_equal(bits(ours), bits(expected))


@pytest.mark.parametrize("type_name", TYPES)
def test_dequantize_arbitrary_bytes_equals_gguf_py(type_name):
    """Every code, every scale bit pattern (fp16 inf and nan included): not only what quantize makes."""
    require(type_name)
    fmt = ggml.format_info(type_name)
    data = np.random.default_rng(7).integers(0, 256, size=(64, 16 * fmt.bytes_per_block), dtype=np.uint8)
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 and the like: nan, as in C
        expected = gguf.quants.dequantize(data, GGMLQuantizationType[type_name])
        ours = ggml.dequantize(data, type_name)
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(ours), nan)
    assert np.array_equal(bits(ours)[~nan], bits(expected)[~nan])


@pytest.mark.parametrize("type_name", ["F32", "F16"])
def test_float_types_equal_llama_cpp(type_name):
    x = make_case("gaussian") * np.float32(300)
    expected = np.asarray(libgguf.quantize_rows(x, GGMLQuantizationType[type_name])).view(np.uint8)
    ours = ggml.quantize(x, type_name)
    assert np.array_equal(ours, expected.reshape(ours.shape))
    assert np.array_equal(
        bits(ggml.dequantize(ours, type_name)),
        bits(gguf.quants.dequantize(expected.reshape(ours.shape), GGMLQuantizationType[type_name])),
    )


# ----------------------------------------------------------------------------- fields


def _per_sub_block(values, n_sub):
    """Broadcast one value per sub-block over the weights of that sub-block."""
    return values.reshape(len(values), n_sub, 1)


# w from the decoded fields, by the formulas of ggml-quants.c's dequantize_row_* (float32, same order)
FORMULAS = {
    "Q8_0": lambda f: f["d"][:, None] * f["codes"].astype(np.float32),
    "Q4_0": lambda f: f["d"][:, None] * (f["codes"].astype(np.float32) - 8),
    "Q5_0": lambda f: f["d"][:, None] * (f["codes"].astype(np.float32) - 16),
    "Q4_1": lambda f: f["d"][:, None] * f["codes"].astype(np.float32) + f["m"][:, None],
    "Q5_1": lambda f: f["d"][:, None] * f["codes"].astype(np.float32) + f["m"][:, None],
    "IQ4_NL": lambda f: (
        f["d"][:, None]
        * np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float32)[f["codes"]]
    ),
    # K-quants: per sub-block step = d * scale (and shift = dmin * min), then step * q - shift
    "Q2_K": lambda f: (
        _per_sub_block(f["d"][:, None] * f["scales"].astype(np.float32), 16)
        * f["codes"].reshape(-1, 16, 16).astype(np.float32)
        - _per_sub_block(f["dmin"][:, None] * f["mins"].astype(np.float32), 16)
    ),
    "Q3_K": lambda f: (
        _per_sub_block(f["d"][:, None] * f["scales"].astype(np.float32), 16)
        * (f["codes"].reshape(-1, 16, 16).astype(np.float32) - 4)
    ),
    "Q4_K": lambda f: (
        _per_sub_block(f["d"][:, None] * f["scales"].astype(np.float32), 8)
        * f["codes"].reshape(-1, 8, 32).astype(np.float32)
        - _per_sub_block(f["dmin"][:, None] * f["mins"].astype(np.float32), 8)
    ),
    "Q6_K": lambda f: (
        _per_sub_block(f["d"][:, None] * f["scales"].astype(np.float32), 16)
        * (f["codes"].reshape(-1, 16, 16).astype(np.float32) - 32)
    ),
}
FORMULAS["Q5_K"] = FORMULAS["Q4_K"]


@pytest.mark.parametrize("type_name", TYPES)
def test_fields_rebuild_the_weights(type_name):
    """The decoded fields, put through the documented formula, give llama.cpp's dequantized weights."""
    require(type_name)
    fmt = ggml.format_info(type_name)
    data = libgguf.quantize_rows(make_case("laplace"), GGMLQuantizationType[type_name])
    fields = ggml.fields(data, type_name)
    n_blocks = data.size // fmt.bytes_per_block
    assert all(len(value) == n_blocks for value in fields.values())
    rebuilt = FORMULAS[type_name](fields).reshape(data.shape[0], -1)
    assert np.array_equal(bits(rebuilt), bits(gguf.quants.dequantize(data, GGMLQuantizationType[type_name])))


# ----------------------------------------------------------------------------- registry and API


@pytest.mark.parametrize("type_name", TYPES + ["F32", "F16"])
def test_registry_sizes_match_gguf(type_name):
    fmt = ggml.format_info(type_name)
    block_size, bytes_per_block = GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    assert (fmt.block_size, fmt.bytes_per_block) == (block_size, bytes_per_block)
    assert fmt.bits_per_weight == 8 * bytes_per_block / block_size


@pytest.mark.parametrize("type_name", ["Q4_0", "Q6_K", "IQ4_NL"])
def test_n_bytes_is_what_a_row_takes_in_a_gguf_file(type_name):
    fmt = ggml.format_info(type_name)
    row = np.linspace(-1, 1, 3 * fmt.block_size, dtype=np.float32)
    written = libgguf.quantize_rows(row.reshape(1, -1), libgguf.GGMLQuantizationType[type_name])
    assert fmt.n_bytes(row.size) == np.asarray(written).nbytes
    with pytest.raises(ValueError, match=f"not a whole number of {type_name} blocks of {fmt.block_size}"):
        fmt.n_bytes(row.size + 1)
    for bad in (-fmt.block_size, 4096.5, "4096", True):
        with pytest.raises(ValueError, match="a whole number >= 0"):
            fmt.n_bytes(bad)


def test_bits_per_weight_published_values():
    """llama.cpp's published bits per weight (ggml-common.h block layouts; README of quantize)."""
    published = {
        "Q8_0": 8.5,
        "Q4_0": 4.5,
        "Q4_1": 5.0,
        "Q5_0": 5.5,
        "Q5_1": 6.0,
        "IQ4_NL": 4.5,
        "Q2_K": 2.625,
        "Q3_K": 3.4375,
        "Q4_K": 4.5,
        "Q5_K": 5.5,
        "Q6_K": 6.5625,
    }
    assert {name: ggml.format_info(name).bits_per_weight for name in published} == published


@pytest.mark.parametrize("type_name", TYPES)
def test_one_dimensional_input_and_shapes(type_name):
    require(type_name)
    x = make_case("gaussian")
    rows = ggml.quantize(x, type_name)
    flat = ggml.quantize(x.ravel(), type_name)
    assert flat.ndim == 1 and np.array_equal(flat, rows.ravel())
    assert ggml.dequantize(flat, type_name).shape == (x.size,)
    assert ggml.dequantize(rows, type_name, shape=(2, 4, ROW_LENGTH)).shape == (2, 4, ROW_LENGTH)
    assert np.array_equal(ggml.dequantize(flat.tobytes(), type_name), ggml.dequantize(flat, type_name))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("type_name", ["Q4_0", "Q8_0", "IQ4_NL", "Q4_K"])
def test_other_float_dtypes_are_converted_to_float32(type_name, dtype):
    require(type_name)
    x = make_case("gaussian").astype(dtype)  # values exactly representable in float32
    expected = libgguf.quantize_rows(x.astype(np.float32), GGMLQuantizationType[type_name])
    assert np.array_equal(ggml.quantize(x, type_name), expected)
    assert np.array_equal(ggml.quantize(x.T.copy().T, type_name.lower()), expected)  # any layout, any case


def test_ties_case_really_has_ties():
    """Self-check of the battery: under Q8_0's and Q4_0's float32 scales, many x/d are exact halves."""
    x = make_case("ties").reshape(-1, 32)
    absmax = np.abs(x).max(axis=1, keepdims=True)
    for levels in (127, 8):
        scaled = x * (np.float32(1) / (absmax / np.float32(levels)))
        exact = np.abs(scaled - np.trunc(scaled)) == 0.5
        assert exact[absmax[:, 0] > 0].mean() > 0.05, levels
