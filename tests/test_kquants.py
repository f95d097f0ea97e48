"""K-quants Q2_K..Q6_K against llama.cpp itself.

Oracles, both independent of quantlab: bytes must equal libgguf's build of llama.cpp's reference
quantizers (quantize_row_q*_K_ref), and values decoded from those bytes must equal gguf-py's
dequantizers bit for bit.
"""

import functools
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import libgguf  # noqa: E402
import gguf.quants as gguf_quants  # noqa: E402
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType  # noqa: E402

from quantlab.ggml import kquants  # noqa: E402
from quantlab.ggml.fp16 import sum_in_order  # noqa: E402
from quantlab.ggml.kquants_search import nearest_int  # noqa: E402

TYPES = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def _battery():
    """Named float32 arrays (n_blocks, 256), seeded: the cases the issue asks for and then some."""
    rng = np.random.default_rng(20240603)
    gaussian = rng.standard_normal((400, 256))
    outliers = rng.standard_normal((200, 256))
    outliers[np.arange(200), rng.integers(0, 256, 200)] *= 100
    # Sub-blocks whose magnitudes differ by up to 1e8 inside one block: small sub-block scales
    # round to 0, and C then keeps the codes of the search (its `if (!d) continue`).
    mixed16 = rng.standard_normal((300, 16, 16)) * 10.0 ** rng.integers(-8, 3, (300, 16, 1))
    mixed32 = rng.standard_normal((300, 8, 32)) * 10.0 ** rng.integers(-8, 3, (300, 8, 1))
    zero_runs = rng.standard_normal((100, 256))
    zero_runs[:, :32] = 0  # one all-zero sub-block of 32, two of 16
    zero_runs[:, 96:112] = 0
    single = np.zeros((50, 256))
    single[np.arange(50), rng.integers(0, 256, 50)] = rng.standard_normal(50) * 10
    cases = {
        "gaussian": gaussian,
        "student_t3": rng.standard_t(3, (400, 256)),
        "laplace": rng.laplace(size=(200, 256)),
        "outliers": outliers,
        "all_zero": np.zeros((4, 256)),
        "constant_positive": np.full((3, 256), 0.7),
        "constant_negative": np.full((3, 256), -2.5),
        "tiny_1e-30": rng.standard_normal((30, 256)) * 1e-30,
        "large_1e4": rng.standard_normal((30, 256)) * 1e4,
        "subnormal": rng.standard_normal((30, 256)) * 1e-40,
        "subnormal_mix": rng.standard_normal((30, 256)) * 10.0 ** rng.integers(-45, -36, (30, 256)),
        "smallest_subnormals": rng.choice([0.0, 1.4e-45, -1.4e-45, 2.8e-45], (30, 256)),
        "huge_1e30": rng.standard_normal((20, 256)) * 1e30,
        "near_float32_max": rng.uniform(-3.4e38, 3.4e38, (20, 256)),
        "positive_only": np.abs(rng.standard_normal((100, 256))) + 3,
        "negative_only": -np.abs(rng.standard_normal((100, 256))),
        "plus_minus_ties": rng.choice([-3.0, 3.0], (50, 256)),  # largest |x| tied, both signs
        "small_integers": rng.integers(-4, 5, (300, 256)),  # exact ties in every rounding
        "half_integers": rng.integers(-16, 17, (200, 256)) / 2,
        "mixed_sub_blocks_16": mixed16.reshape(300, 256),
        "mixed_sub_blocks_32": mixed32.reshape(300, 256),
        "zero_sub_blocks": zero_runs,
        "single_nonzero": single,
        "random_scales": rng.standard_normal((4000, 256)) * np.exp(rng.uniform(-20, 20, (4000, 1))),
    }
    return {name: x.astype(np.float32) for name, x in cases.items()}


BATTERY = _battery()


def _quantize(type_name, x):
    return getattr(kquants, "quantize_" + type_name.lower())(x)


def _dequantize(type_name, data):
    return getattr(kquants, "dequantize_" + type_name.lower())(data)


def _qtype(type_name):
    return GGMLQuantizationType[type_name]


