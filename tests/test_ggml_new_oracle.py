"""The newer GGML types (BF16, MXFP4, NVFP4, TQ1_0, TQ2_0, i-quants) against llama.cpp, bit for bit.

Bytes are compared with libgguf (llama.cpp's C quantizers), decoded floats with gguf-py's
dequantizers; both are independent of quantlab and imported plainly, so a missing oracle fails.
The edge-case battery is test_ggml_oracle's (zeros, constants, tiny, huge, subnormals, ties, ...),
plus cases aimed at these formats' own corners.
"""

import gguf
import libgguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType
from gguf.constants import GGML_QUANT_SIZES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_ggml_oracle import CASES, ROW_LENGTH, ROWS, make_case

import quantlab.ggml as ggml
from quantlab.ggml import bf16, iq1, iq2, iq3, iq4_xs, iquants, iquants_grids, microscaling, rowwise, ternary

IQUANTS = ["IQ3_S", "IQ2_S", "IQ3_XXS", "IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"]
# name -> (quantize, dequantize, layout)
TYPES = {
    "BF16": (bf16.quantize_bf16, bf16.dequantize_bf16, bf16.LAYOUT),
    "MXFP4": (microscaling.quantize_mxfp4, microscaling.dequantize_mxfp4, microscaling.MXFP4),
    "NVFP4": (microscaling.quantize_nvfp4, microscaling.dequantize_nvfp4, microscaling.NVFP4),
    "TQ2_0": (ternary.quantize_tq2_0, ternary.dequantize_tq2_0, ternary.TQ2_0),
    "TQ1_0": (ternary.quantize_tq1_0, ternary.dequantize_tq1_0, ternary.TQ1_0),
    "IQ4_XS": (iq4_xs.quantize_iq4_xs, iq4_xs.dequantize_iq4_xs, iq4_xs.IQ4_XS),
    "IQ3_S": (iq3.quantize_iq3_s, iq3.dequantize_iq3_s, iq3.IQ3_S),
    "IQ2_S": (iq2.quantize_iq2_s, iq2.dequantize_iq2_s, iq2.IQ2_S),
    "IQ3_XXS": (iq3.quantize_iq3_xxs, iq3.dequantize_iq3_xxs, iq3.IQ3_XXS),
    "IQ2_XXS": (iq2.quantize_iq2_xxs, iq2.dequantize_iq2_xxs, iq2.IQ2_XXS),
    "IQ2_XS": (iq2.quantize_iq2_xs, iq2.dequantize_iq2_xs, iq2.IQ2_XS),
    "IQ1_S": (iq1.quantize_iq1_s, iq1.dequantize_iq1_s, iq1.IQ1_S),
    "IQ1_M": (iq1.quantize_iq1_m, iq1.dequantize_iq1_m, iq1.IQ1_M),
}
REQUIRED = [name for name in TYPES if TYPES[name][2].imatrix == "required"]


def near_powers_of_two(rng):
    """Block maxima just below, at and just above powers of two (MXFP4's log2 floor, E4M3 carries)."""
    x = rng.standard_normal(ROWS * ROW_LENGTH).reshape(-1, 16) * 0.1
    power = np.float32(2.0) ** rng.integers(-20, 20, size=len(x))
    nudge = rng.choice([-2, -1, 0, 1, 2], size=len(x)).astype(np.int32)
    top = (power.astype(np.float32).view(np.int32) + nudge).view(np.float32)
    x[:, 0] = top * rng.choice([-1, 1], size=len(x))
    return x


def saturating_scales(rng):
    """NVFP4 scales beyond E4M3's 448 (max|x| > 2688) and below its subnormal step, side by side."""
    x = rng.standard_normal(ROWS * ROW_LENGTH).reshape(-1, 16)
    x *= np.float32(10.0) ** rng.integers(-6, 8, size=(len(x), 1))
    return x


EXTRA = {"near_powers_of_two": near_powers_of_two, "saturating_scales": saturating_scales}


def make(case):
    if case in EXTRA:
        rng = np.random.default_rng(100 + sorted(EXTRA).index(case))
        return np.asarray(EXTRA[case](rng), dtype=np.float32).reshape(ROWS, ROW_LENGTH)
    return make_case(case)


ALL_CASES = list(CASES) + list(EXTRA)


