"""quantlab.ggml vs llama.cpp on inputs hypothesis makes up: odd values, ties, zeros of both signs."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import quantlab.ggml as ggml

import gguf  # noqa: E402  (an oracle: in the test extra, so a missing one fails)
import libgguf  # noqa: E402
from gguf import GGMLQuantizationType  # noqa: E402

SMALL_BLOCKS = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL"]
K_QUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def exactly_float32(*values):
    """The float32 nearest each value, as a Python float: hypothesis refuses an element the array would change."""
    return [float(np.float32(v)) for v in values]


# Subnormals come only from these fixed lists, never from floats(): whether floats() may draw them
# depends on how numpy was compiled (flush-to-zero builds), and the examples must not.
SUBNORMALS = exactly_float32(1e-45, -1e-45, -1e-40, 1e-38)  # float32 normals start at 1.18e-38
# Values that stress rounding: signed zeros, subnormals, exact halves, powers of two, and anything.
SPECIAL = st.sampled_from(exactly_float32(0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 8.0, -8.0, 127.0, 0.49999997) + SUBNORMALS)


def float32s(low=None, high=None, **options):
    """float32 elements in [low, high] without subnormals, whatever numpy's build (SUBNORMALS adds them)."""
    return st.floats(low, high, width=32, allow_subnormal=False, **options)


def weights(block_size, max_blocks, magnitude):
    """float32 arrays of whole blocks, values within +-magnitude plus SPECIAL ones."""
    anything = float32s(-magnitude, magnitude, allow_nan=False, allow_infinity=False)
    scaled_integers = st.integers(-40, 40).map(lambda k: k * 0.25)
    elements = st.one_of(anything, SPECIAL, scaled_integers)
    return st.integers(1, max_blocks).flatmap(lambda n: hnp.arrays(np.float32, n * block_size, elements=elements))


def check_bytes(x, type_name):
    expected = libgguf.quantize_rows(x, GGMLQuantizationType[type_name])
    ours = ggml.quantize(x, type_name)
    assert np.array_equal(ours, expected), f"{type_name}: {x.tolist()}"


@pytest.mark.parametrize("type_name", SMALL_BLOCKS)
@settings(max_examples=80, deadline=None)
@given(x=weights(32, 4, magnitude=float(np.finfo(np.float32).max)))
def test_small_block_bytes_equal_llama_cpp_anywhere_in_float32(type_name, x):
    """The whole finite float32 range: overflowing max - min, inf fp16 scales, subnormal scales."""
    with np.errstate(over="ignore", invalid="ignore"):
        check_bytes(x, type_name)


@pytest.mark.parametrize("type_name", K_QUANTS)
@settings(max_examples=25, deadline=None)
@given(x=weights(256, 2, magnitude=1e6))
def test_k_quant_bytes_equal_llama_cpp(type_name, x):
    """Moderate magnitudes: llama.cpp's nearest_int asserts |x| < 2^22 after scaling."""
    check_bytes(x, type_name)


@pytest.mark.parametrize("type_name", SMALL_BLOCKS + K_QUANTS)
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_blocks=st.integers(1, 8))
def test_any_bytes_dequantize_like_gguf_py(type_name, seed, n_blocks):
    size = n_blocks * ggml.format_info(type_name).bytes_per_block
    data = np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = gguf.quants.dequantize(data, GGMLQuantizationType[type_name])
        ours = ggml.dequantize(data, type_name)
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(ours), nan)
    assert np.array_equal(ours[~nan].view(np.uint32), expected[~nan].view(np.uint32))


def best_index_brute_force(v):
    """llama.cpp's best_index_int8, written out plainly: ends, bracketing pair, float32 distances."""
    levels = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
    v = np.float32(v)
    if v <= levels[0]:
        return 0
    if v >= levels[-1]:
        return 15
    if np.isnan(v):
        return 15  # every comparison is false: the binary search ends at the top pair, picks the upper
    upper = next(k for k, level in enumerate(levels) if v < level)
    return upper - 1 if v - np.float32(levels[upper - 1]) < np.float32(levels[upper]) - v else upper


@settings(max_examples=300, deadline=None)
@given(
    values=hnp.arrays(
        np.float32,
        st.integers(1, 64),
        elements=st.one_of(
            float32s(-300, 300), st.sampled_from([np.nan, -4.5, 7.0, -16.0, 101.0, -116.0] + SUBNORMALS)
        ),
    )
)
def test_iq4_nl_nearest_level_matches_best_index_int8(values):
    from quantlab.ggml.iq4_nl import nearest_level

    assert nearest_level(values).tolist() == [best_index_brute_force(v) for v in values]


# ----------------------------------------------------------------------------- fp16.py helpers

FLOAT32 = hnp.arrays(
    np.float32,
    st.integers(1, 64),
    elements=st.one_of(float32s(allow_nan=False, allow_infinity=False), st.sampled_from(SUBNORMALS)),
)