def _assert_same_bytes(type_name, x):
    ours = _quantize(type_name, x)
    reference = libgguf.quantize_rows(x, _qtype(type_name))
    differs = np.flatnonzero((ours != reference).any(axis=1))
    if differs.size:
        block = differs[0]
        where = np.flatnonzero(ours[block] != reference[block])
        pytest.fail(
            f"{type_name}: {differs.size}/{len(x)} blocks differ from llama.cpp; first is block "
            f"{block}, bytes {where[:12].tolist()}: ours {ours[block, where[:12]].tolist()} vs "
            f"llama.cpp {reference[block, where[:12]].tolist()}"
        )


@pytest.mark.parametrize("case", list(BATTERY))
@pytest.mark.parametrize("type_name", TYPES)
def test_bytes_equal_llama_cpp_reference_quantizer(type_name, case):
    _assert_same_bytes(type_name, BATTERY[case])


@pytest.mark.parametrize("case", list(BATTERY))
@pytest.mark.parametrize("type_name", TYPES)
def test_dequantize_equals_gguf_bit_for_bit(type_name, case):
    data = libgguf.quantize_rows(BATTERY[case], _qtype(type_name))
    ours = _dequantize(type_name, data)
    with np.errstate(all="ignore"):
        reference = gguf_quants.dequantize(data, _qtype(type_name)).reshape(ours.shape)
    assert ours.dtype == np.float32
    assert np.array_equal(ours.view(np.uint32), reference.view(np.uint32))  # -0.0 and NaN too


@pytest.mark.parametrize("type_name", TYPES)
def test_bytes_per_block_match_gguf_constants(type_name):
    block_size, type_size = GGML_QUANT_SIZES[_qtype(type_name)]
    assert block_size == kquants.BLOCK_SIZE
    assert type_size == kquants.BYTES_PER_BLOCK[type_name]
    x = BATTERY["gaussian"][:3]
    assert _quantize(type_name, x).shape == (3, type_size)


FIELD_RANGES = {  # field: (lowest, highest) allowed by its bit width
    "Q2_K": {"scales": (0, 15), "mins": (0, 15), "codes": (0, 3)},
    "Q3_K": {"scales": (-32, 31), "codes": (0, 7)},
    "Q4_K": {"scales": (0, 63), "mins": (0, 63), "codes": (0, 15)},
    "Q5_K": {"scales": (0, 63), "mins": (0, 63), "codes": (0, 31)},
    "Q6_K": {"scales": (-128, 127), "codes": (0, 63)},
}
CODE_OFFSET = {"Q2_K": 0, "Q3_K": 4, "Q4_K": 0, "Q5_K": 0, "Q6_K": 32}


@pytest.mark.parametrize("type_name", TYPES)
def test_fields_rebuild_the_values_gguf_decodes(type_name):
    """The teaching view is right if the format's formula, applied to it, gives gguf's values."""
    data = libgguf.quantize_rows(BATTERY["student_t3"], _qtype(type_name))
    f = getattr(kquants, "fields_" + type_name.lower())(data)
    n_sub = f["scales"].shape[1]
    for key, (lowest, highest) in FIELD_RANGES[type_name].items():
        assert f[key].min() >= lowest and f[key].max() <= highest, key
    assert f["codes"].shape == (len(data), 256)
    step = f["d"][:, None] * f["scales"].astype(np.float32)
    codes = f["codes"].reshape(len(data), n_sub, -1).astype(np.float32) - CODE_OFFSET[type_name]
    values = step[..., None] * codes
    if "mins" in f:
        values = values - (f["dmin"][:, None] * f["mins"].astype(np.float32))[..., None]
    reference = gguf_quants.dequantize(data, _qtype(type_name)).reshape(len(data), 256)
    assert np.array_equal(values.reshape(len(data), 256), reference)


@pytest.mark.parametrize("type_name", TYPES)
def test_zero_blocks_give_zero_bytes_and_back(type_name):
    data = _quantize(type_name, np.zeros((0, 256), dtype=np.float32))
    assert data.shape == (0, kquants.BYTES_PER_BLOCK[type_name]) and data.dtype == np.uint8
    assert _dequantize(type_name, data).shape == (0, 256)


# --- the two rounding primitives, against independent definitions --------------------------


