"""Notebook 09's material: GPTQ's walk, AWQ's curve, the methods' table and the exercise's check."""

import numpy as np
import pytest

from quantlab import checks
from quantlab.calibration import awq, gptq, lesson, objective
from quantlab.calibration.base import round_to_nearest
from quantlab.lm import CharLM
from quantlab.lm.evaluation import heldout_text


@pytest.fixture(scope="module")
def layer():
    """A small layer with correlated inputs (a low-rank mix plus noise), as real activations are."""
    rng = np.random.default_rng(0)
    weight = rng.normal(0, 0.05, (8, 64))
    inputs = rng.normal(size=(512, 8)) @ rng.normal(size=(8, 64)) + 0.1 * rng.normal(size=(512, 64))
    return weight, inputs


@pytest.mark.parametrize("act_order", [False, True])
def test_walk_ends_at_gptqs_and_rtns_output_errors(layer, act_order):
    weight, inputs = layer
    walk = lesson.GPTQWalk.run(weight, inputs, bits=3, group_size=16, act_order=act_order)
    result = gptq.gptq(weight, gptq.Hessian.from_inputs(inputs), bits=3, group_size=16, act_order=act_order)
    assert walk.gptq_error[0] == 0 and walk.rtn_error[0] == 0
    np.testing.assert_allclose(
        walk.gptq_error[-1], objective.output_error(weight, result.weight, inputs).relative, rtol=1e-9
    )
    rtn = round_to_nearest(weight, 3, group_size=16)
    np.testing.assert_allclose(walk.rtn_error[-1], objective.output_error(weight, rtn, inputs).relative, rtol=1e-9)
    np.testing.assert_array_equal(np.sort(walk.column), np.arange(64))
    assert walk.gptq_error[-1] < walk.rtn_error[-1]  # correlated inputs: GPTQ gains
    assert not walk.update[-1].any() and walk.update[0].any()  # the last step has no column left to update
    assert "no column left" in walk.text(63) and "column" in walk.text(0)


def test_awq_curve_matches_the_search_and_starts_at_rtn(layer):
    weight, inputs = layer
    alphas, errors = lesson.awq_curve(weight, inputs, bits=3, group_size=16)
    assert alphas[-1] == 1.0 and len(alphas) == awq.N_GRID + 1
    rtn = objective.output_error(weight, round_to_nearest(weight, 3, group_size=16), inputs).relative
    np.testing.assert_allclose(errors[0], rtn, rtol=1e-9)
    search = awq.awq(weight, inputs, bits=3, group_size=16)
    reference = objective.output_error(weight, np.zeros_like(weight), inputs).total  # ||WX||^2
    np.testing.assert_allclose(errors[:-1], search.errors / reference, rtol=1e-6)
    assert "alpha 0.50" in lesson.awq_text(alphas, errors, 0.5)


def test_layer_table_rows_and_text(layer):
    weight, inputs = layer
    rows = lesson.layer_table(weight, inputs, inputs, settings=((3, 16),), gguf_types=())
    assert [r.method for r in rows] == list(lesson.METHODS)
    rtn = objective.output_error(weight, round_to_nearest(weight, 3, group_size=16), inputs).relative
    np.testing.assert_allclose(rows[0].relative_error, rtn, rtol=1e-9)
    assert rows[0].bits_per_weight == pytest.approx(3 + (32 + 3) / 16)  # float32 scale + 3-bit zero point
    text = lesson.layer_table_text(rows)
    assert "INT3 GPTQ" in text and "seconds" not in text and "seconds" in lesson.layer_table_text(rows, seconds=True)


def test_gguf_rows_use_the_types_bits_and_the_imatrix():
    rng = np.random.default_rng(1)
    weight = rng.normal(0, 0.05, (4, 256))
    inputs = rng.normal(size=(64, 256)) * np.linspace(0.1, 3, 256)
    plain, _ = lesson.quantize_layer("Q3_K", weight, inputs)
    weighted, _ = lesson.quantize_layer("Q3_K + imatrix", weight, inputs)
    assert lesson.method_bits("Q3_K + imatrix", weight, None, None) == pytest.approx(3.4375)
    assert not np.array_equal(plain, weighted)
    with pytest.raises(ValueError, match="method"):
        lesson.quantize_layer("Q3_K + magic", weight, inputs)
    with pytest.raises(ValueError, match="method"):
        lesson.quantize_layer("SpQR", weight, inputs)


def test_flattery_table_is_the_output_error_of_each_calibration(layer):
    weight, inputs = layer
    other = inputs[::-1] * 1.5
    table = lesson.flattery_table(weight, inputs, {"training": other, "held-out": inputs}, methods=("GPTQ",))
    direct = gptq.gptq(weight, gptq.Hessian.from_inputs(other), bits=3, group_size=32).weight
    np.testing.assert_allclose(table["GPTQ", "training"], objective.output_error(weight, direct, inputs).relative)
    assert "held-out text" in lesson.flattery_text(table)


def test_windows_and_training_text():
    model = CharLM.load()
    with pytest.raises(ValueError, match="text="):
        lesson.windows(model, "wikipedia")
    ids = lesson.windows(model, "random", 4, seed=2)
    assert ids.shape == (4, model.config.context_length) and ids.min() >= 1 and ids.max() < model.vocab_size
    training = lesson.training_text()
    assert heldout_text()[:300] not in training and len(training) > 1_000_000  # the held-out plays stay out


def test_check_awq_alpha_names_the_mistakes(capsys):
    weight, inputs = lesson.layer_case()
    best = awq.awq(weight, inputs, bits=3, group_size=32).alpha  # the reference search, not the check's curve
    assert checks.check_awq_alpha(best)
    assert not checks.check_awq_alpha(0.0) and "round-to-nearest" in capsys.readouterr().out
    assert not checks.check_awq_alpha(1.0) and "never tried" in capsys.readouterr().out
    assert not checks.check_awq_alpha(0.33) and "not on AWQ's grid" in capsys.readouterr().out
    other = 0.9 if best < 0.7 else 0.2
    assert not checks.check_awq_alpha(other) and "Not the lowest" in capsys.readouterr().out
    assert not checks.check_awq_alpha(None)
    with pytest.raises(TypeError, match="alpha"):
        checks.check_awq_alpha("half")


def test_layer_case_refuses_a_tensor_that_is_not_a_matrix():
    with pytest.raises(ValueError, match="not a matrix"):
        lesson.layer_case("blk.0.attn_norm.weight")
    with pytest.raises(ValueError, match="not a matrix"):
        lesson.layer_case("blk.9.attn_q.weight")
