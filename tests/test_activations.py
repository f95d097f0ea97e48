"""quantlab.activations: the algorithms against their identities and independent references.

Integer matmuls against numpy's int64 matmul; the fast Hadamard transform against scipy.linalg.hadamard
and the explicit Kronecker matrix; statistics against scipy.stats; every folding and rotation against
the unquantized product; bad input against clear errors.
"""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from quantlab.activations import effects, hadamard, llm_int8, planted, smoothquant, stats, w8a8

RNG = np.random.default_rng(11)


def _on_grid(shape, bits, axis, rng):
    """A float array whose values are codes x power-of-two scales: absmax quantization recovers it exactly."""
    qmax = 2 ** (bits - 1) - 1
    codes = rng.integers(-qmax, qmax + 1, size=shape)
    codes[:, 0] = qmax  # every row reaches qmax: its scale is exactly 2^e
    scales = 2.0 ** rng.integers(-6, 3, size=(shape[0], 1))
    return (codes * scales).astype(np.float32), codes


def _with_outlier_channel(rng, tokens=64, width=128, channel=7, size=60.0):
    x = rng.normal(size=(tokens, width)).astype(np.float32)
    x[:, channel] *= size
    return x


# --- integer matmul and W8A8 ----------------------------------------------------------------------


@pytest.mark.parametrize("k", [16, 384, 1536])
def test_fast_integer_matmul_equals_int64_matmul(k):
    a = RNG.integers(-127, 128, size=(9, k)).astype(np.int8)
    b = RNG.integers(-127, 128, size=(5, k)).astype(np.int8)
    exact = a.astype(np.int64) @ b.T.astype(np.int64)
    assert np.array_equal(w8a8.integer_matmul(a, b), exact)
    assert np.array_equal(w8a8.integer_matmul_reference(a, b), exact)
    assert w8a8.integer_matmul_reference(a, b).dtype == np.int32  # int8 GEMMs accumulate in int32


def test_extreme_codes_stay_exact_past_float32s_integers():
    a = np.full((2, 1536), 127, np.int8)  # 1536 * 127 * 127 = 24.8 M > 2^24: needs float64
    assert np.array_equal(w8a8.integer_matmul(a, -a), np.full((2, 2), -1536 * 127 * 127))


@pytest.mark.parametrize("granularity", ["tensor", "token"])
@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_linear_is_exact_on_the_grid(granularity, bits):
    rng = np.random.default_rng(bits)
    weight, _ = _on_grid((24, 64), bits, 1, rng)
    if granularity == "tensor":
        qmax = 2 ** (bits - 1) - 1
        x = (rng.integers(-qmax, qmax + 1, size=(10, 64)) * 0.25).astype(np.float32)
        x[0, 0] = qmax * 0.25
    else:
        x, _ = _on_grid((10, 64), bits, 1, rng)
    y = w8a8.quantized_linear(x, weight, activation_bits=bits, weight_bits=bits, granularity=granularity)
    assert np.array_equal(y, (x.astype(np.float64) @ weight.T.astype(np.float64)).astype(np.float32))


def test_quantize_activations_scales_and_codes():
    x = np.array([[1.0, -2.0, 0.5], [0.0, 4.0, -8.0]], np.float32)
    codes, scale = w8a8.quantize_activations(x, 8, "token")
    assert scale.shape == (2, 1) and np.allclose(scale[:, 0], [2 / 127, 8 / 127])
    assert codes.dtype == np.int8 and codes[1, 2] == -127 and codes[0, 1] == -127
    _, scale = w8a8.quantize_activations(x, 8, "channel")
    assert scale.shape == (1, 3) and np.allclose(scale[0], [1 / 127, 4 / 127, 8 / 127])
    codes, scale = w8a8.quantize_activations(np.zeros((2, 3), np.float32), 8, "tensor")
    assert scale == 1 and not codes.any()  # an all-zero input divides by nothing


def test_finer_activation_scales_help_an_outlier_channel():
    x = _with_outlier_channel(np.random.default_rng(1))
    weight = np.random.default_rng(2).normal(size=(32, 128)).astype(np.float32)
    exact = x @ weight.T
    errors = {
        g: np.abs(w8a8.quantized_linear(x, weight, granularity=g, activation_bits=4) - exact).mean()
        for g in w8a8.GRANULARITIES
    }
    assert errors["channel"] < errors["token"] <= errors["tensor"] * 1.01


