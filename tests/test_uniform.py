"""The uniform quantizer against hand-worked examples and an independent textbook implementation."""

import numpy as np
import pytest

import quantlab as ql
from quantlab import data


def textbook_symmetric(w, bits):
    """The classic absmax recipe, written out independently of quantlab (restricted range)."""
    qmax = 2 ** (bits - 1) - 1
    scale = np.max(np.abs(w)) / qmax
    return np.clip(np.rint(w / scale), -qmax, qmax), scale


def textbook_asymmetric(w, bits):
    """Min-max with an integer zero point, range widened to include 0."""
    lo, hi = min(w.min(), 0.0), max(w.max(), 0.0)
    qmax = 2**bits - 1
    scale = (hi - lo) / qmax
    zero_point = np.clip(np.rint(-lo / scale), 0, qmax)
    return np.clip(np.rint(w / scale) + zero_point, 0, qmax), scale, zero_point


def test_hand_worked_symmetric_example():
    w = np.array([-7.0, 3.5, 2.5, 1.2, 7.0], dtype=np.float32) / 4
    q = ql.quantize(w, bits=4)
    assert q.scale == 0.25  # absmax / 7, exact in binary
    # 3.5 and 2.5 are ties: rounded half to even -> 4 and 2; 1.2 -> 1
    assert q.codes.tolist() == [-7, 4, 2, 1, 7]
    np.testing.assert_array_equal(q.dequantize(), np.array([-7, 4, 2, 1, 7]) / 4)


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_symmetric_matches_textbook(bits):
    w = data.gaussian(2000, std=0.1, seed=bits).astype(np.float64)
    codes, scale = textbook_symmetric(w, bits)
    q = ql.quantize(w, bits)
    np.testing.assert_array_equal(q.codes, codes)
    assert float(q.scale) == pytest.approx(scale, rel=1e-7)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_asymmetric_matches_textbook(bits):
    w = (data.laplace(999, std=0.1, seed=bits) + 0.05).astype(np.float64)
    codes, scale, zero_point = textbook_asymmetric(w, bits)
    q = ql.quantize(w, bits, "asymmetric")
    np.testing.assert_array_equal(q.codes, codes)
    assert int(q.zero_point) == zero_point


def test_code_ranges_give_15_and_16_levels_at_4_bits():
    assert ql.code_range(4, "symmetric", "restricted") == (-7, 7)
    assert ql.code_range(4, "symmetric", "full") == (-8, 7)
    assert ql.code_range(4, "asymmetric") == (0, 15)


def test_full_range_puts_the_signed_extreme_on_the_lowest_code():
    w = np.array([0.3, -0.1, 0.8, 0.05], dtype=np.float32)  # extreme is +0.8 -> scale negative, code -8
    q = ql.quantize(w, 4, symmetric_range="full")
    assert q.codes[2] == -8
    assert float(q.scale) == pytest.approx(0.8 / -8)
    assert q.dequantize()[2] == pytest.approx(0.8)


def test_full_range_uses_a_finer_grid_than_restricted_on_gaussian_weights():
    w = data.gaussian(4096, std=0.1, seed=3)
    restricted = ql.mse(w, ql.fake_quantize(w, 4))
    full = ql.mse(w, ql.fake_quantize(w, 4, symmetric_range="full"))
    assert full < restricted  # step absmax/8 instead of absmax/7


def test_zero_is_exact_in_asymmetric_even_for_all_positive_weights():
    w = np.array([0.0, 0.2, 0.9, 1.3, 0.0], dtype=np.float32)
    w_hat = ql.fake_quantize(w, 3, "asymmetric")
    assert w_hat[0] == 0.0 and w_hat[-1] == 0.0


@pytest.mark.parametrize("scheme", ["symmetric", "asymmetric"])
@pytest.mark.parametrize("value", [0.0, 0.37, -2.5])
def test_all_zero_and_constant_groups(scheme, value):
    w = np.zeros((4, 64), dtype=np.float32)
    w[1] = value
    w[2, :32] = value
    w_hat = ql.fake_quantize(w, 4, scheme, group_size=32)
    assert np.all(np.isfinite(w_hat))
    np.testing.assert_array_equal(w_hat[w == 0], 0.0)
    np.testing.assert_allclose(w_hat, w, rtol=1e-6, atol=0)