def test_nearest_int_rounds_ties_to_even_in_range():
    values = np.array(
        [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 3.4999998, 4194302.5, -4194302.5, 7.25, -7.75, 0.0, -0.0],
        dtype=np.float32,
    )
    expected = [round(float(v)) for v in values]  # Python's round() is ties-to-even, exact
    assert nearest_int(values).tolist() == expected


def test_nearest_int_reproduces_c_bit_trick_out_of_range():
    """C: bits(float(v + 12582912)) & 0x7fffff - 0x400000, computed here with struct."""
    values = [5e6, -5e6, 1e10, -1e10, 3e38, float("inf"), float("-inf"), 16777216.0]

    def c_nearest_int(v):
        total = struct.unpack("<f", struct.pack("<f", v + 12582912.0))[0] if np.isfinite(v) else v
        bits = struct.unpack("<i", struct.pack("<f", total))[0]
        return (bits & 0x007FFFFF) - 0x00400000

    assert nearest_int(np.array(values, dtype=np.float32)).tolist() == [c_nearest_int(v) for v in values]
    assert nearest_int(np.array([np.nan], dtype=np.float32)).tolist() == [0]  # quiet NaN: 0x400000


@pytest.mark.parametrize("shape, axis", [((16, 1), 0), ((16, 2), 0), ((32, 7), 0), ((5, 16, 9), 1), ((16, 3), 1)])
def test_sum_in_order_adds_left_to_right_in_float32(shape, axis):
    rng = np.random.default_rng(1)
    # Mixed magnitudes make every summation order round differently.
    terms = (rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 8, shape)).astype(np.float32)
    moved = np.moveaxis(terms, axis, 0)
    expected = np.empty(moved.shape[1:], dtype=np.float32)
    for index in np.ndindex(expected.shape):
        column = [moved[(i,) + index] for i in range(moved.shape[0])]
        expected[index] = functools.reduce(lambda s, t: np.float32(s + t), column, np.float32(0))
    assert np.array_equal(sum_in_order(terms, axis=axis), expected)


@pytest.mark.parametrize("shape", [(16, 1), (16, 3)])
def test_sum_in_order_signs_an_all_negative_zero_sum_like_c(shape):
    terms = np.full(shape, -0.0, dtype=np.float32)
    assert not np.signbit(sum_in_order(terms)).any()  # s = 0; s += -0.0 -> +0.0
    assert np.signbit(sum_in_order(terms, start_at_zero=False)).all()  # s = t[0] stays -0.0


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(TYPES),
    hnp.arrays(np.int8, (2, 256), elements=st.integers(-8, 8)),
    st.sampled_from([1.0, 0.5, 0.1, 3.0, 1e-3, 1e5, 2.0**-20]),
)
def test_small_integer_inputs_match_llama_cpp(type_name, integers, unit):
    """Inputs on a coarse integer grid provoke exact ties in every rounding and comparison."""
    x = integers.astype(np.float32) * np.float32(unit)
    _assert_same_bytes(type_name, x)


# Sanity bounds on max |error| / max |x| of a block: 2-4x the worst seen on varied data.
# A packing or ordering bug moves codes to the wrong weights and breaks them. The block holds
# one weight of magnitude 1, so the fp16 super-block scales are normal numbers (below about
# 1e-4 they become subnormal or 0, and precision is lost by design).
ERROR_BOUND = {"Q2_K": 1.0, "Q3_K": 0.6, "Q4_K": 0.25, "Q5_K": 0.125, "Q6_K": 0.05}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(TYPES),
    hnp.arrays(np.float32, (1, 256), elements=st.floats(-1, 1, width=32, allow_subnormal=False)),
    st.integers(0, 255),
    st.sampled_from([-1.0, 1.0]),
)
def test_reconstruction_error_is_bounded_by_block_magnitude(type_name, x, where, sign):
    x[0, where] = sign
    error = np.abs(_dequantize(type_name, _quantize(type_name, x)) - x).max()
    assert error <= ERROR_BOUND[type_name] * np.abs(x).max()


# --- bad input ---------------------------------------------------------------------------------


def test_quantize_rejects_wrong_dtype_and_shape_with_a_fix():
    with pytest.raises(TypeError, match="float32"):
        kquants.quantize_q4_k(np.zeros((1, 256)))
    with pytest.raises(ValueError, match=r"\(n_blocks, 256\)"):
        kquants.quantize_q4_k(np.zeros((2, 128), dtype=np.float32))


