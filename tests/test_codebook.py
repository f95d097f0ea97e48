"""Non-uniform grids (quantlab.codebook) checked against scipy, brute force, published tables and llama.cpp's gguf."""

import warnings

import gguf
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy.cluster.vq import kmeans2
from scipy.stats import norm

from quantlab import codebook as cb
from quantlab import data

GAUSSIAN = data.gaussian(4096).astype(np.float64)
LAPLACE = data.laplace(4096).astype(np.float64)

# QLoRA (Dettmers et al. 2023, arXiv:2305.14314), Appendix E "NormalFloat 4-bit data type", and
# bitsandbytes: the nf4 table in csrc/kernels.cu (`nf4_data`) and functional.py `get_4bit_type('nf4')`.
PUBLISHED_NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
])  # fmt: skip


def scipy_codebook(points, init, iterations):
    """scipy's kmeans2 from the same initial levels for a fixed number of Lloyd steps (sorted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "One of the clusters is empty": scipy keeps it where it was, as we do
        levels, _ = kmeans2(points, init.copy(), iter=iterations, minit="matrix")
    return np.sort(levels)


def brute_force_codes(blocks, levels):
    """Nearest level by trying them all (ties: the lowest index, as argmin picks)."""
    levels = np.broadcast_to(levels, (len(blocks), levels.shape[-1]))
    return np.abs(blocks[:, :, None] - levels[:, None, :]).argmin(axis=2)


def reference_weighted_lloyd(points, importance, init, iterations):
    """Textbook weighted Lloyd on one block, one level at a time: the independent oracle for importance."""
    levels = np.array(init, dtype=np.float64)
    history = [levels.copy()]
    for _ in range(iterations):
        nearest = np.array([np.argmin(np.abs(x - levels)) for x in points])
        for j in range(len(levels)):
            members = nearest == j
            if importance[members].sum() > 0:
                levels[j] = np.sum(importance[members] * points[members]) / importance[members].sum()
        levels = np.sort(levels)
        history.append(levels.copy())
    return np.array(history)


# ---------------------------------------------------------------- k-means against scipy


@pytest.mark.parametrize("k", [2, 4, 16])
@pytest.mark.parametrize("w", [GAUSSIAN[:2048], LAPLACE[:2048]], ids=["gaussian", "laplace"])
def test_every_lloyd_step_matches_scipy_kmeans2(w, k):
    result = cb.kmeans(w, k)
    assert result.converged
    for step in range(1, result.n_iterations + 1):
        expected = scipy_codebook(w, result.history[0, 0], step)
        np.testing.assert_allclose(result.history[step, 0], expected, rtol=1e-12, atol=1e-15)


def test_per_block_codebooks_match_scipy_block_by_block():
    blocks = LAPLACE.reshape(-1, 64)
    result = cb.kmeans(LAPLACE, 8, 64, max_iter=12)
    for i in range(0, len(blocks), 7):  # the oracle loops over blocks; quantlab does not
        expected = scipy_codebook(blocks[i], result.history[0, i], result.n_iterations)
        np.testing.assert_allclose(result.codebook[i], expected, rtol=1e-12, atol=1e-15)


def test_an_empty_level_stays_where_it_was_as_in_scipy():
    w = GAUSSIAN[:500]
    init = np.array([-0.05, 0.0, 0.05, 3.0])  # 3.0 is 150 standard deviations out: no weight picks it
    result = cb.kmeans(w, 4, init=init, max_iter=20)
    assert np.all(result.history[:, 0, -1] == 3.0)
    np.testing.assert_allclose(result.codebook[0], scipy_codebook(w, init, result.n_iterations), rtol=1e-12)


# ---------------------------------------------------------------- assignments and importance


@pytest.mark.parametrize("group_size, k", [(None, 16), (64, 4), (32, 16), (8, 8)])
def test_every_code_is_the_nearest_level(group_size, k):
    result = cb.kmeans(LAPLACE, k, group_size)
    blocks = LAPLACE.reshape(-1, result.group_size)
    codes = result.codes.reshape(blocks.shape).astype(int)
    chosen = np.abs(blocks - np.take_along_axis(result.codebook, codes, axis=1))
    best = np.abs(blocks[:, :, None] - result.codebook[:, None, :]).min(axis=2)
    np.testing.assert_array_equal(chosen, best)
    np.testing.assert_array_equal(result.dequantize(), np.take_along_axis(result.codebook, codes, axis=1).reshape(-1))


def test_nearest_codes_agrees_with_brute_force_for_shared_and_per_block_levels():
    rng = np.random.default_rng(1)
    blocks = rng.normal(size=(50, 32))
    shared = np.sort(rng.normal(size=7))
    per_block = np.sort(rng.normal(size=(50, 5)), axis=1)
    np.testing.assert_array_equal(cb.nearest_codes(blocks, shared), brute_force_codes(blocks, shared))
    np.testing.assert_array_equal(cb.nearest_codes(blocks, per_block), brute_force_codes(blocks, per_block))


def test_a_weight_exactly_between_two_levels_takes_the_lower_one():
    weights = np.array([[0.5, 2.0, 2.5, -9.0, 9.0]])
    expected = [[0, 1, 2, 0, 2]]
    for levels in (np.array([0.0, 1.0, 3.0]), np.array([[0.0, 1.0, 3.0]])):  # shared table, one block
        np.testing.assert_array_equal(cb.nearest_codes(weights, levels), expected)
    two_blocks = cb.nearest_codes(np.repeat(weights, 2, axis=0), np.array([[0.0, 1.0, 3.0]] * 2))
    np.testing.assert_array_equal(two_blocks, expected * 2)


def test_weighted_lloyd_matches_a_textbook_loop():
    rng = np.random.default_rng(2)
    points = LAPLACE[:300]
    importance = rng.uniform(0, 3, size=300)
    importance[:40] = 0.0  # zero-importance weights are assigned but pull no level
    result = cb.kmeans(points, 6, importance=importance, max_iter=15)
    expected = reference_weighted_lloyd(points, importance, result.history[0, 0], result.n_iterations)
    np.testing.assert_allclose(result.history[:, 0], expected, rtol=1e-12, atol=1e-15)


def test_integer_importance_is_the_same_as_repeating_weights():
    rng = np.random.default_rng(3)
    points = GAUSSIAN[:400]
    counts = rng.integers(1, 4, size=400)
    init = np.quantile(points, [0.1, 0.3, 0.5, 0.7, 0.9])
    weighted = cb.kmeans(points, 5, importance=counts.astype(float), init=init)
    repeated = cb.kmeans(np.repeat(points, counts), 5, init=init)
    assert weighted.n_iterations == repeated.n_iterations
    np.testing.assert_allclose(weighted.history, repeated.history, rtol=1e-12)
    np.testing.assert_allclose(weighted.mse_history, repeated.mse_history, rtol=1e-9)


def test_importance_pulls_levels_toward_important_weights():
    w = np.linspace(-1, 1, 64)
    importance = np.where(w > 0.5, 100.0, 1.0)
    plain, weighted = cb.kmeans(w, 4), cb.kmeans(w, 4, importance=importance)
    assert np.sum(weighted.codebook > 0.5) > np.sum(plain.codebook > 0.5)


# ---------------------------------------------------------------- initialisation


def test_quantile_init_is_numpys_linear_quantile():
    blocks = LAPLACE.reshape(-1, 128)
    expected = np.quantile(blocks, (np.arange(8) + 0.5) / 8, axis=1).T
    np.testing.assert_allclose(cb.quantile_init(blocks, np.ones_like(blocks), 8), expected, rtol=1e-12)


def test_cube_root_init_matches_a_loop_with_np_interp():
    rng = np.random.default_rng(4)
    blocks = rng.standard_t(4, size=(5, 200))
    importance = rng.uniform(0.1, 2, size=blocks.shape)
    got = cb.cube_root_init(blocks, importance, 16)
    for block, weight, levels in zip(blocks, importance, got):
        order = np.argsort(block)
        x, m = block[order], weight[order]
        measure = ((m[1:] + m[:-1]) / 2) ** (1 / 3) * np.diff(x) ** (2 / 3)
        cumulative = np.concatenate([[0.0], np.cumsum(measure)])
        np.testing.assert_allclose(
            levels, np.interp((np.arange(16) + 0.5) / 16 * cumulative[-1], cumulative, x), rtol=1e-10
        )


def test_cube_root_init_of_a_gaussian_follows_panter_dite():
    """p^(1/3) of N(0, s^2) is proportional to N(0, 3 s^2): levels near sqrt(3) s Phi^-1((i + 1/2)/k)."""
    w = np.random.default_rng(5).normal(0, 1, 200_000).reshape(1, -1)
    expected = np.sqrt(3) * norm.ppf((np.arange(8) + 0.5) / 8)
    np.testing.assert_allclose(cb.cube_root_init(w, np.ones_like(w), 8)[0], expected, rtol=0.03)


def test_cube_root_start_beats_quantile_start_in_small_blocks():
    for w in (GAUSSIAN, LAPLACE):
        assert cb.kmeans(w, 16, 64).mse < 0.8 * cb.kmeans(w, 16, 64, init="quantile").mse


# ---------------------------------------------------------------- invariants on made-up input


@st.composite
def kmeans_problems(draw):
    group_size = draw(st.sampled_from([1, 2, 3, 8, 16]))
    n_blocks = draw(st.integers(1, 5))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    w = draw(hnp.arrays(np.float64, n_blocks * group_size, elements=st.floats(-1, 1, allow_subnormal=False)))
    w = np.where(np.abs(w) < 1e-30, 0.0, w) * scale  # products of tiny numbers would underflow: not weights
    k = draw(st.integers(1, group_size))
    importance = None
    if draw(st.booleans()):
        importance = draw(hnp.arrays(np.float64, w.size, elements=st.floats(0, 10, allow_subnormal=False)))
        importance[importance < 1e-30] = 0.0
        assume((importance.reshape(n_blocks, -1).sum(axis=1) > 0).all())
    init = draw(st.sampled_from(["cube-root", "quantile"]))
    return w, k, group_size, importance, init


@settings(max_examples=150, deadline=None)
@given(kmeans_problems())
def test_lloyd_invariants(problem):
    w, k, group_size, importance, init = problem
    result = cb.kmeans(w, k, group_size, importance=importance, init=init, max_iter=30)
    blocks = w.reshape(-1, group_size)
    tolerance = 1e-9 * (np.mean(w**2) + 1e-300)
    assert np.all(np.diff(result.mse_history) <= tolerance), "the weighted MSE went up during Lloyd steps"
    assert np.all(np.diff(result.history, axis=2) >= 0), "levels must stay sorted"
    spread = 1e-12 * (np.abs(blocks).max(axis=1, keepdims=True) + 1e-300)
    assert np.all(result.codebook >= blocks.min(axis=1, keepdims=True) - spread)
    assert np.all(result.codebook <= blocks.max(axis=1, keepdims=True) + spread)
    codes = result.codes.reshape(blocks.shape).astype(int)
    chosen = np.abs(blocks - np.take_along_axis(result.codebook, codes, axis=1))
    assert np.all(chosen <= np.abs(blocks[:, :, None] - result.codebook[:, None, :]).min(axis=2) + spread)
    weights = np.ones_like(w) if importance is None else importance
    direct = np.sum(weights * (w - result.dequantize()) ** 2) / np.sum(weights)
    assert direct == pytest.approx(result.mse, rel=1e-9, abs=1e-300)
    assert result.n_iterations <= 30 and (result.converged or result.n_iterations == 30)


# ---------------------------------------------------------------- degenerate blocks


def test_constant_and_all_zero_blocks_are_reproduced_exactly_without_warnings():
    w = np.concatenate([np.zeros(16), np.full(16, 0.1), GAUSSIAN[:16]]).astype(np.float32)
    with np.errstate(all="raise"):
        result = cb.kmeans(w, 4, 16)
    np.testing.assert_array_equal(result.codebook[0], np.zeros(4))
    np.testing.assert_array_equal(result.codebook[1], np.full(4, np.float32(0.1)))
    np.testing.assert_array_equal(result.dequantize()[:32], w[:32])
    assert result.dequantize().dtype == np.float32


def test_fewer_distinct_values_than_levels_leaves_spare_levels_and_no_error():
    w = np.array([-1.0, -1.0, 0.5, 0.5, 0.5, 2.0, 2.0, 2.0] * 2)
    result = cb.kmeans(w, 8)
    assert result.mse == 0.0
    np.testing.assert_array_equal(result.dequantize(), w)
    assert {-1.0, 0.5, 2.0} <= set(result.codebook[0])
    assert len(np.unique(result.codes)) == 3  # five levels are never used
    assert result.bits_per_weight == 3 + 8 * 16 / 16  # spare levels are still stored


def test_one_level_is_the_weighted_mean_and_one_weight_per_block_is_exact():
    importance = np.arange(1.0, 9.0)
    result = cb.kmeans(LAPLACE[:8], 1, importance=importance)
    assert result.codebook[0, 0] == pytest.approx(np.average(LAPLACE[:8], weights=importance), rel=1e-12)
    np.testing.assert_array_equal(cb.kmeans(LAPLACE[:8], 1, 1).dequantize(), LAPLACE[:8])


def test_zero_steps_returns_the_initial_codebook():
    result = cb.kmeans(GAUSSIAN, 4, max_iter=0)
    assert result.n_iterations == 0 and not result.converged
    np.testing.assert_array_equal(result.codebook, cb.cube_root_init(GAUSSIAN.reshape(1, -1), np.ones((1, 4096)), 4))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: cb.kmeans(np.array([0.1, np.nan, 0.2]), 2), ValueError, ["w", "nan", "finite"]),
        (lambda: cb.kmeans(np.array([0.1, np.inf]), 2), ValueError, ["w", "inf", "finite"]),
        (lambda: cb.kmeans(np.array([]), 2), ValueError, ["w", "empty"]),
        (lambda: cb.kmeans(np.arange(8), 2), TypeError, ["w", "int"]),
        (lambda: cb.kmeans(GAUSSIAN[:10], 16), ValueError, ["k=16", "10 weights", "group_size"]),
        (lambda: cb.kmeans(GAUSSIAN, 16, 8), ValueError, ["k=16", "8 weights"]),
        (lambda: cb.kmeans(GAUSSIAN, 0), ValueError, ["k=0"]),
        (lambda: cb.kmeans(GAUSSIAN, 4.0), TypeError, ["k", "integer"]),
        (
            lambda: cb.kmeans(GAUSSIAN, 4, 48),
            ValueError,
            ["group_size=48", "does not divide", "4096", "divisor such as"],
        ),
        (lambda: cb.kmeans(GAUSSIAN, 4, 0), ValueError, ["group_size=0"]),
        (lambda: cb.kmeans(GAUSSIAN, 4, 8.0), TypeError, ["group_size"]),
        (lambda: cb.kmeans(GAUSSIAN, 4, importance=np.ones(5)), ValueError, ["importance", "shape (5,)"]),
        (lambda: cb.kmeans(GAUSSIAN, 4, importance=-np.ones(4096)), ValueError, ["importance", "negative"]),
        (lambda: cb.kmeans(GAUSSIAN, 4, importance=np.full(4096, np.nan)), ValueError, ["importance", "nan"]),
        (
            lambda: cb.kmeans(GAUSSIAN, 4, 64, importance=np.r_[np.zeros(64), np.ones(4032)]),
            ValueError,
            ["importance", "block 0"],
        ),
        (lambda: cb.kmeans(GAUSSIAN, 4, init="random"), ValueError, ["init='random'", "cube-root"]),
        (lambda: cb.kmeans(GAUSSIAN, 4, init=np.zeros(3)), ValueError, ["init", "(4,)"]),
        (lambda: cb.kmeans(GAUSSIAN, 4, init=np.array([0, 1, np.nan, 2.0])), ValueError, ["init", "nan"]),
        (lambda: cb.kmeans(GAUSSIAN, 4, max_iter=-1), ValueError, ["max_iter"]),
        (
            lambda: cb.nearest_codes(GAUSSIAN.reshape(64, 64), np.array([1.0, 0.0])),
            ValueError,
            ["ascending", "np.sort"],
        ),
        (lambda: cb.nearest_codes(GAUSSIAN.reshape(64, 64), np.array([0.0, np.nan])), ValueError, ["levels", "nan"]),
        (lambda: cb.normal_float_levels(1), ValueError, ["bits=1", "2 to 8"]),
        (lambda: cb.normal_float_levels(9), ValueError, ["bits=9"]),
        (lambda: cb.quantize_normal_float(GAUSSIAN, 48), ValueError, ["group_size=48"]),
        (lambda: cb.quantize_iq4_nl_table(np.array([1.0, np.nan]), 2), ValueError, ["w", "nan"]),
        (lambda: cb.quantize_iq4_nl_table(GAUSSIAN * 1e9), ValueError, ["overflows fp16"]),
        (lambda: cb.compare_grids(GAUSSIAN, 9), ValueError, ["bits=9"]),
        (lambda: cb.codebook_bits_per_weight(0, 64), ValueError, ["k=0"]),
        (lambda: cb.codebook_bits_per_weight(16, 64, level_bits=-1), ValueError, ["level_bits"]),
    ],
)
def test_bad_input_gets_an_error_that_names_the_argument(call, error, words):
    with pytest.raises(error) as raised:
        call()
    message = str(raised.value).lower()
    for word in words:
        assert word.lower() in message, f"{word!r} missing from: {raised.value}"


# ---------------------------------------------------------------- NF4 and IQ4_NL


def test_nf4_levels_match_the_published_table():
    # published values are float32 results of a float32 linspace: agree to a few float32 ulps
    np.testing.assert_allclose(cb.normal_float_levels(4), PUBLISHED_NF4, rtol=0, atol=5e-7)


def test_our_offset_rule_reproduces_bitsandbytes_constant():
    n = 16  # bitsandbytes functional.py: create_normal_map(offset=0.9677083, use_extra_value=True)
    assert round(((1 - 1 / (2 * (n - 1))) + (1 - 1 / (2 * n))) / 2, 7) == 0.9677083


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 8])
def test_normal_float_levels_have_the_qlora_shape(bits):
    levels = cb.normal_float_levels(bits)
    assert len(levels) == 2**bits and np.all(np.diff(levels) > 0)
    assert levels[0] == -1.0 and levels[-1] == 1.0 and 0.0 in levels
    assert np.sum(levels > 0) == 2 ** (bits - 1)  # one more positive level than negative ones


def test_nf4_per_block_is_absmax_then_nearest_level():
    w = LAPLACE.reshape(-1, 64)
    result = cb.quantize_normal_float(LAPLACE, 64)
    absmax = np.abs(w).max(axis=1)
    np.testing.assert_array_equal(result.scale, absmax.astype(np.float32).astype(np.float64))  # QLoRA: fp32 absmax
    np.testing.assert_array_equal(
        result.codes.reshape(w.shape), brute_force_codes(w / result.scale[:, None], PUBLISHED_NF4)
    )
    assert result.bits_per_weight == (64 * 4 + 32) / 64


def test_nf4_price_is_qloras():
    """QLoRA section 3: fp32 constants cost 32/64 = 0.5 bits; double-quantized 8/64 + 32/(64*256) = 0.127 bits."""
    assert cb.normal_float_bits_per_weight(4, 64) == 4.5
    assert cb.normal_float_bits_per_weight(4, 64, double_quant=True) == 4 + 8 / 64 + 32 / (64 * 256)
    assert round(cb.normal_float_bits_per_weight(4, 64, double_quant=True) - 4, 3) == 0.127  # the paper's figure
    assert cb.normal_float_bits_per_weight(4, 64) == cb.quantize_normal_float(GAUSSIAN, 64).bits_per_weight
    with pytest.raises(TypeError, match="double_quant"):
        cb.normal_float_bits_per_weight(4, 64, double_quant="yes")
    with pytest.raises(ValueError, match="group_size"):
        cb.normal_float_bits_per_weight(4, 0)


def test_iq4_nl_table_decodes_like_llama_cpp():
    """Pack our codes and scales as real IQ4_NL blocks; gguf's own dequantizer must give our w_hat."""
    w = GAUSSIAN.astype(np.float32)
    result = cb.quantize_iq4_nl_table(w, 32)
    codes = result.codes.reshape(-1, 32)
    nibbles = (codes[:, :16] | (codes[:, 16:] << 4)).astype(np.uint8)  # block_iq4_nl: low nibbles first half
    blocks = np.concatenate([result.scale.astype(np.float16)[:, None].view(np.uint8), nibbles], axis=1)
    decoded = gguf.quants.dequantize(blocks.reshape(1, -1), gguf.GGMLQuantizationType.IQ4_NL).reshape(-1)
    np.testing.assert_array_equal(decoded, result.dequantize())