# --- LLM.int8() ----------------------------------------------------------------------------------


@pytest.mark.parametrize("activation_bits, weight_bits", [(8, 8), (4, 4), (8, 4)])
def test_decomposition_keeps_outlier_columns_in_float(activation_bits, weight_bits):
    x = _with_outlier_channel(np.random.default_rng(3), size=1.0) * 0.5
    x[5, 7], x[9, 40] = 9.0, -6.0  # exactly at the threshold counts (|x| >= 6)
    weight = np.random.default_rng(4).normal(size=(16, 128)).astype(np.float32)
    result = llm_int8.decomposed_linear(x, weight, activation_bits=activation_bits, weight_bits=weight_bits)
    assert np.flatnonzero(result.outlier_columns).tolist() == [7, 40]
    assert result.int8_share == pytest.approx(126 / 128)
    regular = ~result.outlier_columns  # rebuilt by hand: float part + integer part
    codes_x, scale_x = w8a8.quantize_activations(x[:, regular], activation_bits, "token")
    codes_w, scale_w = w8a8.quantize_weight(weight[:, regular], weight_bits)
    by_hand = x[:, ~regular] @ weight[:, ~regular].T + (codes_x * scale_x) @ (codes_w * scale_w).T
    assert np.allclose(result.output, by_hand, atol=1e-5)


def test_decomposition_beats_plain_int8_on_an_outlier_channel():
    x = _with_outlier_channel(np.random.default_rng(5), size=30.0)
    weight = np.random.default_rng(6).normal(size=(32, 128)).astype(np.float32)
    exact = x @ weight.T
    decomposed = llm_int8.decomposed_linear(x, weight).output
    plain = w8a8.quantized_linear(x, weight, granularity="token")
    assert np.abs(decomposed - exact).max() < np.abs(plain - exact).max() / 5


def test_decomposition_with_every_column_an_outlier_is_the_float_product():
    x = np.full((4, 8), 7.0, np.float32)
    weight = np.random.default_rng(7).normal(size=(3, 8)).astype(np.float32)
    result = llm_int8.decomposed_linear(x, weight, bias=np.ones(3, np.float32))
    assert result.int8_share == 0 and np.allclose(result.output, x @ weight.T + 1)


# --- SmoothQuant ---------------------------------------------------------------------------------


def test_smoothing_scales_follow_the_formula():
    weight = np.array([[1.0, -0.5, 2.0], [0.25, 4.0, -1.0]])
    absmax = np.array([16.0, 1.0, 9.0])
    for alpha in (0.0, 0.5, 0.8, 1.0):
        expected = [16**alpha / 1 ** (1 - alpha), 1**alpha / 4 ** (1 - alpha), 9**alpha / 2 ** (1 - alpha)]
        assert np.allclose(smoothquant.smoothing_scales(absmax, weight, alpha), expected)


def test_smoothing_balances_activation_and_weight_ranges_at_half():
    x = _with_outlier_channel(np.random.default_rng(8))
    weight = np.random.default_rng(9).normal(size=(32, 128)).astype(np.float32)
    s = smoothquant.smoothing_scales(stats.channel_absmax(x), weight, 0.5)
    x_s, w_s = smoothquant.smooth(x, weight, s)
    assert np.allclose(np.abs(x_s).max(axis=0), np.abs(w_s).max(axis=0), rtol=1e-5)  # max|X_j/s| = max|W_j s|
    assert np.allclose(x_s @ w_s.T, x @ weight.T, rtol=1e-4, atol=1e-3)


