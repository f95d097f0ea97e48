"""quantlab.lm.resumable: resuming the forward pass after an unchanged prefix gives CharLM.logits bit for bit,
skips exactly the steps before the first changed tensor, stays within its memory budget, and refuses bad input."""

import numpy as np
import pytest

from quantlab.lm import CharLM
from quantlab.lm.evaluation import evaluate, heldout_text
from quantlab.lm.quality import TensorCache, plan_types
from quantlab.lm.resumable import ResumableLogits

TEXT = heldout_text()[30000:31025]  # 1,024 predictions: 8 windows of 128
# One class changes at a time, in the order a learner might move the explorer's dropdowns; the last
# ones change only late tensors (the output head, the feed-forward down-projections).
SETTINGS = [
    ("Q4_K_M", {}),
    ("Q4_K_M", {"output": "Q2_K"}),
    ("Q4_K_M", {"output": "Q2_K", "ffn_down": "Q3_K"}),
    ("Q4_K_M", {"output": "Q8_0", "ffn_down": "Q3_K"}),
    ("Q4_K_M", {"output": "Q8_0", "ffn_down": "Q3_K", "attn_v": "IQ4_NL"}),
    ("Q4_K_M", {"output": "Q8_0", "ffn_down": "Q3_K", "attn_v": "IQ4_NL", "token_embd": "Q4_0"}),
    ("Q4_K_M", {"output": "Q2_K"}),  # seen before: resumed from its head only if still kept
]


@pytest.fixture(scope="module")
def model():
    return CharLM.load()


@pytest.fixture(scope="module")
def tensors(model):
    return TensorCache(model)


def bound_model(resumable, tensors, mix, overrides):
    types = plan_types(tensors.model.tensor_shapes(), mix, overrides)
    model, _, _ = tensors.apply(types)
    fingerprints = {name: (t, tensors.get(name, t).sha256) for name, t in types.items()}
    return model, resumable.bind(model, fingerprints)


def first_changed_step(model, before, after):
    """Index of the first step of model.stages() that reads a tensor whose type differs between two plans."""
    for index, (names, _) in enumerate(model.stages((1, 1))):
        if any(before[n] != after[n] for n in names):
            return index
    return None


def test_every_setting_equals_the_full_evaluation_bit_for_bit(model, tensors):
    resumable = ResumableLogits()
    for mix, overrides in SETTINGS:
        plain, bound = bound_model(resumable, tensors, mix, overrides)
        full = evaluate(plain, TEXT)
        resumed = evaluate(bound, TEXT, reference_logits=full.logits)
        np.testing.assert_array_equal(resumed.logits, full.logits)
        assert (resumed.perplexity, resumed.kl_divergence) == (full.perplexity, 0.0)
    assert resumable.steps_skipped > 0


def test_a_change_reruns_exactly_the_steps_from_the_first_changed_tensor(model, tensors):
    resumable = ResumableLogits()
    shapes = model.tensor_shapes()
    n_steps = len(model.stages((1, 1)))
    previous = None
    for mix, overrides in SETTINGS[:-1]:
        types = plan_types(shapes, mix, overrides)
        run_before = resumable.steps_run
        evaluate(bound_model(resumable, tensors, mix, overrides)[1], TEXT)
        expected = n_steps if previous is None else n_steps - first_changed_step(model, previous, types)
        assert resumable.steps_run - run_before == expected
        previous = types
    # The output head alone: one step of 2 * n_layer + 2 (embedding, attention and feed-forward per block, head).
    assert first_changed_step(
        model, plan_types(shapes, "Q4_K_M"), plan_types(shapes, "Q4_K_M", {"output": "Q2_K"})
    ) == (n_steps - 1)


@pytest.mark.parametrize("tensor_class", ["token_embd", "attn_qk"])
def test_an_early_change_resumes_nothing(model, tensors, tensor_class):
    resumable = ResumableLogits()
    evaluate(bound_model(resumable, tensors, "Q4_K_M", {})[1], TEXT)
    skipped = resumable.steps_skipped
    evaluate(bound_model(resumable, tensors, "Q4_K_M", {tensor_class: "Q2_K"})[1], TEXT)
    assert resumable.steps_skipped - skipped == (1 if tensor_class == "attn_qk" else 0)  # the embedding, at most


def test_other_text_shares_nothing(model, tensors):
    resumable = ResumableLogits()
    evaluate(bound_model(resumable, tensors, "Q4_K_M", {})[1], TEXT)
    _, bound = bound_model(resumable, tensors, "Q4_K_M", {"output": "Q2_K"})
    other = heldout_text()[40000:41025]
    resumed = evaluate(bound, other)
    assert resumable.steps_skipped == 0
    np.testing.assert_array_equal(resumed.logits, evaluate(bound.model, other).logits)


@pytest.mark.parametrize("budget", [0, 3 << 20])
def test_the_budget_bounds_the_kept_streams_and_results_stay_exact(model, tensors, budget):
    resumable = ResumableLogits(budget)
    for mix, overrides in SETTINGS[:3]:
        plain, bound = bound_model(resumable, tensors, mix, overrides)
        np.testing.assert_array_equal(evaluate(bound, TEXT).logits, evaluate(plain, TEXT).logits)
        assert resumable.n_bytes <= budget
    if budget == 0:
        assert resumable.steps_skipped == 0


def test_each_tensor_is_read_by_exactly_one_step(model):
    read = [name for names, _ in model.stages((1, 1)) for name in names]  # what the cache keys rely on
    assert sorted(read) == sorted(model.tensor_shapes())


@pytest.mark.parametrize("budget", [-1, 1.5, True, "64M"])
def test_a_bad_budget_is_named(budget):
    with pytest.raises(ValueError, match="budget_bytes"):
        ResumableLogits(budget)


def test_missing_fingerprints_are_named(model):
    with pytest.raises(ValueError, match="fingerprints lack 1 tensor"):
        ResumableLogits().bind(model, {name: 0 for name in list(model.tensor_shapes())[1:]})


@pytest.mark.parametrize("name", ["blk.0.attn_v.weight", "blk.1.ffn_up.weight", "blk.2.ffn_down.weight"])
def test_one_layer_changed_reruns_from_that_layer(model, tensors, name):
    resumable = ResumableLogits()
    types = plan_types(model.tensor_shapes(), "Q4_K_M")
    changed = types | {name: "Q2_K"}
    for plan in (types, changed):
        plain, _, _ = tensors.apply(plan)
        bound = resumable.bind(plain, {n: (t, tensors.get(n, t).sha256) for n, t in plan.items()})
        np.testing.assert_array_equal(evaluate(bound, TEXT).logits, evaluate(plain, TEXT).logits)
    assert resumable.steps_skipped == first_changed_step(model, types, changed)
    assert resumable.steps_skipped == next(i for i, (names, _) in enumerate(model.stages((1, 1))) if name in names)