def test_per_group_scales_follow_each_group():
    w = np.concatenate([np.full(32, 0.01), np.full(32, 1.0)]).astype(np.float32)
    w[0] = -0.02
    q = ql.quantize(w, 4, group_size=32)
    assert q.scale.shape == (2,)
    np.testing.assert_allclose(q.scale, [0.02 / 7, 1 / 7], rtol=1e-6)


def test_per_channel_axis_and_group_layout():
    w = data.gaussian(6 * 64, seed=1).reshape(6, 64)
    per_row = ql.quantize(w, 4, axis=1)
    assert per_row.scale.shape == (6, 1)
    np.testing.assert_allclose(per_row.scale[:, 0], np.abs(w).max(axis=1) / 7, rtol=1e-6)
    per_column = ql.quantize(w, 4, axis=0)
    assert per_column.scale.shape == (1, 64)
    grouped = ql.quantize(w, 4, group_size=16, axis=1)
    assert grouped.scale.shape == (6, 4)
    np.testing.assert_allclose(grouped.scale[2, 1], np.abs(w[2, 16:32]).max() / 7, rtol=1e-6)
    grouped0 = ql.quantize(w, 4, group_size=3, axis=0)
    assert grouped0.scale.shape == (2, 64)
    np.testing.assert_allclose(grouped0.scale[1, 5], np.abs(w[3:6, 5]).max() / 7, rtol=1e-6)


def test_fp16_scales_are_stored_rounded_and_used_for_rounding():
    w = data.gaussian(256, std=0.1, seed=7)
    q = ql.quantize(w, 4, group_size=32, scale_dtype="float16")
    np.testing.assert_array_equal(q.scale, q.scale.astype(np.float16).astype(np.float64))
    expected = np.clip(np.rint(w.reshape(8, 32) / q.scale[:, None]), -7, 7).reshape(-1)
    np.testing.assert_array_equal(q.codes, expected)


def test_bits_per_weight_of_group_scales():
    w = data.gaussian(4096, seed=2)
    # bits + scale bits / group size: the article's "4.125" is wrong for fp32 scales per 32 weights
    assert ql.quantize(w, 4, group_size=32, scale_dtype="float32").bits_per_weight == 5.0
    assert ql.quantize(w, 4, group_size=32, scale_dtype="float16").bits_per_weight == 4.5
    assert ql.quantize(w, 4, group_size=128, scale_dtype="float16").bits_per_weight == 4.125
    assert ql.quantize(w, 4, "asymmetric", group_size=128, scale_dtype="float16").bits_per_weight == 4 + 20 / 128


def test_q4_0_layout_matches_ggml_size():
    import gguf

    block_size, type_size = gguf.constants.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_0]
    q = ql.quantize(data.gaussian(4096), 4, group_size=32, symmetric_range="full", scale_dtype="float16")
    assert q.bits_per_weight == 8 * type_size / block_size


def test_metrics_on_known_values():
    w = np.array([1.0, -1.0, 2.0, 0.0])
    w_hat = np.array([1.0, -0.5, 2.5, 0.0])
    assert ql.mse(w, w_hat) == pytest.approx(0.125)
    assert ql.rmse(w, w_hat) == pytest.approx(np.sqrt(0.125))
    assert ql.max_abs_error(w, w_hat) == 0.5
    assert ql.sqnr_db(w, w_hat) == pytest.approx(10 * np.log10(6 / 0.5))
    assert ql.sqnr_db(w, w) == np.inf


def test_each_extra_bit_buys_about_6_db():
    w = data.gaussian(1 << 16, seed=5)
    sqnr = [ql.sqnr_db(w, ql.fake_quantize(w, b, "asymmetric")) for b in (6, 7, 8)]
    assert np.diff(sqnr) == pytest.approx([6.02, 6.02], abs=0.3)


def test_generators_are_seeded_and_have_the_requested_spread():
    for make in (data.gaussian, data.laplace, data.student_t):
        a, b = make(200_000, std=0.05, seed=11), make(200_000, std=0.05, seed=11)
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float32
        assert np.std(a) == pytest.approx(0.05, rel=0.03)
    assert not np.array_equal(data.gaussian(10, seed=1), data.gaussian(10, seed=2))


def test_outliers_are_injected_where_asked():
    w = data.weights("gaussian", 1000, std=0.1, outliers=3, outlier_magnitude=50)
    assert np.sum(np.abs(w) == np.float32(5.0)) == 3