def test_folding_into_a_layer_norm_and_into_the_previous_linear_keeps_the_output():
    rng = np.random.default_rng(10)
    h = rng.normal(size=(20, 64))
    gain, bias = rng.normal(size=64), rng.normal(size=64)
    weight, weight_bias = rng.normal(size=(16, 64)), rng.normal(size=16)
    normed = (h - h.mean(1, keepdims=True)) / h.std(1, keepdims=True)
    s = smoothquant.smoothing_scales(np.abs(normed * gain + bias).max(0), weight, 0.5)
    gain_s, bias_s = smoothquant.fold_into_norm(gain, bias, s)
    exact = (normed * gain + bias) @ weight.T + weight_bias
    assert np.allclose((normed * gain_s + bias_s) @ smoothquant.fold_into_next(weight, s).T + weight_bias, exact)
    previous, previous_bias = rng.normal(size=(64, 32)), rng.normal(size=64)  # a linear that produces x
    z = rng.normal(size=(20, 32))
    p_s, pb_s = smoothquant.fold_into_linear(previous, previous_bias, s)
    exact = (z @ previous.T + previous_bias) @ weight.T
    assert np.allclose((z @ p_s.T + pb_s) @ smoothquant.fold_into_next(weight, s).T, exact)


def test_smoothing_a_zero_channel_gives_a_finite_exact_result():
    x = np.random.default_rng(12).normal(size=(8, 6)).astype(np.float32)
    weight = np.random.default_rng(13).normal(size=(4, 6)).astype(np.float32)
    x[:, 2] = 0.0
    weight[:, 4] = 0.0
    s = smoothquant.smoothing_scales(stats.channel_absmax(x), weight, 0.5)
    assert np.isfinite(s).all() and s[2] == 1 and s[4] == 1
    x_s, w_s = smoothquant.smooth(x, weight, s)
    assert np.allclose(x_s @ w_s.T, x @ weight.T, atol=1e-5)


# --- Hadamard rotations --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 16, 256, 1024])
def test_sylvester_matrix_is_scipys_hadamard(n):
    assert np.array_equal(hadamard.hadamard_matrix(n), scipy.linalg.hadamard(n))


def test_paley_h12_is_a_hadamard_matrix():
    assert set(np.unique(hadamard.H12)) == {-1, 1}
    assert np.array_equal(hadamard.H12 @ hadamard.H12.T, 12 * np.eye(12, dtype=int))


@pytest.mark.parametrize("n", [1, 8, 12, 48, 384, 1536, 1024])
def test_fast_transform_equals_the_explicit_matrix_and_is_orthogonal(n):
    x = np.random.default_rng(n).normal(size=(5, n))
    H = hadamard.hadamard_matrix(n)
    assert np.array_equal(H @ H.T, n * np.eye(n, dtype=np.int64))
    assert np.allclose(hadamard.walsh_hadamard(x), x @ H.T / np.sqrt(n))
    assert np.allclose(hadamard.walsh_hadamard(x, transpose=True), x @ H / np.sqrt(n))
    rotation = hadamard.random_hadamard(n, seed=n)
    Q = rotation.matrix()
    assert np.allclose(Q @ Q.T, np.eye(n)) and np.allclose(rotation.rotate(x), x @ Q)
    assert np.allclose(rotation.unrotate(rotation.rotate(x)), x)
    assert np.allclose(np.linalg.norm(rotation.rotate(x), axis=1), np.linalg.norm(x, axis=1))


@pytest.mark.parametrize("n", [1, 2, 8, 12, 48, 256, 384, 1024, 1536])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factored_transform_equals_the_butterfly(n, dtype):
    x = np.random.default_rng(n).normal(size=(3, 7, n)).astype(dtype)
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for transpose in (False, True):
        fast = hadamard.walsh_hadamard(x, transpose)
        assert fast.dtype == dtype and fast.shape == x.shape
        np.testing.assert_allclose(fast, hadamard.walsh_hadamard_butterfly(x, transpose), **tolerance)


def test_rotation_folded_into_the_weight_keeps_the_output():
    x = _with_outlier_channel(np.random.default_rng(14), width=384).astype(np.float64)
    weight = np.random.default_rng(15).normal(size=(40, 384))
    x_q, w_q = hadamard.rotate_linear(x, weight, hadamard.random_hadamard(384, seed=1))
    assert np.allclose(x_q @ w_q.T, x @ weight.T)


def test_rotation_spreads_an_outlier_channel():
    x = _with_outlier_channel(np.random.default_rng(16), width=256, size=100.0)
    rotated = hadamard.random_hadamard(256).rotate(x)
    assert stats.channel_kurtosis(rotated).max() < 1.0 < stats.channel_kurtosis(x).max()
    assert np.abs(rotated).max() < np.abs(x).max() / 5