def test_iq4_nl_table_puts_the_largest_weight_on_level_minus_127():
    w = GAUSSIAN.reshape(-1, 32)
    result = cb.quantize_iq4_nl_table(GAUSSIAN, 32)
    extreme = np.abs(w).argmax(axis=1)
    assert np.all(result.codes.reshape(w.shape)[np.arange(len(w)), extreme] == 0)
    np.testing.assert_allclose(result.scale, w[np.arange(len(w)), extreme] / -127, rtol=2**-11)
    np.testing.assert_array_equal(
        result.codes.reshape(w.shape), brute_force_codes(w / result.scale[:, None], cb.IQ4_NL_LEVELS * 1.0)
    )


def test_table_quantizers_keep_all_zero_blocks_at_zero():
    w = np.concatenate([np.zeros(32), GAUSSIAN[:32]])
    with np.errstate(all="raise"):
        for result in (cb.quantize_normal_float(w, 32), cb.quantize_iq4_nl_table(w, 32)):
            np.testing.assert_array_equal(result.dequantize()[:32], 0.0)


# ---------------------------------------------------------------- storage cost


def packed_bits(codes, code_bits, codebook):
    """Count by packing: each code's low `code_bits` bits, then the codebook as fp16 bytes."""
    bit_planes = (codes[..., None].astype(np.uint16) >> np.arange(code_bits)) & 1
    return np.packbits(bit_planes.astype(np.uint8)).nbytes * 8 + codebook.astype(np.float16).nbytes * 8