def bits(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def importance(row_length, seed=3):
    """A random positive imatrix, one weight per column, spread over 4 decades."""
    return (10.0 ** np.random.default_rng(seed).uniform(-2, 2, row_length)).astype(np.float32)


def default_imatrix(type_name, row_length):
    """None, or a random positive imatrix for the types llama.cpp refuses to quantize without one."""
    return importance(row_length, seed=5) if type_name in REQUIRED else None


def assert_same_bytes(ours, expected, type_name, where):
    layout = TYPES[type_name][2]
    assert ours.dtype == np.uint8 and ours.shape == expected.shape, (ours.shape, expected.shape)
    wrong = np.flatnonzero((ours != expected).reshape(-1, layout.bytes_per_block).any(axis=1))
    assert len(wrong) == 0, f"{type_name}/{where}: {len(wrong)} blocks differ from llama.cpp, first {wrong[:5]}"


@pytest.mark.parametrize("case", ALL_CASES)
@pytest.mark.parametrize("type_name", list(TYPES))
def test_quantize_bytes_equal_libgguf(type_name, case):
    x = make(case)
    weights = default_imatrix(type_name, ROW_LENGTH)
    expected = libgguf.quantize_rows(x, GGMLQuantizationType[type_name], imatrix=weights).view(np.uint8)
    assert_same_bytes(TYPES[type_name][0](x, imatrix=weights), expected.reshape(ROWS, -1), type_name, case)


@pytest.mark.parametrize("case", ["laplace", "mixed_blocks", "subnormal"])
@pytest.mark.parametrize("type_name", list(TYPES))
def test_quantize_with_imatrix_equals_libgguf(type_name, case):
    x = make(case)
    weights = importance(ROW_LENGTH)
    expected = libgguf.quantize_rows(x, GGMLQuantizationType[type_name], imatrix=weights).view(np.uint8)
    assert_same_bytes(TYPES[type_name][0](x, imatrix=weights), expected.reshape(ROWS, -1), type_name, case)


@pytest.mark.parametrize("case", ALL_CASES)
@pytest.mark.parametrize("type_name", list(TYPES))
def test_dequantize_equals_gguf_py(type_name, case):
    data = (
        libgguf.quantize_rows(
            make(case), GGMLQuantizationType[type_name], imatrix=default_imatrix(type_name, ROW_LENGTH)
        )
        .view(np.uint8)
        .reshape(ROWS, -1)
    )
    expected = gguf.quants.dequantize(data, GGMLQuantizationType[type_name])
    ours = TYPES[type_name][1](data)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    assert np.array_equal(bits(ours), bits(expected))


@pytest.mark.parametrize("type_name", list(TYPES))
def test_dequantize_arbitrary_bytes_equals_gguf_py(type_name):
    """Every code and every scale bit pattern, not only what quantize makes."""
    layout = TYPES[type_name][2]
    data = np.random.default_rng(7).integers(0, 256, size=(64, 16 * layout.bytes_per_block), dtype=np.uint8)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = gguf.quants.dequantize(data, GGMLQuantizationType[type_name])
        ours = TYPES[type_name][1](data)
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(ours), nan)
    assert np.array_equal(bits(ours)[~nan], bits(expected)[~nan])


@pytest.mark.parametrize("type_name", list(TYPES))
def test_layout_matches_gguf_sizes(type_name):
    layout = TYPES[type_name][2]
    assert (layout.block_size, layout.bytes_per_block) == GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]


def test_bits_per_weight_from_the_layout():
    """Published in ggml-common.h's comments (TQ1_0 1.6875, TQ2_0 2.0625) and the MX/NVFP4 specs."""
    published = {
        "BF16": 16.0,
        "MXFP4": 4.25,
        "NVFP4": 4.5,
        "TQ1_0": 1.6875,
        "TQ2_0": 2.0625,
        "IQ4_XS": 4.25,
        "IQ3_S": 3.4375,
        "IQ2_S": 2.5625,
        "IQ3_XXS": 3.0625,
        "IQ2_XXS": 2.0625,
        "IQ2_XS": 2.3125,
        "IQ1_S": 1.5625,
        "IQ1_M": 1.75,
    }
    assert {name: TYPES[name][2].bits_per_weight for name in published} == published


# ----------------------------------------------------------------------------- hypothesis

