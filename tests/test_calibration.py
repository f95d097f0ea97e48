"""quantlab.calibration: the output-error objective, the importance matrix, GPTQ and AWQ.

Every check compares with an independent formulation: literal loops, explicit inverses, plain
round-to-nearest, or algebraic identities that must hold (folding leaves the layer unchanged).
"""

import warnings

import numpy as np
import pytest

from quantlab.calibration import awq, gptq, imatrix, objective
from quantlab.calibration.base import round_to_nearest


def layer(seed=0, out=16, width=48, tokens=400, correlated=True):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((out, width))
    inputs = rng.standard_normal((tokens, width))
    if correlated:  # a few shared factors: strongly correlated input features
        inputs = rng.standard_normal((tokens, 4)) @ rng.standard_normal((4, width)) + 0.05 * inputs
    return weight, inputs


# ----------------------------------------------------------------------------- objective


def test_output_error_is_the_sum_over_tokens_and_outputs():
    weight, inputs = layer(1)
    weight_hat = weight + np.random.default_rng(2).normal(0, 0.1, weight.shape)
    expected = sum(float(np.sum((weight @ x - weight_hat @ x) ** 2)) for x in inputs)
    result = objective.output_error(weight, weight_hat, inputs)
    assert result.total == pytest.approx(expected, rel=1e-12)
    assert result.per_token == pytest.approx(expected / len(inputs), rel=1e-12)
    assert result.relative == pytest.approx(expected / sum(float(np.sum((weight @ x) ** 2)) for x in inputs))


def test_layer_objective_via_the_gram_matrix_equals_output_error():
    weight, inputs = layer(3)
    weight_hat = round_to_nearest(weight, 3, group_size=16)
    fast, plain = (
        objective.LayerObjective(weight, inputs)(weight_hat),
        objective.output_error(weight, weight_hat, inputs),
    )
    assert fast.total == pytest.approx(plain.total, rel=1e-9)
    assert fast.relative == pytest.approx(plain.relative, rel=1e-9)
    assert objective.LayerObjective(weight, inputs)(weight).total == 0


def test_output_error_bad_shapes():
    weight, inputs = layer(1)
    with pytest.raises(ValueError, match="weight_hat has shape"):
        objective.output_error(weight, weight[:, :8], inputs)
    with pytest.raises(ValueError, match="input features"):
        objective.output_error(weight, weight, inputs[:, :8])
    bad = inputs.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="nan"):
        objective.output_error(weight, weight, bad)


# ----------------------------------------------------------------------------- importance matrix


def test_imatrix_is_the_float32_running_sum_of_squares_over_the_count():
    inputs = np.random.default_rng(3).standard_normal((100, 24)).astype(np.float32) * 3
    acc = np.zeros(24, dtype=np.float32)
    for x in inputs:  # imatrix.cpp: acc[j] += x[j] * x[j], token by token
        acc += x * x
    assert np.array_equal(imatrix.collect(inputs), acc / np.float32(100))


def test_imatrix_over_batches_skips_batches_under_16_tokens():
    inputs = np.random.default_rng(4).standard_normal((70, 8)).astype(np.float32)
    collector = imatrix.ImatrixCollector(8)
    taken = [collector.update(inputs[:30]), collector.update(inputs[30:40]), collector.update(inputs[40:])]
    assert taken == [True, False, True] and collector.count == 60
    kept = np.concatenate([inputs[:30], inputs[40:]])
    assert np.array_equal(collector.importance(), imatrix.collect(kept))


def test_imatrix_is_half_the_diagonal_of_gptqs_hessian():
    _, inputs = layer(5)
    hessian = gptq.Hessian.from_inputs(inputs)
    assert np.allclose(imatrix.collect(inputs), np.diag(hessian.matrix) / 2, rtol=1e-5)


def test_imatrix_bad_input():
    with pytest.raises(ValueError, match="features per token"):
        imatrix.ImatrixCollector(8).update(np.ones((20, 9)))
    with pytest.raises(ValueError, match="no tokens"):
        imatrix.collect(np.ones((10, 8)))
    with pytest.raises(ValueError, match="inf"):
        imatrix.collect(np.full((20, 8), np.inf))
    with pytest.raises(ValueError, match="overflowed"):
        imatrix.collect(np.full((20, 8), 1e30))


# ----------------------------------------------------------------------------- GPTQ