@pytest.mark.parametrize("k, group_size", [(16, 64), (8, 32), (4, None), (16, None), (2, 256)])
def test_kmeans_bits_per_weight_equals_the_packed_size(k, group_size):
    result = cb.kmeans(GAUSSIAN, k, group_size, max_iter=3)
    code_bits = int(np.log2(k))
    assert result.bits_per_weight == packed_bits(result.codes, code_bits, result.codebook) / GAUSSIAN.size


def test_fixed_table_bits_per_weight_match_llama_cpp_block_sizes():
    block_weights, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.IQ4_NL]
    assert cb.quantize_iq4_nl_table(GAUSSIAN, block_weights).bits_per_weight == block_bytes * 8 / block_weights


def test_bits_per_weight_counting_rules():
    assert cb.codebook_bits_per_weight(16, 64) == 4 + 16 * 16 / 64
    assert cb.codebook_bits_per_weight(16, 4096) == 4 + 16 * 16 / 4096
    assert cb.codebook_bits_per_weight(17, 64, level_bits=0) == 5  # 17 levels need 5-bit codes
    assert cb.codebook_bits_per_weight(1, 64, level_bits=0) == 0
    assert cb.codebook_bits_per_weight(16, 64, level_bits=0, scale_bits=32) == 4.5  # QLoRA's fp32 absmax