@settings(max_examples=200, deadline=None)
@given(values=FLOAT32)
def test_fp16_bytes_match_struct(values):
    """IEEE half, round to nearest even, little-endian: Python's struct 'e' format is the reference."""
    import struct

    from quantlab.ggml.fp16 import fp16_from_bytes, fp16_to_bytes

    expected = []
    for v in values.tolist():
        try:
            expected.append(struct.pack("<e", v))
        except OverflowError:  # struct refuses what rounds to inf; GGML stores inf
            expected.append(struct.pack("<e", np.copysign(np.inf, v)))
    assert fp16_to_bytes(values).tobytes() == b"".join(expected)
    assert np.array_equal(
        fp16_from_bytes(fp16_to_bytes(values)),
        np.array([struct.unpack("<e", e)[0] for e in expected], dtype=np.float32),
    )


@settings(max_examples=200, deadline=None)
@given(
    values=hnp.arrays(
        np.float32,
        st.integers(1, 64),
        elements=st.one_of(
            float32s(-1e7, 1e7),
            st.sampled_from(exactly_float32(0.5, -0.5, 2.5, -2.5, 0.49999997, -0.49999997) + SUBNORMALS),
        ),
    )
)
def test_rounding_rules(values):
    """roundf and nearest_int, against float64 arithmetic where x + 0.5 is exact."""
    from quantlab.ggml.fp16 import round_half_away_from_zero, round_half_to_even

    wide = values.astype(np.float64)
    assert np.array_equal(round_half_away_from_zero(values), np.trunc(wide + np.copysign(0.5, wide)))
    assert np.array_equal(round_half_to_even(values), np.round(wide))  # np.round on float64: ties to even


@settings(max_examples=100, deadline=None)
@given(values=FLOAT32.filter(lambda v: np.all(np.abs(v) < 1e30)))
def test_sum_in_order_is_a_left_to_right_float32_loop(values):
    from quantlab.ggml.fp16 import sum_in_order

    total = np.float32(0)
    for v in values:
        total = np.float32(total + v)
    assert sum_in_order(values[None, :], axis=1)[0].view(np.uint32) == total.view(np.uint32)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 20))
def test_packing_layouts(seed, n):
    """Nibbles: byte j = code j | code j+16 << 4; bits: bit k of byte j = value 8j + k."""
    from quantlab.ggml.fp16 import pack_bits, pack_fields, pack_halves, unpack_bits, unpack_fields, unpack_halves

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 16, size=(n, 32), dtype=np.uint8)
    packed = pack_halves(codes)
    assert packed.shape == (n, 16)
    assert [int(b) for b in packed[0]] == [int(codes[0, j]) + 16 * int(codes[0, j + 16]) for j in range(16)]
    assert np.array_equal(unpack_halves(packed), codes)
    assert np.array_equal(pack_fields(codes.reshape(n, 2, 16), 4), packed)
    crumbs = rng.integers(0, 4, size=(n, 4, 8), dtype=np.uint8)
    assert np.array_equal(unpack_fields(pack_fields(crumbs, 2), 2), crumbs)
    bits = rng.integers(0, 2, size=(n, 32), dtype=np.uint8)
    word = int.from_bytes(pack_bits(bits)[0].tobytes(), "little")
    assert [(word >> i) & 1 for i in range(32)] == bits[0].tolist()
    assert np.array_equal(unpack_bits(pack_bits(bits)), bits)


def test_the_injected_subnormals_are_exact_float32_subnormals():
    """The fixed list is what puts subnormals in the examples: each must be one, stored without change."""
    tiny = float(np.finfo(np.float32).tiny)
    assert all(0 < abs(v) < tiny and float(np.float32(v)) == v for v in SUBNORMALS)
    assert {np.sign(v) for v in SUBNORMALS} == {-1.0, 1.0}


@settings(max_examples=100, deadline=None)
@given(x=weights(32, 6, magnitude=float(np.finfo(np.float32).max)))
def test_legacy_block_extremes_on_integer_bits_equal_the_readable_references(x):
    """Max, min, max |x| and the first signed max |x| per block, from integer trees over the bits."""
    from quantlab.ggml import legacy

    blocks = x.reshape(-1, 32)
    assert legacy._signed_absmax(blocks).tobytes() == legacy._signed_absmax_reference(blocks).tobytes()
    high, low = legacy._max_and_min(blocks)
    expected_high, expected_low = legacy._max_and_min_reference(blocks)
    assert np.array_equal(high, expected_high) and np.array_equal(low, expected_low)
    assert np.array_equal(legacy._absmax(blocks), np.abs(blocks).max(axis=1))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 20))
def test_fifth_bits_of_q5_codes_equal_the_readable_reference(seed, n):
    from quantlab.ggml import legacy

    codes = np.random.default_rng(seed).integers(0, 33, (n, 32), dtype=np.uint8)  # Q5_1 may reach 32
    assert np.array_equal(legacy._fifth_bits(codes), legacy._fifth_bits_reference(codes))