SPECIAL = st.sampled_from(
    [
        float(np.float32(v))
        for v in (  # exact float32 values
            0.0,
            -0.0,
            1e-45,
            -1e-40,
            1e-38,
            0.5,
            -0.5,
            1.5,
            -2.5,
            6.0,
            -3.0,
            448.0,
            2688.0,
            0.49999997,
            1.9999999,
            -4.0000005,
            3e38,
        )
    ]
)


@st.composite
def rows_of(draw, block_size, largest=3e38):
    magnitude = float(np.float32(draw(st.sampled_from([1e-30, 1.0, 1e4, largest]))))
    special = SPECIAL.filter(lambda v: abs(v) <= largest)
    anything = st.floats(-magnitude, magnitude, width=32, allow_nan=False, allow_infinity=False)
    elements = st.one_of(anything, special, st.integers(-40, 40).map(lambda k: k * 0.25))
    n_blocks = draw(st.integers(1, 4))
    return draw(hnp.arrays(np.float32, (2, n_blocks * block_size), elements=elements))


@pytest.mark.parametrize("type_name", list(TYPES))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.large_base_example, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_hypothesis_bytes_equal_libgguf(type_name, data):
    # the i-quants' float32 fits overflow for huge weights (see quantlab.ggml.iquants): drawn |x| <= 1e8
    x = data.draw(rows_of(TYPES[type_name][2].block_size, 1e8 if type_name in IQUANTS else 3e38))
    weights = default_imatrix(type_name, x.shape[1])
    expected = libgguf.quantize_rows(x, GGMLQuantizationType[type_name], imatrix=weights).view(np.uint8).reshape(2, -1)
    ours = TYPES[type_name][0](x, imatrix=weights)
    assert np.array_equal(ours, expected), x.tolist()
    assert np.array_equal(
        bits(TYPES[type_name][1](ours)), bits(gguf.quants.dequantize(expected, GGMLQuantizationType[type_name]))
    )


# ----------------------------------------------------------------------------- fast paths = references


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, (8, 16), elements=st.floats(-1e3, 1e3, width=32)), scale_byte=st.integers(0, 255))
def test_fp4_rounding_equals_its_reference(x, scale_byte):
    d = np.full((8, 1), microscaling.UE4M3_HALF[scale_byte], dtype=np.float32)
    assert np.array_equal(microscaling.fp4_codes(x, d), microscaling.fp4_codes_reference(x, d))


@pytest.mark.parametrize("case", ALL_CASES)
def test_ternary_rounding_equals_its_reference(case):
    blocks = make(case).reshape(-1, 256)
    d, trits = ternary._trits(blocks)
    d_ref, trits_ref = ternary.trits_reference(blocks)
    assert np.array_equal(bits(d), bits(d_ref)) and np.array_equal(trits, trits_ref)


def test_ue4m3_bytes_round_trip_and_round_to_nearest():
    values = microscaling.UE4M3_HALF * 2
    exact = np.arange(1, 0x78)  # every UE4M3 byte below exponent 15 encodes its own value
    assert np.array_equal(microscaling.ue4m3_byte(values[exact]), exact)
    # ggml_fp32_to_ue4m3 saturates the whole top binade: 256 .. 448 all become 0x7E = 448
    assert (microscaling.ue4m3_byte(values[0x78:0x7F]) == 0x7E).all()
    assert microscaling.ue4m3_byte(np.float32(1e6)) == 0x7E and microscaling.ue4m3_byte(np.float32(0)) == 0


# ----------------------------------------------------------------------------- API


@pytest.mark.parametrize("type_name", list(TYPES))
def test_one_dimensional_and_bytes_input(type_name):
    quantize, dequantize, _ = TYPES[type_name]
    x = make("gaussian")[:1]
    weights = default_imatrix(type_name, ROW_LENGTH)
    flat = quantize(x.ravel(), imatrix=weights)
    assert flat.ndim == 1 and np.array_equal(flat, quantize(x, imatrix=weights).ravel())
    assert np.array_equal(dequantize(flat.tobytes()), dequantize(flat))
    assert dequantize(flat).shape == (x.size,)


