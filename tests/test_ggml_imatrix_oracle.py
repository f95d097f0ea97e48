"""quantlab.ggml.quantize(x, type, imatrix=v) against llama.cpp: bytes equal to libgguf's, bit for bit.

libgguf.quantize_rows(x, type, imatrix=v) runs llama.cpp's quantize_<type> with quant_weights = v,
the code path of `llama-quantize --imatrix`. Same edge-case battery as test_ggml_oracle.py, crossed
with several importance matrices (positive, with zeros, all zero, huge dynamic range), plus
hypothesis. The oracle is imported plainly: these tests fail, not skip, without it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import libgguf
from gguf import GGMLQuantizationType
from test_ggml_oracle import CASES, ROW_LENGTH, make_case

import quantlab.ggml as ggml

TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

IMATRICES = {
    "gamma": lambda rng: rng.gamma(0.5, 1.0, ROW_LENGTH),  # positive, heavy-tailed
    "with_zeros": lambda rng: np.where(rng.random(ROW_LENGTH) < 0.3, 0.0, rng.gamma(1.0, 2.0, ROW_LENGTH)),
    "all_zero": lambda rng: np.zeros(ROW_LENGTH),
    "dynamic_range": lambda rng: 10.0 ** rng.uniform(-8, 6, ROW_LENGTH),
}


def make_imatrix(name):
    rng = np.random.default_rng(100 + sorted(IMATRICES).index(name))
    return np.asarray(IMATRICES[name](rng), dtype=np.float32)


def assert_same_bytes(x, type_name, imatrix):
    expected = libgguf.quantize_rows(x, GGMLQuantizationType[type_name], imatrix=imatrix)
    ours = ggml.quantize(x, type_name, imatrix=imatrix)
    assert ours.dtype == np.uint8 and ours.shape == expected.shape
    size = ggml.format_info(type_name).bytes_per_block
    wrong = np.flatnonzero((ours != expected).reshape(-1, size).any(axis=1))
    assert len(wrong) == 0, f"{type_name}: {len(wrong)} blocks differ from llama.cpp, first {wrong[:5]}"


@pytest.mark.parametrize("imatrix_name", ["gamma", "with_zeros"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("type_name", TYPES)
def test_bytes_equal_llama_cpp_with_imatrix(type_name, case, imatrix_name):
    assert_same_bytes(make_case(case), type_name, make_imatrix(imatrix_name))


@pytest.mark.parametrize("imatrix_name", ["all_zero", "dynamic_range"])
@pytest.mark.parametrize("case", ["gaussian", "outliers", "ties", "mixed_blocks", "subnormal"])
@pytest.mark.parametrize("type_name", TYPES)
def test_bytes_equal_llama_cpp_degenerate_imatrix(type_name, case, imatrix_name):
    assert_same_bytes(make_case(case), type_name, make_imatrix(imatrix_name))


@pytest.mark.parametrize("type_name", TYPES)
def test_bytes_equal_llama_cpp_over_many_slices(type_name):
    """Wide rows (several work slices of 65,536 weights each), rows of very different scales."""
    rng = np.random.default_rng(11)
    x = (rng.laplace(size=(6, 32768)) * 10.0 ** rng.integers(-3, 3, (6, 1))).astype(np.float32)
    assert_same_bytes(x, type_name, rng.gamma(0.7, 1.0, 32768).astype(np.float32))


@pytest.mark.parametrize(
    "type_name", ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
)
def test_imatrix_changes_the_result(type_name):
    """Every type but Q8_0 reads the importance matrix (else the tests above prove little)."""
    x = make_case("gaussian")
    assert not np.array_equal(ggml.quantize(x, type_name), ggml.quantize(x, type_name, imatrix=make_imatrix("gamma")))


def test_q8_0_ignores_the_imatrix():
    x = make_case("laplace")
    assert np.array_equal(ggml.quantize(x, "Q8_0", imatrix=make_imatrix("gamma")), ggml.quantize(x, "Q8_0"))


def test_legacy_weights_depend_on_the_whole_row():
    """sigma2 is the mean x^2 of the row: the same block quantizes differently beside other blocks."""
    x = make_case("gaussian")[:1]
    v = make_imatrix("gamma")
    louder = x.copy()
    louder[:, 32:] *= 50  # block 0 unchanged
    first = [ggml.quantize(a, "Q4_0", imatrix=v)[:, :18] for a in (x, louder)]
    assert not np.array_equal(*first)
    assert_same_bytes(louder, "Q4_0", v)


@settings(max_examples=40, deadline=None)
@given(type_name=st.sampled_from(TYPES), n_rows=st.integers(1, 3), n_blocks=st.integers(1, 2), data=st.data())
def test_hypothesis_bytes_equal_llama_cpp(type_name, n_rows, n_blocks, data):
    length = 256 * n_blocks
    floats = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    x = data.draw(hnp.arrays(np.float32, (n_rows, length), elements=floats))
    v = data.draw(hnp.arrays(np.float32, (length,), elements=st.floats(0, 1e4, width=32)))
    assert_same_bytes(x, type_name, v)


# ----------------------------------------------------------------------------- bad input


def test_imatrix_of_wrong_length_is_refused():
    x = make_case("gaussian")
    with pytest.raises(ValueError, match=r"one entry per column.*\(1024,\)"):
        ggml.quantize(x, "Q4_K", imatrix=np.ones(512))
    with pytest.raises(ValueError, match="one entry per column"):
        ggml.quantize(x, "Q4_K", imatrix=np.ones((8, 1024)))


@pytest.mark.parametrize(
    "bad, message", [(-1.0, "negative"), (np.nan, "nan"), (np.inf, "inf"), (1e39, "float32's range")]
)
@pytest.mark.parametrize("type_name", ["Q4_0", "Q8_0", "Q4_K"])
def test_bad_imatrix_entries_are_refused(type_name, bad, message):
    v = np.ones(ROW_LENGTH)
    v[7] = bad
    with pytest.raises(ValueError, match=message):
        ggml.quantize(make_case("gaussian"), type_name, imatrix=v)


def test_imatrix_must_be_numbers():
    with pytest.raises(TypeError, match="imatrix"):
        ggml.quantize(make_case("gaussian"), "Q4_0", imatrix=np.array(["a"] * ROW_LENGTH))


@pytest.mark.parametrize("type_name", ["Q4_1", "Q3_K"])
def test_one_dimensional_x_with_imatrix(type_name):
    x = make_case("laplace")[0]
    v = make_imatrix("gamma")
    ours = ggml.quantize(x, type_name, imatrix=v)
    assert ours.ndim == 1
    assert np.array_equal(ours, libgguf.quantize_rows(x[None, :], GGMLQuantizationType[type_name], imatrix=v)[0])