def test_random_signs_depend_on_the_seed_only():
    a, b = hadamard.random_hadamard(64, seed=3), hadamard.random_hadamard(64, seed=3)
    assert np.array_equal(a.signs, b.signs) and set(np.unique(a.signs)) == {-1.0, 1.0}
    assert not np.array_equal(a.signs, hadamard.random_hadamard(64, seed=4).signs)


# --- statistics ----------------------------------------------------------------------------------


def test_channel_statistics_match_scipy():
    x = np.random.default_rng(17).standard_t(df=4, size=(300, 12)).astype(np.float32)
    assert np.allclose(stats.channel_kurtosis(x), scipy.stats.kurtosis(x.astype(np.float64), axis=0))
    assert np.array_equal(stats.channel_absmax(x), np.max(np.abs(x), axis=0))
    x[:, 3] = 2.5
    assert np.isnan(stats.channel_kurtosis(x)[3])  # as scipy: undefined for a constant


def test_histogram_counts_take_numpys_fast_path_with_the_same_counts():
    from quantlab.plots.base import histogram_counts

    rng = np.random.default_rng(19)
    values = rng.standard_t(df=3, size=(500, 40))
    edges = np.linspace(-4.0, 4.0, 82)
    values[0, :3] = edges[[0, 40, -1]]  # on edges: the first, a middle one, the last (closed on the right)
    assert np.array_equal(histogram_counts(values, edges), np.histogram(values, bins=edges)[0])
    # float32 values (the activations): equal unless one lies within float32 rounding of an edge, where numpy 1.24's
    # search over edges compares in float32 and its fast path in float64 (numpy 2 compares both in float64)
    assert np.array_equal(
        histogram_counts(values[1:].astype(np.float32), edges),
        np.histogram(values[1:].astype(np.float32), bins=edges)[0],
    )
    uneven = np.array([-4.0, -1.0, 0.0, 0.5, 4.0])
    assert np.array_equal(histogram_counts(values, uneven), np.histogram(values, bins=uneven)[0])


def test_layer_stats_counts_outlier_features():
    x = np.zeros((50, 10), np.float32)
    x[:5, 2] = 7.0
    x[0, 8] = -6.5
    s = stats.layer_stats("toy", x)
    assert s.outlier_features.tolist() == [2, 8] and np.allclose(s.token_share, [0.1, 0.02])
    assert s.max_abs == 7.0 and s.n_tokens == 50 and s.width == 10


def test_systematic_features_need_enough_layers_and_positions():
    layers = [np.zeros((100, 6), np.float32) for _ in range(8)]
    for x in layers[:2]:
        x[:10, 1] = 8.0  # 2 of 8 layers (25%), 20 of 800 positions (2.5%): too rare
    for x in layers[:4]:
        x[:20, 3] = -9.0  # 4 of 8 layers (50%), 80 of 800 positions (10%): systematic
    layers[0][:100, 5] = 7  # every position of one layer only (12.5% of layers): not systematic
    found = stats.systematic_features(layers)
    assert found.features.tolist() == [3] and found.layer_share[0] == 0.5 and found.token_share[0] == 0.1


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_activations_are_refused_by_name(bad):
    x = np.ones((4, 8), np.float32)
    x[1, 2] = bad
    weight = np.ones((3, 8), np.float32)
    for call in (
        lambda: w8a8.quantized_linear(x, weight),
        lambda: llm_int8.decomposed_linear(x, weight),
        lambda: stats.channel_absmax(x),
        lambda: smoothquant.smooth(x, weight, np.ones(8)),
        lambda: hadamard.random_hadamard(8).rotate(x),
    ):
        with pytest.raises(ValueError, match=r"x contains .* at index \(1, 2\)"):
            call()