@pytest.mark.parametrize("type_name", list(TYPES))
def test_bad_input_is_refused_clearly(type_name):
    quantize, dequantize, layout = TYPES[type_name]
    x = make("gaussian")
    with pytest.raises(ValueError, match="imatrix"):
        quantize(x, imatrix=np.ones(7, np.float32))
    with pytest.raises(ValueError, match="imatrix"):
        quantize(x, imatrix=-importance(ROW_LENGTH))
    with pytest.raises(ValueError, match="non-finite|finite"):
        quantize(np.where(x > 0, np.inf, x))
    with pytest.raises(TypeError, match="integer"):
        quantize(np.ones((2, 256), dtype=np.int32))
    if layout.block_size > 1:
        with pytest.raises(ValueError, match=f"multiple of {layout.block_size}"):
            quantize(x[:, : layout.block_size + 1])
    with pytest.raises(TypeError, match="uint8"):
        dequantize(np.zeros(layout.bytes_per_block, dtype=np.int16))
    with pytest.raises(ValueError, match="whole number"):
        dequantize(np.zeros(layout.bytes_per_block + 1, dtype=np.uint8))


# ----------------------------------------------------------------------------- i-quant grids

GRIDS = ["IQ3_S", "IQ2_S", "IQ3_XXS", "IQ2_XXS", "IQ2_XS", "IQ1_S"]  # IQ1_M uses IQ1_S's grid


@pytest.mark.parametrize("name", GRIDS)
def test_vectorized_neighbour_search_equals_its_reference(name):
    book = iquants_grids.codebook(name)
    rng = np.random.default_rng(11)
    off_grid = np.flatnonzero(book.neighbours[:, 0] >= 0)
    keys = rng.choice(off_grid, size=200)
    xval = rng.uniform(0, 16, size=(200, book.dim)).astype(np.float32)
    weight = rng.uniform(0, 3, size=(200, book.dim)).astype(np.float32)
    scale = rng.uniform(0.5, 2, size=200).astype(np.float32)
    fewest = off_grid[book.neighbour_count[off_grid] == book.neighbour_count[off_grid].min()]
    keys[:50] = rng.choice(fewest, size=50)
    for part in (slice(None), slice(0, 50)):  # a mix of list lengths, and only the shortest lists
        fast = iquants.best_neighbour(book, keys[part], xval[part], weight[part], scale[part])
        slow = [
            iquants.best_neighbour_reference(book, k, xv, w, s)
            for k, xv, w, s in zip(keys[part], xval[part], weight[part], scale[part])
        ]
        assert np.array_equal(fast, slow)


@pytest.mark.parametrize("name", GRIDS)
def test_lattice_keys_are_exact_for_every_level_vector(name):
    """Codebook.key's float32 product equals the integer key sum l_k << bits*k on every key of the lattice."""
    book = iquants_grids.codebook(name)
    keys = np.arange(len(book.index_of_key))
    levels = (keys[:, None] >> (np.arange(book.dim) * book.bits)) & ((1 << book.bits) - 1)
    assert np.array_equal(book.key(levels), keys)
    assert np.array_equal(book.key(levels.astype(np.float32).reshape(-1, 2, book.dim)), keys.reshape(-1, 2))


def neighbour_search_cases(book, rng, n=300):
    """Off-grid keys with groups built to stress a search: random, exact ties (integer magnitudes,
    equal weights, scale 1), zero weights, tiny (subnormal) and huge magnitudes, negative magnitudes
    (a parity-flipped weight). Not errors that overflow float32 (see quantlab.ggml.iquants)."""
    off_grid = np.flatnonzero(book.neighbours[:, 0] >= 0)
    keys = rng.choice(off_grid, size=n)
    xval = rng.uniform(0, 16, size=(n, book.dim)).astype(np.float32)
    weight = rng.uniform(0, 3, size=(n, book.dim)).astype(np.float32)
    scale = rng.uniform(0.5, 2, size=n).astype(np.float32)
    tie = slice(0, 60)  # integer magnitudes at scale 1 with equal weights: many equal errors
    xval[tie] = rng.integers(0, 6, size=(60, book.dim))
    weight[tie], scale[tie] = 1, 1
    weight[60:90] *= rng.integers(0, 2, size=(30, book.dim))  # some weights 0
    weight[90:100] = 0
    xval[100:120] *= np.float32(1e-40)
    scale[100:120] *= np.float32(1e-40)
    xval[120:130] *= np.float32(1e12)  # large, the float32 errors still finite
    scale[120:130] *= np.float32(1e12)
    xval[130:140] *= np.float32(1e17)  # errors near 1e36: searched exactly
    scale[130:140] *= np.float32(1e17)
    weight[130:140] *= np.float32(1e-4)
    xval[140:160, 0] *= -1
    return keys, xval, weight, scale