def test_dequantize_rejects_a_buffer_of_the_wrong_size():
    with pytest.raises(ValueError, match="144"):
        kquants.dequantize_q4_k(np.zeros((1, 143), dtype=np.uint8))


# --- the sub-block searches against literal one-float-at-a-time loops ------------------------
# make_q3_quants (Q3_K) and make_qx_quants (Q6_K) written as plain loops over numpy float32
# scalars, one C operation at a time, in C's order: an independent reference for the vectorized
# searches, down to their sub-block scales and codes (the byte tests see only what survives).


def _c_nearest_int(value):
    """llama.cpp's nearest_int on a float32 scalar: the low mantissa bits of value + 1.5 * 2**23."""
    total = struct.unpack("<f", struct.pack("<f", float(value) + 12582912.0))[0] if np.isfinite(value) else float(value)
    return (struct.unpack("<i", struct.pack("<f", total))[0] & 0x007FFFFF) - 0x00400000


def _largest_magnitude_loop(x):
    amax, peak = np.float32(0), np.float32(0)
    for v in x:
        if abs(v) > amax:
            amax, peak = abs(v), v
    return amax, peak


def _make_q3_quants_loop(x, nmax=4, passes=5):
    f = np.float32
    amax, peak = _largest_magnitude_loop(x)
    if amax < f(1e-15):
        return f(0), [0] * len(x)
    iscale = f(-nmax) / peak
    codes = [max(-nmax, min(nmax - 1, _c_nearest_int(iscale * v))) for v in x]
    sum_lx, sum_l2 = f(0), f(0)
    for v, code in zip(x, codes):
        w = v * v
        sum_lx += w * v * f(code)
        sum_l2 += w * f(code) * f(code)
    for _ in range(passes):
        changed = 0
        for i, v in enumerate(x):
            w = v * v
            slx = sum_lx - w * v * f(codes[i])
            if slx > 0:
                sl2 = sum_l2 - w * f(codes[i]) * f(codes[i])
                new = max(-nmax, min(nmax - 1, _c_nearest_int(v * sl2 / slx)))
                if new != codes[i]:
                    slx += w * v * f(new)
                    sl2 += w * f(new) * f(new)
                    if sl2 > 0 and slx * slx * sum_l2 > sum_lx * sum_lx * sl2:
                        codes[i], sum_lx, sum_l2 = new, slx, sl2
                        changed += 1
        if not changed:
            break
    return (sum_lx / sum_l2 if sum_l2 > 0 else f(0)), [code + nmax for code in codes]


def _make_qx_quants_loop(x, nmax=32):
    f = np.float32
    amax, peak = _largest_magnitude_loop(x)
    if amax < f(1e-15):
        return f(0), [0] * len(x)

    def fit(iscale):
        codes = [max(-nmax, min(nmax - 1, _c_nearest_int(iscale * v))) for v in x]
        sum_lx, sum_l2 = f(0), f(0)
        for v, code in zip(x, codes):
            w = v * v
            sum_lx += w * v * f(code)
            sum_l2 += w * f(code) * f(code)
        return codes, sum_lx, sum_l2

    iscale = f(-nmax) / peak
    codes, sum_lx, sum_l2 = fit(iscale)
    scale = sum_lx / sum_l2 if sum_l2 else f(0)
    best = scale * sum_lx
    for k in [k for k in range(-9, 10) if k != 0]:
        iscale = -(f(nmax) + f(0.1) * f(k)) / peak
        these, sum_lx, sum_l2 = fit(iscale)
        if sum_l2 > 0 and sum_lx * sum_lx > best * sum_l2:
            codes, scale = these, sum_lx / sum_l2
            best = scale * sum_lx
    return scale, [code + nmax for code in codes]


