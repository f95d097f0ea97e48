"""Notebook 10's layer keys, curves and readouts (quantlab.activations.layers / reports / published)."""

import numpy as np
import pytest

from quantlab.activations import layers, published, reports
from quantlab.activations.w8a8 import quantized_linear


def test_keys_name_the_weight_they_read():
    assert layers.weight_name("minilm.1.ffn_up") == "encoder.layer.1.intermediate.dense.weight"
    assert layers.weight_name("minilm.0.ffn_down") == "encoder.layer.0.output.dense.weight"
    assert layers.weight_name("char.2.attn_output") == "blk.2.attn_output.weight"
    assert {key for _, key in layers.layer_keys()} >= {"minilm.5.attn_q", "char.0.ffn_up", "planted.lone"}


@pytest.mark.parametrize("key", ["minilm.9.ffn_up", "char.0.ffn_gate", 3, "planted"])
def test_an_unknown_key_is_refused_with_examples(key):
    with pytest.raises(ValueError, match="minilm.1.ffn_up"):
        layers.check_key(key)


def test_char_layer_pair_fits_its_weight():
    x, weight = layers.layer_pair("char.1.ffn_down")
    assert x.shape == (4096, 1024) and weight.shape == (256, 1024)


def test_with_nothing_above_the_threshold_llm_int8_is_plain_per_token_w8a8():
    """decomposed_linear with no outlier column against quantized_linear: two code paths, one answer."""
    key = "char.0.ffn_up"  # max |x| 4.5 on this text: nothing reaches 6
    x, weight = layers.layer_pair(key)
    assert np.abs(x).max() < 6
    curve = dict(zip(layers.THRESHOLDS, layers.threshold_curve(key)))
    assert curve[6.0].n_float_features == 0 and curve[6.0].int8_share == 1.0
    exact = x.astype(np.float64) @ weight.T.astype(np.float64)
    plain = quantized_linear(x, weight, None, 8, 8, "token")
    assert curve[6.0].relative_error == pytest.approx(np.linalg.norm(plain - exact) / np.linalg.norm(exact), rel=1e-6)
    assert curve[6.0].relative_error == pytest.approx(layers.per_token_error(key), rel=1e-6)


def test_a_lower_threshold_sends_more_features_to_float():
    curve = layers.threshold_curve("planted.channel")
    counts = [e.n_float_features for e in curve]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    width = len(layers.channel_absmax("planted.channel"))
    assert all(e.int8_share == pytest.approx(1 - e.n_float_features / width) for e in curve)


def test_alpha_one_flattens_the_activations_and_alpha_zero_the_weights():
    curve = dict(zip(layers.ALPHAS, layers.alpha_curve("planted.channel")))
    assert curve[1.0].activation_difficulty == pytest.approx(1.0, rel=1e-5)
    assert curve[0.0].weight_difficulty == pytest.approx(1.0, rel=1e-5)
    assert curve[0.0].activation_difficulty > 30  # the planted channel (~100-130) over a typical max (~3)
    activation, weight = layers.layer("planted.channel").channel_maxima(0.5)
    np.testing.assert_allclose(activation, weight, rtol=1e-5)  # at 0.5 both become sqrt(max|X_j| max|W_j|)


def test_rotation_spreads_a_planted_channel():
    effect = layers.rotation("planted.channel")
    assert effect.max_abs_after < effect.max_abs_before / 5
    assert np.nanmax(effect.kurtosis_after) < np.nanmax(effect.kurtosis_before)
    assert effect.error_after < effect.error_before


def test_readouts_carry_the_numbers():
    key = "planted.channel"
    text = reports.threshold_text(key, layers.threshold_curve(key)[5], layers.per_token_error(key))
    assert "threshold |x| >= 6" in text and "of 384" in text
    assert "alpha 0.5" in reports.alpha_text(key, layers.alpha_curve(key)[5])
    assert "rotated" in reports.rotation_text(key, layers.rotation(key), layers.rotation(key).kurtosis_after, True, 8)
    assert "channel" in reports.planted_text(bits=(8,))


def test_published_claims_cite_a_source():
    for method, models, setting, finding, source in published.CLAIMS:
        assert "arXiv:" in source and finding
    assert "0.29" in published.claims_text()


def test_published_table_rows_show_the_three_findings():
    rows = {(model, setting): value for _, _, model, _, setting, value in published.TABLE_ROWS}
    for paper, table, *_ in published.TABLE_ROWS:
        assert "arXiv:" in paper and table.startswith("Table ")
    # naive int8 degrades more at 13B than at 6.7B (emergence), LLM.int8() does not degrade at either
    absmax = "Int8 absmax (per tensor)"
    fp32, int8 = "32-bit float", "LLM.int8() (vector-wise + decomposition)"
    gap = {m: rows[m, absmax] - rows[m, fp32] for m in ("fairseq LM 6.7B", "fairseq LM 13B")}
    assert gap["fairseq LM 13B"] > gap["fairseq LM 6.7B"] > 0
    assert all(rows[m, int8] <= rows[m, fp32] + 0.01 for m in gap)
    assert rows["OPT-175B", "W8A8 (naive)"] > 1000 > rows["OPT-175B", "SmoothQuant-O3 (static per-tensor)"]
    assert rows["LLaMA2-7B", "W4A4 QuaRot"] < rows["LLaMA2-7B", "W4A4 SmoothQuant"]
    text = published.table_rows_text()
    assert "93080" in text and "Table 3" in text and text.count("[") == 4


def test_without_minilm_the_keys_leave_it_out_and_its_layers_are_refused_by_name(monkeypatch):
    monkeypatch.setattr(layers, "minilm_available", lambda: False)
    keys = [k for _, k in layers.layer_keys()]
    assert keys and not any(k.startswith("minilm.") for k in keys) and "char.1.ffn_up" in keys
    with pytest.raises(ValueError, match="needs MiniLM, which is not installed"):
        layers.check_key("minilm.1.ffn_up")
    assert layers.check_key("planted.channel") == "planted.channel"