CONFIGS = [
    dict(),
    dict(bits=3, group_size=16),
    dict(group_size=8, act_order=True),
    dict(group_size=16, act_order=True, static_groups=True),
    dict(scheme="symmetric", bits=2),
    dict(group_size=24, act_order=True),
]


@pytest.mark.parametrize("block_size", [128, 10, 1])
@pytest.mark.parametrize("config", CONFIGS)
def test_gptq_equals_sequential_obs_with_explicit_inverse(config, block_size):
    weight, inputs = layer(6)
    hessian = gptq.Hessian.from_inputs(inputs)
    fast = gptq.gptq(weight, hessian, block_size=block_size, **config)
    slow = gptq.gptq_reference(weight, hessian, **config)
    assert np.array_equal(fast.codes, slow.codes)
    assert np.array_equal(fast.group_index, slow.group_index)
    assert np.allclose(fast.weight, slow.weight, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "config",
    [
        dict(),
        dict(group_size=8),
        dict(bits=3, scheme="symmetric", group_size=16),
        dict(group_size=16, act_order=True, static_groups=True),
    ],
)
def test_gptq_with_a_diagonal_hessian_is_round_to_nearest(config):
    weight, _ = layer(7)
    diagonal = gptq.Hessian.from_matrix(np.diag(np.random.default_rng(7).uniform(0.1, 5, 48)))
    result = gptq.gptq(weight, diagonal, **config)
    options = {k: v for k, v in config.items() if k not in ("act_order", "static_groups")}
    assert np.array_equal(result.weight, round_to_nearest(weight, **options))


def test_gptq_loss_estimate_is_the_exact_quadratic_error():
    """Sum of the OBS losses = 1/2 tr((W - W_hat) H (W - W_hat)^T) with the damped H: an identity."""
    weight, inputs = layer(8)
    hessian = gptq.Hessian.from_inputs(inputs)
    result = gptq.gptq(weight, hessian, bits=3, group_size=16, act_order=True)
    damped = hessian.matrix + result.damp * np.eye(48)
    difference = weight - result.weight
    assert result.column_loss.sum() == pytest.approx(0.5 * np.trace(difference @ damped @ difference.T), rel=1e-9)


def test_gptq_gains_nothing_on_isotropic_inputs_and_much_on_correlated_ones():
    ratios = {}
    for correlated in (False, True):
        weight, inputs = layer(9, out=32, width=64, tokens=4000, correlated=correlated)
        result = gptq.gptq(weight, gptq.Hessian.from_inputs(inputs), bits=3)
        ratios[correlated] = (
            objective.output_error(weight, result.weight, inputs).total
            / objective.output_error(weight, round_to_nearest(weight, 3), inputs).total
        )
    assert 0.9 < ratios[False] < 1.02  # independent unit-variance features: H ~ identity
    assert ratios[True] < 0.3  # four shared factors: most of the error is cancelled


def test_gptq_dead_columns_are_zeroed():
    weight, inputs = layer(10)
    inputs[:, [3, 17]] = 0
    result = gptq.gptq(weight, gptq.Hessian.from_inputs(inputs))
    assert result.dead[[3, 17]].all() and result.dead.sum() == 2
    assert np.all(result.weight[:, [3, 17]] == 0)


def test_hessian_over_batches_equals_one_batch():
    _, inputs = layer(11)
    batched = gptq.Hessian(48)
    for part in np.array_split(inputs, 7):
        batched.update(part)
    whole = gptq.Hessian.from_inputs(inputs)
    assert batched.n_tokens == 400 and np.allclose(batched.matrix, whole.matrix, rtol=1e-12, atol=1e-12)
    assert np.allclose(whole.matrix, 2 * inputs.T @ inputs / len(inputs))


def test_gptq_singular_hessian_without_dampening_explains_itself():
    weight, inputs = layer(12, tokens=10)
    with pytest.warns(UserWarning, match="10 calibration tokens for 48 input features"):
        with pytest.raises(ValueError, match=r"not positive definite even after dampening.*raise percdamp"):
            gptq.gptq(weight, gptq.Hessian.from_inputs(inputs), percdamp=0)


def test_gptq_too_few_tokens_warns_but_dampening_saves_it():
    weight, inputs = layer(12, tokens=10)
    with pytest.warns(UserWarning, match="rank <= 10"):
        result = gptq.gptq(weight, gptq.Hessian.from_inputs(inputs))
    assert np.isfinite(result.weight).all()