@pytest.mark.parametrize("source", ["grid", "lists"])
@pytest.mark.parametrize("name", ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S"])
def test_bounded_neighbour_search_equals_its_reference(name, source):
    """The moments' estimate, then the close calls exactly: C's choice, first of equal errors and all."""
    book = iquants_grids.codebook(name)
    rng = np.random.default_rng(12)
    keys, xval, weight, scale = neighbour_search_cases(book, rng)
    groups = np.arange(len(keys))[::-1].copy()  # groups sit at any row of the moments
    # runs of one group and one key at several scales (the ladder's tries), as the search makes them
    repeat = rng.integers(1, 4, size=len(keys))
    rows, keys, xval, weight = (np.repeat(a, repeat, axis=0) for a in (groups, keys, xval, weight))
    scale = np.repeat(scale, repeat) * rng.uniform(0.9, 1.1, size=len(rows)).astype(np.float32)
    moments = None
    if source == "grid":
        xval_by_group, weight_by_group = np.zeros((2, len(groups), book.dim), dtype=np.float32)
        xval_by_group[rows], weight_by_group[rows] = xval, weight
        moments = iquants.grid_moments(book, xval_by_group[:, None], weight_by_group[:, None])[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        fast = iquants.best_neighbour_bounded(book, keys, xval, weight, scale, rows, moments)
        slow = [iquants.best_neighbour_reference(book, *case) for case in zip(keys, xval, weight, scale)]
    assert np.array_equal(fast, slow)


@pytest.mark.parametrize("name", GRIDS)
def test_grids_equal_gguf_py(name):
    """Our grid asset (from ggml-common.h) against gguf-py's copy of the same grid."""
    book = iquants_grids.codebook(name)
    quant = gguf.quants._type_traits[GGMLQuantizationType[name]]
    quant.init_grid()
    assert np.array_equal(book.values.astype(np.float32), quant.grid.reshape(book.size, book.dim))


@pytest.mark.parametrize("type_name", list(TYPES))
def test_imatrix_required_exactly_where_llama_cpp_requires_it(type_name):
    required = libgguf.quantize_requires_imatrix(GGMLQuantizationType[type_name])
    assert (TYPES[type_name][2].imatrix == "required") == required
    if required:
        with pytest.raises(ValueError, match=f"{type_name} needs an importance matrix"):
            TYPES[type_name][0](make("gaussian"))


FIELD_FORMULAS = {  # the weights from the decoded fields, by each format's documented formula
    "TQ2_0": lambda f: (f["trits"].astype(np.float32) - 1) * f["d"][:, None],
    "TQ1_0": lambda f: (f["trits"].astype(np.float32) - 1) * f["d"][:, None],
    "MXFP4": lambda f: (microscaling.FP4_LEVELS[f["codes"]].astype(np.float32) / 2) * f["scale"][:, None],
    "IQ4_XS": lambda f: (
        (f["d"][:, None] * f["multipliers"].astype(np.float32))[:, :, None]
        * np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float32)[
            f["codes"]
        ].reshape(len(f["d"]), 8, 32)
    ).reshape(len(f["d"]), -1),
}


@pytest.mark.parametrize("type_name", list(FIELD_FORMULAS))
def test_fields_rebuild_gguf_py_weights(type_name):
    quantize, _, layout = TYPES[type_name]
    module = {"TQ2_0": ternary, "TQ1_0": ternary, "MXFP4": microscaling, "IQ4_XS": iq4_xs}[type_name]
    data = quantize(make("laplace"))
    fields = getattr(module, f"fields_{type_name.lower()}")(data.reshape(-1, layout.bytes_per_block))
    rebuilt = FIELD_FORMULAS[type_name](fields).reshape(data.shape[0], -1)
    assert np.array_equal(bits(rebuilt), bits(gguf.quants.dequantize(data, GGMLQuantizationType[type_name])))


# ----------------------------------------------------------------------------- registry


@pytest.mark.parametrize("type_name", list(TYPES))
def test_registered_with_the_layout_and_the_same_bytes(type_name):
    """ggml.quantize / dequantize / fields reach the same code; the table agrees with the Layout."""
    quantize, dequantize, layout = TYPES[type_name]
    fmt = ggml.format_info(type_name)
    assert (fmt.block_size, fmt.bytes_per_block, fmt.bits_per_weight) == (
        layout.block_size,
        layout.bytes_per_block,
        layout.bits_per_weight,
    )
    x = make("laplace")[:2]
    if type_name in REQUIRED:
        with pytest.raises(ValueError, match="importance matrix"):
            ggml.quantize(x, type_name)
        data = quantize(x, imatrix=importance(ROW_LENGTH))
    else:
        data = ggml.quantize(x, type_name)
        assert np.array_equal(data, quantize(x))
    assert np.array_equal(bits(ggml.dequantize(data, type_name)), bits(dequantize(data)))
    assert all(len(v) == data.size // layout.bytes_per_block for v in ggml.fields(data, type_name).values())


@pytest.mark.parametrize(
    "type_name",
    [
        "BF16",
        "MXFP4",
        "NVFP4",
        "TQ1_0",
        "TQ2_0",
        "IQ4_XS",
        "IQ3_S",
        "IQ3_XXS",
        "IQ2_S",
        "IQ2_XS",
        "IQ2_XXS",
        "IQ1_S",
        "IQ1_M",
    ],
)
def test_ggml_quantize_routes_the_imatrix_to_the_newer_types(type_name):
    """quantlab.ggml.quantize(x, type, imatrix=v) reaches each type's own weighted search, byte for byte."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 0.02, (3, 512)).astype(np.float32)
    importance = rng.uniform(0.05, 3.0, 512).astype(np.float32)
    expected = libgguf.quantize_rows(x, GGMLQuantizationType[type_name], imatrix=importance).view(np.uint8)
    assert np.array_equal(ggml.quantize(x, type_name, imatrix=importance).ravel(), expected.ravel())
    if libgguf.quantize_requires_imatrix(GGMLQuantizationType[type_name]):
        with pytest.raises(ValueError, match="needs an importance matrix"):
            ggml.quantize(x, type_name)


def test_bf16_fast_rounding_equals_the_readable_reference():
    """Every kind of float32: random bit patterns (NaN and inf included), exact ties, sizes 1 and 2."""
    rng = np.random.default_rng(11)
    patterns = rng.integers(0, 2**32, 100_001, dtype=np.uint64).astype(np.uint32)
    ties = (rng.integers(0, 2**16, 2_000, dtype=np.uint64).astype(np.uint32) << np.uint32(16)) | np.uint32(0x8000)
    edges = np.array([0x7F7F7FFF, 0x7F7F8000, 0xFF7F8000, 0x7F800000, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 1], np.uint32)
    for bits in (patterns, ties, edges, patterns[:1], patterns[:2]):
        values = bits.view(np.float32)
        for shape in (values.shape, (1, -1), (-1, 1)):
            shaped = values.reshape(shape)
            assert np.array_equal(bf16.bf16_bits(shaped), bf16._bf16_bits_reference(shaped))


def near_tie_fits(rng, rows=300, count=200):
    """(sum_qx, sum_q2) rows built to stress first_best_fit: ties, ulp-close scores, zeros, tiny/huge, nan."""
    qx = (rng.standard_normal((rows, count)) * 10.0 ** rng.integers(-20, 20, (rows, 1))).astype(np.float32)
    q2 = ((rng.random((rows, count)) + 0.01) * 10.0 ** rng.integers(-20, 20, (rows, 1))).astype(np.float32)
    kind = np.arange(rows) % 8
    best = rng.integers(0, count, rows)
    for r in np.flatnonzero(kind == 1):  # copies of the best column, exact ties
        qx[r, rng.integers(0, count, 5)] = qx[r, best[r]]
        q2[r, rng.integers(0, count, 5)] = q2[r, best[r]]
    for r in np.flatnonzero(kind == 2):  # scores a few ulps apart around one value
        qx[r] = qx[r, 0]
        q2[r] = (q2[r, :1].view(np.int32) + rng.integers(-3, 4, count)).astype(np.int32).view(np.float32)
    for r in np.flatnonzero(kind == 3):  # scores spread within 1e-4 of each other
        qx[r] = qx[r, 0] * (1 + rng.uniform(-1e-4, 1e-4, count)).astype(np.float32)
        q2[r] = q2[r, 0]
    qx[kind == 4] = 0  # every score 0
    q2[kind == 5, ::3] = -q2[kind == 5, ::3]  # candidates that are never kept
    q2[kind == 5, 1::3] = 0
    qx[kind == 6, rng.integers(0, count)] = np.nan
    qx[kind == 7, 7] = np.float32(3e38)
    return qx, q2


def test_first_best_fit_equals_its_reference():
    """IQ1's vectorized choice among candidate splits keeps C's candidate and scale, ties and all."""
    rng = np.random.default_rng(12)
    for _ in range(3):
        qx, q2 = near_tie_fits(rng)
        start = np.abs(qx).max(axis=1)
        fast = iq1.first_best_fit(qx, q2, start)
        slow = iq1.first_best_fit_reference(qx, q2, start)
        assert np.array_equal(fast[0], slow[0])
        assert np.array_equal(bits(fast[1]), bits(slow[1]))


@pytest.mark.parametrize("name", sorted(iquants_grids._CODEBOOKS))
def test_neighbour_lists_equal_their_readable_reference(name):
    """The vectorized nearest-grid-point lists equal a stable argsort per key, on every grid (a sample of keys)."""
    book = iquants_grids.codebook(name)
    wanted = np.flatnonzero(book.neighbour_count > 0)
    sample = np.random.default_rng(3).choice(wanted, size=min(300, len(wanted)), replace=False)
    shifts = (np.arange(book.levels.shape[1]) * book.bits).astype(np.int64)
    positions = 2 * ((sample[:, None] >> shifts) & ((1 << book.bits) - 1)) + 1
    grid = 2 * book.levels.astype(np.int64) + 1
    nwant = iquants_grids._CODEBOOKS[name][3]
    fast = iquants_grids.nearest_grid_points(positions, grid, nwant, chunk=64)
    slow = iquants_grids.nearest_grid_points_reference(positions, grid, nwant)
    assert np.array_equal(fast, slow)


@pytest.mark.parametrize("type_name", IQUANTS)
def test_weights_beyond_the_codebook_bound_are_refused_and_weights_at_it_match(type_name):
    quantize = TYPES[type_name][0]
    bound = np.float32(rowwise.CODEBOOK_MAX_ABS)
    x = make("gaussian")[:2]
    x = (x / np.abs(x).max() * bound).astype(np.float32)  # |w| reaches the bound exactly
    weights = default_imatrix(type_name, x.shape[1])
    expected = (
        libgguf.quantize_rows(x, GGMLQuantizationType[type_name], imatrix=weights).view(np.uint8).reshape(len(x), -1)
    )
    assert np.array_equal(quantize(x, imatrix=weights), expected)
    x[0, 3] = np.nextafter(bound, np.float32(np.inf))
    with pytest.raises(ValueError, match="overflow"):
        quantize(x, imatrix=weights)
    with pytest.raises(ValueError, match="overflow"):
        ggml.quantize(-x, type_name, imatrix=weights)


@pytest.mark.parametrize("name", GRIDS)
def test_search_tables_hold_one_row_per_off_grid_key(name):
    book = iquants_grids.codebook(name)
    row_of_key, padded, offsets, _ = iquants._neighbour_offsets(name)
    off_grid = np.flatnonzero(book.neighbour_count > 0)
    assert len(padded) == len(offsets) == len(off_grid)  # not one row per lattice key (2^16 for IQ2 and IQ1)
    assert np.array_equal(row_of_key[off_grid], np.arange(len(off_grid)))
    assert (np.delete(row_of_key, off_grid) == -1).all()
    on_grid = np.flatnonzero(book.index_of_key >= 0)[:1]
    ones = np.ones((1, book.dim), np.float32), np.ones((1, book.dim), np.float32), np.ones(1, np.float32)
    with pytest.raises(ValueError, match="off-grid"):
        iquants.best_neighbour(book, on_grid, *ones)
    with pytest.raises(ValueError, match="off-grid"):
        iquants.best_neighbour_bounded(book, on_grid, *ones, np.zeros(1, np.int64))