# ---------------------------------------------------------------- the comparison the explorer shows


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_compare_grids_rows(bits):
    rows = cb.compare_grids(GAUSSIAN, bits, 64)
    assert [row.name for row in rows] == ["uniform", "k-means", f"NF{bits}", "IQ4_NL"]
    by_name = {row.name: row for row in rows}
    assert by_name["uniform"].bits_per_weight == bits + (16 + bits) / 64  # fp16 scale + integer zero point
    assert by_name["k-means"].bits_per_weight == bits + 2**bits * 16 / 64
    assert by_name[f"NF{bits}"].bits_per_weight == bits + 32 / 64  # QLoRA's fp32 absmax per block
    assert by_name["IQ4_NL"].bits == 4 and by_name["IQ4_NL"].bits_per_weight == 4 + 16 / 64
    w_hat = cb.quantize_normal_float(GAUSSIAN, 64, bits).dequantize()
    assert by_name[f"NF{bits}"].mse == pytest.approx(np.mean((GAUSSIAN - w_hat) ** 2), rel=1e-6)


def test_a_learnt_codebook_beats_the_uniform_grid_per_tensor():
    for w in (GAUSSIAN, LAPLACE):
        rows = {row.name: row for row in cb.compare_grids(w, 4, None)}
        assert rows["k-means"].mse < 0.6 * rows["uniform"].mse
        assert rows["k-means"].bits_per_weight < 4.1


def test_compare_starts_measures_every_start_per_seed():
    from quantlab import codebook_tradeoff

    rows = codebook_tradeoff.compare_starts(bits=2, seeds=range(3), n=512)
    assert set(rows) == set(codebook_tradeoff.STARTS)
    for row in rows.values():
        assert row["steps"].shape == (3,) and np.all(row["steps"] >= 1)
        assert np.all(row["last"] <= row["first"] + 1e-12)  # Lloyd never increases the error
    assert "median" in codebook_tradeoff.starts_text(rows)
    with pytest.raises(ValueError, match="seeds"):
        codebook_tradeoff.compare_starts(seeds=[])