def test_mismatched_shapes_are_refused_clearly():
    x, weight = np.ones((4, 8), np.float32), np.ones((3, 6), np.float32)
    with pytest.raises(ValueError, match="x has 8 features but weight has shape"):
        w8a8.quantized_linear(x, weight)
    with pytest.raises(ValueError, match="x has 8 features but weight has shape"):
        llm_int8.decomposed_linear(x, weight)
    with pytest.raises(ValueError, match=r"bias has shape \(4,\)"):
        w8a8.quantized_linear(x, np.ones((3, 8)), bias=np.ones(4))
    with pytest.raises(ValueError, match="activation_absmax has shape"):
        smoothquant.smoothing_scales(np.ones(7), weight)
    with pytest.raises(ValueError, match="scales has shape"):
        smoothquant.smooth(x, np.ones((3, 8)), np.ones(5))
    with pytest.raises(ValueError, match="rotation is 16 wide"):
        hadamard.random_hadamard(16).rotate(x)
    with pytest.raises(ValueError, match="all three must agree"):
        hadamard.rotate_linear(x, np.ones((3, 8)), hadamard.random_hadamard(16))
    with pytest.raises(ValueError, match="pass a 2-D"):
        w8a8.quantized_linear(np.ones(8), np.ones((3, 8)))
    with pytest.raises(ValueError, match="widths"):
        stats.systematic_features([np.ones((3, 8)), np.ones((3, 6))])


@pytest.mark.parametrize("width, padded", [(3, 4), (100, 128), (385, 512), (20, 24)])
def test_unsupported_hadamard_widths_say_what_to_pad_to(width, padded):
    with pytest.raises(ValueError, match=f"neither a power of two nor 12 x a power of two.*to {padded}"):
        hadamard.random_hadamard(width)
    with pytest.raises(ValueError, match="neither a power of two"):
        hadamard.walsh_hadamard(np.ones((2, width)))


def test_bad_parameters_are_refused():
    x, weight = np.ones((4, 8), np.float32), np.ones((3, 8), np.float32)
    with pytest.raises(ValueError, match="granularity='row'"):
        w8a8.quantized_linear(x, weight, granularity="row")
    with pytest.raises(ValueError, match="activation_bits|bits=1"):
        w8a8.quantized_linear(x, weight, activation_bits=1)
    with pytest.raises(ValueError, match="threshold=-1"):
        llm_int8.decomposed_linear(x, weight, threshold=-1)
    with pytest.raises(ValueError, match="alpha=1.5"):
        smoothquant.smoothing_scales(np.ones(8), weight, alpha=1.5)
    with pytest.raises(ValueError, match="non-positive"):
        smoothquant.smooth(x, weight, np.zeros(8))
    with pytest.raises(ValueError, match="negative"):
        smoothquant.smoothing_scales(-np.ones(8), weight)
    with pytest.raises(TypeError, match="integer/bool dtype"):
        w8a8.quantized_linear(np.ones((4, 8), np.int32), weight)


# --- a planted lone outlier vs an outlier channel ------------------------------------------------


def test_rotation_rescues_an_outlier_channel_at_any_scale():
    for scale in ("tensor", "row"):
        plain, rotated = (planted.planted_error("channel", scale, r) for r in (False, True))
        assert rotated.relative_error < plain.relative_error / 5, scale


def test_rotation_shrinks_a_lone_spike_only_by_sqrt_n_so_a_shared_scale_still_suffers():
    clean = planted.planted_error("none", "tensor", rotated=True)
    plain, rotated = (planted.planted_error("lone", "tensor", r) for r in (False, True))
    assert rotated.relative_error < plain.relative_error / 5  # 100 -> about 100 / sqrt(384) ~ 5
    assert rotated.relative_error > 1.3 * clean.relative_error  # ... still above the clean matrix's error
    huge = planted.planted_error("lone", "tensor", True, size=2000.0)  # a larger spike: rotation cannot keep up
    assert huge.median_row_error > 10 * clean.median_row_error
    per_row = planted.planted_error("lone", "row", rotated=False)  # per-row scales confine it to its own row
    assert per_row.median_row_error < 1.05 * planted.planted_error("none", "row").median_row_error


def test_rotation_cannot_quiet_a_loud_row():
    plain, rotated = (planted.planted_error("row", "tensor", r) for r in (False, True))
    assert rotated.relative_error > 0.8 * plain.relative_error
    assert (
        planted.planted_error("row", "row").median_row_error
        < 1.05 * planted.planted_error("none", "row").median_row_error
    )