def test_gptq_bad_input():
    weight, inputs = layer(13)
    hessian = gptq.Hessian.from_inputs(inputs)
    with pytest.raises(ValueError, match="collect H from the inputs of this layer"):
        gptq.gptq(weight[:, :40], hessian)
    with pytest.raises(TypeError, match="Hessian"):
        gptq.gptq(weight, hessian.matrix)
    with pytest.raises(ValueError, match="group_size=10 does not divide"):
        gptq.gptq(weight, hessian, group_size=10)
    with pytest.raises(ValueError, match="percdamp"):
        gptq.gptq(weight, hessian, percdamp=-1)
    bad = inputs.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        gptq.Hessian.from_inputs(bad)
    with pytest.raises(ValueError, match="features per token"):
        hessian.update(inputs[:, :40])
    with pytest.raises(ValueError, match="symmetric square"):
        gptq.Hessian.from_matrix(np.triu(np.ones((4, 4))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gptq.gptq(weight, hessian)  # enough tokens: no warning


# ----------------------------------------------------------------------------- AWQ


def outlier_layer(seed=14):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((32, 64)) * 0.05
    inputs = rng.standard_normal((1000, 64)) * np.exp(rng.standard_normal(64) * 1.2)
    return weight, inputs


def test_folding_into_a_norm_leaves_the_output_unchanged():
    rng = np.random.default_rng(15)
    weight, gain, bias = rng.standard_normal((8, 16)), rng.uniform(0.5, 2, 16), rng.standard_normal(16)
    normalized = rng.standard_normal((50, 16))  # a norm's output before its gain and bias
    scales = awq.scales_for(rng.uniform(0.01, 10, 16), 0.5)
    new_gain, new_bias = awq.fold_into_norm(gain, scales, bias)
    before = (normalized * gain + bias) @ weight.T
    after = (normalized * new_gain + new_bias) @ awq.scale_weight(weight, scales).T
    assert np.allclose(after, before, rtol=1e-12, atol=1e-12)


def test_folding_into_the_previous_linear_leaves_the_output_unchanged():
    rng = np.random.default_rng(16)
    first, first_bias, second = rng.standard_normal((16, 8)), rng.standard_normal(16), rng.standard_normal((4, 16))
    x = rng.standard_normal((50, 8))
    scales = awq.scales_for(rng.uniform(0.01, 10, 16), 0.7)
    new_first, new_bias = awq.fold_into_linear(first, scales, first_bias)
    before = (x @ first.T + first_bias) @ second.T
    after = (x @ new_first.T + new_bias) @ awq.scale_weight(second, scales).T
    assert np.allclose(after, before, rtol=1e-12, atol=1e-12)


def test_awq_alpha_zero_is_round_to_nearest_and_the_curve_is_returned():
    weight, inputs = outlier_layer()
    result = awq.awq(weight, inputs, bits=3, group_size=16)
    assert np.array_equal(result.alphas, np.arange(20) / 20)  # 0 .. 0.95: never 1
    rtn = round_to_nearest(weight, 3, group_size=16)
    assert result.errors[0] == pytest.approx(objective.output_error(weight, rtn, inputs).total, rel=1e-9)
    assert np.array_equal(
        awq.quantize_scaled(weight, awq.scales_for(np.abs(inputs).mean(0), 0.0), 3, group_size=16)[1], rtn
    )
    assert result.alpha == result.alphas[np.argmin(result.errors)] > 0
    assert result.errors.min() < 0.7 * result.errors[0]  # outlier channels: AWQ helps
    assert objective.output_error(weight, result.weight, inputs).total == pytest.approx(result.errors.min(), rel=1e-9)


def test_awq_scales_are_normalised_as_the_reference():
    statistic = np.array([1e-9, 0.5, 2.0, 40.0])
    s = awq.scales_for(statistic, 0.5)
    raw = np.maximum(statistic**0.5, 1e-4)
    assert np.allclose(s, raw / np.sqrt(raw.max() * raw.min()))
    assert s.max() * s.min() == pytest.approx(1.0)


def test_awq_auto_clip_picks_shrunk_ranges_from_the_grid():
    weight, inputs = outlier_layer()
    result = awq.awq(weight, inputs, bits=3, group_size=16, auto_clip=True)
    scaled = (weight * result.scales).reshape(32, 4, 16)
    top = np.abs(scaled).max(axis=-1)
    ratios = result.clip / top
    assert np.allclose(ratios * 20, np.round(ratios * 20)) and ratios.min() >= 0.55 and ratios.max() <= 1
    assert (ratios < 1).any()


def test_awq_bad_input():
    weight, inputs = outlier_layer()
    with pytest.raises(ValueError, match="input features"):
        awq.awq(weight, inputs[:, :10])
    with pytest.raises(ValueError, match="scales must all be > 0"):
        awq.fold_into_norm(np.ones(4), np.array([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="output rows"):
        awq.fold_into_linear(np.ones((5, 3)), np.ones(4))
    with pytest.raises(ValueError, match="1-D"):
        awq.fold_into_norm(np.ones((2, 2)), np.ones(4))


def test_inverse_cholesky_upper_factors_the_inverse_hessian():
    _, inputs = layer(17)
    matrix = gptq.Hessian.from_inputs(inputs).matrix + 0.1 * np.eye(48)
    upper = gptq.inverse_cholesky_upper(matrix)
    assert np.array_equal(upper, np.triu(upper)) and (np.diag(upper) > 0).all()
    assert np.allclose(upper.T @ upper, np.linalg.inv(matrix), rtol=1e-9, atol=1e-12)
    # and the reference's route: Cholesky of H^-1, upper (numpy gives the lower factor L = U^T)
    assert np.allclose(upper, np.linalg.cholesky(np.linalg.inv(matrix)).T, rtol=1e-8, atol=1e-12)


def test_gptq_steps_reproduce_gptq_column_by_column():
    weight, inputs = layer(18, out=8, width=24)
    hessian = gptq.Hessian.from_inputs(inputs)
    config = dict(bits=3, group_size=8, act_order=True)
    result = gptq.gptq(weight, hessian, **config)
    trace = list(gptq.steps(weight, hessian, **config))
    assert [s.column for s in trace] == list(result.order)
    assert np.allclose(trace[-1].after, result.weight, rtol=0, atol=1e-12)
    assert np.allclose([s.loss for s in trace], result.column_loss[result.order])
    for step in trace:
        done = result.order[: step.step + 1]
        assert np.array_equal(step.after[:, step.column], step.rounded)
        assert np.all(step.update[:, done] == 0)  # rounded columns never move again
        assert np.allclose(
            step.after - step.before, step.update + np.where(np.arange(24) == step.column, step.after - step.before, 0)
        )
    assert np.array_equal(trace[0].before, weight)


# ----------------------------------------------------------------------------- the character model's layer inputs


def test_char_lm_reports_the_inputs_of_every_linear_layer():
    from quantlab.lm import CharLM

    model = CharLM.load()
    ids = np.arange(40).reshape(2, 20) % model.vocab_size
    inputs = {}
    logits = model.logits(ids, inputs_of=inputs)
    assert np.array_equal(logits, model.logits(ids))  # capturing changes nothing
    matrices = {
        name: shape for name, shape in model.tensor_shapes().items() if len(shape) == 2 and name != "token_embd.weight"
    }  # the embedding is a lookup
    assert sorted(inputs) == sorted(matrices)
    for name, rows in inputs.items():
        assert rows.shape == (40, matrices[name][1])
    head = inputs["output.weight"] @ model.weights["output.weight"].T
    assert np.array_equal(head.reshape(logits.shape), logits)


def test_char_lm_imatrix_and_a_mix_quantized_with_it():
    import quantlab.ggml as ggml
    from quantlab.lm import CharLM, quality

    model = CharLM.load()
    ids = np.arange(256).reshape(2, 128) % model.vocab_size
    importance = imatrix.for_char_lm(model, ids)
    assert all(name.startswith("blk.") for name in importance) and len(importance) == 18
    assert "output.weight" in imatrix.for_char_lm(model, ids, include_output=True)
    weights = model.weights
    quantized = quality.apply_mix(model, "Q4_K_M", imatrix=importance).weights
    plain = quality.apply_mix(model, "Q4_K_M").weights
    types = quality.plan_types(model.tensor_shapes(), "Q4_K_M")
    name = "blk.1.ffn_up.weight"
    expected = ggml.dequantize(
        ggml.quantize(weights[name], types[name], imatrix=importance[name]), types[name], weights[name].shape
    )
    assert np.array_equal(quantized[name], expected) and not np.array_equal(quantized[name], plain[name])
    assert np.array_equal(quantized["token_embd.weight"], plain["token_embd.weight"])
    with pytest.raises(ValueError, match="not matrices of this model"):
        quality.apply_mix(model, "Q4_K_M", imatrix={"blk.0.attn_norm.weight": np.ones(256)})