def _search_cases():
    """Sub-blocks of 16 (float32): gaussian with the largest |x| negative (so Q3_K's codes move,
    often over several sweeps), heavy-tailed, exact ties, an outlier, zeros, tiny and huge."""
    rng = np.random.default_rng(99)
    gaussian = rng.standard_normal((300, 16))
    negative_peak = gaussian * -np.sign(gaussian[np.arange(300), np.abs(gaussian).argmax(1)])[:, None]
    outlier = rng.standard_normal((20, 16)) * 0.01
    outlier[:, 3] = -1
    cases = [
        negative_peak,
        rng.standard_t(2, (100, 16)),
        rng.integers(-4, 5, (100, 16)),
        rng.integers(-16, 17, (50, 16)) / 2,
        outlier,
        np.zeros((3, 16)),
        rng.standard_normal((10, 16)) * 1e-20,
        rng.standard_normal((10, 16)) * 1e20,
    ]
    return np.concatenate(cases).astype(np.float32)


SEARCH_CASES = _search_cases()


@np.errstate(all="ignore")
def test_q3_k_search_equals_a_literal_loop_of_make_q3_quants():
    from quantlab.ggml.kquants_search import fit_signed_scale_3bit, search_signed_scale_3bit

    expected = [_make_q3_quants_loop(x) for x in SEARCH_CASES]
    scale, codes = fit_signed_scale_3bit(SEARCH_CASES)
    assert np.array_equal(scale.view(np.uint32), np.array([s for s, _ in expected]).view(np.uint32))
    assert codes.tolist() == [c for _, c in expected]
    # Small slices: the grid fit and the first sweep per slice, then the rest over all slices.
    sliced, l_codes = search_signed_scale_3bit(SEARCH_CASES, slice_size=37)
    assert np.array_equal(sliced.view(np.uint32), scale.view(np.uint32))
    assert np.array_equal(l_codes + 4, codes)
    # One slice (the default size), as quantize_q3_k runs it.
    whole, w_codes = search_signed_scale_3bit(SEARCH_CASES)
    assert np.array_equal(whole.view(np.uint32), scale.view(np.uint32)) and np.array_equal(w_codes + 4, codes)
    one, one_codes = fit_signed_scale_3bit(SEARCH_CASES[7])  # a single sub-block
    assert one.tobytes() == scale[7].tobytes() and one_codes.tolist() == expected[7][1]
    # Fewer sweeps allowed: some sub-blocks here are still changing after 2 (stop as C stops).
    two = [_make_q3_quants_loop(x, passes=2) for x in SEARCH_CASES]
    assert two != expected
    scale, codes = fit_signed_scale_3bit(SEARCH_CASES, passes=2)
    assert np.array_equal(scale.view(np.uint32), np.array([s for s, _ in two]).view(np.uint32))
    assert codes.tolist() == [c for _, c in two]


@np.errstate(all="ignore")
def test_q6_k_search_equals_a_literal_loop_of_make_qx_quants():
    from quantlab.ggml.kquants_search import fit_signed_scale

    expected = [_make_qx_quants_loop(x) for x in SEARCH_CASES]
    scale, codes = fit_signed_scale(SEARCH_CASES, nmax=32)
    assert np.array_equal(scale.view(np.uint32), np.array([s for s, _ in expected]).view(np.uint32))
    assert codes.tolist() == [c for _, c in expected]
    one, one_codes = fit_signed_scale(SEARCH_CASES[7], nmax=32)  # a single sub-block
    assert one.tobytes() == scale[7].tobytes() and one_codes.tolist() == expected[7][1]


def test_sum_in_order_writes_into_out():
    terms = np.random.default_rng(2).standard_normal((16, 5)).astype(np.float32)
    for start_at_zero in (True, False):
        out = np.empty(5, dtype=np.float32)
        assert sum_in_order(terms, start_at_zero=start_at_zero, out=out) is out
        assert np.array_equal(out, sum_in_order(terms, start_at_zero=start_at_zero))


def test_q6_k_fast_code_unpacking_equals_the_readable_reference():
    rng = np.random.default_rng(3)
    cases = [rng.integers(0, 256, (n, 210), dtype=np.uint8) for n in (1, 2, 37)]
    cases += [np.zeros((3, 210), np.uint8), np.full((3, 210), 255, np.uint8)]
    for data in cases:
        fast = kquants._unpack_q6_k_codes(data[:, :128], data[:, 128:192])
        assert fast.dtype == np.uint8 and fast.shape == (len(data), 256)
        assert np.array_equal(fast, kquants._unpack_q6_k_codes_reference(data[:, :128], data[:, 128:192]))