def test_rotation_on_weights_reports_both_scales():
    w = planted.planted("channel", rows=32, width=384)
    (row,) = effects.rotation_on_weights({"w": w}, bits=4)
    assert (
        row["max_over_std"] > 20 and row["tensor_rotated"] < row["tensor"] / 2 and row["row_rotated"] < row["row"] / 2
    )
    c, s = w8a8.quantize_symmetric(w, 4, None)
    assert row["tensor"] == pytest.approx(np.linalg.norm(c * s - w) / np.linalg.norm(w))


def test_planted_matrices_and_bad_kinds():
    assert planted.planted("lone")[3, 7] == 100 and np.abs(planted.planted("lone")).max() == 100
    assert planted.planted("channel", size=50)[:, 7].mean() == pytest.approx(50, rel=0.05)
    with pytest.raises(ValueError, match="kind='spike'"):
        planted.planted("spike")
    with pytest.raises(ValueError, match="scale='column'"):
        planted.planted_error("lone", scale="column")


# --- one layer, one knob -------------------------------------------------------------------------


def test_threshold_effect_sends_fewer_features_to_float_as_the_threshold_rises():
    x = _with_outlier_channel(np.random.default_rng(20), size=10.0)
    weight = np.random.default_rng(21).normal(size=(32, 128)).astype(np.float32)
    layer = effects.Layer(x, weight)
    effects_ = [layer.threshold(t) for t in (2.0, 6.0, 100.0)]
    assert [e.n_float_features for e in effects_] == sorted((e.n_float_features for e in effects_), reverse=True)
    assert effects_[-1].n_float_features == 0 and effects_[-1].int8_share == 1.0
    assert effects_[1].n_float_features >= 1 and effects_[1].relative_error < effects_[-1].relative_error


def test_alpha_half_balances_the_two_difficulties_and_the_ends_put_all_on_one_side():
    x = _with_outlier_channel(np.random.default_rng(22))
    weight = np.random.default_rng(23).normal(size=(32, 128)).astype(np.float32)
    half, zero, one = (effects.Layer(x, weight).alpha(a) for a in (0.5, 0.0, 1.0))
    assert half.activation_difficulty == pytest.approx(half.weight_difficulty, rel=1e-4)
    assert zero.weight_difficulty == pytest.approx(1.0) and one.activation_difficulty == pytest.approx(1.0)
    assert half.relative_error < half.unsmoothed_error


def test_rotation_effect_flattens_the_tails():
    x = _with_outlier_channel(np.random.default_rng(24), size=50.0)
    weight = np.random.default_rng(25).normal(size=(32, 128)).astype(np.float32)
    result = effects.Layer(x, weight, granularity="tensor").rotation()
    assert np.nanmax(result.kurtosis_after) < 1.0 < np.nanmax(result.kurtosis_before)
    assert result.error_after < result.error_before / 3 and result.rotated.shape == x.shape


def test_layer_refuses_bad_settings():
    x, weight = np.ones((4, 8), np.float32), np.ones((3, 8), np.float32)
    with pytest.raises(ValueError, match="granularity='rows'"):
        effects.Layer(x, weight, granularity="rows")
    with pytest.raises(ValueError, match="bits=9"):
        effects.Layer(x, weight, bits=9)
    with pytest.raises(ValueError, match="threshold=0"):
        effects.Layer(x, weight).threshold(0)
    with pytest.raises(ValueError, match="width 10 is neither a power of two"):
        effects.Layer(np.ones((4, 10), np.float32), np.ones((3, 10), np.float32)).rotation()


def test_per_tensor_weight_scales():
    weight = np.array([[1.0, -2.0], [0.5, 8.0]], np.float32)
    codes, scale = w8a8.quantize_weight(weight, 8, "tensor")
    assert scale.shape == () and scale == pytest.approx(8 / 127) and codes[1, 1] == 127 and codes[0, 0] == 16
    x, _ = _on_grid((6, 32), 8, 1, np.random.default_rng(30))
    w = (np.random.default_rng(31).integers(-127, 128, size=(5, 32)) * 0.5).astype(np.float32)
    w[0, 0] = 63.5
    y = w8a8.quantized_linear(x, w, weight_granularity="tensor")
    assert np.array_equal(y, (x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.float32))
    with pytest.raises(ValueError, match="weight granularity='row'"):
        w8a8.quantize_weight(weight, 8, "row")
